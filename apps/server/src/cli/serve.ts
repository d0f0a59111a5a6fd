/**
 * `stock-tracker all|collector|api` and `stock-tracker serve` (role from
 * ROLE): run the server until SIGINT or SIGTERM, then shut down gracefully
 * and exit 0. Configuration problems and an unreachable database are refused
 * at start with a message naming the variable and a non-zero exit.
 *
 * `api` with WEB_CONCURRENCY > 1: this process becomes the cluster primary
 * (roles/workers.ts) and each forked worker runs this same command as one
 * api server.
 */
import cluster from 'node:cluster';
import { WS_CLOSE } from '@stock-tracker/protocol';
import { ConfigError, loadConfig, redactConfig, type Config, type Role } from '../config.ts';
import { createLogger, type Logger } from '../observability/logger.ts';

/** sysexits EX_CONFIG: the configuration is unusable. */
export const EXIT_CONFIG = 78;
export const EXIT_UNAVAILABLE = 69;

function fail(lines: string[], code: number): number {
  process.stderr.write(lines.map((l) => `stock-tracker: ${l}\n`).join(''));
  return code;
}

interface RunningRole {
  url: string;
  close(): Promise<void>;
}

async function startRole(config: Config, log: Logger): Promise<RunningRole> {
  // Loaded after validation: a refused configuration answers without loading the server.
  switch (config.role) {
    case 'all': {
      const { startAll } = await import('../roles/all.ts');
      return startAll({ config, log });
    }
    case 'collector': {
      const { startCollector } = await import('../roles/collector.ts');
      return startCollector({ config, log });
    }
    case 'api': {
      const { startApi } = await import('../roles/api.ts');
      const { ReplicaRegistry } = await import('../roles/workers.ts');
      const registry = cluster.isWorker ? new ReplicaRegistry({ role: 'api' }) : undefined;
      const api = await startApi({ config, log, registry });
      // A replica going away is a restart from the clients' point of view: 1012, reconnect elsewhere.
      return { url: api.url, close: () => api.close(WS_CLOSE.SERVICE_RESTART) };
    }
  }
}

/**
 * Resolves with what asked this process to stop: a signal, or (a worker) its
 * primary. The signal handlers are installed synchronously, before the caller
 * announces the URL, so a signal right after "listening" is a graceful stop and
 * never the default kill.
 */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (s: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(s);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (cluster.isWorker) void import('../roles/workers.ts').then(({ shutdownRequested }) => shutdownRequested()).then(() => resolve('primary'));
  });
}

export async function run(argv: string[], forcedRole?: Role): Promise<number> {
  const code = await serve(argv, forcedRole);
  // A worker's IPC channel would keep it alive after a refused start; its primary waits for the exit code.
  if (cluster.isWorker) setImmediate(() => process.exit(code));
  return code;
}

async function serve(argv: string[], forcedRole?: Role): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: stock-tracker all|collector|api|serve\n\nConfigured by environment variables only; see docs/configuration.md, docs/scaling.md and .env.example.\n');
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig(forcedRole ? { ...process.env, ROLE: forcedRole } : process.env);
  } catch (err) {
    if (err instanceof ConfigError) return fail(['refusing to start: invalid configuration', ...err.problems.map((p) => `  ${p}`)], EXIT_CONFIG);
    throw err;
  }
  const worker = cluster.isWorker ? { worker: Number(process.env.ST_WORKER_INDEX ?? cluster.worker?.id ?? 0) } : {};
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { role: config.role, ...worker } });
  if (cluster.isPrimary) log.info({ config: redactConfig(config) }, 'starting');

  if (config.role === 'api' && config.webConcurrency > 1 && cluster.isPrimary) return runPrimary(config, log);

  // Listening from here: a signal during start-up stops the server as soon as it is up, gracefully.
  const stop = stopRequested();
  let server: RunningRole;
  try {
    server = await startRole(config, log);
  } catch (err) {
    if ((err as Error).name === 'DatabaseUnreachableError') {
      return fail([`refusing to start: ${config.databaseUrl ? 'DATABASE_URL' : 'DATA_DIR'}: ${(err as Error).message}`], EXIT_UNAVAILABLE);
    }
    if (err instanceof ConfigError) return fail(['refusing to start: invalid configuration', ...err.problems.map((p) => `  ${p}`)], EXIT_CONFIG);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return fail([`PORT: ${config.host}:${config.port} is already in use`], EXIT_UNAVAILABLE);
    log.error({ err }, 'start failed');
    return fail([`start failed: ${err instanceof Error ? err.message : String(err)}`], 1);
  }
  // A worker's primary announces the replica once every worker listens.
  if (!cluster.isWorker) process.stdout.write(`stock-tracker listening on ${server.url}\n`);

  const reason = await stop;
  log.info({ reason }, 'stop requested');
  if (cluster.isWorker) {
    // The primary coordinates (and kills what outlives the timeout); a group-wide signal reaching the worker too must not cut its drain short.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
  } else {
    // A second signal while draining means "now".
    const force = () => {
      log.warn('second signal: exiting without finishing the shutdown');
      process.exit(130);
    };
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
  }

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
  });
  const outcome = await Promise.race([server.close().then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  const code = outcome === 'timeout' ? 1 : 0;
  if (outcome === 'timeout') log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
  // Anything still holding the event loop (a library timer) must not keep a finished server alive;
  // a worker's IPC channel always would, and its primary is waiting for the exit.
  setTimeout(() => process.exit(code), cluster.isWorker ? 0 : 2_000).unref();
  return code;
}

/** The api replica's primary: forks the workers, restarts crashed ones, and stops them all on a signal. */
async function runPrimary(config: Config, log: Logger): Promise<number> {
  const { WorkerSupervisor } = await import('../roles/workers.ts');
  const { displayUrl } = await import('../roles/shared.ts');
  const supervisor = new WorkerSupervisor({
    count: config.webConcurrency,
    log,
    // The workers have SHUTDOWN_TIMEOUT_MS themselves; the primary kills only what outlives that.
    shutdownTimeoutMs: config.shutdownTimeoutMs + 1_000,
    restartMaxDelayMs: config.scale.workerRestartMaxDelayMs,
  }).start();

  const signal = stopRequested();
  const started = await Promise.race([
    supervisor.listening.then((a) => ({ port: a.port })),
    supervisor.done.then((code) => ({ code })),
    signal.then((s) => ({ signal: s })),
  ]);
  if ('code' in started) return fail([`api workers could not start (exit ${started.code}); see the log above`], started.code || 1);
  if ('port' in started) {
    log.info({ workers: config.webConcurrency, pids: supervisor.pids() }, 'api workers listening');
    process.stdout.write(`stock-tracker listening on ${displayUrl(config.host, started.port)} (${config.webConcurrency} workers)\n`);
  }
  const reason = 'signal' in started ? started.signal : await Promise.race([signal, supervisor.done.then((code) => `workers exited (${code})`)]);
  log.info({ reason }, 'stop requested; stopping the workers');
  const force = () => {
    log.warn('second signal: killing the workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  const code = await supervisor.shutdown();
  log.info({ code }, 'api replica stopped');
  return code;
}
