/**
 * The error contract (ARCHITECTURE §6) for every HTTP response: whatever goes
 * wrong — validation, unknown route, wrong method, bad JSON, oversized or
 * mistyped bodies, rate limits, bugs — the client gets an `ErrorBody` with a
 * catalogue code and the request id, and never a stack trace outside
 * development.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, codeForStatus, errorBody, type ErrorCode, type ErrorDetail } from '@stock-tracker/protocol';
import { REQUEST_ID_HEADER } from './request-id.ts';

export interface RenderedError {
  status: number;
  code: ErrorCode;
  message?: string;
  details?: ErrorDetail[];
  headers?: Record<string, string>;
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

const CONTEXT_PREFIX: Record<string, string> = { querystring: 'query', params: 'params', body: 'body', headers: 'headers' };

/** Ajv errors → `details[{path, issue}]`, one entry per offending field. */
export function validationDetails(errors: readonly AjvError[], context: string | undefined): ErrorDetail[] {
  const prefix = CONTEXT_PREFIX[context ?? ''] ?? context ?? 'request';
  const byPath = new Map<string, AjvError[]>();
  for (const e of errors) {
    let p = (e.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    if (e.keyword === 'required' && typeof e.params?.missingProperty === 'string') p = p ? `${p}.${e.params.missingProperty}` : e.params.missingProperty;
    if (e.keyword === 'additionalProperties' && typeof e.params?.additionalProperty === 'string') p = p ? `${p}.${e.params.additionalProperty}` : e.params.additionalProperty;
    const full = p ? `${prefix}.${p}` : prefix;
    const list = byPath.get(full) ?? [];
    list.push(e);
    byPath.set(full, list);
  }
  const out: ErrorDetail[] = [];
  for (const [p, list] of byPath) out.push({ path: p, issue: describe(list) });
  return out;
}

function describe(list: AjvError[]): string {
  const consts = list.filter((e) => e.keyword === 'const').map((e) => JSON.stringify(e.params?.allowedValue));
  // Unions of literals (enums written as TypeBox unions) read better as one list.
  if (consts.length > 0 && list.every((e) => e.keyword === 'const' || e.keyword === 'anyOf' || e.keyword === 'type')) return `must be one of ${consts.join(', ')}`;
  if (list.some((e) => e.keyword === 'anyOf')) {
    const branches = list.filter((e) => e.keyword !== 'anyOf').map((e) => e.message ?? 'is invalid');
    return branches.length > 0 ? `must satisfy one of: ${[...new Set(branches)].join('; ')}` : 'does not match any allowed form';
  }
  const e = list[0]!;
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'additionalProperties') return 'is not an allowed property';
  return e.message ?? 'is invalid';
}

/** Maps anything thrown inside a request to the contract. */
export function renderError(err: unknown, exposeInternals: boolean): RenderedError {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, details: err.details, headers: err.headers };
  const e = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string; headers?: Record<string, string> };
  if (e && Array.isArray(e.validation)) {
    return { status: 400, code: 'VALIDATION_FAILED', details: validationDetails(e.validation, e.validationContext) };
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'MALFORMED_JSON', message: e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'The body is empty but declared as JSON.' : undefined };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported content type; send application/json.' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: 'Content-Length does not match the body.' };
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'BAD_REQUEST', message: 'The URL is not valid.' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 400, code: 'VALIDATION_FAILED', details: [{ path: 'params', issue: 'is too long' }] };
  }
  // Body parser failures from Node/secure-json-parse (prototype poisoning, etc.).
  if (e instanceof SyntaxError || e?.name === 'SyntaxError') return { status: 400, code: 'MALFORMED_JSON' };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = codeForStatus(status);
    return { status: ERRORS[code].status, code, headers: e.headers };
  }
  return {
    status: 500,
    code: 'INTERNAL',
    details: exposeInternals && e instanceof Error ? [{ path: 'stack', issue: e.stack ?? e.message }] : undefined,
  };
}

export function sendError(reply: FastifyReply, request: FastifyRequest, r: RenderedError): FastifyReply {
  if (r.headers) for (const [k, v] of Object.entries(r.headers)) reply.header(k, v);
  reply.header(REQUEST_ID_HEADER, request.id);
  return reply.code(r.status).type('application/json; charset=utf-8').send(errorBody(r.code, request.id, r.message, r.details));
}

/** For errors Fastify raises before routing (bad URL, over-long params): same contract. */
export function frameworkErrors(exposeInternals: boolean) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    sendError(reply, request, renderError(err, exposeInternals));
  };
}

export function installErrorHandler(app: FastifyInstance, exposeInternals: boolean): void {
  app.setErrorHandler((err, request, reply) => {
    const r = renderError(err, exposeInternals);
    if (r.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: r.code, status: r.status }, 'request rejected');
    return sendError(reply, request, r);
  });
}
