/**
 * One symbol: candles + volume split + indicators, extended live from the
 * trades stream; session summary; trade tape; order book; alerts.
 * Loaded lazily (lightweight-charts and the indicator maths stay out of the
 * board's initial bundle).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { tradesKey, type Bar, type BarInterval, type ClassifiedTrade, type QuoteState, type SnapshotMsg, type UpdateMsg } from '@stock-tracker/protocol';
import type { ApiError } from '@stock-tracker/client';
import { AlertForm } from '../alerts/AlertForm.tsx';
import { AlertHistory } from '../alerts/AlertHistory.tsx';
import { AlertRulesList } from '../alerts/AlertRulesList.tsx';
import { applyTrade } from '../chart/candles.ts';
import type { OverlayName, PaneName } from '../chart/indicators.ts';
import { PriceChart } from '../chart/PriceChart.tsx';
import { StaleNotice } from '../components/ConnectionStatus.tsx';
import { PHASE_LABELS } from '../components/MarketPhase.tsx';
import { OrderBook } from '../components/symbol/OrderBook.tsx';
import { BuySellSplit, SessionCard } from '../components/symbol/SessionCard.tsx';
import { mergeTrades, TradeTape } from '../components/symbol/TradeTape.tsx';
import { WatchMenu } from '../components/WatchMenu.tsx';
import { priceTone, toneClass } from '../lib/colors.ts';
import { formatChange, formatPct, formatPrice, formatVolume } from '../lib/format.ts';
import { timeZoneOf } from '../lib/market.ts';
import { useAppliedTheme } from '../lib/theme.ts';
import { useWatchlists } from '../lib/use-watchlists.ts';
import { useKeyed } from '../store/hooks.ts';
import { looksLikeQuote, looksLikeTrade } from '../store/streams.ts';
import { useFrameBatch, useStream } from '../store/use-stream.ts';
import { useSymbolFills } from '../trading/use-symbol-fills.ts';
import { fillMarkers } from '../trading/fill-markers.ts';
import { useServices } from '../services.tsx';
import { isLiveState } from '../store/connection.ts';

const INTERVALS: BarInterval[] = ['1m', '5m', '15m', '1h', '1d'];
const OVERLAYS: { id: OverlayName; label: string }[] = [
  { id: 'vwap', label: 'VWAP' },
  { id: 'sma', label: 'SMA' },
  { id: 'ema', label: 'EMA' },
  { id: 'bollinger', label: 'Bollinger' },
];
const PANES: { id: PaneName; label: string }[] = [
  { id: 'rsi', label: 'RSI 14' },
  { id: 'macd', label: 'MACD 12/26/9' },
];

function toggleIn<T>(set: ReadonlySet<T>, v: T): Set<T> {
  const n = new Set(set);
  if (n.has(v)) n.delete(v);
  else n.add(v);
  return n;
}

export default function SymbolPage() {
  const symbol = (useParams().symbol ?? '').toUpperCase();
  const { api, quotes, connection } = useServices();
  const [params, setParams] = useSearchParams();
  const interval = (INTERVALS as string[]).includes(params.get('i') ?? '') ? (params.get('i') as BarInterval) : '1m';
  const [overlays, setOverlays] = useState<ReadonlySet<OverlayName>>(() => new Set(['vwap']));
  const [panes, setPanes] = useState<ReadonlySet<PaneName>>(() => new Set());
  const [period, setPeriod] = useState(20);
  const [menuAnchor, setMenuAnchor] = useState<HTMLElement | null>(null);
  const theme = useAppliedTheme();
  const wl = useWatchlists();

  const refQ = useQuery({ queryKey: ['symbol', symbol], queryFn: ({ signal }) => api.symbol(symbol, { signal }), staleTime: 5 * 60_000, retry: false });
  const quoteQ = useQuery({ queryKey: ['quote', symbol], queryFn: ({ signal }) => api.quote(symbol, { signal }), retry: false });
  useEffect(() => {
    if (quoteQ.data) quotes.set(quoteQ.data.symbol, quoteQ.data);
  }, [quoteQ.data, quotes]);
  const quote = useKeyed(quotes, symbol);
  const timeZone = timeZoneOf(refQ.data?.exchange ?? quote?.exchange, refQ.data?.market ?? quote?.market);
  const market = quote?.market ?? refQ.data?.market ?? 'VN';

  // Bars: REST history, then live trades fold into the last candle.
  const barsQ = useQuery({
    queryKey: ['bars', symbol, interval],
    queryFn: ({ signal }) => api.bars(symbol, { interval, limit: 1000 }, { signal }),
    staleTime: Infinity,
  });
  const [bars, setBars] = useState<readonly Bar[]>([]);
  const barsReady = useRef(false);
  useEffect(() => {
    barsReady.current = false;
    setBars([]);
  }, [symbol, interval]);
  useEffect(() => {
    if (!barsQ.data) return;
    setBars([...barsQ.data.items].sort((a, b) => a.ts - b.ts));
    barsReady.current = true;
  }, [barsQ.data]);

  const tradesQ = useQuery({ queryKey: ['trades', symbol], queryFn: ({ signal }) => api.trades(symbol, { limit: 100 }, { signal }) });
  const [tape, setTape] = useState<ClassifiedTrade[]>([]);
  useEffect(() => setTape([]), [symbol]);
  useEffect(() => {
    if (tradesQ.data) setTape((cur) => mergeTrades(cur, tradesQ.data.items));
  }, [tradesQ.data]);

  const sessionQ = useQuery({
    queryKey: ['session', symbol],
    queryFn: ({ signal }) => api.session(symbol, {}, { signal }),
    refetchInterval: 60_000,
    retry: false,
  });

  const pushLive = useFrameBatch<ClassifiedTrade>((trades) => {
    setTape((cur) => mergeTrades(cur, trades));
    // Only trades that arrive after the bars were loaded extend them: earlier ones are already inside.
    if (barsReady.current) setBars((cur) => trades.reduce((acc, t) => applyTrade(acc, t, interval, timeZone), cur));
  });
  const pushSnapshot = useFrameBatch<ClassifiedTrade>((trades) => setTape((cur) => mergeTrades(cur, trades)));

  const onMessage = useCallback(
    (msg: SnapshotMsg | UpdateMsg) => {
      if (msg.key === symbol) {
        if (looksLikeQuote(msg.data)) quotes.set(symbol, msg.data as QuoteState);
        return;
      }
      if (msg.key !== tradesKey(symbol)) return;
      const items = (Array.isArray(msg.data) ? msg.data : [msg.data]).filter(looksLikeTrade);
      for (const t of items) (msg.type === 'update' ? pushLive : pushSnapshot)(t);
    },
    [symbol, quotes, pushLive, pushSnapshot],
  );
  const tradeState = useStream('/ws/market', [symbol], { trades: true, enabled: symbol !== '' }, onMessage);

  // The signed-in user's paper fills on this symbol, marked on the candles.
  const myFills = useSymbolFills(symbol);
  const markers = useMemo(() => fillMarkers(myFills, bars.map((b) => b.ts)), [myFills, bars]);

  const notFound = (refQ.error as ApiError | null)?.status === 404 || (quoteQ.error as ApiError | null)?.status === 404;
  const tone = toneClass(priceTone(quote?.last, quote));
  const watched = wl.watched.has(symbol);
  const context = useMemo(() => ({ band: quote ? { ceiling: quote.ceiling, floor: quote.floor } : undefined }), [quote?.ceiling, quote?.floor]);

  if (notFound) {
    return (
      <section className="card">
        <h1>Unknown symbol {symbol}</h1>
        <p><Link to="/">Back to the board</Link></p>
      </section>
    );
  }

  return (
    <article aria-labelledby="sym-h">
      <header className="symbol-head">
        <h1 id="sym-h">{symbol}</h1>
        <span className="muted">{refQ.data?.name ?? ''} {refQ.data?.exchange ?? quote?.exchange ?? ''}</span>
        <span className={`big ${tone}`}>{formatPrice(quote?.last, market, '—')}</span>
        <span className={tone}>
          {formatChange(quote?.change, market)} {quote?.changePct !== null && quote?.changePct !== undefined ? `(${formatPct(quote.changePct)})` : ''}
        </span>
        {quote && (
          <span className="num">
            <span className="tone-ref" title="Reference">TC {formatPrice(quote.reference, market)}</span>{' · '}
            <span className="tone-ceiling" title="Ceiling">Trần {formatPrice(quote.ceiling, market, '—')}</span>{' · '}
            <span className="tone-floor" title="Floor">Sàn {formatPrice(quote.floor, market, '—')}</span>{' · '}
            Vol {formatVolume(quote.totalVolume)} · {PHASE_LABELS[quote.phase]}
            {quote.halted ? ' · HALTED' : ''}
          </span>
        )}
        <button type="button" aria-pressed={watched} onClick={(e) => setMenuAnchor(e.currentTarget)}>
          {watched ? '★ In watchlist' : '☆ Watchlist'}
        </button>
      </header>
      <StaleNotice store={connection} />
      {!isLiveState(tradeState) && <p className="muted" role="status">Trades stream: {tradeState}</p>}

      <div className="symbol-grid">
        <div>
          <section className="card" aria-label="Chart">
            <div className="chart-controls">
              <div className="seg" role="group" aria-label="Interval">
                {INTERVALS.map((i) => (
                  <button
                    key={i}
                    type="button"
                    aria-pressed={i === interval}
                    onClick={() => setParams((p) => { const n = new URLSearchParams(p); n.set('i', i); return n; }, { replace: true })}
                  >
                    {i}
                  </button>
                ))}
              </div>
              <fieldset className="inline-form" style={{ border: 0, padding: 0, margin: 0 }}>
                <legend className="visually-hidden">Overlays</legend>
                {OVERLAYS.map((o) => (
                  <label key={o.id}>
                    <input type="checkbox" checked={overlays.has(o.id)} onChange={() => setOverlays((s) => toggleIn(s, o.id))} /> {o.label}
                  </label>
                ))}
                <label>
                  Period{' '}
                  <select value={period} onChange={(e) => setPeriod(Number(e.target.value))} aria-label="SMA/EMA/Bollinger period">
                    {[5, 10, 20, 50, 100, 200].map((n) => <option key={n} value={n}>{n}</option>)}
                  </select>
                </label>
              </fieldset>
              <fieldset className="inline-form" style={{ border: 0, padding: 0, margin: 0 }}>
                <legend className="visually-hidden">Indicator panes</legend>
                {PANES.map((o) => (
                  <label key={o.id}>
                    <input type="checkbox" checked={panes.has(o.id)} onChange={() => setPanes((s) => toggleIn(s, o.id))} /> {o.label}
                  </label>
                ))}
              </fieldset>
            </div>
            {barsQ.isError && <p className="error">Could not load bars: {(barsQ.error as Error).message}</p>}
            <PriceChart bars={bars} interval={interval} timeZone={timeZone} overlays={overlays} panes={panes} period={period} theme={theme} market={market} markers={markers} />
            <p className="chart-legend">
              <span><span className="legend-swatch" style={{ background: 'var(--up)' }} />Active buy volume</span>
              <span><span className="legend-swatch" style={{ background: 'var(--down)' }} />Active sell volume</span>
              <span><span className="legend-swatch" style={{ background: 'var(--muted)' }} />Unclassified</span>
              <span>Times in {timeZone}</span>
            </p>
          </section>
          {sessionQ.data ? (
            <SessionCard day={sessionQ.data.day} phases={sessionQ.data.phases} market={market} />
          ) : (
            quote && (
              <section className="card" aria-label="Active buy and sell today">
                <h2>Active buy / sell today</h2>
                <BuySellSplit buy={quote.buyVolume} sell={quote.sellVolume} unknown={quote.unknownVolume} />
              </section>
            )
          )}
          <section className="card" aria-labelledby="alerts-h">
            <h2 id="alerts-h">Alerts on {symbol}</h2>
            <AlertRulesList symbol={symbol} context={context} />
            <AlertForm symbol={symbol} context={context} currency={market === 'US' ? 'USD' : 'VND'} />
            <h3>Fired</h3>
            <AlertHistory symbol={symbol} />
          </section>
        </div>
        <div>
          <OrderBook symbol={symbol} store={quotes} />
          <TradeTape trades={tape} timeZone={timeZone} market={market} />
        </div>
      </div>
      {menuAnchor && <WatchMenu symbol={symbol} anchor={menuAnchor} onClose={() => setMenuAnchor(null)} />}
    </article>
  );
}
