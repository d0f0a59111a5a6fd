/**
 * The real `stock-tracker replay` command, spawned as a user would run it, on
 * small tapes in all three formats. Expected figures are computed here from
 * the events written to the tape, not taken from the engine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Simulator, createSsiEncodeState, encodeAlpaca, encodeEvent, encodeSsi } from '@stock-tracker/feeds';
import type { MarketEvent, SymbolRef, TradeEvent } from '@stock-tracker/protocol';
import { ReplaySession, type ReplaySummary } from '../src/cli/replay.ts';
import { CLI_BIN as BIN } from './cli-runner.ts';


function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'replay', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function summaryOf(...args: string[]): { doc: ReplaySummary; stderr: string } {
  const r = cli(...args, '--summary');
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return { doc: JSON.parse(r.stdout) as ReplaySummary, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-replay-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tape = (name: string, lines: string[]) => {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
};

// ---- a small Vietnamese session: two symbols, vendor sides on every trade, foreign flows

const at = (hms: string) => Date.parse(`2024-01-15T${hms}+07:00`);
const ref = (symbol: string, exchange: string, reference: number, ceiling: number, floor: number): MarketEvent => ({
  type: 'reference',
  ts: at('08:30:00'),
  ref: { symbol, exchange, market: 'VN', tradingDate: '2024-01-15', reference, ceiling, floor, lotSize: 100, indices: [], sharesOutstanding: 0 } satisfies SymbolRef,
});
const t = (symbol: string, hms: string, n: number, price: number, volume: number, side: 'buy' | 'sell'): TradeEvent => ({
  type: 'trade', ts: at(hms), symbol, id: `${symbol}-${n}`, price, volume, side,
});
const vnEvents: MarketEvent[] = [
  ref('FPT', 'HOSE', 96_000, 102_700, 89_300),
  ref('SHS', 'HNX', 20_000, 22_000, 18_000),
  { type: 'quote', ts: at('10:00:00'), symbol: 'FPT', bids: [{ price: 96_000, volume: 5_000 }], asks: [{ price: 96_100, volume: 3_000 }] },
  t('FPT', '10:00:01', 1, 96_100, 1_000, 'buy'),
  t('FPT', '10:00:02', 2, 96_300, 500, 'buy'),
  t('SHS', '10:00:02', 1, 20_100, 10_000, 'sell'),
  t('FPT', '10:00:05', 3, 95_900, 2_000, 'sell'),
  { type: 'foreign', ts: at('10:00:06'), symbol: 'FPT', buyVolume: 1_000, sellVolume: 400, buyValue: 96_100_000, sellValue: 38_400_000, totalRoom: 500_000_000, currentRoom: 100_000_000 },
  t('SHS', '10:00:07', 2, 19_900, 4_000, 'buy'),
  t('FPT', '10:00:09', 4, 96_200, 700, 'buy'),
  { type: 'foreign', ts: at('10:00:10'), symbol: 'FPT', buyVolume: 3_000, sellVolume: 1_000, buyValue: 288_500_000, sellValue: 96_000_000, totalRoom: 500_000_000, currentRoom: 99_998_000 },
];

/** The per-symbol figures a correct replay must report, from the raw trades. */
function expectedSymbols(events: MarketEvent[], sideOf: (tr: TradeEvent) => 'buy' | 'sell' | 'unknown' = (tr) => tr.side ?? 'unknown') {
  const out: Record<string, Record<string, number | null>> = {};
  for (const ev of events) {
    if (ev.type !== 'trade') continue;
    const s = (out[ev.symbol] ??= { last: null, volume: 0, buyVolume: 0, sellVolume: 0, unknownVolume: 0, open: null, high: null, low: null, close: null, value: 0, foreignNetVolume: null });
    s.open ??= ev.price;
    s.last = s.close = ev.price;
    s.high = Math.max(s.high ?? -Infinity, ev.price);
    s.low = Math.min(s.low ?? Infinity, ev.price);
    s.volume! += ev.volume;
    s.value! += ev.price * ev.volume;
    s[`${sideOf(ev)}Volume`]! += ev.volume;
  }
  for (const ev of events) if (ev.type === 'foreign' && out[ev.symbol]) out[ev.symbol]!.foreignNetVolume = ev.buyVolume - ev.sellVolume;
  for (const s of Object.values(out)) {
    s.vwap = Math.round(((s.value as number) / (s.volume as number)) * 1e4) / 1e4;
    delete s.value;
  }
  return out;
}

describe('stock-tracker replay --summary', () => {
  it('normalized tape: summary shape and figures, malformed lines on stderr, exit 0', () => {
    const lines = vnEvents.map(encodeEvent);
    lines.splice(3, 0, 'this is not json');
    lines.splice(6, 0, '{"type":"trade","ts":1,"symbol":"FPT"}');
    const file = tape('vn-events.tape', lines);
    const { doc, stderr } = summaryOf(file);
    expect(Object.keys(doc)).toEqual(['file', 'format', 'lines', 'events', 'malformed', 'rejected', 'symbols']);
    expect(doc.file).toBe(file);
    expect(doc.format).toEqual({ events: vnEvents.length, ssi: 0, alpaca: 0 });
    expect(doc.lines).toBe(vnEvents.length + 2);
    expect(doc.events).toEqual({ total: vnEvents.length, byType: { foreign: 2, quote: 1, reference: 2, trade: 6 } });
    expect(doc.malformed).toEqual({ count: 2, byKind: { invalid_event: 1, not_json: 1 } });
    expect(doc.rejected).toBe(0);
    expect(Object.keys(doc.symbols)).toEqual(['FPT', 'SHS']);
    expect(doc.symbols).toEqual(expectedSymbols(vnEvents));
    expect(stderr).toContain(`${file}:4: malformed (not_json)`);
    expect(stderr).toContain(`${file}:7: malformed (invalid_event)`);
  });

  it('SSI tape (with a case-variant, FBuyVol-style line) gives the same figures', () => {
    const state = createSsiEncodeState();
    const lines = vnEvents.map((ev) => encodeSsi(ev, state)!);
    // The last foreign update as another source writes it: other key casing, F-prefixed names, numbers as strings.
    lines[lines.length - 1] = JSON.stringify({
      datatype: 'R',
      content: { rtype: 'R', tradingdate: '15/01/2024', time: '10:00:10', symbol: 'FPT', TOTALROOM: '500000000', currentroom: '99998000', FBuyVol: '3000', FSellVol: '1000', FBuyVal: '288500000', FSellVal: '96000000' },
    });
    lines.push('{"DataType":"X-TRADE","Content":"{\\"Symbol\\":\\"FPT\\",');
    const file = tape('vn.ssi', lines);
    const { doc, stderr } = summaryOf(file, '--format', 'ssi');
    expect(doc.format).toEqual({ events: 0, ssi: vnEvents.length, alpaca: 0 });
    expect(doc.malformed).toEqual({ count: 1, byKind: { not_json: 1 } });
    expect(doc.rejected).toBe(0);
    expect(doc.symbols).toEqual(expectedSymbols(vnEvents));
    expect(stderr).toContain(`${file}:${lines.length}: malformed (not_json)`);
  });

  it('Alpaca tape: trades classified by the quote rule (Alpaca has no aggressor flag)', () => {
    const ts = (s: number) => Date.parse('2024-01-16T15:00:00Z') + s * 1000;
    const q = (s: number, bid: number, ask: number): MarketEvent => ({ type: 'quote', ts: ts(s), symbol: 'AAPL', bids: [{ price: bid, volume: 3 }], asks: [{ price: ask, volume: 4 }] });
    const tr = (s: number, id: number, price: number, volume: number): TradeEvent => ({ type: 'trade', ts: ts(s), symbol: 'AAPL', id: String(id), price, volume });
    const events: MarketEvent[] = [q(0, 189.5, 189.52), tr(1, 101, 189.52, 100), tr(2, 102, 189.5, 40), q(3, 189.55, 189.6), tr(4, 103, 189.6, 25), tr(5, 104, 189.55, 300)];
    const frames = [encodeAlpaca(events.slice(0, 3)), '[{"T":"success","msg":"authenticated"}]', encodeAlpaca(events.slice(3)), '[{"T":"t","S":"AAPL"}]'];
    const file = tape('us.alpaca', frames);
    const { doc } = summaryOf(file);
    expect(doc.format).toEqual({ events: 0, ssi: 0, alpaca: 3 });
    expect(doc.malformed).toEqual({ count: 1, byKind: { missing_field: 1 } });
    // Quote rule against the prevailing quote: at the ask = buy, at the bid = sell.
    const mids = [189.51, 189.51, 189.575, 189.575];
    const trades = events.filter((e): e is TradeEvent => e.type === 'trade');
    const side = (x: TradeEvent) => (x.price > mids[trades.indexOf(x)]! ? 'buy' : 'sell');
    expect(doc.symbols).toEqual({ AAPL: { ...expectedSymbols(events, side)['AAPL'], foreignNetVolume: null } });
  });

  it('speed N paces the same tape to the same summary', () => {
    const file = tape('paced.tape', vnEvents.map(encodeEvent));
    // The tape spans 10 s of trading (plus the references 90 min before: cut by nothing, so at 1e5x ~ 60 ms).
    const paced = summaryOf(file, '--speed', '100000').doc;
    const fast = summaryOf(file).doc;
    expect(paced).toEqual(fast);
  });

  it('caps malformed-line reports on stderr and still exits 0', () => {
    const lines = [encodeEvent(vnEvents[0]!), ...Array.from({ length: 25 }, (_, i) => `garbage ${i}`)];
    const file = tape('noisy.tape', lines);
    const r = cli(file, '--summary');
    expect(r.code).toBe(0);
    const reported = r.stderr.split('\n').filter((l) => l.includes('malformed (not_json)'));
    expect(reported).toHaveLength(20);
    expect(reported[0]).toContain(`${file}:2:`);
    expect(r.stderr).toContain('5 more malformed lines not shown (25 in all)');
    expect((JSON.parse(r.stdout) as ReplaySummary).malformed.count).toBe(25);
  });

  it('exits non-zero with a message when the tape cannot be read, 2 on bad arguments', () => {
    const missing = cli(join(dir, 'does-not-exist.tape'), '--summary');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read tape');
    expect(missing.stderr).toContain('no such file');
    expect(missing.stdout).toBe('');
    expect(cli(dir).code).toBe(1);
    expect(cli().code).toBe(2);
    expect(cli('x.tape', '--format', 'csv').code).toBe(2);
    expect(cli('x.tape', '--speed', '-3').code).toBe(2);
  });
});

// ---- simulated day: classifier against the vendor's flags, and replay determinism

const START = Date.parse('2024-01-15T08:45:00+07:00');
function simulatedDay(opts: { seed: number; symbols: number; intensity: number }): MarketEvent[] {
  const dayMs = 600_000;
  const sim = new Simulator({ ...opts, startTs: START, dayMs });
  return sim.advanceTo(START + dayMs - 1);
}

describe('simulated days', () => {
  it('Lee–Ready on an SSI tape with the vendor side stripped agrees with the vendor well above chance', () => {
    const events = simulatedDay({ seed: 5, symbols: 12, intensity: 60 });
    const state = createSsiEncodeState();
    const lines = events.map((ev) => encodeSsi(ev, state)).filter((l): l is string => l !== null);
    const file = tape('day.ssi', lines);
    const withSide = events.filter((e) => e.type === 'trade' && e.side !== undefined).length;
    const { doc } = summaryOf(file, '--no-vendor-side');
    const c = doc.classification!;
    console.log(`Lee–Ready vs vendor side: agreement ${c.agreement}, coverage ${c.coverage} over ${c.tradesWithVendorSide} trades`);
    expect(c.tradesWithVendorSide).toBe(withSide);
    expect(c.coverage).toBeGreaterThan(0.9);
    expect(c.agreement).toBeGreaterThan(0.7);
    // Without the flag the vendor side is used and no comparison is made.
    expect(summaryOf(file).doc.classification).toBeUndefined();
  });

  it('replaying a recorded normalized tape equals feeding the same run straight into the engine', () => {
    const events = simulatedDay({ seed: 9, symbols: 8, intensity: 40 });
    const file = tape('day.tape', events.map(encodeEvent));
    const { doc } = summaryOf(file);

    const direct = new ReplaySession();
    for (const ev of events) direct.push(ev);
    direct.finish();
    const n = events.length;
    const directDoc = direct.summary(file, { lines: n, formats: { events: n, ssi: 0, alpaca: 0 }, events: n, malformed: 0, byKind: {} });
    expect(doc).toEqual(JSON.parse(JSON.stringify(directDoc)));
    // And the engine's own board agrees with the document on every symbol's volume.
    for (const q of direct.engine.quotes()) expect(doc.symbols[q.symbol]!.volume).toBe(q.totalVolume);
    expect(Object.keys(doc.symbols)).toHaveLength(8);
  });
});
