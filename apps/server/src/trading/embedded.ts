/**
 * Paper trading inside the embedded server (`stock-tracker all`): the runner
 * in this process, fed every engine output as the pipeline produces it (the
 * Collector's `onOutput`: each exactly once, in order, whatever storage is
 * doing), and REST commands handed to it directly (LocalTradingNotifier).
 */
import type { EngineOutput } from '@stock-tracker/protocol';
import type { Config } from '../config.ts';
import { TRADING_DEFAULTS } from '../config.ts';
import type { Db } from '../storage/db.ts';
import { createTradingRepo, type TradingRepo } from '../storage/trading-repo.ts';
import type { StreamPublisher } from '../bus/types.ts';
import type { TradingRouteDeps } from '../http/routes/trading.ts';
import { TradingRunner, type RunnerLogger, type TradingRunnerOptions } from './runner.ts';
import { LocalTradingNotifier } from './sync.ts';
import { TradingService } from './service.ts';
import { BacktestService } from './backtests.ts';

export interface EmbeddedTrading {
  runner: TradingRunner;
  repo: TradingRepo;
  routes: TradingRouteDeps;
  /** Hand to the Collector as `onOutput`. */
  onOutput: (out: EngineOutput) => void;
  stop(): Promise<void>;
}

/** Null when TRADING_ENABLED=false. Restores every account's core before returning (call before the feed starts). */
export async function startEmbeddedTrading(config: Config, db: Db, publisher: () => StreamPublisher | null, market: TradingRunnerOptions['market'], log: RunnerLogger): Promise<EmbeddedTrading | null> {
  const settings = config.trading ?? TRADING_DEFAULTS;
  if (!settings.enabled) return null;
  const repo = createTradingRepo(db);
  const notifier = new LocalTradingNotifier();
  // This process runs the cores, so it is the one that talks to Alpaca (when configured).
  const runner = new TradingRunner({ repo, publisher, market, log, onCommandSettled: notifier.settled, alpaca: config.alpacaTrading });
  notifier.runner = runner;
  await runner.start();
  // Storage is the source of truth here too: a command whose hand-over failed (database blip) is picked up later.
  const timer = setInterval(() => void runner.reload(), settings.reloadMs);
  timer.unref();
  const backtests = new BacktestService(repo, settings, log);
  return {
    runner,
    repo,
    routes: { service: new TradingService(repo, notifier, settings, { alpaca: config.alpacaTrading !== undefined }), backtests },
    onOutput: (out) => runner.onMarket(out),
    // A backtest still running is not waited for: its row is failed as abandoned later (trading-repo backtests.start).
    stop: () => {
      clearInterval(timer);
      return runner.stop();
    },
  };
}
