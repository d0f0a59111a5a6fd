/**
 * Parsing and validation of client -> server frames (protocol/ws.ts
 * ClientMessage). Strict: unknown fields are rejected so that a typo such as
 * `symbol` for `symbols` fails loudly instead of subscribing to everything.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ClientMessage, ErrorCode, ErrorDetail } from '@stock-tracker/protocol';

/** A key or symbol as sent by clients: `VNM`, `VNM:trades`, `user:42`, `top`, `*`. */
export const KEY_PATTERN = '^(\\*|[A-Za-z0-9._\\-]{1,20}(:[A-Za-z0-9._\\-]{1,60})?)$';
const KEY_RE = new RegExp(KEY_PATTERN);
const Key = Type.String({ pattern: KEY_PATTERN });
const Id = Type.String({ maxLength: 64 });
const Pos = Type.Object({ seq: Type.Integer({ minimum: 0 }), epoch: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const strict = { additionalProperties: false } as const;

const SCHEMAS: Record<ClientMessage['op'], TSchema> = {
  subscribe: Type.Object(
    {
      op: Type.Literal('subscribe'),
      id: Type.Optional(Id),
      symbols: Type.Optional(Type.Array(Key, { maxItems: 10_000 })),
      trades: Type.Optional(Type.Boolean()),
      since: Type.Optional(Type.Record(Type.String(), Pos, { maxProperties: 10_000 })),
    },
    strict,
  ),
  unsubscribe: Type.Object({ op: Type.Literal('unsubscribe'), id: Type.Optional(Id), symbols: Type.Optional(Type.Array(Key, { maxItems: 10_000 })) }, strict),
  ping: Type.Object({ op: Type.Literal('ping'), id: Type.Optional(Id) }, strict),
  auth: Type.Object({ op: Type.Literal('auth'), id: Type.Optional(Id), token: Type.String({ minLength: 1, maxLength: 8192 }) }, strict),
};

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
  const schema = Object.hasOwn(SCHEMAS, obj.op) ? SCHEMAS[obj.op as ClientMessage['op']] : undefined;
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
