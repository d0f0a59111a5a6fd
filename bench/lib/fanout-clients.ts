/**
 * Fan-out benchmark clients (a child process of bench/ws-fanout.bench.ts):
 * many WebSocket connections in one process, counting update frames, checking
 * per-key seq contiguity and measuring tick-to-client latency from the
 * publish time the server put in `data.ts`.
 *
 * `ws` clients for the gateway and the raw server; `socket.io-client` for
 * Socket.IO. Every frame is JSON-parsed, as a browser would, unless
 * FANOUT_PARSE=scan (reads only key/seq/ts from the bytes: cheaper clients,
 * more of the shared CPU left to the server).
 */
import WebSocket from 'ws';
import { io as ioClient, type Socket } from 'socket.io-client';
import { serveParent } from './child.ts';
import { sleep, wallMs } from './report.ts';
import type { FanoutKind } from './fanout-kinds.ts';

interface Update {
  type: string;
  key: string;
  seq: number;
  from?: number;
  data: { ts: number };
}

interface Client {
  close(): void;
  /** Last seq per key (snapshot or update). */
  seqs: Map<string, number>;
  frames: number;
}

const PARSE = process.env.FANOUT_PARSE === 'scan' ? 'scan' : 'full';
const SAMPLE_CAP = 4_000_000;

const clients: Client[] = [];
let frames = 0;
let conflated = 0;
let snapshots = 0;
let gaps = 0;
let duplicates = 0;
let closedUnexpectedly = 0;
let errors = 0;
let recording = false;
let markAt = wallMs();
let cpuAtMark = process.cpuUsage();
let samples = new Float32Array(1 << 16);
let sampleCount = 0;
let seen = 0;

function record(latencyMs: number): void {
  seen++;
  if (sampleCount < SAMPLE_CAP) {
    if (sampleCount === samples.length) {
      const bigger = new Float32Array(Math.min(SAMPLE_CAP, samples.length * 2));
      bigger.set(samples);
      samples = bigger;
    }
    samples[sampleCount++] = latencyMs;
  } else {
    // Reservoir sampling keeps an unbiased sample once the cap is reached.
    const j = Math.floor(Math.random() * seen);
    if (j < SAMPLE_CAP) samples[j] = latencyMs;
  }
}

function onUpdate(c: Client, m: Update, now: number): void {
  if (m.type === 'snapshot') {
    snapshots++;
    c.seqs.set(m.key, m.seq);
    return;
  }
  if (m.type !== 'update') return;
  frames++;
  c.frames++;
  if (m.from !== undefined) conflated++;
  const last = c.seqs.get(m.key);
  const first = m.from ?? m.seq;
  if (last !== undefined) {
    if (m.seq <= last) duplicates++;
    else if (first > last + 1) gaps++;
  }
  c.seqs.set(m.key, m.seq);
  if (recording) record(now - m.data.ts);
}

const KEY = Buffer.from('"key":"');
const SEQ = Buffer.from('"seq":');
const FROM = Buffer.from('"from":');
const DATA = Buffer.from('"data":');
const TS = Buffer.from('"ts":');
const TYPE_UPDATE = Buffer.from('{"type":"update"');
const TYPE_SNAPSHOT = Buffer.from('{"type":"snapshot"');

function numberAt(b: Buffer, i: number): number {
  let j = i;
  while (j < b.length && b[j] !== 0x2c && b[j] !== 0x7d) j++; // up to ',' or '}'
  return Number(b.toString('latin1', i, j));
}

/** The few fields the benchmark needs, read straight from the frame bytes. */
function scan(b: Buffer): Update | null {
  const type = b.subarray(0, TYPE_UPDATE.length).equals(TYPE_UPDATE) ? 'update' : b.subarray(0, TYPE_SNAPSHOT.length).equals(TYPE_SNAPSHOT) ? 'snapshot' : null;
  if (!type) return null;
  const k = b.indexOf(KEY) + KEY.length;
  const key = b.toString('latin1', k, b.indexOf(0x22, k));
  const dataAt = b.indexOf(DATA);
  const seq = numberAt(b, b.indexOf(SEQ) + SEQ.length);
  const f = b.indexOf(FROM);
  const from = f >= 0 && f < dataAt ? numberAt(b, f + FROM.length) : undefined;
  const ts = type === 'update' ? numberAt(b, b.indexOf(TS, dataAt) + TS.length) : 0;
  return { type, key, seq, from, data: { ts } };
}

function openWs(url: string, subscribe: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const c: Client = { close: () => ws.terminate(), seqs: new Map(), frames: 0 };
    let ready = false;
    ws.on('open', () => {
      if (!subscribe) {
        ready = true;
        return resolve(c);
      }
      ws.send(JSON.stringify({ op: 'subscribe', id: 's', symbols: ['*'] }));
    });
    ws.on('message', (data: Buffer) => {
      const now = wallMs();
      if (PARSE === 'scan') {
        const m = scan(data);
        if (m) return onUpdate(c, m, now);
      }
      const m = JSON.parse(data.toString()) as Update & { type: string };
      if (m.type === 'subscribed' && !ready) {
        ready = true;
        resolve(c);
      } else if (m.type === 'error') errors++;
      else onUpdate(c, m, now);
    });
    ws.on('error', (err) => {
      errors++;
      if (!ready) reject(err);
    });
    ws.on('close', () => {
      if (ready && !stopping) closedUnexpectedly++;
    });
  });
}

function openSocketIo(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const s: Socket = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60_000 });
    const c: Client = { close: () => s.disconnect(), seqs: new Map(), frames: 0 };
    s.on('update', (m: Update) => onUpdate(c, m, wallMs()));
    s.once('connect', () => resolve(c));
    s.once('connect_error', (err) => {
      errors++;
      reject(err);
    });
    s.on('disconnect', (reason) => {
      if (!stopping && reason !== 'io client disconnect') closedUnexpectedly++;
    });
  });
}

let stopping = false;

serveParent({
  async connect(m) {
    const kind = m.kind as FanoutKind;
    const count = Number(m.count);
    const wave = Number(m.concurrency ?? 100);
    let failed = 0;
    for (let i = 0; i < count; i += wave) {
      const batch = Array.from({ length: Math.min(wave, count - i) }, () =>
        kind === 'socketio' ? openSocketIo(String(m.url)) : openWs(`${String(m.url)}${kind === 'gateway' ? '/ws/market' : '/'}`, kind === 'gateway'),
      );
      for (const r of await Promise.allSettled(batch)) {
        if (r.status === 'fulfilled') clients.push(r.value);
        else failed++;
      }
    }
    return { connected: clients.length, failed };
  },
  /** Starts a measurement window: counters to zero; `record` turns latency sampling on. */
  mark(m) {
    frames = conflated = gaps = duplicates = 0;
    for (const c of clients) c.frames = 0;
    sampleCount = seen = 0;
    recording = m.record === true;
    markAt = wallMs();
    cpuAtMark = process.cpuUsage();
    return {};
  },
  /** Waits until every client has `expected` updates since the mark (or no progress for `idleMs`). */
  async settle(m) {
    const expected = Number(m.expected);
    const deadline = wallMs() + Number(m.timeoutMs ?? 30_000);
    let last = -1;
    let lastChange = wallMs();
    while (wallMs() < deadline) {
      if (clients.every((c) => c.frames >= expected)) break;
      if (frames !== last) {
        last = frames;
        lastChange = wallMs();
      } else if (wallMs() - lastChange > Number(m.idleMs ?? 3_000)) break;
      await sleep(20);
    }
    return {};
  },
  report() {
    const windowMs = wallMs() - markAt;
    const cpu = process.cpuUsage(cpuAtMark);
    recording = false;
    const lat = samples.slice(0, sampleCount);
    const minFrames = clients.reduce((min, c) => Math.min(min, c.frames), Infinity);
    return { clients: clients.length, cpuMs: (cpu.user + cpu.system) / 1000, frames, conflated, snapshots, gaps, duplicates, closedUnexpectedly, errors, windowMs, minFrames, latencies: lat, latencySeen: seen };
  },
  stop() {
    stopping = true;
    for (const c of clients) c.close();
  },
});
