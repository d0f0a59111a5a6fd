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
import { type TradingCore, interest as sharedInterest } from './core.ts';

/** Captured once: a plain property read per delivery instead of the export getter. */
const interest = sharedInterest;

const MINUTE = 60_000;

interface Facts {
  quote: QuoteState | undefined;
  last: number | undefined;
  foreign: ForeignState | undefined;
  /** Indexes (into `known`) of the accounts whose wants(symbol) / strategiesTrade(symbol) held at generation `gen`. */
  gen: number;
  ticks: number[];
  bars: number[];
}

export class TradingHub {
  private readonly facts = new Map<string, Facts>();
  private minute = -Infinity;
  private lastTrade: ClassifiedTrade | null = null;
  /** The cores the per-symbol lists index; `cores` is public and the server's runner pushes/splices it directly. */
  private known: TradingCore[] = [];
  /** Bumped when `cores` changed, so every symbol's lists are rebuilt. */
  private membership = 0;
  private listsOf = -1;

  constructor(
    readonly cores: TradingCore[],
    private readonly sink: (core: TradingCore, events: TradingEvent[]) => void,
  ) {}

  onMarket(o: EngineOutput): void {
    this.checkMembership();
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
    const f = this.lists(b.symbol);
    const list = f.bars;
    const cores = this.known;
    for (let i = 0; i < list.length; i++) {
      const c = cores[list[i]!]!;
      this.sync(c, b.symbol);
      this.send(c, null, c.onClosedBar(b));
    }
  }

  private deliver(symbol: string, o: EngineOutput, everyone: boolean): void {
    const cores = this.known;
    if (everyone) {
      for (let i = 0; i < cores.length; i++) {
        const c = cores[i]!;
        this.sync(c, symbol);
        this.send(c, null, c.onMarket(o));
      }
      return;
    }
    const list = this.lists(symbol).ticks;
    for (let k = 0; k < list.length; k++) {
      const i = list[k]!;
      const c = cores[i]!;
      // Sync before wants() can change: a core that starts caring gets the facts first.
      this.sync(c, symbol);
      const gen = interest.gen;
      this.send(c, null, c.onMarket(o));
      if (interest.gen !== gen) {
        // Interest moved while delivering (a fill, or the sink acting on another account): ask the remaining
        // accounts directly, exactly as without the cached list.
        for (let j = i + 1; j < cores.length; j++) {
          const d = cores[j]!;
          if (!d.wants(symbol)) continue;
          this.sync(d, symbol);
          this.send(d, null, d.onMarket(o));
        }
        return;
      }
    }
  }

  /** Per-symbol lists of interested accounts, rebuilt only when some account's interest or the membership changed. */
  private lists(symbol: string): Facts {
    const f = this.fact(symbol);
    const gen = interest.gen;
    if (f.gen !== gen || this.listsOf !== this.membership) {
      if (this.listsOf !== this.membership) {
        // Membership changed: every symbol's lists are stale; they are rebuilt lazily as their outputs come.
        for (const g of this.facts.values()) g.gen = -1;
        this.listsOf = this.membership;
      }
      const ticks: number[] = [];
      const bars: number[] = [];
      const cores = this.known;
      for (let i = 0; i < cores.length; i++) {
        if (cores[i]!.wants(symbol)) ticks.push(i);
        if (cores[i]!.strategiesTrade(symbol)) bars.push(i);
      }
      f.ticks = ticks;
      f.bars = bars;
      f.gen = gen;
    }
    return f;
  }

  /** `cores` may have been pushed to or spliced since the last output (pointer compare: no Map lookups). */
  private checkMembership(): void {
    const cores = this.cores;
    const known = this.known;
    let same = cores.length === known.length;
    for (let i = 0; same && i < cores.length; i++) same = cores[i] === known[i];
    if (same) return;
    this.known = cores.slice();
    this.membership++;
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
      f = { quote: undefined, last: undefined, foreign: undefined, gen: -1, ticks: [], bars: [] };
      this.facts.set(symbol, f);
    }
    return f;
  }
}
