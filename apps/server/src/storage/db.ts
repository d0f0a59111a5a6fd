/**
 * One database handle for two engines: embedded PGlite (a data directory, no
 * server) and PostgreSQL 15+ through a `pg` Pool. Everything above this file
 * speaks plain SQL that runs on both.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { PGlite } from '@electric-sql/pglite';
import { seedFor } from './pglite-seed.ts';
import { silentLogger, type Logger } from './logger.ts';

export interface Db {
  readonly kind: 'pglite' | 'postgres';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount?: number }>;
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** Runs fn on one connection inside BEGIN/COMMIT (ROLLBACK on error). Nested calls join the outer transaction. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** true when a trivial query answers within a couple of seconds. */
  ping(): Promise<boolean>;
  /** PostgreSQL only: `COPY … FROM STDIN` fed with text-format chunks. */
  copyFrom?(copySql: string, chunks: Iterable<string>): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
  log?: Logger;
  /** Connection attempt timeout for PostgreSQL (ms). Default 5 s. */
  connectTimeoutMs?: number;
  /**
   * Client-side limit per PostgreSQL statement (ms), so a silently dead peer
   * (network partition, no RST) surfaces as an error the writer retries
   * instead of a hang. Default 120 s; 0 disables (long migrations).
   */
  queryTimeoutMs?: number;
}

/** The database could not be reached at start; the message names the target (password hidden). */
export class DatabaseUnreachableError extends Error {
  /** What went wrong, without the target. */
  readonly reason: string;
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    const reason = describeError(cause);
    super(`database unreachable at ${target}: ${reason}`, { cause });
    this.name = 'DatabaseUnreachableError';
    this.reason = reason;
  }
}

function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return describeError(err.errors[0]);
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}

/** PGlite under `<dataDir>/pglite` when no databaseUrl is given, else a PostgreSQL pool. Fails fast when unreachable. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Db> {
  const log = opts.log ?? silentLogger;
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'stock-tracker',
      keepAlive: true,
      ...(opts.queryTimeoutMs === 0 ? {} : { query_timeout: opts.queryTimeoutMs ?? 120_000 }),
    });
    // Idle clients report a server restart as an 'error' event; without a
    // listener Node would crash the process. The pool drops the client itself.
    pool.on('error', (err) => log.warn({ err: err.message }, 'idle database connection lost'));
    const db = new PostgresDb(pool);
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => {});
      throw new DatabaseUnreachableError(redactUrl(opts.databaseUrl), err);
    }
    return db;
  }
  const dir = resolve(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const releaseLock = lockDataDir(dir);
  try {
    const lite = await PGlite.create({ dataDir: dir, loadDataDir: seedFor(dir) });
    return new PgliteDb(lite, releaseLock);
  } catch (err) {
    releaseLock();
    throw new DatabaseUnreachableError(dir, err);
  }
}

// --- PostgreSQL ------------------------------------------------------------

type Queryable = pg.Pool | pg.PoolClient;

async function runCopy(client: pg.PoolClient, copySql: string, chunks: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(chunks), client.query(copyFromStdin(copySql)));
}

abstract class PgBase {
  readonly kind = 'postgres' as const;
  protected abstract readonly q: Queryable;
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount?: number }> {
    const r = await this.q.query(sql, params as unknown[] | undefined);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.q.query(sql);
  }
}

class PostgresDb extends PgBase implements Db {
  constructor(protected readonly q: pg.Pool) {
    super();
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.q.connect();
    // A checked-out client has no pool listener: a server restart between two
    // statements would otherwise be an unhandled 'error' event.
    const swallow = () => {};
    client.on('error', swallow);
    let destroy: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgClientDb(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        destroy = e; // the connection is unusable; do not return it to the pool
      });
      throw err;
    } finally {
      client.removeListener('error', swallow);
      client.release(destroy);
    }
  }
  async copyFrom(copySql: string, chunks: Iterable<string>): Promise<void> {
    const client = await this.q.connect();
    const swallow = () => {};
    client.on('error', swallow);
    let failed: Error | undefined;
    try {
      await runCopy(client, copySql, chunks);
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      client.removeListener('error', swallow);
      client.release(failed);
    }
  }
  async ping(): Promise<boolean> {
    return withTimeout(this.q.query('SELECT 1').then(() => true), 2_000).catch(() => false);
  }
  async close(): Promise<void> {
    await this.q.end();
  }
}

class PgClientDb extends PgBase implements Db {
  constructor(protected readonly q: pg.PoolClient) {
    super();
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  copyFrom(copySql: string, chunks: Iterable<string>): Promise<void> {
    return runCopy(this.q, copySql, chunks);
  }
  async ping(): Promise<boolean> {
    return withTimeout(this.q.query('SELECT 1').then(() => true), 2_000).catch(() => false);
  }
  async close(): Promise<void> {
    // The owning transaction releases the client.
  }
}

// --- PGlite ----------------------------------------------------------------

interface LiteQueryable {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

abstract class LiteBase {
  readonly kind = 'pglite' as const;
  protected abstract readonly q: LiteQueryable;
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount?: number }> {
    const r = await this.q.query<T>(sql, params);
    return { rows: r.rows, rowCount: r.affectedRows ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.q.exec(sql);
  }
  async ping(): Promise<boolean> {
    return withTimeout(this.q.query('SELECT 1').then(() => true), 2_000).catch(() => false);
  }
}

class PgliteDb extends LiteBase implements Db {
  private closed = false;
  constructor(
    protected readonly q: PGlite,
    private readonly releaseLock: () => void,
  ) {
    super();
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.q.transaction((tx) => fn(new PgliteTxDb(tx as unknown as LiteQueryable)));
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.q.close();
    } finally {
      this.releaseLock();
    }
  }
}

class PgliteTxDb extends LiteBase implements Db {
  constructor(protected readonly q: LiteQueryable) {
    super();
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

// Two PGlite instances on one directory corrupt it: refuse a second opener,
// in this process or in another live one.
const openDirs = new Set<string>();
function lockDataDir(dir: string): () => void {
  if (openDirs.has(dir)) throw new Error(`PGlite data directory ${dir} is already open in this process`);
  const lockFile = join(dir, 'stock-tracker.lock');
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(`PGlite data directory ${dir} is in use by process ${pid}; stop it first (or use DATABASE_URL)`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  writeFileSync(lockFile, String(process.pid));
  openDirs.add(dir);
  return () => {
    openDirs.delete(dir);
    rmSync(lockFile, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// --- error classification --------------------------------------------------

const TRANSIENT_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENETUNREACH']);

/**
 * A permanent error is one that retrying the same rows can never fix: the
 * data itself is refused (SQLSTATE class 22 data exception, 23 integrity).
 * Everything else (lost connection, server restarting, a missing table until
 * migrations run) is worth retrying.
 */
export function isPermanentDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || TRANSIENT_NET_CODES.has(code) || code.length !== 5) return false;
  return code.startsWith('22') || code.startsWith('23');
}
