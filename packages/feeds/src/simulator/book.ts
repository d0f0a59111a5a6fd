/**
 * A limit order book on a price ladder: every on-grid price between the day's
 * floor and ceiling, precomputed once per day, so moving the book or walking
 * levels is index arithmetic (prices stay on the tick grid by construction).
 *
 * Bids rest at ladder indices <= bestBid, asks at >= bestAsk, nothing in
 * between, so the book can never be crossed. `vol[i]` is the resting volume at
 * price i on whichever side owns it; 0 means "not known yet": the level gets a
 * fresh volume the first time it is shown.
 */
import type { Level } from '@stock-tracker/protocol';
import { stepPrice, type ExchangeRules } from '@stock-tracker/rules';

export type FreshVolume = (distanceFromBest: number, atLimit: boolean) => number;

/** All on-grid prices from floor to ceiling, ascending. */
export function priceLadder(rules: ExchangeRules, floor: number, ceiling: number): number[] {
  const out: number[] = [];
  for (let p = floor; p <= ceiling; p = stepPrice(rules, p, 1)) out.push(p);
  return out;
}

export interface Fill {
  price: number;
  volume: number;
}

export class LadderBook {
  readonly ladder: readonly number[];
  private readonly vol: Float64Array;
  private readonly n: number;
  private bid = -1;
  private ask: number;

  constructor(
    ladder: readonly number[],
    private readonly depth: number,
    private readonly fresh: FreshVolume,
  ) {
    this.ladder = ladder;
    this.n = ladder.length;
    this.vol = new Float64Array(this.n);
    this.ask = this.n;
  }

  get bestBid(): number {
    return this.bid;
  }
  get bestAsk(): number {
    return this.ask;
  }
  get size(): number {
    return this.n;
  }
  hasBids(): boolean {
    return this.bid >= 0;
  }
  hasAsks(): boolean {
    return this.ask < this.n;
  }

  /** Fractional ladder position of a price: -1 below the floor, n-1 at or above the ceiling. */
  position(price: number): number {
    const l = this.ladder;
    if (price < l[0]!) return -1;
    if (price >= l[this.n - 1]!) return this.n - 1;
    let lo = 0;
    let hi = this.n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (l[mid]! <= price) lo = mid;
      else hi = mid;
    }
    return lo + (price - l[lo]!) / (l[hi]! - l[lo]!);
  }

  /** Midpoint position; a one-sided (locked limit) book sits half a tick outside its only side. */
  mid(): number {
    if (!this.hasAsks()) return this.bid + 0.5;
    if (!this.hasBids()) return this.ask - 0.5;
    return (this.bid + this.ask) / 2;
  }

  /**
   * Centres the book on a fair position with the given spread in ticks. At or
   * beyond a limit the book locks: all bids at the ceiling and no asks (or the
   * mirror at the floor), as on a Vietnamese board at limit-up/limit-down.
   */
  centre(pos: number, spread: number): void {
    let bid: number;
    let ask: number;
    if (pos >= this.n - 1) [bid, ask] = [this.n - 1, this.n];
    else if (pos < 0) [bid, ask] = [-1, 0];
    else {
      bid = Math.floor(pos);
      ask = Math.min(bid + Math.max(1, spread), this.n - 1);
    }
    this.move(bid, ask);
  }

  private move(bid: number, ask: number): void {
    const v = this.vol;
    // Levels that change side, or fall into the spread, lose their volume.
    for (let i = Math.max(0, bid + 1); i < Math.min(ask, this.n); i++) v[i] = 0;
    for (let i = Math.max(0, ask); i < Math.min(this.ask, this.n); i++) v[i] = 0;
    for (let i = Math.max(0, this.bid + 1); i <= Math.min(bid, this.n - 1); i++) v[i] = 0;
    this.bid = bid;
    this.ask = ask;
  }

  /** Levels the board shows, best first. */
  bids(): Level[] {
    const out: Level[] = [];
    for (let j = 0; j < this.depth; j++) {
      const i = this.bid - j;
      if (i < 0) break;
      out.push({ price: this.ladder[i]!, volume: this.volumeAt(i, j) });
    }
    return out;
  }

  asks(): Level[] {
    const out: Level[] = [];
    for (let j = 0; j < this.depth; j++) {
      const i = this.ask + j;
      if (i >= this.n) break;
      out.push({ price: this.ladder[i]!, volume: this.volumeAt(i, j) });
    }
    return out;
  }

  private volumeAt(i: number, distance: number): number {
    if (this.vol[i]! <= 0) this.vol[i] = this.fresh(distance, (i === this.n - 1 && i <= this.bid) || (i === 0 && i >= this.ask));
    return this.vol[i]!;
  }

  /** Number of levels shown on one side. */
  shown(side: 'bid' | 'ask'): number {
    return side === 'bid' ? Math.min(this.depth, this.bid + 1) : Math.min(this.depth, this.n - this.ask);
  }

  /** Adds (or cancels, when negative) volume at the j-th shown level; a level keeps at least `minimum`. */
  adjust(side: 'bid' | 'ask', j: number, delta: number, minimum: number): void {
    const i = side === 'bid' ? this.bid - j : this.ask + j;
    if (i < 0 || i >= this.n) return;
    this.vol[i] = Math.max(minimum, this.volumeAt(i, j) + delta);
  }

  /**
   * An aggressive order of `volume` shares: a buy lifts asks from the best up,
   * a sell hits bids from the best down, over at most `maxLevels` levels (what
   * the board showed). One fill per price level; what is left is cancelled.
   */
  take(side: 'buy' | 'sell', volume: number, maxLevels: number): Fill[] {
    const fills: Fill[] = [];
    let left = volume;
    for (let k = 0; k < maxLevels && left > 0; k++) {
      const i = side === 'buy' ? this.ask : this.bid;
      if (i < 0 || i >= this.n) break;
      const avail = this.volumeAt(i, 0);
      const q = Math.min(left, avail);
      fills.push({ price: this.ladder[i]!, volume: q });
      left -= q;
      this.vol[i] = avail - q;
      if (this.vol[i]! > 0) break;
      if (side === 'buy') this.ask++;
      else this.bid--;
    }
    return fills;
  }
}
