/**
 * Small pieces shared by the fake vendor servers: JSON answers, body reading,
 * scripted REST faults and a condition poller for tests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { waitFor as waitUntil } from '../helpers/wait.ts';

export interface ScriptedResponse {
  status: number;
  /** Sent as `Retry-After` (seconds, or an HTTP date string). */
  retryAfter?: number | string;
  body?: unknown;
  /** Destroy the socket instead of answering (a network failure). */
  hangUp?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  status: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Queued faults per path (case-insensitive): each request to the path takes the next one. */
export class FaultQueue {
  private readonly queues = new Map<string, ScriptedResponse[]>();

  add(path: string, responses: ScriptedResponse[]): void {
    const k = path.toLowerCase();
    this.queues.set(k, [...(this.queues.get(k) ?? []), ...responses]);
  }

  /** Answers the request with the next scripted fault for its path; true when it did. */
  take(path: string, res: ServerResponse): { status: number } | null {
    const q = this.queues.get(path.toLowerCase());
    const next = q?.shift();
    if (!next) return null;
    if (next.hangUp) {
      res.socket?.destroy();
      return { status: 0 };
    }
    const headers: Record<string, string> = {};
    if (next.retryAfter !== undefined) headers['retry-after'] = String(next.retryAfter);
    sendJson(res, next.status, next.body ?? { message: `scripted ${next.status}` }, headers);
    return { status: next.status };
  }
}

/** Polls `cond` until true; rejects with `what` after timeoutMs. */
export const waitFor = (cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => waitUntil(cond, what, timeoutMs);

export function paginate<T>(rows: T[], pageIndex: number, pageSize: number): T[] {
  return rows.slice((pageIndex - 1) * pageSize, pageIndex * pageSize);
}
