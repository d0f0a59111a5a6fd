/**
 * Running pg_dump / pg_restore: found on PATH, or under PG_BIN_DIR when
 * several PostgreSQL versions are installed (pg_dump must be at least the
 * server's major version).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BackupError } from './errors.ts';

export type PgTool = 'pg_dump' | 'pg_restore';

export function pgToolPath(tool: PgTool, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.PG_BIN_DIR?.trim();
  return dir ? join(dir, tool) : tool;
}

export interface RunToolOptions {
  /** Added to the inherited environment (PGPASSWORD). */
  env?: Record<string, string>;
  baseEnv?: NodeJS.ProcessEnv;
}

// Tools can print a lot of warnings; keep the tail, which holds the error.
const STDERR_KEEP = 16 * 1024;

/** Runs the tool to completion; resolves with its stdout/stderr, throws BackupError when it is missing or exits non-zero. */
export function runPgTool(tool: PgTool, args: string[], opts: RunToolOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const baseEnv = opts.baseEnv ?? process.env;
  const path = pgToolPath(tool, baseEnv);
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { env: { ...baseEnv, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout = (stdout + d).slice(-STDERR_KEEP);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_KEEP);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(
          new BackupError(
            `${tool} not found (${path}): install the PostgreSQL client tools, at least the server's major version ` +
              `(Debian/Ubuntu: apt-get install postgresql-client), or set PG_BIN_DIR to the directory that holds ${tool}`,
          ),
        );
      } else reject(new BackupError(`cannot run ${tool} (${path}): ${err.message}`, 'failed', { cause: err }));
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const err = new BackupError(`${tool} ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
        reject(Object.assign(err, { stderr }));
      }
    });
  });
}

/** `pg_dump (PostgreSQL) 15.20 (Debian …)` and its major version; also proves the tool is installed. */
export async function pgToolVersion(tool: PgTool, baseEnv: NodeJS.ProcessEnv = process.env): Promise<{ text: string; major: number }> {
  const { stdout } = await runPgTool(tool, ['--version'], { baseEnv });
  const text = stdout.trim();
  const m = /\)\s+(\d+)/.exec(text) ?? /(\d+)\./.exec(text);
  return { text, major: m ? Number(m[1]) : NaN };
}
