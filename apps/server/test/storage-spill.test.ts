/**
 * The storage spill (storage/spill.ts) on its own — append, order across
 * segments, a torn last append after a crash, a corrupt line, the byte cap,
 * the lock, and a real kill -9 in the middle of appending — and the
 * StorageWriter with a spill over a database that is down (FaultyDb over
 * PGlite): offers keep being accepted past the memory buffer, memory stays
 * bounded, everything is stored exactly once and in order after the outage,
 * a full spill refuses, and a writer closed during the outage parks its
 * memory in the spill for the next start, which drains it.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { ClassifiedTrade, EngineOutput, SessionSummary } from '@stock-tracker/protocol';
import { SpillFullError, SpillLockedError, SpillStore, openSpill, spillLabel } from '../src/storage/spill.ts';
import { StorageWriter, type StorageWriterOptions } from '../src/storage/writer.ts';
import { openTestStorage, type TestStorage } from '../../../test/helpers/storage.ts';
import { FaultyDb } from '../../../test/helpers/faulty-db.ts';
import { tempDir, type TempDir } from '../../../test/helpers/database.ts';

const line = (rows: unknown[]) =>
  SpillStore.encode(
    rows.map((r) => JSON.stringify(r)),
    1_700_000_000_000,
  );
const segFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.ndjson')).sort();

/** Drains a store completely, returning every row in the order read. */
async function drainAll(s: SpillStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let b = await s.peek(); b; b = await s.peek()) {
    out.push(...b.rows);
    await s.commit();
  }
  return out;
}

describe('SpillStore', () => {
  const dirs: TempDir[] = [];
  const dir = () => {
    const d = tempDir('st-spill-');
    dirs.push(d);
    return d.path;
  };
  afterAll(() => {
    for (const d of dirs) d.remove();
  });

  it('appends durably and drains in order across segments; drained segments are deleted', async () => {
    const d = dir();
    const s = await SpillStore.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 200 });
    for (let i = 0; i < 20; i++) await s.append(line([i * 2, i * 2 + 1]), 2);
    expect(s.rows).toBe(40);
    expect(segFiles(d).length).toBeGreaterThan(3); // rotated
    expect(s.bytes).toBe(segFiles(d).reduce((n, f) => n + readFileSync(join(d, f)).length, 0));
    // Read half, then append more while reading: FIFO throughout.
    const first: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const b = (await s.peek<number>())!;
      expect(await s.peek()).toBe(b); // the same batch until committed
      first.push(...b.rows);
      await s.commit();
    }
    for (let i = 20; i < 25; i++) await s.append(line([i * 2, i * 2 + 1]), 2);
    const rest = await drainAll(s);
    expect([...first, ...rest]).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(s.rows).toBe(0);
    expect(await s.compact()).toBe(true);
    expect(segFiles(d)).toEqual([]);
    expect(s.bytes).toBe(0);
    await s.close();
  });

  it('peek(maxRows) joins consecutive small batches (whole batches only, never past maxRows); commit consumes them all', async () => {
    const s = await SpillStore.open({ dir: dir(), maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) await s.append(line([i * 3, i * 3 + 1, i * 3 + 2]), 3);
    const b = (await s.peek<number>(10))!;
    expect(b.rows).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]); // three batches: a fourth would pass 10
    await s.commit();
    expect(s.rows).toBe(21);
    expect((await s.peek<number>(2))!.rows).toEqual([9, 10, 11]); // at least one batch
    await s.commit();
    expect(await drainAll(s)).toEqual(Array.from({ length: 18 }, (_, i) => i + 12));
    await s.close();
  });

  it('a reopened store has the same rows in the same order (inherited), and new appends go after them', async () => {
    const d = dir();
    const a = await SpillStore.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 300 });
    for (let i = 0; i < 10; i++) await a.append(line([`a${i}`]), 1);
    await a.close();
    const b = await SpillStore.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 300 });
    expect(b.stats()).toMatchObject({ rows: 10, inherited: 10, tornBytes: 0, corrupt: 0 });
    await b.append(line(['b0']), 1);
    await b.prepend(line(['p0', 'p1']), 2);
    expect(await drainAll(b)).toEqual(['p0', 'p1', ...Array.from({ length: 10 }, (_, i) => `a${i}`), 'b0']);
    await b.close();
  });

  it('a torn last append (crash mid-write) is cut off at open and never read; a corrupt middle line is skipped and counted', async () => {
    const d = dir();
    const a = await SpillStore.open({ dir: d, maxBytes: 1 << 20 });
    await a.append(line([1, 2]), 2);
    await a.append(line([3]), 1);
    await a.close();
    const [file] = segFiles(d);
    const whole = line([4, 5, 6]);
    appendFileSync(join(d, file!), whole.subarray(0, whole.length - 5)); // the crash: no newline, JSON cut
    const sizeBefore = readFileSync(join(d, file!)).length;
    const b = await SpillStore.open({ dir: d, maxBytes: 1 << 20 });
    expect(b.stats()).toMatchObject({ rows: 3, tornBytes: whole.length - 5 });
    expect(readFileSync(join(d, file!)).length).toBe(sizeBefore - (whole.length - 5));
    await b.append(line([7]), 1);
    expect(await drainAll(b)).toEqual([1, 2, 3, 7]);
    await b.close();

    // Corruption in the middle of a segment (not a torn tail): that line is skipped, the rest is read.
    const d2 = dir();
    const c = await SpillStore.open({ dir: d2, maxBytes: 1 << 20 });
    await c.append(line(['x']), 1);
    await c.close();
    const [f2] = segFiles(d2);
    appendFileSync(join(d2, f2!), Buffer.concat([Buffer.from('{"n":2,"at":0,"rows":[1,\u0000\u0000]}\n'), line(['y'])]));
    const e = await SpillStore.open({ dir: d2, maxBytes: 1 << 20 });
    expect(await drainAll(e)).toEqual(['x', 'y']);
    expect(e.stats().corrupt).toBe(1);
    expect(await e.compact()).toBe(true); // drained to the end although the corrupt line's rows never counted down
    expect(segFiles(d2)).toEqual([]);
    await e.close();
  });

  it('never holds more than maxBytes: a batch that does not fit is refused, draining gives the space back', async () => {
    const d = dir();
    const one = line(['0123456789']);
    const s = await SpillStore.open({ dir: d, maxBytes: one.length * 6, segmentBytes: one.length * 2 });
    let n = 0;
    while (s.fits(one.length)) {
      await s.append(one, 1);
      n++;
    }
    expect(n).toBe(6);
    await expect(s.append(one, 1)).rejects.toBeInstanceOf(SpillFullError);
    expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
    // Draining one segment (two batches) frees its bytes.
    for (let i = 0; i < 2; i++) {
      await s.peek();
      await s.commit();
    }
    expect(s.fits(one.length)).toBe(true);
    await s.append(one, 1);
    expect(s.rows).toBe(5);
    await s.close();
  });

  it('one store per directory; openSpill reports an unusable directory instead of throwing', async () => {
    const d = dir();
    const a = await SpillStore.open({ dir: d, maxBytes: 1 << 20 });
    await expect(SpillStore.open({ dir: d, maxBytes: 1 << 20 })).rejects.toBeInstanceOf(SpillLockedError);
    const errors: string[] = [];
    const log = { error: (_o: object, m: string) => errors.push(m), warn: () => {}, info: () => {} };
    expect(await openSpill({ dir: d, maxBytes: 1 << 20, log })).toBeNull();
    expect(errors[0]).toContain('spill unavailable');
    await a.close();
    // A file where the directory should be (e.g. a read-only or wrong mount).
    const f = join(dir(), 'not-a-dir');
    writeFileSync(f, 'x');
    expect(await openSpill({ dir: f, maxBytes: 1 << 20, log })).toBeNull();
    expect(await openSpill({ dir: dir(), maxBytes: 0, log })).toBeNull(); // turned off
  });

  it('one spill per database: rows spilled for one are never drained into another, and are reported at start', async () => {
    const root = dir();
    const warnings: object[] = [];
    const log = { error: () => {}, warn: (o: object) => warnings.push(o), info: () => {} };
    const a = (await openSpill({ dir: root, maxBytes: 1 << 20, database: 'postgres://u:secret@db-a:5432/market', log }))!;
    await a.append(line(['for-a']), 1);
    await a.close();
    expect(a.dir).toBe(join(root, spillLabel('postgres://x@db-a:5432/market')));
    expect(a.dir).not.toContain('secret');
    const b = (await openSpill({ dir: root, maxBytes: 1 << 20, database: 'postgres://u:secret@db-b:5432/market', log }))!;
    expect(b.rows).toBe(0);
    expect(warnings).toEqual([expect.objectContaining({ dir: a.dir })]);
    await b.close();
    const again = (await openSpill({ dir: root, maxBytes: 1 << 20, database: 'postgres://other-user@db-a:5432/market', log }))!;
    expect(await drainAll(again)).toEqual(['for-a']);
    await again.close();
    expect(spillLabel(undefined)).toBe('pglite');
  });

  it('kill -9 while appending: every acknowledged batch survives, in order, and nothing torn is read', async () => {
    const d = dir();
    // The child appends numbered batches as fast as it can and prints each number once append() resolved.
    const script = `
      import { SpillStore } from ${JSON.stringify(new URL('../src/storage/spill.ts', import.meta.url).pathname)};
      const s = await SpillStore.open({ dir: process.argv[1], maxBytes: 1 << 30, segmentBytes: 64 << 10 });
      const pad = 'x'.repeat(300);
      for (let i = 0; ; i++) {
        const rows = Array.from({ length: 20 }, (_, k) => JSON.stringify([i, k, pad]));
        await s.append(SpillStore.encode(rows, Date.now()), rows.length);
        process.stdout.write(i + '\\n');
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, d], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = -1;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const lines = out.split('\n');
        out = lines.pop()!;
        if (lines.length) acked = Number(lines.at(-1));
        if (acked >= 150) resolve();
      });
    });
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const s = await SpillStore.open({ dir: d, maxBytes: 1 << 30 });
    const rows = (await drainAll(s)) as [number, number, string][];
    const batches = rows.length / 20;
    expect(Number.isInteger(batches)).toBe(true);
    expect(batches).toBeGreaterThanOrEqual(acked + 1); // every acknowledged batch (and maybe the one in flight)
    rows.forEach(([i, k], j) => expect([i, k]).toEqual([Math.floor(j / 20), j % 20]));
    expect(s.stats().corrupt).toBe(0);
    await s.close();
  }, 60_000);
});

// --- the writer with a spill ----------------------------------------------------

const P = `S${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
const T0 = Date.UTC(2024, 6, 2, 2, 15);
let seq = 0;
const trade = (): ClassifiedTrade => {
  const n = seq++;
  return { id: `${P}-${n}`, symbol: `${P}A`, ts: T0 + n, price: 70_000, volume: 100, side: 'buy', sideSource: 'quote', phase: 'continuous' };
};
const session = (volume: number): SessionSummary => ({
  symbol: `${P}A`,
  tradingDate: '2024-07-02',
  phase: 'day',
  open: 1,
  high: 2,
  low: 1,
  close: 2,
  volume,
  value: volume * 2,
  vwap: 2,
  buyVolume: volume,
  sellVolume: 0,
  unknownVolume: 0,
  trades: volume,
});

describe('StorageWriter with a spill (PGlite, database down)', () => {
  let st: TestStorage;
  let fdb: FaultyDb;
  const dirs: TempDir[] = [];
  const writers: StorageWriter[] = [];
  const make = async (dir: string, opts: StorageWriterOptions & { maxBytes?: number } = {}) => {
    const spill = await SpillStore.open({ dir, maxBytes: opts.maxBytes ?? 64 << 20 });
    const w = new StorageWriter(fdb, { flushIntervalMs: 5, retry: { baseMs: 5, maxMs: 40 }, maxBufferedRows: 40, maxBatchRows: 10, ...opts, spill });
    writers.push(w);
    return w;
  };
  const storedIds = async () => (await st.db.query<{ id: string }>('SELECT id FROM trades WHERE id LIKE $1', [`${P}-%`])).rows.map((r) => r.id);

  beforeAll(async () => {
    st = await openTestStorage('pglite');
    fdb = new FaultyDb(st.db);
  });
  afterEach(async () => {
    fdb.down = false;
    for (const w of writers.splice(0)) await w.close({ timeoutMs: 5_000 }).catch(() => {});
    await st.db.query('DELETE FROM trades WHERE id LIKE $1', [`${P}-%`]);
    await st.db.query('DELETE FROM session_summaries WHERE symbol = $1', [`${P}A`]);
  });
  afterAll(async () => {
    for (const d of dirs) d.remove();
    await st?.cleanup();
  });
  const dir = () => {
    const d = tempDir('st-wspill-');
    dirs.push(d);
    return d.path;
  };

  it('accepts every row through an outage far longer than its buffer, memory bounded; afterwards each is stored once, upserts in order', async () => {
    const d = dir();
    const registry = new Registry();
    const w = await make(d, { registry });
    fdb.down = true;
    const ids: string[] = [];
    let maxMemory = 0;
    for (let i = 0; i < 2_000; i++) {
      const t = trade();
      ids.push(t.id);
      // Interleave a session upsert for the same key: the last one must win after the drain.
      const out: EngineOutput = i % 100 === 99 ? { type: 'session', summary: session(i) } : { type: 'trade', trade: t };
      if (out.type === 'session') ids.pop();
      if (!w.offer(out)) {
        await w.waitForCapacity(); // the disk was still writing the previous batch: wait, then offer again
        expect(w.offer(out)).toBe(true);
      }
      const s = w.status();
      maxMemory = Math.max(maxMemory, s.buffered - s.coalescing);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await vi.waitFor(() => expect(w.status().spill.spilledRows).toBeGreaterThan(1_500), { timeout: 10_000 });
    const during = w.status();
    expect(during).toMatchObject({ failing: true, maxBuffered: 40 });
    expect(during.spill.active).toBe(true);
    expect(during.spill.bytes).toBeGreaterThan(0);
    expect(maxMemory).toBeLessThanOrEqual(40);
    expect(segFiles(d).length).toBeGreaterThan(0);
    expect(await metric(registry, 'storage_spill_rows')).toBe(during.spill.rows);
    expect(await storedIds()).toEqual([]);

    fdb.down = false;
    await w.flush();
    // Stored; then the writer deletes the emptied file and takes new rows in memory again.
    await vi.waitFor(() => expect(w.status().spill.active).toBe(false), { timeout: 5_000 });
    const after = w.status();
    expect(after.spill).toMatchObject({ active: false, rows: 0, bytes: 0 });
    expect(after.spill.drainedRows).toBe(after.spill.spilledRows);
    expect(await metric(registry, 'storage_spill_rows_drained_total')).toBe(after.spill.drainedRows);
    const stored = await storedIds();
    expect(stored.length).toBe(ids.length);
    expect(new Set(stored)).toEqual(new Set(ids));
    const sess = await st.db.query<{ volume: number }>('SELECT volume FROM session_summaries WHERE symbol = $1', [`${P}A`]);
    expect(sess.rows.map((r) => Number(r.volume))).toEqual([1_999]);
    expect(segFiles(d)).toEqual([]); // an empty spill leaves no file behind
    // Back to memory: new rows are stored without touching the disk.
    const spilled = after.spill.spilledRows;
    w.offer({ type: 'trade', trade: trade() });
    await w.flush();
    expect(w.status().spill.spilledRows).toBe(spilled);
  });

  it('a full spill refuses offers (counted) instead of growing; room returns as it drains', async () => {
    const w = await make(dir(), { maxBytes: 8 << 10 });
    fdb.down = true;
    let refused = 0;
    for (let i = 0; i < 2_000 && refused === 0; i++) {
      if (!w.offer({ type: 'trade', trade: trade() })) {
        if (w.status().spill.state === 'full') refused++;
        else await new Promise((r) => setTimeout(r, 5)); // the disk was still busy: offer the next one a little later
      }
    }
    expect(refused).toBe(1);
    const s = w.status();
    expect(s.spill.state).toBe('full');
    expect(s.spill.refused).toBeGreaterThan(0);
    expect(s.spill.bytes).toBeLessThanOrEqual(8 << 10);
    let capacity = false;
    void w.waitForCapacity().then(() => (capacity = true));
    fdb.down = false;
    await vi.waitFor(() => expect(capacity).toBe(true), { timeout: 10_000 });
    await w.flush();
    await vi.waitFor(() => expect(w.status().spill).toMatchObject({ rows: 0, active: false }), { timeout: 5_000 });
  });

  it('closed during the outage: memory is parked in the spill; the next writer on that directory drains it first, exactly once', async () => {
    const d = dir();
    const a = await make(d);
    fdb.down = true;
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const t = trade();
      ids.push(t.id);
      while (!a.offer({ type: 'trade', trade: t })) await a.waitForCapacity();
    }
    while (!a.offer({ type: 'session', summary: session(7) })) await a.waitForCapacity();
    await a.close({ timeoutMs: 200 }); // resolves: nothing is lost
    writers.splice(writers.indexOf(a), 1);
    expect(existsSync(join(d, 'spill.lock'))).toBe(false);
    expect(segFiles(d).length).toBeGreaterThan(0);

    fdb.down = false;
    const registry = new Registry();
    const b = await make(d, { registry });
    expect(b.status().spill.inheritedRows).toBe(301);
    // A row offered now is newer than the inherited ones: it is stored after them.
    b.offer({ type: 'session', summary: session(8) });
    while (!b.offer({ type: 'trade', trade: trade() })) await b.waitForCapacity();
    ids.push(`${P}-${seq - 1}`);
    await b.flush();
    const stored = await storedIds();
    expect(stored.length).toBe(301);
    expect(new Set(stored)).toEqual(new Set(ids));
    const sess = await st.db.query<{ volume: number }>('SELECT volume FROM session_summaries WHERE symbol = $1', [`${P}A`]);
    expect(sess.rows.map((r) => Number(r.volume))).toEqual([8]);
    // The two rows offered while the inherited ones waited went through the spill behind them (order).
    await vi.waitFor(() => expect(b.status().spill).toMatchObject({ rows: 0, active: false, drainedRows: 303 }), { timeout: 5_000 });
    expect(segFiles(d)).toEqual([]);
  });
});

async function metric(registry: Registry, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`metric ${name} not registered`);
  return (await m.get()).values[0]?.value ?? 0;
}
