/** The HTTP plumbing every fake vendor server repeats: listening on loopback, recording requests, scripted faults, closing. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebSocketServer } from 'ws';
import { sendJson, type FaultQueue, type RecordedRequest } from './http-util.ts';

/** Listens on a random port of 127.0.0.1; resolves to the port. */
export async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Records the request in `requests`; when `faults` holds one for the path's last
 * segment it is answered with that and null is returned. Otherwise `answer`
 * sends JSON and records its status.
 */
export function recordRequest(
  req: IncomingMessage,
  res: ServerResponse,
  requests: RecordedRequest[],
  faults: FaultQueue,
): { url: URL; answer(status: number, body: unknown): void } | null {
  const url = new URL(req.url ?? '/', 'http://x');
  const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, status: 0 };
  requests.push(rec);
  const fault = faults.take(url.pathname.split('/').pop() ?? '', res);
  if (fault) {
    rec.status = fault.status;
    return null;
  }
  return {
    url,
    answer: (status, body) => {
      rec.status = status;
      sendJson(res, status, body);
    },
  };
}

/** Closes the WebSocket server, drops every HTTP connection and waits for the server to close (sockets terminated by the caller). */
export async function closeServer(server: Server, wss: WebSocketServer): Promise<void> {
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
