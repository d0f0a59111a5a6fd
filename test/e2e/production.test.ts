/**
 * The production topology run natively (test/helpers/topology.ts): PostgreSQL
 * database + migrate job, one collector, two api processes with two workers
 * each, the web nginx and the edge nginx with the shipped templates, the
 * environment of docker-compose.prod.yml. Everything is driven through the
 * edge only, as the internet sees it: a real Chromium, fetch and a `ws`
 * client. One topology for the whole file; the tests run in order (the last
 * one stops and restarts the API).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import pg from 'pg';
import { WebSocket } from 'ws';
import { type QuoteState, type QuotesResponse, type ServerMessage } from '@stock-tracker/protocol';
import { launchBrowser } from '../../apps/web/test/e2e/browser.ts';
import type { BackupManifest } from '../../apps/server/src/backup/manifest.ts';
import { expectEdgeSecurityHeaders, expectJsonError } from '../helpers/edge-assertions.ts';
import { pgAdminUrl, testRedisUrl } from '../helpers/database.ts';
import { databaseUrlFor, dropDatabase, uniqueDbName } from '../helpers/pg-admin.ts';
import { runJob, startTopology, type Topology } from '../helpers/topology.ts';

const ROWS = '.board tbody tr[data-symbol]';
/** `resumed` and `reset` are live too (reconnected, data current). */
const LIVE = '.conn[data-state="live"], .conn[data-state="resumed"], .conn[data-state="reset"]';
const PREFERRED = ['FPT', 'VNM', 'HPG', 'VCB', 'MWG'];
const NGINX_ID = /^[0-9a-f]{32}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let topo: Topology;
let browser: Browser;
/**
 * A browser context signed in through the login page. Production runs with
 * accounts (AUTH_MODE defaults to `accounts`): the SPA asks for a sign-in,
 * and the refresh cookie (`__Secure-`, HttpOnly, SameSite=Strict) signs later
 * pages of the context in silently. Pages are opened one at a time: the
 * refresh token rotates on every page load.
 */
let signedIn: BrowserContext;
const USER = { username: 'prod-e2e', password: randomBytes(12).toString('base64url') };
/** A liquid symbol that has traded. */
let SYM: string;

const edge = (p: string, init?: RequestInit) => fetch(`${topo.edgeUrl}${p}`, init);

async function quotes(): Promise<QuoteState[]> {
  const r = await edge('/api/quotes');
  if (r.status !== 200) throw new Error(`GET /api/quotes through the edge: ${r.status} ${await r.text()}`);
  return ((await r.json()) as QuotesResponse).items;
}

const expectSecurityHeaders = (res: Response) => expectEdgeSecurityHeaders(res, topo.edgePort);

/** A page of the signed-in browser context that records console errors, page errors and failed requests. */
async function openSignedIn(url: string) {
  const page = await signedIn.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // Aborts are deliberate: queries cancelled on unmount or navigation.
    if (!why.includes('ERR_ABORTED')) problems.push(`requestfailed: ${r.url()} ${why}`);
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return { page, problems };
}

/** The board page through the edge, live and filled (the board renders the rows in view: 20+ at 1440×900). */
async function openBoard() {
  const opened = await openSignedIn(`${topo.edgeUrl}/`);
  await opened.page.waitForSelector(LIVE, { timeout: 30_000 });
  await opened.page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 20, ROWS, { timeout: 30_000 });
  return opened;
}

const rowTexts = (page: Page) =>
  page.$$eval(ROWS, (trs) => Object.fromEntries(trs.map((tr) => [(tr as HTMLElement).dataset.symbol!, [...tr.querySelectorAll('td')].map((td) => td.textContent).join('|')])));

/** Symbols whose row text changed from `before` within `timeoutMs` (at least `min` of them, or what changed by then). */
async function rowsChanging(page: Page, before: Record<string, string>, min: number, timeoutMs: number): Promise<string[]> {
  return page
    .waitForFunction(
      ({ sel, before, min }) => {
        const out: string[] = [];
        for (const tr of document.querySelectorAll(sel)) {
          const sym = (tr as HTMLElement).dataset.symbol!;
          const now = [...tr.querySelectorAll('td')].map((td) => td.textContent).join('|');
          if (before[sym] !== undefined && before[sym] !== now) out.push(sym);
        }
        return out.length >= min ? out : false;
      },
      { sel: ROWS, before, min },
      { timeout: timeoutMs, polling: 'raf' },
    )
    .then((h) => h.jsonValue() as Promise<string[]>)
    .catch(() => [] as string[]);
}

/** Lines of the api processes' JSON logs (workers write through their primary). */
const apiLogLines = () => topo.apis.flatMap((p) => p.logLines());

/** Registers the test user through the edge, then signs in with the SPA's login form. */
async function signIn(): Promise<void> {
  const reg = await edge('/api/auth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) });
  if (reg.status !== 201) throw new Error(`register through the edge: ${reg.status} ${await reg.text()}`);
  signedIn = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark', timezoneId: 'Europe/Paris' });
  const page = await signedIn.newPage();
  try {
    await page.goto(`${topo.edgeUrl}/`, { waitUntil: 'domcontentloaded' });
    await page.getByLabel('User name').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector(LIVE, { timeout: 30_000 });
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  // Registration is off by default in production; this test signs its user up through the edge.
  topo = await startTopology({ adminUrl: pgAdminUrl(), redisUrl: testRedisUrl(), apiReplicas: 2, webConcurrency: 2, dotenv: { REGISTRATION_ENABLED: 'true' }, log: (m) => console.info(`[production] ${m}`) });
  browser = await launchBrowser();
  await signIn();
  // The feed catches up at start: wait for a preferred name to have traded.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const traded = (await quotes()).filter((q) => q.last !== null && q.totalVolume > 0);
    const pick = PREFERRED.find((s) => traded.some((q) => q.symbol === s)) ?? [...traded].sort((a, b) => b.totalVolume - a.totalVolume)[0]?.symbol;
    if (pick) {
      SYM = pick;
      break;
    }
    if (Date.now() > deadline) throw new Error(`no symbol has traded 30 s after start:\n${topo.output()}`);
    await sleep(250);
  }
}, 180_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail' && topo) console.error(`[production] last output:\n${topo.output()}`);
});

afterAll(async () => {
  await signedIn?.close();
  await browser?.close();
  await topo?.close();
});

describe('production topology through the edge', () => {
  it('serves the SPA to Chromium and the price board goes live (rows change)', async () => {
    const { page, problems } = await openBoard();
    try {
      // Every symbol the API has is on the board (the footer counts them; rows out of view are not rendered).
      expect(await page.locator('.board-foot').textContent()).toMatch(new RegExp(`^${(await quotes()).length} symbols`));
      const changed = await rowsChanging(page, await rowTexts(page), 3, 10_000);
      expect(changed.length, 'at least 3 rows changed within 10 s').toBeGreaterThanOrEqual(3);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  it('answers /api/quotes from both api replicas, with the API cache policy and the security headers', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => edge('/api/quotes')));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-request-id')).toMatch(NGINX_ID);
      expectSecurityHeaders(res);
      const body = (await res.json()) as QuotesResponse;
      expect(body.items.length).toBeGreaterThanOrEqual(40);
      expect(body.items.find((q) => q.symbol === SYM)?.last).toBeGreaterThan(0);
    }
    // The edge balanced them over both api processes (its access log names the upstream).
    const ids = new Set(answers.map((r) => r.headers.get('x-request-id')));
    const upstreams = new Set(topo.edge.accessLog().filter((l) => ids.has(l.request_id as string)).map((l) => l.upstream_addr));
    expect([...upstreams].sort()).toEqual(topo.apis.map((p) => `127.0.0.1:${p.port}`).sort());
  }, 30_000);

  it('streams /ws/market through the edge: snapshots, then contiguous updates', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${topo.edgePort}/ws/market`, { headers: { origin: topo.edgeUrl } });
    const messages: ServerMessage[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as ServerMessage));
    try {
      await once(ws, 'open');
      ws.send(JSON.stringify({ op: 'subscribe', id: 's1', symbols: ['*'] }));
      // Updates on at least 3 keys, each continuing its snapshot without a gap.
      const deadline = Date.now() + 20_000;
      const updatedKeys = () => new Set(messages.filter((m) => m.type === 'update').map((m) => (m as { key: string }).key));
      while (updatedKeys().size < 3 && Date.now() < deadline) await sleep(100);

      expect(messages.find((m) => m.type === 'error')).toBeUndefined();
      expect(messages.some((m) => m.type === 'subscribed' && m.id === 's1')).toBe(true);
      const snapshots = messages.filter((m) => m.type === 'snapshot');
      expect(snapshots.length).toBeGreaterThanOrEqual(40);
      expect(snapshots.find((s) => s.key === SYM)).toMatchObject({ channel: 'market', data: { symbol: SYM } });
      expect(updatedKeys().size).toBeGreaterThanOrEqual(3);
      const last = new Map<string, { seq: number; epoch: string }>();
      for (const m of messages) {
        if (m.type === 'snapshot') last.set(m.key, { seq: m.seq, epoch: m.epoch });
        if (m.type !== 'update') continue;
        const prev = last.get(m.key);
        expect(prev, `update for ${m.key} before its snapshot`).toBeDefined();
        expect(m.epoch).toBe(prev!.epoch);
        expect(m.from ?? m.seq, `gap on ${m.key}`).toBe(prev!.seq + 1);
        last.set(m.key, { seq: m.seq, epoch: m.epoch });
      }
    } finally {
      ws.close();
    }
  }, 40_000);

  it('answers deep links with index.html (no-cache), and they survive a browser refresh', async () => {
    const indexHtml = readFileSync(path.join(topo.webRoot, 'index.html'), 'utf8');
    for (const p of [`/s/${SYM}`, '/foreign', '/', '/index.html']) {
      const res = await edge(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type'), p).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control'), p).toBe('no-cache');
      expect(await res.text(), p).toBe(indexHtml);
      expectSecurityHeaders(res);
    }

    const { page, problems } = await openSignedIn(`${topo.edgeUrl}/s/${SYM}`);
    try {
      await page.waitForFunction((sym) => document.querySelector('#sym-h')?.textContent === sym, SYM, { timeout: 30_000 });
      await page.reload({ waitUntil: 'domcontentloaded' });
      await page.waitForFunction((sym) => document.querySelector('#sym-h')?.textContent === sym, SYM, { timeout: 30_000 });
      await page.waitForSelector(LIVE, { timeout: 30_000 });

      await page.goto(`${topo.edgeUrl}/foreign`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#foreign-h', { timeout: 30_000 });
      await page.reload({ waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#foreign-h', { timeout: 30_000 });
      expect(await page.locator('#foreign-h').textContent()).toBe('Foreign flows');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  it('serves the hashed build assets for a year (immutable, gzip) and a missing one as a JSON 404', async () => {
    const html = await (await edge('/')).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    for (const a of assets) {
      const res = await edge(a, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status, a).toBe(200);
      expect(res.headers.get('cache-control'), a).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type'), a).toMatch(a.endsWith('.css') ? /^text\/css/ : /javascript/);
      expectSecurityHeaders(res);
      const body = await res.text();
      expect(body.length).toBeGreaterThan(100);
      // gzip_min_length 1024 (deploy/nginx/snippets/common-http.conf): a tiny chunk (the bundler's runtime) goes as it is.
      expect(res.headers.get('content-encoding'), a).toBe(Buffer.byteLength(body) >= 1024 ? 'gzip' : null);
    }
    const missing = await edge('/assets/index-0000dead.js');
    expect(missing.headers.get('cache-control') ?? '').not.toMatch(/immutable/);
    expectSecurityHeaders(missing);
    await expectJsonError(missing, 404, 'NOT_FOUND');
  }, 30_000);

  it("keeps a client's X-Request-ID end to end: response, edge access log and the api's JSON log", async () => {
    const mine = `prod-e2e.${Date.now()}:ok_-`;
    const res = await edge(`/api/quotes?symbols=${SYM}`, { headers: { 'x-request-id': mine } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(mine);
    expectSecurityHeaders(res);
    expect(topo.edge.accessLog().find((l) => l.request_id === mine)).toMatchObject({ method: 'GET', path: '/api/quotes', status: 200 });
    // The api logs once the response is finished: poll briefly.
    const deadline = Date.now() + 5_000;
    let lines = apiLogLines().filter((l) => l.request_id === mine);
    while (!lines.some((l) => l.msg === 'request completed') && Date.now() < deadline) {
      await sleep(100);
      lines = apiLogLines().filter((l) => l.request_id === mine);
    }
    expect(lines.find((l) => l.msg === 'incoming request')).toMatchObject({ req: { method: 'GET', url: `/api/quotes?symbols=${SYM}` } });
    expect(lines.find((l) => l.msg === 'request completed')).toMatchObject({ res: { statusCode: 200 } });

    // An id that could break a header or a log line is replaced, consistently on both sides.
    const replaced = await edge('/api/quotes?symbols=' + SYM, { headers: { 'x-request-id': 'bad id <x>' } });
    const id = replaced.headers.get('x-request-id')!;
    expect(id).toMatch(NGINX_ID);
    await replaced.body?.cancel();
    const deadline2 = Date.now() + 5_000;
    while (!apiLogLines().some((l) => l.request_id === id) && Date.now() < deadline2) await sleep(100);
    expect(apiLogLines().some((l) => l.request_id === id)).toBe(true);
  }, 30_000);

  it('keeps /metrics and the other operator endpoints unreachable through the edge (JSON 404)', async () => {
    for (const p of ['/metrics', '/readyz', '/api/health', '/api/docs']) {
      const res = await edge(p);
      expectSecurityHeaders(res);
      await expectJsonError(res, 404, 'NOT_FOUND');
    }
    // They exist on the api process itself: the edge hides them, nothing else does.
    const direct = await fetch(`${topo.apis[0]!.url}/metrics`);
    expect(direct.status).toBe(200);
    expect(await direct.text()).toMatch(/^# (HELP|TYPE) /m);
  }, 30_000);

  it('refuses an oversized body with a JSON 413 before any api process sees it', async () => {
    const mine = `prod-e2e-413-${Date.now()}`;
    // EDGE_MAX_BODY_SIZE defaults to 1m in the compose file.
    const res = await edge('/api/auth/login', { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024), headers: { 'content-type': 'application/json', 'x-request-id': mine } });
    expect(res.headers.get('x-request-id')).toBe(mine);
    expectSecurityHeaders(res);
    await expectJsonError(res, 413, 'PAYLOAD_TOO_LARGE');
    await sleep(300);
    expect(apiLogLines().filter((l) => l.request_id === mine)).toEqual([]);
  }, 30_000);

  it('answers a burst over the edge rate limit with JSON 429s', async () => {
    // Compose defaults: EDGE_API_RATE 20r/s, EDGE_API_BURST 40 per client address. 90 at once stays
    // under EDGE_CONN_PER_IP (100 in flight), so the rate limit is what answers.
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 90 }, () => edge(`/api/quotes?symbols=${SYM}`)));
    const elapsedS = (Date.now() - started) / 1_000;
    const limited = answers.filter((r) => r.status === 429);
    const passed = answers.filter((r) => r.status === 200);
    expect(limited.length + passed.length).toBe(answers.length);
    expect(passed.length).toBeGreaterThan(0);
    expect(limited.length).toBeGreaterThan(0);
    // One, the burst, and what 20r/s refilled while the requests went out.
    expect(passed.length).toBeLessThanOrEqual(1 + 40 + Math.ceil(20 * elapsedS) + 1);
    for (const res of limited) {
      expect(res.headers.get('retry-after')).toBe('1');
      expectSecurityHeaders(res);
      await expectJsonError(res, 429, 'RATE_LIMITED');
    }
    await Promise.all(passed.map((r) => r.body?.cancel()));
    // Let the bucket refill (40 at 20/s) before the next test uses the API.
    await sleep(2_500);
  }, 30_000);

  it('backs up the live database and restores it into a fresh one with equal row counts', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'st-topo-backup-'));
    const target = uniqueDbName('st_iso');
    try {
      // The backup job: compose's environment, the database being written by the collector meanwhile.
      const backup = await runJob(['backup', '--out', out], { ...topo.serverEnv, BACKUP_DIR: out, BACKUP_KEEP: '7' });
      expect(backup.code, backup.stderr).toBe(0);
      const archive = backup.stdout.trim().split('\n').at(-1)!;
      expect(readdirSync(out).sort()).toEqual([path.basename(archive), path.basename(archive).replace(/\.dump$/, '.json')].sort());
      const manifest = JSON.parse(readFileSync(archive.replace(/\.dump$/, '.json'), 'utf8')) as BackupManifest;
      const counts = manifest.tables;
      // Live market data was in it: the collector had been writing trades for a while.
      expect(counts.trades, 'trades in the backup').toBeGreaterThan(0);

      // Restore with --create needs CREATEDB, which the application's role does not have: an operator restores.
      const restore = await runJob(['restore', archive, '--target-database', target, '--create', '--database-url', topo.database.adminUrl], topo.serverEnv);
      expect(restore.code, `${restore.stdout}\n${restore.stderr}`).toBe(0);

      // Counted here, independently of the restore's own verification.
      const client = new pg.Client({ connectionString: databaseUrlFor(topo.database.adminUrl, target) });
      await client.connect();
      try {
        expect(Object.keys(counts).length).toBeGreaterThan(3);
        for (const [table, n] of Object.entries(counts)) {
          // Keys are `name` in public, `schema.name` elsewhere.
          const qualified = (table.includes('.') ? table.split('.', 2) : ['public', table]).map((part) => client.escapeIdentifier(part)).join('.');
          const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified}`);
          expect(Number(rows[0]!.n), table).toBe(n);
        }
      } finally {
        await client.end();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
      await dropDatabase(topo.database.adminUrl, target).catch(() => {});
    }
  }, 90_000);

  it('answers JSON 502/503 with both api processes stopped, and the board recovers when they return', async () => {
    const { page, problems } = await openBoard();
    try {
      await topo.stopApis();
      for (const p of ['/api/quotes', '/api/market/status']) {
        const res = await edge(p);
        expect([502, 503], p).toContain(res.status);
        expectSecurityHeaders(res);
        await expectJsonError(res, res.status, res.status === 502 ? 'BAD_GATEWAY' : 'SERVICE_UNAVAILABLE');
      }
      // A WebSocket upgrade gets the same JSON answer instead of a socket.
      const ws = new WebSocket(`ws://127.0.0.1:${topo.edgePort}/ws/market`, { headers: { origin: topo.edgeUrl } });
      ws.on('error', () => {}); // terminate() below reports the aborted handshake as an error
      const [, refused] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number; headers: Record<string, string> }];
      expect([502, 503]).toContain(refused.statusCode);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      ws.terminate();
      // The SPA itself is still served (the web nginx is up) and says the data is not live.
      expect((await edge('/')).status).toBe(200);
      await page.waitForSelector('.conn[data-state="reconnecting"], .conn[data-state="closed"]', { timeout: 20_000 });

      await topo.startApis();
      // The client's backoff may be several seconds into its schedule by now.
      await page.waitForSelector(LIVE, { timeout: 60_000 });
      expect(await page.locator('.board-scroll.stale').count()).toBe(0);
      const changed = await rowsChanging(page, await rowTexts(page), 3, 15_000);
      expect(changed.length, 'rows change again after the restart').toBeGreaterThanOrEqual(3);
      expect((await edge('/api/quotes')).status).toBe(200);
      // Failed sockets and requests while the API was down are expected; exceptions are not.
      expect(problems.filter((p) => p.startsWith('pageerror'))).toEqual([]);
    } finally {
      await page.close();
    }
  }, 150_000);
});
