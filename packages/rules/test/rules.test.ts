import fc from 'fast-check';
import { HNX, HOSE, UPCOM, US, isOnTick, phaseAt, priceLimits, roundDownToTick, roundUpToTick, stepPrice, tickSize } from '../src/index.ts';

describe('market rules', () => {
  it('HOSE tick bands', () => {
    expect(tickSize(HOSE, 9_990)).toBe(10);
    expect(tickSize(HOSE, 10_000)).toBe(50);
    expect(tickSize(HOSE, 49_950)).toBe(50);
    expect(tickSize(HOSE, 50_000)).toBe(100);
    expect(tickSize(HNX, 123_400)).toBe(100);
  });

  it('ceiling and floor are the extreme on-grid prices inside the band', () => {
    expect(priceLimits(HOSE, 25_300)).toEqual({ ceiling: 27_050, floor: 23_550 });
    expect(priceLimits(HOSE, 10_200)).toEqual({ ceiling: 10_900, floor: 9_490 });
    expect(priceLimits(HNX, 21_500)).toEqual({ ceiling: 23_600, floor: 19_400 });
    expect(priceLimits(US, 190)).toEqual({ ceiling: null, floor: null });
  });

  it('limits hold for any reference on any VN exchange', () => {
    fc.assert(
      fc.property(fc.constantFrom(HOSE, HNX, UPCOM), fc.integer({ min: 1_000, max: 300_000 }), (rules, raw) => {
        const ref = roundDownToTick(rules, raw);
        const { ceiling, floor } = priceLimits(rules, ref);
        expect(isOnTick(rules, ceiling!)).toBe(true);
        expect(isOnTick(rules, floor!)).toBe(true);
        expect(ceiling!).toBeLessThanOrEqual(ref * (1 + rules.dailyLimit!) + 1e-6);
        expect(floor!).toBeGreaterThanOrEqual(ref * (1 - rules.dailyLimit!) - 1e-6);
        // one more tick would leave the band
        expect(stepPrice(rules, ceiling!, 1)).toBeGreaterThan(ref * (1 + rules.dailyLimit!));
        expect(stepPrice(rules, floor!, -1)).toBeLessThan(ref * (1 - rules.dailyLimit!));
      }),
    );
  });

  it('stepping crosses band boundaries onto the right grid', () => {
    expect(stepPrice(HOSE, 9_990, 1)).toBe(10_000);
    expect(stepPrice(HOSE, 10_000, -1)).toBe(9_990);
    expect(stepPrice(HOSE, 49_950, 1)).toBe(50_000);
    expect(stepPrice(HOSE, 50_000, -1)).toBe(49_950);
    expect(roundUpToTick(HOSE, 9_995)).toBe(10_000);
    expect(isOnTick(US, 190.01)).toBe(true);
    expect(isOnTick(US, 190.015)).toBe(false);
  });

  it('scheduled phases in the exchange time zone', () => {
    expect(phaseAt(HOSE, Date.parse('2026-11-25T01:59:00Z'))).toBe('pre_open');
    expect(phaseAt(HOSE, Date.parse('2026-11-25T02:05:00Z'))).toBe('ato');
    expect(phaseAt(HOSE, Date.parse('2026-11-25T04:45:00Z'))).toBe('lunch_break');
    expect(phaseAt(HOSE, Date.parse('2026-11-25T07:35:00Z'))).toBe('atc');
    expect(phaseAt(HOSE, Date.parse('2026-11-25T08:10:00Z'))).toBe('closed');
    expect(phaseAt(UPCOM, Date.parse('2026-11-25T07:35:00Z'))).toBe('continuous');
    expect(phaseAt(US, Date.parse('2026-11-25T15:00:00Z'))).toBe('continuous');
    expect(phaseAt(US, Date.parse('2026-07-01T13:29:00Z'))).toBe('pre_open'); // 09:29 EDT
  });
});

describe('market rules on bad input', () => {
  it('non-finite prices do not hang or throw', () => {
    expect(priceLimits(HOSE, NaN).ceiling).toBeNaN();
    expect(roundUpToTick(HOSE, Infinity)).toBe(Infinity);
    expect(isOnTick(HOSE, NaN)).toBe(false);
  });
});
