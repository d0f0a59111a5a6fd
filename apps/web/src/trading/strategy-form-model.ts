/**
 * The "new strategy" form: a built-in name (GET /api/trading/strategies/builtin),
 * its parameters with their defaults, ranges and integer-ness as the server
 * lists them, and the symbols it trades. The checks mirror the core's
 * resolveParams (range, integer, fast < slow, oversold < overbought) and the
 * request schema (1–50 symbols), so a refusal is shown before anything is sent.
 */
import type { StrategyInfo, TradingStrategyCreate } from '@stock-tracker/protocol';
import { T } from './strings.ts';

export interface StrategyFormValues {
  accountId: string;
  strategy: string;
  /** Typed text per parameter name. */
  params: Record<string, string>;
  symbols: string;
}

export type StrategyFormErrors = { strategy?: string; symbols?: string; params: Record<string, string> };
export type StrategyFormResult = { ok: true; value: TradingStrategyCreate } | { ok: false; errors: StrategyFormErrors };

/** The parameters of `info` at their defaults. */
export function defaultParams(info: StrategyInfo | undefined): Record<string, string> {
  return Object.fromEntries((info?.params ?? []).map((p) => [p.name, String(p.default)]));
}

const SYMBOL_RE = /^[A-Z0-9._-]{1,20}$/;

export function parseSymbols(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim().toUpperCase()).filter(Boolean))];
}

export function validateStrategyForm(v: StrategyFormValues, builtins: readonly StrategyInfo[], knownSymbols?: ReadonlySet<string>): StrategyFormResult {
  const errors: StrategyFormErrors = { params: {} };
  const info = builtins.find((b) => b.name === v.strategy);
  if (!info) errors.strategy = 'Choose a strategy.';
  const params: Record<string, number> = {};
  for (const p of info?.params ?? []) {
    const raw = (v.params[p.name] ?? '').trim();
    const n = raw === '' ? p.default : Number(raw);
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(raw === '' ? String(p.default) : raw) || !Number.isFinite(n)) errors.params[p.name] = T.errors.paramNum;
    else if (n < p.min || n > p.max) errors.params[p.name] = T.errors.param(p.min, p.max);
    else if (p.integer && !Number.isInteger(n)) errors.params[p.name] = T.errors.paramInt;
    else params[p.name] = n;
  }
  // Cross-parameter rules of the core (strategies.ts resolveParams).
  if (params.fast !== undefined && params.slow !== undefined && !(params.fast < params.slow)) errors.params.slow ??= T.errors.fastSlow;
  if (params.oversold !== undefined && params.overbought !== undefined && !(params.oversold < params.overbought)) errors.params.overbought ??= T.errors.rsiLevels;

  const symbols = parseSymbols(v.symbols);
  if (symbols.length < 1 || symbols.length > 50) errors.symbols = T.errors.symbols;
  else {
    const bad = symbols.find((s) => !SYMBOL_RE.test(s));
    const unknown = knownSymbols && knownSymbols.size > 0 ? symbols.find((s) => !knownSymbols.has(s)) : undefined;
    if (bad) errors.symbols = T.errors.badSymbol(bad);
    else if (unknown) errors.symbols = T.errors.unknownSymbol(unknown);
  }

  if (errors.strategy || errors.symbols || Object.keys(errors.params).length > 0) return { ok: false, errors };
  return { ok: true, value: { accountId: v.accountId, strategy: v.strategy, params, symbols } };
}

/** `fast=2 · slow=3` for the list. */
export const describeParams = (params: Record<string, number>): string =>
  Object.entries(params)
    .map(([k, x]) => `${k}=${x}`)
    .join(' · ');
