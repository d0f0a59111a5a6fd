import fc from 'fast-check';
import { backoffDelay } from '../src/index.ts';

describe('backoffDelay', () => {
  it('grows exponentially up to the cap without jitter', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 }));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('stays within [(1 - jitter) * d, d] for any attempt and random value (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r, initialMs, maxMs, factor, jitter) => {
          const d = Math.min(maxMs, initialMs * Math.pow(factor, attempt));
          const got = backoffDelay(attempt, { initialMs, maxMs, factor, jitter }, () => r);
          expect(got).toBeGreaterThanOrEqual(Math.floor((1 - jitter) * d));
          expect(got).toBeLessThanOrEqual(Math.ceil(d));
        },
      ),
    );
  });

  it('spreads clients apart: different random draws give different delays', () => {
    const a = backoffDelay(3, { initialMs: 1000, jitter: 0.5 }, () => 0);
    const b = backoffDelay(3, { initialMs: 1000, jitter: 0.5 }, () => 1);
    expect(a).toBe(4000);
    expect(b).toBe(8000);
  });
});
