/** Liveness, readiness (with reasons) and Prometheus metrics. */
import { Value } from '@sinclair/typebox/value';
import { ErrorResponse } from '@stock-tracker/protocol';
import { stubApp } from './http-stubs.ts';
import { databaseCheck, feedCheck, migrationsCheck, runChecks, writerCheck, type ReadinessCheck } from '../src/http/readiness.ts';
import { monitorEventLoop } from '../src/observability/event-loop.ts';
import { createRegistry } from '../src/observability/metrics.ts';
import { openTestStorage } from '../../../test/helpers/storage.ts';
import { migrationStatus } from '../src/storage/migrate.ts';

const ok = (name: string): ReadinessCheck => ({ name, run: async () => ({ ok: true }) });

describe('readiness checks', () => {
  it('each check reports its reason', async () => {
    let connected = false;
    let failing = true;
    const report = await runChecks([
      feedCheck(() => ({ name: 'ssi', connected })),
      writerCheck(() => ({ failing, lastError: 'connection refused', buffered: 1234 })),
      migrationsCheck(async () => ({ current: 2, expected: 3 })),
      databaseCheck({ ping: async () => false }),
    ]);
    expect(report.ready).toBe(false);
    expect(report.checks.feed).toEqual({ ok: false, detail: "feed 'ssi' is not connected" });
    expect(report.checks.storage_writer.detail).toContain('connection refused');
    expect(report.checks.storage_writer.detail).toContain('1234');
    expect(report.checks.migrations.detail).toContain('version 2, expected 3');
    expect(report.checks.database.ok).toBe(false);
    connected = true;
    failing = false;
    const again = await runChecks([feedCheck(() => ({ name: 'ssi', connected })), writerCheck(() => ({ failing, lastError: null, buffered: 0 }))]);
    expect(again.ready).toBe(true);
  });

  it('a hanging or throwing check fails within the timeout instead of hanging the probe', async () => {
    const report = await runChecks(
      [{ name: 'hang', run: () => new Promise(() => {}) }, { name: 'throw', run: async () => Promise.reject(new Error('kaput')) }, ok('fine')],
      50,
    );
    expect(report.checks.hang).toEqual({ ok: false, detail: 'no answer within 50 ms' });
    expect(report.checks.throw).toEqual({ ok: false, detail: 'kaput' });
    expect(report.checks.fine.ok).toBe(true);
  });

  it('database and migration checks against real storage', async () => {
    const s = await openTestStorage('pglite', { migrate: false });
    try {
      const before = await runChecks([databaseCheck(s.db), migrationsCheck(() => migrationStatus(s.db))]);
      expect(before.checks.database.ok).toBe(true);
      expect(before.checks.migrations.ok).toBe(false);
      const { migrate } = await import('../src/storage/migrate.ts');
      await migrate(s.db);
      const after = await runChecks([databaseCheck(s.db), migrationsCheck(() => migrationStatus(s.db))]);
      expect(after.ready).toBe(true);
    } finally {
      await s.cleanup();
    }
  });
});

describe('health endpoints', () => {
  it('/healthz is 200; /readyz and /api/health turn 503 with reasons in the error contract', async () => {
    let feedUp = true;
    const { app } = await stubApp({ deps: { readiness: [ok('database'), feedCheck(() => ({ name: 'simulator', connected: feedUp }))] } });
    const live = await app.inject('/healthz');
    expect(live.statusCode).toBe(200);
    expect(live.json().status).toBe('ok');
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, feed: { ok: true } } });
    feedUp = false;
    for (const url of ['/readyz', '/api/health']) {
      const r = await app.inject({ url, headers: { 'x-request-id': 'probe-1' } });
      expect(r.statusCode).toBe(503);
      const body = r.json();
      expect(Value.Check(ErrorResponse, body)).toBe(true);
      expect(body).toMatchObject({ code: 'SERVICE_UNAVAILABLE', request_id: 'probe-1', details: [{ path: 'feed', issue: "feed 'simulator' is not connected" }] });
      expect(body.checks.database.ok).toBe(true);
      expect(r.headers['x-request-id']).toBe('probe-1');
    }
    await app.close();
  });

  it('/metrics exposes HTTP latency by route pattern and status, process and event-loop metrics', async () => {
    const registry = createRegistry();
    const loop = monitorEventLoop(registry, 10);
    const { app } = await stubApp({ deps: { registry, eventLoop: loop } });
    await app.inject('/api/quotes/FPT');
    await app.inject('/api/quotes/VCB');
    await app.inject('/api/nope');
    await new Promise((r) => setTimeout(r, 30));
    const r = await app.inject('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    const text = r.body;
    // One series for the pattern, not one per symbol.
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/quotes\/:symbol",status_code="404"\} 2/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1/);
    expect(text).not.toContain('VCB');
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toMatch(/stock_tracker_event_loop_lag_seconds\{quantile="0.99"\} [0-9.e-]+/);
    const health = (await app.inject('/healthz')).json();
    expect(health.eventLoopLagMs.p99).toBeGreaterThanOrEqual(0);
    loop.stop();
    await app.close();
  });
});
