/**
 * Issue 12 §11 through the real `api` role: two replicas (startApi, as the
 * process runs it) on one PostgreSQL database and one Redis. A logout on
 * replica A closes the session's WebSocket on replica B with 4001 (the
 * AuthService hook → SessionRevocations → Redis pub/sub → B's gateway).
 */
import WebSocket from 'ws';
import { WS_CLOSE } from '@stock-tracker/protocol';
import { loadConfig } from '../src/config.ts';
import { startApi, type RunningApi } from '../src/roles/api.ts';
import { migrate } from '../src/storage/migrate.ts';
import { openDatabase } from '../src/storage/db.ts';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { deletePrefix, redisClient, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { TEST_JWT } from './auth-fixture.ts';

let iso: IsolatedDatabase;
const prefix = uniquePrefix('ws-revoke');
const replicas: RunningApi[] = [];

beforeAll(async () => {
  iso = await createIsolatedDatabase();
  const db = await openDatabase({ databaseUrl: iso.url, poolSize: 2 } as never);
  await migrate(db);
  await db.close();
  const config = loadConfig({
    ROLE: 'api',
    APP_ENV: 'test',
    AUTH_MODE: 'accounts',
    JWT_SECRET: TEST_JWT.secret,
    REGISTRATION_ENABLED: 'true',
    DATABASE_URL: iso.url,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
  });
  for (let i = 0; i < 2; i++) replicas.push(await startApi({ config }));
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.close();
  await iso?.drop();
  await deletePrefix(testRedisUrl(), prefix);
});

const base = (r: RunningApi) => `http://127.0.0.1:${r.port}`;

it('a logout on replica A closes the session’s WebSocket on replica B with 4001', async () => {
  const [a, b] = replicas as [RunningApi, RunningApi];
  const reg = await fetch(`${base(a)}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `erin${Date.now()}`, password: 'a long enough passphrase 7' }),
  });
  expect(reg.status).toBe(201);
  const token = ((await reg.json()) as { accessToken: string }).accessToken;

  const ws = new WebSocket(`ws://127.0.0.1:${b.port}/ws/alerts`, ['stock-tracker', `bearer.${token}`]);
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ op: 'subscribe', id: 's' }));
  const deadline = Date.now() + 10_000;
  while (!frames.some((f) => f.type === 'subscribed')) {
    if (Date.now() > deadline) throw new Error(`no subscribed frame: ${JSON.stringify(frames)}`);
    await new Promise((r) => setTimeout(r, 20));
  }

  // Both replicas listen for revocations before the logout (a pub/sub message reaches only current subscribers).
  const redis = redisClient(testRedisUrl());
  try {
    const until = Date.now() + 10_000;
    for (;;) {
      const [, n] = (await redis.pubsub('NUMSUB', `${prefix}session-revoked`)) as [string, number];
      if (Number(n) >= 2) break;
      if (Date.now() > until) throw new Error(`only ${n} replica(s) subscribed to the revocation channel`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    redis.disconnect();
  }

  const out = await fetch(`${base(a)}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(out.status).toBe(204);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('replica B did not close the connection within 10 s')), 10_000).unref());
  expect(await Promise.race([closed, timeout])).toBe(WS_CLOSE.UNAUTHORIZED);
  expect(frames.at(-1)).toMatchObject({ type: 'error', code: 'INVALID_TOKEN' });
}, 30_000);
