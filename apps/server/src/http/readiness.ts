/**
 * Readiness checks (ARCHITECTURE §8): each answers ok/not-ok with a reason,
 * bounded by a timeout so /readyz itself never hangs on a dead dependency.
 */
export interface CheckResult {
  ok: boolean;
  detail?: string;
}
export interface ReadinessCheck {
  name: string;
  run(): Promise<CheckResult>;
  /**
   * Reported, but a failure does not make the process unready: the process
   * still does useful work without it (an api replica serves live data while
   * PostgreSQL is down), and taking every replica out of rotation would be worse.
   */
  optional?: boolean;
}
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** Optional checks that failed. */
  degraded: string[];
}

export async function runChecks(checks: readonly ReadinessCheck[], timeoutMs = 2_000): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<CheckResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      try {
        const r = await Promise.race([c.run(), timeout]);
        return [c.name, r] as const;
      } catch (err) {
        return [c.name, { ok: false, detail: err instanceof Error ? err.message : String(err) }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const out: Record<string, CheckResult> = {};
  for (const [name, r] of results) out[name] = r;
  const failed = (i: number) => !results[i]![1].ok;
  return {
    ready: checks.every((c, i) => c.optional || !failed(i)),
    checks: out,
    degraded: checks.filter((c, i) => c.optional && failed(i)).map((c) => c.name),
  };
}

export const databaseCheck = (db: { ping(): Promise<boolean> }): ReadinessCheck => ({
  name: 'database',
  async run() {
    return (await db.ping()) ? { ok: true } : { ok: false, detail: 'database did not answer' };
  },
});

export const migrationsCheck = (status: () => Promise<{ current: number; expected: number }>): ReadinessCheck => ({
  name: 'migrations',
  async run() {
    const s = await status();
    return s.current === s.expected
      ? { ok: true, detail: `version ${s.current}` }
      : { ok: false, detail: `schema at version ${s.current}, expected ${s.expected}; run \`stock-tracker migrate\`` };
  },
});

export const feedCheck = (
  status: () => { name: string; connected: boolean; state?: string; lastError?: string | null; lastMessageAgeMs?: number | null },
): ReadinessCheck => ({
  name: 'feed',
  async run() {
    const s = status();
    if (s.connected) {
      const age = typeof s.lastMessageAgeMs === 'number' ? `, last message ${Math.round(s.lastMessageAgeMs / 1000)} s ago` : '';
      return { ok: true, detail: `${s.name}${s.state ? ` ${s.state}` : ''}${age}` };
    }
    // A vendor feed in state 'failed' has stopped for good (credentials, plan): say why.
    const why = s.lastError ? `: ${s.lastError}` : '';
    return { ok: false, detail: `feed '${s.name}' is not connected${s.state ? ` (${s.state})` : ''}${why}` };
  },
});

export const writerCheck = (status: () => { failing: boolean; lastError: string | null; buffered: number }): ReadinessCheck => ({
  name: 'storage_writer',
  async run() {
    const s = status();
    return s.failing
      ? { ok: false, detail: `storage writes failing (${s.buffered} rows buffered): ${s.lastError ?? 'unknown error'}` }
      : { ok: true, detail: `${s.buffered} rows buffered` };
  },
});
