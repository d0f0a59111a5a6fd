/**
 * Liveness, readiness and metrics (ARCHITECTURE §8). Not rate limited: probes
 * and scrapers must always get an answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '@stock-tracker/protocol';
import type { AppDeps } from '../deps.ts';
import { runChecks } from '../readiness.ts';

const noRateLimit = { rateLimit: false } as const;

/** Only what the probes need, so the collector role can mount them without the REST API. */
export type HealthDeps = Pick<AppDeps, 'readiness' | 'registry' | 'eventLoop'>;

export function healthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const started = Date.now();

  app.get('/healthz', { config: noRateLimit, schema: { tags: ['health'], summary: 'Liveness: the process and its event loop answer' } }, async () => {
    const lag = deps.eventLoop?.lag();
    return { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000), eventLoopLagMs: lag ? { p50: round(lag.p50), p99: round(lag.p99) } : null };
  });

  const readiness = async (request: FastifyRequest, reply: FastifyReply) => {
    const report = await runChecks(deps.readiness);
    if (report.ready) return reply.send({ status: 'ready', checks: report.checks, ...(report.degraded.length > 0 ? { degraded: report.degraded } : {}) });
    const details = Object.entries(report.checks)
      .filter(([name, c]) => !c.ok && !report.degraded.includes(name))
      .map(([name, c]) => ({ path: name, issue: c.detail ?? 'not ready' }));
    // The error contract, plus the full check list for operators.
    return reply
      .code(503)
      .send({ ...errorBody('SERVICE_UNAVAILABLE', request.id, `Not ready: ${details.map((d) => d.path).join(', ')}.`, details), checks: report.checks });
  };
  app.get('/readyz', { config: noRateLimit, schema: { tags: ['health'], summary: 'Readiness: database, migrations, feed, storage writer' } }, readiness);
  app.get('/api/health', { config: noRateLimit, schema: { tags: ['health'], summary: 'Alias of /readyz (compatibility)' } }, readiness);

  app.get('/metrics', { config: noRateLimit, schema: { hide: true } }, async (_req, reply) => {
    const text = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(text);
  });
}

const round = (x: number) => Math.round(x * 100) / 100;
