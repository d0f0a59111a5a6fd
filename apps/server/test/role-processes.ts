/**
 * Real role processes for the topology and fault tests:
 * `node apps/server/bin/stock-tracker.js <role>` children, each in its own
 * process group (an api replica's workers die with it on SIGKILL, like a
 * container), with their JSON log lines kept for assertions. Every process
 * started here is killed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { StreamClient } from '@stock-tracker/client';
import type { Channel, QuoteState, StreamPos, UpdateMsg } from '@stock-tracker/protocol';
import { freePort } from '../../../test/helpers/private-postgres.ts';
import { waitFor } from '../../../test/helpers/wait.ts';

export { freePort };
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(REPO_ROOT, 'apps/server/bin/stock-tracker.js');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) killGroup(p, 'SIGKILL');
});

function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    p.kill(signal);
  }
}

export type Role = 'collector' | 'api' | 'migrate';

export interface RoleProcess {
  readonly name: string;
  readonly role: Role;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** The last lines of raw output, for failure messages. */
  output(): string;
  waitForLog(pred: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGKILL goes to the whole process group (primary and workers at once); other signals to the main process only. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The environment every role gets (nothing inherited but PATH/HOME, so the runner's own settings cannot leak in). */
export function roleEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    APP_ENV: 'development',
    DATA_DIR: path.join(os.tmpdir(), 'st-roles-unused'),
    FEED: 'simulator',
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '1000000',
    WS_MAX_CONNECTIONS_PER_IP: '10000',
    SHUTDOWN_TIMEOUT_MS: '8000',
    LEADER_TTL_MS: '3000',
    LEADER_RENEW_MS: '1000',
    LIVE_VIEW_INTERVAL_MS: '300',
    ...extra,
  };
}

export async function spawnRole(role: Role, name: string, env: Record<string, string>, opts: { port?: number; nodeArgs?: string[] } = {}): Promise<RoleProcess> {
  const port = opts.port ?? (role === 'migrate' ? 0 : await freePort());
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, role], { cwd: REPO_ROOT, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(proc);
  const parsed: Array<Record<string, unknown>> = [];
  const tail: string[] = [];
  const onChunk = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 300) tail.shift();
        if (line.startsWith('{')) {
          try {
            parsed.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not a log line
          }
        }
      }
    });
  };
  onChunk(proc.stdout!);
  onChunk(proc.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    }),
  );
  const rp: RoleProcess = {
    name,
    role,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    exited,
    running: () => proc.exitCode === null && proc.signalCode === null,
    logs: () => parsed,
    output: () => tail.slice(-60).join('\n'),
    async waitForLog(pred, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = parsed.find(pred);
        if (hit) return hit;
        if (!rp.running()) throw new Error(`${name} exited while waiting for ${what}:\n${rp.output()}`);
        if (Date.now() > deadline) throw new Error(`${name}: no ${what} within ${timeoutMs} ms:\n${rp.output()}`);
        await sleep(50);
      }
    },
    async kill(signal) {
      if (rp.running()) {
        if (signal === 'SIGKILL') killGroup(proc, signal);
        else proc.kill(signal);
      }
      return exited;
    },
  };
  return rp;
}

/** GET url until it answers `status` (default 200). */
export async function waitForStatus(url: string, what: string, opts: { status?: number; timeoutMs?: number; alive?: () => boolean } = {}): Promise<void> {
  const want = opts.status ?? 200;
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  let last = '';
  while (Date.now() < deadline) {
    if (opts.alive && !opts.alive()) throw new Error(`${what}: process exited (last: ${last})`);
    const r = await fetch(url, { signal: AbortSignal.timeout(3_000) }).catch((err: Error) => err);
    if (!(r instanceof Error) && r.status === want) return;
    last = r instanceof Error ? r.message : `${r.status} ${(await r.text().catch(() => '')).slice(0, 300)}`;
    await sleep(150);
  }
  throw new Error(`${what}: ${url} did not answer ${want} (last: ${last})`);
}

export async function startReady(role: 'collector' | 'api', name: string, env: Record<string, string>, opts: { port?: number; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<RoleProcess> {
  const p = await spawnRole(role, name, env, opts);
  try {
    await waitForStatus(`${p.url}/readyz`, `${name} ready`, { timeoutMs: opts.timeoutMs ?? 90_000, alive: p.running });
  } catch (err) {
    await p.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${p.output()}`);
  }
  return p;
}

export async function runMigrate(env: Record<string, string>): Promise<void> {
  const p = await spawnRole('migrate', 'migrate', env);
  const r = await p.exited;
  if (r.code !== 0) throw new Error(`migrate failed (${r.code ?? r.signal}):\n${p.output()}`);
}

/** Kills (SIGKILL, whole groups) every process given that is still running. */
export async function killAll(ps: Array<RoleProcess | undefined>): Promise<void> {
  await Promise.all(ps.map((p) => (p?.running() ? p.kill('SIGKILL') : undefined)));
}

// ---------------------------------------------------------------- clients

/**
 * A StreamClient that records what a price board would: per key the last
 * position and data, and every protocol anomaly. Its socket factory cycles
 * through `urls` (a tiny client-side round robin: a reconnect tries the next
 * replica), and records close codes.
 */
export interface TrackedClient {
  readonly client: StreamClient;
  readonly id: number;
  /** Connections opened, per URL index. */
  opened: number[];
  closeCodes: number[];
  /** Index into urls of the current connection. */
  current: number;
  positions: Map<string, StreamPos>;
  /** Last data per key (quotes: the board row). */
  data: Map<string, unknown>;
  /** Event ids per event key (trades, alerts), in arrival order (a duplicate would show). */
  events: Map<string, string[]>;
  gaps: number;
  /** Updates whose first seq was not the next one (independent of the client's own check). */
  violations: string[];
  resets: Array<{ key: string; reason: string }>;
  recovered: number;
  states: string[];
}

export function trackedClient(id: number, channel: Channel, urls: () => string[], startAt: number, opts: { symbols?: string[] | '*'; tradesFor?: string[]; backoff?: { initialMs?: number; maxMs?: number } } = {}): TrackedClient {
  const t: Omit<TrackedClient, 'client'> & { client?: StreamClient } = {
    id,
    opened: [],
    closeCodes: [],
    current: -1,
    positions: new Map(),
    data: new Map(),
    events: new Map(),
    gaps: 0,
    violations: [],
    resets: [],
    recovered: 0,
    states: [],
  };
  let attempt = 0;
  const path = `/ws/${channel}`;
  class RoundRobinSocket extends WebSocket {
    constructor() {
      const list = urls();
      const i = (startAt + attempt++) % list.length;
      super(list[i]!.replace(/^http/, 'ws') + path);
      t.current = i;
      t.opened[i] = (t.opened[i] ?? 0) + 1;
      this.addEventListener('close', (e) => t.closeCodes.push(e.code));
      // `ws` reports closing a socket that is still connecting as an error; the client has already let go of it.
      this.on('error', () => {});
    }
  }
  const client = new StreamClient({ url: 'ws://unused', WebSocket: RoundRobinSocket, symbols: opts.symbols ?? '*', backoff: { initialMs: 300, maxMs: 2_000, ...opts.backoff } });
  if (opts.tradesFor?.length) client.subscribe(opts.tradesFor, { trades: true });
  const apply = (key: string, seq: number, epoch: string, first: number, data: unknown, isUpdate: boolean) => {
    const pos = t.positions.get(key);
    if (isUpdate && pos) {
      const ok = epoch !== pos.epoch ? first === 1 : first === pos.seq + 1;
      if (!ok) t.violations.push(`${key}: had ${pos.seq}@${pos.epoch}, got ${first}..${seq}@${epoch}`);
    }
    t.positions.set(key, { seq, epoch });
    if (channel === 'alerts' || key.endsWith(':trades')) {
      const list = t.events.get(key) ?? [];
      for (const e of (Array.isArray(data) ? data : [data]) as Array<{ id: string }>) if (isUpdate || !list.includes(e.id)) list.push(e.id);
      t.events.set(key, list);
    } else t.data.set(key, data);
  };
  client.on('snapshot', (m) => {
    // A trades snapshot is recent history (possibly overlapping what we had): only ids not seen yet are new.
    apply(m.key, m.seq, m.epoch, m.seq, m.data, false);
  });
  client.on('update', (m: UpdateMsg) => apply(m.key, m.seq, m.epoch, m.from ?? m.seq, m.data, true));
  client.on('gap', () => t.gaps++);
  client.on('reset', (m) => {
    t.resets.push({ key: m.key, reason: m.reason });
    t.positions.delete(m.key);
  });
  client.on('recovered', () => t.recovered++);
  client.on('state', (s) => t.states.push(s));
  t.client = client;
  client.connect();
  return t as TrackedClient;
}

/** Waits until pred holds, polling. */
export const until = (pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 100, describe?: () => string): Promise<void> =>
  waitFor(pred, what, { timeoutMs, everyMs, describe });

/** The `n` symbols with the most trades today, as an api replica reports them (waits until it serves a board). */
export async function mostTraded(url: string, n: number): Promise<string[]> {
  const quotes = async () => ((await (await fetch(`${url}/api/quotes`)).json()) as { items?: QuoteState[] }).items ?? [];
  await until(async () => (await quotes()).length > 20, 'a board on the api', 60_000, 250);
  const symbols = (await quotes()).map((q) => q.symbol);
  const trades = await Promise.all(symbols.map(async (s) => ((await (await fetch(`${url}/api/session/${s}`)).json()) as { day?: { trades: number } }).day?.trades ?? 0));
  return symbols
    .map((symbol, i) => ({ symbol, trades: trades[i]! }))
    .sort((a, b) => b.trades - a.trades)
    .slice(0, n)
    .map((x) => x.symbol);
}

/** A one-line picture of a set of clients, for failure messages. */
export function describeClients(cs: TrackedClient[]): string {
  const count = <T>(xs: T[]) => [...xs.reduce((m, x) => m.set(String(x), (m.get(String(x)) ?? 0) + 1), new Map<string, number>())].map(([k, n]) => `${k}:${n}`).join(' ');
  return `states {${count(cs.map((c) => c.client.state))}} on {${count(cs.map((c) => c.current))}} gaps ${cs.reduce((n, c) => n + c.gaps, 0)} resets {${count(cs.flatMap((c) => c.resets.map((r) => r.reason)))}} recovered ${cs.reduce((n, c) => n + c.recovered, 0)} closes {${count(cs.flatMap((c) => c.closeCodes))}}`;
}

/** Board rows a client holds that differ from the reference quotes (by symbol). */
export function boardDiff(t: TrackedClient, quotes: QuoteState[]): string[] {
  const out: string[] = [];
  for (const q of quotes) {
    const mine = t.data.get(q.symbol);
    if (JSON.stringify(mine) !== JSON.stringify(q)) out.push(q.symbol);
  }
  return out;
}
