/**
 * A Db wrapper that injects faults on demand: a down database (connection
 * refused), N transient failures, a stalled database (transactions wait on a
 * gate), and rows the database refuses for their data (SQLSTATE 22003).
 */
import type { Db } from '../../apps/server/src/storage/db.ts';

export const connectionRefused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
export const dataRefused = () => Object.assign(new Error('value out of range'), { code: '22003' });

export class FaultyDb implements Db {
  readonly kind: Db['kind'];
  /** Every call fails as if the server were unreachable. */
  down = false;
  /** The next N transactions fail transiently. */
  failNext = 0;
  /** When set, statements whose SQL/params match fail with a data error (permanent). */
  refuse: ((sql: string, params: unknown[] | undefined) => boolean) | null = null;
  transactions = 0;
  copies = 0;
  private gate: Promise<void> | null = null;

  constructor(readonly inner: Db) {
    this.kind = inner.kind;
  }

  /** Stalls transactions until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((r) => (release = r));
    return () => {
      this.gate = null;
      release();
    };
  }

  private async enter(): Promise<void> {
    if (this.gate) await this.gate;
    if (this.down) throw connectionRefused();
    if (this.failNext > 0) {
      this.failNext--;
      throw connectionRefused();
    }
  }

  private check(sql: string, params?: unknown[]): void {
    if (this.down) throw connectionRefused();
    if (this.refuse?.(sql, params)) throw dataRefused();
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount?: number }> {
    this.check(sql, params);
    return this.inner.query<T>(sql, params);
  }
  async exec(sql: string): Promise<void> {
    this.check(sql);
    return this.inner.exec(sql);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    this.transactions++;
    await this.enter();
    return this.inner.transaction((tx) => fn(new FaultyTx(tx, this)));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  async ping(): Promise<boolean> {
    return !this.down && this.inner.ping();
  }
  get copyFrom(): Db['copyFrom'] {
    return this.inner.copyFrom ? (sql, chunks) => (this.copies++, this.inner.copyFrom!(sql, chunks)) : undefined;
  }

  /** @internal */
  _check(sql: string, params?: unknown[]): void {
    this.check(sql, params);
  }
}

class FaultyTx implements Db {
  readonly kind: Db['kind'];
  constructor(
    private readonly tx: Db,
    private readonly owner: FaultyDb,
  ) {
    this.kind = tx.kind;
  }
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount?: number }> {
    this.owner._check(sql, params);
    return this.tx.query<T>(sql, params);
  }
  async exec(sql: string): Promise<void> {
    this.owner._check(sql);
    return this.tx.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  ping(): Promise<boolean> {
    return this.tx.ping();
  }
  get copyFrom(): Db['copyFrom'] {
    const inner = this.tx.copyFrom;
    return inner
      ? (sql, chunks) => {
          this.owner.copies++;
          this.owner._check(sql);
          return inner.call(this.tx, sql, chunks);
        }
      : undefined;
  }
}
