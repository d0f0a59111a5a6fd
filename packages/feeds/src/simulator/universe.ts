/**
 * The simulated listing: real Vietnamese names with plausible reference
 * prices (VND), shares outstanding and foreign ownership limits. Figures are
 * rounded approximations of 2024–25 levels; they only need to look right.
 */
import { HNX, HOSE, UPCOM, roundDownToTick, type ExchangeRules } from '@stock-tracker/rules';
import type { Rng } from './rng.ts';

export type VnExchange = 'HOSE' | 'HNX' | 'UPCOM';
export type Sector = 'bank' | 'securities' | 'real_estate' | 'industrial' | 'consumer' | 'energy' | 'technology' | 'utilities';

export interface ListedSymbol {
  symbol: string;
  exchange: VnExchange;
  name: string;
  /** Reference price of the first simulated day, on the tick grid. */
  basePrice: number;
  sharesOutstanding: number;
  sector: Sector;
  /** Max foreign ownership as a fraction of shares (30% banks, 49% others). */
  foreignLimitPct: number;
  indices: string[];
  /** Relative share of the market's order flow. */
  liquidity: number;
  /** Daily volatility of the log price. */
  volatility: number;
  /** Foreign holdings at the start, as a fraction of the foreign limit. */
  foreignUsage: number;
}

export const VN30: readonly string[] = [
  'ACB', 'BCM', 'BID', 'BVH', 'CTG', 'FPT', 'GAS', 'GVR', 'HDB', 'HPG',
  'LPB', 'MBB', 'MSN', 'MWG', 'PLX', 'SAB', 'SHB', 'SSB', 'SSI', 'STB',
  'TCB', 'TPB', 'VCB', 'VHM', 'VIB', 'VIC', 'VJC', 'VNM', 'VPB', 'VRE',
];

/** HNX30 members among the HNX names below. */
const HNX30 = new Set(['SHS', 'PVS', 'IDC', 'CEO', 'MBS', 'VCS', 'TNG', 'HUT']);

/** Names whose foreign room is (nearly) exhausted in practice. */
const FULL_ROOM = new Set(['FPT', 'MWG', 'PNJ', 'REE', 'ACB', 'TCB', 'VIB', 'MBB', 'TPB', 'VCS']);

export const EXCHANGE_INDEX: Record<VnExchange, string> = { HOSE: 'VNINDEX', HNX: 'HNXINDEX', UPCOM: 'UPCOMINDEX' };

export const EXCHANGE_RULES: Record<VnExchange, ExchangeRules> = { HOSE, HNX, UPCOM };

// symbol, exchange, name, price (VND), shares (millions), sector, liquidity weight
type Row = [string, VnExchange, string, number, number, Sector, number];
const ROWS: Row[] = [
  ['ACB', 'HOSE', 'Asia Commercial Bank', 25_000, 4_467, 'bank', 5],
  ['BCM', 'HOSE', 'Becamex IDC', 65_000, 1_035, 'real_estate', 1],
  ['BID', 'HOSE', 'BIDV', 45_000, 6_990, 'bank', 3],
  ['BVH', 'HOSE', 'Bao Viet Holdings', 50_000, 742, 'consumer', 1],
  ['CTG', 'HOSE', 'VietinBank', 36_000, 5_370, 'bank', 5],
  ['FPT', 'HOSE', 'FPT Corporation', 120_000, 1_471, 'technology', 7],
  ['GAS', 'HOSE', 'PV Gas', 68_000, 2_342, 'energy', 2],
  ['GVR', 'HOSE', 'Vietnam Rubber Group', 30_000, 4_000, 'industrial', 3],
  ['HDB', 'HOSE', 'HDBank', 26_000, 3_494, 'bank', 4],
  ['HPG', 'HOSE', 'Hoa Phat Group', 26_000, 6_396, 'industrial', 10],
  ['LPB', 'HOSE', 'LPBank', 32_000, 2_987, 'bank', 3],
  ['MBB', 'HOSE', 'MB Bank', 24_000, 6_103, 'bank', 7],
  ['MSN', 'HOSE', 'Masan Group', 75_000, 1_438, 'consumer', 4],
  ['MWG', 'HOSE', 'Mobile World', 62_000, 1_462, 'consumer', 6],
  ['PLX', 'HOSE', 'Petrolimex', 40_000, 1_271, 'energy', 2],
  ['SAB', 'HOSE', 'Sabeco', 52_000, 1_283, 'consumer', 1],
  ['SHB', 'HOSE', 'Saigon-Hanoi Bank', 11_000, 3_660, 'bank', 8],
  ['SSB', 'HOSE', 'SeABank', 17_500, 2_830, 'bank', 2],
  ['SSI', 'HOSE', 'SSI Securities', 25_000, 1_960, 'securities', 9],
  ['STB', 'HOSE', 'Sacombank', 37_000, 1_885, 'bank', 7],
  ['TCB', 'HOSE', 'Techcombank', 24_000, 7_065, 'bank', 6],
  ['TPB', 'HOSE', 'TPBank', 15_000, 2_642, 'bank', 4],
  ['VCB', 'HOSE', 'Vietcombank', 90_000, 5_589, 'bank', 4],
  ['VHM', 'HOSE', 'Vinhomes', 42_000, 4_354, 'real_estate', 6],
  ['VIB', 'HOSE', 'VIB', 19_500, 2_979, 'bank', 3],
  ['VIC', 'HOSE', 'Vingroup', 42_000, 3_824, 'real_estate', 5],
  ['VJC', 'HOSE', 'Vietjet Aviation', 100_000, 542, 'consumer', 1],
  ['VNM', 'HOSE', 'Vinamilk', 62_000, 2_090, 'consumer', 4],
  ['VPB', 'HOSE', 'VPBank', 19_000, 7_934, 'bank', 8],
  ['VRE', 'HOSE', 'Vincom Retail', 18_000, 2_272, 'real_estate', 4],
  ['VND', 'HOSE', 'VNDirect Securities', 15_500, 1_521, 'securities', 6],
  ['DGC', 'HOSE', 'Duc Giang Chemicals', 105_000, 380, 'industrial', 3],
  ['PNJ', 'HOSE', 'Phu Nhuan Jewelry', 95_000, 338, 'consumer', 2],
  ['REE', 'HOSE', 'REE Corporation', 66_000, 471, 'utilities', 1],
  ['KDH', 'HOSE', 'Khang Dien House', 34_000, 1_010, 'real_estate', 3],
  ['DIG', 'HOSE', 'DIC Corp', 21_000, 610, 'real_estate', 6],
  ['HSG', 'HOSE', 'Hoa Sen Group', 18_500, 620, 'industrial', 4],
  ['NVL', 'HOSE', 'Novaland', 10_500, 1_950, 'real_estate', 5],
  ['DXG', 'HOSE', 'Dat Xanh Group', 15_800, 870, 'real_estate', 5],
  ['POW', 'HOSE', 'PV Power', 12_500, 2_342, 'utilities', 4],
  ['HQC', 'HOSE', 'Hoang Quan Real Estate', 4_200, 580, 'real_estate', 3],
  ['SCR', 'HOSE', 'Sacomreal', 6_800, 400, 'real_estate', 2],
  ['SHS', 'HNX', 'Saigon-Hanoi Securities', 13_500, 813, 'securities', 6],
  ['PVS', 'HNX', 'PetroVietnam Technical Services', 33_500, 478, 'energy', 4],
  ['IDC', 'HNX', 'IDICO', 55_000, 330, 'real_estate', 2],
  ['CEO', 'HNX', 'C.E.O Group', 15_000, 515, 'real_estate', 4],
  ['MBS', 'HNX', 'MB Securities', 28_500, 547, 'securities', 3],
  ['VCS', 'HNX', 'Vicostone', 60_000, 160, 'industrial', 1],
  ['TNG', 'HNX', 'TNG Investment and Trading', 22_000, 122, 'consumer', 1],
  ['HUT', 'HNX', 'Tasco', 17_000, 892, 'industrial', 2],
  ['BSR', 'UPCOM', 'Binh Son Refining', 21_500, 3_100, 'energy', 4],
  ['ACV', 'UPCOM', 'Airports Corporation of Vietnam', 110_000, 2_177, 'industrial', 1],
  ['VEA', 'UPCOM', 'VEAM Corporation', 42_000, 1_329, 'industrial', 1],
  ['MCH', 'UPCOM', 'Masan Consumer', 140_000, 727, 'consumer', 1],
  ['OIL', 'UPCOM', 'PV Oil', 11_500, 1_034, 'energy', 2],
  ['VGI', 'UPCOM', 'Viettel Global', 90_000, 3_045, 'technology', 1],
  ['QNS', 'UPCOM', 'Quang Ngai Sugar', 48_000, 368, 'consumer', 1],
  ['FOX', 'UPCOM', 'FPT Telecom', 90_000, 490, 'technology', 1],
];

const SECTOR_VOL: Record<Sector, number> = {
  bank: 0.016,
  securities: 0.026,
  real_estate: 0.028,
  industrial: 0.02,
  consumer: 0.016,
  energy: 0.018,
  technology: 0.018,
  utilities: 0.013,
};

// A fixed stream so the listing itself never depends on the simulation seed.
const usageOf = (symbol: string, i: number) => {
  if (FULL_ROOM.has(symbol)) return 0.999;
  const h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  return 0.15 + 0.7 * ((h % 1000) / 1000);
};

function listed(row: Row, i: number): ListedSymbol {
  const [symbol, exchange, name, price, sharesM, sector, liquidity] = row;
  const indices = [EXCHANGE_INDEX[exchange]];
  if (VN30.includes(symbol)) indices.push('VN30');
  if (HNX30.has(symbol)) indices.push('HNX30');
  return {
    symbol,
    exchange,
    name,
    basePrice: roundDownToTick(EXCHANGE_RULES[exchange], price),
    sharesOutstanding: sharesM * 1_000_000,
    sector,
    foreignLimitPct: sector === 'bank' ? 0.3 : 0.49,
    indices,
    liquidity,
    volatility: SECTOR_VOL[sector] * (exchange === 'HOSE' ? 1 : 1.25),
    foreignUsage: usageOf(symbol, i),
  };
}

/** The built-in listing: 30 VN30 names, other HOSE names, HNX and UPCOM names. */
export const LISTING: readonly ListedSymbol[] = ROWS.map(listed);

const EXCHANGES: VnExchange[] = ['HOSE', 'HNX', 'UPCOM'];

/** Deterministic extra names (`SIM001`…) for load tests that want more symbols than the listing has. */
function synthetic(n: number, rng: Rng): ListedSymbol[] {
  const out: ListedSymbol[] = [];
  for (let i = 0; i < n; i++) {
    const exchange = EXCHANGES[i % 3]!;
    const price = Math.round(3_000 + rng.next() ** 2 * 150_000);
    const sector: Sector = (['industrial', 'consumer', 'real_estate', 'energy'] as const)[i % 4]!;
    out.push({
      symbol: `SIM${String(i + 1).padStart(3, '0')}`,
      exchange,
      name: `Simulated Company ${i + 1}`,
      basePrice: roundDownToTick(EXCHANGE_RULES[exchange], price),
      sharesOutstanding: Math.round(50 + rng.next() * 1_500) * 1_000_000,
      sector,
      foreignLimitPct: 0.49,
      indices: [EXCHANGE_INDEX[exchange]],
      liquidity: 1 + rng.int(3),
      volatility: SECTOR_VOL[sector] * (exchange === 'HOSE' ? 1 : 1.25),
      foreignUsage: 0.1 + 0.8 * rng.next(),
    });
  }
  return out;
}

/**
 * The symbols to simulate. A count takes names from the listing interleaved
 * across exchanges (so even a few symbols cover HOSE, HNX and UPCOM) and adds
 * synthetic names past the listing's size; a list picks those names.
 */
export function selectUniverse(symbols: number | string[] | undefined, rng: Rng): ListedSymbol[] {
  if (symbols === undefined) return [...LISTING];
  if (Array.isArray(symbols)) {
    const bySymbol = new Map(LISTING.map((s) => [s.symbol, s]));
    const unknown = symbols.filter((s) => !bySymbol.has(s.toUpperCase()));
    if (unknown.length > 0) throw new RangeError(`unknown simulator symbols: ${unknown.join(', ')}`);
    const picked = [...new Set(symbols.map((s) => s.toUpperCase()))].map((s) => bySymbol.get(s)!);
    if (picked.length === 0) throw new RangeError('the simulator needs at least one symbol');
    return picked;
  }
  if (!Number.isInteger(symbols) || symbols < 1) throw new RangeError(`symbols must be a positive integer, got ${symbols}`);
  if (symbols >= LISTING.length) return [...LISTING, ...synthetic(symbols - LISTING.length, rng)];
  const queues = EXCHANGES.map((e) => LISTING.filter((s) => s.exchange === e));
  const out: ListedSymbol[] = [];
  for (let i = 0; out.length < symbols; i++) {
    const q = queues[i % 3]!;
    const next = q.shift();
    if (next) out.push(next);
  }
  return out;
}
