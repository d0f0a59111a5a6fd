/**
 * SpillStore: a bounded, durable, append-only FIFO of row batches on local
 * disk, used by the StorageWriter while the database cannot keep up (an
 * outage longer than the in-memory buffer). Live data never waits for it; the
 * writer drains it, in order, once the database answers again.
 *
 * Layout: `<dir>/seg-<13 digits>.ndjson` segment files, read in name order.
 * One line per batch, valid JSON so an operator can inspect it with `jq`:
 *
 *   {"n":<rows>,"at":<epoch ms appended>,"rows":[<row>,…]}\n
 *
 * Durability: every append is one `write` + `fdatasync` before it resolves,
 * so a batch the writer counted as spilled survives kill -9 and power loss.
 * A crash in the middle of an append leaves a last line without its newline
 * (or a partial one): it is ignored and cut off when the store is opened —
 * that batch had not been acknowledged. A line that does not parse in the
 * middle of a segment (disk corruption) is skipped and counted.
 *
 * Draining: `peek()` returns the oldest complete batch, `commit()` consumes
 * it; a segment is deleted once every batch in it is committed. Progress
 * inside a segment is not persisted: after a crash the oldest segment is read
 * again from its start, which is harmless because every write the writer
 * makes is idempotent (primary keys + ON CONFLICT; upserts re-applied in the
 * same order converge to the same row).
 *
 * Bounded: `bytes` (the size of every segment not yet deleted) never exceeds
 * `maxBytes`; `fits()` says whether a batch of a given size still does. One
 * process at a time: a lock file with the pid refuses a second live opener.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export interface SpillStoreOptions {
  dir: string;
  /** Upper bound of the bytes on disk. */
  maxBytes: number;
  /** A new segment starts once the current one reaches this size. Default: maxBytes/8, within 4 KiB..64 MiB. */
  segmentBytes?: number;
}

export interface SpillBatch<T = unknown> {
  rows: T[];
  /** Wall time the batch was appended. */
  at: number;
}

export interface SpillStats {
  dir: string;
  /** Bytes of every segment not yet deleted (includes batches already drained from the oldest one). */
  bytes: number;
  maxBytes: number;
  /** Rows appended and not yet committed as drained. */
  rows: number;
  segments: number;
  /** Rows found in the store when it was opened (left by an earlier process). */
  inherited: number;
  /** Lines skipped because they did not parse (corruption in the middle of a segment). */
  corrupt: number;
  /** Bytes cut off the end of segments at open: a torn last append of a crashed process. */
  tornBytes: number;
}

const SEG_RE = /^seg-(\d{13})\.ndjson$/;
/** First sequence number: leaves room below for segments written in front of the others (`prepend`). */
const FIRST_SEQ = 1_000_000_000_000;
const segName = (seq: number) => `seg-${String(seq).padStart(13, '0')}.ndjson`;
const NL = 0x0a;
const READ_CHUNK = 1 << 20;
const N_RE = /^\{"n":(\d+),/;

interface Segment {
  seq: number;
  path: string;
  /** Bytes of complete batches (the end of the last fully written line). */
  size: number;
  /** Rows in the segment not yet committed. */
  rows: number;
}

export class SpillLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`spill directory ${dir} is in use by process ${pid}`);
    this.name = 'SpillLockedError';
  }
}

export class SpillFullError extends Error {
  constructor(bytes: number, max: number) {
    super(`spill full (${bytes} of ${max} bytes)`);
    this.name = 'SpillFullError';
  }
}

export class SpillStore {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly segmentBytes: number;
  private segments: Segment[] = [];
  /** The segment appends go to (never one inherited from an earlier process). */
  private tail: { seg: Segment; fh: FileHandle } | null = null;
  /** Reader state on segments[0]. */
  private reader: { seg: Segment; fh: FileHandle; pos: number; buf: Buffer; bufPos: number } | null = null;
  private peeked: { batch: SpillBatch; end: number; rows: number } | null = null;
  private corrupt = 0;
  private tornBytes = 0;
  private inherited = 0;
  private closed = false;
  private readonly lockFile: string;

  private constructor(opts: SpillStoreOptions) {
    this.dir = opts.dir;
    this.maxBytes = Math.max(1, opts.maxBytes);
    // Drained space is given back a segment at a time: several segments per cap, none tiny.
    this.segmentBytes = Math.max(1, opts.segmentBytes ?? Math.min(64 << 20, Math.max(4 << 10, Math.floor(this.maxBytes / 8))));
    this.lockFile = join(this.dir, 'spill.lock');
  }

  /** Opens (creating the directory) and scans what an earlier process left; cuts off torn last lines. */
  static async open(opts: SpillStoreOptions): Promise<SpillStore> {
    const s = new SpillStore(opts);
    mkdirSync(s.dir, { recursive: true });
    s.lock();
    try {
      s.scan();
    } catch (err) {
      s.unlock();
      throw err;
    }
    return s;
  }

  get bytes(): number {
    let b = 0;
    for (const seg of this.segments) b += seg.size;
    return b;
  }

  get rows(): number {
    let r = 0;
    for (const seg of this.segments) r += seg.rows;
    return r;
  }

  /** Whether a batch of `bytes` (as `encode` measures it) can still be appended within maxBytes. */
  fits(bytes: number): boolean {
    return this.bytes + bytes <= this.maxBytes;
  }

  stats(): SpillStats {
    return { dir: this.dir, bytes: this.bytes, maxBytes: this.maxBytes, rows: this.rows, segments: this.segments.length, inherited: this.inherited, corrupt: this.corrupt, tornBytes: this.tornBytes };
  }

  /** The line for a batch of rows already serialised as JSON (what `append` writes and `fits` is asked about). */
  static encode(rowsJson: readonly string[], at: number): Buffer {
    return Buffer.from(`{"n":${rowsJson.length},"at":${Math.floor(at)},"rows":[${rowsJson.join(',')}]}\n`, 'utf8');
  }

  /**
   * Appends one or more complete lines (`encode`; `rows` in all) at the end
   * and makes them durable (fdatasync) before resolving. Refused past `maxBytes` unless `ignoreCap` (a writer parking
   * its last rows at shutdown). On failure nothing of the batch counts: a partial write is cut
   * off again (or its segment is closed, so the reader ignores the torn end).
   */
  async append(line: Buffer, rows: number, opts: { ignoreCap?: boolean } = {}): Promise<void> {
    if (this.closed) throw new Error('spill store is closed');
    if (!opts.ignoreCap && !this.fits(line.length)) throw new SpillFullError(this.bytes, this.maxBytes);
    if (this.tail && this.tail.seg.size > 0 && this.tail.seg.size + line.length > this.segmentBytes) await this.closeTail();
    if (!this.tail) {
      const seq = (this.segments.at(-1)?.seq ?? FIRST_SEQ - 1) + 1;
      const seg: Segment = { seq, path: join(this.dir, segName(seq)), size: 0, rows: 0 };
      const fh = await open(seg.path, 'a');
      this.segments.push(seg);
      this.tail = { seg, fh };
    }
    const { seg, fh } = this.tail;
    try {
      let off = 0;
      while (off < line.length) {
        const { bytesWritten } = await fh.write(line, off, line.length - off, seg.size + off);
        off += bytesWritten;
      }
      await fh.datasync();
    } catch (err) {
      // The next append must not follow a torn line: cut it off, or give up on this segment.
      await fh.truncate(seg.size).catch(() => {});
      await this.closeTail();
      throw err;
    }
    seg.size += line.length;
    seg.rows += rows;
  }

  /**
   * Writes lines as a new segment in FRONT of every other one (durable
   * before resolving). For rows older than everything spilled: a writer that
   * shuts down during an outage puts its in-memory backlog there, so the next
   * process drains it first and the order of upserts is kept.
   */
  async prepend(line: Buffer, rows: number): Promise<void> {
    if (this.closed) throw new Error('spill store is closed');
    await this.closeReader();
    const seq = (this.segments[0]?.seq ?? FIRST_SEQ) - 1;
    const path = join(this.dir, segName(seq));
    const fh = await open(path, 'w');
    try {
      await fh.write(line, 0, line.length, 0);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    this.segments.unshift({ seq, path, size: line.length, rows });
  }

  /**
   * The oldest complete batch not yet committed (the same one until
   * `commit`), or null when there is none. With `maxRows`, consecutive
   * batches of the same segment are joined up to that many rows (at least
   * one batch), so many small appends drain in few transactions.
   */
  async peek<T = unknown>(maxRows = 0): Promise<SpillBatch<T> | null> {
    if (this.closed) return null;
    for (;;) {
      if (this.peeked) return this.peeked.batch as SpillBatch<T>;
      const seg = this.segments[0];
      if (!seg) return null;
      if (!this.reader || this.reader.seg !== seg) {
        await this.closeReader();
        this.reader = { seg, fh: await open(seg.path, 'r'), pos: 0, buf: Buffer.alloc(0), bufPos: 0 };
      }
      const r = this.reader;
      const line = await this.readLine(r, r.pos);
      if (line) {
        const batch = this.parse(line.text);
        if (!batch) {
          this.corrupt++;
          r.pos = line.end;
          continue;
        }
        let end = line.end;
        while (batch.rows.length < maxRows) {
          const next = await this.readLine(r, end);
          const more = next && this.parse(next.text);
          // A corrupt line is left for the next peek (counted and skipped there).
          if (!next || !more || batch.rows.length + more.rows.length > maxRows) break;
          for (const row of more.rows) batch.rows.push(row);
          end = next.end;
        }
        this.peeked = { batch, end, rows: batch.rows.length };
        return batch as SpillBatch<T>;
      }
      // Nothing complete left in this segment.
      if (this.tail?.seg === seg) return null; // still being appended to: everything written is drained
      await this.dropSegment(seg);
    }
  }

  /** Consumes the batch `peek` returned; deletes its segment once fully drained (and no longer appended to). */
  async commit(): Promise<void> {
    const p = this.peeked;
    const r = this.reader;
    if (!p || !r) throw new Error('commit without peek');
    this.peeked = null;
    r.pos = p.end;
    r.seg.rows = Math.max(0, r.seg.rows - p.rows);
    if (r.pos >= r.seg.size && this.tail?.seg !== r.seg) await this.dropSegment(r.seg);
  }

  /**
   * Deletes the appended-to segment once everything in it is drained, so an
   * empty store holds no files. True when the store is now empty.
   */
  async compact(): Promise<boolean> {
    if (this.peeked || this.segments.length > 1) return false;
    const seg = this.segments[0];
    if (!seg) return true;
    // Read to its end (by position, not by row count: a skipped corrupt line never counts down).
    if (this.reader?.seg !== seg || this.reader.pos < seg.size) return false;
    if (this.tail?.seg === seg) await this.closeTail();
    await this.dropSegment(seg);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeReader();
    await this.closeTail();
    this.unlock();
  }

  // --- internals ----------------------------------------------------------------

  private parse(text: string): SpillBatch | null {
    try {
      const v = JSON.parse(text) as { n?: unknown; at?: unknown; rows?: unknown };
      if (!v || !Array.isArray(v.rows) || v.n !== v.rows.length) return null;
      return { rows: v.rows, at: typeof v.at === 'number' ? v.at : 0 };
    } catch {
      return null;
    }
  }

  /** The next complete line of the reader's segment (without its newline), or null at the end of what is written. */
  private async readLine(r: NonNullable<SpillStore['reader']>, from: number): Promise<{ text: string; end: number } | null> {
    // `buf` holds the segment's bytes from `bufPos`; reading restarts from `from` when it is outside them.
    if (from < r.bufPos || from > r.bufPos + r.buf.length) {
      r.buf = Buffer.alloc(0);
      r.bufPos = from;
    }
    for (;;) {
      const start = from - r.bufPos;
      const nl = r.buf.indexOf(NL, start);
      if (nl >= 0) return { text: r.buf.toString('utf8', start, nl), end: r.bufPos + nl + 1 };
      const have = r.bufPos + r.buf.length;
      if (have >= r.seg.size) return null;
      const want = Math.min(READ_CHUNK, r.seg.size - have);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await r.fh.read(chunk, 0, want, have);
      if (bytesRead <= 0) return null;
      r.buf = Buffer.concat([r.buf.subarray(start), chunk.subarray(0, bytesRead)]);
      r.bufPos = from;
    }
  }

  private async dropSegment(seg: Segment): Promise<void> {
    if (this.reader?.seg === seg) await this.closeReader();
    this.segments = this.segments.filter((s) => s !== seg);
    await unlink(seg.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private async closeReader(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    this.peeked = null;
    await r?.fh.close().catch(() => {});
  }

  private async closeTail(): Promise<void> {
    const t = this.tail;
    this.tail = null;
    await t?.fh.close().catch(() => {});
  }

  /** Reads every segment left by an earlier process: counts its rows, cuts a torn last line off. */
  private scan(): void {
    const names = readdirSync(this.dir).filter((n) => SEG_RE.test(n)).sort();
    for (const name of names) {
      const path = join(this.dir, name);
      const data = readFileSync(path);
      let rows = 0;
      let end = 0;
      for (let pos = 0; pos < data.length; ) {
        const nl = data.indexOf(NL, pos);
        if (nl < 0) break;
        // Only the prefix is parsed here; a corrupt line is found (and skipped) when it is drained.
        const m = N_RE.exec(data.toString('utf8', pos, Math.min(nl, pos + 32)));
        if (m) rows += Number(m[1]);
        pos = end = nl + 1;
      }
      if (end < data.length) {
        this.tornBytes += data.length - end;
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, end);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      if (end === 0) {
        rmSync(path, { force: true });
        continue;
      }
      this.segments.push({ seq: Number(SEG_RE.exec(name)![1]), path, size: end, rows });
      this.inherited += rows;
    }
  }

  private lock(): void {
    try {
      const pid = Number(readFileSync(this.lockFile, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) throw new SpillLockedError(this.dir, pid);
      if (pid === process.pid && HELD.has(this.dir)) throw new SpillLockedError(this.dir, pid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    writeFileSync(this.lockFile, String(process.pid));
    HELD.add(this.dir);
  }

  private unlock(): void {
    HELD.delete(this.dir);
    rmSync(this.lockFile, { force: true });
  }
}

/** Directories open in this process (a second store on the same directory would interleave appends). */
const HELD = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The spill's subdirectory for a database: rows spilled for one database must
 * never be drained into another (a changed DATABASE_URL, test runs sharing a
 * DATA_DIR). Host, port and database name; never the credentials.
 */
export function spillLabel(databaseUrl: string | undefined): string {
  if (!databaseUrl) return 'pglite';
  try {
    const u = new URL(databaseUrl);
    return `pg-${u.hostname}-${u.port || '5432'}-${decodeURIComponent(u.pathname.slice(1)) || 'postgres'}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  } catch {
    return 'pg-unknown';
  }
}

/** Spills of other databases under `root` that still hold rows (left behind by a changed DATABASE_URL). */
function strandedSpills(root: string, own: string): { dir: string; bytes: number }[] {
  const out: { dir: string; bytes: number }[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const n of names) {
    if (n === own) continue;
    const d = join(root, n);
    try {
      const bytes = readdirSync(d)
        .filter((f) => SEG_RE.test(f))
        .reduce((sum, f) => sum + statSync(join(d, f)).size, 0);
      if (bytes > 0) out.push({ dir: d, bytes });
    } catch {
      // not a directory
    }
  }
  return out;
}

/**
 * Opens the writer's spill, or returns null — without a spill the writer
 * falls back to refusing offers when its memory buffer is full, so a failure
 * here (read-only file system, permissions, another live process on the same
 * directory) is logged loudly but does not stop the process.
 */
export async function openSpill(opts: {
  dir: string;
  maxBytes: number;
  /** The database the rows are for (DATABASE_URL; unset: PGlite): the spill lives in `<dir>/<spillLabel>`. */
  database?: string | undefined;
  log?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}): Promise<SpillStore | null> {
  if (opts.maxBytes <= 0) return null;
  const label = 'database' in opts ? spillLabel(opts.database) : null;
  const dir = label ? join(opts.dir, label) : opts.dir;
  try {
    const spill = await SpillStore.open({ dir, maxBytes: opts.maxBytes });
    opts.log?.info({ dir, maxBytes: opts.maxBytes, rows: spill.rows }, 'storage spill ready');
    if (label) {
      for (const s of strandedSpills(opts.dir, label)) {
        opts.log?.warn(s, 'a storage spill of another database holds rows: start once with that DATABASE_URL to store them, or move its seg-*.ndjson files here if it is the same database');
      }
    }
    return spill;
  } catch (err) {
    opts.log?.error(
      { err: err instanceof Error ? err.message : String(err), dir },
      'storage spill unavailable: a database outage longer than the in-memory buffer will pause the feed or drop stored rows (set SPILL_DIR to a writable volume)',
    );
    return null;
  }
}
