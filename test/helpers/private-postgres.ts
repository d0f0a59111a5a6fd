/**
 * A private PostgreSQL instance for fault injection: its own data directory
 * (initdb into a temp dir), a random free port, and start/stop under the
 * test's control — `stop('immediate')` is a crash as far as clients can tell.
 * As root the binaries run as the `postgres` OS user (PostgreSQL refuses root).
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isRoot, postgresBinDir } from './services.ts';

const execFileP = promisify(execFile);

export interface PrivatePostgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth). */
  readonly url: string;
  readonly dir: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** `immediate` (default) aborts without a checkpoint, like a crash; `fast` is a clean shutdown. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Stops (immediate) and deletes the data directory. */
  destroy(): Promise<void>;
  /** The server log so far (for failure messages). */
  log(): string;
}

export interface PrivatePostgresOptions {
  /** Major version under /usr/lib/postgresql; default the newest installed. */
  version?: string;
  /** Extra server settings (`-c name=value`). */
  settings?: Record<string, string>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) throw new Error('no `postgres` OS user to run PostgreSQL as');
  return { uid, gid };
}

/** argv that runs a PostgreSQL binary, as `postgres` when we are root. */
function command(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

// Instances still running when the process exits (a failed test) are stopped
// synchronously so no stray server outlives the run.
const live = new Set<{ stopSync(): void }>();
process.once('exit', () => {
  for (const i of live) i.stopSync();
});

export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir(opts.version);
  const dir = mkdtempSync(join(tmpdir(), 'st-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (isRoot()) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = async (name: string, args: string[]) => {
    const [cmd, argv] = command(join(bin, name), args);
    try {
      return await execFileP(cmd, argv, { encoding: 'utf8' });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
    }
  };
  await run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    // The machine does not crash in these tests, only the server: the OS keeps
    // what was written, so skipping fsync loses nothing and saves seconds.
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: '50',
    ...opts.settings,
  };
  const serverOpts = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  let running = false;
  const pgCtlStopArgs = (mode: string) => ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'];
  const handle = {
    stopSync() {
      if (!running) return;
      const [cmd, argv] = command(join(bin, 'pg_ctl'), pgCtlStopArgs('immediate'));
      spawnSync(cmd, argv);
      running = false;
    },
  };
  const instance: PrivatePostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    get running() {
      return running;
    },
    async start() {
      if (running) return;
      await run('pg_ctl', ['-D', data, '-l', logFile, '-o', serverOpts, '-w', '-t', '60', 'start']);
      running = true;
      live.add(handle);
    },
    async stop(mode = 'immediate') {
      if (!running) return;
      await run('pg_ctl', pgCtlStopArgs(mode));
      running = false;
      live.delete(handle);
    },
    async destroy() {
      await instance.stop('immediate').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
  await instance.start();
  return instance;
}
