/**
 * Benchmark child processes: servers and load generators run in their own
 * processes (a Node process is one event loop: a load generator sharing it
 * with the server would measure itself). Parent and child talk over Node's
 * IPC channel with request/response messages `{id, cmd, ...}` → `{id, ok, ...}`.
 *
 * Children are started through `bash -c 'ulimit -n …; exec node …'`: the fd
 * limit is per process, and 5,000 sockets need more than some defaults allow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');

const FD_LIMIT = 65_536;

export interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export interface Child {
  readonly proc: ChildProcess;
  readonly name: string;
  /** Sends a command and resolves with the child's reply (rejects on `ok: false`, exit or timeout). */
  call<T = Reply>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Resolves with the first unsolicited message of this type (e.g. `ready`). */
  once<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  /** Asks politely (`stop`), then SIGKILLs after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `script` (a .ts file, run with tsx) as a child. `nodeArgs` go before
 * the script (e.g. --expose-gc); `env` is added to the parent's environment;
 * `quiet` sends the child's stdout to /dev/null (a server's request log).
 */
export function startChild(name: string, script: string, opts: { args?: string[]; nodeArgs?: string[]; env?: Record<string, string>; quiet?: boolean } = {}): Child {
  const argv = [...(opts.nodeArgs ?? []), '--import', 'tsx', script, ...(opts.args ?? [])];
  // Raise the soft limit to FD_LIMIT, or at least to the hard limit when FD_LIMIT is not allowed.
  const sh = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  const proc = spawn('bash', ['-c', sh, process.execPath, ...argv], {
    cwd: REPO_ROOT,
    stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...opts.env },
    serialization: 'advanced', // typed arrays (latency samples) cross as binary
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const waiters = new Map<string, ((m: Record<string, unknown>) => void)[]>();
  let exited: Error | null = null;

  proc.on('message', (raw) => {
    const m = raw as Record<string, unknown>;
    if (typeof m.id === 'number' && pending.has(m.id)) {
      const p = pending.get(m.id)!;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m as unknown as Reply);
      else p.reject(new Error(`${name}: ${String(m.error)}`));
      return;
    }
    if (typeof m.type === 'string') {
      const list = waiters.get(m.type);
      if (list?.length) list.shift()!(m);
    }
  });
  proc.on('exit', (code, signal) => {
    exited = new Error(`${name} exited (code ${code}, signal ${signal})`);
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(exited);
    }
    pending.clear();
  });

  return {
    proc,
    name,
    call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
      if (exited) return Promise.reject(exited);
      const id = ++nextId;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: '${cmd}' timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (r: Reply) => void, reject, timer });
        proc.send({ id, cmd, ...args });
      });
    },
    once<T>(type: string, timeoutMs = 120_000): Promise<T> {
      if (exited) return Promise.reject(exited);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
        const onExit = () => reject(exited ?? new Error(`${name} exited`));
        proc.once('exit', onExit);
        const list = waiters.get(type) ?? [];
        list.push((m) => {
          clearTimeout(timer);
          proc.off('exit', onExit);
          resolve(m as T);
        });
        waiters.set(type, list);
      });
    },
    async stop(graceMs = 5_000) {
      if (exited || proc.exitCode !== null) return;
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      try {
        proc.send({ id: 0, cmd: 'stop' });
      } catch {
        /* channel already closed */
      }
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

export type Handler = (msg: Record<string, unknown>) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;

/**
 * Child side: answers the parent's commands with `handlers[cmd]`. `stop`
 * runs `handlers.stop` (if any) and exits. A child whose parent dies exits too.
 */
export function serveParent(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('this script is a benchmark child: start it with startChild()');
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (raw) => {
    const m = raw as { id: number; cmd: string };
    if (m.cmd === 'stop') {
      try {
        await handlers.stop?.(m as unknown as Record<string, unknown>);
      } finally {
        process.exit(0);
      }
    }
    const h = handlers[m.cmd];
    try {
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      const out = (await h(m as unknown as Record<string, unknown>)) ?? {};
      process.send!({ id: m.id, ok: true, ...out });
    } catch (err) {
      process.send!({ id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  });
}

/** Unsolicited message to the parent (e.g. `{type: 'ready', port}`). */
export function tellParent(msg: Record<string, unknown>): void {
  process.send?.(msg);
}
