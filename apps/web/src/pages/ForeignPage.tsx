/**
 * Foreign investor flows: top net buyers and sellers (live), the net flow of
 * one symbol over the day, and how much of each symbol's foreign room is used.
 */
import { useCallback, useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router-dom';
import { FOREIGN_TOP_KEY, type ForeignState, type ForeignTop, type SnapshotMsg, type UpdateMsg } from '@stock-tracker/protocol';
import { NetFlowChart } from '../chart/NetFlowChart.tsx';
import { StaleNotice } from '../components/ConnectionStatus.tsx';
import { changeTone, toneClass } from '../lib/colors.ts';
import { formatBillions, formatCompact, formatTime } from '../lib/format.ts';
import { VN_TIME_ZONE } from '../lib/market.ts';
import { useAppliedTheme } from '../lib/theme.ts';
import { useStream } from '../store/use-stream.ts';
import { useServices } from '../services.tsx';

const isTop = (v: unknown): v is ForeignTop =>
  typeof v === 'object' && v !== null && Array.isArray((v as ForeignTop).buyers) && Array.isArray((v as ForeignTop).sellers);
const isForeign = (v: unknown): v is ForeignState =>
  typeof v === 'object' && v !== null && typeof (v as ForeignState).symbol === 'string' && typeof (v as ForeignState).netValue === 'number';

/** Appends a live state to the history unless it is older than the last one. */
export function appendState(history: readonly ForeignState[], s: ForeignState, cap = 2000): ForeignState[] {
  const last = history[history.length - 1];
  if (last && s.ts < last.ts) return history as ForeignState[];
  return [...history, s].slice(-cap);
}

function RoomBar({ s }: { s: ForeignState }) {
  if (s.roomUsagePct === null) return <span className="muted">n/a</span>;
  const pct = Math.max(0, Math.min(100, s.roomUsagePct));
  return (
    <span className="room-cell">
      <span className="room" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} aria-label={`${s.symbol} foreign room used`}>
        <span style={{ width: `${pct}%` }} />
      </span>{' '}
      {pct.toFixed(1)}%
    </span>
  );
}

function TopTable({ title, rows, selected, onSelect }: { title: string; rows: ForeignState[]; selected: string; onSelect: (s: string) => void }) {
  return (
    <section className="card" aria-label={title}>
      <h2>{title}</h2>
      {rows.length === 0 ? (
        <p className="muted">No foreign trading yet.</p>
      ) : (
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">Symbol</th>
              <th scope="col">Net value</th>
              <th scope="col">Buy vol</th>
              <th scope="col">Sell vol</th>
              <th scope="col">Room used</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.symbol} aria-current={s.symbol === selected ? 'true' : undefined}>
                <th scope="row">
                  <button type="button" className="link-btn" onClick={() => onSelect(s.symbol)} aria-label={`Show ${s.symbol} net flow`}>
                    {s.symbol}
                  </button>
                </th>
                <td className={toneClass(changeTone(s.netValue))}>{formatBillions(s.netValue)}</td>
                <td>{formatCompact(s.buyVolume)}</td>
                <td>{formatCompact(s.sellVolume)}</td>
                <td><RoomBar s={s} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export default function ForeignPage() {
  const { api, connection } = useServices();
  const theme = useAppliedTheme();
  const [params, setParams] = useSearchParams();
  const topQ = useQuery({ queryKey: ['foreignTop'], queryFn: ({ signal }) => api.foreignTop({ limit: 10 }, { signal }) });
  const [top, setTop] = useState<ForeignTop | null>(null);
  useEffect(() => {
    if (topQ.data) setTop((cur) => (cur && cur.ts > topQ.data.ts ? cur : topQ.data));
  }, [topQ.data]);
  useStream('/ws/foreign', [FOREIGN_TOP_KEY], {}, useCallback((m: SnapshotMsg | UpdateMsg) => {
    if (m.key === FOREIGN_TOP_KEY && isTop(m.data)) setTop(m.data);
  }, []));

  const selected = (params.get('s') ?? top?.buyers[0]?.symbol ?? top?.sellers[0]?.symbol ?? '').toUpperCase();
  const select = (s: string) => setParams({ s }, { replace: true });

  const histQ = useQuery({
    queryKey: ['foreignHistory', selected],
    queryFn: ({ signal }) => api.foreignHistory(selected, { limit: 1000 }, { signal }),
    enabled: selected !== '',
  });
  const [history, setHistory] = useState<ForeignState[]>([]);
  useEffect(() => setHistory([...(histQ.data?.items ?? [])].sort((a, b) => a.ts - b.ts)), [histQ.data]);
  useStream('/ws/foreign', [selected], { enabled: selected !== '' }, useCallback((m: SnapshotMsg | UpdateMsg) => {
    if (m.key === selected && isForeign(m.data)) setHistory((h) => appendState(h, m.data as ForeignState));
  }, [selected]));
  const latest = history[history.length - 1];

  return (
    <article aria-labelledby="foreign-h">
      <h1 id="foreign-h">Foreign flows</h1>
      <StaleNotice store={connection} />
      {topQ.isError && !top && <p className="error">Could not load foreign flows.</p>}
      {top && <p className="muted">As of {formatTime(top.ts, VN_TIME_ZONE)}</p>}
      <div className="two-col">
        <TopTable title="Top net buy" rows={top?.buyers ?? []} selected={selected} onSelect={select} />
        <TopTable title="Top net sell" rows={top?.sellers ?? []} selected={selected} onSelect={select} />
      </div>
      {selected && (
        <section className="card" aria-labelledby="flow-h">
          <h2 id="flow-h">
            <Link to={`/s/${encodeURIComponent(selected)}`}>{selected}</Link> — net foreign value today
          </h2>
          {latest && (
            <p>
              Net <span className={toneClass(changeTone(latest.netValue))}>{formatBillions(latest.netValue)}</span> · buy {formatCompact(latest.buyVolume)} / sell{' '}
              {formatCompact(latest.sellVolume)} shares · room left {formatCompact(latest.currentRoom)} of {formatCompact(latest.totalRoom)} <RoomBar s={latest} />
            </p>
          )}
          {histQ.isError && <p className="error">Could not load the history.</p>}
          <NetFlowChart history={history} timeZone={VN_TIME_ZONE} theme={theme} />
        </section>
      )}
    </article>
  );
}
