/**
 * Storage ingest: the StorageWriter end to end (offer → validate → batch →
 * idempotent insert, production defaults) against a raw `COPY` of the same
 * rows through pg-copy-streams into an identical table (`CREATE TABLE … (LIKE
 * trades INCLUDING ALL)`: same columns, primary key and indexes), on real
 * PostgreSQL, interleaved run by run so that load from elsewhere hits both alike.
 *
 *   npm run bench -- storage-ingest    or   npx tsx bench/storage-ingest.bench.ts
 *
 * Two raw baselines: one COPY statement for all rows (the ceiling), and one
 * COPY per 5,000 rows (the writer's batch size, each its own transaction).
 * Creates and drops its own database on BENCH_ADMIN_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * Knobs: INGEST_ROWS=200000  INGEST_RUNS=5  BENCH_ADMIN_URL
 * Prints {"bench":"storage_ingest",...}; target: writer ≥ 0.8× raw COPY.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ClassifiedTrade } from '@stock-tracker/protocol';
import { openDatabase } from '../apps/server/src/storage/db.ts';
import { migrate } from '../apps/server/src/storage/migrate.ts';
import { StorageWriter } from '../apps/server/src/storage/writer.ts';
import { fmt, knob, note, result, round, table } from './lib/report.ts';

const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = knob('INGEST_ROWS', 200_000, 1_000, 100_000_000);
const RUNS = knob('INGEST_RUNS', 5, 1, 100);
const BATCH = 5_000;
const TARGET = 0.8;

/** Trades as the engine emits them: 60 symbols, a few per millisecond, HOSE-like prices and lots. */
function makeTrades(n: number, salt: string): ClassifiedTrade[] {
  const symbols = Array.from({ length: 60 }, (_, i) => `SYM${String(i).padStart(2, '0')}`);
  const t0 = Date.UTC(2024, 0, 2, 2, 15);
  const sides = ['buy', 'sell', 'unknown'] as const;
  return Array.from({ length: n }, (_, i) => ({
    id: `${salt}-${i}`,
    symbol: symbols[(i * 7) % symbols.length]!,
    ts: t0 + Math.floor(i / 3),
    price: 10_000 + (i % 97) * 50,
    volume: 100 * (1 + (i % 13)),
    side: sides[i % 3]!,
    sideSource: i % 3 === 2 ? 'tick' : 'quote',
    phase: 'continuous',
  }));
}

/** COPY text format: tab-separated, `\N` for null; our values contain no tabs, newlines or backslashes. */
const copyLine = (t: ClassifiedTrade) =>
  `${t.symbol}\t${new Date(t.ts).toISOString()}\t${t.id}\t${t.price}\t${t.volume}\t${t.side}\t${t.sideSource}\t${t.phase}\n`;
const COLUMNS = 'symbol, ts, id, price, volume, side, side_source, phase';

function* lines(trades: ClassifiedTrade[], from: number, to: number): Generator<string> {
  // ~64 KiB chunks: one stream write per chunk, not per row.
  let buf = '';
  for (let i = from; i < to; i++) {
    buf += copyLine(trades[i]!);
    if (buf.length > 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

async function rawCopy(client: pg.Client, trades: ClassifiedTrade[], perStatement: number): Promise<void> {
  for (let i = 0; i < trades.length; i += perStatement) {
    await pipeline(Readable.from(lines(trades, i, Math.min(trades.length, i + perStatement))), client.query(copyFrom(`COPY trades_raw (${COLUMNS}) FROM STDIN`)));
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const name = `st_bench_ingest_${Date.now()}_${process.pid}`;
const admin = new pg.Client(ADMIN_URL);
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const db = await openDatabase({ databaseUrl: url.toString(), dataDir: '' });
const raw = new pg.Client(url.toString());
try {
  await migrate(db);
  await raw.connect();
  await raw.query('CREATE TABLE trades_raw (LIKE trades INCLUDING ALL)');
  const { rows: ext } = await raw.query<{ hyper: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS hyper`,
  );
  if (ext[0]?.hyper) note('timescaledb is installed: trades may be a hypertable while trades_raw is a plain table; compare with care');

  const cases = ['writer', 'raw_copy_single', 'raw_copy_batched'] as const;
  const times = new Map<string, number[]>(cases.map((c) => [c, []]));
  for (let run = 0; run < RUNS; run++) {
    // Rotate the order so that no case always runs first (cold caches) or last.
    const order = cases.map((_, i) => cases[(i + run) % cases.length]!);
    for (const c of order) {
      await db.exec('TRUNCATE trades');
      await raw.query('TRUNCATE trades_raw');
      await raw.query('CHECKPOINT'); // each case starts with no dirty pages of the previous one to write back
      const trades = makeTrades(ROWS, `${c}${run}`);
      let ms: number;
      if (c === 'writer') {
        const writer = new StorageWriter(db); // production defaults, as in roles/all.ts
        ms = await timed(async () => {
          for (const trade of trades) while (!writer.offer({ type: 'trade', trade })) await writer.waitForCapacity();
          await writer.flush();
        });
        await writer.close();
        const stored = writer.status().stored.trades;
        if (stored !== ROWS) throw new Error(`writer stored ${stored} of ${ROWS} rows`);
      } else {
        ms = await timed(() => rawCopy(raw, trades, c === 'raw_copy_single' ? ROWS : BATCH));
        const { rows } = await raw.query<{ n: string }>('SELECT count(*) AS n FROM trades_raw');
        if (Number(rows[0]!.n) !== ROWS) throw new Error(`${c} stored ${rows[0]!.n} of ${ROWS} rows`);
      }
      times.get(c)!.push(ms);
      note(`  run ${run + 1} ${c}: ${fmt(ROWS / (ms / 1000))} rows/s`);
    }
  }

  const rate = (c: string) => ROWS / (Math.min(...times.get(c)!) / 1000);
  const median = (c: string) => {
    const s = [...times.get(c)!].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return ROWS / ((s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2) / 1000);
  };
  const writer = rate('writer');
  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const vs = c === 'writer' ? null : round(writer / rate(c), 3);
    result('storage_ingest', { case: c, rows: ROWS, runs: RUNS, rowsPerSec: Math.round(rate(c)), medianRowsPerSec: Math.round(median(c)), writerVs: vs });
    rows.push([c, Math.round(rate(c)), Math.round(median(c)), vs === null ? '-' : `${vs}×`]);
  }
  const vsSingle = writer / rate('raw_copy_single');
  const vsBatched = writer / rate('raw_copy_batched');
  result('storage_ingest', {
    case: 'targets',
    writerVsRawCopy: round(vsSingle, 3),
    writerVsRawCopyBatched: round(vsBatched, 3),
    target: TARGET,
    met: vsSingle >= TARGET,
    metBatched: vsBatched >= TARGET,
  });
  note(`\nstorage ingest — ${fmt(ROWS)} trades, best of ${RUNS} (PostgreSQL, ${process.version})`);
  table(['case', 'rows/s (best)', 'rows/s (median)', 'writer ÷ case'], rows);
  note(`writer is ${round(vsSingle, 2)}× a single raw COPY and ${round(vsBatched, 2)}× raw COPY per ${fmt(BATCH)} rows (target ≥ ${TARGET}×)`);
} finally {
  await raw.end().catch(() => {});
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
