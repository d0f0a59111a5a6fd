/**
 * Issue 14 §1, "live from the first second": the tracker as `npm start` runs
 * it (role `all`, embedded PGlite in a fresh data directory, the simulator,
 * default settings) shows a moving board within 10 s of /readyz, whatever
 * the hour: by default the simulated day starts in the morning continuous
 * session, and from a quiet phase (SIM_START_PHASE) the compressed breaks
 * end within seconds. In-process `all` servers, started side by side.
 *
 * Also checked on the way: streamed quotes are stamped on the exchange clock
 * inside a trading phase of their exchange (phaseAt), and /api/market/status
 * names each exchange's phase and the next one.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import WebSocket from 'ws';
import type { MarketStatusResponse, QuoteState, ServerMessage } from '@stock-tracker/protocol';
import { isTradingPhase, phaseAt, rulesFor } from '@stock-tracker/rules';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startAll, type RunningServer } from '../src/roles/all.ts';

const READY_WITHIN_MS = 60_000;
const LIVE_WITHIN_MS = 10_000;

interface Case {
  name: string;
  env: Record<string, string>;
}

// The default, and quiet starts: the lunch break, and after the close (which passes through the next
// day's pre-open), each with its own seed.
const CASES: Case[] = [
  { name: 'defaults', env: {} },
  { name: 'lunch_break', env: { SIM_START_PHASE: 'lunch_break', SIM_SEED: '11' } },
  { name: 'closed', env: { SIM_START_PHASE: 'closed', SIM_SEED: '3' } },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  let last = '';
  while (Date.now() < deadline) {
    const r = await fetch(`${url}/readyz`).catch((err: Error) => err);
    if (!(r instanceof Error) && r.status === 200) return;
    last = r instanceof Error ? r.message : `${r.status} ${await r.text().catch(() => '')}`;
    await sleep(100);
  }
  throw new Error(`${url}/readyz not 200 within ${READY_WITHIN_MS} ms (last: ${last})`);
}

/**
 * Resolves with the first quote update that shows trading (a new trade: total
 * volume up on a symbol already seen); rejects with what was seen after `ms`.
 * A connection that fails is opened again within the time, as the web app does.
 */
function firstMovingQuote(url: string, ms: number): { result: Promise<QuoteState>; close: () => void } {
  const volume = new Map<string, number>();
  const seen: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ws: WebSocket | undefined;
  let done = false;
  const result = new Promise<QuoteState>((resolve, reject) => {
    timer = setTimeout(() => {
      done = true;
      reject(new Error(`no moving quote on /ws/market within ${ms} ms of /readyz; last messages: ${seen.slice(-5).join(' | ') || 'none'}`));
    }, ms);
    const connect = () => {
      if (done) return;
      const socket = new WebSocket(`${url.replace('http', 'ws')}/ws/market`);
      ws = socket;
      volume.clear();
      socket.on('open', () => socket.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] })));
      socket.on('error', (err) => seen.push(`socket error: ${err.message}`));
      socket.on('close', () => void (done || setTimeout(connect, 200)));
      socket.on('message', (raw) => {
        const msg = JSON.parse(String(raw)) as ServerMessage;
        if ((msg.type !== 'snapshot' && msg.type !== 'update') || msg.channel !== 'market') return;
        const q = msg.data as QuoteState;
        if (typeof q?.totalVolume !== 'number') return; // trades, not quote states
        seen.push(`${msg.type} ${q.symbol} ${q.phase} vol=${q.totalVolume}`);
        const before = volume.get(q.symbol);
        volume.set(q.symbol, q.totalVolume);
        if (msg.type === 'update' && before !== undefined && q.totalVolume > before) {
          done = true;
          resolve(q);
        }
      });
    };
    connect();
  });
  return {
    result,
    close: () => {
      done = true;
      clearTimeout(timer);
      ws?.close();
    },
  };
}

describe('live from the first second (role all, simulator, default settings)', () => {
  const servers: RunningServer[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('shows trading on /ws/market within 10 s of /readyz, from the default start and from quiet start phases', async () => {
    // One after the other (a start is CPU-heavy: parallel starts on a busy machine starve each other);
    // each server's watch starts at its own /readyz and runs while the next one starts.
    const watches: Promise<{ c: Case; q: QuoteState; status: MarketStatusResponse }>[] = [];
    for (const c of CASES) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'st-live-'));
      dirs.push(dataDir);
      const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', WEB_DIST: path.join(dataDir, 'no-web'), ...c.env });
      const startedAt = Date.now();
      const server = await startAll({ config });
      servers.push(server);
      await waitReady(server.url);
      console.info(`live-first-second: ${c.name} ready ${Date.now() - startedAt} ms after start`);
      const watch = firstMovingQuote(server.url, LIVE_WITHIN_MS);
      const readyAt = Date.now();
      watches.push(
        watch.result
          .then(async (q) => {
            console.info(`live-first-second: ${c.name} first trade on /ws/market ${Date.now() - readyAt} ms after /readyz (${q.symbol} ${q.phase})`);
            const status = (await (await fetch(`${server.url}/api/market/status`)).json()) as MarketStatusResponse;
            return { c, q, status };
          })
          .catch((err: Error) => {
            throw new Error(`${c.name}: ${err.message}`);
          })
          .finally(() => watch.close()),
      );
      // Keep a rejection from going unhandled while the next server starts.
      watches.at(-1)!.catch(() => {});
    }
    const results = await Promise.all(watches);
    for (const { c, q, status } of results) {
      // The stamp is exchange time, in a trading phase of the quote's exchange per the rules.
      const scheduled = phaseAt(rulesFor(q.exchange, q.market), q.ts);
      expect(isTradingPhase(scheduled), `${c.name}: ${q.symbol} moved at ${new Date(q.ts).toISOString()} (${scheduled})`).toBe(true);
      // The header's source: every exchange with its phase and the next one, after the market's now.
      expect(status.exchanges.map((e) => e.exchange).sort(), c.name).toEqual(['HNX', 'HOSE', 'UPCOM']);
      for (const e of status.exchanges) {
        expect(e.next, `${c.name} ${e.exchange}`).toBeTruthy();
        expect(e.next!.at).toBeGreaterThan(status.ts);
        expect(e.next!.phase).not.toBe(e.phase);
      }
    }
    // Generous: server starts are CPU-heavy and the machine may be shared; only the 10 s after /readyz is the claim.
  }, 300_000);

  it("the engine's phase (from the simulator's status events) is the rules' phaseAt of every quote and trade it emits", () => {
    // Two simulated days (a Friday and the Monday after) on the exchange clock, through the engine.
    const startTs = Date.parse('2025-01-10T10:00:00+07:00');
    const sim = new Simulator({ seed: 5, startTs, dayMs: 30_000, intensity: 400, clock: 'exchange' });
    const engine = new MarketEngine();
    const problems: string[] = [];
    let quotes = 0;
    let trades = 0;
    sim.advanceToWall(startTs + 2 * 30_000 - 1, (ev) =>
      engine.apply(ev, (out) => {
        if (out.type === 'quote' && !out.state.halted) {
          quotes++;
          const scheduled = phaseAt(rulesFor(out.state.exchange, out.state.market), out.state.ts);
          if (out.state.phase !== scheduled && problems.length < 10) problems.push(`${out.state.symbol} ${out.state.phase} at ${new Date(out.state.ts).toISOString()}, rules say ${scheduled}`);
        }
        if (out.type === 'trade') {
          trades++;
          const exchange = engine.reference(out.trade.symbol)!.exchange;
          const scheduled = phaseAt(rulesFor(exchange, 'VN'), out.trade.ts);
          if (!isTradingPhase(scheduled) && problems.length < 10) problems.push(`${out.trade.id} at ${new Date(out.trade.ts).toISOString()} during ${scheduled}`);
        }
      }),
    );
    expect(quotes).toBeGreaterThan(1_000);
    expect(trades).toBeGreaterThan(1_000);
    expect(problems).toEqual([]);
  });

  it('validates SIM_START_PHASE and SIM_BREAK_MS, naming the variable', () => {
    expect(loadConfig({}).feed.simStartPhase).toBe('continuous');
    expect(loadConfig({ ROLE: 'collector', REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://d/x' }).feed.simStartPhase).toBe('aligned');
    expect(loadConfig({ SIM_START_PHASE: 'LUNCH_BREAK' }).feed.simStartPhase).toBe('lunch_break');
    expect(loadConfig({ SIM_BREAK_MS: '3000' }).feed.simBreakMs).toBe(3_000);
    expect(loadConfig({}).feed.simBreakMs).toBeUndefined();
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ SIM_START_PHASE: 'lunch' }).join()).toMatch(/^SIM_START_PHASE: must be one of pre_open, ato, continuous, lunch_break, atc, plo, closed, aligned/);
    expect(problems({ SIM_BREAK_MS: '-5' }).join()).toMatch(/^SIM_BREAK_MS: must be between/);
    expect(problems({ SIM_DAY_MS: '60000', SIM_BREAK_MS: '20000' }).join()).toMatch(/^SIM_BREAK_MS: must be at most 30% of SIM_DAY_MS \(18000 ms/);
  });
});
