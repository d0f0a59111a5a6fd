/**
 * The app and the WebSocket gateway wired from a Config exactly as the `all`
 * role does (config → createAuth → gateway on the app's HTTP server), and a
 * raw client that records frames, for the auth and fuzz tests.
 */
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { ServerMessage } from '@stock-tracker/protocol';
import { loadConfig } from '../src/config.ts';
import { createAuth, type AuthWiring } from '../src/auth/index.ts';
import { PasswordHasher, TEST_HASH_PARAMS } from '../src/auth/passwords.ts';
import { InMemoryBus } from '../src/bus/index.ts';
import { createWsGateway, type WsGateway, type WsGatewayOptions } from '../src/ws/index.ts';
import type { HttpSettings } from '../src/http/deps.ts';
import { createAuthFixture, TEST_JWT, type AuthFixture } from './auth-fixture.ts';

export type Msg = ServerMessage & Record<string, any>;

export class Client {
  readonly messages: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const text = d.toString();
      try {
        this.messages.push(JSON.parse(text));
      } catch {
        this.messages.push({ type: '__not_json__', raw: text.slice(0, 200) } as unknown as Msg);
      }
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }
  static open(url: string, protocols: string[] = [], headers: Record<string, string> = {}): Promise<Client> {
    const ws = new WebSocket(url, protocols, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers, body: JSON.parse(body) })));
      });
      ws.once('error', reject);
    });
  }
  send(m: object) {
    this.ws.send(JSON.stringify(m));
  }
  async next(pred: (m: Msg) => boolean, timeoutMs = 5_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out; frames: ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

export async function refusal(url: string, protocols: string[] = [], headers: Record<string, string> = {}) {
  try {
    const c = await Client.open(url, protocols, headers);
    c.ws.close();
  } catch (err) {
    const e = err as { status?: number; headers?: Record<string, string>; body?: any };
    if (e.status) return e as { status: number; headers: Record<string, string>; body: any };
    throw err;
  }
  throw new Error('the upgrade was accepted');
}

export interface WsEnv {
  f: AuthFixture;
  wiring: AuthWiring;
  bus: InMemoryBus;
  gateway: WsGateway;
  url(path: string): string;
  close(): Promise<void>;
}

/** The app and the gateway wired from a Config exactly as the `all` role does. */
export async function startWsEnv(env: Record<string, string> = {}, gatewayOptions: Partial<WsGatewayOptions> = {}, settings: Partial<HttpSettings> = {}): Promise<WsEnv> {
  const config = loadConfig({ APP_ENV: 'test', AUTH_MODE: 'accounts', JWT_SECRET: TEST_JWT.secret, CORS_ORIGINS: 'https://allowed.example.com', WS_MAX_CONNECTIONS_PER_IP: '4', ...env });
  let wiring!: AuthWiring;
  const f = await createAuthFixture('pglite', {
    settings: { auth: { mode: 'accounts', registrationEnabled: true, publicMarketData: config.auth.publicMarketData }, ...settings },
    makeService: (st) => {
      // Tests sign users up over HTTP; the config default (off with private market data) is not what is tested here.
      wiring = createAuth(config, st.db, 'local', undefined, { hasher: new PasswordHasher(TEST_HASH_PARAMS), registrationEnabled: true });
      return wiring.service!;
    },
  });
  const bus = new InMemoryBus();
  const gateway = createWsGateway({
    bus,
    allowedOrigins: config.corsOrigins,
    maxConnectionsPerIp: config.ws.maxConnectionsPerIp,
    trustProxy: config.trustProxy,
    pingIntervalMs: 0,
    closeGraceMs: 200,
    ...wiring.ws,
    ...gatewayOptions,
  });
  f.app.server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  await f.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = f.app.server.address() as AddressInfo;
  return {
    f,
    wiring,
    bus,
    gateway,
    url: (p) => `ws://127.0.0.1:${port}${p}`,
    async close() {
      await gateway.close();
      await f.close();
    },
  };
}

