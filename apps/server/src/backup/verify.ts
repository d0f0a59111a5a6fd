/** Comparing a restored database with its manifest, and the table printed for the operator. */
export interface CountCheck {
  table: string;
  /** null: the table exists in the restored database but not in the backup. */
  expected: number | null;
  /** null: the table is missing from the restored database. */
  actual: number | null;
  ok: boolean;
}

export interface RestoreVerification {
  tables: CountCheck[];
  migration: { expected: number; actual: number; ok: boolean };
  ok: boolean;
}

export function verifyRestore(
  expected: { tables: Record<string, number>; migration_version: number },
  actual: { tables: Record<string, number>; migrationVersion: number },
): RestoreVerification {
  const names = [...new Set([...Object.keys(expected.tables), ...Object.keys(actual.tables)])].sort();
  const tables = names.map((table) => {
    const e = Object.hasOwn(expected.tables, table) ? expected.tables[table]! : null;
    const a = Object.hasOwn(actual.tables, table) ? actual.tables[table]! : null;
    return { table, expected: e, actual: a, ok: e !== null && e === a };
  });
  const migration = { expected: expected.migration_version, actual: actual.migrationVersion, ok: expected.migration_version === actual.migrationVersion };
  return { tables, migration, ok: migration.ok && tables.every((t) => t.ok) };
}

const show = (n: number | null) => (n === null ? '-' : String(n));

/** A plain-text table: one line per table, then the schema version. */
export function formatVerification(v: RestoreVerification): string {
  const rows: [string, string, string, string][] = [
    ...v.tables.map((t): [string, string, string, string] => [
      t.table,
      show(t.expected),
      show(t.actual),
      t.ok ? 'ok' : t.expected === null ? 'UNEXPECTED' : t.actual === null ? 'MISSING' : 'MISMATCH',
    ]),
    ['(schema version)', String(v.migration.expected), String(v.migration.actual), v.migration.ok ? 'ok' : 'MISMATCH'],
  ];
  const header: [string, string, string, string] = ['table', 'expected', 'actual', ''];
  const w0 = Math.max(...[header, ...rows].map((r) => r[0].length));
  const w1 = Math.max(...[header, ...rows].map((r) => r[1].length));
  const w2 = Math.max(...[header, ...rows].map((r) => r[2].length));
  const line = (r: [string, string, string, string]) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2].padStart(w2)}  ${r[3]}`.trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
