/**
 * Write coalescing. A socket written to is corked until the next turn of the
 * event loop, so the frames one bus batch (an XREAD of many messages, a
 * subscribe's snapshots) produces for a connection leave in one writev
 * instead of one syscall each: in bursts that cut the replica's CPU per
 * delivered frame several times over (docs/benchmarks.md). A lone message
 * waits only until setImmediate, i.e. no timer delay.
 */
import type { Duplex } from 'node:stream';

export interface WriteCoalescer {
  /** Called before writing to `socket`: corks it until the next turn of the event loop. */
  willWrite(socket: Duplex): void;
}

export function createWriteCoalescer(enabled: boolean): WriteCoalescer {
  const corked = new Set<Duplex>();
  let uncorkScheduled = false;
  const uncorkAll = () => {
    uncorkScheduled = false;
    for (const s of corked) s.uncork();
    corked.clear();
  };
  return {
    willWrite(s) {
      if (!enabled || corked.has(s) || s.destroyed) return;
      s.cork();
      corked.add(s);
      if (!uncorkScheduled) {
        uncorkScheduled = true;
        setImmediate(uncorkAll);
      }
    },
  };
}
