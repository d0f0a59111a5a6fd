/**
 * The embedded server as a user runs it: `node apps/server/bin/stock-tracker.js all`
 * with a fresh DATA_DIR and a free port (PORT=0; the printed URL carries the
 * real one). It must print its URL, become ready, stream live quotes over
 * /ws/market, and on SIGTERM close WebSockets with 1001 and exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { ServerMessage } from '@stock-tracker/protocol';
import { CLI_BIN as BIN } from './cli-runner.ts';


/**
 * The simulator loops a compressed trading day aligned to multiples of its
 * length since the epoch; lunch and the close have no quotes. Pick a day length
 * that puts the next few minutes of wall time inside a continuous session, so
 * "a live update arrives" tests the server, not the simulated lunch break
 * (however slowly a loaded machine starts the process).
 */
function dayMsInContinuousSession(now: number): number {
  const windows = [
    [45 / 420, 180 / 420], // 09:15–11:30 within the 08:30–15:30 window
    [270 / 420, 360 / 420], // 13:00–14:30
  ];
  for (let dayMs = 600_000; dayMs <= 3_600_000; dayMs += 1_000) {
    const frac = (t: number) => (t % dayMs) / dayMs;
    const a = frac(now);
    const b = frac(now + 180_000);
    if (b > a && windows.some(([lo, hi]) => a > lo! + 0.01 && b < hi! - 0.01)) return dayMs;
  }
  throw new Error('no suitable SIM_DAY_MS');
}

function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output so far:\n${buf}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${re}:\n${buf}`));
    });
  });
}

describe('embedded start (stock-tracker all)', () => {
  let dataDir: string;
  let child: ChildProcess | undefined;
  let stderr = '';
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-embedded-'));
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints its URL, gets ready, streams live quotes, and stops cleanly on SIGTERM', async () => {
    const spawnedAt = Date.now();
    child = spawn(process.execPath, [BIN, 'all'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'warn',
        WEB_DIST: path.join(dataDir, 'no-web-build'),
        SIM_DAY_MS: String(dayMsInContinuousSession(Date.now())),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.on('exit', (code, signal) => resolve({ code, signal })));

    const [, url] = await waitForLine(child, /stock-tracker listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const startedAt = Date.now();

    let readyAt = 0;
    while (Date.now() - startedAt < 30_000) {
      const r = await fetch(`${url}/readyz`).catch(() => null);
      if (r?.status === 200) {
        readyAt = Date.now();
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(readyAt, `not ready within 30 s of start; stderr:\n${stderr}`).toBeGreaterThan(0);
    console.info(`embedded: URL printed ${startedAt - spawnedAt} ms after spawn (fresh PGlite), ready ${readyAt - startedAt} ms after that`);

    const ws = new WebSocket(`${url!.replace('http', 'ws')}/ws/market`);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const firstUpdate = new Promise<ServerMessage>((resolve) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as ServerMessage;
        if (msg.type === 'update' && msg.channel === 'market') resolve(msg);
      });
    });
    ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] }));
    // A generous bound only so a broken stream fails with a message rather than the test timeout; speed is benchmarked, not asserted.
    const update = await Promise.race([firstUpdate, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    expect(update, `no live quote update; stderr:\n${stderr}`).not.toBeNull();
    const data = (update as { data: { symbol: string; last: number | null } }).data;
    expect(typeof data.symbol).toBe('string');
    // The REST view of that symbol comes from the same engine.
    const q = await (await fetch(`${url}/api/quotes/${data.symbol}`)).json();
    expect(q.symbol).toBe(data.symbol);

    child.kill('SIGTERM');
    expect(await closed).toBe(1001);
    const { code, signal } = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(stderr).not.toMatch(/error/i);
    // Storage was flushed and closed: a reopened data directory holds the trades.
    const { openDatabase } = await import('../src/storage/db.ts');
    const db = await openDatabase({ dataDir });
    const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM trades');
    await db.close();
    expect(n.rows[0]!.n).toBeGreaterThan(0);
  }, 90_000);
});
