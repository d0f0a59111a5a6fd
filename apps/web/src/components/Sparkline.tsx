/** A tiny SVG line of the session's values, with the previous close as a dashed baseline. */
import type { SparkPoint } from '../store/index-store.ts';

export interface SparklineProps {
  points: readonly SparkPoint[];
  baseline?: number;
  width?: number;
  height?: number;
  label: string;
  tone?: string;
}

/** SVG path of points scaled into the box (y grows downward); '' for fewer than 2 points. */
export function sparkPath(points: readonly SparkPoint[], width: number, height: number, baseline?: number): string {
  if (points.length < 2) return '';
  const t0 = points[0]!.ts;
  const t1 = points[points.length - 1]!.ts;
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    if (p.value < lo) lo = p.value;
    if (p.value > hi) hi = p.value;
  }
  if (baseline !== undefined && Number.isFinite(baseline)) {
    lo = Math.min(lo, baseline);
    hi = Math.max(hi, baseline);
  }
  const span = hi - lo || 1;
  const dt = t1 - t0 || 1;
  const pad = 1;
  const x = (ts: number) => pad + ((ts - t0) / dt) * (width - 2 * pad);
  const y = (v: number) => pad + (1 - (v - lo) / span) * (height - 2 * pad);
  return points.map((p, i) => `${i ? 'L' : 'M'}${x(p.ts).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
}

export function Sparkline({ points, baseline, width = 84, height = 26, label, tone = '' }: SparklineProps) {
  const d = sparkPath(points, width, height, baseline);
  let baseY: number | null = null;
  if (d && baseline !== undefined) {
    const vals = points.map((p) => p.value).concat(baseline);
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    baseY = 1 + (1 - (baseline - lo) / (hi - lo || 1)) * (height - 2);
  }
  return (
    <svg className={`spark ${tone}`} width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      {baseY !== null && <line x1={0} x2={width} y1={baseY} y2={baseY} className="spark-base" />}
      {d && <path d={d} className="spark-line" fill="none" />}
    </svg>
  );
}
