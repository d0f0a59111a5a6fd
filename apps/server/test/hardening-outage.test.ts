/**
 * Issue 12 §4: a PostgreSQL outage longer than the storage writer's buffer
 * must not freeze live data nor grow the process without bound.
 *
 * The real `all` role (startAll: engine, in-process bus, WebSocket gateway,
 * StorageWriter with its spill under DATA_DIR) is fed by a vendor-like feed
 * that CANNOT pause: it pushes a fixed slice of a simulated tape every 20 ms,
 * whatever happens downstream. PostgreSQL (a database of its own on the test
 * server) is reached through the TCP fault proxy; the outage refuses new
 * connections and resets the open ones — PostgreSQL stopped, as the writer
 * sees it. The writer's buffer is tiny (STORAGE_BUFFER_ROWS=100), so the
 * outage overflows it many times over.
 *
 * Checked: a real WebSocket client keeps receiving trades during the outage
 * (every trade the engine produced reaches it); the writer's own accounting
 * (/metrics) stays within its bound while the spill grows; /readyz stays 200
 * and names the degraded storage; after recovery the spill drains and every
 * trade is stored exactly once (count and set equality of ids).
 *
 * Second case: a real `stock-tracker all` process is killed with SIGKILL
 * while its spill holds rows; a restart on the same SPILL_DIR (whose own feed
 * produces nothing) stores every trade that was in the spill.
 *
 * Before the fix this failed: the pipeline stopped applying events when the
 * writer was full, so trades stopped reaching the WebSocket and the events
 * queued without bound in front of the engine.
 */
import pg from 'pg';
import type { EngineOutput, MarketEvent } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator, type Feed, type FeedStatus } from '@stock-tracker/feeds';
import { loadConfig } from '../src/config.ts';
import { startAll, type RunningServer } from '../src/roles/all.ts';
import { migrate } from '../src/storage/migrate.ts';
import { openDatabase } from '../src/storage/db.ts';
import { createIsolatedDatabase, tempDir, type IsolatedDatabase, type TempDir } from '../../../test/helpers/database.ts';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.ts';
import { RawClient } from './ws-test-helpers.ts';
import { startServer, type ServerHandle } from '../../../test/helpers/server.ts';
import { spillLabel } from '../src/storage/spill.ts';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';

const BUFFER_ROWS = 100;
const SPILL_MAX_BYTES = 64 << 20;
const SLICE_MS = 20;

/** A vendor-like feed: no pause/resume; pushes `perSlice` events every SLICE_MS regardless of backpressure. */
class UnpausableFeed implements Feed {
  readonly name = 'vendor';
  private timer: NodeJS.Timeout | null = null;
  private pos = 0;
  private sink: ((ev: MarketEvent) => void) | null = null;
  constructor(
    private readonly tape: readonly MarketEvent[],
    private readonly perSlice: number,
  ) {}
  get pushed(): number {
    return this.pos;
  }
  get done(): boolean {
    return this.pos >= this.tape.length;
  }
  async start(sink: (ev: MarketEvent) => void): Promise<void> {
    this.sink = sink;
    this.timer = setInterval(() => {
      const end = Math.min(this.tape.length, this.pos + this.perSlice);
      while (this.pos < end) this.sink?.(this.tape[this.pos++]!);
    }, SLICE_MS);
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sink = null;
  }
  status(): FeedStatus {
    return { name: this.name, connected: this.sink !== null, lastEventTs: null, events: this.pos, malformed: 0, errors: {} };
  }
}

async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && !m[2]?.includes('state=')) out[m[1]!] = Number(m[3]);
  }
  return out;
}

const until = async (cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('PostgreSQL outage longer than the writer buffer, feed that cannot pause', () => {
  let db: IsolatedDatabase;
  let proxy: FaultProxy;
  let dir: TempDir;
  let server: RunningServer | undefined;
  let client: RawClient | undefined;

  beforeAll(async () => {
    db = await createIsolatedDatabase('st_outage');
    const m = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
    await migrate(m);
    await m.close();
    const u = new URL(db.url);
    proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port || 5432) } });
    dir = tempDir('st-outage-');
  });
  afterAll(async () => {
    client?.close();
    await server?.close().catch(() => {});
    await proxy?.close();
    await db?.drop().catch(() => {});
    dir?.remove();
  });

  it('keeps live trades flowing, stays bounded, and stores every trade exactly once after recovery', { timeout: 90_000 }, async () => {
    // The tape: a compressed trading day; the trades the engine makes of it are what must be stored.
    const startTs = Date.UTC(2024, 6, 2, 2, 0);
    const tape = new Simulator({ seed: 12, startTs, dayMs: 60_000, symbols: 20, intensity: 400 }).advanceTo(startTs + 30_000);
    const expected = new Set<string>();
    const ref = new MarketEngine();
    for (const ev of tape) ref.apply(ev, (o: EngineOutput) => o.type === 'trade' && expected.add(`${o.trade.symbol}:${o.trade.id}`));
    expect(expected.size).toBeGreaterThan(1_500);
    // ~10 s of pushing at a fixed rate.
    const feed = new UnpausableFeed(tape, Math.ceil(tape.length / (10_000 / SLICE_MS)));

    const proxied = new URL(db.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const config = loadConfig({
      APP_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dir.path,
      DATABASE_URL: proxied.toString(),
      STORAGE_BUFFER_ROWS: String(BUFFER_ROWS),
      SPILL_MAX_BYTES: String(SPILL_MAX_BYTES),
      FEED_STALE_AFTER_MS: '0',
      LOG_LEVEL: 'silent',
      SHUTDOWN_TIMEOUT_MS: '20000',
    });
    server = await startAll({ config, feed });
    const url = server.url;

    // A real WebSocket client on every trades stream, recording the ids and when they arrived.
    client = await RawClient.open(`${url.replace('http', 'ws')}/ws/market`);
    const live: { id: string; at: number }[] = [];
    client.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; key?: string; data?: unknown };
      if (m.key?.endsWith(':trades')) {
        const items = m.type === 'snapshot' ? (m.data as { symbol: string; id: string }[]) : m.type === 'update' ? [m.data as { symbol: string; id: string }] : [];
        for (const t of items) live.push({ id: `${t.symbol}:${t.id}`, at: Date.now() });
      }
    });
    client.send({ op: 'subscribe', id: 's1', symbols: ['*'], trades: true });
    await client.next((m) => m.type === 'subscribed');
    await until(async () => (await metrics(url)).storage_rows_stored_total > 0 || live.length > 50, 'first trades');

    // --- the outage: PostgreSQL unreachable (connections reset, new ones refused) ---
    proxy.refuse(true);
    proxy.cutAll();
    const outageAt = Date.now();
    let maxMemory = 0;
    let maxSpillBytes = 0;
    let sample: Record<string, number> = {};
    let readyDuring: { status: number; body: { degraded?: string[]; checks: Record<string, { ok: boolean; detail?: string }> } } | undefined;
    // Stay down until the spill holds many times the buffer (the bound is the writer's own accounting).
    await until(async () => {
      sample = await metrics(url);
      maxMemory = Math.max(maxMemory, sample.storage_buffered_rows! - sample.storage_coalescing_rows!);
      maxSpillBytes = Math.max(maxSpillBytes, sample.storage_spill_bytes!);
      return sample.storage_spill_rows! >= 8 * BUFFER_ROWS;
    }, 'the spill to hold 8x the buffer');
    const r = await fetch(`${url}/readyz`);
    readyDuring = { status: r.status, body: (await r.json()) as never };
    const liveBefore = live.filter((t) => t.at < outageAt).length;
    const liveDuring = live.filter((t) => t.at >= outageAt).length;
    const heldDuring = sample.collector_held_outputs;
    const outageMs = Date.now() - outageAt;

    // --- recovery ---
    proxy.resetAll();
    const recoveredAt = Date.now();
    const spilledRows = (await metrics(url)).storage_spill_rows_written_total!;
    await until(async () => feed.done, 'the tape to be pushed completely');
    await until(async () => {
      const m = await metrics(url);
      return m.storage_spill_active === 0 && m.storage_buffered_rows === m.storage_coalescing_rows;
    }, 'the spill to drain');
    const drainedMs = Date.now() - recoveredAt;
    const end = await metrics(url);
    await until(() => live.length >= expected.size, 'every trade on the WebSocket', 10_000).catch(() => {});
    client.close();
    await server.close();
    server = undefined;

    // Live data was unaffected: trades kept arriving during the outage, and every trade reached the client.
    expect(liveBefore).toBeGreaterThan(0);
    expect(liveDuring).toBeGreaterThan(BUFFER_ROWS);
    const liveIds = new Set(live.map((t) => t.id));
    expect(liveIds).toEqual(expected);
    // Bounded: the writer's memory never held more than its buffer; the rest went to the spill (within its cap);
    // the pipeline never had to hold or drop anything.
    expect(maxMemory).toBeLessThanOrEqual(BUFFER_ROWS);
    expect(maxSpillBytes).toBeGreaterThan(0);
    expect(maxSpillBytes).toBeLessThanOrEqual(SPILL_MAX_BYTES);
    expect(heldDuring).toBe(0);
    expect(end.collector_storage_dropped_total ?? 0).toBe(0);
    expect(end.storage_spill_rows_drained_total).toBe(end.storage_spill_rows_written_total);
    // Readiness: still serving (200), storage reported as degraded with its backlog.
    expect(readyDuring.status).toBe(200);
    expect(readyDuring.body.degraded).toEqual(expect.arrayContaining(['storage_writer', 'database']));
    expect(readyDuring.body.checks.storage_writer!.detail).toMatch(/spill ok: \d+ rows/);

    // Every trade stored exactly once.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ symbol: string; id: string }>('SELECT symbol, id FROM trades');
      const stored = rows.map((x) => `${x.symbol}:${x.id}`);
      expect(stored.length).toBe(expected.size);
      expect(new Set(stored)).toEqual(expected);
    } finally {
      await c.end();
    }
    if (process.env.DEBUG_OUTAGE) {
      console.log(
        JSON.stringify({
          trades: expected.size,
          outageMs,
          liveDuring,
          spilledRowsAtRecovery: spilledRows,
          maxSpillBytes,
          bytesPerRow: sample.storage_spill_bytes! / sample.storage_spill_rows!,
          drainedRows: end.storage_spill_rows_drained_total,
          drainedMs,
          maxMemory,
        }),
      );
    }
  });
});

describe('a process killed (SIGKILL) during the outage leaves a spill; the next start drains it', () => {
  let db: IsolatedDatabase;
  let proxy: FaultProxy;
  let spillRoot: TempDir;
  const servers: ServerHandle[] = [];
  let restarted: RunningServer | undefined;

  beforeAll(async () => {
    db = await createIsolatedDatabase('st_outage_kill');
    const m = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
    await migrate(m);
    await m.close();
    const u = new URL(db.url);
    proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port || 5432) } });
    spillRoot = tempDir('st-outage-spill-');
  });
  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => {});
    await restarted?.close().catch(() => {});
    await proxy?.close();
    await db?.drop().catch(() => {});
    spillRoot?.remove();
  });

  it('every trade that was in the spill at the kill is stored after the restart (whose own feed produces nothing)', { timeout: 120_000 }, async () => {
    const proxied = new URL(db.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const env = (seed: number) => ({
      DATABASE_URL: proxied.toString(),
      SPILL_DIR: spillRoot.path,
      STORAGE_BUFFER_ROWS: String(BUFFER_ROWS),
      SIM_SEED: String(seed),
      SIM_INTENSITY: '200',
      FEED_STALE_AFTER_MS: '0',
      LOG_LEVEL: 'info',
    });
    const T = Date.now();
    const lap = (what: string) => process.env.DEBUG_OUTAGE && console.log(what, Date.now() - T);
    const first = await startServer({ env: env(1) });
    lap('first started');
    servers.push(first);
    await until(async () => (await metrics(first.url)).storage_rows_stored_total! > 0, 'first rows stored');
    proxy.refuse(true);
    proxy.cutAll();
    await until(async () => (await metrics(first.url)).storage_spill_rows! >= BUFFER_ROWS, 'rows in the spill', 60_000);
    lap('spilled');
    await first.stop('SIGKILL');

    // What the crashed process left, read without touching it: trades in complete lines (a torn last one never counts).
    const dir = join(spillRoot.path, spillLabel(proxied.toString()));
    const spilled = new Set<string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ndjson'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean)) {
        for (const [table, row] of (JSON.parse(l) as { rows: [string, { symbol: string; id: string }][] }).rows) if (table === 'trades') spilled.add(`${row.symbol}:${row.id}`);
      }
    }
    expect(spilled.size).toBeGreaterThan(0);

    proxy.resetAll();
    // The restart, in this process for speed, with a feed that produces nothing: the spilled trades can only come from
    // the spill.
    const second = await startAll({
      config: loadConfig({ APP_ENV: 'test', HOST: '127.0.0.1', PORT: '0', DATA_DIR: spillRoot.path, ...env(2), LOG_LEVEL: 'silent' }),
      feed: new UnpausableFeed([], 1),
    });
    restarted = second;
    lap('second started');
    await until(async () => {
      const m = await metrics(second.url);
      return m.storage_spill_active === 0 && m.storage_spill_rows_drained_total! > 0;
    }, 'the inherited spill to drain', 60_000);
    lap('drained');
    const drained = (await metrics(second.url)).storage_spill_rows_drained_total!;
    await second.close();
    restarted = undefined;
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson'))).toEqual([]);

    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ symbol: string; id: string }>('SELECT symbol, id FROM trades');
      const stored = new Set(rows.map((x) => `${x.symbol}:${x.id}`));
      const missing = [...spilled].filter((k) => !stored.has(k));
      expect(missing).toEqual([]);
      expect(drained).toBeGreaterThanOrEqual(spilled.size);
    } finally {
      await c.end();
    }
  });
});
