/**
 * Market rules the web app needs (time zone per exchange), read from the
 * engine's rules-as-data module so that no market fact is duplicated here.
 * Imported by file rather than through `@stock-tracker/engine`: the engine's
 * index pulls in the whole engine, which the browser bundle does not need.
 */
import { rulesFor } from '@stock-tracker/rules';
import type { Market } from '@stock-tracker/protocol';

export const VN_TIME_ZONE: string = rulesFor('HOSE').timeZone;

/** The time zone an exchange's times are shown in. */
export function timeZoneOf(exchange: string | undefined, market?: Market): string {
  return exchange ? rulesFor(exchange, market).timeZone : VN_TIME_ZONE;
}

/** Board tabs per exchange; VN30 is an index membership, not an exchange. */
export const EXCHANGES = ['HOSE', 'HNX', 'UPCOM'] as const;

/** Index ids the strip shows first, in this order (any others follow). */
export const STRIP_INDICES = ['VNINDEX', 'VN30', 'HNXINDEX', 'UPCOMINDEX'] as const;
