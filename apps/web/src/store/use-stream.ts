/**
 * A WebSocket subscription owned by a page (trades of one symbol, foreign
 * top): opened on mount, closed on unmount, with its connection state.
 */
import { useEffect, useRef, useState } from 'react';
import type { SnapshotMsg, UpdateMsg, WsPath } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import type { ConnectionState } from './connection.ts';

export function useStream(
  path: WsPath,
  symbols: string[] | '*',
  opts: { trades?: boolean; enabled?: boolean },
  onMessage: (msg: SnapshotMsg | UpdateMsg) => void,
): ConnectionState {
  const { streams } = useServices();
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const [state, setState] = useState<ConnectionState>('connecting');
  const key = symbols === '*' ? '*' : symbols.join(',');
  const enabled = opts.enabled ?? true;

  useEffect(() => {
    if (!enabled) return;
    const client = streams.factory({ url: streams.url(path), symbols: key === '*' ? '*' : key.split(','), trades: opts.trades });
    const fn = (m: SnapshotMsg | UpdateMsg) => handler.current(m);
    const offs = [client.on('snapshot', fn), client.on('update', fn), client.on('state', setState)];
    setState(client.state);
    client.connect();
    return () => {
      for (const off of offs) off();
      client.close();
    };
  }, [streams, path, key, opts.trades, enabled]);

  return state;
}

/** Collects items and hands them over once per animation frame (bursts of trades → one render). */
export function useFrameBatch<T>(flush: (items: T[]) => void): (item: T) => void {
  const queue = useRef<T[]>([]);
  const scheduled = useRef(false);
  const flushRef = useRef(flush);
  flushRef.current = flush;
  const push = useRef((item: T) => {
    queue.current.push(item);
    if (scheduled.current) return;
    scheduled.current = true;
    const run = () => {
      scheduled.current = false;
      const items = queue.current;
      queue.current = [];
      if (items.length) flushRef.current(items);
    };
    if (typeof requestAnimationFrame === 'function') requestAnimationFrame(run);
    else setTimeout(run, 16);
  });
  return push.current;
}
