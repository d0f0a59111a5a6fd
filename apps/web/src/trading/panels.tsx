/** The Trading page's panels: account summary, positions, orders (cancel/replace), fills, strategies, risk limits and the kill switch. */
import { useEffect, useId, useState, type FormEvent, type ReactElement } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import type { AccountState, Fill, KillSwitchState, Order, RiskLimits, TradingStrategy } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import { changeTone, toneClass } from '../lib/colors.ts';
import { formatDateTime, formatPrice, formatTime, formatVolume } from '../lib/format.ts';
import { ServerError } from './ServerError.tsx';
import { describeParams } from './strategy-form-model.ts';
import { T } from './strings.ts';
import { mergeOrder, tradingKeys } from './use-trading-live.ts';

type Mkt = 'VN' | 'US';
const money = (v: number | null | undefined, m: Mkt) => formatPrice(v, m, '—');
const signed = (v: number, m: Mkt) => `${v > 0 ? '+' : v < 0 ? '-' : ''}${formatPrice(Math.abs(v), m)}`;
/** P&L in the board's colours: green up, red down, yellow unchanged. */
const Pnl = ({ v, m }: { v: number; m: Mkt }) => <span className={`num ${toneClass(changeTone(v))}`}>{signed(v, m)}</span>;

export function AccountSummary({ state, market, timeZone }: { state: AccountState; market: Mkt; timeZone: string }) {
  const day = state.equity - state.dayStartEquity;
  const items: [string, ReactElement, string][] = [
    [T.summary.equity, <span className="num">{money(state.equity, market)}</span>, 'equity'],
    [T.summary.cash, <span className="num">{money(state.cash, market)}</span>, 'cash'],
    [T.summary.buyingPower, <span className="num">{money(state.buyingPower, market)}</span>, 'buying-power'],
    [T.summary.realized, <Pnl v={state.realizedPnl} m={market} />, 'realized'],
    [T.summary.unrealized, <Pnl v={state.unrealizedPnl} m={market} />, 'unrealized'],
    [T.summary.dayPnl, <Pnl v={day} m={market} />, 'day'],
    [T.summary.fees, <span className="num">{money(state.fees + state.taxes, market)}</span>, 'fees'],
  ];
  return (
    <div className="account-summary">
      <dl>
        {items.map(([k, v, cls]) => (
          <div key={cls} className={`stat stat-${cls}`}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <p className="hint">{T.summary.asOf(formatDateTime(state.ts, timeZone))}</p>
    </div>
  );
}

export function PositionsTable({ state, market }: { state: AccountState; market: Mkt }) {
  if (state.positions.length === 0) return <p className="muted">{T.positions.empty}</p>;
  return (
    <table className="data-table positions">
      <thead>
        <tr>{T.positions.cols.map((c) => <th key={c} scope="col">{c}</th>)}</tr>
      </thead>
      <tbody>
        {state.positions.map((p) => (
          <tr key={p.symbol} data-symbol={p.symbol}>
            <th scope="row"><Link to={`/s/${encodeURIComponent(p.symbol)}`}>{p.symbol}</Link></th>
            <td className="num">{formatVolume(p.qty)}</td>
            <td className="num" title={`${p.unsettledQty} unsettled`}>{formatVolume(p.settledQty)}</td>
            <td className="num">{money(p.avgCost, market)}</td>
            <td className="num">{money(p.lastPrice, market)}</td>
            <td className="num">{money(p.marketValue, market)}</td>
            <td><Pnl v={p.unrealizedPnl} m={market} /></td>
            <td><Pnl v={p.realizedPnl} m={market} /></td>
            <td className="num muted">
              {[p.stopLoss !== null ? `SL ${money(p.stopLoss, market)}` : null, p.takeProfit !== null ? `TP ${money(p.takeProfit, market)}` : null, p.trailingStop !== null ? `TS ${money(p.trailingStop, market)}` : null]
                .filter(Boolean)
                .join(' · ') || '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const orderPrice = (o: Order, m: Mkt) =>
  o.type === 'market' ? (o.avgFillPrice !== null ? `@ ${money(o.avgFillPrice, m)}` : 'MKT') : [o.stopPrice !== null ? `stop ${money(o.stopPrice, m)}` : null, o.limitPrice !== null ? money(o.limitPrice, m) : null].filter(Boolean).join(' → ');

const isOpen = (o: Order) => o.status === 'new' || o.status === 'accepted' || o.status === 'partially_filled';

export function OrdersTable({ accountId, orders, market, timeZone, open }: { accountId: string; orders: readonly Order[]; market: Mkt; timeZone: string; open: boolean }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const [editing, setEditing] = useState<string | null>(null);
  const cancel = useMutation({
    mutationFn: (o: Order) => api.cancelOrder(accountId, o.id),
    onSuccess: (r) => {
      if ('id' in r) qc.setQueryData(tradingKeys.orders(accountId), (p: Parameters<typeof mergeOrder>[0]) => mergeOrder(p, r as Order));
    },
    onSettled: () => qc.invalidateQueries({ queryKey: tradingKeys.orders(accountId) }),
  });
  const list = orders.filter((o) => (open ? isOpen(o) : true)).slice(0, open ? 200 : 30);
  if (list.length === 0) return <p className="muted">{open ? T.orders.empty : '—'}</p>;
  return (
    <>
      {cancel.isError && <ServerError error={cancel.error} />}
      <table className={`data-table orders ${open ? 'open-orders' : 'recent-orders'}`}>
        <thead>
          <tr>
            {T.orders.cols.map((c) => <th key={c} scope="col">{c}</th>)}
            {open && <th scope="col"><span className="visually-hidden">Actions</span></th>}
          </tr>
        </thead>
        <tbody>
          {list.map((o) => (
            <tr key={o.id} data-order={o.id} data-status={o.status} data-source={o.source}>
              <td className="num">{formatTime(o.createdTs, timeZone)}</td>
              <td>{o.symbol}</td>
              <td className={`side-${o.side}`}>{o.side === 'buy' ? T.ticket.buy : T.ticket.sell}</td>
              <td>{T.ticket.types[o.type]}</td>
              <td className="num">{o.notional !== null && o.qty === 0 ? money(o.notional, market) : formatVolume(o.qty)}</td>
              <td className="num">{formatVolume(o.filledQty)}</td>
              <td className="num">{orderPrice(o, market)}</td>
              <td className={`status status-${o.status}`} title={[o.reason, o.code].filter(Boolean).join(' · ')}>
                {T.statuses[o.status] ?? o.status}
                {o.code && o.status === 'rejected' ? ` (${o.code})` : ''}
              </td>
              <td className="muted">{o.source}</td>
              {open && (
                <td>
                  {editing === o.id ? (
                    <ReplaceForm accountId={accountId} order={o} market={market} onDone={() => setEditing(null)} />
                  ) : (
                    <>
                      {o.type !== 'market' && (
                        <button type="button" className="link-btn" onClick={() => setEditing(o.id)}>{T.orders.replace}</button>
                      )}
                      <button type="button" className="link-btn danger" disabled={cancel.isPending} onClick={() => cancel.mutate(o)} aria-label={`${T.orders.cancel} ${o.side} ${o.symbol} ${o.qty}`}>
                        {T.orders.cancel}
                      </button>
                    </>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ReplaceForm({ accountId, order, market, onDone }: { accountId: string; order: Order; market: Mkt; onDone: () => void }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const id = useId();
  const [qty, setQty] = useState(String(order.qty));
  const [limit, setLimit] = useState(order.limitPrice !== null ? String(order.limitPrice) : '');
  const [stop, setStop] = useState(order.stopPrice !== null ? String(order.stopPrice) : '');
  const replace = useMutation({
    mutationFn: () =>
      api.replaceOrder(accountId, order.id, {
        ...(qty.trim() && Number(qty) !== order.qty ? { qty: Number(qty) } : {}),
        ...(order.limitPrice !== null && limit.trim() && Number(limit) !== order.limitPrice ? { limitPrice: Number(limit.replace(/,/g, '')) } : {}),
        ...(order.stopPrice !== null && stop.trim() && Number(stop) !== order.stopPrice ? { stopPrice: Number(stop.replace(/,/g, '')) } : {}),
      }),
    onSuccess: (r) => {
      if ('id' in r) qc.setQueryData(tradingKeys.orders(accountId), (p: Parameters<typeof mergeOrder>[0]) => mergeOrder(p, r as Order));
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    replace.mutate();
  };
  return (
    <form className="inline-form replace-form" onSubmit={submit} aria-label={`${T.orders.replace} ${order.symbol}`}>
      <label htmlFor={`${id}-q`} className="visually-hidden">{T.ticket.qty}</label>
      <input id={`${id}-q`} size={7} value={qty} inputMode="numeric" onChange={(e) => setQty(e.target.value)} />
      {order.limitPrice !== null && (
        <>
          <label htmlFor={`${id}-l`} className="visually-hidden">{T.ticket.limitPrice}</label>
          <input id={`${id}-l`} size={8} value={limit} inputMode="decimal" onChange={(e) => setLimit(e.target.value)} />
        </>
      )}
      {order.stopPrice !== null && (
        <>
          <label htmlFor={`${id}-s`} className="visually-hidden">{T.ticket.stopPrice}</label>
          <input id={`${id}-s`} size={8} value={stop} inputMode="decimal" onChange={(e) => setStop(e.target.value)} />
        </>
      )}
      <button type="submit" disabled={replace.isPending}>{T.orders.save}</button>
      <button type="button" className="link-btn" onClick={onDone}>{T.orders.close}</button>
      {replace.isError && <ServerError error={replace.error} />}
      <span className="visually-hidden">{market}</span>
    </form>
  );
}

export function FillsTable({ fills, market, timeZone }: { fills: readonly Fill[]; market: Mkt; timeZone: string }) {
  if (fills.length === 0) return <p className="muted">{T.fills.empty}</p>;
  return (
    <div className="tape-wrap">
      <table className="data-table fills">
        <thead>
          <tr>{T.fills.cols.map((c) => <th key={c} scope="col">{c}</th>)}</tr>
        </thead>
        <tbody>
          {fills.slice(0, 200).map((f) => (
            <tr key={f.id} data-fill={f.id}>
              <td className="num">{formatTime(f.ts, timeZone)}</td>
              <td>{f.symbol}</td>
              <td className={`side-${f.side}`}>{f.side === 'buy' ? T.ticket.buy : T.ticket.sell}</td>
              <td className="num">{formatVolume(f.qty)}</td>
              <td className="num">{money(f.price, market)}</td>
              <td className="num">{money(f.fee, market)}</td>
              <td className="num">{money(f.tax, market)}</td>
              <td className="muted">{f.strategyId ? 'strategy' : f.liquidity}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function StrategyList({ accountId, strategies }: { accountId: string; strategies: readonly TradingStrategy[] }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const done = () => qc.invalidateQueries({ queryKey: tradingKeys.strategies(accountId) });
  const act = useMutation({
    mutationFn: async ({ s, op }: { s: TradingStrategy; op: 'start' | 'stop' | 'delete' }): Promise<void> => {
      if (op === 'start') await api.startStrategy(s.id);
      else if (op === 'stop') await api.stopStrategy(s.id);
      else await api.deleteStrategy(s.id);
    },
    onSettled: done,
  });
  if (strategies.length === 0) return <p className="muted">{T.strategies.empty}</p>;
  return (
    <>
      {act.isError && <ServerError error={act.error} />}
      <table className="data-table strategies">
        <thead>
          <tr>{T.strategies.cols.map((c, i) => <th key={i} scope="col">{c || <span className="visually-hidden">Actions</span>}</th>)}</tr>
        </thead>
        <tbody>
          {strategies.map((s) => (
            <tr key={s.id} data-strategy={s.id} data-state={s.state}>
              <th scope="row">{s.strategy}</th>
              <td className="num">{describeParams(s.params)}</td>
              <td>{s.symbols.join(', ')}</td>
              <td className={s.state === 'running' ? 'tone-up' : 'muted'}>{s.state === 'running' ? T.strategies.running : T.strategies.stopped}</td>
              <td>
                {s.state === 'running' ? (
                  <button type="button" className="link-btn" disabled={act.isPending} onClick={() => act.mutate({ s, op: 'stop' })} aria-label={`${T.strategies.stop} ${s.strategy}`}>{T.strategies.stop}</button>
                ) : (
                  <button type="button" className="link-btn" disabled={act.isPending} onClick={() => act.mutate({ s, op: 'start' })} aria-label={`${T.strategies.start} ${s.strategy}`}>{T.strategies.start}</button>
                )}
                <button
                  type="button"
                  className="link-btn danger"
                  disabled={act.isPending}
                  onClick={() => {
                    if (window.confirm(T.strategies.deleteConfirm(s.strategy))) act.mutate({ s, op: 'delete' });
                  }}
                >
                  {T.strategies.delete}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

// ------------------------------------------------------------------ risk

type RiskKey = keyof RiskLimits;
interface RiskSpec { key: RiskKey; min: number; max: number; minExclusive: boolean; integer: boolean }
/** Bounds of the protocol's RiskLimits schema (packages/protocol/src/trading.ts). */
export const RISK_SPECS: RiskSpec[] = [
  { key: 'maxOrderValue', min: 0, max: 1e15, minExclusive: true, integer: false },
  { key: 'maxPositionValue', min: 0, max: 1e15, minExclusive: true, integer: false },
  { key: 'maxPositionPct', min: 0, max: 100, minExclusive: true, integer: false },
  { key: 'maxOpenPositions', min: 1, max: 1e6, minExclusive: false, integer: true },
  { key: 'maxGrossExposurePct', min: 0, max: 100, minExclusive: true, integer: false },
  { key: 'maxDailyLossPct', min: 0, max: 100, minExclusive: true, integer: false },
  { key: 'maxDrawdownPct', min: 0, max: 100, minExclusive: true, integer: false },
  { key: 'cooldownAfterLosses', min: 1, max: 1e6, minExclusive: false, integer: true },
  { key: 'cooldownMinutes', min: 1, max: 1e6, minExclusive: false, integer: true },
  { key: 'stopLossPct', min: 0, max: 100, minExclusive: true, integer: false },
  { key: 'takeProfitPct', min: 0, max: 10_000, minExclusive: true, integer: false },
  { key: 'trailingStopPct', min: 0, max: 100, minExclusive: true, integer: false },
];

export function validateRisk(values: Partial<Record<RiskKey, string>>): { ok: true; value: RiskLimits } | { ok: false; errors: Partial<Record<RiskKey, string>> } {
  const errors: Partial<Record<RiskKey, string>> = {};
  const value: Record<string, number | null> = {};
  for (const s of RISK_SPECS) {
    const raw = (values[s.key] ?? '').trim().replace(/,/g, '');
    if (raw === '') {
      value[s.key] = null;
      continue;
    }
    const n = Number(raw);
    if (!Number.isFinite(n) || (s.minExclusive ? n <= s.min : n < s.min) || n > s.max) errors[s.key] = s.integer ? T.errors.limitInt : T.errors.limit(s.minExclusive ? `>${s.min}` : String(s.min), String(s.max));
    else if (s.integer && !Number.isInteger(n)) errors[s.key] = T.errors.limitInt;
    else value[s.key] = n;
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: value as RiskLimits };
}

export function RiskPanel({ accountId, kill, cooldownUntil, timeZone }: { accountId: string; kill: KillSwitchState | null; cooldownUntil: number | null; timeZone: string }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const id = useId();
  const q = useQuery({ queryKey: tradingKeys.risk(accountId), queryFn: ({ signal }) => api.risk(accountId, { signal }) });
  const [values, setValues] = useState<Partial<Record<RiskKey, string>>>({});
  const [errors, setErrors] = useState<Partial<Record<RiskKey, string>>>({});
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (!q.data) return;
    setValues(Object.fromEntries(RISK_SPECS.map((s) => [s.key, q.data.limits[s.key] != null ? String(q.data.limits[s.key]) : ''])));
  }, [q.data]);
  const save = useMutation({
    mutationFn: (limits: RiskLimits) => api.setRisk(accountId, limits),
    onSuccess: (r) => {
      qc.setQueryData(tradingKeys.risk(accountId), r);
      setSaved(true);
    },
  });
  const reset = useMutation({
    mutationFn: () => api.resetKillSwitch(accountId),
    onSuccess: (r) => qc.setQueryData(tradingKeys.risk(accountId), r),
  });
  const ks = kill ?? q.data?.killSwitch ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const r = validateRisk(values);
    setSaved(false);
    if (!r.ok) return setErrors(r.errors);
    setErrors({});
    save.mutate(r.value);
  };
  return (
    <div className="risk-panel">
      <div className={`kill-switch ${ks?.active ? 'on' : 'off'}`} role="status" aria-live="polite" data-active={ks?.active ? 'true' : 'false'}>
        <strong>{T.risk.kill}: </strong>
        {ks?.active ? (
          <>
            <span className="tone-down">{T.risk.killOn(ks.code ?? 'RISK_KILL_SWITCH', ks.reason ?? '')}</span>{' '}
            <span className="muted">{ks.untilTradingDate ? T.risk.killUntil(ks.untilTradingDate) : T.risk.killManual}</span>{' '}
            <button type="button" onClick={() => reset.mutate()} disabled={reset.isPending}>{T.risk.reset}</button>
          </>
        ) : (
          <span className="tone-up">{T.risk.killOff}</span>
        )}
        {cooldownUntil !== null && <span className="muted"> {T.risk.cooldown(formatTime(cooldownUntil, timeZone))}</span>}
      </div>
      {reset.isError && <ServerError error={reset.error} />}
      <form onSubmit={submit} noValidate aria-label={T.risk.heading}>
        <div className="form-grid">
          {RISK_SPECS.map((s) => {
            const fid = `${id}-${s.key}`;
            const e = errors[s.key];
            return (
              <div className="field" key={s.key}>
                <label htmlFor={fid}>{T.riskFields[s.key]}</label>
                <input id={fid} value={values[s.key] ?? ''} placeholder={T.risk.off} inputMode="decimal" aria-invalid={Boolean(e)} aria-describedby={e ? `${fid}-err` : undefined} onChange={(ev) => { const x = ev.target.value; setValues((v) => ({ ...v, [s.key]: x })); setSaved(false); }} />
                {e && <span id={`${fid}-err`} className="field-error">{e}</span>}
              </div>
            );
          })}
          <div className="field">
            <button type="submit" disabled={save.isPending}>{T.risk.save}</button>
          </div>
        </div>
        {save.isError && <ServerError error={save.error} />}
        {saved && <p className="ok" role="status">{T.risk.saved}</p>}
      </form>
    </div>
  );
}
