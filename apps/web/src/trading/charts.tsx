/**
 * The Trading section's charts, drawn with lightweight-charts like the symbol
 * page: a line (equity curve, drawdown) and candles with fill markers.
 * Colours come from the theme's CSS variables (up green, down red). Times are
 * shown in the exchange's time zone.
 */
import { useEffect, useRef } from 'react';
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  LineSeries,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { formatPrice } from '../lib/format.ts';
import { toSeriesMarkers, type FillMarker } from './fill-markers.ts';

const sec = (ms: number) => (ms / 1000) as UTCTimestamp;
const cssVar = (name: string, fallback: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
function timeFmt(timeZone: string) {
  const f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
  const hm = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
  return { full: (t: Time) => (typeof t === 'number' ? f.format(t * 1000) : String(t)), tick: (t: Time) => (typeof t === 'number' ? hm.format(t * 1000) : String(t)) };
}

function baseChart(el: HTMLElement, timeZone: string, price: (v: number) => string): IChartApi {
  const fmt = timeFmt(timeZone);
  return createChart(el, {
    autoSize: true,
    layout: { background: { type: ColorType.Solid, color: 'transparent' }, textColor: cssVar('--fg', '#111'), attributionLogo: false },
    grid: { vertLines: { color: cssVar('--border', '#ddd') }, horzLines: { color: cssVar('--border', '#ddd') } },
    localization: { priceFormatter: price, timeFormatter: fmt.full },
    timeScale: { timeVisible: true, secondsVisible: false, tickMarkFormatter: fmt.tick },
  });
}

/** Drops repeated times (lightweight-charts wants strictly ascending). */
function ascending<T extends { ts: number }>(pts: readonly T[]): T[] {
  const out: T[] = [];
  for (const p of [...pts].sort((a, b) => a.ts - b.ts)) {
    if (out.length && out[out.length - 1]!.ts === p.ts) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

export function LineChart({ points, timeZone, theme, label, tone = 'accent', format }: {
  points: readonly { ts: number; value: number }[];
  timeZone: string;
  theme: string;
  label: string;
  tone?: 'accent' | 'down';
  format?: (v: number) => string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const series = useRef<ISeriesApi<'Line'> | null>(null);
  const chart = useRef<IChartApi | null>(null);
  const fmtRef = useRef(format);
  fmtRef.current = format;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const c = baseChart(el, timeZone, (v) => (fmtRef.current ? fmtRef.current(v) : formatPrice(v)));
    series.current = c.addSeries(LineSeries, { color: tone === 'down' ? cssVar('--down', '#dc2626') : cssVar('--accent', '#2563eb'), lineWidth: 2, priceLineVisible: false });
    chart.current = c;
    return () => {
      c.remove();
      series.current = null;
      chart.current = null;
    };
  }, [timeZone, theme, tone]);
  useEffect(() => {
    series.current?.setData(ascending(points).map((p) => ({ time: sec(p.ts), value: p.value })));
    chart.current?.timeScale().fitContent();
  }, [points, timeZone, theme, tone]);
  return <div ref={box} className="chart-box trading-chart" role="img" aria-label={label} data-points={points.length} />;
}

export interface Candle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

export function CandleChart({ candles, markers, timeZone, theme, market = 'VN', label }: {
  candles: readonly Candle[];
  markers: readonly FillMarker[];
  timeZone: string;
  theme: string;
  market?: 'VN' | 'US';
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const series = useRef<ISeriesApi<'Candlestick'> | null>(null);
  const plugin = useRef<ISeriesMarkersPluginApi<Time> | null>(null);
  const chart = useRef<IChartApi | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const up = cssVar('--up', '#16a34a');
    const down = cssVar('--down', '#dc2626');
    const c = baseChart(el, timeZone, (v) => formatPrice(v, market));
    const s = c.addSeries(CandlestickSeries, { upColor: up, downColor: down, borderUpColor: up, borderDownColor: down, wickUpColor: up, wickDownColor: down });
    series.current = s;
    plugin.current = createSeriesMarkers(s, []);
    chart.current = c;
    return () => {
      c.remove();
      series.current = null;
      plugin.current = null;
      chart.current = null;
    };
  }, [timeZone, theme, market]);
  useEffect(() => {
    series.current?.setData(ascending(candles).map((b) => ({ time: sec(b.ts), open: b.open, high: b.high, low: b.low, close: b.close })));
    plugin.current?.setMarkers(toSeriesMarkers(markers, market));
    chart.current?.timeScale().fitContent();
  }, [candles, markers, timeZone, theme, market]);
  return <div ref={box} className="chart-box" role="img" aria-label={label} data-markers={markers.length} />;
}

