/**
 * A realistic quote stream for fan-out benchmarks: the seeded market
 * simulator run through the real engine, keeping the `quote` outputs (one
 * price-board row per message, as the gateway publishes them on /ws/market).
 * Deterministic, so every server variant in a run sends the same payloads.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';

const START = Date.UTC(2024, 0, 2, 0, 0);

export interface RecordedQuotes {
  /** Quote states in publish order, taken from the continuous session. */
  quotes: QuoteState[];
  /** Distinct symbols among them. */
  symbols: string[];
}

export function recordQuotes(count: number, seed = 7): RecordedQuotes {
  const sim = new Simulator({ seed, startTs: START });
  const engine = new MarketEngine();
  const quotes: QuoteState[] = [];
  const emit = (o: { type: string; state?: unknown }) => {
    // Only the continuous session: the auctions' pre-open states are unusually small rows.
    if (o.type === 'quote' && (o.state as QuoteState).phase === 'continuous') quotes.push(o.state as QuoteState);
  };
  // Compressed trading days loop every `dayMs`; two days is far more than any bench needs.
  const end = START + 2 * sim.dayMs;
  for (let t = START; quotes.length < count && t < end; ) {
    t += 1_000;
    sim.advanceTo(t, (ev) => void engine.apply(ev, emit));
  }
  if (quotes.length === 0) throw new Error('the simulator produced no continuous-session quotes');
  while (quotes.length < count) quotes.push(...quotes.slice(0, count - quotes.length));
  quotes.length = count;
  return { quotes, symbols: [...new Set(quotes.map((q) => q.symbol))] };
}
