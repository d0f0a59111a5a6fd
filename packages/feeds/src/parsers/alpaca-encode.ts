/**
 * Normalized events -> one Alpaca v2 stream frame (a JSON array): the
 * inverse of alpaca.ts, for Alpaca-format tapes and the fake vendor server.
 * Alpaca has no foreign-investor, index or reference messages and one book
 * level per side; such events (and bars other than 1m/1d, and exchange-wide
 * statuses) are left out of the frame.
 */
import type { MarketEvent } from '@stock-tracker/protocol';
import { toRfc3339 } from './time.ts';

/** The venue code written when the event does not name one (IEX, Alpaca's free feed). */
export const ALPACA_DEFAULT_VENUE = 'V';

type Message = Record<string, string | number | string[]>;

/** Numeric ids go out as numbers, like Alpaca's; anything else stays a string (both parse back identically). */
function tradeId(id: string): string | number {
  const n = Number(id);
  return /^[1-9]\d{0,14}$/.test(id) && String(n) === id ? n : id;
}

export function toAlpacaMessage(ev: MarketEvent): Message | null {
  switch (ev.type) {
    case 'trade':
      return { T: 't', i: tradeId(ev.id), S: ev.symbol, x: ALPACA_DEFAULT_VENUE, p: ev.price, s: ev.volume, t: toRfc3339(ev.ts), c: ['@'], z: 'C' };
    case 'quote': {
      const bid = ev.bids[0];
      const ask = ev.asks[0];
      return {
        T: 'q',
        S: ev.symbol,
        bx: ALPACA_DEFAULT_VENUE,
        bp: bid?.price ?? 0,
        bs: bid?.volume ?? 0,
        ax: ALPACA_DEFAULT_VENUE,
        ap: ask?.price ?? 0,
        as: ask?.volume ?? 0,
        t: toRfc3339(ev.ts),
        c: ['R'],
        z: 'C',
      };
    }
    case 'bar': {
      if (ev.interval !== '1m' && ev.interval !== '1d') return null;
      const m: Message = { T: ev.interval === '1m' ? 'b' : 'd', S: ev.symbol, o: ev.open, h: ev.high, l: ev.low, c: ev.close, v: ev.volume, t: toRfc3339(ev.ts) };
      if (ev.trades !== undefined) m['n'] = ev.trades;
      if (ev.value !== undefined && ev.volume > 0) m['vw'] = ev.value / ev.volume;
      return m;
    }
    case 'status':
      if (!ev.symbol) return null;
      return {
        T: 's',
        S: ev.symbol,
        sc: ev.halted ? 'H' : 'T',
        sm: ev.halted ? 'Trading Halt' : 'Trading Resumption',
        rc: '',
        rm: '',
        t: toRfc3339(ev.ts),
        z: 'C',
      };
    default:
      return null;
  }
}

/** Encode events as one frame; events Alpaca cannot express are dropped. */
export function encodeAlpaca(evs: MarketEvent[]): string {
  const out: Message[] = [];
  for (const ev of evs) {
    const m = toAlpacaMessage(ev);
    if (m) out.push(m);
  }
  return JSON.stringify(out);
}
