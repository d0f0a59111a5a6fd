/**
 * Cell flashes of the price board: a changed cell is tinted (green up, red
 * down, blue otherwise) for FLASH_MS, then the tint is removed.
 *
 * Deliberately not a CSS animation: measured on the board benchmark (400
 * symbols, 2,000 updates/s), a fading animation per changed cell costs a
 * paint of every animating cell on every frame (background-color), or one
 * compositor layer per animating cell (opacity), which made each frame cost
 * hundreds of ms either way; it also fires animationstart/animationend events
 * that React's root listener handles. A class on, then off, costs two
 * restyles and repaints of one cell and nothing in between. All cells due to
 * go dark are cleared in one timer callback.
 */
import type { CellView } from './columns.ts';

export type FlashDir = 'up' | 'down' | 'chg';
export const FLASH_MS = 600;
/** Cells due within this much of a sweep are cleared by it too, so sweeps batch. */
const SWEEP_SLACK_MS = 40;
export const FLASH_CLASS: Record<FlashDir, string> = { up: 'flash-up', down: 'flash-down', chg: 'flash-chg' };
const ALL = Object.values(FLASH_CLASS);

/** How a cell changed between two renders; null when it should not flash (same text, or now empty). */
export function flashDirection(prev: CellView | undefined, next: CellView): FlashDir | null {
  if (!prev || prev.text === next.text || !next.text) return null;
  if (prev.num !== null && next.num !== null && next.num !== prev.num) return next.num > prev.num ? 'up' : 'down';
  return 'chg';
}

/** Only touch the class list when it changes: every write restyles the element. */
function setFlashClass(el: Element, cls: string | null): void {
  const list = el.classList;
  for (const c of ALL) if (c !== cls && list.contains(c)) list.remove(c);
  if (cls && !list.contains(cls)) list.add(cls);
}

export interface FlashClock {
  now: () => number;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
}

const browserClock: FlashClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

export class FlashSweeper {
  /** Lit cells and when they go dark. Insertion order is expiry order: every flash lasts FLASH_MS. */
  private readonly lit = new Map<Element, number>();
  private timer: unknown = null;
  private timerAt = Infinity;

  constructor(
    private readonly clock: FlashClock = browserClock,
    private readonly ms = FLASH_MS,
  ) {}

  /** Tints `el` for the flash duration; a new change while lit restarts the duration (and may switch colour). */
  flash(el: Element, dir: FlashDir): void {
    setFlashClass(el, FLASH_CLASS[dir]);
    this.lit.delete(el); // re-insert at the end to keep expiry order
    this.lit.set(el, this.clock.now() + this.ms);
    this.schedule();
  }

  /** Cells lit right now (tests, leak checks). */
  get size(): number {
    return this.lit.size;
  }

  /** Clears every cell whose time is up. */
  sweep(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const limit = this.clock.now() + SWEEP_SLACK_MS;
    for (const [el, until] of this.lit) {
      if (until > limit) break;
      this.lit.delete(el);
      // A row that scrolled out is detached: clearing it is harmless and drops the reference.
      setFlashClass(el, null);
    }
    this.schedule();
  }

  private schedule(): void {
    const first = this.lit.values().next();
    if (first.done) return;
    if (this.timer !== null && this.timerAt <= first.value) return;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timerAt = first.value;
    this.timer = this.clock.setTimer(() => this.sweep(), Math.max(0, first.value - this.clock.now()));
  }
}

/** The board's sweeper (one for the page). */
export const boardFlash = new FlashSweeper();
