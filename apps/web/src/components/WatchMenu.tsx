/**
 * The watchlist menu opened from a board row or the symbol page: tick the
 * lists that should hold the symbol, or create a new list with it.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useWatchlists } from '../lib/use-watchlists.ts';

export interface WatchMenuProps {
  symbol: string;
  anchor: HTMLElement | null;
  onClose: () => void;
}

export function WatchMenu({ symbol, anchor, onClose }: WatchMenuProps) {
  const wl = useWatchlists();
  const ref = useRef<HTMLDivElement>(null);
  const [name, setName] = useState('');
  const close = useRef(onClose);
  close.current = onClose;

  useEffect(() => {
    ref.current?.querySelector<HTMLElement>('input, button')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close.current();
    };
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node) && e.target !== anchor) close.current();
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onDown);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onDown);
      anchor?.focus();
    };
  }, [anchor]);

  const rect = anchor?.getBoundingClientRect();
  const style = rect
    ? { top: rect.bottom + window.scrollY + 4, left: Math.max(8, Math.min(rect.left + window.scrollX - 160, window.innerWidth - 248)) }
    : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    wl.create.mutate({ name: n.slice(0, 60), symbols: [symbol] });
    setName('');
  };

  return (
    <div ref={ref} className="popover watch-menu" role="dialog" aria-label={`Watchlists for ${symbol}`} style={style}>
      <p className="popover-title">Watchlists · {symbol}</p>
      {wl.lists.length === 0 && <p className="muted">No watchlist yet.</p>}
      <ul>
        {wl.lists.map((w) => (
          <li key={w.id}>
            <label>
              <input type="checkbox" checked={w.symbols.includes(symbol)} onChange={() => wl.toggle(symbol, w.id)} /> {w.name}
            </label>
          </li>
        ))}
      </ul>
      <form onSubmit={submit} className="inline-form">
        <label className="visually-hidden" htmlFor="new-watchlist">New watchlist name</label>
        <input id="new-watchlist" value={name} maxLength={60} placeholder="New list…" onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={!name.trim()}>Create</button>
      </form>
      <button type="button" className="link-btn" onClick={onClose}>Close</button>
    </div>
  );
}
