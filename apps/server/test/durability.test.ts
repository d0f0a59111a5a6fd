/**
 * Durability: the simulator drives the market engine, whose outputs go
 * through the StorageWriter into a private PostgreSQL. Mid-stream the server
 * is killed (`pg_ctl stop -m immediate`), production continues until the
 * writer's buffer is full and the producer has to wait, then the server comes
 * back. At the end every trade produced is stored exactly once: same count,
 * same md5 over the sorted keys, no duplicates.
 */
import { createHash } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import type { EngineOutput } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';
import { openDatabase, type Db } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { StorageWriter } from '../src/storage/writer.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../../../test/helpers/private-postgres.ts';
import { tempDir } from '../../../test/helpers/database.ts';

const MAX_BUFFERED = 5_000;
const STEP_MS = 500;
const STEPS = 120; // one compressed trading day of 60 s
const STOP_AT_STEP = 25;

describe('durability across a PostgreSQL crash', () => {
  let pgi: PrivatePostgres;
  let db: Db;
  const dir = tempDir();

  beforeAll(async () => {
    pgi = await startPrivatePostgres();
    db = await openDatabase({ databaseUrl: pgi.url, dataDir: dir.path, poolSize: 4, connectTimeoutMs: 1_000 });
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close().catch(() => {});
    await pgi?.destroy();
    dir.remove();
  });

  it('stores every produced trade exactly once, with backpressure instead of loss during the outage', { timeout: 180_000 }, async () => {
    // Batches large enough for the COPY path once a backlog builds up.
    const writer = new StorageWriter(db, { maxBufferedRows: MAX_BUFFERED, maxBatchRows: 2_500, flushIntervalMs: 20, retry: { baseMs: 20, maxMs: 250 } });
    const startTs = Date.UTC(2024, 6, 2, 1, 0);
    const sim = new Simulator({ seed: 7, startTs, dayMs: 60_000, symbols: 20, intensity: 2_000 });
    const engine = new MarketEngine();

    const produced: string[] = [];
    const closedBars = new Set<string>();
    let maxBuffered = 0;
    let waits = 0;
    const outage = { sawFailing: false, sawPingFail: false, backpressureAtRestart: 0, bufferedAtRestart: 0, producedWhileDown: 0 };

    const outs: EngineOutput[] = [];
    const collect = (o: EngineOutput) => outs.push(o);
    const deliver = async () => {
      for (const o of outs) {
        if (o.type === 'trade') produced.push(`${o.trade.symbol}:${o.trade.id}`);
        if (o.type === 'bar' && o.bar.closed && o.bar.interval === '1m') closedBars.add(`${o.bar.symbol}:${o.bar.ts}`);
        // Backpressure: the producer waits and offers the same output again; nothing is dropped.
        while (!writer.offer(o)) {
          waits++;
          await writer.waitForCapacity();
        }
        maxBuffered = Math.max(maxBuffered, writer.status().buffered);
      }
      outs.length = 0;
    };

    let restarted: Promise<void> | null = null;
    let t = startTs;
    for (let step = 0; step < STEPS; step++) {
      t += STEP_MS;
      sim.advanceTo(t, (ev) => engine.apply(ev, collect));
      engine.advance(t, collect);
      if (step === STOP_AT_STEP) {
        expect(produced.length).toBeGreaterThan(1_000);
        await pgi.stop('immediate');
        const producedBefore = produced.length;
        const refusedBefore = writer.status().backpressure; // the producer may have outrun the writer before, too
        // Restart only once the writer reports the failure and refused an output since the crash (buffer full, producer blocked).
        restarted = (async () => {
          await vi.waitFor(
            () => {
              const s = writer.status();
              if (s.failing) outage.sawFailing = true;
              expect(s.failing).toBe(true);
              expect(s.backpressure).toBeGreaterThan(refusedBefore);
            },
            { timeout: 60_000, interval: 10 },
          );
          outage.sawPingFail = !(await db.ping());
          outage.backpressureAtRestart = writer.status().backpressure - refusedBefore;
          outage.bufferedAtRestart = writer.status().buffered;
          outage.producedWhileDown = produced.length - producedBefore;
          // Stay down a little longer: several backoff rounds while the producer is blocked.
          await new Promise((r) => setTimeout(r, 500));
          expect(writer.status().buffered).toBe(MAX_BUFFERED);
          await pgi.start();
        })();
      }
      await deliver();
      await tick();
    }
    await restarted;
    await writer.flush();
    const status = writer.status();
    await writer.close();

    if (process.env.DEBUG_DURABILITY) console.log(JSON.stringify({ produced: produced.length, bars: closedBars.size, waits, outage, retries: status.retries }));
    // The outage really happened and was absorbed by buffering + backpressure.
    expect(outage.sawFailing).toBe(true);
    expect(outage.sawPingFail).toBe(true);
    expect(outage.backpressureAtRestart).toBeGreaterThan(0);
    expect(outage.bufferedAtRestart).toBe(MAX_BUFFERED);
    expect(outage.producedWhileDown).toBeGreaterThan(0);
    expect(waits).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(MAX_BUFFERED);
    expect(status).toMatchObject({ failing: false, buffered: 0, dropped: 0, rejected: 0 });
    expect(status.retries).toBeGreaterThan(1);

    // Every trade produced is stored exactly once.
    expect(new Set(produced).size).toBe(produced.length);
    const sorted = [...produced].sort((a, b) => {
      const [sa, ia] = a.split(':') as [string, string];
      const [sb, ib] = b.split(':') as [string, string];
      return sa < sb ? -1 : sa > sb ? 1 : ia < ib ? -1 : ia > ib ? 1 : 0;
    });
    const expectedMd5 = createHash('md5').update(sorted.join(',')).digest('hex');
    const { rows } = await db.query<{ n: number; distinct_n: number; md5: string }>(
      `SELECT count(*)::int AS n, count(DISTINCT (symbol, id))::int AS distinct_n,
              md5(string_agg(symbol || ':' || id, ',' ORDER BY symbol COLLATE "C", id COLLATE "C")) AS md5
       FROM trades`,
    );
    expect(rows[0]).toEqual({ n: produced.length, distinct_n: produced.length, md5: expectedMd5 });

    // Closed 1-minute bars too.
    const bars = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM bars_1m');
    expect(bars.rows[0]!.n).toBe(closedBars.size);
  });
});
