/**
 * Stored aggregates are monotonic (issue 12 §6) on both engines: a bars_1m or
 * session_summaries row is never replaced by one covering fewer trades — the
 * partial totals of a collector that restarted the day from nothing — while
 * a fuller row (a late trade's correction, the rest of the day) still
 * replaces it. Through every insert path (VALUES, unnest, COPY staged) and
 * through the storage writer.
 */
import type { Bar, SessionSummary } from '@stock-tracker/protocol';
import { barsSpec, sessionsSpec, writeRows, type InsertMode } from '../src/storage/tables.ts';
import { StorageWriter } from '../src/storage/writer.ts';
import { openTestStorage, STORAGE_KINDS, type TestStorage } from '../../../test/helpers/storage.ts';

const P = `M${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
const TS = Date.UTC(2024, 0, 2, 3, 0);

const bar = (symbol: string, trades: number, volume: number, close = 100): Bar => ({
  symbol,
  interval: '1m',
  ts: TS,
  open: 100,
  high: Math.max(100, close),
  low: Math.min(100, close),
  close,
  volume,
  value: volume * close,
  vwap: close,
  buyVolume: volume,
  sellVolume: 0,
  unknownVolume: 0,
  trades,
  closed: true,
});
const summary = (symbol: string, phase: SessionSummary['phase'], trades: number, volume: number, high = 110): SessionSummary => ({
  symbol,
  tradingDate: '2024-01-02',
  phase,
  open: 100,
  high,
  low: 90,
  close: 100,
  volume,
  value: volume * 100,
  vwap: 100,
  buyVolume: volume,
  sellVolume: 0,
  unknownVolume: 0,
  trades,
});

describe.each(STORAGE_KINDS)('monotonic aggregates on %s', (kind) => {
  let st: TestStorage;
  beforeAll(async () => {
    st = await openTestStorage(kind);
  }, 120_000);
  afterAll(async () => {
    await st?.cleanup();
  });

  const storedBar = async (symbol: string) =>
    (await st.db.query<{ trades: number; volume: number; close: number }>('SELECT trades, volume, close FROM bars_1m WHERE symbol = $1 AND ts = $2', [symbol, new Date(TS).toISOString()])).rows[0];
  const storedSummary = async (symbol: string, phase: string) =>
    (await st.db.query<{ trades: number; volume: number; high: number }>(`SELECT trades, volume, high FROM session_summaries WHERE symbol = $1 AND trading_date = '2024-01-02' AND phase = $2`, [symbol, phase])).rows[0];

  const modes: InsertMode[] = ['values', 'unnest', 'copy_staged'];
  it.each(modes)('%s: fewer trades never replace a row; more (or equal with no less volume) do', async (mode) => {
    const s = `${P}${mode.slice(0, 2).toUpperCase()}`;
    const write = (rows: { bars?: Bar[]; sessions?: SessionSummary[] }) =>
      st.db.transaction(async (tx) => {
        if (rows.bars) await writeRows(tx, barsSpec, rows.bars, mode);
        if (rows.sessions) await writeRows(tx, sessionsSpec, rows.sessions, mode);
      });

    await write({ bars: [bar(s, 10, 1_000, 105)], sessions: [summary(s, 'day', 50, 9_000, 120), summary(s, 'continuous', 40, 8_000)] });
    // A restarted engine's partial rows: fewer trades. Nothing changes.
    await write({ bars: [bar(s, 3, 300, 99)], sessions: [summary(s, 'day', 5, 500, 101), summary(s, 'continuous', 39, 9_999)] });
    expect(await storedBar(s)).toEqual({ trades: 10, volume: 1_000, close: 105 });
    expect(await storedSummary(s, 'day')).toEqual({ trades: 50, volume: 9_000, high: 120 });
    expect(await storedSummary(s, 'continuous')).toEqual({ trades: 40, volume: 8_000, high: 110 });
    // Same count, less volume: not a fuller row either.
    await write({ bars: [bar(s, 10, 900, 98)] });
    expect(await storedBar(s)).toEqual({ trades: 10, volume: 1_000, close: 105 });
    // The same row again (a retry) and a fuller one (a late trade, the rest of the day) go through.
    await write({ bars: [bar(s, 10, 1_000, 104)], sessions: [summary(s, 'day', 51, 9_100, 125)] });
    expect(await storedBar(s)).toEqual({ trades: 10, volume: 1_000, close: 104 });
    expect(await storedSummary(s, 'day')).toEqual({ trades: 51, volume: 9_100, high: 125 });
    await write({ bars: [bar(s, 11, 1_050, 106)] });
    expect(await storedBar(s)).toEqual({ trades: 11, volume: 1_050, close: 106 });
  });

  it('through the storage writer: a partial bar/summary after a complete one leaves the complete one', async () => {
    const s = `${P}W`;
    const writer = new StorageWriter(st.db, { flushIntervalMs: 5 });
    try {
      writer.offer({ type: 'bar', bar: bar(s, 20, 2_000, 107) });
      writer.offer({ type: 'session', summary: summary(s, 'day', 80, 16_000, 130) });
      await writer.flush();
      writer.offer({ type: 'bar', bar: bar(s, 2, 200, 95) });
      writer.offer({ type: 'session', summary: summary(s, 'day', 4, 400, 101) });
      await writer.flush();
      expect(await storedBar(s)).toEqual({ trades: 20, volume: 2_000, close: 107 });
      expect(await storedSummary(s, 'day')).toEqual({ trades: 80, volume: 16_000, high: 130 });
    } finally {
      await writer.close();
    }
  });
});
