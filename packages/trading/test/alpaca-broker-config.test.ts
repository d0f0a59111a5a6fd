/**
 * ALPACA_TRADING_* in the server configuration: paper by default, live only
 * with ALPACA_TRADING_LIVE=true AND the live endpoint, every inconsistency
 * refused with a message naming the variable.
 */
import { ConfigError, loadConfig, redactConfig } from '../../../apps/server/src/config.ts';

const KEYS = { ALPACA_TRADING_KEY_ID: 'PKTEST', ALPACA_TRADING_SECRET_KEY: 'secret-123' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('config: Alpaca trading', () => {
  it('is absent without keys and defaults to the paper endpoint with them', () => {
    expect(loadConfig({}).alpacaTrading).toBeUndefined();
    expect(loadConfig(KEYS).alpacaTrading).toEqual({
      keyId: 'PKTEST',
      secretKey: 'secret-123',
      baseUrl: 'https://paper-api.alpaca.markets',
      streamUrl: 'wss://paper-api.alpaca.markets/stream',
      live: false,
    });
    expect(JSON.stringify(redactConfig(loadConfig(KEYS)))).not.toContain('secret-123');
  });

  it('allows live trading only with ALPACA_TRADING_LIVE=true and the live endpoint', () => {
    const live = loadConfig({ ...KEYS, ALPACA_TRADING_LIVE: 'true', ALPACA_TRADING_URL: 'https://api.alpaca.markets' }).alpacaTrading;
    expect(live).toMatchObject({ live: true, baseUrl: 'https://api.alpaca.markets', streamUrl: 'wss://api.alpaca.markets/stream' });
  });

  it('refuses every inconsistent combination, naming the variable', () => {
    expect(problems({ ...KEYS, ALPACA_TRADING_URL: 'https://api.alpaca.markets' })).toEqual([expect.stringMatching(/^ALPACA_TRADING_URL: .*live \(real money\).*ALPACA_TRADING_LIVE=true/)]);
    expect(problems({ ...KEYS, ALPACA_TRADING_STREAM_URL: 'wss://api.alpaca.markets/stream' })).toEqual([expect.stringMatching(/^ALPACA_TRADING_STREAM_URL: .*live/)]);
    expect(problems({ ...KEYS, ALPACA_TRADING_LIVE: 'true' })).toEqual([expect.stringMatching(/^ALPACA_TRADING_LIVE: true needs ALPACA_TRADING_URL=https:\/\/api.alpaca.markets/)]);
    expect(problems({ ...KEYS, ALPACA_TRADING_LIVE: 'true', ALPACA_TRADING_URL: 'https://api.alpaca.markets', ALPACA_TRADING_STREAM_URL: 'wss://paper-api.alpaca.markets/stream' })).toEqual([
      expect.stringMatching(/^ALPACA_TRADING_STREAM_URL: live trading needs/),
    ]);
    expect(problems({ ALPACA_TRADING_LIVE: 'true', ALPACA_TRADING_URL: 'https://api.alpaca.markets' })).toEqual([expect.stringMatching(/^ALPACA_TRADING_LIVE: true needs ALPACA_TRADING_KEY_ID/)]);
    expect(problems({ ALPACA_TRADING_KEY_ID: 'PK' })).toEqual(['ALPACA_TRADING_SECRET_KEY: is required with ALPACA_TRADING_KEY_ID']);
    expect(problems({ ...KEYS, ALPACA_TRADING_LIVE: 'maybe' })).toEqual([expect.stringMatching(/^ALPACA_TRADING_LIVE: must be true or false/)]);
  });

  it('production refuses unencrypted endpoints; elsewhere a loopback fake is fine', () => {
    const prod = { APP_ENV: 'production', JWT_SECRET: 'x'.repeat(48) + 'Qz9!kLm2', ...KEYS, ALPACA_TRADING_URL: 'http://127.0.0.1:9999' };
    expect(problems(prod).filter((p) => p.startsWith('ALPACA_'))).toEqual([
      'ALPACA_TRADING_URL: must use https: in production (the keys travel in headers; got http://127.0.0.1:9999)',
      'ALPACA_TRADING_STREAM_URL: must use wss: in production (got ws://127.0.0.1:9999/stream)',
    ]);
    expect(loadConfig({ ...KEYS, ALPACA_TRADING_URL: 'http://127.0.0.1:9999' }).alpacaTrading?.streamUrl).toBe('ws://127.0.0.1:9999/stream');
  });
});
