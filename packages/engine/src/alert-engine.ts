/**
 * Alert rules evaluated against quotes, closed 1-minute bars and foreign flows.
 *
 * Semantics
 * - Level rules (price_*, change_pct_*, volume_spike, foreign_*) are
 *   edge-triggered: they fire when their condition becomes true and re-arm
 *   only once it has been false again. A new or re-enabled rule starts armed,
 *   so it fires on the first observation that satisfies it.
 * - Cross rules (rsi_cross_*, price_cross_*_sma) fire on the bar where the
 *   series crosses, TradingView style: above = prev ≤ level and now > level;
 *   below = prev ≥ level and now < level.
 * - Firing times of one rule strictly increase and are at least `cooldownMs`
 *   apart (event time). An edge that falls inside the cooldown is swallowed,
 *   not postponed. Since times strictly increase, a (rule, ts) pair fires at
 *   most once and `${rule.id}:${ts}` is a unique, deterministic id.
 * - Disabled rules are not evaluated at all.
 * - Bar rules use bar close time (start + 1 minute) as the alert time.
 *
 * Rules are indexed by symbol, so an event costs O(rules of its symbol).
 * Indicator state is kept per (symbol, indicator, period) and shared by every
 * rule that needs it; it keeps updating while a rule is disabled.
 */
import { ALERT_KINDS, BAR_INTERVAL_MS } from '@stock-tracker/protocol';
import type { AlertEvent, AlertKind, AlertRule, Bar, ForeignState, QuoteState } from '@stock-tracker/protocol';
import { Rsi, Sma } from './indicators.ts';

const DEFAULT_PERIOD: Partial<Record<AlertKind, number>> = {
  volume_spike: 20,
  rsi_cross_above: 14,
  rsi_cross_below: 14,
  price_cross_above_sma: 20,
  price_cross_below_sma: 20,
};

type SeriesKind = 'rsi' | 'sma' | 'volume';
const SERIES_OF: Partial<Record<AlertKind, SeriesKind>> = {
  volume_spike: 'volume',
  rsi_cross_above: 'rsi',
  rsi_cross_below: 'rsi',
  price_cross_above_sma: 'sma',
  price_cross_below_sma: 'sma',
};

interface RuleEntry {
  rule: AlertRule;
  /** Last observed state of a level condition; false = armed. */
  active: boolean;
  lastFiredTs: number | undefined;
}

/** One indicator over one symbol's closed 1m bars; `prev`/`cur` are its values before/after the latest bar. */
interface SeriesState {
  ind: Rsi | Sma;
  prev: number | null;
  cur: number | null;
}

interface SymbolBars {
  lastBarTs: number;
  prevClose: number | null;
  series: Map<string, SeriesState>;
}

const seriesKey = (kind: SeriesKind, period: number) => `${kind}:${period}`;
const num = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const pct = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: 'always' });

export interface AlertEngineStats {
  rules: number;
  symbols: number;
  indicators: number;
  /** Rule evaluations so far: grows only with rules of the symbols that had events. */
  evaluated: number;
  /** Malformed or out-of-order inputs that were ignored. */
  skipped: number;
}

export class AlertEngine {
  private readonly rules = new Map<string, RuleEntry>();
  private readonly bySymbol = new Map<string, Map<string, RuleEntry>>();
  private readonly bars = new Map<string, SymbolBars>();
  private evaluated = 0;
  private skipped = 0;

  constructor(rules: AlertRule[] = []) {
    for (const r of rules) {
      // A stored rule that no longer validates must not stop the engine.
      try {
        this.upsert(r);
      } catch {
        this.skipped++;
      }
    }
  }

  upsert(rule: AlertRule): void {
    validateRule(rule);
    const prev = this.rules.get(rule.id);
    const entry: RuleEntry = { rule: { ...rule }, active: false, lastFiredTs: prev?.lastFiredTs };
    // Keep the edge state only when nothing that defines the condition changed (e.g. a note edit).
    if (prev && rule.enabled && prev.rule.enabled && sameCondition(prev.rule, rule)) entry.active = prev.active;
    if (prev) this.unindex(prev.rule);
    this.rules.set(rule.id, entry);
    let forSymbol = this.bySymbol.get(rule.symbol);
    if (!forSymbol) this.bySymbol.set(rule.symbol, (forSymbol = new Map()));
    forSymbol.set(rule.id, entry);
    this.ensureSeries(rule);
    // Pruning after re-indexing keeps a warm indicator the edited rule still uses.
    if (prev) this.prune(prev.rule.symbol);
  }

  remove(ruleId: string): boolean {
    const entry = this.rules.get(ruleId);
    if (!entry) return false;
    this.rules.delete(ruleId);
    this.unindex(entry.rule);
    this.prune(entry.rule.symbol);
    return true;
  }

  get(ruleId: string): AlertRule | undefined {
    const r = this.rules.get(ruleId)?.rule;
    return r ? { ...r } : undefined;
  }

  list(userId?: string): AlertRule[] {
    const out: AlertRule[] = [];
    for (const { rule } of this.rules.values()) if (userId === undefined || rule.userId === userId) out.push({ ...rule });
    return out;
  }

  stats(): AlertEngineStats {
    let indicators = 0;
    for (const b of this.bars.values()) indicators += b.series.size;
    return { rules: this.rules.size, symbols: this.bySymbol.size, indicators, evaluated: this.evaluated, skipped: this.skipped };
  }

  onQuote(q: QuoteState, emit: (a: AlertEvent) => void): void {
    const rules = this.bySymbol.get(q.symbol);
    if (!rules) return;
    for (const e of rules.values()) {
      const { rule } = e;
      if (!rule.enabled) continue;
      switch (rule.kind) {
        case 'price_above':
        case 'price_below': {
          if (!isNum(q.last)) continue;
          this.evaluated++;
          const above = rule.kind === 'price_above';
          const cond = above ? q.last >= rule.threshold : q.last <= rule.threshold;
          this.level(e, cond, q.ts, q.last, rule.threshold, emit, () =>
            `${rule.symbol} price ${num.format(q.last!)} crossed ${above ? 'above' : 'below'} ${num.format(rule.threshold)}`,
          );
          break;
        }
        case 'change_pct_above':
        case 'change_pct_below': {
          if (!isNum(q.changePct)) continue;
          this.evaluated++;
          const above = rule.kind === 'change_pct_above';
          const cond = above ? q.changePct >= rule.threshold : q.changePct <= rule.threshold;
          this.level(e, cond, q.ts, q.changePct, rule.threshold, emit, () =>
            `${rule.symbol} change ${pct.format(q.changePct!)}% crossed ${above ? 'above' : 'below'} ${pct.format(rule.threshold)}%`,
          );
          break;
        }
        default:
          break;
      }
    }
  }

  onBar(bar: Bar, emit: (a: AlertEvent) => void): void {
    if (!bar.closed || bar.interval !== '1m') return;
    const state = this.bars.get(bar.symbol);
    if (!state) return; // no bar rule on this symbol
    if (!isNum(bar.close) || !isNum(bar.volume) || bar.volume < 0 || !isNum(bar.ts) || bar.ts <= state.lastBarTs) {
      this.skipped++; // malformed, or a closed bar seen again / out of order
      return;
    }
    // Update each shared indicator once, before any rule reads it.
    for (const [key, s] of state.series) {
      s.prev = s.ind.value;
      s.cur = s.ind.update(key.startsWith('volume:') ? bar.volume : bar.close);
    }
    const prevClose = state.prevClose;
    state.prevClose = bar.close;
    state.lastBarTs = bar.ts;

    const ts = bar.ts + BAR_INTERVAL_MS['1m'];
    for (const e of this.bySymbol.get(bar.symbol)!.values()) {
      const { rule } = e;
      const kind = SERIES_OF[rule.kind];
      if (!rule.enabled || !kind) continue;
      const period = rule.period ?? DEFAULT_PERIOD[rule.kind]!;
      const s = state.series.get(seriesKey(kind, period))!;
      this.evaluated++;
      switch (rule.kind) {
        case 'volume_spike': {
          // `prev` is the average of the `period` bars before this one.
          const avg = s.prev;
          if (avg === null || !(avg > 0)) continue;
          const ratio = bar.volume / avg;
          this.level(e, ratio >= rule.threshold, ts, ratio, rule.threshold, emit, () =>
            `${rule.symbol} 1m volume ${num.format(bar.volume)} is ${num.format(ratio)}× the ${period}-bar average ${num.format(avg)}`,
          );
          break;
        }
        case 'rsi_cross_above':
        case 'rsi_cross_below': {
          if (s.prev === null || s.cur === null) continue;
          const above = rule.kind === 'rsi_cross_above';
          const crossed = above ? s.prev <= rule.threshold && s.cur > rule.threshold : s.prev >= rule.threshold && s.cur < rule.threshold;
          const rsi = s.cur;
          if (crossed)
            this.fire(e, ts, rsi, rule.threshold, emit, () =>
              `${rule.symbol} RSI(${period}) ${num.format(rsi)} crossed ${above ? 'above' : 'below'} ${num.format(rule.threshold)}`,
            );
          break;
        }
        case 'price_cross_above_sma':
        case 'price_cross_below_sma': {
          if (s.prev === null || s.cur === null || prevClose === null) continue;
          const above = rule.kind === 'price_cross_above_sma';
          const crossed = above ? prevClose <= s.prev && bar.close > s.cur : prevClose >= s.prev && bar.close < s.cur;
          const sma = s.cur;
          // The crossed level is the SMA, so it is reported as the threshold.
          if (crossed)
            this.fire(e, ts, bar.close, sma, emit, () =>
              `${rule.symbol} close ${num.format(bar.close)} crossed ${above ? 'above' : 'below'} SMA(${period}) ${num.format(sma)}`,
            );
          break;
        }
        default:
          break;
      }
    }
  }

  onForeign(f: ForeignState, emit: (a: AlertEvent) => void): void {
    const rules = this.bySymbol.get(f.symbol);
    if (!rules) return;
    if (!isNum(f.netValue)) {
      this.skipped++;
      return;
    }
    for (const e of rules.values()) {
      const { rule } = e;
      if (!rule.enabled || (rule.kind !== 'foreign_net_buy_above' && rule.kind !== 'foreign_net_sell_above')) continue;
      this.evaluated++;
      const buy = rule.kind === 'foreign_net_buy_above';
      const net = buy ? f.netValue : -f.netValue;
      this.level(e, net >= rule.threshold, f.ts, net, rule.threshold, emit, () =>
        `${rule.symbol} foreign net ${buy ? 'buy' : 'sell'} ${num.format(net)} reached ${num.format(rule.threshold)}`,
      );
    }
  }

  /** Edge detection for level conditions: fire on false→true, re-arm on true→false. */
  private level(e: RuleEntry, cond: boolean, ts: number, value: number, threshold: number, emit: (a: AlertEvent) => void, message: () => string): void {
    const wasActive = e.active;
    e.active = cond;
    if (cond && !wasActive) this.fire(e, ts, value, threshold, emit, message);
  }

  private fire(e: RuleEntry, ts: number, value: number, threshold: number, emit: (a: AlertEvent) => void, message: () => string): void {
    const last = e.lastFiredTs;
    if (!isNum(ts)) {
      this.skipped++;
      return;
    }
    if (last !== undefined && (ts <= last || ts - last < e.rule.cooldownMs)) return;
    e.lastFiredTs = ts;
    const { rule } = e;
    emit({
      id: `${rule.id}:${ts}`,
      ruleId: rule.id,
      userId: rule.userId,
      symbol: rule.symbol,
      kind: rule.kind,
      ts,
      value,
      threshold,
      message: message(),
    });
  }

  private ensureSeries(rule: AlertRule): void {
    const kind = SERIES_OF[rule.kind];
    if (!kind) return;
    const period = rule.period ?? DEFAULT_PERIOD[rule.kind]!;
    let state = this.bars.get(rule.symbol);
    if (!state) this.bars.set(rule.symbol, (state = { lastBarTs: Number.NEGATIVE_INFINITY, prevClose: null, series: new Map() }));
    const key = seriesKey(kind, period);
    if (!state.series.has(key)) state.series.set(key, { ind: kind === 'rsi' ? new Rsi(period) : new Sma(period), prev: null, cur: null });
  }

  private unindex(rule: AlertRule): void {
    const forSymbol = this.bySymbol.get(rule.symbol);
    forSymbol?.delete(rule.id);
    if (forSymbol && forSymbol.size === 0) this.bySymbol.delete(rule.symbol);
  }

  /** Drops indicators no rule of the symbol uses any more. */
  private prune(symbol: string): void {
    const state = this.bars.get(symbol);
    if (!state) return;
    const forSymbol = this.bySymbol.get(symbol);
    const used = new Set<string>();
    for (const e of forSymbol?.values() ?? []) {
      const kind = SERIES_OF[e.rule.kind];
      if (kind) used.add(seriesKey(kind, e.rule.period ?? DEFAULT_PERIOD[e.rule.kind]!));
    }
    for (const key of [...state.series.keys()]) if (!used.has(key)) state.series.delete(key);
    if (state.series.size === 0) this.bars.delete(symbol);
  }
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function sameCondition(a: AlertRule, b: AlertRule): boolean {
  return a.symbol === b.symbol && a.kind === b.kind && a.threshold === b.threshold && a.period === b.period;
}

function validateRule(rule: AlertRule): void {
  const problems: string[] = [];
  if (typeof rule.id !== 'string' || rule.id === '') problems.push('id');
  if (typeof rule.symbol !== 'string' || rule.symbol === '') problems.push('symbol');
  if (!ALERT_KINDS.includes(rule.kind)) problems.push('kind');
  if (!isNum(rule.threshold)) problems.push('threshold');
  if (rule.period !== undefined && !(Number.isInteger(rule.period) && rule.period >= 1)) problems.push('period');
  if (!(Number.isInteger(rule.cooldownMs) && rule.cooldownMs >= 0)) problems.push('cooldownMs');
  if (problems.length) throw new RangeError(`invalid alert rule ${String(rule.id)}: ${problems.join(', ')}`);
}
