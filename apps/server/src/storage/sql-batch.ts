/**
 * Batch insert builders shared by the writer and the repositories: one
 * description of a table's columns gives a multi-row VALUES insert, an
 * `unnest` array insert and COPY text rows.
 */

export interface Column<R> {
  name: string;
  /** SQL type used for the parameter cast, e.g. 'text', 'timestamptz', 'double precision'. */
  type: string;
  value(row: R): unknown;
}

export interface TableSpec<R> {
  table: string;
  columns: readonly Column<R>[];
  /** Identity of a row within a batch: later rows with the same key replace earlier ones. */
  key(row: R): string;
  /** The conflict clause, e.g. `ON CONFLICT (symbol, ts, id) DO NOTHING`. */
  onConflict: string;
}

/** Keeps the last row per key, in first-seen order. Needed because one INSERT … ON CONFLICT DO UPDATE may not touch a row twice. */
export function dedupeLast<R>(rows: readonly R[], key: (r: R) => string): R[] {
  const byKey = new Map<string, R>();
  for (const r of rows) byKey.set(key(r), r);
  return byKey.size === rows.length ? (rows as R[]) : [...byKey.values()];
}

// PostgreSQL accepts at most 65,535 bind parameters per statement.
const MAX_PARAMS = 65_535;

/** Multi-row `INSERT … VALUES (…), (…)`, split into statements under the parameter limit. */
export function valuesInserts<R>(spec: TableSpec<R>, rows: readonly R[]): { sql: string; params: unknown[] }[] {
  const cols = spec.columns;
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
  const out: { sql: string; params: unknown[] }[] = [];
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const ph = cols.map((c) => {
        params.push(c.value(row));
        return `$${params.length}::${c.type}`;
      });
      tuples.push(`(${ph.join(', ')})`);
    }
    out.push({
      sql: `INSERT INTO ${spec.table} (${cols.map((c) => c.name).join(', ')}) VALUES ${tuples.join(', ')} ${spec.onConflict}`,
      params,
    });
  }
  return out;
}

/** One `INSERT … SELECT * FROM unnest($1::type[], …)`: a fixed number of parameters whatever the row count. Not for array-typed columns. */
export function unnestInsert<R>(spec: TableSpec<R>, rows: readonly R[]): { sql: string; params: unknown[] } {
  const cols = spec.columns;
  const params = cols.map((c) => rows.map((r) => c.value(r)));
  const args = cols.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
  return {
    sql: `INSERT INTO ${spec.table} (${cols.map((c) => c.name).join(', ')}) SELECT * FROM unnest(${args}) ${spec.onConflict}`,
    params,
  };
}

/** COPY text format: tab-separated, `\N` for NULL, backslash escapes. */
const NEEDS_ESCAPE = /[\\\t\n\r]/;
export function copyField(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  // Hot path of the trade writer: numbers never need escaping, most strings neither.
  if (typeof v === 'number') return String(v);
  const s = typeof v === 'string' ? v : typeof v === 'boolean' ? (v ? 't' : 'f') : String(v);
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** COPY text rows in chunks of about 64 KiB. */
export function* copyRows<R>(spec: TableSpec<R>, rows: readonly R[]): Generator<string> {
  let buf = '';
  for (const row of rows) {
    let line = '';
    for (let i = 0; i < spec.columns.length; i++) {
      if (i) line += '\t';
      line += copyField(spec.columns[i]!.value(row));
    }
    buf += line + '\n';
    if (buf.length >= 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
