/** Session summary by phase with the active buy/sell split. */
import type { SessionSummary } from '@stock-tracker/protocol';
import { formatCompact, formatPrice, formatVolume } from '../../lib/format.ts';
import { PHASE_LABELS } from '../MarketPhase.tsx';

export function BuySellSplit({ buy, sell, unknown }: { buy: number; sell: number; unknown: number }) {
  const total = buy + sell + unknown;
  const pct = (v: number) => (total > 0 ? (v / total) * 100 : 0);
  return (
    <div className="split" role="img" aria-label={`Active buy ${pct(buy).toFixed(0)}%, active sell ${pct(sell).toFixed(0)}%, unclassified ${pct(unknown).toFixed(0)}%`}>
      <span className="b" style={{ width: `${pct(buy)}%` }} />
      <span className="s" style={{ width: `${pct(sell)}%` }} />
      <span className="u" style={{ width: `${pct(unknown)}%` }} />
    </div>
  );
}

export function SessionCard({ day, phases, market = 'VN' }: { day: SessionSummary; phases: readonly SessionSummary[]; market?: 'VN' | 'US' }) {
  const rows = [...phases, day];
  return (
    <section className="card" aria-labelledby="session-h">
      <h2 id="session-h">Session {day.tradingDate}</h2>
      <BuySellSplit buy={day.buyVolume} sell={day.sellVolume} unknown={day.unknownVolume} />
      <table className="data-table">
        <thead>
          <tr>
            <th scope="col">Phase</th>
            <th scope="col">VWAP</th>
            <th scope="col">Volume</th>
            <th scope="col" className="side-buy">Buy</th>
            <th scope="col" className="side-sell">Sell</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.phase}>
              <th scope="row">{s.phase === 'day' ? 'Day' : (PHASE_LABELS[s.phase] ?? s.phase)}</th>
              <td>{formatPrice(s.vwap, market, '—')}</td>
              <td>{formatVolume(s.volume)}</td>
              <td className="side-buy">{formatCompact(s.buyVolume)}</td>
              <td className="side-sell">{formatCompact(s.sellVolume)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
