import fc from 'fast-check';
import { changeTone, priceTone, toneClass } from '../src/lib/colors.ts';

const vn = { reference: 50_000, ceiling: 53_500, floor: 46_500 };
const us = { reference: 187.5, ceiling: null, floor: null };

describe('price colours (ceiling purple, floor cyan, reference yellow, up green, down red)', () => {
  it('colours each zone', () => {
    expect(priceTone(53_500, vn)).toBe('ceiling');
    expect(priceTone(46_500, vn)).toBe('floor');
    expect(priceTone(50_000, vn)).toBe('ref');
    expect(priceTone(50_100, vn)).toBe('up');
    expect(priceTone(53_400, vn)).toBe('up');
    expect(priceTone(49_900, vn)).toBe('down');
    expect(priceTone(46_600, vn)).toBe('down');
  });
  it('treats prices beyond the limits (bad data) as the limit colour', () => {
    expect(priceTone(60_000, vn)).toBe('ceiling');
    expect(priceTone(40_000, vn)).toBe('floor');
  });
  it('has no colour before the first trade or without a usable reference', () => {
    expect(priceTone(null, vn)).toBe('none');
    expect(priceTone(undefined, vn)).toBe('none');
    expect(priceTone(0, vn)).toBe('none');
    expect(priceTone(Number.NaN, vn)).toBe('none');
    expect(priceTone(50_000, null)).toBe('none');
    expect(priceTone(50_000, { reference: 0, ceiling: null, floor: null })).toBe('none');
  });
  it('never shows ceiling/floor where the market has no daily limit (US)', () => {
    expect(priceTone(1_000_000, us)).toBe('up');
    expect(priceTone(0.01, us)).toBe('down');
    expect(priceTone(187.5, us)).toBe('ref');
  });
  it('compares fractional prices without floating point noise', () => {
    expect(priceTone(187.3 + 0.2, us)).toBe('ref');
    expect(priceTone(0.1 + 0.2, { reference: 0.3, ceiling: null, floor: null })).toBe('ref');
  });
  it('is consistent with the ordering of price, floor, reference and ceiling', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 1, max: 200_000 }), (ref, price) => {
        const band = { reference: ref, ceiling: Math.round(ref * 1.07), floor: Math.round(ref * 0.93) };
        const t = priceTone(price, band);
        if (price >= band.ceiling) expect(t).toBe('ceiling');
        else if (price <= band.floor) expect(t).toBe('floor');
        else if (price === ref) expect(t).toBe('ref');
        else expect(t).toBe(price > ref ? 'up' : 'down');
      }),
    );
  });
  it('colours changes by sign and maps tones to classes', () => {
    expect(changeTone(1.2)).toBe('up');
    expect(changeTone(-0.1)).toBe('down');
    expect(changeTone(0)).toBe('ref');
    expect(changeTone(null)).toBe('none');
    expect(toneClass('ceiling')).toBe('tone-ceiling');
    expect(toneClass('none')).toBe('');
  });
});
