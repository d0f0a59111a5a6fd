/**
 * Alpaca Market Data v2 REST basics shared by the live feed (snapshots for
 * reference prices) and the backfill (historical bars): the key headers and
 * the default host.
 */
export const ALPACA_DEFAULT_DATA_URL = 'https://data.alpaca.markets';

export interface AlpacaCredentials {
  keyId: string;
  secretKey: string;
}

export const alpacaHeaders = (c: AlpacaCredentials): Record<string, string> => ({
  'APCA-API-KEY-ID': c.keyId,
  'APCA-API-SECRET-KEY': c.secretKey,
  accept: 'application/json',
});
