/**
 * Recently delivered trade ids per symbol, bounded. After a reconnect vendors
 * resend recent data (snapshots, replays); a trade already delivered must not
 * reach the engine twice.
 */
export class RecentTradeIds {
  private readonly bySymbol = new Map<string, { ids: Set<string>; order: string[] }>();

  constructor(private readonly perSymbol = 5_000) {}

  /** True the first time (symbol, id) is seen; false for a repeat. */
  add(symbol: string, id: string): boolean {
    let s = this.bySymbol.get(symbol);
    if (!s) {
      s = { ids: new Set(), order: [] };
      this.bySymbol.set(symbol, s);
    }
    if (s.ids.has(id)) return false;
    s.ids.add(id);
    s.order.push(id);
    if (s.order.length > this.perSymbol) {
      // Drop the oldest half in one go: amortized O(1) per add.
      for (const old of s.order.splice(0, s.order.length - Math.floor(this.perSymbol / 2))) s.ids.delete(old);
    }
    return true;
  }
}
