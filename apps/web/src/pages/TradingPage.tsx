/**
 * Trading (paper): the account's summary and equity curve, positions, open
 * and recent orders, fills, the order ticket, strategies (new, start/stop,
 * delete) and the risk limits with the kill switch. Live through /ws/trading.
 * Loaded on demand (lightweight-charts and this page stay out of the board's
 * first load).
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import type { AccountState, EquityPoint, SymbolRef, TradingStreamEvent } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import { useAppliedTheme } from '../lib/theme.ts';
import { timeZoneOf, VN_TIME_ZONE } from '../lib/market.ts';
import { formatPrice, formatTime, parseAmount } from '../lib/format.ts';
import { isLiveState } from '../store/connection.ts';
import { LineChart } from '../trading/charts.tsx';
import { OrderTicket } from '../trading/OrderTicket.tsx';
import type { SymbolLookup, TicketSymbolInfo } from '../trading/order-ticket-model.ts';
import { AccountSummary, FillsTable, OrdersTable, PositionsTable, RiskPanel, StrategyList } from '../trading/panels.tsx';
import { ServerError } from '../trading/ServerError.tsx';
import { StrategyForm } from '../trading/StrategyForm.tsx';
import { T } from '../trading/strings.ts';
import { tradingKeys, useTradingLive } from '../trading/use-trading-live.ts';

/** Symbols for the ticket: exchange and lot from reference data, today's reference and band from the live quote (read at each check). */
function useTicketSymbols(refs: readonly SymbolRef[] | undefined): SymbolLookup | null {
  const { quotes } = useServices();
  return useMemo(() => {
    if (!refs) return null;
    const by = new Map(refs.map((r) => [r.symbol, r]));
    return {
      get(symbol: string): TicketSymbolInfo | undefined {
        const r = by.get(symbol);
        if (!r) return undefined;
        const q = quotes.get(symbol);
        const sameDay = q && q.tradingDate >= r.tradingDate;
        return {
          symbol,
          exchange: r.exchange,
          market: r.market,
          lotSize: r.lotSize,
          reference: sameDay ? q.reference : r.reference,
          ceiling: sameDay ? q.ceiling : r.ceiling,
          floor: sameDay ? q.floor : r.floor,
        };
      },
    };
  }, [refs, quotes]);
}

export default function TradingPage() {
  const { api } = useServices();
  const theme = useAppliedTheme();
  const live = useTradingLive();
  const accountsQ = useQuery({ queryKey: tradingKeys.accounts, queryFn: ({ signal }) => api.tradingAccounts({ signal }) });
  const refsQ = useQuery({ queryKey: ['symbols'], queryFn: ({ signal }) => api.symbols({}, { signal }), staleTime: 5 * 60_000 });
  const builtinQ = useQuery({ queryKey: tradingKeys.builtin, queryFn: ({ signal }) => api.builtinStrategies({ signal }), staleTime: Infinity });
  const [chosen, setChosen] = useState<string | null>(null);
  const accounts = accountsQ.data?.items ?? [];
  const account = accounts.find((a) => a.id === chosen) ?? accounts[0];
  const accountId = account?.id ?? '';
  const market = account?.market ?? 'VN';
  const timeZone = market === 'US' ? timeZoneOf('US', 'US') : VN_TIME_ZONE;
  const known = useMemo(() => new Set((refsQ.data?.items ?? []).map((r) => r.symbol)), [refsQ.data]);
  const ticketSymbols = useTicketSymbols(refsQ.data?.items);
  const ticketContext = useMemo(() => ({ symbols: ticketSymbols }), [ticketSymbols]);

  const enabled = accountId !== '';
  const ordersQ = useQuery({ queryKey: tradingKeys.orders(accountId), queryFn: ({ signal }) => api.orders(accountId, { limit: 200 }, { signal }), enabled });
  const fillsQ = useQuery({ queryKey: tradingKeys.fills(accountId), queryFn: ({ signal }) => api.fills(accountId, { limit: 200 }, { signal }), enabled });
  const pnlQ = useQuery({ queryKey: tradingKeys.pnl(accountId), queryFn: ({ signal }) => api.pnl(accountId, { limit: 1000 }, { signal }), enabled, refetchInterval: 60_000 });
  const strategiesQ = useQuery({ queryKey: tradingKeys.strategies(accountId), queryFn: ({ signal }) => api.strategies({ accountId }, { signal }), enabled });

  // The newest of: the live portfolio state, the P&L answer, the account list's state.
  const state: AccountState | null = useMemo(() => {
    const cands = [live.portfolio.get(accountId), pnlQ.data?.account, account?.state].filter((x): x is AccountState => !!x);
    return cands.sort((a, b) => b.ts - a.ts)[0] ?? null;
  }, [live.portfolio, accountId, pnlQ.data, account]);

  // Equity curve: the stored per-minute points, extended by the minutes seen live since the page opened.
  const [livePts, setLivePts] = useState<{ accountId: string; pts: ReadonlyMap<number, EquityPoint> }>({ accountId: '', pts: new Map() });
  useEffect(() => {
    const s = live.portfolio.get(accountId);
    if (!s) return;
    const m = Math.floor(s.ts / 60_000) * 60_000;
    setLivePts((cur) => {
      const pts = new Map(cur.accountId === accountId ? cur.pts : []);
      pts.set(m, { ts: m, equity: s.equity, cash: s.cash });
      if (pts.size > 2_000) pts.delete(Math.min(...pts.keys()));
      return { accountId, pts };
    });
  }, [live.portfolio, accountId]);
  const curve = useMemo(() => {
    const by = new Map<number, EquityPoint>((pnlQ.data?.equity ?? []).map((p) => [p.ts, p]));
    if (livePts.accountId === accountId) for (const [ts, p] of livePts.pts) by.set(ts, p);
    return [...by.values()].sort((a, b) => a.ts - b.ts).map((p) => ({ ts: p.ts, value: p.equity }));
  }, [pnlQ.data, livePts, accountId]);

  if (accountsQ.isLoading) return <p className="loading" role="status">{T.loading}</p>;
  if (accountsQ.isError) return <ServerError error={accountsQ.error} />;

  return (
    <article aria-labelledby="trading-h" className="trading-page">
      <header className="trading-head">
        <h1 id="trading-h">{T.title}</h1>
        <span className="muted">{T.paperNote}</span>
        <span className={`trading-live ${isLiveState(live.state) ? 'tone-up' : 'muted'}`} data-state={live.state}>
          {isLiveState(live.state) ? `● ${T.live.live}` : T.live.other(live.state)}
        </span>
        <Link to="/trading/backtests">{T.backtestLink}</Link>
      </header>
      {!account ? (
        <section className="card" aria-labelledby="acct-h">
          <h2 id="acct-h">{T.account.heading}</h2>
          <p>{T.account.none}</p>
          <NewAccount onCreated={(id) => setChosen(id)} />
        </section>
      ) : (
        <>
          <section className="card" aria-labelledby="acct-h">
            <div className="card-head">
              <h2 id="acct-h">{T.account.heading}: {account.name} <span className="muted">({account.market})</span></h2>
              {accounts.length > 1 && (
                <label>
                  {T.account.choose}{' '}
                  <select value={accountId} onChange={(e) => setChosen(e.target.value)}>
                    {accounts.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
                  </select>
                </label>
              )}
              <ResetAccount accountId={accountId} name={account.name} />
            </div>
            {state ? <AccountSummary state={state} market={market} timeZone={timeZone} /> : <p className="muted">{T.account.noState}</p>}
            <h3>{T.equity.heading}</h3>
            {curve.length === 0 ? <p className="muted">{T.equity.empty}</p> : null}
            <LineChart points={curve} timeZone={timeZone} theme={theme} label={T.equity.heading} format={(v) => formatPrice(v, market)} />
          </section>
          <div className="trading-grid">
            <div>
              <section className="card" aria-labelledby="pos-h">
                <h2 id="pos-h">{T.positions.heading}</h2>
                {state ? <PositionsTable state={state} market={market} /> : <p className="muted">{T.positions.empty}</p>}
              </section>
              <section className="card" aria-labelledby="open-h">
                <h2 id="open-h">{T.orders.heading}</h2>
                <OrdersTable accountId={accountId} orders={ordersQ.data?.items ?? []} market={market} timeZone={timeZone} open />
              </section>
              <section className="card" aria-labelledby="fills-h">
                <h2 id="fills-h">{T.fills.heading}</h2>
                <FillsTable fills={fillsQ.data?.items ?? []} market={market} timeZone={timeZone} />
              </section>
              <section className="card" aria-labelledby="recent-h">
                <h2 id="recent-h">{T.orders.recent}</h2>
                <OrdersTable accountId={accountId} orders={ordersQ.data?.items ?? []} market={market} timeZone={timeZone} open={false} />
              </section>
            </div>
            <div>
              <section className="card" aria-labelledby="ticket-h">
                <h2 id="ticket-h">{T.ticket.heading}</h2>
                <OrderTicket accountId={accountId} context={ticketContext} />
              </section>
              <section className="card" aria-labelledby="strat-h">
                <h2 id="strat-h">{T.strategies.heading}</h2>
                <StrategyList accountId={accountId} strategies={strategiesQ.data?.items ?? []} />
                <h3>{T.signals.heading}</h3>
                <SignalList events={live.recent} accountId={accountId} timeZone={timeZone} />
                <h3>{T.newStrategy.heading}</h3>
                {builtinQ.data ? <StrategyForm key={accountId} accountId={accountId} builtins={builtinQ.data.items} knownSymbols={known} /> : <p className="muted">{T.loading}</p>}
              </section>
              <section className="card" aria-labelledby="risk-h">
                <h2 id="risk-h">{T.risk.heading}</h2>
                <RiskPanel accountId={accountId} kill={state?.killSwitch ?? null} cooldownUntil={state?.cooldownUntil ?? null} timeZone={timeZone} />
              </section>
            </div>
          </div>
        </>
      )}
    </article>
  );
}

/** The strategies' decisions and their reasons as they arrive (signals are events of the stream, not stored for REST). */
function SignalList({ events, accountId, timeZone }: { events: readonly TradingStreamEvent[]; accountId: string; timeZone: string }) {
  const signals = events.filter((e): e is Extract<TradingStreamEvent, { type: 'signal' }> => e.type === 'signal' && e.accountId === accountId).slice(0, 10);
  if (signals.length === 0) return <p className="muted">{T.signals.empty}</p>;
  return (
    <table className="data-table signals">
      <thead>
        <tr>{T.signals.cols.map((c) => <th key={c} scope="col">{c}</th>)}</tr>
      </thead>
      <tbody>
        {signals.map(({ signal: g }) => (
          <tr key={g.id} data-action={g.action}>
            <td className="num">{formatTime(g.ts, timeZone)}</td>
            <td>{g.symbol}</td>
            <td className={g.action === 'enter' ? 'side-buy' : g.action === 'exit' ? 'side-sell' : 'muted'}>{g.action}</td>
            <td className="muted">{g.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NewAccount({ onCreated }: { onCreated: (id: string) => void }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const [name, setName] = useState('Paper');
  const [market, setMarket] = useState<'VN' | 'US'>('VN');
  const [cash, setCash] = useState('');
  const [cashError, setCashError] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () => {
      const c = cash.trim() ? parseAmount(cash) : null;
      return api.createTradingAccount({ name: name.trim() || 'Paper', market, ...(c ? { startingCash: c } : {}) });
    },
    onSuccess: (a) => {
      void qc.invalidateQueries({ queryKey: tradingKeys.accounts });
      onCreated(a.id);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const c = cash.trim() ? parseAmount(cash) : null;
    if (cash.trim() && !(c !== null && c > 0)) return setCashError(T.errors.priceNum);
    setCashError(null);
    create.mutate();
  };
  return (
    <form onSubmit={submit} noValidate aria-label={T.account.create}>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="acct-name">{T.account.name}</label>
          <input id="acct-name" value={name} maxLength={60} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="acct-market">{T.account.market}</label>
          <select id="acct-market" value={market} onChange={(e) => setMarket(e.target.value as 'VN' | 'US')}>
            <option value="VN">VN</option>
            <option value="US">US</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="acct-cash">{T.account.cash}</label>
          <input id="acct-cash" value={cash} placeholder="1,000,000,000" inputMode="decimal" aria-invalid={Boolean(cashError)} onChange={(e) => setCash(e.target.value)} />
          {cashError && <span className="field-error">{cashError}</span>}
        </div>
        <div className="field">
          <button type="submit" disabled={create.isPending}>{T.account.create}</button>
        </div>
      </div>
      {create.isError && <ServerError error={create.error} />}
    </form>
  );
}

function ResetAccount({ accountId, name }: { accountId: string; name: string }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const reset = useMutation({ mutationFn: () => api.resetTradingAccount(accountId), onSettled: () => qc.invalidateQueries({ queryKey: ['trading'] }) });
  return (
    <>
      <button
        type="button"
        className="link-btn danger"
        disabled={reset.isPending}
        onClick={() => {
          if (window.confirm(T.account.resetConfirm(name))) reset.mutate();
        }}
      >
        {T.account.reset}
      </button>
      {reset.isError && <ServerError error={reset.error} />}
    </>
  );
}
