/**
 * Board rendering under load: the built SPA in headless Chromium showing 400
 * symbols that receive 2,000 quote updates per second.
 *
 *   npx tsx bench/board-render.bench.ts      (or `npm run bench board-render`)
 *   BENCH_SECONDS=10 BENCH_SYMBOLS=400 BENCH_RATE=2000 BENCH_PROFILE=board.cpuprofile
 *   BENCH_CSS='…'  extra CSS injected into the page (to try a styling change without rebuilding)
 *
 * The simulator lists ~58 symbols, so the page is driven by a synthetic
 * market instead of the real server: a small Fastify app serves apps/web/dist
 * and answers the few /api calls the board makes, and a `ws` server speaks the
 * market channel protocol (packages/protocol/src/ws.ts): `subscribed`, one
 * `snapshot` per symbol, then one `update` frame per quote change with a
 * contiguous seq per key — what the real gateway sends a fast client.
 * Quotes move on each exchange's tick grid inside the daily limits (engine
 * rules). Updates are spread uniformly over the symbols (worst case for
 * re-render work: every row is hot).
 *
 * Measured in the page over the window after a warm-up: `longtask` entries
 * (PerformanceObserver), requestAnimationFrame timing (frames, dropped frames
 * against the display's frame period), row renders
 * (`window.__stockTracker.renders`), updates received (`hub.stats.messages`),
 * and main-thread busy time (CDP Performance.getMetrics TaskDuration).
 * Prints one JSON line {"bench":"board-render",...}. Target: no long task
 * over 50 ms (i.e. zero long tasks).
 */
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { WebSocketServer, type WebSocket } from 'ws';
import { priceLimits, roundDownToTick, rulesFor, stepPrice, type ExchangeRules } from '@stock-tracker/rules';
import type { ClientMessage, Level, QuoteState, ServerMessage, SymbolRef } from '@stock-tracker/protocol';
import { CHROMIUM_ARGS, launchBrowser } from '../apps/web/test/e2e/browser.ts';
import { ensureWebBuild, WEB_DIST } from '../test/helpers/web-build.ts';

const SYMBOLS = Number(process.env.BENCH_SYMBOLS ?? 400);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_MS = 3_000;
/** BENCH_PROFILE=file.cpuprofile also records the page's CPU profile over the measured window. */
const PROFILE = process.env.BENCH_PROFILE;
const EPOCH = 'bench';
const log = (msg: string) => process.stderr.write(`[board-render] ${msg}\n`);

// ------------------------------------------------------------------ synthetic market

const EXCHANGES = ['HOSE', 'HOSE', 'HNX', 'UPCOM'] as const;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Seeded mulberry32: the same market and update sequence on every run. */
class Rng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
}

interface Sym {
  ref: SymbolRef;
  rules: ExchangeRules;
  quote: QuoteState;
  /** Best bid; the ask is one tick above. */
  bid: number;
  seq: number;
}

/** Three-letter codes, distinct (37 is coprime with 26³). */
const code = (i: number) => {
  const n = (i * 37 + 100) % 17_576;
  return LETTERS[Math.floor(n / 676)]! + LETTERS[Math.floor(n / 26) % 26]! + LETTERS[n % 26]!;
};

function createMarket(n: number, rng: Rng, now: number): Sym[] {
  const tradingDate = new Date(now).toISOString().slice(0, 10);
  return Array.from({ length: n }, (_, i) => {
    const exchange = EXCHANGES[i % EXCHANGES.length]!;
    const rules = rulesFor(exchange, 'VN');
    const reference = roundDownToTick(rules, 5_000 + Math.floor(rng.next() * 145) * 1_000);
    const { ceiling, floor } = priceLimits(rules, reference);
    const ref: SymbolRef = {
      symbol: code(i), exchange, market: 'VN', name: `Synthetic ${code(i)} JSC`, tradingDate, reference, ceiling, floor,
      lotSize: rules.lotSize, indices: i < 30 ? ['VN30', 'VNINDEX'] : [], sharesOutstanding: 1e8, foreignLimit: 4.9e7,
    };
    const quote: QuoteState = {
      symbol: ref.symbol, exchange, market: 'VN', tradingDate, ts: now, reference, ceiling, floor,
      open: null, high: null, low: null, last: null, lastVolume: 0, change: null, changePct: null,
      totalVolume: 0, totalValue: 0, buyVolume: 0, sellVolume: 0, unknownVolume: 0,
      bids: [], asks: [], phase: 'continuous', halted: false,
      foreign: { symbol: ref.symbol, ts: now, buyVolume: 0, sellVolume: 0, buyValue: 0, sellValue: 0, netVolume: 0, netValue: 0, totalRoom: 4.9e7, currentRoom: 2e7, roomUsagePct: 59.18 },
    };
    const s: Sym = { ref, rules, quote, bid: stepPrice(rules, reference, -1), seq: 0 };
    setBook(s, rng);
    return s;
  });
}

const lotVolume = (rng: Rng, maxLots: number) => (1 + Math.floor(rng.next() * maxLots)) * 100;

/** A fresh three-level book around the current best bid (the ask one tick above). */
function setBook(s: Sym, rng: Rng): void {
  const ask = stepPrice(s.rules, s.bid, 1);
  s.quote.bids = [0, -1, -2].map((k): Level => ({ price: stepPrice(s.rules, s.bid, k), volume: lotVolume(rng, 400) }));
  s.quote.asks = [0, 1, 2].map((k): Level => ({ price: stepPrice(s.rules, ask, k), volume: lotVolume(rng, 400) }));
}

/**
 * One market event on a symbol, shaped like the simulator's: a trade at the
 * touch that eats into that level (45 %), a new volume on one book level, or
 * now and then the book shifting by a tick; some trades are foreign.
 */
function tick(s: Sym, rng: Rng, now: number): void {
  const q = s.quote;
  const r = rng.next();
  if (r < 0.45) {
    const buy = rng.next() < 0.5;
    const touch = buy ? q.asks[0]! : q.bids[0]!;
    const price = touch.price;
    const volume = Math.min(touch.volume, lotVolume(rng, 50));
    touch.volume = touch.volume - volume || lotVolume(rng, 400); // an emptied level is refilled
    q.open ??= price;
    q.last = price;
    q.lastVolume = volume;
    q.high = Math.max(q.high ?? price, price);
    q.low = Math.min(q.low ?? price, price);
    q.change = price - q.reference;
    q.changePct = (q.change / q.reference) * 100;
    q.totalVolume += volume;
    q.totalValue += volume * price;
    if (buy) q.buyVolume += volume;
    else q.sellVolume += volume;
    if (rng.next() < 0.1 && q.foreign) {
      const f = q.foreign;
      if (buy) (f.buyVolume += volume), (f.buyValue += volume * price), (f.currentRoom -= volume);
      else (f.sellVolume += volume), (f.sellValue += volume * price), (f.currentRoom += volume);
      f.netVolume = f.buyVolume - f.sellVolume;
      f.netValue = f.buyValue - f.sellValue;
      f.ts = now;
    }
  } else if (r < 0.9) {
    const side = rng.next() < 0.5 ? q.bids : q.asks;
    side[Math.floor(rng.next() * side.length)]!.volume = lotVolume(rng, 400);
  } else {
    const next = stepPrice(s.rules, s.bid, rng.next() < 0.5 ? -1 : 1);
    // Keep both sides of the book inside the daily band.
    if (next >= s.ref.floor! && stepPrice(s.rules, next, 1) <= s.ref.ceiling!) s.bid = next;
    setBook(s, rng);
  }
  q.ts = now;
  s.seq++;
}

// ------------------------------------------------------------------ server

interface Peer {
  ws: WebSocket;
  channel: 'market' | 'index' | 'alerts';
  live: boolean;
}

async function startSyntheticServer(market: Sym[]) {
  const app = Fastify({ logger: false });
  await app.register(fastifyStatic, { root: WEB_DIST, prefix: '/', wildcard: false });
  const quotes = () => market.map((s) => s.quote);
  app.get('/api/symbols', async () => ({ items: market.map((s) => s.ref), next: null }));
  app.get('/api/quotes', async () => ({ ts: Date.now(), items: quotes() }));
  app.get('/api/indices', async () => ({ items: [] }));
  app.get('/api/watchlists', async () => ({ items: [], next: null }));
  // No accounts (embedded mode): the app's auth gate asks this before showing anything.
  app.get('/api/auth/me', async () => ({ mode: 'none', user: null, registrationEnabled: false, publicMarketData: true }));
  app.get('/api/alerts/events', async () => ({ items: [], next: null }));
  app.get('/api/alerts/rules', async () => ({ items: [], next: null }));
  app.get('/api/market/status', async () => ({
    ts: Date.now(),
    exchanges: ['HOSE', 'HNX', 'UPCOM'].map((exchange) => ({ exchange, phase: 'continuous', halted: false })),
    feed: { name: 'bench', connected: true, lastEventTs: Date.now() },
  }));
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/')) return reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${req.url}`, request_id: 'bench' });
    return reply.type('text/html').sendFile('index.html'); // SPA route
  });

  const peers = new Set<Peer>();
  const wss = new WebSocketServer({ noServer: true });
  const send = (ws: WebSocket, msg: ServerMessage) => ws.send(JSON.stringify(msg));
  app.server.on('upgrade', (req, socket, head) => {
    const channel = ({ '/ws/market': 'market', '/ws/index': 'index', '/ws/alerts': 'alerts' } as const)[(req.url ?? '').split('?')[0] as string];
    if (!channel) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer: Peer = { ws, channel, live: false };
      peers.add(peer);
      ws.on('close', () => peers.delete(peer));
      ws.on('message', (raw) => {
        let op: ClientMessage;
        try {
          op = JSON.parse(String(raw)) as ClientMessage;
        } catch {
          return;
        }
        if (op.op === 'ping') return send(ws, { type: 'pong', id: op.id, ts: Date.now() });
        if (op.op !== 'subscribe') return;
        let keys: string[] = [];
        if (channel === 'market') {
          for (const s of market) send(ws, { type: 'snapshot', channel, key: s.ref.symbol, seq: s.seq, epoch: EPOCH, data: s.quote });
          keys = market.map((s) => s.ref.symbol);
          peer.live = true;
        } else if (channel === 'alerts') {
          send(ws, { type: 'snapshot', channel, key: 'user:bench', seq: 0, epoch: EPOCH, data: [] });
          keys = ['user:bench'];
        }
        send(ws, { type: 'subscribed', channel, id: op.id, keys });
      });
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, peers, close: async () => (wss.close(), app.close()) };
}

/** Pushes `rate` updates per second (paced by elapsed time, so timer jitter does not change the rate). */
function startPump(market: Sym[], peers: Set<Peer>, rate: number, rng: Rng) {
  const stats = { sent: 0, maxBuffered: 0 };
  const t0 = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000) - stats.sent;
    const targets = [...peers].filter((p) => p.live && p.channel === 'market');
    for (let i = 0; i < due; i++) {
      const s = market[Math.floor(rng.next() * market.length)]!;
      tick(s, rng, Date.now());
      const frame = JSON.stringify({ type: 'update', channel: 'market', key: s.ref.symbol, seq: s.seq, epoch: EPOCH, data: s.quote } satisfies ServerMessage);
      for (const p of targets) p.ws.send(frame);
    }
    stats.sent += Math.max(0, due);
    for (const p of targets) stats.maxBuffered = Math.max(stats.maxBuffered, p.ws.bufferedAmount);
  }, 5);
  return { stats, stop: () => clearInterval(timer) };
}

// ------------------------------------------------------------------ page instrumentation

/**
 * Installed before the app loads: long tasks and every animation frame's
 * timestamp. A string, not a function: tsx would wrap named functions in a
 * helper (`__name`) that does not exist in the page.
 */
const INSTRUMENT = `(() => {
  const b = { longTasks: [], frames: [] };
  window.__bench = b;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) b.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  const loop = (t) => { b.frames.push(t); requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
})();`;

interface PageSample {
  t: number;
  longTasks: [number, number][];
  frames: number[];
  renders: { board: number; rows: number };
  messages: number;
}

const sample = (page: import('playwright-core').Page) =>
  page.evaluate((): PageSample => {
    const w = window as unknown as {
      __bench: { longTasks: [number, number][]; frames: number[] };
      __stockTracker: { renders: { board: number; rows: number }; hub: { stats: { messages: number } } };
    };
    return {
      t: performance.now(),
      longTasks: [...w.__bench.longTasks],
      frames: [...w.__bench.frames],
      renders: { board: w.__stockTracker.renders.board, rows: w.__stockTracker.renders.rows },
      messages: w.__stockTracker.hub.stats.messages,
    };
  });

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

// ------------------------------------------------------------------ run

const LOAD_BEFORE = os.loadavg()[0]!;
await ensureWebBuild(log);
const rng = new Rng(20_240_102);
const market = createMarket(SYMBOLS, rng, Date.now());
const server = await startSyntheticServer(market);
const browser = await launchBrowser();
let pump: ReturnType<typeof startPump> | undefined;
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
  await context.addInitScript({ content: INSTRUMENT });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/`, { waitUntil: 'domcontentloaded' });
  if (process.env.BENCH_CSS) await page.addStyleTag({ content: process.env.BENCH_CSS });
  // The board is virtualized (only the rows in view are in the DOM): it lists all symbols in aria-rowcount, after its 2 header rows.
  await page.waitForFunction((n) => Number(document.querySelector('.board')?.getAttribute('aria-rowcount')) === n + 2, SYMBOLS, { timeout: 60_000 });
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 30_000 });
  // The display's frame period, measured on the idle board before any update flows.
  const idle = await sample(page);
  await page.waitForTimeout(1_000);
  const idleFrames = (await sample(page)).frames.filter((t) => t >= idle.t);
  const period = percentile(idleFrames.slice(1).map((t, i) => t - idleFrames[i]!), 50) || 1000 / 60;
  pump = startPump(market, server.peers, RATE, rng);
  log(`board shows ${SYMBOLS} rows (frame period ${period.toFixed(2)} ms when idle); warming up ${WARMUP_MS} ms at ${RATE} updates/s`);
  await page.waitForTimeout(WARMUP_MS);

  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  /** Main-thread seconds so far: all tasks, and the script / style / layout parts of them. */
  const cpu = async () => {
    const m = new Map((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
    return { task: m.get('TaskDuration') ?? 0, script: m.get('ScriptDuration') ?? 0, style: m.get('RecalcStyleDuration') ?? 0, layout: m.get('LayoutDuration') ?? 0 };
  };
  if (PROFILE) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.start');
  }
  const sentBefore = pump.stats.sent;
  const cpuBefore = await cpu();
  const before = await sample(page);
  const wallStart = performance.now();
  await page.waitForTimeout(SECONDS * 1_000);
  const after = await sample(page);
  const cpuAfter = await cpu();
  const wallS = (performance.now() - wallStart) / 1000;
  const sent = pump.stats.sent - sentBefore;
  pump.stop();
  if (PROFILE) {
    writeFileSync(PROFILE, JSON.stringify((await cdp.send('Profiler.stop')).profile));
    log(`CPU profile of the measured window: ${PROFILE} (open in Chrome DevTools)`);
  }

  const windowS = (after.t - before.t) / 1000;
  const pct = (k: keyof typeof cpuBefore) => round(((cpuAfter[k] - cpuBefore[k]) / windowS) * 100, 0);
  const tasks = after.longTasks.filter(([start]) => start >= before.t);
  const frames = after.frames.filter((t) => t >= before.t);
  // The gap still open when the window closed counts too (a long task right before the sample delays no recorded frame).
  const deltas = [...frames.slice(1).map((t, i) => t - frames[i]!), after.t - (frames.at(-1) ?? before.t)];
  const dropped = deltas.reduce((n, d) => n + Math.max(0, Math.round(d / period) - 1), 0);
  const result = {
    bench: 'board-render',
    symbols: SYMBOLS,
    targetUpdatesPerSec: RATE,
    sentUpdatesPerSec: round(sent / wallS, 0),
    receivedUpdatesPerSec: round((after.messages - before.messages) / windowS, 0),
    durationS: round(windowS, 2),
    longTasks: tasks.length,
    longTasksPerSec: round(tasks.length / windowS, 2),
    longestTaskMs: round(Math.max(0, ...tasks.map(([, d]) => d)), 0),
    fps: round(frames.length / windowS),
    framePeriodMs: round(period, 2),
    frameP95Ms: round(percentile(deltas, 95)),
    frameMaxMs: round(Math.max(0, ...deltas)),
    droppedFramesPerSec: round(dropped / windowS, 2),
    rowRendersPerSec: round((after.renders.rows - before.renders.rows) / windowS, 0),
    boardRenders: after.renders.board - before.renders.board,
    mainThreadBusyPct: pct('task'),
    scriptPct: pct('script'),
    styleRecalcPct: pct('style'),
    layoutPct: pct('layout'),
    maxSocketBufferedBytes: pump.stats.maxBuffered,
    pageErrors: errors.length,
    viewport: '1440x900',
    chromium: browser.version(),
    chromiumArgs: CHROMIUM_ARGS.join(' '),
    node: process.version,
    // Other processes compete for the same cores: the 1-minute load average before the run tells how much.
    loadAvg1mBefore: round(LOAD_BEFORE, 2),
    cpus: os.cpus().length,
    target: 'no long task over 50 ms',
    pass: tasks.length === 0 && errors.length === 0,
  };
  console.log(JSON.stringify(result));
  if (errors.length) log(`page errors: ${errors.join(' | ')}`);
  await context.close();
} finally {
  pump?.stop();
  await browser.close();
  await server.close();
}
