/**
 * The real server for end-to-end tests: `node apps/server/bin/stock-tracker.js all`
 * in a child process with a temporary DATA_DIR (embedded PGlite), the simulator
 * feed and the built SPA, on a free port. It can be killed and restarted on the
 * same port and data directory, which is what a browser sees when the server
 * crashes and comes back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HNX, HOSE, UPCOM } from '@stock-tracker/rules';
import { dayWindow, phaseChanges } from '@stock-tracker/feeds';
import { REPO_ROOT, WEB_DIST } from './web-build.ts';

export { ensureWebBuild, REPO_ROOT, WEB_DIST } from './web-build.ts';
const BIN = path.join(REPO_ROOT, 'apps/server/bin/stock-tracker.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ simulated day

/**
 * Every exchange trades continuously from `from` to `to` (epoch ms) when the
 * simulator runs with this day length? Uses the simulator's own calendar
 * (days aligned to multiples of dayMs since the epoch, phases mapped
 * proportionally into the day), so it stays right if the rules change.
 */
export function continuousThroughout(dayMs: number, from: number, to: number): boolean {
  const dayStart = Math.floor(from / dayMs) * dayMs;
  if (to >= dayStart + dayMs) return false;
  const rules = [HOSE, HNX, UPCOM];
  const window = dayWindow(rules);
  return rules.every((r) => {
    const changes = phaseChanges(r, dayStart, dayMs, window);
    // The phase in force at `from` must be continuous and must not change before `to`.
    const i = changes.findLastIndex((c) => c.ts <= from);
    const next = changes[i + 1];
    return i >= 0 && changes[i]!.phase === 'continuous' && (!next || next.ts > to);
  });
}

/**
 * A SIM_DAY_MS for which all exchanges are in a continuous session for the
 * whole of [now + fromMs, now + toMs], so live updates, alerts and a restart
 * all happen while the market trades (a lunch break or the close would make
 * "cells change" a test of the clock). Shortest such day from minDayMs up.
 */
export function simDayMsForContinuousSession(now: number, fromMs: number, toMs: number, minDayMs = 120_000): number {
  for (let dayMs = minDayMs; dayMs <= 7_200_000; dayMs += 1_000) {
    if (continuousThroughout(dayMs, now + fromMs, now + toMs)) return dayMs;
  }
  throw new Error(`no SIM_DAY_MS keeps the market continuous for ${toMs - fromMs} ms`);
}

// ------------------------------------------------------------------ server process

export interface StartServerOptions {
  /** Simulated day length; default: one that keeps the market continuous for `continuousForMs`. */
  simDayMs?: number;
  /** How long the market must keep trading continuously from start (default 4 minutes). */
  continuousForMs?: number;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Wait for /readyz 200 after the URL is printed (default true); false for servers expected to stay unready. */
  waitReady?: boolean;
}

export interface ServerHandle {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly simDayMs: number;
  /** Whether the process is running. */
  running(): boolean;
  /** Kills the process (SIGKILL: a crash; SIGTERM: graceful) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory and waits for /readyz. */
  restart(): Promise<void>;
  /** Last lines of its stdout/stderr, for failure messages. */
  output(): string;
  /** Stops it and removes the data directory. */
  close(): Promise<void>;
}

const LISTENING = /stock-tracker listening on (http:\/\/[^\s]+)/;

/** GET `${url}/readyz` until it answers 200. */
export async function waitForReady(url: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('server exited before it was ready');
    const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch((err: Error) => err);
    if (!(r instanceof Error) && r.status === 200) return;
    last = r instanceof Error ? r.message : `${r.status} ${await r.text().catch(() => '')}`;
    await sleep(150);
  }
  throw new Error(`${url}/readyz not 200 within ${timeoutMs} ms (last: ${last})`);
}

export async function startServer(opts: StartServerOptions = {}): Promise<ServerHandle> {
  const simDayMs = opts.simDayMs ?? simDayMsForContinuousSession(Date.now(), 0, opts.continuousForMs ?? 240_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'st-e2e-'));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  // A clean environment: the test runner's DATABASE_URL/REDIS_URL/NODE_OPTIONS must not leak in.
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    APP_ENV: 'development',
    // AUTH_MODE=accounts refuses to start without one outside APP_ENV=test (unused with AUTH_MODE=none).
    JWT_SECRET: randomBytes(48).toString('base64'),
    DATA_DIR: dataDir,
    FEED: 'simulator',
    SIM_DAY_MS: String(simDayMs),
    WEB_DIST,
    LOG_LEVEL: 'warn',
    // The browser tests load many pages from one address; rate limiting is tested elsewhere.
    RATE_LIMIT_MAX: '100000',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...opts.env,
  };

  let child: ChildProcess | undefined;
  let port = 0;
  let url = '';
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(l);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  // If the test worker dies, the server must not outlive it.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = async () => {
    const proc = spawn(process.execPath, [BIN, 'all'], { cwd: REPO_ROOT, env: { ...baseEnv, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stderr!.on('data', keep);
    const printed = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`server did not print its URL within ${readyTimeoutMs} ms:\n${lines.join('\n')}`)), readyTimeoutMs);
      proc.stdout!.on('data', (d: Buffer) => {
        keep(d);
        buf += d.toString();
        const m = buf.match(LISTENING);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code ?? sig}) before listening:\n${lines.join('\n')}`));
      });
    });
    url = printed;
    port = Number(new URL(printed).port);
    if (opts.waitReady !== false) await waitForReady(url, readyTimeoutMs, () => proc.exitCode === null && proc.signalCode === null);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timedOut = await Promise.race([exited.then(() => false), sleep(15_000).then(() => true)]);
    if (timedOut) {
      proc.kill('SIGKILL');
      await exited;
    }
  };

  try {
    await launch();
  } catch (err) {
    await stop('SIGKILL');
    process.off('exit', killOnExit);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    dataDir,
    simDayMs,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    stop,
    async restart() {
      await stop('SIGTERM');
      await launch();
    },
    output: () => lines.join('\n'),
    async close() {
      await stop('SIGTERM');
      process.off('exit', killOnExit);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
