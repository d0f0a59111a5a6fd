/**
 * Candlestick chart with VWAP and overlays (pane 0), active buy/sell volume
 * (pane 1, stacked: buy at the bottom, sell above, unclassified on top) and
 * optional RSI and MACD panes, drawn with lightweight-charts. Times are shown
 * in the exchange's time zone, not the viewer's.
 */
import { useEffect, useRef } from 'react';
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  LineSeries,
  TickMarkType,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import type { Bar, BarInterval } from '@stock-tracker/protocol';
import { formatPrice } from '../lib/format.ts';
import { sessionVwap } from './candles.ts';
import { toSeriesMarkers, type FillMarker } from '../trading/fill-markers.ts';
import { bollinger, ema, macd, rsi, sma, type OverlayName, type PaneName, type Point } from './indicators.ts';

export interface PriceChartProps {
  bars: readonly Bar[];
  interval: BarInterval;
  timeZone: string;
  overlays: ReadonlySet<OverlayName>;
  panes: ReadonlySet<PaneName>;
  period: number;
  theme: string;
  market?: 'VN' | 'US';
  /** The signed-in user's fills on this symbol, already placed on candles (trading/fill-markers.ts). */
  markers?: readonly FillMarker[];
}

const sec = (ms: number) => (ms / 1000) as UTCTimestamp;
const line = (pts: Point[]) => pts.map((p) => ({ time: sec(p.ts), value: p.value }));
const cssVar = (name: string, fallback: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

function fmtTime(timeZone: string, opts: Intl.DateTimeFormatOptions) {
  const f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', ...opts });
  return (t: Time) => (typeof t === 'number' ? f.format(t * 1000) : String(t));
}

interface SeriesSet {
  candles: ISeriesApi<'Candlestick'>;
  vwap: ISeriesApi<'Line'>;
  sma: ISeriesApi<'Line'>;
  ema: ISeriesApi<'Line'>;
  bbUpper: ISeriesApi<'Line'>;
  bbMiddle: ISeriesApi<'Line'>;
  bbLower: ISeriesApi<'Line'>;
  volTotal: ISeriesApi<'Histogram'>;
  volBuySell: ISeriesApi<'Histogram'>;
  volBuy: ISeriesApi<'Histogram'>;
  rsi?: ISeriesApi<'Line'>;
  macd?: ISeriesApi<'Line'>;
  macdSignal?: ISeriesApi<'Line'>;
  macdHist?: ISeriesApi<'Histogram'>;
}

export function PriceChart(p: PriceChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<SeriesSet | null>(null);
  const markerPlugin = useRef<ISeriesMarkersPluginApi<Time> | null>(null);
  const market = p.market ?? 'VN';
  const paneKey = [...p.panes].sort().join(',');

  // (Re)build the chart when its structure changes: panes, zone, interval, theme.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const up = cssVar('--up', '#16a34a');
    const down = cssVar('--down', '#dc2626');
    const fg = cssVar('--fg', '#111');
    const grid = cssVar('--border', '#ddd');
    const muted = cssVar('--muted', '#888');
    const intraday = p.interval !== '1d';
    const c = createChart(el, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: 'transparent' }, textColor: fg, attributionLogo: false },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      localization: {
        priceFormatter: (v: number) => formatPrice(v, market),
        timeFormatter: fmtTime(p.timeZone, intraday ? { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' } : { day: '2-digit', month: '2-digit', year: 'numeric' }),
      },
      timeScale: {
        timeVisible: intraday,
        secondsVisible: false,
        tickMarkFormatter: (t: Time, type: TickMarkType) =>
          type === TickMarkType.Year
            ? fmtTime(p.timeZone, { year: 'numeric' })(t)
            : type === TickMarkType.Month || type === TickMarkType.DayOfMonth
              ? fmtTime(p.timeZone, { day: '2-digit', month: '2-digit' })(t)
              : fmtTime(p.timeZone, { hour: '2-digit', minute: '2-digit' })(t),
      },
    });
    const lineOpts = (color: string, lineWidth: 1 | 2 = 1) => ({ color, lineWidth, priceLineVisible: false, lastValueVisible: false });
    const s: SeriesSet = {
      candles: c.addSeries(CandlestickSeries, { upColor: up, downColor: down, borderUpColor: up, borderDownColor: down, wickUpColor: up, wickDownColor: down }),
      vwap: c.addSeries(LineSeries, { ...lineOpts('#f59e0b', 2), title: 'VWAP' }),
      sma: c.addSeries(LineSeries, { ...lineOpts('#3b82f6'), title: 'SMA' }),
      ema: c.addSeries(LineSeries, { ...lineOpts('#a855f7'), title: 'EMA' }),
      bbUpper: c.addSeries(LineSeries, lineOpts(muted)),
      bbMiddle: c.addSeries(LineSeries, { ...lineOpts(muted), lineStyle: 2 }),
      bbLower: c.addSeries(LineSeries, lineOpts(muted)),
      volTotal: c.addSeries(HistogramSeries, { color: muted, priceFormat: { type: 'volume' }, priceLineVisible: false }, 1),
      volBuySell: c.addSeries(HistogramSeries, { color: down, priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: false }, 1),
      volBuy: c.addSeries(HistogramSeries, { color: up, priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: false }, 1),
    };
    let pane = 2;
    if (p.panes.has('rsi')) {
      s.rsi = c.addSeries(LineSeries, { ...lineOpts('#8b5cf6', 2), title: 'RSI', lastValueVisible: true }, pane++);
      s.rsi.createPriceLine({ price: 70, color: down, lineStyle: 2, lineWidth: 1, axisLabelVisible: false, title: '' });
      s.rsi.createPriceLine({ price: 30, color: up, lineStyle: 2, lineWidth: 1, axisLabelVisible: false, title: '' });
    }
    if (p.panes.has('macd')) {
      s.macdHist = c.addSeries(HistogramSeries, { color: muted, priceLineVisible: false, lastValueVisible: false }, pane);
      s.macd = c.addSeries(LineSeries, { ...lineOpts('#3b82f6', 2), title: 'MACD' }, pane);
      s.macdSignal = c.addSeries(LineSeries, { ...lineOpts('#f97316'), title: 'signal' }, pane);
      pane++;
    }
    const panes = c.panes();
    panes[0]?.setStretchFactor(3);
    for (let i = 1; i < panes.length; i++) panes[i]!.setStretchFactor(1);
    chart.current = c;
    series.current = s;
    markerPlugin.current = createSeriesMarkers(s.candles, []);
    return () => {
      c.remove();
      chart.current = null;
      series.current = null;
      markerPlugin.current = null;
    };
  }, [paneKey, p.timeZone, p.interval, p.theme, market]);

  // Data: cheap enough to set in full per change (a few thousand points), batched per frame by React.
  useEffect(() => {
    const s = series.current;
    if (!s) return;
    const bars = p.bars;
    s.candles.setData(bars.map((b) => ({ time: sec(b.ts), open: b.open, high: b.high, low: b.low, close: b.close })));
    s.volTotal.setData(bars.map((b) => ({ time: sec(b.ts), value: b.volume })));
    s.volBuySell.setData(bars.map((b) => ({ time: sec(b.ts), value: b.buyVolume + b.sellVolume })));
    s.volBuy.setData(bars.map((b) => ({ time: sec(b.ts), value: b.buyVolume })));
    const on = (n: OverlayName) => p.overlays.has(n);
    s.vwap.setData(on('vwap') ? line(sessionVwap(bars, p.timeZone)) : []);
    s.sma.setData(on('sma') ? line(sma(bars, p.period)) : []);
    s.ema.setData(on('ema') ? line(ema(bars, p.period)) : []);
    const bb = on('bollinger') ? bollinger(bars, p.period) : { upper: [], middle: [], lower: [] };
    s.bbUpper.setData(line(bb.upper));
    s.bbMiddle.setData(line(bb.middle));
    s.bbLower.setData(line(bb.lower));
    if (s.rsi) s.rsi.setData(line(rsi(bars, 14)));
    if (s.macd && s.macdSignal && s.macdHist) {
      const m = macd(bars);
      s.macd.setData(line(m.macd));
      s.macdSignal.setData(line(m.signal));
      s.macdHist.setData(line(m.histogram));
    }
  }, [p.bars, p.overlays, p.period, p.timeZone, paneKey, p.interval, p.theme, market]);

  useEffect(() => {
    markerPlugin.current?.setMarkers(toSeriesMarkers(p.markers ?? [], market));
  }, [p.markers, paneKey, p.timeZone, p.interval, p.theme, market]);

  return <div ref={box} className="chart-box" role="img" aria-label={`Price chart, ${p.interval} candles`} data-fill-markers={p.markers?.length ?? 0} />;
}
