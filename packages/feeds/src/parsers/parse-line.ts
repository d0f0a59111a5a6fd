/**
 * One tape line -> normalized events, in any supported format. Detection is
 * per line (a tape may mix formats) and costs nothing extra: the line is
 * decoded once and its shape tells the format. Never throws: every problem
 * becomes `error` with a kind, so one bad line cannot stop a feed.
 */
import type { MarketEvent } from '@stock-tracker/protocol';
import { isObject, type Json } from './fields.ts';
import { checkEvent, looksLikeEvent } from './events-format.ts';
import { looksLikeSsi, parseSsiObject } from './ssi.ts';
import { looksLikeAlpaca, parseAlpacaFrame } from './alpaca.ts';
import { LineError } from './line-error.ts';
import { MAX_LINE_CHARS, type FormatOption, type ParseContext, type ParseResult, type TapeFormat } from './types.ts';

/** Which format a decoded line is, or undefined when none fits. */
export function detectFormat(value: Json): TapeFormat | undefined {
  if (Array.isArray(value)) return looksLikeAlpaca(value) ? 'alpaca' : undefined;
  if (!isObject(value)) return undefined;
  if (looksLikeEvent(value)) return 'events';
  if (looksLikeSsi(value)) return 'ssi';
  if (looksLikeAlpaca(value)) return 'alpaca';
  return undefined;
}

export function parseLine(line: string, format: FormatOption, ctx: ParseContext): ParseResult {
  const text = line.trim();
  // Blank lines separate nothing in these formats; they are not data and not errors.
  if (text === '') return { events: [] };
  if (text.length > MAX_LINE_CHARS) {
    return { events: [], error: { kind: 'line_too_long', message: `line has ${text.length} characters (max ${MAX_LINE_CHARS})` } };
  }
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch {
    return { events: [], error: { kind: 'not_json', message: `not JSON: ${preview(text)}` } };
  }
  const detected = detectFormat(value);
  if (detected === undefined || (format !== 'auto' && detected !== format)) {
    const expected = format === 'auto' ? 'a known format' : `format '${format}'`;
    return {
      events: [],
      ...(detected ? { format: detected } : {}),
      error: { kind: 'unknown_format', message: `not ${expected}: ${preview(text)}` },
    };
  }
  try {
    switch (detected) {
      case 'events':
        return { events: [checkEvent(value)], format: detected };
      case 'ssi':
        return { events: validated(parseSsiObject(value as Parameters<typeof parseSsiObject>[0], ctx)), format: detected };
      case 'alpaca': {
        const r = parseAlpacaFrame(value);
        return r.error ? { events: r.events, format: detected, error: r.error } : { events: r.events, format: detected };
      }
    }
  } catch (e) {
    if (e instanceof LineError) return { events: [], format: detected, error: { kind: e.kind, message: e.message } };
    return { events: [], format: detected, error: { kind: 'internal', message: `parser error: ${e instanceof Error ? e.message : String(e)}` } };
  }
}

/** Vendor parsers build events by hand; the schema check guarantees what leaves here is a MarketEvent. */
function validated(events: MarketEvent[]): MarketEvent[] {
  for (const ev of events) checkEvent(ev);
  return events;
}

const preview = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
