/** Foreign net value over the day: a baseline series, green above zero (net buy), red below (net sell). */
import { useEffect, useRef } from 'react';
import { BaselineSeries, ColorType, createChart, type IChartApi, type ISeriesApi, type Time, type UTCTimestamp } from 'lightweight-charts';
import type { ForeignState } from '@stock-tracker/protocol';
import { formatCompact } from '../lib/format.ts';

const cssVar = (name: string, fallback: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/** One point per distinct second (the chart's resolution), last state wins, oldest first. */
export function netFlowPoints(history: readonly ForeignState[]): { time: UTCTimestamp; value: number }[] {
  const bySec = new Map<number, number>();
  for (const s of [...history].sort((a, b) => a.ts - b.ts)) bySec.set(Math.floor(s.ts / 1000), s.netValue);
  return [...bySec].map(([t, v]) => ({ time: t as UTCTimestamp, value: v }));
}

export function NetFlowChart({ history, timeZone, theme }: { history: readonly ForeignState[]; timeZone: string; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  const series = useRef<ISeriesApi<'Baseline'> | null>(null);
  const chart = useRef<IChartApi | null>(null);

  useEffect(() => {
    if (!box.current) return;
    const up = cssVar('--up', '#16a34a');
    const down = cssVar('--down', '#dc2626');
    const fmt = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const c = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: 'transparent' }, textColor: cssVar('--fg', '#111'), attributionLogo: false },
      grid: { vertLines: { color: cssVar('--border', '#ddd') }, horzLines: { color: cssVar('--border', '#ddd') } },
      localization: { priceFormatter: (v: number) => formatCompact(v), timeFormatter: (t: Time) => (typeof t === 'number' ? fmt.format(t * 1000) : String(t)) },
      timeScale: { timeVisible: true, tickMarkFormatter: (t: Time) => (typeof t === 'number' ? fmt.format(t * 1000) : String(t)) },
    });
    series.current = c.addSeries(BaselineSeries, {
      baseValue: { type: 'price', price: 0 },
      topLineColor: up,
      topFillColor1: up,
      topFillColor2: 'transparent',
      bottomLineColor: down,
      bottomFillColor1: 'transparent',
      bottomFillColor2: down,
    });
    chart.current = c;
    return () => {
      c.remove();
      series.current = null;
      chart.current = null;
    };
  }, [timeZone, theme]);

  useEffect(() => {
    series.current?.setData(netFlowPoints(history));
    chart.current?.timeScale().fitContent();
  }, [history, timeZone, theme]);

  return <div ref={box} className="chart-box" style={{ height: 280 }} role="img" aria-label="Foreign net value over time" />;
}
