/**
 * Storage ingest on real PostgreSQL: how trades are best inserted in batches
 * (multi-row VALUES, unnest arrays, COPY into a staging table), against raw
 * COPY straight into the table (the ceiling), and the StorageWriter end to end.
 *
 *   npx tsx bench/storage.bench.ts            (BENCH_DATABASE_URL or the local postgres)
 *
 * Prints one JSON line per measurement: {"bench":"storage", ...}.
 */
import pg from 'pg';
import type { ClassifiedTrade } from '@stock-tracker/protocol';
import { openDatabase, type Db } from '../apps/server/src/storage/db.ts';
import { migrate } from '../apps/server/src/storage/migrate.ts';
import { copyRows } from '../apps/server/src/storage/sql-batch.ts';
import { tradesSpec, writeRows, type InsertMode } from '../apps/server/src/storage/tables.ts';
import { StorageWriter } from '../apps/server/src/storage/writer.ts';

const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const BATCHES = [1_000, 5_000];
const RUNS = 3;

function makeTrades(n: number, salt: string): ClassifiedTrade[] {
  const symbols = Array.from({ length: 40 }, (_, i) => `S${String(i).padStart(2, '0')}`);
  const t0 = Date.UTC(2024, 0, 2, 2, 15);
  return Array.from({ length: n }, (_, i) => ({
    id: `${salt}-${i}`,
    symbol: symbols[i % symbols.length]!,
    ts: t0 + Math.floor(i / 4) * 7,
    price: 10_000 + (i % 97) * 50,
    volume: 100 * (1 + (i % 13)),
    side: i % 3 === 0 ? 'buy' : i % 3 === 1 ? 'sell' : 'unknown',
    sideSource: 'quote',
    phase: 'continuous',
  }));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main() {
  const name = `st_bench_${Date.now()}_${process.pid}`;
  const admin = new pg.Client(ADMIN_URL);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db: Db = await openDatabase({ databaseUrl: url.toString(), dataDir: '' });
  try {
    await migrate(db);
    const modes: InsertMode[] = ['values', 'unnest', 'copy_staged', 'copy'];
    const insertAll = async (trades: ClassifiedTrade[], batch: number, mode: InsertMode) => {
      for (let i = 0; i < trades.length; i += batch) {
        const chunk = trades.slice(i, i + batch);
        await db.transaction((tx) => writeRows(tx, tradesSpec, chunk, mode));
      }
    };
    for (const batch of BATCHES) {
      // Modes interleaved run by run, so that load from elsewhere hits them alike.
      const best = new Map<InsertMode, number>(modes.map((m) => [m, Infinity]));
      for (let run = 0; run < RUNS; run++) {
        for (const mode of modes) {
          await db.exec('TRUNCATE trades');
          const trades = makeTrades(ROWS, `${mode}${run}`);
          best.set(mode, Math.min(best.get(mode)!, await timed(() => insertAll(trades, batch, mode))));
        }
      }
      for (const mode of modes) {
        console.log(JSON.stringify({ bench: 'storage', case: `trades_${mode}`, batch, rows: ROWS, rowsPerSec: Math.round(ROWS / (best.get(mode)! / 1000)) }));
      }
    }
    // Worst case of `copy`: every batch is already stored (a replay), so each COPY fails and falls back.
    {
      await db.exec('TRUNCATE trades');
      const trades = makeTrades(ROWS, 'replay');
      await insertAll(trades, 5_000, 'unnest');
      let worst = Infinity;
      for (let run = 0; run < RUNS; run++) worst = Math.min(worst, await timed(() => insertAll(trades, 5_000, 'copy')));
      console.log(JSON.stringify({ bench: 'storage', case: 'trades_copy_all_duplicates', batch: 5_000, rows: ROWS, rowsPerSec: Math.round(ROWS / (worst / 1000)) }));
    }
    // Ceiling: raw COPY straight into the table (no conflict handling possible).
    let best = Infinity;
    for (let run = 0; run < RUNS; run++) {
      await db.exec('TRUNCATE trades');
      const trades = makeTrades(ROWS, `raw${run}`);
      best = Math.min(
        best,
        await timed(async () => {
          for (let i = 0; i < trades.length; i += 5_000) {
            const chunk = trades.slice(i, i + 5_000);
            await db.copyFrom!(`COPY trades (${tradesSpec.columns.map((c) => c.name).join(', ')}) FROM STDIN`, copyRows(tradesSpec, chunk));
          }
        }),
      );
    }
    console.log(JSON.stringify({ bench: 'storage', case: 'trades_raw_copy', batch: 5_000, rows: ROWS, rowsPerSec: Math.round(ROWS / (best / 1000)) }));
    // End to end through the writer (offer → batch → idempotent insert).
    await db.exec('TRUNCATE trades');
    const writer = new StorageWriter(db, { maxBufferedRows: 50_000, maxBatchRows: 5_000, flushIntervalMs: 50 });
    const trades = makeTrades(ROWS, 'writer');
    const ms = await timed(async () => {
      for (const trade of trades) {
        while (!writer.offer({ type: 'trade', trade })) await writer.waitForCapacity();
      }
      await writer.flush();
    });
    await writer.close();
    console.log(JSON.stringify({ bench: 'storage', case: 'writer_trades', batch: 5_000, rows: ROWS, rowsPerSec: Math.round(ROWS / (ms / 1000)) }));
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
