/**
 * Alert rule form: what each kind's threshold means (unit, bounds), and the
 * validation that turns typed text into an `AlertRuleCreate`. Bounds mirror
 * the protocol schema (period 1..500, cooldown ≤ 1 day, note ≤ 200) plus the
 * meaning of each kind (an RSI level lies strictly between 0 and 100).
 */
import { ALERT_KINDS, type AlertKind, type AlertRule, type AlertRuleCreate } from '@stock-tracker/protocol';
import { parseAmount } from '../lib/format.ts';

export interface ThresholdSpec {
  label: string;
  /** Unit shown next to the input; `{ccy}` is the market's currency. */
  unit: string;
  min?: number;
  minExclusive?: boolean;
  max?: number;
  maxExclusive?: boolean;
  placeholder: string;
  hint: string;
}
export interface PeriodSpec {
  label: string;
  min: number;
  max: number;
  default: number;
}
export interface KindSpec {
  label: string;
  /** null: the kind has no threshold (sent as 0). */
  threshold: ThresholdSpec | null;
  period: PeriodSpec | null;
}

const price = (dir: string): ThresholdSpec => ({
  label: 'Price', unit: '{ccy}', min: 0, minExclusive: true, placeholder: '65,300', hint: `Fires when the last price goes ${dir} this price.`,
});
const pct = (dir: string): ThresholdSpec => ({
  label: 'Change', unit: '%', min: -100, max: 1000, placeholder: dir === 'above' ? '5' : '-3', hint: `Change from the reference price, ${dir}.`,
});
const foreign = (side: string): ThresholdSpec => ({
  label: `Net ${side} value`, unit: '{ccy}', min: 0, minExclusive: true, placeholder: '10 tỷ', hint: `Foreign net ${side} value today; accepts 10,000,000,000, 10b or 10 tỷ.`,
});
const rsiLevel = (dir: string): ThresholdSpec => ({
  label: 'RSI level', unit: '', min: 0, minExclusive: true, max: 100, maxExclusive: true, placeholder: dir === 'above' ? '70' : '30', hint: `Fires when RSI crosses ${dir} this level.`,
});

export const KIND_SPECS: Record<AlertKind, KindSpec> = {
  price_above: { label: 'Price above', threshold: price('above'), period: null },
  price_below: { label: 'Price below', threshold: price('below'), period: null },
  change_pct_above: { label: 'Change % above', threshold: pct('above'), period: null },
  change_pct_below: { label: 'Change % below', threshold: pct('below'), period: null },
  volume_spike: {
    label: 'Volume spike',
    threshold: { label: 'Multiple', unit: '×', min: 1, minExclusive: true, max: 1000, placeholder: '3', hint: '1-minute volume as a multiple of the recent average.' },
    period: { label: 'Lookback (bars)', min: 1, max: 500, default: 20 },
  },
  foreign_net_buy_above: { label: 'Foreign net buy above', threshold: foreign('buy'), period: null },
  foreign_net_sell_above: { label: 'Foreign net sell above', threshold: foreign('sell'), period: null },
  rsi_cross_above: { label: 'RSI crosses above', threshold: rsiLevel('above'), period: { label: 'RSI period', min: 2, max: 500, default: 14 } },
  rsi_cross_below: { label: 'RSI crosses below', threshold: rsiLevel('below'), period: { label: 'RSI period', min: 2, max: 500, default: 14 } },
  price_cross_above_sma: { label: 'Price crosses above SMA', threshold: null, period: { label: 'SMA period', min: 1, max: 500, default: 20 } },
  price_cross_below_sma: { label: 'Price crosses below SMA', threshold: null, period: { label: 'SMA period', min: 1, max: 500, default: 20 } },
};
// Every kind of the contract has a spec (a new kind fails the type check above, and this at runtime).
for (const k of ALERT_KINDS) if (!KIND_SPECS[k]) throw new Error(`no form spec for alert kind ${k}`);

export interface AlertFormValues {
  symbol: string;
  kind: AlertKind;
  threshold: string;
  period: string;
  /** Seconds between two firings of the rule. */
  cooldownSec: string;
  enabled: boolean;
  note: string;
}
export type AlertField = keyof AlertFormValues;

export const MAX_COOLDOWN_SEC = 86_400;
const SYMBOL_RE = /^[A-Za-z0-9._-]{1,20}$/;

export function emptyForm(symbol = '', kind: AlertKind = 'price_above'): AlertFormValues {
  return { symbol, kind, threshold: '', period: String(KIND_SPECS[kind].period?.default ?? ''), cooldownSec: '60', enabled: true, note: '' };
}

export function formFromRule(r: AlertRule): AlertFormValues {
  return {
    symbol: r.symbol,
    kind: r.kind,
    threshold: KIND_SPECS[r.kind].threshold ? String(r.threshold) : '',
    period: r.period !== undefined ? String(r.period) : String(KIND_SPECS[r.kind].period?.default ?? ''),
    cooldownSec: String(Math.round(r.cooldownMs / 1000)),
    enabled: r.enabled,
    note: r.note ?? '',
  };
}

export interface ValidationContext {
  /** When given, the symbol must be one of these. */
  knownSymbols?: ReadonlySet<string>;
  /** Today's limits of the symbol: a price outside them cannot trade today (warning, not error). */
  band?: { ceiling: number | null; floor: number | null };
}

export type ValidationResult =
  | { ok: true; value: AlertRuleCreate; warnings: Partial<Record<AlertField, string>> }
  | { ok: false; errors: Partial<Record<AlertField, string>>; warnings: Partial<Record<AlertField, string>> };

function checkBounds(v: number, s: ThresholdSpec): string | null {
  if (s.min !== undefined && (s.minExclusive ? v <= s.min : v < s.min)) return `Must be ${s.minExclusive ? 'greater than' : 'at least'} ${s.min}.`;
  if (s.max !== undefined && (s.maxExclusive ? v >= s.max : v > s.max)) return `Must be ${s.maxExclusive ? 'less than' : 'at most'} ${s.max}.`;
  return null;
}

const isInt = (s: string) => /^\d+$/.test(s.trim());

export function validateAlertForm(f: AlertFormValues, ctx: ValidationContext = {}): ValidationResult {
  const errors: Partial<Record<AlertField, string>> = {};
  const warnings: Partial<Record<AlertField, string>> = {};
  const spec = KIND_SPECS[f.kind];
  const symbol = f.symbol.trim().toUpperCase();

  if (!spec) errors.kind = 'Choose an alert kind.';
  if (!symbol) errors.symbol = 'Enter a symbol.';
  else if (!SYMBOL_RE.test(symbol)) errors.symbol = 'Letters, digits, dot, dash or underscore (max 20).';
  else if (ctx.knownSymbols && ctx.knownSymbols.size > 0 && !ctx.knownSymbols.has(symbol)) errors.symbol = `Unknown symbol ${symbol}.`;

  let threshold = 0;
  if (spec?.threshold) {
    const raw = f.threshold.trim();
    // Percent and ratio inputs are plain numbers; amounts accept separators and suffixes.
    const v = raw === '' ? null : spec.threshold.unit === '{ccy}' ? parseAmount(raw) : /^[+-]?\d+(\.\d+)?$/.test(raw) ? Number(raw) : null;
    if (raw === '') errors.threshold = `Enter the ${spec.threshold.label.toLowerCase()}.`;
    else if (v === null) errors.threshold = 'Not a number.';
    else {
      const bound = checkBounds(v, spec.threshold);
      if (bound) errors.threshold = bound;
      else threshold = v;
    }
    if (!errors.threshold && (f.kind === 'price_above' || f.kind === 'price_below') && ctx.band) {
      const { ceiling, floor } = ctx.band;
      if (ceiling !== null && threshold > ceiling) warnings.threshold = `Above today's ceiling (${ceiling}); it cannot fire today.`;
      else if (floor !== null && threshold < floor) warnings.threshold = `Below today's floor (${floor}); it cannot fire today.`;
    }
  }

  let period: number | undefined;
  if (spec?.period) {
    const raw = f.period.trim();
    if (raw === '') period = spec.period.default;
    else if (!isInt(raw)) errors.period = 'A whole number.';
    else {
      const p = Number(raw);
      if (p < spec.period.min || p > spec.period.max) errors.period = `Between ${spec.period.min} and ${spec.period.max}.`;
      else period = p;
    }
  }

  let cooldownMs = 60_000;
  const cd = f.cooldownSec.trim();
  if (cd !== '') {
    if (!isInt(cd)) errors.cooldownSec = 'Whole seconds.';
    else if (Number(cd) > MAX_COOLDOWN_SEC) errors.cooldownSec = `At most ${MAX_COOLDOWN_SEC} s (one day).`;
    else cooldownMs = Number(cd) * 1000;
  }

  const note = f.note.trim();
  if (note.length > 200) errors.note = 'At most 200 characters.';

  if (Object.keys(errors).length > 0) return { ok: false, errors, warnings };
  const value: AlertRuleCreate = { symbol, kind: f.kind, threshold, cooldownMs, enabled: f.enabled };
  if (period !== undefined) value.period = period;
  if (note) value.note = note;
  return { ok: true, value, warnings };
}

/** Threshold with its unit for lists: `65,300 VND`, `5%`, `3×`, `RSI 70`. */
export function describeRule(r: Pick<AlertRule, 'kind' | 'threshold' | 'period'>, ccy = 'VND'): string {
  const spec = KIND_SPECS[r.kind];
  const t = spec.threshold;
  const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  const thr = !t ? '' : t.unit === '{ccy}' ? `${fmt.format(r.threshold)} ${ccy}` : t.unit === '%' ? `${fmt.format(r.threshold)}%` : t.unit === '×' ? `${fmt.format(r.threshold)}×` : fmt.format(r.threshold);
  const per = spec.period && r.period !== undefined ? ` (${spec.period.label.replace(/ \(.*\)/, '').toLowerCase()} ${r.period})` : '';
  return `${spec.label} ${thr}`.trim() + per;
}
