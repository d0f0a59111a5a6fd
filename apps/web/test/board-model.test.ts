import fc from 'fast-check';
import { filterSymbols, fold, matchesQuery, moveFocus, nextSort, sortSymbols, type SymbolInfo } from '../src/components/board/board-model.ts';
import type { QuoteState } from '@stock-tracker/protocol';
import { makeQuote } from './helpers.tsx';

const INFO: Record<string, SymbolInfo> = {
  VNM: { exchange: 'HOSE', indices: ['VNINDEX', 'VN30'], name: 'Công ty Cổ phần Sữa Việt Nam' },
  FPT: { exchange: 'HOSE', indices: ['VNINDEX', 'VN30'], name: 'FPT Corporation' },
  HPG: { exchange: 'HOSE', indices: ['VNINDEX', 'VN30'], name: 'Hòa Phát Group' },
  SHS: { exchange: 'HNX', indices: ['HNXINDEX'], name: 'Chứng khoán Sài Gòn - Hà Nội' },
  BSR: { exchange: 'UPCOM', indices: [], name: 'Lọc hóa dầu Bình Sơn' },
  DGC: { exchange: 'hose', indices: ['VNINDEX'], name: 'Đức Giang Chemicals' },
};
const ALL = Object.keys(INFO);
const info = (s: string) => INFO[s];

describe('board filters', () => {
  it('filters by exchange tab (case-insensitive exchange codes)', () => {
    expect(filterSymbols(ALL, info, { kind: 'exchange', exchange: 'HOSE' }, '')).toEqual(['VNM', 'FPT', 'HPG', 'DGC']);
    expect(filterSymbols(ALL, info, { kind: 'exchange', exchange: 'HNX' }, '')).toEqual(['SHS']);
    expect(filterSymbols(ALL, info, { kind: 'exchange', exchange: 'UPCOM' }, '')).toEqual(['BSR']);
  });
  it('filters VN30 by index membership and watchlists by their symbols', () => {
    expect(filterSymbols(ALL, info, { kind: 'index', index: 'VN30' }, '')).toEqual(['VNM', 'FPT', 'HPG']);
    const lists = new Map([['w1', ['BSR', 'FPT', 'ZZZ']]]);
    expect(filterSymbols(ALL, info, { kind: 'watchlist', id: 'w1' }, '', lists)).toEqual(['FPT', 'BSR']);
    expect(filterSymbols(ALL, info, { kind: 'watchlist', id: 'missing' }, '', lists)).toEqual([]);
  });
  it('searches symbol prefixes and name words without diacritics', () => {
    expect(filterSymbols(ALL, info, { kind: 'all' }, 'hp')).toEqual(['HPG']);
    // one letter also finds names with a word starting with it (Hà Nội, hóa dầu)
    expect(filterSymbols(ALL, info, { kind: 'all' }, 'h')).toEqual(['HPG', 'SHS', 'BSR']);
    expect(filterSymbols(ALL, info, { kind: 'all' }, 'sua')).toEqual(['VNM']);
    expect(filterSymbols(ALL, info, { kind: 'all' }, 'hoa phat')).toEqual(['HPG']);
    expect(filterSymbols(ALL, info, { kind: 'all' }, 'duc')).toEqual(['DGC']);
    expect(filterSymbols(ALL, info, { kind: 'all' }, '  ')).toEqual(ALL);
    expect(filterSymbols(ALL, info, { kind: 'exchange', exchange: 'HNX' }, 'v')).toEqual([]);
  });
  it('folds Vietnamese text', () => {
    expect(fold('Đức Giang')).toBe('duc giang');
    expect(matchesQuery('XYZ', undefined, 'x')).toBe(true);
    expect(matchesQuery('XYZ', undefined, 'y')).toBe(false);
  });
});

describe('board sorting', () => {
  const quotes = new Map<string, QuoteState>([
    ['AAA', makeQuote('AAA', { changePct: 2, last: 51_000 })],
    ['BBB', makeQuote('BBB', { changePct: -3, last: 48_500 })],
    ['CCC', makeQuote('CCC', { changePct: null, last: null })],
    ['DDD', makeQuote('DDD', { changePct: 6.9, last: 53_400 })],
  ]);
  const get = (s: string) => quotes.get(s);
  it('sorts by a live column both ways with empty values last', () => {
    expect(sortSymbols(['AAA', 'BBB', 'CCC', 'DDD'], get, { key: 'changePct', dir: 'desc' })).toEqual(['DDD', 'AAA', 'BBB', 'CCC']);
    expect(sortSymbols(['AAA', 'BBB', 'CCC', 'DDD'], get, { key: 'changePct', dir: 'asc' })).toEqual(['BBB', 'AAA', 'DDD', 'CCC']);
    expect(sortSymbols(['DDD', 'CCC', 'BBB', 'AAA'], get, { key: 'symbol', dir: 'asc' })).toEqual(['AAA', 'BBB', 'CCC', 'DDD']);
    expect(sortSymbols(['AAA', 'ZZZ'], get, { key: 'last', dir: 'desc' })).toEqual(['AAA', 'ZZZ']); // no quote at all: last
  });
  it('produces a permutation ordered by the sort value for any data', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Z]{3}$/), { maxLength: 30 }), fc.array(fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }), { minLength: 30, maxLength: 30 }), fc.boolean(), (syms, vols, asc) => {
        const m = new Map(syms.map((s, i) => [s, makeQuote(s, { last: vols[i] === null ? null : 1, lastVolume: vols[i] ?? 0 })]));
        const out = sortSymbols(syms, (s) => m.get(s), { key: 'lastVolume', dir: asc ? 'asc' : 'desc' });
        expect([...out].sort()).toEqual([...syms].sort());
        const vals = out.map((s) => (m.get(s)!.last === null ? null : m.get(s)!.lastVolume));
        const firstNull = vals.indexOf(null);
        if (firstNull >= 0) expect(vals.slice(firstNull).every((v) => v === null)).toBe(true);
        const nums = vals.filter((v): v is number => v !== null);
        for (let i = 1; i < nums.length; i++) expect(asc ? nums[i]! >= nums[i - 1]! : nums[i]! <= nums[i - 1]!).toBe(true);
      }),
    );
  });
  it('toggles direction on the same column; a new column starts descending (symbol ascending)', () => {
    expect(nextSort({ key: 'symbol', dir: 'asc' }, 'changePct')).toEqual({ key: 'changePct', dir: 'desc' });
    expect(nextSort({ key: 'changePct', dir: 'desc' }, 'changePct')).toEqual({ key: 'changePct', dir: 'asc' });
    expect(nextSort({ key: 'changePct', dir: 'desc' }, 'symbol')).toEqual({ key: 'symbol', dir: 'asc' });
  });
});

describe('keyboard focus movement', () => {
  it('moves and clamps', () => {
    expect(moveFocus('ArrowDown', -1, 5)).toBe(0);
    expect(moveFocus('ArrowDown', 4, 5)).toBe(4);
    expect(moveFocus('ArrowUp', 0, 5)).toBe(0);
    expect(moveFocus('PageDown', 1, 50)).toBe(11);
    expect(moveFocus('End', 1, 50)).toBe(49);
    expect(moveFocus('Home', 30, 50)).toBe(0);
    expect(moveFocus('x', 3, 50)).toBeNull();
    expect(moveFocus('ArrowDown', 0, 0)).toBeNull();
  });
});
