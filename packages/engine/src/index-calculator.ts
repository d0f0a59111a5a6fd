/**
 * Cap-weighted indices computed from constituents, for feeds that do not
 * publish index values.
 *
 *   value = prevClose × Σ(price_i × shares_i) / Σ(base_i × shares_i)
 *
 * price_i is the last trade (the reference price before the first trade) and
 * base_i is the reference price, so an index opens each day at its prevClose
 * (the `base` of its definition on the first day). Every quote changes the
 * numerator, breadth and traded totals by a delta, so a quote costs
 * O(#indices of that symbol) whatever the index size.
 *
 * Day roll: when a member's reference arrives with a later trading date, the
 * index closes the old day (prevClose = last value) and re-bases every member
 * on its current price; as each member's new reference then arrives, its old
 * contribution is swapped for the new one in numerator and denominator alike,
 * so an adjusted reference (e.g. ex-dividend) does not make the index jump.
 */
import type { Breadth, IndexEvent, IndexState, QuoteState, SymbolRef } from '@stock-tracker/protocol';

export interface IndexDefinition {
  id: string;
  name: string;
  /** Members must list on this exchange (when set). */
  exchange?: string;
  /** Members must carry this id in `ref.indices` (when set). */
  member?: string;
  /** Value on the first day (its prevClose). */
  base: number;
}

export const DEFAULT_INDICES: IndexDefinition[] = [
  { id: 'VNINDEX', name: 'VN-Index', exchange: 'HOSE', base: 1250 },
  { id: 'VN30', name: 'VN30', exchange: 'HOSE', member: 'VN30', base: 1350 },
  { id: 'HNXINDEX', name: 'HNX-Index', exchange: 'HNX', base: 230 },
  { id: 'UPCOMINDEX', name: 'UPCoM-Index', exchange: 'UPCOM', base: 95 },
];

/** Direction of a member against its reference: +1 advance, −1 decline, 0 unchanged or no trade. */
type Direction = -1 | 0 | 1;

export interface Member {
  ref: SymbolRef;
  shares: number;
  /** Last trade of the member's trading date, null before the first trade. */
  last: number | null;
  /** price × shares (price = last ?? reference). */
  cap: number;
  dir: Direction;
  atCeiling: boolean;
  atFloor: boolean;
  volume: number;
  value: number;
  indices: IndexRuntime[];
}

export interface IndexRuntime {
  def: IndexDefinition;
  /** Each member's contribution to the denominator (base price × shares). */
  baseCaps: Map<string, number>;
  num: number;
  den: number;
  prevClose: number;
  tradingDate: string | undefined;
  breadth: Breadth;
  volume: number;
  valueTraded: number;
  dirty: boolean;
  /** Incremental updates since the sums were last rebuilt from scratch. */
  sinceResync: number;
  /** The feed publishes this index: pass its values through, stop computing. */
  fromFeed: boolean;
  state: IndexState | undefined;
}

/**
 * Plain-data copy of an IndexCalculator: the runtime of every index (exact
 * float sums, base caps, breadth) and every member; members refer to their
 * indices, which one structured clone keeps as shared references.
 */
export interface IndexSnapshot {
  indices: IndexRuntime[];
  members: Array<[string, Member]>;
  skipped: number;
}

const emptyBreadth = (): Breadth => ({ advances: 0, declines: 0, unchanged: 0, ceilings: 0, floors: 0 });

export class IndexCalculator {
  private readonly indices: IndexRuntime[] = [];
  private readonly byId = new Map<string, IndexRuntime>();
  private readonly members = new Map<string, Member>();
  /** Malformed or stale inputs that were ignored. */
  skipped = 0;

  constructor(defs: IndexDefinition[] = DEFAULT_INDICES) {
    for (const def of defs) this.addIndex(def);
  }

  exportState(): IndexSnapshot {
    return structuredClone({ indices: this.indices, members: [...this.members], skipped: this.skipped });
  }

  /** Replaces every index and member with a copy of `s` (index definitions included). */
  restoreState(s: IndexSnapshot): void {
    const c = structuredClone(s);
    this.indices.length = 0;
    this.byId.clear();
    for (const idx of c.indices) {
      this.indices.push(idx);
      this.byId.set(idx.def.id, idx);
    }
    this.members.clear();
    for (const [symbol, m] of c.members) this.members.set(symbol, m);
    this.skipped = c.skipped;
  }

  onReference(ref: SymbolRef): void {
    if (!(ref.reference > 0) || !Number.isFinite(ref.reference) || !(ref.sharesOutstanding >= 0) || !Number.isFinite(ref.sharesOutstanding)) {
      this.skipped++;
      return;
    }
    const prev = this.members.get(ref.symbol);
    if (prev && ref.tradingDate < prev.ref.tradingDate) {
      this.skipped++;
      return;
    }
    const targets = this.indices.filter((idx) => matches(idx.def, ref));
    for (const idx of targets) {
      if (idx.tradingDate === undefined) idx.tradingDate = ref.tradingDate;
      else if (ref.tradingDate > idx.tradingDate) this.roll(idx, ref.tradingDate);
    }

    const sameDay = prev !== undefined && prev.ref.tradingDate === ref.tradingDate;
    const m: Member = prev ?? {
      ref,
      shares: 0,
      last: null,
      cap: 0,
      dir: 0,
      atCeiling: false,
      atFloor: false,
      volume: 0,
      value: 0,
      indices: [],
    };
    for (const idx of m.indices) this.detach(idx, m);
    m.ref = ref;
    m.shares = ref.sharesOutstanding;
    if (!sameDay) {
      m.last = null;
      m.dir = 0;
      m.atCeiling = false;
      m.atFloor = false;
      m.volume = 0;
      m.value = 0;
    }
    m.cap = (m.last ?? ref.reference) * m.shares;
    m.indices = targets;
    for (const idx of targets) this.attach(idx, m, ref.reference * m.shares);
    this.members.set(ref.symbol, m);
  }

  onQuote(q: QuoteState): void {
    const m = this.members.get(q.symbol);
    if (!m || m.indices.length === 0) return;
    if (q.tradingDate !== m.ref.tradingDate) {
      this.skipped++;
      return;
    }
    const last = q.last;
    if (last !== null && !(last > 0 && Number.isFinite(last))) {
      this.skipped++;
      return;
    }
    const cap = (last ?? m.ref.reference) * m.shares;
    const dir: Direction = last === null ? 0 : last > q.reference ? 1 : last < q.reference ? -1 : 0;
    const atCeiling = last !== null && q.ceiling !== null && last === q.ceiling;
    const atFloor = last !== null && q.floor !== null && last === q.floor;
    const volume = Number.isFinite(q.totalVolume) ? q.totalVolume : m.volume;
    const value = Number.isFinite(q.totalValue) ? q.totalValue : m.value;

    for (const idx of m.indices) {
      idx.num += cap - m.cap;
      idx.volume += volume - m.volume;
      idx.valueTraded += value - m.value;
      if (dir !== m.dir) {
        addDirection(idx.breadth, m.dir, -1);
        addDirection(idx.breadth, dir, 1);
      }
      idx.breadth.ceilings += Number(atCeiling) - Number(m.atCeiling);
      idx.breadth.floors += Number(atFloor) - Number(m.atFloor);
      idx.dirty = true;
    }
    Object.assign(m, { last, cap, dir, atCeiling, atFloor, volume, value });
    for (const idx of m.indices) if (++idx.sinceResync > Math.max(1024, 4 * idx.baseCaps.size)) this.resync(idx);
  }

  onFeedIndex(ev: IndexEvent): IndexState {
    const idx = this.byId.get(ev.index) ?? this.addIndex({ id: ev.index, name: ev.index, base: ev.prevClose });
    idx.fromFeed = true;
    idx.dirty = false;
    if (!Number.isFinite(ev.value) || !Number.isFinite(ev.prevClose)) {
      this.skipped++;
      return idx.state ?? this.stateOf(idx, ev.ts, 0, 0, emptyBreadth(), 0, 0, false);
    }
    const breadth: Breadth = {
      advances: ev.advances,
      declines: ev.declines,
      unchanged: ev.unchanged,
      ceilings: ev.ceilings,
      floors: ev.floors,
    };
    idx.state = this.stateOf(idx, ev.ts, ev.value, ev.prevClose, breadth, ev.volume, ev.valueTraded, false);
    return idx.state;
  }

  /** Recomputes dirty indices; returns those whose value, prevClose, breadth or traded totals changed since the last call. */
  compute(ts: number): IndexState[] {
    const changed: IndexState[] = [];
    for (const idx of this.indices) {
      if (!idx.dirty || idx.fromFeed) continue;
      idx.dirty = false;
      if (!(idx.den > 0)) continue;
      const next = this.stateOf(idx, ts, this.valueOf(idx), idx.prevClose, { ...idx.breadth }, idx.volume, idx.valueTraded, true);
      if (idx.state && sameFigures(idx.state, next)) continue;
      idx.state = next;
      changed.push(next);
    }
    return changed;
  }

  get(id: string): IndexState | undefined {
    return this.byId.get(id)?.state;
  }

  all(): IndexState[] {
    const out: IndexState[] = [];
    for (const idx of this.indices) if (idx.state) out.push(idx.state);
    return out;
  }

  private addIndex(def: IndexDefinition): IndexRuntime {
    const idx: IndexRuntime = {
      def,
      baseCaps: new Map(),
      num: 0,
      den: 0,
      prevClose: def.base,
      tradingDate: undefined,
      breadth: emptyBreadth(),
      volume: 0,
      valueTraded: 0,
      dirty: false,
      sinceResync: 0,
      fromFeed: false,
      state: undefined,
    };
    this.indices.push(idx);
    this.byId.set(def.id, idx);
    return idx;
  }

  private valueOf(idx: IndexRuntime): number {
    return idx.den > 0 ? (idx.prevClose * idx.num) / idx.den : idx.prevClose;
  }

  /** Closes the index's day and re-bases every member on its current price. */
  private roll(idx: IndexRuntime, tradingDate: string): void {
    idx.prevClose = this.valueOf(idx);
    idx.tradingDate = tradingDate;
    for (const symbol of idx.baseCaps.keys()) idx.baseCaps.set(symbol, this.members.get(symbol)!.cap);
    this.resync(idx);
    idx.dirty = true;
  }

  private attach(idx: IndexRuntime, m: Member, baseCap: number): void {
    idx.baseCaps.set(m.ref.symbol, baseCap);
    idx.num += m.cap;
    idx.den += baseCap;
    idx.volume += m.volume;
    idx.valueTraded += m.value;
    addDirection(idx.breadth, m.dir, 1);
    idx.breadth.ceilings += Number(m.atCeiling);
    idx.breadth.floors += Number(m.atFloor);
    idx.dirty = true;
  }

  private detach(idx: IndexRuntime, m: Member): void {
    idx.num -= m.cap;
    idx.den -= idx.baseCaps.get(m.ref.symbol) ?? 0;
    idx.baseCaps.delete(m.ref.symbol);
    idx.volume -= m.volume;
    idx.valueTraded -= m.value;
    addDirection(idx.breadth, m.dir, -1);
    idx.breadth.ceilings -= Number(m.atCeiling);
    idx.breadth.floors -= Number(m.atFloor);
    idx.dirty = true;
  }

  /** Rebuilds the float sums from the members so add/subtract rounding never accumulates (amortized O(1)). */
  private resync(idx: IndexRuntime): void {
    let num = 0;
    let den = 0;
    let volume = 0;
    let value = 0;
    for (const [symbol, baseCap] of idx.baseCaps) {
      const m = this.members.get(symbol)!;
      num += m.cap;
      den += baseCap;
      volume += m.volume;
      value += m.value;
    }
    Object.assign(idx, { num, den, volume, valueTraded: value, sinceResync: 0 });
  }

  private stateOf(
    idx: IndexRuntime,
    ts: number,
    value: number,
    prevClose: number,
    breadth: Breadth,
    volume: number,
    valueTraded: number,
    computed: boolean,
  ): IndexState {
    const change = value - prevClose;
    return {
      id: idx.def.id,
      name: idx.def.name,
      ts,
      value,
      prevClose,
      change,
      changePct: prevClose !== 0 ? (change / prevClose) * 100 : 0,
      volume,
      valueTraded,
      breadth,
      computed,
    };
  }
}

function matches(def: IndexDefinition, ref: SymbolRef): boolean {
  if (def.exchange !== undefined && ref.exchange.toUpperCase() !== def.exchange.toUpperCase()) return false;
  if (def.member !== undefined && !ref.indices.includes(def.member)) return false;
  return true;
}

function addDirection(b: Breadth, dir: Direction, n: number): void {
  if (dir > 0) b.advances += n;
  else if (dir < 0) b.declines += n;
  else b.unchanged += n;
}

function sameFigures(a: IndexState, b: IndexState): boolean {
  return (
    a.value === b.value &&
    a.prevClose === b.prevClose &&
    a.volume === b.volume &&
    a.valueTraded === b.valueTraded &&
    a.breadth.advances === b.breadth.advances &&
    a.breadth.declines === b.breadth.declines &&
    a.breadth.unchanged === b.breadth.unchanged &&
    a.breadth.ceilings === b.breadth.ceilings &&
    a.breadth.floors === b.breadth.floors
  );
}
