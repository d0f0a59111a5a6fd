import fc from 'fast-check';
import {
  formatBillions, formatChange, formatCompact, formatDateTime, formatIndex, formatPct, formatPrice, formatTime, formatVolume, parseAmount,
} from '../src/lib/format.ts';

describe('VND prices', () => {
  it('prints whole VND with thousands separators', () => {
    expect(formatPrice(65_300)).toBe('65,300');
    expect(formatPrice(1_234_567)).toBe('1,234,567');
    expect(formatPrice(950)).toBe('950');
  });
  it('prints US prices with two decimals', () => {
    expect(formatPrice(187.5, 'US')).toBe('187.50');
  });
  it('prints nothing (or the placeholder) for a missing or non-finite price', () => {
    expect(formatPrice(null)).toBe('');
    expect(formatPrice(undefined, 'VN', '—')).toBe('—');
    expect(formatPrice(Number.NaN)).toBe('');
    expect(formatPrice(Number.POSITIVE_INFINITY)).toBe('');
  });
  it('round-trips through parseAmount for any whole VND price', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), (v) => {
        const s = formatPrice(v);
        expect(s).toMatch(/^\d{1,3}(,\d{3})*$/);
        expect(parseAmount(s)).toBe(v);
      }),
    );
  });
});

describe('changes and percentages', () => {
  it('signs changes', () => {
    expect(formatChange(300)).toBe('+300');
    expect(formatChange(-1_200)).toBe('-1,200');
    expect(formatChange(0)).toBe('0');
    expect(formatChange(null)).toBe('');
  });
  it('prints percent with two decimals and a sign', () => {
    expect(formatPct(1.5)).toBe('+1.50%');
    expect(formatPct(-6.98)).toBe('-6.98%');
    expect(formatPct(0)).toBe('0.00%');
  });
  it('never prints a negative zero', () => {
    expect(formatPct(-0.004)).toBe('0.00%');
    expect(formatPct(-0)).toBe('0.00%');
  });
  it('keeps the sign of any change that does not round to zero', () => {
    fc.assert(
      fc.property(fc.double({ min: -100, max: 100, noNaN: true }), (v) => {
        const s = formatPct(v);
        const rounded = Math.round(v * 100) / 100;
        if (rounded > 0) expect(s.startsWith('+')).toBe(true);
        else if (rounded < 0) expect(s.startsWith('-')).toBe(true);
        else expect(s).toBe('0.00%');
        expect(Number(s.replace('%', ''))).toBeCloseTo(rounded, 2);
      }),
    );
  });
});

describe('volumes', () => {
  it('prints full volumes with separators', () => {
    expect(formatVolume(1_234_500)).toBe('1,234,500');
  });
  it('compacts volumes where narrow', () => {
    expect(formatCompact(980)).toBe('980');
    expect(formatCompact(12_300)).toBe('12.3K');
    expect(formatCompact(4_560_000)).toBe('4.6M');
    expect(formatCompact(1_234_000_000)).toBe('1.23B');
  });
  it('compact text is never longer than 7 characters for share counts up to 999B', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_000_000_000 }), (v) => {
        expect(formatCompact(v).length).toBeLessThanOrEqual(7);
      }),
    );
  });
  it('prints traded value in billions (tỷ) and index levels with two decimals', () => {
    expect(formatBillions(12_345_600_000)).toBe('12.35 tỷ');
    expect(formatIndex(1284.5)).toBe('1,284.50');
  });
});

describe('times in the exchange time zone', () => {
  // 02:15:30 UTC is 09:15:30 in Hanoi (UTC+7, no daylight saving) whatever the machine's zone.
  const ts = Date.UTC(2024, 5, 3, 2, 15, 30);
  it('prints HH:mm:ss in Asia/Ho_Chi_Minh by default', () => {
    expect(formatTime(ts)).toBe('09:15:30');
  });
  it('uses the given zone (New York, daylight time in June: UTC-4)', () => {
    expect(formatTime(ts, 'America/New_York')).toBe('22:15:30');
  });
  it('prints the local date day-first, crossing midnight correctly', () => {
    // 20:00 UTC on 3 June is 03:00 on 4 June in Hanoi.
    expect(formatDateTime(Date.UTC(2024, 5, 3, 20, 0))).toBe('04/06/2024 03:00');
  });
  it('matches UTC+7 for any instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }), (t) => {
        const d = new Date(t + 7 * 3_600_000);
        const p = (n: number) => String(n).padStart(2, '0');
        expect(formatTime(t)).toBe(`${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseAmount', () => {
  it('accepts separators, decimals and suffixes', () => {
    expect(parseAmount('65,300')).toBe(65_300);
    expect(parseAmount(' 65300 ')).toBe(65_300);
    expect(parseAmount('1.5')).toBe(1.5);
    expect(parseAmount('10b')).toBe(10_000_000_000);
    expect(parseAmount('10 tỷ')).toBe(10_000_000_000);
    expect(parseAmount('2.5 tr')).toBe(2_500_000);
    expect(parseAmount('-3')).toBe(-3);
  });
  it('rejects anything else instead of returning NaN', () => {
    for (const bad of ['', 'abc', '1,23', '1..2', '12x', '1,2345', 'NaN', 'Infinity', '1e5']) expect(parseAmount(bad)).toBeNull();
  });
});
