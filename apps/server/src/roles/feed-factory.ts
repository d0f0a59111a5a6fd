/**
 * Builds the configured feed adapter. Vendor settings beyond the credentials
 * (URLs, channels, symbols, feed tier) are read by the adapters' own
 * `*OptionsFromEnv` helpers so each adapter owns its settings.
 */
import {
  AlpacaFeed,
  ReplayFeed,
  SimulatorFeed,
  SsiFeed,
  alpacaOptionsFromEnv,
  ssiOptionsFromEnv,
  type Clock,
  type Feed,
} from '@stock-tracker/feeds';
import type { Config } from '../config.ts';

export interface FeedLogger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
}

export function createFeed(cfg: Config['feed'], clock: Clock, log?: FeedLogger, env: NodeJS.ProcessEnv = process.env): Feed {
  switch (cfg.kind) {
    case 'simulator':
      // Exchange-clock stamps; the first day in SIM_START_PHASE (docs/feeds.md, "Simulator").
      return new SimulatorFeed({
        seed: cfg.simSeed,
        dayMs: cfg.simDayMs,
        intensity: cfg.simIntensity,
        breakMs: cfg.simBreakMs,
        startPhase: cfg.simStartPhase ?? 'aligned',
        clock,
      });
    case 'replay':
      return new ReplayFeed({ path: cfg.file!, speed: cfg.speed, clock, name: 'replay' });
    case 'ssi':
      return new SsiFeed({ consumerId: cfg.ssi!.consumerId, consumerSecret: cfg.ssi!.consumerSecret, ...ssiOptionsFromEnv(env), clock, log } as ConstructorParameters<typeof SsiFeed>[0]);
    case 'alpaca':
      return new AlpacaFeed({ keyId: cfg.alpaca!.keyId, secretKey: cfg.alpaca!.secretKey, ...alpacaOptionsFromEnv(env), clock, log } as ConstructorParameters<typeof AlpacaFeed>[0]);
  }
}
