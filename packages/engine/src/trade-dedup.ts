/**
 * Recognizes re-sent trades per symbol and trading day: feeds replay recent
 * trades after a reconnect, and counting them twice would inflate volume.
 *
 * A re-send repeats the original event, so a duplicate is a trade with the same
 * id *and* the same ts as one already applied (an id reused with another ts is
 * taken as a new trade). Applied trades are kept as (ts, id) sorted by ts: an
 * in-order trade is appended, and a trade newer than all of them cannot be a
 * re-send, so the common case costs no lookup at all; otherwise a binary search
 * finds the trades of that instant. No hashing: a Set of every id cost a third
 * of the engine's time on the benchmark tape.
 */
export interface SymbolTrades {
  ts: number[];
  ids: string[];
}

/** First index whose ts is >= t (or > t when `after`). */
function search(ts: number[], t: number, after: boolean): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t || (after && ts[mid] === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class TradeDeduper {
  private readonly bySymbol = new Map<string, SymbolTrades>();

  /** True when a trade with this id and ts was already recorded for the symbol. */
  isDuplicate(symbol: string, id: string, ts: number): boolean {
    const s = this.bySymbol.get(symbol);
    if (s === undefined) return false;
    const n = s.ts.length;
    if (n === 0 || ts > s.ts[n - 1]!) return false;
    for (let i = search(s.ts, ts, false); i < n && s.ts[i] === ts; i++) if (s.ids[i] === id) return true;
    return false;
  }

  record(symbol: string, id: string, ts: number): void {
    let s = this.bySymbol.get(symbol);
    if (s === undefined) {
      s = { ts: [], ids: [] };
      this.bySymbol.set(symbol, s);
    }
    const n = s.ts.length;
    if (n === 0 || ts >= s.ts[n - 1]!) {
      s.ts.push(ts);
      s.ids.push(id);
    } else {
      // Late trade: keep the order (rare, so the O(n) insert is fine).
      const i = search(s.ts, ts, true);
      s.ts.splice(i, 0, ts);
      s.ids.splice(i, 0, id);
    }
  }

  /** A copy of every symbol's (ts, id) list: the day's trade ids (MarketEngine.exportSnapshot). */
  exportState(): Array<[string, SymbolTrades]> {
    return structuredClone([...this.bySymbol]);
  }

  restoreState(s: Array<[string, SymbolTrades]>): void {
    this.bySymbol.clear();
    for (const [symbol, t] of structuredClone(s)) this.bySymbol.set(symbol, t);
  }

  /** Forget a symbol's trades (new trading day: ids are unique per day only). */
  reset(symbol: string): void {
    this.bySymbol.delete(symbol);
  }
}
