/** Recent trades, newest first, coloured by classification (active buy green, sell red, unclassified grey). */
import type { ClassifiedTrade, SessionPhase } from '@stock-tracker/protocol';
import { formatPrice, formatTime, formatVolume } from '../../lib/format.ts';

const SIDE_LABEL = { buy: 'B', sell: 'S', unknown: '—' } as const;
const AUCTION: Partial<Record<SessionPhase, string>> = { ato: 'ATO', atc: 'ATC', plo: 'PLO' };

/** Merges trades (any order, possibly repeated) into a newest-first list without duplicates, capped. */
export function mergeTrades(cur: readonly ClassifiedTrade[], incoming: readonly ClassifiedTrade[], cap = 200): ClassifiedTrade[] {
  const seen = new Set(cur.map((t) => t.id));
  const fresh = incoming.filter((t) => !seen.has(t.id) && seen.add(t.id));
  if (fresh.length === 0) return cur as ClassifiedTrade[];
  return [...fresh, ...cur].sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1)).slice(0, cap);
}

export function TradeTape({ trades, timeZone, market = 'VN' }: { trades: readonly ClassifiedTrade[]; timeZone: string; market?: 'VN' | 'US' }) {
  return (
    <section className="card" aria-labelledby="tape-h">
      <h2 id="tape-h">Trades</h2>
      <div className="tape-wrap" tabIndex={0} aria-label="Recent trades, scrollable">
        <table className="tape">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Price</th>
              <th scope="col">Volume</th>
              <th scope="col">
                <abbr title="Active buy (B), active sell (S), unclassified (—)">Side</abbr>
              </th>
            </tr>
          </thead>
          <tbody>
            {trades.length === 0 && (
              <tr>
                <td colSpan={4} className="muted">No trades yet.</td>
              </tr>
            )}
            {trades.map((t) => (
              <tr key={t.id} className={`side-${t.side}`}>
                <td>{formatTime(t.ts, timeZone)}</td>
                <td>{formatPrice(t.price, market)}</td>
                <td>{formatVolume(t.volume)}</td>
                <td title={`${t.side} (${t.sideSource})`}>{AUCTION[t.phase] ?? SIDE_LABEL[t.side]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
