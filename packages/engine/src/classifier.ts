/**
 * Trade classification: active buy / active sell / unknown for each trade.
 *
 * Order of precedence:
 * 1. the vendor's aggressor flag ('buy'/'sell'; a vendor 'unknown' means "not told")
 *    unless `useVendorSide: false` (used to measure Lee–Ready against vendor truth);
 * 2. auction phases (ATO/ATC/PLO) are unclassified: everybody matches at one price;
 * 3. Lee–Ready: quote rule against the prevailing bid/ask midpoint;
 * 4. tick test when the trade is at the midpoint or there is no valid quote
 *    (empty side, locked or crossed book): uptick / zero-uptick → buy,
 *    downtick / zero-downtick → sell; nothing to compare with → unknown ('none').
 *
 * The tick test follows arrival order (a late trade is compared with the trade
 * applied before it): the engine has no better prior price for it.
 */
import type { ClassifiedTrade, SessionPhase, Side, SideSource, TradeEvent } from '@stock-tracker/protocol';
import { isAuctionPhase } from '@stock-tracker/rules';

export interface ClassifierOptions {
  /** Trust the vendor's aggressor flag when present. Default true. */
  useVendorSide?: boolean;
}

/** Per-symbol memory for the tick test. */
export interface TickState {
  /** Price of the previous trade; NaN before the first. */
  last: number;
  /** Sign of the last non-zero price change: +1 up, -1 down, 0 none yet. */
  dir: number;
}

export interface SideDecision {
  side: Side;
  source: SideSource;
}

const BUY_QUOTE: SideDecision = { side: 'buy', source: 'quote' };
const SELL_QUOTE: SideDecision = { side: 'sell', source: 'quote' };
const BUY_TICK: SideDecision = { side: 'buy', source: 'tick' };
const SELL_TICK: SideDecision = { side: 'sell', source: 'tick' };
const UNKNOWN_NONE: SideDecision = { side: 'unknown', source: 'none' };

/**
 * Lee–Ready for one trade. `prevPrice` is the previous trade's price (NaN if
 * none), `prevDir` the sign of the last non-zero price change (0 if none).
 * A quote counts only when both sides are positive and bid < ask.
 */
export function leeReady(price: number, bid: number, ask: number, prevPrice: number, prevDir: number): SideDecision {
  if (bid > 0 && ask > bid) {
    const mid = (bid + ask) / 2;
    if (price > mid) return BUY_QUOTE;
    if (price < mid) return SELL_QUOTE;
  }
  return tickTest(price, prevPrice, prevDir);
}

/** Tick test: compare with the previous trade, and with the last different price on a zero tick. */
export function tickTest(price: number, prevPrice: number, prevDir: number): SideDecision {
  if (price > prevPrice) return BUY_TICK;
  if (price < prevPrice) return SELL_TICK;
  // Zero tick (or no previous trade: comparisons with NaN are false).
  if (prevDir > 0) return BUY_TICK;
  if (prevDir < 0) return SELL_TICK;
  return UNKNOWN_NONE;
}

export class TradeClassifier {
  private readonly useVendorSide: boolean;
  private readonly ticks = new Map<string, TickState>();

  constructor(opts: ClassifierOptions = {}) {
    this.useVendorSide = opts.useVendorSide ?? true;
  }

  /**
   * Classify one trade. `bid`/`ask` are the prevailing best prices (NaN or 0
   * when absent); `phase` is the phase the trade belongs to.
   */
  classify(ev: TradeEvent, phase: SessionPhase, bid: number, ask: number): ClassifiedTrade {
    let t = this.ticks.get(ev.symbol);
    if (t === undefined) {
      t = { last: NaN, dir: 0 };
      this.ticks.set(ev.symbol, t);
    }
    const price = ev.price;
    let side: Side;
    let source: SideSource;
    const vendor = ev.side;
    if (this.useVendorSide && (vendor === 'buy' || vendor === 'sell')) {
      side = vendor;
      source = 'vendor';
    } else if (isAuctionPhase(phase)) {
      side = 'unknown';
      source = 'auction';
    } else {
      const d = leeReady(price, bid, ask, t.last, t.dir);
      side = d.side;
      source = d.source;
    }
    // Every trade (vendor-flagged and auction ones too) is part of the price path.
    if (price !== t.last) {
      if (!Number.isNaN(t.last)) t.dir = price > t.last ? 1 : -1;
      t.last = price;
    }
    return { id: ev.id, symbol: ev.symbol, ts: ev.ts, price, volume: ev.volume, side, sideSource: source, phase };
  }

  /** A copy of every symbol's price path (MarketEngine.exportSnapshot). */
  exportState(): Array<[string, TickState]> {
    return structuredClone([...this.ticks]);
  }

  restoreState(s: Array<[string, TickState]>): void {
    this.ticks.clear();
    for (const [symbol, t] of structuredClone(s)) this.ticks.set(symbol, t);
  }

  /** Forget the price path of one symbol (new trading day) or of all. */
  reset(symbol?: string): void {
    if (symbol === undefined) this.ticks.clear();
    else this.ticks.delete(symbol);
  }
}
