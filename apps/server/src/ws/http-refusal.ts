/**
 * Refusing an upgrade before the WebSocket handshake: a plain HTTP response
 * with the product's JSON error body (ARCHITECTURE §6), written on the raw
 * socket because no Fastify reply exists for an `upgrade` event.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, type ErrorCode } from '@stock-tracker/protocol';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** The client's X-Request-ID when it is sane, otherwise null. */
export function clientRequestId(req: IncomingMessage): string | null {
  const v = req.headers['x-request-id'];
  return typeof v === 'string' && SANE_REQUEST_ID.test(v) ? v : null;
}

export function refuseUpgrade(
  socket: Duplex,
  status: number,
  code: ErrorCode,
  requestId: string,
  message?: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(code, requestId, message));
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Request-ID': requestId,
    Connection: 'close',
    ...extraHeaders,
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head}\r\n${body}`);
}
