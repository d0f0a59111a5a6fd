/**
 * TradingHub: many accounts (TradingCores) on one market feed. Every engine
 * output goes to every account in the plain setup, which makes the cost grow
 * with accounts × outputs; the hub keeps the latest market facts per symbol
 * once, delivers a trade/quote only to the accounts it can affect (open orders
 * or a position in that symbol, or strategies that watch ticks), closed bars
 * to accounts with a strategy on that symbol, and moves every account's clock at each new
 * minute (equity points). Accounts that were skipped get the symbol's latest
 * quote, price and foreign state synced before anything is delivered to them,
 * so decisions and fills are the same as with full delivery (tested).
 */
import type { Bar, ClassifiedTrade, EngineOutput, ForeignState, QuoteState, TradingEvent } from '@stock-tracker/protocol';
import type { TradingCore } from './core.ts';

const MINUTE = 60_000;

interface Facts {
  quote: QuoteState | undefined;
  last: number | undefined;
  foreign: ForeignState | undefined;
}

export class TradingHub {
  private readonly facts = new Map<string, Facts>();
  private minute = -Infinity;
  private lastTrade: ClassifiedTrade | null = null;

  constructor(
    readonly cores: TradingCore[],
    private readonly sink: (core: TradingCore, events: TradingEvent[]) => void,
  ) {}

  onMarket(o: EngineOutput): void {
    switch (o.type) {
      case 'trade': {
        const t = o.trade;
        this.time(t.ts);
        this.lastTrade = t;
        this.deliver(t.symbol, o, false);
        // Facts change after delivery: a core is synced to the state before the output it then processes.
        this.fact(t.symbol).last = t.price;
        return;
      }
      case 'quote': {
        const q = o.state;
        this.lastTrade = null;
        this.time(q.ts);
        const f = this.fact(q.symbol);
        const prev = f.quote;
        // Phase and trading-date changes reach everyone (order expiry, account day).
        const wide = prev === undefined || prev.phase !== q.phase || prev.tradingDate !== q.tradingDate || prev.halted !== q.halted;
        this.deliver(q.symbol, o, wide);
        f.quote = q;
        return;
      }
      case 'bar': {
        const b = o.bar;
        const late = this.lastTrade !== null && this.lastTrade.symbol === b.symbol && Math.floor(this.lastTrade.ts / MINUTE) * MINUTE === b.ts;
        this.lastTrade = null;
        if (!b.closed || late || b.interval !== '1m') return;
        this.time(b.ts + MINUTE);
        this.closedBar(b);
        return;
      }
      case 'foreign': {
        this.lastTrade = null;
        this.time(o.state.ts);
        for (const c of this.cores) if (c.wantsForeign()) this.send(c, o.state.symbol, c.onMarket(o));
        this.fact(o.state.symbol).foreign = o.state;
        return;
      }
      case 'reference':
        this.lastTrade = null;
        for (const c of this.cores) this.send(c, null, c.onMarket(o));
        return;
      default:
        this.lastTrade = null;
    }
  }

  private closedBar(b: Bar): void {
    for (const c of this.cores) {
      if (!c.strategiesTrade(b.symbol)) continue;
      this.sync(c, b.symbol);
      this.send(c, null, c.onClosedBar(b));
    }
  }

  private deliver(symbol: string, o: EngineOutput, everyone: boolean): void {
    for (const c of this.cores) {
      if (!everyone && !c.wants(symbol)) continue;
      // Sync before wants() can change: a core that starts caring gets the facts first.
      this.sync(c, symbol);
      this.send(c, null, c.onMarket(o));
    }
  }

  private sync(c: TradingCore, symbol: string): void {
    const f = this.facts.get(symbol);
    if (f !== undefined) c.syncMarket(symbol, f.quote, f.last, f.foreign);
  }

  private time(ts: number): void {
    const m = Math.floor(ts / MINUTE) * MINUTE;
    if (!(m > this.minute)) return;
    this.minute = m;
    for (const c of this.cores) this.send(c, null, c.onTime(ts));
  }

  private send(c: TradingCore, _symbol: string | null, evs: TradingEvent[]): void {
    if (evs.length > 0) this.sink(c, evs);
  }

  private fact(symbol: string): Facts {
    let f = this.facts.get(symbol);
    if (f === undefined) {
      f = { quote: undefined, last: undefined, foreign: undefined };
      this.facts.set(symbol, f);
    }
    return f;
  }
}
