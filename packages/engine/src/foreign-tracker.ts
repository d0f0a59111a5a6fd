/**
 * Foreign investor flows: cumulative foreign buy/sell volume and value for the
 * day, net figures and room usage per symbol, and the market-wide top net
 * buyers/sellers by net value.
 *
 * Vendors publish cumulative day figures, so the latest update replaces the
 * previous one; an update older than the symbol's latest is stale and ignored
 * (state never goes back in time). The top lists are recomputed lazily, only
 * when asked after something changed: one O(symbols × N) pass, no full sort.
 */
import type { ForeignEvent, ForeignState, ForeignTop } from '@stock-tracker/protocol';

export function foreignStateOf(ev: ForeignEvent): ForeignState {
  const { buyVolume, sellVolume, buyValue, sellValue, totalRoom, currentRoom } = ev;
  return {
    symbol: ev.symbol,
    ts: ev.ts,
    buyVolume,
    sellVolume,
    buyValue,
    sellValue,
    netVolume: buyVolume - sellVolume,
    netValue: buyValue - sellValue,
    totalRoom,
    currentRoom,
    // Room already used; a current room above the total (vendor glitch) clamps to 0%.
    roomUsagePct: totalRoom > 0 ? Math.min(100, Math.max(0, ((totalRoom - currentRoom) / totalRoom) * 100)) : null,
  };
}

/** Plain-data copy of a ForeignInvestorTracker (MarketEngine.exportSnapshot). */
export interface ForeignSnapshot {
  states: ForeignState[];
  dayStart: Array<[string, number]>;
  cached: ForeignTop | undefined;
  cachedSize: number;
  maxTs: number;
  dirty: boolean;
}

export class ForeignInvestorTracker {
  private readonly states = new Map<string, ForeignState>();
  /** Per symbol: start of the current day; older updates belong to a past day. */
  private readonly dayStart = new Map<string, number>();
  private cached: ForeignTop | undefined;
  private cachedSize = -1;
  private maxTs = 0;
  /** True when a state changed since the top lists were last computed. */
  dirty = false;

  constructor(private readonly topSize = 10) {}

  /** Apply a cumulative update; returns the new state, or undefined when stale. */
  apply(ev: ForeignEvent): ForeignState | undefined {
    const prev = this.states.get(ev.symbol);
    if (prev !== undefined ? ev.ts < prev.ts : ev.ts < (this.dayStart.get(ev.symbol) ?? -Infinity)) return undefined;
    const state = foreignStateOf(ev);
    this.states.set(ev.symbol, state);
    if (ev.ts > this.maxTs) this.maxTs = ev.ts;
    this.dirty = true;
    return state;
  }

  exportState(): ForeignSnapshot {
    return structuredClone({ states: [...this.states.values()], dayStart: [...this.dayStart], cached: this.cached, cachedSize: this.cachedSize, maxTs: this.maxTs, dirty: this.dirty });
  }

  restoreState(s: ForeignSnapshot): void {
    const c = structuredClone(s);
    this.states.clear();
    for (const f of c.states) this.states.set(f.symbol, f);
    this.dayStart.clear();
    for (const [symbol, ts] of c.dayStart) this.dayStart.set(symbol, ts);
    this.cached = c.cached;
    this.cachedSize = c.cachedSize;
    this.maxTs = c.maxTs;
    this.dirty = c.dirty;
  }

  get(symbol: string): ForeignState | undefined {
    return this.states.get(symbol);
  }

  all(): ForeignState[] {
    return [...this.states.values()];
  }

  /** Drop a symbol's day figures: a new trading day started at `ts`; updates before it are stale. */
  reset(symbol: string, ts = -Infinity): void {
    this.dayStart.set(symbol, ts);
    if (this.states.delete(symbol)) this.dirty = true;
  }

  /** Top `n` net buyers (net value > 0, largest first) and sellers (net value < 0, most negative first). */
  top(n = this.topSize): ForeignTop {
    if (this.cached !== undefined && !this.dirty && n === this.cachedSize) return this.cached;
    const buyers: ForeignState[] = [];
    const sellers: ForeignState[] = [];
    for (const s of this.states.values()) {
      if (s.netValue > 0) insertBounded(buyers, s, n, (a, b) => a.netValue > b.netValue);
      else if (s.netValue < 0) insertBounded(sellers, s, n, (a, b) => a.netValue < b.netValue);
    }
    const top: ForeignTop = { ts: this.maxTs, buyers, sellers };
    if (n === this.topSize) {
      this.cached = top;
      this.cachedSize = n;
      this.dirty = false;
    }
    return top;
  }
}

/** Insert into a list kept ordered by `before`, keeping at most `n` items (ties keep the earlier one first). */
function insertBounded<T>(list: T[], item: T, n: number, before: (a: T, b: T) => boolean): void {
  if (n <= 0) return;
  if (list.length === n && !before(item, list[n - 1]!)) return;
  let i = list.length;
  while (i > 0 && before(item, list[i - 1]!)) i--;
  list.splice(i, 0, item);
  if (list.length > n) list.pop();
}
