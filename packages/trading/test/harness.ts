/** Test harness: a MarketEngine feeding one TradingCore, with event builders for a HOSE and a US symbol. */
import { MarketEngine } from '@stock-tracker/engine';
import type { MarketEvent, OrderRequest, QuoteEvent, SymbolRef, TradeEvent, TradingEvent, SessionPhase, Level } from '@stock-tracker/protocol';
import { TradingCore, type TradingCoreOptions, type SubmitMeta } from '../src/index.ts';

/** 2024-01-02 (a Tuesday) 09:30 in Ho Chi Minh City. */
export const T0 = Date.UTC(2024, 0, 2, 2, 30);
export const DAY = 86_400_000;

export const vnRef = (symbol = 'FPT', tradingDate = '2024-01-02', reference = 100_000): SymbolRef => ({
  symbol,
  exchange: 'HOSE',
  market: 'VN',
  tradingDate,
  reference,
  ceiling: Math.floor((reference * 1.07) / 100) * 100,
  floor: Math.ceil((reference * 0.93) / 100) * 100,
  lotSize: 100,
  indices: [],
  sharesOutstanding: 1e9,
});

export const usRef = (symbol = 'AAPL', tradingDate = '2024-01-02', reference = 100): SymbolRef => ({
  symbol,
  exchange: 'NASDAQ',
  market: 'US',
  tradingDate,
  reference,
  ceiling: null,
  floor: null,
  lotSize: 1,
  indices: [],
  sharesOutstanding: 1e9,
});

export class Harness {
  readonly engine = new MarketEngine();
  readonly core: TradingCore;
  readonly events: TradingEvent[] = [];
  /** A second core (e.g. restored from a snapshot) that gets the same outputs and calls; its events go to `twinEvents`, the main core's since the twin started to `mainSince`. */
  twin: TradingCore | null = null;
  readonly twinEvents: TradingEvent[] = [];
  readonly mainSince: TradingEvent[] = [];
  private n = 0;
  ts: number;

  constructor(opts: Partial<TradingCoreOptions> = {}, ts = T0) {
    this.core = new TradingCore({ accountId: 'acc', cash: 1_000_000_000, fees: { VN: NO_FEES, US: NO_FEES }, ...opts });
    this.ts = ts;
  }

  apply(ev: MarketEvent): TradingEvent[] {
    const got: TradingEvent[] = [];
    const ok = this.engine.apply(ev, (out) => {
      got.push(...this.core.onMarket(out));
      if (this.twin) this.twinEvents.push(...this.twin.onMarket(out));
    });
    if (!ok) throw new Error(`engine rejected ${JSON.stringify(ev)}`);
    this.record(got);
    return got;
  }

  private record(evs: TradingEvent[]): void {
    this.events.push(...evs);
    if (this.twin) this.mainSince.push(...evs);
  }

  /** Runs the same call on the core and the twin; returns the core's result. */
  both<R extends { events: TradingEvent[] } | TradingEvent[]>(fn: (c: TradingCore) => R): R {
    const r = fn(this.core);
    this.record(Array.isArray(r) ? r : r.events);
    if (this.twin) {
      const t = fn(this.twin);
      this.twinEvents.push(...(Array.isArray(t) ? t : t.events));
    }
    return r;
  }

  ref(ref: SymbolRef, ts = this.ts): TradingEvent[] {
    return this.apply({ type: 'reference', ts, ref });
  }

  status(phase: SessionPhase, exchange = 'HOSE', ts = this.ts): TradingEvent[] {
    return this.apply({ type: 'status', ts, exchange, phase, halted: false });
  }

  quote(symbol: string, bids: Level[], asks: Level[], ts = this.ts): TradingEvent[] {
    const q: QuoteEvent = { type: 'quote', ts, symbol, bids, asks };
    return this.apply(q);
  }

  trade(symbol: string, price: number, volume: number, ts = this.ts, phase?: SessionPhase): TradingEvent[] {
    const t: TradeEvent = { type: 'trade', ts, symbol, id: `t${++this.n}`, price, volume, ...(phase ? { phase } : {}) };
    return this.apply(t);
  }

  submit(req: OrderRequest, meta: SubmitMeta = {}) {
    return this.both((c) => c.submit(req, meta));
  }

  fills(events: TradingEvent[] = this.events) {
    return events.flatMap((e) => (e.type === 'fill' ? [e.fill] : []));
  }
}

export const NO_FEES = { rate: 0, minFee: 0, perShare: 0, sellTaxRate: 0, sellPerShare: 0, sellPerShareMax: null };

/** A HOSE session in continuous trading for FPT (reference 100,000: band 93,000..107,000, tick 100). */
export function vnSession(opts: Partial<TradingCoreOptions> = {}): Harness {
  const h = new Harness(opts);
  h.ref(vnRef());
  h.status('continuous');
  return h;
}
