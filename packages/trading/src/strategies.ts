/**
 * Built-in strategies, configurable without code (name + numeric params), and
 * the registry that creates them. Semantics of each: docs/trading.md.
 */
import type { StrategyConfig, StrategyInfo, StrategyParams } from '@stock-tracker/protocol';
import type { Strategy } from './types.ts';

export const BUILTIN_STRATEGIES: StrategyInfo[] = [];

/** `k=v,k2=v2` → params (numbers only); throws RangeError on a malformed pair. */
export function parseParams(s: string): StrategyParams {
  const out: StrategyParams = {};
  for (const pair of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(.+)$/.exec(pair);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new RangeError(`bad parameter '${pair}' (expected name=number)`);
    out[m[1]!] = v;
  }
  return out;
}

/** Params with defaults filled in; throws RangeError naming the bad parameter. */
export function resolveParams(_name: string, _params: StrategyParams): StrategyParams {
  throw new Error('not implemented yet');
}

/** A built-in strategy from its configuration; throws RangeError for an unknown name or bad params. */
export function createStrategy(_config: StrategyConfig): Strategy {
  throw new Error('not implemented yet');
}
