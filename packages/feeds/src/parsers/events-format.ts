/**
 * The normalized tape format: one MarketEvent JSON object per line, checked
 * against the protocol schema. Checkers are compiled once at module load: a
 * compiled TypeBox check is much faster than Value.Check, and a tape can hold
 * millions of lines.
 */
import {
  BarEvent,
  ForeignEvent,
  IndexEvent,
  MarketEvent,
  QuoteEvent,
  ReferenceEvent,
  StatusEvent,
  TradeEvent,
} from '@stock-tracker/protocol';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { JsonObject } from './fields.ts';
import { fail } from './line-error.ts';

export const marketEventChecker = TypeCompiler.Compile(MarketEvent);

// Union errors only say "expected union": check the member `type` names to point at the bad field.
const MEMBERS: Record<string, ReturnType<typeof TypeCompiler.Compile>> = {
  trade: TypeCompiler.Compile(TradeEvent),
  quote: TypeCompiler.Compile(QuoteEvent),
  foreign: TypeCompiler.Compile(ForeignEvent),
  index: TypeCompiler.Compile(IndexEvent),
  status: TypeCompiler.Compile(StatusEvent),
  bar: TypeCompiler.Compile(BarEvent),
  reference: TypeCompiler.Compile(ReferenceEvent),
};

/** Largest |epoch ms| a JavaScript Date accepts. */
export const MAX_TS = 8.64e15;

/** True when a parsed JSON object looks like a normalized event (for auto-detection). */
export const looksLikeEvent = (obj: JsonObject) => typeof obj['type'] === 'string';

/** The first schema violation as `path: message`. */
export function schemaError(value: unknown): string {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const member = typeof type === 'string' ? MEMBERS[type] : undefined;
  if (!member) return `unknown event type ${JSON.stringify(type)?.slice(0, 30)}`;
  const e = member.Errors(value).First();
  return e ? `${e.path || '/'}: ${e.message}` : 'does not match the schema';
}

/** Validate one event (read from a tape or built by a vendor parser). */
export function checkEvent(value: unknown): MarketEvent {
  if (!marketEventChecker.Check(value)) return fail('invalid_event', schemaError(value));
  // The schema takes any number; time-zone arithmetic downstream needs an instant a Date can hold.
  if (!(Math.abs(value.ts) <= MAX_TS)) fail('invalid_event', `/ts: ${value.ts} is not a valid instant`);
  // The schema leaves book levels unbounded; a negative size or a non-positive price is still nonsense.
  if (value.type === 'quote') {
    for (const [side, levels] of [['bids', value.bids], ['asks', value.asks]] as const) {
      levels.forEach((l, i) => {
        if (!(l.price > 0) || l.volume < 0) fail('invalid_event', `/${side}/${i}: price must be > 0 and volume >= 0`);
      });
    }
  }
  return value;
}
