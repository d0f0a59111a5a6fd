/**
 * JSON Schema cannot say "finite": Ajv's coercion turns a 400-digit query
 * value into Infinity and JSON.parse turns 1e400 into Infinity, and both pass
 * `type: number` (and sometimes `maximum`). Infinity would then be stored or
 * serialized as null. This check runs after schema validation and refuses any
 * non-finite number in params, query or body — and any string holding a NUL
 * character, which PostgreSQL text cannot store (it would be a 500, not a 400).
 */
import { AppError, type ErrorDetail } from '@stock-tracker/protocol';

function collect(value: unknown, path: string, out: ErrorDetail[], depth: number): void {
  if (out.length >= 10 || depth > 8) return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push({ path, issue: 'must be a finite number' });
    return;
  }
  if (typeof value === 'string') {
    if (value.includes('\u0000')) out.push({ path, issue: 'must not contain NUL characters' });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) value.forEach((v, i) => collect(v, `${path}.${i}`, out, depth + 1));
  else
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\u0000')) out.push({ path, issue: 'property names must not contain NUL characters' });
      collect(v, `${path}.${k}`, out, depth + 1);
    }
}

export function assertFinite(parts: { params?: unknown; query?: unknown; body?: unknown }): void {
  const details: ErrorDetail[] = [];
  collect(parts.params, 'params', details, 0);
  collect(parts.query, 'query', details, 0);
  collect(parts.body, 'body', details, 0);
  if (details.length > 0) throw new AppError('VALIDATION_FAILED', undefined, details);
}
