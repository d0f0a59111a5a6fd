/**
 * The index strip above the board: VN-Index, VN30, HNX-Index, UPCOM with
 * value, change, breadth, volume/value and a sparkline of the session.
 * Each card subscribes to its own index only.
 */
import { memo, useEffect } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { IndexState } from '@stock-tracker/protocol';
import { changeTone, toneClass } from '../lib/colors.ts';
import { formatBillions, formatChange, formatCompact, formatIndex, formatPct, formatTime } from '../lib/format.ts';
import { STRIP_INDICES, VN_TIME_ZONE } from '../lib/market.ts';
import { useKeyed, useKeys } from '../store/hooks.ts';
import type { IndexStore, SparkPoint } from '../store/index-store.ts';
import { useServices } from '../services.tsx';
import { Sparkline } from './Sparkline.tsx';

/** Strip order: the well-known indices first, then whatever else the feed provides. */
export function stripOrder(ids: readonly string[]): string[] {
  const known = STRIP_INDICES.filter((id) => ids.includes(id));
  const rest = ids.filter((id) => !(STRIP_INDICES as readonly string[]).includes(id)).sort();
  return [...known, ...rest];
}

/** The points of the latest session only (same exchange-local date as the last point). */
export function sessionPoints(points: readonly SparkPoint[], timeZone = VN_TIME_ZONE): SparkPoint[] {
  const sorted = [...points].filter((p) => Number.isFinite(p.ts) && Number.isFinite(p.value)).sort((a, b) => a.ts - b.ts);
  if (sorted.length === 0) return [];
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const day = (ts: number) => fmt.format(ts);
  const last = day(sorted[sorted.length - 1]!.ts);
  return sorted.filter((p) => day(p.ts) === last);
}

function IndexHistorySeed({ id, store }: { id: string; store: IndexStore }) {
  const { api } = useServices();
  const { data } = useQuery({
    queryKey: ['indexHistory', id],
    queryFn: ({ signal }) => api.indexHistory(id, { limit: 1000 }, { signal }),
    staleTime: Infinity,
  });
  useEffect(() => {
    if (data) store.seed(id, sessionPoints(data.items));
  }, [data, id, store]);
  return null;
}

const IndexCard = memo(function IndexCard({ id, store }: { id: string; store: IndexStore }) {
  const s = useKeyed(store.states, id);
  const points = useKeyed(store.series, id) ?? [];
  if (!s) return null;
  const tone = toneClass(changeTone(s.change));
  const b = s.breadth;
  return (
    <li className="index-card" aria-label={`${s.name} ${formatIndex(s.value)}`}>
      <IndexHistorySeed id={id} store={store} />
      <div className="index-head">
        <span className="index-name">{s.name || s.id}</span>
        <Sparkline points={points} baseline={s.prevClose} label={`${s.name || s.id} today`} tone={tone} />
      </div>
      <div className={`index-value ${tone}`}>
        <strong>{formatIndex(s.value)}</strong>{' '}
        <span>{formatChange(Math.round(s.change * 100) / 100, 'US')}</span> <span>({formatPct(s.changePct)})</span>
      </div>
      <div className="index-breadth" aria-label="Breadth: advances, unchanged, declines, ceilings, floors">
        <span className="tone-up" title="Advances">▲{b.advances}</span>
        <span className="tone-ceiling" title="At ceiling">({b.ceilings})</span>
        <span className="tone-ref" title="Unchanged">■{b.unchanged}</span>
        <span className="tone-down" title="Declines">▼{b.declines}</span>
        <span className="tone-floor" title="At floor">({b.floors})</span>
      </div>
      <div className="index-vol">
        <span title="Volume">{formatCompact(s.volume)} cp</span> · <span title="Value traded">{formatBillions(s.valueTraded)}</span>
        <span className="index-time"> · {formatTime(s.ts)}</span>
      </div>
    </li>
  );
});

export function IndexStrip() {
  const { api, indices } = useServices();
  const { data } = useQuery({ queryKey: ['indices'], queryFn: ({ signal }) => api.indices({ signal }), staleTime: 60_000 });
  useEffect(() => {
    for (const s of data?.items ?? ([] as IndexState[])) indices.update(s);
  }, [data, indices]);
  const ids = stripOrder(useKeys(indices.states));
  if (ids.length === 0) return <div className="index-strip empty" aria-hidden="true" />;
  return (
    <ul className="index-strip" aria-label="Market indices">
      {ids.map((id) => (
        <IndexCard key={id} id={id} store={indices} />
      ))}
    </ul>
  );
}
