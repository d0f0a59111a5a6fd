/**
 * The price board's columns in the order Vietnamese investors read them:
 * symbol, TC/Trần/Sàn, bids 3→1, the last match, asks 1→3, totals, foreign.
 * Each column knows how to print a quote and which price colours it, so the
 * row component stays a loop.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { priceTone, type PriceTone } from '../../lib/colors.ts';
import { formatChange, formatCompact, formatPct, formatPrice, formatVolume } from '../../lib/format.ts';

export type SortKey =
  | 'symbol'
  | 'reference'
  | 'ceiling'
  | 'floor'
  | 'last'
  | 'lastVolume'
  | 'change'
  | 'changePct'
  | 'totalVolume'
  | 'high'
  | 'low'
  | 'foreignBuy'
  | 'foreignSell'
  | 'foreignRoom';

export type ColumnGroup = 'symbol' | 'ref' | 'bid' | 'match' | 'ask' | 'total' | 'foreign';

export interface CellView {
  text: string;
  tone: PriceTone;
  /** Numeric value for the flash direction; null when empty. */
  num: number | null;
}

export interface Column {
  id: string;
  /** Header text as printed on Vietnamese boards. */
  label: string;
  /** Full English name (tooltip and accessible name). */
  title: string;
  group: ColumnGroup;
  /** Width in px: fixed so that changing numbers never shift the layout. */
  width: number;
  sortKey?: SortKey;
  cell: (q: QuoteState, compact: boolean) => CellView;
}

const EMPTY: CellView = { text: '', tone: 'none', num: null };
const mkt = (q: QuoteState) => q.market;
const tone = (q: QuoteState, p: number | null | undefined) => priceTone(p, q);
const vol = (v: number | null | undefined, compact: boolean) => (compact ? formatCompact(v) : formatVolume(v));
const price = (q: QuoteState, p: number | null | undefined): CellView =>
  typeof p === 'number' && p > 0 ? { text: formatPrice(p, mkt(q)), tone: tone(q, p), num: p } : EMPTY;

function bookColumns(side: 'bid' | 'ask'): Column[] {
  // Bids are printed worst-to-best (3, 2, 1) so both best levels touch the last match.
  const levels = side === 'bid' ? [2, 1, 0] : [0, 1, 2];
  const vi = side === 'bid' ? 'Mua' : 'Bán';
  const en = side === 'bid' ? 'Bid' : 'Ask';
  return levels.flatMap((i): Column[] => [
    {
      id: `${side}${i + 1}p`,
      label: `Giá ${i + 1}`,
      title: `${en} price ${i + 1}`,
      group: side,
      width: 70,
      cell: (q) => price(q, (side === 'bid' ? q.bids : q.asks)[i]?.price),
    },
    {
      id: `${side}${i + 1}v`,
      label: `KL ${i + 1}`,
      title: `${en} volume ${i + 1} (${vi})`,
      group: side,
      width: 72,
      cell: (q, compact) => {
        const lvl = (side === 'bid' ? q.bids : q.asks)[i];
        return lvl && lvl.volume > 0 ? { text: vol(lvl.volume, compact), tone: tone(q, lvl.price), num: lvl.volume } : EMPTY;
      },
    },
  ]);
}

const foreignCell = (v: number | null | undefined, compact: boolean): CellView =>
  typeof v === 'number' ? { text: vol(v, compact), tone: 'none', num: v } : EMPTY;

export const COLUMNS: readonly Column[] = [
  {
    id: 'symbol', label: 'Mã', title: 'Symbol', group: 'symbol', width: 64, sortKey: 'symbol',
    cell: (q) => ({ text: q.symbol, tone: tone(q, q.last), num: null }),
  },
  {
    id: 'ref', label: 'TC', title: 'Reference price', group: 'ref', width: 70, sortKey: 'reference',
    cell: (q) => (q.reference > 0 ? { text: formatPrice(q.reference, mkt(q)), tone: 'ref', num: q.reference } : EMPTY),
  },
  {
    id: 'ceil', label: 'Trần', title: 'Ceiling price', group: 'ref', width: 70, sortKey: 'ceiling',
    cell: (q) => (q.ceiling !== null ? { text: formatPrice(q.ceiling, mkt(q)), tone: 'ceiling', num: q.ceiling } : EMPTY),
  },
  {
    id: 'floor', label: 'Sàn', title: 'Floor price', group: 'ref', width: 70, sortKey: 'floor',
    cell: (q) => (q.floor !== null ? { text: formatPrice(q.floor, mkt(q)), tone: 'floor', num: q.floor } : EMPTY),
  },
  ...bookColumns('bid'),
  {
    id: 'last', label: 'Giá', title: 'Last price', group: 'match', width: 72, sortKey: 'last',
    cell: (q) => price(q, q.last),
  },
  {
    id: 'lastVol', label: 'KL', title: 'Last volume', group: 'match', width: 68, sortKey: 'lastVolume',
    cell: (q, compact) => (q.last !== null && q.lastVolume > 0 ? { text: vol(q.lastVolume, compact), tone: tone(q, q.last), num: q.lastVolume } : EMPTY),
  },
  {
    id: 'change', label: '+/-', title: 'Change', group: 'match', width: 70, sortKey: 'change',
    cell: (q) => (q.change !== null && q.last !== null ? { text: formatChange(q.change, mkt(q)), tone: tone(q, q.last), num: q.change } : EMPTY),
  },
  {
    id: 'pct', label: '%', title: 'Change percent', group: 'match', width: 70, sortKey: 'changePct',
    cell: (q) => (q.changePct !== null && q.last !== null ? { text: formatPct(q.changePct), tone: tone(q, q.last), num: q.changePct } : EMPTY),
  },
  ...bookColumns('ask'),
  {
    id: 'totalVol', label: 'Tổng KL', title: 'Total volume', group: 'total', width: 88, sortKey: 'totalVolume',
    cell: (q, compact) => (q.totalVolume > 0 ? { text: vol(q.totalVolume, compact), tone: 'none', num: q.totalVolume } : EMPTY),
  },
  {
    id: 'high', label: 'Cao', title: 'High', group: 'total', width: 70, sortKey: 'high',
    cell: (q) => price(q, q.high),
  },
  {
    id: 'low', label: 'Thấp', title: 'Low', group: 'total', width: 70, sortKey: 'low',
    cell: (q) => price(q, q.low),
  },
  {
    id: 'fBuy', label: 'NN mua', title: 'Foreign buy volume', group: 'foreign', width: 76, sortKey: 'foreignBuy',
    cell: (q, compact) => foreignCell(q.foreign?.buyVolume, compact),
  },
  {
    id: 'fSell', label: 'NN bán', title: 'Foreign sell volume', group: 'foreign', width: 76, sortKey: 'foreignSell',
    cell: (q, compact) => foreignCell(q.foreign?.sellVolume, compact),
  },
  {
    id: 'fRoom', label: 'Room', title: 'Foreign room remaining', group: 'foreign', width: 84, sortKey: 'foreignRoom',
    cell: (q, compact) => foreignCell(q.foreign?.currentRoom, compact),
  },
];

export const GROUP_LABELS: Record<ColumnGroup, { label: string; title: string }> = {
  symbol: { label: '', title: '' },
  ref: { label: '', title: 'Reference, ceiling, floor' },
  bid: { label: 'Dư mua', title: 'Best bids' },
  match: { label: 'Khớp lệnh', title: 'Last match' },
  ask: { label: 'Dư bán', title: 'Best asks' },
  total: { label: '', title: 'Day totals' },
  foreign: { label: 'Nước ngoài', title: 'Foreign investors' },
};

/** Value a column sorts by; null sorts last in either direction. */
export const SORT_VALUE: Record<SortKey, (q: QuoteState) => number | string | null> = {
  symbol: (q) => q.symbol,
  reference: (q) => q.reference,
  ceiling: (q) => q.ceiling,
  floor: (q) => q.floor,
  last: (q) => q.last,
  lastVolume: (q) => (q.last === null ? null : q.lastVolume),
  change: (q) => q.change,
  changePct: (q) => q.changePct,
  totalVolume: (q) => q.totalVolume,
  high: (q) => q.high,
  low: (q) => q.low,
  foreignBuy: (q) => q.foreign?.buyVolume ?? null,
  foreignSell: (q) => q.foreign?.sellVolume ?? null,
  foreignRoom: (q) => q.foreign?.currentRoom ?? null,
};
