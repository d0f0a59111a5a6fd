/**
 * An HTTP app with accounts (AUTH_MODE=accounts) over real storage (PGlite or
 * PostgreSQL) and a small live market (a few symbols with trades), plus
 * helpers to register users and call the API as them. Password hashing uses
 * cheap argon2 parameters so that tests can log in thousands of times.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { MarketEvent, SymbolRef } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { buildApp } from '../src/http/app.ts';
import type { HttpSettings } from '../src/http/deps.ts';
import { createRepositories, type Repositories } from '../src/storage/repositories.ts';
import { createAuthRepository, type AuthRepository } from '../src/storage/auth-repo.ts';
import { AuthService, type AuthServiceOptions } from '../src/auth/auth-service.ts';
import { PasswordHasher, TEST_HASH_PARAMS } from '../src/auth/passwords.ts';
import { LoginThrottle, type ThrottleOptions } from '../src/auth/login-throttle.ts';
import { createRegistry } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/observability/logger.ts';
import type { Logger } from '../src/observability/logger.ts';
import { openTestStorage, type StorageKind, type TestStorage } from '../../../test/helpers/storage.ts';
import { TEST_SETTINGS } from './http-fixture.ts';

export const TEST_JWT = { secret: randomBytes(48).toString('base64'), issuer: 'stock-tracker', audience: 'stock-tracker-api' };
export const PASSWORD = 'correct horse battery';
const TS = Date.UTC(2025, 2, 3, 2, 30);
export const SYMBOLS = ['FPT', 'VNM', 'HPG'];

export function ref(symbol: string, i: number): SymbolRef {
  return {
    symbol, exchange: 'HOSE', market: 'VN', tradingDate: '2025-03-03', reference: 50_000 + i * 10_000, ceiling: 53_500 + i * 10_700, floor: 46_500 + i * 9_300,
    lotSize: 100, indices: ['VNINDEX', 'VN30'], sharesOutstanding: 1e9,
  };
}

/** A market engine holding a few symbols with trades. */
export function smallMarket(): MarketEngine {
  const engine = new MarketEngine();
  const noop = () => {};
  SYMBOLS.forEach((s, i) => {
    const r = ref(s, i);
    engine.apply({ type: 'reference', ts: TS, ref: r } as MarketEvent, noop);
    engine.apply({ type: 'quote', ts: TS + 1, symbol: s, bids: [{ price: r.reference - 100, volume: 1000 }], asks: [{ price: r.reference + 100, volume: 1000 }] }, noop);
    for (let k = 0; k < 5; k++) engine.apply({ type: 'trade', ts: TS + 1000 * (k + 1), symbol: s, id: `${s}-${k}`, price: r.reference + 100 * (k % 3), volume: 100 * (k + 1) }, noop);
  });
  return engine;
}

export interface Session {
  token: string;
  cookie: string;
  userId: string;
  username: string;
}

export interface AuthFixture {
  app: FastifyInstance;
  service: AuthService;
  repos: Repositories;
  authRepo: AuthRepository;
  storage: TestStorage;
  engine: MarketEngine;
  /** Registers and logs in a new user (unique name from `prefix`). */
  signUp(prefix?: string): Promise<Session>;
  /** `inject` with the user's bearer token. */
  as(s: Session | null, method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface AuthFixtureOptions {
  settings?: Partial<HttpSettings>;
  service?: Partial<AuthServiceOptions>;
  throttle?: ThrottleOptions;
  log?: Logger;
  /** Use this service (e.g. built from a Config the way roles wire it) instead of the test one. */
  makeService?: (storage: TestStorage) => AuthService;
}

/** The refresh cookie pair (`name=value`) out of a Set-Cookie header. */
export function refreshCookieOf(res: LightMyRequestResponse): string {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const c = list.find((x) => /st_refresh=[^;]+/.test(x) && !/Max-Age=0/.test(x));
  if (!c) throw new Error(`no refresh cookie in ${JSON.stringify(raw)}`);
  return c.split(';', 1)[0]!;
}

let seq = 0;
export const uniqueName = (prefix = 'user') => `${prefix}${process.pid % 1000}x${++seq}${randomBytes(2).toString('hex')}`.slice(0, 32).toLowerCase();

export async function createAuthFixture(kind: StorageKind, opts: AuthFixtureOptions = {}): Promise<AuthFixture> {
  const storage = await openTestStorage(kind, { isolated: kind === 'postgres' });
  const repos = createRepositories(storage.db);
  const authRepo = createAuthRepository(storage.db);
  const engine = smallMarket();
  await repos.symbols.upsert(SYMBOLS.map(ref));
  const service = opts.makeService?.(storage) ?? new AuthService({
    repo: authRepo,
    jwt: TEST_JWT,
    accessTtlSeconds: 900,
    refreshTtlSeconds: 86_400,
    registrationEnabled: true,
    hasher: new PasswordHasher(TEST_HASH_PARAMS),
    throttle: opts.throttle ? new LoginThrottle(opts.throttle) : undefined,
    ...opts.service,
  });
  const app = await buildApp({
    settings: { ...TEST_SETTINGS, auth: { mode: 'accounts', registrationEnabled: true, publicMarketData: true }, ...opts.settings },
    log: opts.log ?? silentLogger(),
    market: engine,
    alertSink: engine.alerts,
    repos,
    feedStatus: () => ({ name: 'test', connected: true, lastEventTs: engine.now() }),
    readiness: [],
    registry: createRegistry({ processMetrics: false }),
    auth: service,
  });
  await app.ready();

  const as: AuthFixture['as'] = (s, method, url, body, headers = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      payload: body === undefined ? undefined : JSON.stringify(body),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(s ? { authorization: `Bearer ${s.token}` } : {}), ...headers },
    });

  return {
    app,
    service,
    repos,
    authRepo,
    storage,
    engine,
    as,
    async signUp(prefix = 'user') {
      const username = uniqueName(prefix);
      const res = await as(null, 'POST', '/api/auth/register', { username, password: PASSWORD });
      if (res.statusCode !== 201) throw new Error(`register ${username}: ${res.statusCode} ${res.body}`);
      const body = res.json();
      return { token: body.accessToken, cookie: refreshCookieOf(res), userId: body.user.id, username };
    },
    async close() {
      await app.close();
      await storage.cleanup();
    },
  };
}
