/**
 * Backtests: run one over a server-side tape (strategy, params, symbols,
 * cash, fees), follow it until it is done, list past runs, and read a report:
 * summary figures, equity curve, drawdown, and the fills marked on the tape's
 * candles. `/trading/backtests` and `/trading/backtests/:id`; loaded on demand.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router-dom';
import type { FeePreset, StrategyInfo, TradingBacktest, TradingBacktestCreate } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import { useAppliedTheme } from '../lib/theme.ts';
import { VN_TIME_ZONE } from '../lib/market.ts';
import { changeTone, toneClass } from '../lib/colors.ts';
import { formatDateTime, formatPct, formatPrice, formatTime, formatVolume, parseAmount } from '../lib/format.ts';
import { asReport, drawdownSeries } from '../trading/backtest-model.ts';
import { CandleChart, LineChart } from '../trading/charts.tsx';
import { fillMarkers } from '../trading/fill-markers.ts';
import { ServerError } from '../trading/ServerError.tsx';
import { defaultParams, describeParams, parseSymbols, validateStrategyForm } from '../trading/strategy-form-model.ts';
import { BT, T } from '../trading/strings.ts';
import { tradingKeys } from '../trading/use-trading-live.ts';

export default function BacktestPage() {
  const { id } = useParams();
  return id ? <BacktestReportView id={id} /> : <BacktestRunner />;
}

function BacktestRunner() {
  const { api } = useServices();
  const tapesQ = useQuery({ queryKey: tradingKeys.tapes, queryFn: ({ signal }) => api.tapes({ signal }) });
  const builtinQ = useQuery({ queryKey: tradingKeys.builtin, queryFn: ({ signal }) => api.builtinStrategies({ signal }), staleTime: Infinity });
  const listQ = useQuery({
    queryKey: tradingKeys.backtests,
    queryFn: ({ signal }) => api.backtests({ limit: 50 }, { signal }),
    // Poll while one is running (the server answers 202 and runs it in the background).
    refetchInterval: (q) => ((q.state.data?.items ?? []).some((b) => b.status === 'running') ? 1_000 : false),
  });
  return (
    <article aria-labelledby="bt-h" className="trading-page">
      <header className="trading-head">
        <h1 id="bt-h">{BT.title}</h1>
        <Link to="/trading">{BT.back}</Link>
      </header>
      <section className="card" aria-labelledby="bt-run-h">
        <h2 id="bt-run-h">{BT.run}</h2>
        {tapesQ.isError && <ServerError error={tapesQ.error} />}
        {tapesQ.data && tapesQ.data.items.length === 0 && <p className="muted">{BT.noTapes}</p>}
        {tapesQ.data && tapesQ.data.items.length > 0 && builtinQ.data && <BacktestForm tapes={tapesQ.data.items.map((t) => t.name)} builtins={builtinQ.data.items} />}
      </section>
      <section className="card" aria-labelledby="bt-list-h">
        <h2 id="bt-list-h">{BT.list}</h2>
        {listQ.isError && <ServerError error={listQ.error} />}
        <BacktestList items={listQ.data?.items ?? []} />
      </section>
    </article>
  );
}

function BacktestForm({ tapes, builtins }: { tapes: string[]; builtins: readonly StrategyInfo[] }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [tape, setTape] = useState(tapes[0]!);
  const [strategy, setStrategy] = useState(builtins[0]?.name ?? '');
  const [params, setParams] = useState<Record<string, string>>(() => defaultParams(builtins[0]));
  const [symbols, setSymbols] = useState('');
  const [cash, setCash] = useState('1,000,000,000');
  const [fees, setFees] = useState<FeePreset>('vn');
  const [errors, setErrors] = useState<{ params: Record<string, string>; cash?: string; symbols?: string; strategy?: string }>({ params: {} });
  const info = builtins.find((b) => b.name === strategy);
  const run = useMutation({
    mutationFn: (body: TradingBacktestCreate) => api.runBacktest(body),
    onSuccess: (b) => {
      void qc.invalidateQueries({ queryKey: tradingKeys.backtests });
      navigate(`/trading/backtests/${encodeURIComponent(b.id)}`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // Same parameter checks as a paper strategy; symbols are optional here (empty = the whole tape).
    const syms = parseSymbols(symbols);
    const r = validateStrategyForm({ accountId: '-', strategy, params, symbols: syms.length ? symbols : 'X' }, builtins);
    const c = parseAmount(cash);
    const errs = { params: r.ok ? {} : r.errors.params, strategy: r.ok ? undefined : r.errors.strategy, symbols: r.ok || !syms.length ? undefined : r.errors.symbols, cash: c !== null && c > 0 ? undefined : T.errors.priceNum };
    setErrors(errs);
    if (!r.ok && (errs.strategy || errs.symbols || Object.keys(errs.params).length)) return;
    if (errs.cash || !r.ok) return;
    run.mutate({ tape, strategy, params: r.value.params, ...(syms.length ? { symbols: syms } : {}), cash: c!, fees });
  };
  return (
    <form onSubmit={submit} noValidate aria-label={BT.run}>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="bt-tape">{BT.tape}</label>
          <select id="bt-tape" value={tape} onChange={(e) => setTape(e.target.value)}>
            {tapes.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="bt-strategy">{T.newStrategy.strategy}</label>
          <select
            id="bt-strategy"
            value={strategy}
            onChange={(e) => {
              setStrategy(e.target.value);
              setParams(defaultParams(builtins.find((b) => b.name === e.target.value)));
            }}
          >
            {builtins.map((b) => <option key={b.name} value={b.name}>{b.name}</option>)}
          </select>
        </div>
        {info?.params.map((p) => (
          <div className="field" key={p.name}>
            <label htmlFor={`bt-p-${p.name}`}>{p.name}</label>
            <input id={`bt-p-${p.name}`} value={params[p.name] ?? ''} inputMode="decimal" aria-invalid={Boolean(errors.params[p.name])} onChange={(e) => { const x = e.target.value; setParams((v) => ({ ...v, [p.name]: x })); }} />
            <span className="hint">{p.min}–{p.max}; default {p.default}</span>
            {errors.params[p.name] && <span className="field-error">{errors.params[p.name]}</span>}
          </div>
        ))}
        <div className="field">
          <label htmlFor="bt-symbols">{T.newStrategy.symbols}</label>
          <input id="bt-symbols" value={symbols} aria-invalid={Boolean(errors.symbols)} onChange={(e) => setSymbols(e.target.value.toUpperCase())} />
          <span className="hint">{BT.symbolsHint}</span>
          {errors.symbols && <span className="field-error">{errors.symbols}</span>}
        </div>
        <div className="field">
          <label htmlFor="bt-cash">{BT.cash}</label>
          <input id="bt-cash" value={cash} inputMode="decimal" aria-invalid={Boolean(errors.cash)} onChange={(e) => setCash(e.target.value)} />
          {errors.cash && <span className="field-error">{errors.cash}</span>}
        </div>
        <div className="field">
          <label htmlFor="bt-fees">{BT.fees}</label>
          <select id="bt-fees" value={fees} onChange={(e) => setFees(e.target.value as FeePreset)}>
            {(['vn', 'us', 'none'] as FeePreset[]).map((f) => <option key={f} value={f}>{BT.feeNames[f]}</option>)}
          </select>
        </div>
        <div className="field">
          <button type="submit" disabled={run.isPending}>{BT.start}</button>
        </div>
      </div>
      {run.isError && <ServerError error={run.error} />}
    </form>
  );
}

function BacktestList({ items }: { items: readonly TradingBacktest[] }) {
  if (items.length === 0) return <p className="muted">{BT.empty}</p>;
  return (
    <table className="data-table backtests">
      <thead>
        <tr>
          {BT.cols.map((c) => <th key={c} scope="col">{c}</th>)}
          <th scope="col"><span className="visually-hidden">{BT.open}</span></th>
        </tr>
      </thead>
      <tbody>
        {items.map((b) => (
          <tr key={b.id} data-backtest={b.id} data-status={b.status}>
            <td className="num">{formatDateTime(b.createdAt, VN_TIME_ZONE)}</td>
            <td>{b.request.strategy} <span className="muted">{describeParams(b.request.params ?? {})}</span></td>
            <td>{b.request.tape}</td>
            <td>{b.status}</td>
            <td className={toneClass(changeTone(b.summary?.returnPct))}>{b.summary ? formatPct(b.summary.returnPct) : ''}</td>
            <td className="num">{b.summary?.trades ?? ''}</td>
            <td><Link to={`/trading/backtests/${encodeURIComponent(b.id)}`}>{BT.open}</Link></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function BacktestReportView({ id }: { id: string }) {
  const { api } = useServices();
  const theme = useAppliedTheme();
  const q = useQuery({
    queryKey: tradingKeys.backtest(id),
    queryFn: ({ signal }) => api.backtest(id, { signal }),
    refetchInterval: (qq) => (qq.state.data?.status === 'running' ? 750 : false),
  });
  const b = q.data;
  const report = b?.status === 'done' ? asReport(b.report) : null;
  const traded = useMemo(() => [...new Set([...(report ? Object.keys(report.bars ?? {}) : []), ...(report?.fills.map((f) => f.symbol) ?? [])])], [report]);
  const [sym, setSym] = useState<string | null>(null);
  const symbol = sym && traded.includes(sym) ? sym : traded.find((s) => report?.fills.some((f) => f.symbol === s)) ?? traded[0] ?? null;
  const candles = useMemo(() => (report && symbol ? (report.bars?.[symbol] ?? []) : []), [report, symbol]);
  const markers = useMemo(() => (report && symbol ? fillMarkers(report.fills.filter((f) => f.symbol === symbol), candles.map((c) => c.ts)) : []), [report, symbol, candles]);
  const equity = useMemo(() => (report ? report.equity.map((p) => ({ ts: p.ts, value: p.equity })) : []), [report]);
  const dd = useMemo(() => (report ? drawdownSeries(report.summary.startEquity, report.equity) : []), [report]);
  const tz = VN_TIME_ZONE;

  return (
    <article aria-labelledby="bt-report-h" className="trading-page backtest-report">
      <header className="trading-head">
        <h1 id="bt-report-h">{BT.report}</h1>
        <Link to="/trading/backtests">{BT.title}</Link>
        <Link to="/trading">{BT.back}</Link>
      </header>
      {q.isError && <ServerError error={q.error} />}
      {(!b || b.status === 'running') && !q.isError && <p className="loading" role="status">{BT.running}</p>}
      {b?.status === 'failed' && <p className="error" role="alert">{BT.failed(b.error ?? '')}</p>}
      {b && report && (
        <>
          <section className="card" aria-label={BT.report}>
            <p>
              <strong>{b.request.strategy}</strong> <span className="muted">{describeParams(report.params)}</span> · {b.request.tape} · {formatPrice(report.cash)} · {report.events.toLocaleString('en-US')} events
            </p>
            <dl className="account-summary backtest-summary">
              <Stat k={BT.summary.returnPct} cls="return"><span className={toneClass(changeTone(report.summary.returnPct))}>{formatPct(report.summary.returnPct)}</span></Stat>
              <Stat k={BT.summary.maxDrawdownPct} cls="drawdown"><span className={report.summary.maxDrawdownPct > 0 ? 'tone-down' : ''}>{formatPct(-report.summary.maxDrawdownPct)}</span></Stat>
              <Stat k={BT.summary.trades} cls="trades">{String(report.summary.trades)}</Stat>
              <Stat k={BT.summary.winRate} cls="winrate">{report.summary.winRate === null ? '—' : `${report.summary.winRate.toFixed(1)}%`}</Stat>
              <Stat k={BT.summary.sharpe} cls="sharpe">{report.summary.sharpe === null ? '—' : report.summary.sharpe.toFixed(2)}</Stat>
              <Stat k={BT.summary.endEquity} cls="end">{formatPrice(report.summary.endEquity)}</Stat>
              <Stat k={BT.summary.fills} cls="fills">{String(report.summary.fills)}</Stat>
              <Stat k={BT.summary.feesTaxes} cls="fees">{formatPrice(report.summary.fees + report.summary.taxes)}</Stat>
            </dl>
            <p className="hint">{BT.assumptions}</p>
          </section>
          <section className="card" aria-labelledby="bt-candles-h">
            <div className="card-head">
              <h2 id="bt-candles-h">{symbol ? BT.candles(symbol) : BT.noCandles}</h2>
              {traded.length > 1 && (
                <label>
                  {BT.symbol}{' '}
                  <select value={symbol ?? ''} onChange={(e) => setSym(e.target.value)}>
                    {traded.map((s) => <option key={s} value={s}>{s}</option>)}
                  </select>
                </label>
              )}
            </div>
            {candles.length > 0 ? <CandleChart candles={candles} markers={markers} timeZone={tz} theme={theme} label={symbol ? BT.candles(symbol) : ''} /> : <p className="muted">{BT.noCandles}</p>}
          </section>
          <div className="two-col">
            <section className="card" aria-labelledby="bt-eq-h">
              <h2 id="bt-eq-h">{BT.equity}</h2>
              <LineChart points={equity} timeZone={tz} theme={theme} label={BT.equity} />
            </section>
            <section className="card" aria-labelledby="bt-dd-h">
              <h2 id="bt-dd-h">{BT.drawdown}</h2>
              <LineChart points={dd} timeZone={tz} theme={theme} label={BT.drawdown} tone="down" format={(v) => `${v.toFixed(2)}%`} />
            </section>
          </div>
          <section className="card" aria-labelledby="bt-fills-h">
            <h2 id="bt-fills-h">{BT.fillsHeading} ({report.fills.length})</h2>
            <div className="tape-wrap">
              <table className="data-table fills">
                <thead>
                  <tr>{T.fills.cols.slice(0, 7).map((c) => <th key={c} scope="col">{c}</th>)}</tr>
                </thead>
                <tbody>
                  {report.fills.slice(0, 500).map((f, i) => (
                    <tr key={`${f.orderId}-${i}`}>
                      <td className="num">{formatTime(f.ts, tz)}</td>
                      <td>{f.symbol}</td>
                      <td className={`side-${f.side}`}>{f.side === 'buy' ? T.ticket.buy : T.ticket.sell}</td>
                      <td className="num">{formatVolume(f.qty)}</td>
                      <td className="num">{formatPrice(f.price)}</td>
                      <td className="num">{formatPrice(f.fee)}</td>
                      <td className="num">{formatPrice(f.tax)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </article>
  );
}

function Stat({ k, cls, children }: { k: string; cls: string; children: ReactNode }) {
  return (
    <div className={`stat stat-${cls}`}>
      <dt>{k}</dt>
      <dd className="num">{children}</dd>
    </div>
  );
}
