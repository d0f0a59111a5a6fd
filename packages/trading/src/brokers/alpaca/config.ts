/**
 * ALPACA_TRADING_* settings (docs/configuration.md). Paper is the default;
 * the live endpoint needs ALPACA_TRADING_LIVE=true, and ALPACA_TRADING_LIVE=true
 * needs the live endpoint: either one alone is refused, so a copied URL or a
 * forgotten flag cannot start real-money trading by accident. The server's
 * config.ts applies the same rules at start (all problems listed at once);
 * this reader is for code that builds a broker from the environment directly.
 */
import { ALPACA_PAPER_URL } from './rest.ts';
import { isLiveAlpacaUrl, type AlpacaBrokerOptions } from './broker.ts';
import { alpacaStreamUrlFor } from './stream.ts';

export type AlpacaTradingEnv = Pick<AlpacaBrokerOptions, 'keyId' | 'secretKey' | 'baseUrl' | 'streamUrl' | 'live'>;

/** Problems with the settings, each naming its variable; empty when consistent. */
export function alpacaTradingProblems(env: Record<string, string | undefined>): string[] {
  const get = (k: string) => (env[k]?.trim() ? env[k]!.trim() : undefined);
  const out: string[] = [];
  const keyId = get('ALPACA_TRADING_KEY_ID');
  const secret = get('ALPACA_TRADING_SECRET_KEY');
  const liveRaw = get('ALPACA_TRADING_LIVE')?.toLowerCase();
  const live = liveRaw === 'true' || liveRaw === '1' || liveRaw === 'yes' || liveRaw === 'on';
  if (liveRaw !== undefined && !live && !['false', '0', 'no', 'off'].includes(liveRaw)) out.push(`ALPACA_TRADING_LIVE: must be true or false (got '${liveRaw}')`);
  if (keyId && !secret) out.push('ALPACA_TRADING_SECRET_KEY: is required with ALPACA_TRADING_KEY_ID');
  if (secret && !keyId) out.push('ALPACA_TRADING_KEY_ID: is required with ALPACA_TRADING_SECRET_KEY');
  const url = get('ALPACA_TRADING_URL') ?? ALPACA_PAPER_URL;
  let stream: string | undefined;
  try {
    stream = get('ALPACA_TRADING_STREAM_URL') ?? alpacaStreamUrlFor(url);
  } catch {
    out.push(`ALPACA_TRADING_URL: must be a URL (got '${url}')`);
    return out;
  }
  const liveUrl = isLiveAlpacaUrl(url);
  const liveStream = isLiveAlpacaUrl(stream);
  if (live && !keyId) out.push('ALPACA_TRADING_LIVE: true needs ALPACA_TRADING_KEY_ID and ALPACA_TRADING_SECRET_KEY (live keys)');
  if (live && !liveUrl) out.push(`ALPACA_TRADING_LIVE: true needs ALPACA_TRADING_URL=https://api.alpaca.markets (got ${url}); remove ALPACA_TRADING_LIVE to paper trade`);
  if (live && liveUrl && !liveStream) out.push(`ALPACA_TRADING_STREAM_URL: live trading needs the live stream wss://api.alpaca.markets/stream (got ${stream})`);
  if (!live && (liveUrl || liveStream)) {
    out.push(`ALPACA_TRADING_URL: ${liveUrl ? url : stream} is Alpaca's live (real money) endpoint; set ALPACA_TRADING_LIVE=true to trade real money, or use ${ALPACA_PAPER_URL}`);
  }
  return out;
}

/** The broker settings from the environment, or null when no trading keys are set. Throws listing every problem. */
export function alpacaTradingFromEnv(env: Record<string, string | undefined>): AlpacaTradingEnv | null {
  const problems = alpacaTradingProblems(env);
  if (problems.length) throw new Error(`invalid Alpaca trading configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const keyId = env['ALPACA_TRADING_KEY_ID']?.trim();
  const secretKey = env['ALPACA_TRADING_SECRET_KEY']?.trim();
  if (!keyId || !secretKey) return null;
  const baseUrl = env['ALPACA_TRADING_URL']?.trim() || ALPACA_PAPER_URL;
  const streamUrl = env['ALPACA_TRADING_STREAM_URL']?.trim() || alpacaStreamUrlFor(baseUrl);
  return { keyId, secretKey, baseUrl, streamUrl, live: /^(true|1|yes|on)$/i.test(env['ALPACA_TRADING_LIVE']?.trim() ?? '') };
}
