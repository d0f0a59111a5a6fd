/**
 * Regression: book volume our orders took per level was not in the snapshot,
 * so a restored core offered the same displayed liquidity again and filled at a
 * different price than the original (fast-check counterexample of "a core
 * restored from a snapshot continues exactly like the original", seed
 * -1665736472, shrunk).
 */
import { describe, expect, it } from 'vitest';
import type { TradingEvent } from '@stock-tracker/protocol';
import { FEE_PRESETS, TradingCore } from '../src/index.ts';
import { Harness, T0, vnRef } from './harness.ts';

const opts = {
  cash: 500_000_000,
  fees: { VN: FEE_PRESETS.vn },
  riskLimits: { maxOrderValue: 150_000_000, maxDailyLossPct: 20, cooldownAfterLosses: 3, cooldownMinutes: 5 },
  fillModel: { slippageTicks: 0, participation: null, limitAtPrice: 'fill' as const },
};

/** FPT (band 93,000..107,000) in continuous trading, one book: bid 100,000 × 100, asks 100,300 × 100 and 107,000 × 1,000. */
function session(): Harness {
  const h = new Harness(opts);
  h.ref(vnRef('FPT', '2024-01-02', 100_000), T0);
  h.status('continuous', 'HOSE', T0);
  h.quote('FPT', [{ price: 100_000, volume: 100 }], [{ price: 100_300, volume: 100 }, { price: 107_000, volume: 1_000 }], T0);
  return h;
}

function startTwin(h: Harness): void {
  // Through JSON, as the server stores it (jsonb).
  h.twin = TradingCore.restore(JSON.parse(JSON.stringify(h.core.snapshot())), { accountId: 'acc', cash: 0, fees: { VN: FEE_PRESETS.vn } });
}

const fillPrices = (evs: TradingEvent[]) => evs.flatMap((e) => (e.type === 'fill' ? [e.fill.price] : []));

describe('snapshot/restore keeps the book volume already taken', () => {
  it('the shrunk counterexample: after a notional buy took the best ask, the restored core fills the next buy where the original does', () => {
    const h = session();
    // 2 lots of notional at the reference: takes the 100 shares at 100,300, the rest at 107,000.
    const first = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', notional: 20_000_000 }, { ts: T0 });
    expect(first.ok).toBe(true);
    expect(fillPrices(first.events)[0]).toBe(100_300);
    const snap = JSON.parse(JSON.stringify(h.core.snapshot()));
    // Plain JSON (jsonb): serialising it again changes nothing.
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    startTwin(h);
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 150 }, { ts: T0 }).code).toBe('ORDER_REJECTED_LOT');
    const next = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 100 }, { ts: T0 });
    expect(fillPrices(next.events)).toEqual([107_000]);
    expect(h.twinEvents).toEqual(h.mainSince);
    expect(h.twin!.account()).toEqual(h.core.account());
    expect(h.twin!.orders({ open: true })).toEqual(h.core.orders({ open: true }));
  });

  it('a trade after the restore (same book, new quote state) keeps the taken volume in both cores', () => {
    const h = session();
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 100 }, { ts: T0 });
    startTwin(h);
    h.trade('FPT', 100_000, 100, T0 + 1_000);
    const next = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 100 }, { ts: T0 + 1_000 });
    expect(fillPrices(next.events)).toEqual([107_000]);
    expect(h.twinEvents).toEqual(h.mainSince);
    expect(h.twin!.account()).toEqual(h.core.account());
  });

  it('a changed ask side gives the liquidity back in both cores; a republished identical one does not', () => {
    const h = session();
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 100 }, { ts: T0 });
    startTwin(h);
    h.quote('FPT', [{ price: 100_000, volume: 100 }], [{ price: 100_300, volume: 100 }, { price: 107_000, volume: 1_000 }], T0 + 1_000);
    const same = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 100 }, { ts: T0 + 1_000 });
    expect(fillPrices(same.events)).toEqual([107_000]);
    h.quote('FPT', [{ price: 100_000, volume: 100 }], [{ price: 100_300, volume: 200 }, { price: 107_000, volume: 1_000 }], T0 + 2_000);
    const changed = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', tif: 'day', qty: 100 }, { ts: T0 + 2_000 });
    expect(fillPrices(changed.events)).toEqual([100_300]);
    expect(h.twinEvents).toEqual(h.mainSince);
    expect(h.twin!.account()).toEqual(h.core.account());
  });
});
