/**
 * The production topology (docker-compose.prod.yml) run natively on loopback:
 * a fresh PostgreSQL database owned by its own role with a strong password
 * (the compose `db` service's stock_tracker user), the `migrate` job, one
 * `collector`, N `api` processes (WEB_CONCURRENCY workers each), the web nginx
 * serving a copy of `apps/web/dist` with the shipped web.conf.template, and
 * the edge nginx with the shipped edge templates rendered to loopback
 * upstreams. Redis is the shared test server under a unique key prefix.
 *
 * The server environment is the compose file's own `x-server-env` block,
 * interpolated the way `docker compose` does with the values a `.env` would
 * hold, then pointed at loopback (HOST, PORT, DATABASE_URL, REDIS_URL,
 * REDIS_PREFIX). The edge's variables come from the compose `edge` service
 * the same way. So a change to the compose file is what this topology runs.
 *
 * No Vitest import: the edge benchmark uses it too (pass the admin and Redis
 * URLs explicitly there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createNginxPrefix, edgeFiles, edgeRealIpConfig, freePort, startNginx, webFiles, type RunningNginx } from './nginx.ts';
import { databaseUrlFor, dropDatabase, uniqueDbName, withAdmin } from './pg-admin.ts';
import { Redis } from 'ioredis';
import { ensureWebBuild, REPO_ROOT, simDayMsForContinuousSession, WEB_DIST } from './server.ts';

const BIN = path.join(REPO_ROOT, 'apps/server/bin/stock-tracker.js');
const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.prod.yml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------- compose environment ---

/**
 * Compose's variable interpolation: `$$` is a literal `$`; `${NAME}`,
 * `${NAME:-default}` / `${NAME-default}` (":" also replaces an empty value),
 * `${NAME:?message}` / `${NAME?message}` (an error when unset). Plain `$NAME`
 * is interpolated too. Defaults do not nest (compose allows it; the file does not use it).
 */
export function interpolateCompose(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
    if (m === '$$') return '$';
    if (bare) return vars[bare] ?? '';
    const v = vars[name!];
    const missing = v === undefined || (colon === ':' && v === '');
    if (op === '-') return missing ? interpolateCompose(arg ?? '', vars) : v!;
    if (op === '?') {
      if (missing) throw new Error(`compose: required variable ${name} is missing: ${arg}`);
      return v!;
    }
    return v ?? '';
  });
}

interface ComposeFile {
  'x-server-env': Record<string, string>;
  services: Record<string, { environment?: Record<string, string> }>;
}

function readCompose(): ComposeFile {
  return parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
}

/** The environment compose gives every server role, interpolated with `dotenv` (the `.env` values). */
export function composeServerEnv(dotenv: Record<string, string>): Record<string, string> {
  // Every role's share together (compose splits the secrets by role; natively one environment serves them all).
  const c = readCompose() as unknown as Record<string, Record<string, unknown>>;
  const env = { ...c['x-server-env'], ...c['x-database-env'], ...c['x-redis-env'], ...c['x-auth-env'], ...c['x-vendor-env'] };
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolateCompose(String(v), dotenv)]));
}

/** The environment compose gives the edge container (its template variables), interpolated with `dotenv`. */
export function composeEdgeEnv(dotenv: Record<string, string>): Record<string, string> {
  const env = readCompose().services.edge?.environment ?? {};
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolateCompose(String(v), dotenv)]));
}

// ------------------------------------------------------------ server process ---

export type ServerRole = 'collector' | 'api' | 'all';

/** One `stock-tracker <role>` process (with its cluster workers, if any) on a fixed loopback port. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly tail: string[] = [];
  private readonly json: Array<Record<string, unknown>> = [];
  private partial = '';

  constructor(
    readonly name: string,
    readonly role: ServerRole,
    readonly port: number,
    private readonly env: Record<string, string>,
    /** stdout (the JSON request log) to /dev/null: a benchmark must not pay for reading it. */
    private readonly quiet = false,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Process id of the primary (undefined before start). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last lines of stdout/stderr, for failure messages. */
  output(lines = 60): string {
    return this.tail.slice(-lines).join('\n');
  }

  /** Every JSON log line written so far (pino, one object per line; workers share the primary's stdout). */
  logLines(): Array<Record<string, unknown>> {
    return this.json;
  }

  private keep(chunk: Buffer, isStdout: boolean): void {
    const text = (isStdout ? this.partial : '') + chunk.toString();
    const parts = text.split('\n');
    if (isStdout) this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line) continue;
      this.tail.push(`[${this.name}] ${line}`);
      if (isStdout && line.startsWith('{') && this.json.length < 200_000) {
        try {
          this.json.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* a line cut by a crash: not a log record */
        }
      }
    }
    if (this.tail.length > 2_000) this.tail.splice(0, this.tail.length - 2_000);
  }

  /** Starts the process and waits until `/readyz` answers 200 on its port. */
  async start(readyTimeoutMs = 90_000): Promise<void> {
    if (this.running()) return;
    // Own process group: its cluster workers can be reaped with it if the primary dies first.
    const proc = spawn(process.execPath, [BIN, this.role], { cwd: REPO_ROOT, env: this.env, stdio: ['ignore', this.quiet ? 'ignore' : 'pipe', 'pipe'], detached: true });
    this.child = proc;
    live.add(proc);
    proc.stdout?.on('data', (c: Buffer) => this.keep(c, true));
    proc.stderr!.on('data', (c: Buffer) => this.keep(c, false));
    this.exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    void this.exited.then(() => live.delete(proc));
    try {
      await waitForStatus(`${this.url}/readyz`, 200, readyTimeoutMs, () => this.running());
    } catch (err) {
      await this.stop('SIGKILL');
      throw new Error(`${this.name} (${this.role}) did not become ready: ${(err as Error).message}\n${this.output()}`);
    }
  }

  /** Signals the primary (SIGTERM: graceful) and waits for it to exit; leftovers of its group are killed. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 25_000): Promise<void> {
    const proc = this.child;
    if (!proc) return;
    if (this.running()) {
      proc.kill(signal);
      const timedOut = await Promise.race([this.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
      if (timedOut) killGroup(proc, 'SIGKILL');
      await this.exited;
    }
    // Workers outliving their primary would keep the port: none may remain.
    killGroup(proc, 'SIGKILL');
  }
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) killGroup(p, 'SIGKILL');
});

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    /* ESRCH: the group is gone */
  }
}

/** GET `url` until it answers `status`. */
export async function waitForStatus(url: string, status: number, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`exited before ${url} answered ${status} (last: ${last})`);
    const r = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch((err: Error) => err);
    if (!(r instanceof Error)) {
      const body = await r.text().catch(() => '');
      if (r.status === status) return;
      last = `${r.status} ${body.slice(0, 300)}`;
    } else {
      last = r.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}

/** Runs a one-off job (`stock-tracker <args>`) to completion. */
export function runJob(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`stock-tracker ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// ------------------------------------------------------------------ topology ---

export interface TopologyOptions {
  /** Admin URL (database `postgres`) of the PostgreSQL server, for CREATE ROLE/DATABASE. */
  adminUrl: string;
  /** Redis URL (the topology keeps its keys under a unique prefix, deleted at close). */
  redisUrl: string;
  /**
   * `roles`: migrate + collector + api replicas (the compose topology).
   * `all`: migrate + one `stock-tracker all` per api slot on the same
   * database (for builds without the split roles).
   */
  mode?: 'roles' | 'all';
  /** API processes behind the edge (compose API_REPLICAS default: 2). */
  apiReplicas?: number;
  /** WEB_CONCURRENCY of each api process. */
  webConcurrency?: number;
  /** `.env` values: compose variables (FEED, RATE_LIMIT_MAX, EDGE_API_RATE, …). */
  dotenv?: Record<string, string>;
  /** Variables set on the server processes after compose's (native-only knobs). */
  serverEnv?: Record<string, string>;
  /** Server stdout (the JSON logs) to /dev/null; logLines() stays empty. */
  quiet?: boolean;
  /** How long the simulated market must trade continuously from start (default 5 minutes). */
  continuousForMs?: number;
  log?: (msg: string) => void;
}

export interface Topology {
  readonly edgePort: number;
  /** `http://127.0.0.1:<edge port>`: the only address a browser or client should use. */
  readonly edgeUrl: string;
  readonly collector: ServerProcess | undefined;
  readonly apis: ServerProcess[];
  readonly web: RunningNginx;
  /** The directory the web nginx serves (a copy of apps/web/dist). */
  readonly webRoot: string;
  readonly edge: RunningNginx;
  /** The server roles' environment (compose's, pointed at loopback; no PORT). */
  readonly serverEnv: Record<string, string>;
  readonly database: { name: string; role: string; url: string; adminUrl: string };
  readonly redis: { url: string; prefix: string };
  readonly simDayMs: number;
  /** Stops every api process (SIGTERM, graceful). */
  stopApis(): Promise<void>;
  /** Starts them again on the same ports and waits until each is ready. */
  startApis(): Promise<void>;
  /** Last output of every process, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

/** Deletes the topology's Redis keys (redis.ts has the same, but imports Vitest). */
async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/**
 * The compose upstream (`server api:8080 resolve max_fails=0;`) for loopback
 * ports: one `server` line per port with the compose line's parameters, minus
 * `resolve` (an address needs no DNS).
 */
export function loopbackServers(composeServers: string, ports: number[]): string {
  const m = /^\s*server\s+\S+((?:\s+[^\s;]+)*)\s*;\s*$/.exec(composeServers);
  if (!m) throw new Error(`API_SERVERS in the compose file is not one \`server …;\` line: ${composeServers}`);
  const params = m[1]!.trim().split(/\s+/).filter((p) => p && p !== 'resolve');
  return ports.map((port) => ['server', `127.0.0.1:${port}`, ...params].join(' ') + ';').join(' ');
}

/** Random hex, as `openssl rand -hex N` (the compose docs' recipe for passwords). */
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export async function startTopology(opts: TopologyOptions): Promise<Topology> {
  const log = opts.log ?? (() => {});
  const mode = opts.mode ?? 'roles';
  const replicas = opts.apiReplicas ?? 2;
  // Each `all` process runs its own feed and writer: two on one database would store everything twice.
  if (mode === 'all' && replicas !== 1) throw new Error("mode 'all' runs exactly one server (apiReplicas: 1)");
  const cleanups: Array<() => Promise<void> | void> = [];
  const unwind = async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
  };

  try {
    // The SPA build the web image would carry, copied so nginx's workers (nobody) read a tree nobody rebuilds meanwhile.
    await ensureWebBuild(log);
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'st-topo-state-'));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const webRoot = mkdtempSync(path.join(os.tmpdir(), 'st-topo-web-'));
    cleanups.push(() => rmSync(webRoot, { recursive: true, force: true }));
    cpSync(WEB_DIST, webRoot, { recursive: true });
    chmodSync(webRoot, 0o755);

    // The compose db service: a database owned by an unprivileged role with a strong password.
    const dbName = uniqueDbName('st_iso');
    const dbRole = `st_topo_${hex(5)}`;
    const dbPassword = hex(32);
    await withAdmin(opts.adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${dbRole} LOGIN PASSWORD '${dbPassword}'`);
      await c.query(`CREATE DATABASE ${dbName} OWNER ${dbRole}`);
    });
    cleanups.push(async () => {
      await dropDatabase(opts.adminUrl, dbName);
      await withAdmin(opts.adminUrl, (c) => c.query(`DROP ROLE IF EXISTS ${dbRole}`));
    });
    const dbUrl = new URL(databaseUrlFor(opts.adminUrl, dbName));
    dbUrl.username = dbRole;
    dbUrl.password = dbPassword;
    const databaseUrl = dbUrl.toString();

    const prefix = `st:test:topology:${hex(5)}:`;
    cleanups.push(() => deleteRedisPrefix(opts.redisUrl, prefix));

    const simDayMs = simDayMsForContinuousSession(Date.now(), 0, opts.continuousForMs ?? 300_000);
    const dotenv: Record<string, string> = {
      STOCK_TRACKER_VERSION: 'native',
      POSTGRES_PASSWORD: dbPassword,
      REDIS_PASSWORD: hex(32),
      JWT_SECRET: randomBytes(48).toString('base64'),
      SIM_DAY_MS: String(simDayMs),
      WEB_CONCURRENCY: String(opts.webConcurrency ?? 2),
      ...opts.dotenv,
    };
    const serverEnv: Record<string, string> = {
      // A clean environment: the test runner's own variables must not leak in.
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.tmpdir(),
      ...composeServerEnv(dotenv),
      // Loopback instead of the compose network's service names.
      HOST: '127.0.0.1',
      // Private directories instead of the image's volume mounts (/data/spill, /tapes).
      SPILL_DIR: path.join(stateDir, 'spill'),
      TRADING_TAPES_DIR: path.join(stateDir, 'tapes'),
      DATABASE_URL: databaseUrl,
      REDIS_URL: opts.redisUrl,
      REDIS_PREFIX: prefix,
      ...opts.serverEnv,
    };
    delete serverEnv.PORT;

    const migrated = await runJob(['migrate'], serverEnv);
    if (migrated.code !== 0) throw new Error(`migrate exited ${migrated.code}:\n${migrated.stdout}\n${migrated.stderr}`);
    log('migrate: done');

    const envFor = (port: number) => ({ ...serverEnv, PORT: String(port) });
    let collector: ServerProcess | undefined;
    if (mode === 'roles') {
      const port = await freePort();
      collector = new ServerProcess('collector', 'collector', port, envFor(port), opts.quiet);
      cleanups.push(() => collector!.stop());
      await collector.start();
      log(`collector: ready on ${port}`);
    }
    const apis: ServerProcess[] = [];
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const p = new ServerProcess(`api-${i + 1}`, mode === 'roles' ? 'api' : 'all', port, envFor(port), opts.quiet);
      apis.push(p);
      cleanups.push(() => p.stop());
    }
    // One at a time: two servers compiling and connecting at once on two cores only start slower.
    for (const p of apis) {
      await p.start();
      log(`${p.name}: ready on ${p.port}`);
    }

    const webPort = await freePort();
    const web = await startNginx(createNginxPrefix(webFiles({ WEB_LISTEN_PORT: `127.0.0.1:${webPort}`, WEB_ROOT: webRoot })), [webPort]);
    cleanups.push(() => web.stop());

    const edgePort = await freePort();
    const composeEdge = composeEdgeEnv(dotenv);
    const edgeVars = {
      ...composeEdge,
      EDGE_LISTEN_PORT: `127.0.0.1:${edgePort}`,
      API_SERVERS: loopbackServers(composeEdge.API_SERVERS ?? '', apis.map((p) => p.port)),
      WEB_SERVER: `127.0.0.1:${webPort}`,
      EDGE_RESOLVER: '127.0.0.1',
      // What the image's entrypoint script renders from EDGE_TRUSTED_PROXIES / EDGE_REAL_IP_HEADER.
      EDGE_REAL_IP_CONFIG: edgeRealIpConfig({ EDGE_TRUSTED_PROXIES: composeEdge.EDGE_TRUSTED_PROXIES ?? '', EDGE_REAL_IP_HEADER: composeEdge.EDGE_REAL_IP_HEADER ?? '' }),
    };
    const edge = await startNginx(createNginxPrefix(edgeFiles(edgeVars)), [edgePort]);
    cleanups.push(() => edge.stop());
    log(`edge: http://127.0.0.1:${edgePort}`);

    const everything = () => [collector, ...apis].filter((p): p is ServerProcess => !!p);
    return {
      edgePort,
      edgeUrl: `http://127.0.0.1:${edgePort}`,
      collector,
      apis,
      web,
      webRoot,
      edge,
      serverEnv,
      database: { name: dbName, role: dbRole, url: databaseUrl, adminUrl: opts.adminUrl },
      redis: { url: opts.redisUrl, prefix },
      simDayMs,
      async stopApis() {
        await Promise.all(apis.map((p) => p.stop('SIGTERM')));
      },
      async startApis() {
        for (const p of apis) await p.start();
      },
      output: () => [...everything().map((p) => p.output(40)), `[edge] ${edge.log().slice(-2_000)}`].join('\n'),
      close: unwind,
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
