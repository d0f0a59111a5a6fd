/**
 * What the market engine emits: derived events, each carrying a full piece of
 * state so that consumers (bus, storage writer, WS gateway) need no engine
 * internals.
 */
import type { SymbolRef } from './events.ts';
import type {
  AlertEvent,
  Bar,
  ClassifiedTrade,
  ForeignState,
  ForeignTop,
  IndexState,
  QuoteState,
  SessionSummary,
  TradeGap,
} from './state.ts';

export type EngineOutput =
  | { type: 'reference'; ref: SymbolRef }
  | { type: 'quote'; state: QuoteState }
  | { type: 'trade'; trade: ClassifiedTrade }
  /** A 1-minute bar: updated while open (closed=false), then once more when closed. */
  | { type: 'bar'; bar: Bar }
  /** Emitted when a session phase of a symbol ends (and for `day` at close). */
  | { type: 'session'; summary: SessionSummary }
  | { type: 'foreign'; state: ForeignState }
  | { type: 'foreign_top'; top: ForeignTop }
  | { type: 'index'; state: IndexState }
  | { type: 'alert'; alert: AlertEvent }
  /** Trades the vendor's cumulative volume says were missed (reconnect, takeover): reported, not invented. */
  | { type: 'gap'; gap: TradeGap };

export type EngineOutputType = EngineOutput['type'];
export type Emit = (out: EngineOutput) => void;
