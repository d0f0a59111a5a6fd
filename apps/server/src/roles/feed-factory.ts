/**
 * Builds the configured feed adapter. Vendor adapters (SSI, Alpaca) are looked
 * up by name in the feeds package so that this module works before they exist;
 * a deployment that asks for a missing one gets a clear refusal at start.
 */
import * as feeds from '@stock-tracker/feeds';
import { ReplayFeed, SimulatorFeed, type Clock, type Feed } from '@stock-tracker/feeds';
import { ConfigError, type Config } from '../config.ts';

type VendorFeedCtor = new (opts: Record<string, unknown>) => Feed;

export function createFeed(cfg: Config['feed'], clock: Clock): Feed {
  switch (cfg.kind) {
    case 'simulator':
      return new SimulatorFeed({ seed: cfg.simSeed, dayMs: cfg.simDayMs, clock });
    case 'replay':
      return new ReplayFeed({ path: cfg.file!, speed: cfg.speed, clock, name: 'replay' });
    case 'ssi': {
      const Ctor = (feeds as Record<string, unknown>).SsiFeed as VendorFeedCtor | undefined;
      if (!Ctor) throw new ConfigError(["FEED: the 'ssi' adapter is not available in this build (use simulator or replay)"]);
      return new Ctor({ consumerId: cfg.ssi!.consumerId, consumerSecret: cfg.ssi!.consumerSecret, clock });
    }
    case 'alpaca': {
      const Ctor = (feeds as Record<string, unknown>).AlpacaFeed as VendorFeedCtor | undefined;
      if (!Ctor) throw new ConfigError(["FEED: the 'alpaca' adapter is not available in this build (use simulator or replay)"]);
      return new Ctor({ keyId: cfg.alpaca!.keyId, secretKey: cfg.alpaca!.secretKey, clock });
    }
  }
}
