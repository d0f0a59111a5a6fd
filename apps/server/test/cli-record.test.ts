import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { MarketEvent } from '@stock-tracker/protocol';
import { DEFAULT_START, parseDuration, run } from '../src/cli/record.ts';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'apps/server/bin/stock-tracker.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'record-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `run` in-process with stderr captured. */
async function record(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    return { code: await run(argv), stderr };
  } finally {
    spy.mockRestore();
  }
}

const readTape = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as MarketEvent);

describe('stock-tracker record (real CLI)', () => {
  it('writes byte-identical tapes for the same seed and different ones for another seed', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => join(dir, `${n}.ndjson`));
    const args = ['--day-ms', '60000', '--days', '2'];
    const runs = await Promise.all([
      exec(process.execPath, [BIN, 'record', a!, '--seed', '7', ...args], { cwd: ROOT }),
      exec(process.execPath, [BIN, 'record', b!, '--seed', '7', ...args], { cwd: ROOT }),
      exec(process.execPath, [BIN, 'record', c!, '--seed', '8', ...args], { cwd: ROOT }),
    ]);
    const [ba, bb, bc] = [a!, b!, c!].map((f) => readFileSync(f));
    expect(ba.length).toBeGreaterThan(100_000);
    expect(ba.equals(bb!)).toBe(true);
    expect(ba.equals(bc!)).toBe(false);
    // One summary line on stderr that agrees with the file.
    const lines = ba.toString('utf8').split('\n').filter(Boolean).length;
    expect(runs[0]!.stderr.trim().split('\n')).toHaveLength(1);
    expect(runs[0]!.stderr).toMatch(new RegExp(`^record: ${lines} events .* seed 7,`));
    expect(runs[0]!.stdout).toBe('');
  });
});

describe('record run()', () => {
  it('records whole days by default from a fixed start', async () => {
    const file = join(dir, 'default.ndjson');
    const { code, stderr } = await record([file, '--day-ms', '30000']);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^record: \d+ events/);
    const events = readTape(file);
    expect(events[0]!.ts).toBe(Date.parse(DEFAULT_START));
    expect(events.at(-1)!.ts).toBeLessThan(Date.parse(DEFAULT_START) + 30_000);
    const dates = new Set(events.flatMap((e) => (e.type === 'reference' ? [e.ref.tradingDate] : [])));
    expect([...dates]).toEqual(['2025-01-06']);
    expect(events.some((e) => e.type === 'status' && !e.symbol && e.phase === 'closed')).toBe(true);
  });

  it('honours --duration, --start and a symbol list', async () => {
    const file = join(dir, 'dur.ndjson');
    const start = '2025-03-07T09:00:00+07:00'; // a Friday
    const { code } = await record([file, '--duration', '45s', '--day-ms', '30000', '--start', start, '--symbols', 'FPT,SHS,BSR', '--seed', '3']);
    expect(code).toBe(0);
    const events = readTape(file);
    const refs = events.flatMap((e) => (e.type === 'reference' ? [e.ref] : []));
    // Day 0 and day 1 (which starts 30 s in) are both inside 45 s; day 1 is the next business day.
    expect(refs.map((r) => `${r.symbol}@${r.tradingDate}`)).toEqual([
      'FPT@2025-03-07', 'SHS@2025-03-07', 'BSR@2025-03-07',
      'FPT@2025-03-10', 'SHS@2025-03-10', 'BSR@2025-03-10',
    ]);
    expect(events.at(-1)!.ts).toBeLessThan(Date.parse(start) + 45_000);
    expect(events.at(-1)!.ts).toBeGreaterThan(Date.parse(start) + 30_000);
  });

  it('refuses bad arguments with usage and exit code 2', async () => {
    const file = join(dir, 'bad.ndjson');
    for (const argv of [
      [],
      [file, 'extra'],
      [file, '--days', '2', '--duration', '1m'],
      [file, '--duration', 'soon'],
      [file, '--days', '0'],
      [file, '--start', 'yesterday'],
      [file, '--seed', 'x'],
      [file, '--day-ms', '5'],
      [file, '--symbols', 'NOPE'],
      [file, '--bogus'],
    ]) {
      const { code, stderr } = await record(argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(stderr).toContain('usage: stock-tracker record FILE');
    }
  });

  it('exits 1 with a message when the file cannot be written', async () => {
    const { code, stderr } = await record([join(dir, 'missing-dir', 'x.ndjson'), '--day-ms', '10000']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot write .*missing-dir/);
  });

  it('parses durations with units', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('0s')).toBeNull();
    expect(parseDuration('-1m')).toBeNull();
    expect(parseDuration('ten')).toBeNull();
  });
});
