/**
 * Parsing and validation of client -> server frames (protocol/ws.ts
 * ClientMessage) against the protocol's schemas (CLIENT_OPS), the one definition
 * of the client ops; this module adds only the error shaping.
 */
import { Value } from '@sinclair/typebox/value';
import { CLIENT_OPS, WS_KEY_PATTERN, type ClientMessage, type ErrorCode, type ErrorDetail } from '@stock-tracker/protocol';

const KEY_RE = new RegExp(WS_KEY_PATTERN);

export type ParseResult =
  | { ok: true; msg: ClientMessage }
  | { ok: false; code: ErrorCode; message: string; id?: string; details?: ErrorDetail[] };

const MAX_DETAILS = 10;

export function parseClientMessage(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'MALFORMED_JSON', message: 'The message is not valid JSON.' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, code: 'VALIDATION_FAILED', message: 'A message must be a JSON object.', details: [{ path: '', issue: 'expected object' }] };
  }
  const obj = raw as Record<string, unknown>;
  const id = typeof obj.id === 'string' && obj.id.length <= 64 ? obj.id : undefined;
  if (typeof obj.op !== 'string') {
    return { ok: false, code: 'VALIDATION_FAILED', message: 'Missing `op`.', id, details: [{ path: '/op', issue: 'required string' }] };
  }
  const schema = Object.hasOwn(CLIENT_OPS, obj.op) ? CLIENT_OPS[obj.op as ClientMessage['op']] : undefined;
  if (!schema) return { ok: false, code: 'UNKNOWN_OP', message: `Unknown op '${obj.op.slice(0, 40)}'.`, id };
  if (!Value.Check(schema, obj)) {
    const details: ErrorDetail[] = [];
    for (const e of Value.Errors(schema, obj)) {
      details.push({ path: e.path || '/', issue: e.message });
      if (details.length >= MAX_DETAILS) break;
    }
    return { ok: false, code: 'VALIDATION_FAILED', message: `Invalid '${obj.op}' message.`, id, details };
  }
  // TypeBox does not apply a pattern to Record keys, so `since` keys are checked here.
  if (obj.op === 'subscribe' && obj.since) {
    const bad = Object.keys(obj.since).filter((k) => !KEY_RE.test(k) || k === '*');
    if (bad.length > 0) {
      const details = bad.slice(0, MAX_DETAILS).map((k) => ({ path: `/since/${k.slice(0, 80)}`, issue: 'not a stream key' }));
      return { ok: false, code: 'VALIDATION_FAILED', message: "Invalid 'subscribe' message.", id, details };
    }
  }
  return { ok: true, msg: obj as unknown as ClientMessage };
}
