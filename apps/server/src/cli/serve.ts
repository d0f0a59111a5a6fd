/**
 * `stock-tracker all` and `stock-tracker serve`: run the server until SIGINT or
 * SIGTERM, then shut down gracefully and exit 0. Configuration problems and an
 * unreachable database are refused at start with a message naming the
 * variable and a non-zero exit.
 */
import { ConfigError, loadConfig, redactConfig, type Config, type Role } from '../config.ts';
import { createLogger } from '../observability/logger.ts';

/** sysexits EX_CONFIG: the configuration is unusable. */
export const EXIT_CONFIG = 78;
export const EXIT_UNAVAILABLE = 69;

function fail(lines: string[], code: number): number {
  process.stderr.write(lines.map((l) => `stock-tracker: ${l}\n`).join(''));
  return code;
}

export async function run(argv: string[], forcedRole?: Role): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: stock-tracker all|serve\n\nConfigured by environment variables only; see docs/configuration.md and .env.example.\n');
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig(forcedRole ? { ...process.env, ROLE: forcedRole } : process.env);
  } catch (err) {
    if (err instanceof ConfigError) return fail(['refusing to start: invalid configuration', ...err.problems.map((p) => `  ${p}`)], EXIT_CONFIG);
    throw err;
  }
  if (config.role !== 'all') {
    return fail([`ROLE: role '${config.role}' is not available in this build yet; use ROLE=all`], EXIT_CONFIG);
  }
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { role: config.role } });
  log.info({ config: redactConfig(config) }, 'starting');

  let server;
  try {
    // Loaded after validation: a refused configuration answers without loading the server.
    const { startAll } = await import('../roles/all.ts');
    server = await startAll({ config, log });
  } catch (err) {
    if ((err as Error).name === 'DatabaseUnreachableError') {
      return fail([`refusing to start: ${config.databaseUrl ? 'DATABASE_URL' : 'DATA_DIR'}: ${(err as Error).message}`], EXIT_UNAVAILABLE);
    }
    if (err instanceof ConfigError) return fail(['refusing to start: invalid configuration', ...err.problems.map((p) => `  ${p}`)], EXIT_CONFIG);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return fail([`PORT: ${config.host}:${config.port} is already in use`], EXIT_UNAVAILABLE);
    log.error({ err }, 'start failed');
    return fail([`start failed: ${err instanceof Error ? err.message : String(err)}`], 1);
  }
  process.stdout.write(`stock-tracker listening on ${server.url}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (s: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(s);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log.info({ signal }, 'signal received');
  // A second signal while draining means "now".
  const force = () => {
    log.warn('second signal: exiting without finishing the shutdown');
    process.exit(130);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
  });
  const outcome = await Promise.race([server.close().then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  const code = outcome === 'timeout' ? 1 : 0;
  if (outcome === 'timeout') log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
  // Anything still holding the event loop (a library timer) must not keep a finished server alive.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
