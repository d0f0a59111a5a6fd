/**
 * Recognizes re-sent trades (same id, per symbol and trading day): feeds replay
 * recent trades after a reconnect, and counting them twice would inflate volume.
 *
 * A re-send repeats the original event, so it is never newer than the latest
 * trade already applied for its symbol. Trades newer than that cannot be
 * re-sends and skip the lookup: their ids are only appended to a list, and
 * hashed into the set lazily, the first time an older-or-equal trade needs
 * checking. An in-order stream therefore pays no hashing at all (hashing every
 * id was a third of the engine's time on the benchmark tape). Consequence: an
 * id reused with a newer timestamp counts as a new trade.
 */
interface SymbolIds {
  ids: string[];
  set: Set<string>;
  /** ids[0..indexed) are in `set`. */
  indexed: number;
  maxTs: number;
}

export class TradeDeduper {
  private readonly bySymbol = new Map<string, SymbolIds>();

  /** True when this trade was already recorded (a re-send). Does not record it. */
  isDuplicate(symbol: string, id: string, ts: number): boolean {
    const s = this.bySymbol.get(symbol);
    if (s === undefined || ts > s.maxTs) return false;
    while (s.indexed < s.ids.length) s.set.add(s.ids[s.indexed++]!);
    return s.set.has(id);
  }

  record(symbol: string, id: string, ts: number): void {
    let s = this.bySymbol.get(symbol);
    if (s === undefined) {
      s = { ids: [], set: new Set(), indexed: 0, maxTs: -Infinity };
      this.bySymbol.set(symbol, s);
    }
    s.ids.push(id);
    if (ts > s.maxTs) s.maxTs = ts;
  }

  /** Forget a symbol's ids (new trading day: ids are unique per day only). */
  reset(symbol: string): void {
    this.bySymbol.delete(symbol);
  }
}
