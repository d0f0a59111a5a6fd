/**
 * FillLedger, the exactly-once rule of the Alpaca broker, as properties: for
 * any executions of an order, observed any number of times by the stream (in
 * any order, some never) and by reconciliation passes (ascending runs of
 * FILL activities starting at or before the first execution not delivered
 * yet, as the margin guarantees), the delivered quantity is the order's filled quantity,
 * never more at any point, each piece is positive and moves the mark forward,
 * and the delivered value matches the executions' value.
 */
import fc from 'fast-check';
import { FillLedger } from '../src/brokers/alpaca/fills.ts';

interface Exec {
  qty: number;
  price: number;
  cum: number;
  /** The order's average after it. */
  avg: number;
}

const execsArb = fc.array(fc.record({ qty: fc.integer({ min: 1, max: 500 }), cents: fc.integer({ min: 100, max: 50_000 }) }), { minLength: 1, maxLength: 12 }).map((rows) => {
  let cum = 0;
  let value = 0;
  return rows.map(({ qty, cents }): Exec => {
    const price = cents / 100;
    cum += qty;
    value += qty * price;
    return { qty, price, cum, avg: value / cum };
  });
});

type Obs = { kind: 'stream'; i: number } | { kind: 'reconcile'; from: number };

describe('FillLedger', () => {
  it('delivers every execution exactly once, whatever reports it and how often', () => {
    fc.assert(
      fc.property(
        execsArb.chain((execs) =>
          fc.tuple(
            fc.constant(execs),
            fc.array(
              fc.oneof(
                fc.integer({ min: 0, max: execs.length - 1 }).map((i): Obs => ({ kind: 'stream', i })),
                fc.integer({ min: 0, max: execs.length - 1 }).map((from): Obs => ({ kind: 'reconcile', from })),
              ),
              { maxLength: 30 },
            ),
          ),
        ),
        ([execs, observations]) => {
          const ledger = new FillLedger();
          let qty = 0;
          let value = 0;
          let mark = 0;
          const take = (e: Exec, avg: number | null) => {
            for (const p of ledger.take(e.cum, e.qty, e.price, avg)) {
              expect(p.qty).toBeGreaterThan(0);
              expect(p.cum).toBeGreaterThan(mark);
              mark = p.cum;
              qty += p.qty;
              value += p.qty * p.price;
            }
            // Never more than has been executed up to what was observed.
            expect(qty).toBeLessThanOrEqual(execs[execs.length - 1]!.cum + 1e-9);
          };
          for (const o of observations) {
            if (o.kind === 'stream') take(execs[o.i]!, execs[o.i]!.avg);
            else {
              // A reconciliation reads the activities since the last fill it knew, minus a margin: never past the first
              // execution not delivered yet (executions are in time order), possibly from earlier ones.
              const firstNew = execs.findIndex((e) => e.cum > ledger.deliveredQty);
              const from = firstNew < 0 ? o.from : Math.min(o.from, firstNew);
              for (const e of execs.slice(from)) take(e, null);
            }
          }
          // The last reconciliation reads every activity since the last fill it knew (minus a margin): from the mark on.
          const first = execs.findIndex((e) => e.cum > ledger.deliveredQty);
          if (first >= 0) for (const e of execs.slice(Math.max(0, first - 1))) take(e, null);
          const total = execs[execs.length - 1]!;
          expect(qty).toBeCloseTo(total.cum, 9);
          expect(ledger.deliveredQty).toBeCloseTo(total.cum, 9);
          // Gaps valued from the average are rounded to 1/10000 per piece.
          expect(Math.abs(value - total.avg * total.cum)).toBeLessThan(0.0001 * total.cum + 1e-6);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('values executions seen in order exactly, at their own prices', () => {
    fc.assert(
      fc.property(execsArb, fc.boolean(), (execs, viaStream) => {
        const ledger = new FillLedger();
        const pieces = execs.flatMap((e) => ledger.take(e.cum, e.qty, e.price, viaStream ? e.avg : null));
        expect(pieces.map((p) => [p.qty, p.price])).toEqual(execs.map((e) => [e.qty, e.price]));
        // Seen again: nothing more.
        expect(execs.flatMap((e) => ledger.take(e.cum, e.qty, e.price, e.avg))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('a stream message after missed executions delivers the gap at the price the average implies', () => {
    const ledger = new FillLedger();
    expect(ledger.take(10, 10, 100, 100)).toEqual([{ qty: 10, price: 100, cum: 10 }]);
    // Executions 20 @ 101 and 30 @ 102 were missed; then 40 @ 103 arrives (average over 100 shares: 101.9).
    const avg = (10 * 100 + 20 * 101 + 30 * 102 + 40 * 103) / 100;
    expect(ledger.take(100, 40, 103, avg)).toEqual([
      { qty: 50, price: (20 * 101 + 30 * 102) / 50, cum: 60 },
      { qty: 40, price: 103, cum: 100 },
    ]);
  });
});
