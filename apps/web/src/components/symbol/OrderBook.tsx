/** Order book depth of one symbol (bids and asks with volume bars), from the live quote. */
import type { Level, QuoteState } from '@stock-tracker/protocol';
import { priceTone, toneClass } from '../../lib/colors.ts';
import { formatPrice, formatVolume } from '../../lib/format.ts';
import { useKeyedSelector } from '../../store/hooks.ts';
import type { QuoteStore } from '../../store/quote-store.ts';

interface BookView {
  bids: Level[];
  asks: Level[];
  band: Pick<QuoteState, 'reference' | 'ceiling' | 'floor'> | null;
  market: 'VN' | 'US';
}
const EMPTY: BookView = { bids: [], asks: [], band: null, market: 'VN' };
const select = (q: QuoteState | undefined): BookView =>
  q ? { bids: q.bids, asks: q.asks, band: { reference: q.reference, ceiling: q.ceiling, floor: q.floor }, market: q.market } : EMPTY;
// The book re-renders only when the levels change, not on every trade print.
const sameLevels = (a: Level[], b: Level[]) =>
  a === b || (a.length === b.length && a.every((l, i) => l.price === b[i]!.price && l.volume === b[i]!.volume));
const sameBook = (a: BookView, b: BookView) =>
  sameLevels(a.bids, b.bids) && sameLevels(a.asks, b.asks) && a.band?.reference === b.band?.reference && a.market === b.market;

export function OrderBook({ symbol, store }: { symbol: string; store: QuoteStore }) {
  const { bids, asks, band, market } = useKeyedSelector(store, symbol, select, sameBook);
  const depth = Math.max(bids.length, asks.length);
  const maxVol = Math.max(1, ...bids.map((l) => l.volume), ...asks.map((l) => l.volume));
  const rows = Array.from({ length: depth }, (_, i) => ({ bid: bids[i], ask: asks[i] }));
  const cell = (l: Level | undefined, side: 'bid' | 'ask') => {
    if (!l) return [<td key="p" />, <td key="v" />];
    const t = toneClass(priceTone(l.price, band));
    const bar = <span className="bar" style={{ width: `${(l.volume / maxVol) * 100}%` }} />;
    const price = <td key="p" className={t}>{formatPrice(l.price, market)}</td>;
    const vol = <td key="v" className={`depth-bar ${side}`}>{bar}{formatVolume(l.volume)}</td>;
    return side === 'bid' ? [vol, price] : [price, vol];
  };
  return (
    <section className="card" aria-labelledby="book-h">
      <h2 id="book-h">Order book</h2>
      {depth === 0 ? (
        <p className="muted">No orders in the book.</p>
      ) : (
        <table className="book" aria-label="Order book depth">
          <thead>
            <tr>
              <th scope="col">Bid vol</th>
              <th scope="col">Bid</th>
              <th scope="col">Ask</th>
              <th scope="col">Ask vol</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                {cell(r.bid, 'bid')}
                {cell(r.ask, 'ask')}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
