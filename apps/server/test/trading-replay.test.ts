/**
 * Backtest = paper = replay (issue 11): a strategy run over a recorded tape by
 * `stock-tracker backtest`, and the same strategy on a paper account in the
 * real server with FEED=replay on the same tape, make the same fills (count,
 * side, quantity, price, time). The server side is the embedded role as it
 * runs in production (pipeline, trading runner, storage, REST), in-process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BacktestReport, Fill } from '@stock-tracker/protocol';
import { run as record } from '../src/cli/record.ts';
import { run as backtest } from '../src/cli/backtest.ts';
import { loadConfig } from '../src/config.ts';
import { startAll, type RunningServer } from '../src/roles/all.ts';
import { openDatabase } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { createTradingRepo } from '../src/storage/trading-repo.ts';
import { seedPgliteDataDir } from '../../../test/helpers/storage.ts';
import { runCli } from './cli-runner.ts';

const CASH = 1_000_000_000;
const SYMBOLS = ['ACB', 'SHS'];
const PARAMS = { fast: 2, slow: 4 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (f: { ts: number; symbol: string; side: string; qty: number; price: number }) => `${f.ts}|${f.symbol}|${f.side}|${f.qty}|${f.price}`;

describe('backtest = paper = replay', () => {
  let dir: string;
  let server: RunningServer | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'st-trading-replay-'));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the backtest command and paper trading on FEED=replay fill the same orders', async () => {
    // A recorded tape: four simulated trading days of two symbols (T+2 lets the strategy sell too).
    const tape = join(dir, 'days.tape');
    const rec = await runCli(record, [tape, '--seed', '7', '--symbols', SYMBOLS.join(','), '--duration', '4h', '--day-ms', '3600000', '--intensity', '2', '--no-bursts']);
    expect(rec.code, rec.err).toBe(0);

    const bt = await runCli(backtest, [tape, '--strategy', 'sma-cross', '--params', `fast=${PARAMS.fast},slow=${PARAMS.slow}`, '--symbols', SYMBOLS.join(','), '--cash', String(CASH), '--json']);
    expect(bt.code, bt.err).toBe(0);
    const report = JSON.parse(bt.out) as BacktestReport;
    // The comparison means something only if the strategy traded both ways.
    expect(new Set(report.fills.map((f) => f.side))).toEqual(new Set(['buy', 'sell']));

    // Paper: an account with the same cash and the same strategy, running before the first event arrives.
    const dataDir = join(dir, 'data');
    await seedPgliteDataDir(dataDir);
    const db = await openDatabase({ dataDir });
    await migrate(db);
    const user = await createRepositories(db).users.ensureDefault();
    const trading = createTradingRepo(db);
    const account = await trading.accounts.create(user.id, { name: 'replay', market: 'VN', startingCash: CASH });
    const strategy = await trading.strategies.create(user.id, { accountId: account.id, name: 'sma-cross', params: PARAMS, symbols: SYMBOLS });
    await trading.strategies.setState(user.id, strategy.id, 'running');
    await db.close();

    const config = loadConfig({ APP_ENV: 'development', PORT: '0', DATA_DIR: dataDir, FEED: 'replay', FEED_FILE: tape, FEED_SPEED: 'max', LOG_LEVEL: 'warn', WEB_DIST: join(dir, 'no-web') });
    server = await startAll({ config });
    const fillsOf = async (): Promise<Fill[]> => {
      const r = await fetch(`${server!.url}/api/trading/accounts/${account.id}/fills?limit=1000`);
      expect(r.status).toBe(200);
      return ((await r.json()) as { items: Fill[] }).items;
    };
    const end = Date.now() + 60_000;
    let paper = await fillsOf();
    while (paper.length < report.fills.length && Date.now() < end) {
      await sleep(250);
      paper = await fillsOf();
    }
    // The tape is through (every fill is stored before it is published, and nothing more may come).
    await sleep(1_000);
    paper = await fillsOf();
    expect(paper.map(key).sort()).toEqual(report.fills.map(key).sort());
    expect(paper.every((f) => f.strategyId === strategy.id)).toBe(true);
    // The stored per-minute equity curve is the backtest's, minute for minute.
    const pnl = (await (await fetch(`${server.url}/api/trading/accounts/${account.id}/pnl?limit=1000`)).json()) as { equity: { ts: number; equity: number; cash: number }[] };
    expect(pnl.equity.length).toBeGreaterThan(10);
    const byTs = new Map(report.equity.map((p) => [p.ts, p]));
    const common = pnl.equity.filter((p) => byTs.has(p.ts));
    expect(common.length).toBeGreaterThan(pnl.equity.length - 2);
    expect(common).toEqual(common.map((p) => byTs.get(p.ts)));
  }, 180_000);
});
