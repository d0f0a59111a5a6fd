/**
 * Backfill progress for people: on a terminal, one line redrawn in place
 * (bar, symbols done, rows, ETA); otherwise (logs, CI, pipes) a plain line
 * per finished symbol, so the output stays greppable.
 */
import type { BackfillProgress, BackfillResult } from './run-backfill.ts';

export interface ProgressOutput {
  write(s: string): unknown;
  isTTY?: boolean;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

const n = (x: number) => x.toLocaleString('en-US');

export class BackfillProgressPrinter {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
    /** Minimum ms between redraws on a terminal. */
    private readonly redrawMs = 100,
  ) {}

  update(p: BackfillProgress): void {
    if (this.out.isTTY) {
      const t = this.now();
      if (p.event === 'page' && t - this.lastDraw < this.redrawMs) return;
      this.lastDraw = t;
      const width = 24;
      const filled = p.symbolsTotal === 0 ? width : Math.round((p.symbolsDone / p.symbolsTotal) * width);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      const eta = p.etaMs === null ? '' : ` · ETA ${formatDuration(p.etaMs)}`;
      const cur = p.current && p.event === 'page' ? ` · ${p.current}` : '';
      this.out.write(`\r\x1b[2K[${bar}] ${p.symbolsDone}/${p.symbolsTotal} symbols · ${n(p.rows)} rows${cur}${eta}`);
      this.drawn = true;
      return;
    }
    if (p.event === 'page') return;
    const what = p.event === 'symbol_skipped' ? 'already complete, skipped' : `${n(p.symbolRows ?? 0)} rows`;
    const eta = p.etaMs === null ? '' : `, ETA ${formatDuration(p.etaMs)}`;
    this.out.write(`backfill: ${p.symbolsDone}/${p.symbolsTotal} symbols${p.current ? ` (${p.current}: ${what})` : ` (${what})`}, ${n(p.rows)} rows${eta}\n`);
  }

  /** A message that must not be overwritten by the bar (retries, warnings). */
  note(line: string): void {
    if (this.out.isTTY && this.drawn) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
    this.drawn = false;
  }

  finish(r: BackfillResult): void {
    if (this.out.isTTY && this.drawn) this.out.write('\n');
    const state = r.interrupted ? 'interrupted (run the same command again to resume)' : 'complete';
    this.out.write(
      `backfill ${state}: ${r.symbols} symbols (${r.skipped} already complete), ${n(r.rows)} rows received, ${n(r.stored)} new, ${r.pages} pages, ${r.malformed} malformed rows skipped\n`,
    );
  }
}
