/**
 * What a backup must reproduce: the exact row count of every table and the
 * schema version. Tables come from the catalog, not from a fixed list, so a
 * table added by a later migration is covered without touching this file.
 * The same SQL runs on PostgreSQL and PGlite.
 */
export interface Queryer {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

// User tables: not system schemas, not TimescaleDB's internal chunks (the
// hypertable parent already counts its chunks), not tables an extension owns,
// not partitions (counted through their parent).
const LIST_TABLES = `
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname NOT LIKE '\\_timescaledb%'
  AND n.nspname NOT LIKE 'timescaledb\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`;

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Table key: the bare name in `public`, `schema.name` elsewhere. */
export const tableKey = (schema: string, name: string) => (schema === 'public' ? name : `${schema}.${name}`);

export async function countTables(q: Queryer): Promise<Record<string, number>> {
  const { rows: tables } = await q.query<{ schema: string; name: string }>(LIST_TABLES);
  if (tables.length === 0) return {};
  // One statement: every count sees the same snapshot even outside a transaction.
  const sql = tables
    .map((t, i) => `SELECT ${i} AS i, count(*)::text AS n FROM ${ident(t.schema)}.${ident(t.name)}`)
    .join(' UNION ALL ');
  const { rows } = await q.query<{ i: number; n: string }>(sql);
  const out: Record<string, number> = {};
  for (const r of [...rows].sort((a, b) => Number(a.i) - Number(b.i))) {
    const t = tables[Number(r.i)]!;
    out[tableKey(t.schema, t.name)] = Number(r.n);
  }
  return out;
}

/** Highest applied migration; 0 before any (or with no schema_migrations table). */
export async function schemaVersion(q: Queryer): Promise<number> {
  const { rows } = await q.query<{ exists: boolean }>(`SELECT to_regclass('public.schema_migrations') IS NOT NULL AS exists`);
  if (!rows[0]?.exists) return 0;
  const r = await q.query<{ v: number }>('SELECT coalesce(max(version), 0)::int AS v FROM public.schema_migrations');
  return Number(r.rows[0]!.v);
}

/** Relations a restore would collide with: any table, view, sequence… outside system schemas and extensions. */
export async function userRelationCount(q: Queryer): Promise<number> {
  const { rows } = await q.query<{ n: number }>(`
SELECT count(*)::int AS n
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`);
  return Number(rows[0]!.n);
}
