/**
 * The edge running for real: the shipped nginx templates rendered and run by
 * the real nginx binary, in front of a stub API (Node http + ws, echoing what
 * it received) and the real web nginx config serving a fake SPA build.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { ERRORS } from '@stock-tracker/protocol';
import { expectEdgeSecurityHeaders, expectJsonError, SANE_ID } from '../helpers/edge-assertions.ts';
import { NGINX_DIR, createNginxPrefix, edgeFiles, edgeRealIpConfig, freePort, startNginx, webFiles, type RunningNginx } from '../helpers/nginx.ts';

const NGINX_ID = /^[0-9a-f]{32}$/;
const INDEX_HTML = '<!doctype html><html><head><title>stock-tracker stub</title></head><body><div id="root" data-stub="spa-index"></div></body></html>\n';
// Big enough for gzip (gzip_min_length 1024), varied enough to compress well but not trivially.
const APP_JS = Array.from({ length: 200 }, (_, i) => `export const row${i} = { symbol: "VN${i}", price: ${1000 + i * 7} };`).join('\n');

// ---------------------------------------------------------------- stub API ---

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** The API stand-in: JSON answers echoing what arrived, a WebSocket echo on /ws/market, held requests on demand. */
class ApiStub {
  readonly seen: SeenRequest[] = [];
  readonly upgrades: IncomingMessage['headers'][] = [];
  private held: Array<() => void> = [];
  private heldWaiters: Array<() => void> = [];
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  port = 0;

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/ws/market')) return socket.destroy();
      this.upgrades.push(req.headers);
      this.wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`echo:${data.toString()}`)));
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Resolves once `n` requests are being held by /api/hold. */
  async heldCount(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((r) => this.heldWaiters.push(r));
  }

  releaseHeld(): void {
    for (const release of this.held.splice(0)) release();
  }

  async close(): Promise<void> {
    this.releaseHeld();
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const json = (status: number, body: unknown) => {
      // Security headers and an id of its own, as the real API sends: the edge must replace them, not duplicate them.
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-request-id': 'upstream-own-id',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'",
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(body));
    };
    const url = req.url ?? '/';
    const echo = { path: url, received_request_id: req.headers['x-request-id'], forwarded_for: req.headers['x-forwarded-for'], host: req.headers.host, proto: req.headers['x-forwarded-proto'] };
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('# HELP stub_metric a stub\nstub_metric 1\n');
    } else if (url === '/api/missing') {
      json(404, { code: 'ROUTE_NOT_FOUND', message: ERRORS.ROUTE_NOT_FOUND.message, request_id: req.headers['x-request-id'] });
    } else if (url === '/api/hold') {
      this.held.push(() => json(200, echo));
      for (const w of this.heldWaiters.splice(0)) w();
    } else if (url === '/api/slow') {
      const timer = setTimeout(() => json(200, echo), 4_000);
      res.on('close', () => clearTimeout(timer));
    } else if (req.method === 'POST') {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => json(200, { ...echo, bytes }));
    } else {
      json(200, echo);
    }
  }
}

// ------------------------------------------------------------- topology ---

const edgeVars = (apiPort: number, webPort: number, listen: number, overrides: Record<string, string> = {}) => ({
  EDGE_LISTEN_PORT: String(listen),
  API_SERVERS: `server 127.0.0.1:${apiPort};`,
  WEB_SERVER: `127.0.0.1:${webPort}`,
  EDGE_RESOLVER: '127.0.0.1',
  EDGE_API_RATE: '1000r/s',
  EDGE_API_BURST: '1000',
  EDGE_CONN_PER_IP: '100',
  EDGE_MAX_BODY_SIZE: '8k',
  EDGE_API_TIMEOUT: '1s',
  EDGE_WS_TIMEOUT: '75s',
  EDGE_EXPOSE_INTERNAL: '0',
  EDGE_REAL_IP_CONFIG: realIpConfig(''),
  ...overrides,
});

const realIpConfig = (trusted: string) => edgeRealIpConfig({ EDGE_TRUSTED_PROXIES: trusted });

async function startEdge(apiPort: number, webPort: number, overrides: Record<string, string> = {}): Promise<{ nginx: RunningNginx; port: number }> {
  const port = await freePort();
  const nginx = await startNginx(createNginxPrefix(edgeFiles(edgeVars(apiPort, webPort, port, overrides))), [port]);
  return { nginx, port };
}

let staticDir: string;
let api: ApiStub;
let web: RunningNginx;
let webPort: number;
let edge: { nginx: RunningNginx; port: number };
const running: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  staticDir = mkdtempSync(path.join(tmpdir(), 'st-web-'));
  chmodSync(staticDir, 0o755); // nginx workers (nobody) read it
  mkdirSync(path.join(staticDir, 'assets'), { mode: 0o755 });
  writeFileSync(path.join(staticDir, 'index.html'), INDEX_HTML);
  writeFileSync(path.join(staticDir, 'assets/app-abc123.js'), APP_JS);
  writeFileSync(path.join(staticDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');

  api = await new ApiStub().listen();
  webPort = await freePort();
  web = await startNginx(createNginxPrefix(webFiles({ WEB_LISTEN_PORT: String(webPort), WEB_ROOT: staticDir })), [webPort]);
  running.push(web);
  edge = await startEdge(api.port, webPort);
  running.push(edge.nginx);
});

afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
  await api?.close();
  if (staticDir) rmSync(staticDir, { recursive: true, force: true });
});

const url = (port: number, p: string) => `http://127.0.0.1:${port}${p}`;
const get = (p: string, init?: RequestInit, port = edge.port) => fetch(url(port, p), init);
const expectSecurityHeaders = (res: Response, port = edge.port) => expectEdgeSecurityHeaders(res, port);

// ----------------------------------------------------------------- tests ---

describe('edge: the SPA', () => {
  it('answers a deep link with index.html, not cached, with every security header', async () => {
    const res = await get('/s/VNM');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toBe(INDEX_HTML);
    expectSecurityHeaders(res);
  });

  it('serves dotted app routes (/s/BRK.B) from the SPA too', async () => {
    const res = await get('/s/BRK.B');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX_HTML);
  });

  it('caches hashed assets for a year, immutable, and gzips them', async () => {
    // Via: the request came through another proxy (a load balancer); still compressed (gzip_proxied any).
    const res = await get('/assets/app-abc123.js', { headers: { 'accept-encoding': 'gzip', via: '1.1 lb' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(await res.text()).toBe(APP_JS); // fetch inflates
    expectSecurityHeaders(res);
  });

  it('answers a missing asset with a JSON 404, never index.html or an immutable cache header', async () => {
    for (const p of ['/assets/nope.js', '/robots.txt']) {
      const res = await get(p);
      expect(res.headers.get('cache-control') ?? '', p).not.toMatch(/immutable/);
      expectSecurityHeaders(res);
      await expectJsonError(res, 404, 'NOT_FOUND');
    }
  });
});

describe('edge: /api', () => {
  it('proxies to the API with a generated request id, forwarded and echoed once', async () => {
    const res = await get('/api/x?q=1');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(NGINX_ID);
    expect(body.received_request_id).toBe(id);
    expect(body.path).toBe('/api/x?q=1');
    expect(body.forwarded_for).toBe('127.0.0.1');
    expect(body.host).toBe(`127.0.0.1:${edge.port}`); // with the port: the server's WS origin check compares it
    expect(res.headers.get('cache-control')).toBe('no-store'); // the API's own cache policy passes through
    expectSecurityHeaders(res);
  });

  it("keeps a sane client X-Request-ID end to end and logs it (JSON access log)", async () => {
    const mine = 'client-abc.123:XYZ_-';
    const res = await get('/api/x', { headers: { 'x-request-id': mine } });
    expect(res.headers.get('x-request-id')).toBe(mine);
    expect(((await res.json()) as Record<string, string>).received_request_id).toBe(mine);
    const line = edge.nginx.accessLog().find((l) => l.request_id === mine);
    expect(line).toMatchObject({ method: 'GET', path: '/api/x', status: 200 });
  });

  it('replaces an insane X-Request-ID (too long, bad characters) with its own', async () => {
    for (const bad of ['a'.repeat(129), 'has space', '<script>', 'semi;colon', 'x'.repeat(128) + '"']) {
      const res = await get('/api/x', { headers: { 'x-request-id': bad } });
      const id = res.headers.get('x-request-id')!;
      expect(id, bad).not.toBe(bad);
      expect(id).toMatch(NGINX_ID);
      expect(((await res.json()) as Record<string, string>).received_request_id).toBe(id);
    }
    // The limit itself is kept: exactly 128 sane characters.
    const max = 'b'.repeat(128);
    expect((await get('/api/x', { headers: { 'x-request-id': max } })).headers.get('x-request-id')).toBe(max);
  });

  it("passes the API's own JSON errors through (no SPA fallback under /api)", async () => {
    const res = await get('/api/missing');
    expect(res.status).toBe(404);
    const body = (await res.json()) as Record<string, string>;
    expect(body.code).toBe('ROUTE_NOT_FOUND');
    expect(body.request_id).toBe(res.headers.get('x-request-id'));
    expectSecurityHeaders(res);
  });

  it('refuses an oversized body with a JSON 413 before the API sees it', async () => {
    const before = api.seen.length;
    const res = await get('/api/upload', { method: 'POST', body: 'x'.repeat(64 * 1024), headers: { 'content-type': 'text/plain' } });
    expectSecurityHeaders(res);
    await expectJsonError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(api.seen.length).toBe(before);
    const small = await get('/api/upload', { method: 'POST', body: 'y'.repeat(1024), headers: { 'content-type': 'text/plain' } });
    expect(((await small.json()) as { bytes: number }).bytes).toBe(1024);
  });

  it('answers a slow API with a JSON 504 after the configured timeout', async () => {
    const res = await get('/api/slow');
    expectSecurityHeaders(res);
    await expectJsonError(res, 504, 'GATEWAY_TIMEOUT');
  });
});

describe('edge: internal endpoints', () => {
  it('keeps /metrics, /readyz, /api/health and /api/docs unreachable from outside (JSON 404, never proxied)', async () => {
    const before = api.seen.length;
    for (const p of ['/metrics', '/readyz', '/api/health', '/api/docs', '/api/docs/json']) {
      const res = await get(p);
      expectSecurityHeaders(res);
      await expectJsonError(res, 404, 'NOT_FOUND');
    }
    expect(api.seen.length).toBe(before);
  });

  it('answers its own liveness probe', async () => {
    const res = await get('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});

describe('edge: WebSocket', () => {
  it('upgrades /ws/market through to the API and relays frames both ways', async () => {
    const id = 'ws-test-1';
    const ws = new WebSocket(`ws://127.0.0.1:${edge.port}/ws/market`, { headers: { 'x-request-id': id, origin: `http://127.0.0.1:${edge.port}` } });
    await once(ws, 'open');
    const reply = once(ws, 'message');
    ws.send('hello');
    expect(String((await reply)[0])).toBe('echo:hello');
    ws.close();
    await once(ws, 'close');
    const seen = api.upgrades.at(-1)!;
    expect(seen['x-request-id']).toBe(id);
    expect(seen.host).toBe(`127.0.0.1:${edge.port}`);
    expect(seen.origin).toBe(`http://127.0.0.1:${edge.port}`);
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('edge: limits and upstream failures', () => {
  it('answers a burst over the rate limit with JSON 429s (RATE_LIMITED, Retry-After, security headers)', async () => {
    const strict = await startEdge(api.port, webPort, { EDGE_API_RATE: '2r/s', EDGE_API_BURST: '3' });
    running.push(strict.nginx);
    const answers = await Promise.all(Array.from({ length: 30 }, () => get('/api/x', undefined, strict.port)));
    const limited = answers.filter((r) => r.status === 429);
    const passed = answers.filter((r) => r.status === 200);
    expect(passed.length).toBeGreaterThan(0);
    expect(passed.length).toBeLessThanOrEqual(1 + 3 + 2); // one, the burst, and what the rate refills meanwhile
    expect(limited.length + passed.length).toBe(30);
    for (const res of limited) {
      expect(res.headers.get('retry-after')).toBe('1');
      expectSecurityHeaders(res, strict.port);
      await expectJsonError(res, 429, 'RATE_LIMITED');
    }
    await Promise.all(passed.map((r) => r.body?.cancel()));
  });

  it('answers requests over the per-address limit with a JSON 429 TOO_MANY_CONNECTIONS', async () => {
    const stub = await new ApiStub().listen();
    const strict = await startEdge(stub.port, webPort, { EDGE_CONN_PER_IP: '2', EDGE_API_TIMEOUT: '10s' });
    running.push(strict.nginx);
    try {
      const inFlight = [get('/api/hold', undefined, strict.port), get('/api/hold', undefined, strict.port)];
      await stub.heldCount(2);
      const res = await get('/api/x', undefined, strict.port);
      expectSecurityHeaders(res, strict.port);
      await expectJsonError(res, 429, 'TOO_MANY_CONNECTIONS');
      stub.releaseHeld();
      for (const r of await Promise.all(inFlight)) expect(r.status).toBe(200);
    } finally {
      await stub.close();
    }
  });

  it('behind a trusted load balancer (EDGE_TRUSTED_PROXIES) each client is itself: its own rate limit, its address to the API', async () => {
    const lb = await startEdge(api.port, webPort, { EDGE_API_RATE: '1r/m', EDGE_API_BURST: '2', EDGE_REAL_IP_CONFIG: realIpConfig('127.0.0.1') });
    running.push(lb.nginx);
    const as = (client: string) => get('/api/x', { headers: { 'x-forwarded-for': client } }, lb.port);
    const first = await as('203.0.113.7');
    expect(((await first.json()) as { forwarded_for: string }).forwarded_for).toBe('203.0.113.7');
    const a = await Promise.all(Array.from({ length: 6 }, () => as('203.0.113.7')));
    expect(a.some((r) => r.status === 429)).toBe(true);
    // Another client behind the same balancer is not held by the first one's burst.
    const b = await as('198.51.100.23');
    expect(b.status).toBe(200);
    expect(((await b.json()) as { forwarded_for: string }).forwarded_for).toBe('198.51.100.23');
    await Promise.all(a.map((r) => r.body?.cancel()));
    // Without trusted proxies (the default edge) a client-written header is never believed.
    const plain = await get('/api/x', { headers: { 'x-forwarded-for': '203.0.113.99' } });
    expect(((await plain.json()) as { forwarded_for: string }).forwarded_for).toBe('127.0.0.1');
  });

  it('routes internal endpoints when EDGE_EXPOSE_INTERNAL=1, and answers a stopped API with a JSON 502', async () => {
    const stub = await new ApiStub().listen();
    const open = await startEdge(stub.port, webPort, { EDGE_EXPOSE_INTERNAL: '1' });
    running.push(open.nginx);
    const metrics = await get('/metrics', undefined, open.port);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('stub_metric 1');
    for (const p of ['/api/docs', '/readyz', '/api/health']) expect((await get(p, undefined, open.port)).status, p).toBe(200);

    await stub.close();
    const res = await get('/api/x', undefined, open.port);
    expectSecurityHeaders(res, open.port);
    await expectJsonError(res, 502, 'BAD_GATEWAY');
  });
});

describe('edge: TLS variant', () => {
  it('serves HTTPS with HSTS, redirects plain HTTP, and tells the API the scheme', async () => {
    const certDir = mkdtempSync(path.join(tmpdir(), 'st-tls-'));
    chmodSync(certDir, 0o755);
    const cert = path.join(certDir, 'fullchain.pem');
    const key = path.join(certDir, 'privkey.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    chmodSync(key, 0o644);
    const [plain, tls] = [await freePort(), await freePort()];
    const vars = { ...edgeVars(api.port, webPort, plain), EDGE_TLS_PORT: String(tls), TLS_CERT: cert, TLS_KEY: key };
    const nginx = await startNginx(createNginxPrefix(edgeFiles(vars, 'edge-tls')), [plain, tls]);
    running.push(nginx);
    try {
      const redirect = await fetch(url(plain, '/s/VNM'), { redirect: 'manual' });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get('location')).toBe('https://127.0.0.1/s/VNM');
      expectSecurityHeaders(redirect, plain);
      expect((await fetch(url(plain, '/healthz'))).status).toBe(200);

      const page = await httpsGet(tls, '/s/VNM');
      expect(page.status).toBe(200);
      expect(page.body).toBe(INDEX_HTML);
      expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(page.headers['x-frame-options']).toBe('DENY');

      const apiRes = await httpsGet(tls, '/api/x');
      expect(JSON.parse(apiRes.body).proto).toBe('https');
      expect(apiRes.headers['strict-transport-security']).toBeDefined();
    } finally {
      rmSync(certDir, { recursive: true, force: true });
    }
  });
});

function httpsGet(port: number, p: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: p, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
