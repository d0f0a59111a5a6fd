/** The fill model, case by case (docs/trading.md, "Fill model"). */
import { describe, expect, it } from 'vitest';
import { ERRORS } from '@stock-tracker/protocol';
import { addTradingDays, FEE_PRESETS } from '../src/index.ts';
import { Harness, T0, DAY, usRef, vnRef, vnSession } from './harness.ts';

const statuses = (h: Harness, id: string) => h.events.flatMap((e) => (e.type === 'order' && e.event.orderId === id ? [e.event.status] : []));

describe('market orders', () => {
  it('walk the prevailing book level by level', () => {
    const h = vnSession();
    h.quote('FPT', [{ price: 99_900, volume: 1_000 }], [{ price: 100_000, volume: 300 }, { price: 100_100, volume: 500 }]);
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 600 });
    expect(r.ok).toBe(true);
    expect(h.fills().map((f) => [f.qty, f.price, f.liquidity])).toEqual([[300, 100_000, 'book'], [300, 100_100, 'book']]);
    expect(r.order!.status).toBe('filled');
    expect(statuses(h, r.order!.id)).toEqual(['new', 'accepted', 'partially_filled', 'filled']);
  });

  it('fill the rest at the next trades after the book is exhausted (partial fills), capped by participation', () => {
    const h = vnSession({ fillModel: { participation: 0.5 } });
    h.quote('FPT', [], [{ price: 100_000, volume: 300 }, { price: 100_100, volume: 500 }]);
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 1_000 });
    expect(h.core.order(r.order!.id)!.status).toBe('partially_filled');
    expect(h.core.order(r.order!.id)!.filledQty).toBe(800);
    h.trade('FPT', 100_200, 200, T0 + 1_000); // half of 200 = 100
    h.trade('FPT', 100_300, 400, T0 + 2_000); // the last 100
    expect(h.fills().slice(2).map((f) => [f.qty, f.price, f.liquidity, f.ts])).toEqual([
      [100, 100_200, 'trade', T0 + 1_000],
      [100, 100_300, 'trade', T0 + 2_000],
    ]);
    expect(h.core.order(r.order!.id)!.status).toBe('filled');
  });

  it('a second order does not take book liquidity the first one already took', () => {
    const h = vnSession();
    h.quote('FPT', [], [{ price: 100_000, volume: 300 }]);
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 200 });
    const b = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 200 });
    expect(h.fills().map((f) => f.qty)).toEqual([200, 100]);
    expect(h.core.order(b.order!.id)!.status).toBe('partially_filled');
    // A new book restores liquidity.
    h.quote('FPT', [], [{ price: 100_100, volume: 300 }], T0 + 1);
    expect(h.fills().length).toBe(2); // resting market orders fill on trades, not on new quotes
    h.trade('FPT', 100_100, 100, T0 + 2);
    expect(h.core.order(b.order!.id)!.status).toBe('filled');
  });

  it('with no quote, fill at the first trade at or after submission (never an earlier one)', () => {
    const h = new Harness();
    h.ref(vnRef());
    h.trade('FPT', 100_000, 100, T0);
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 500 }, { ts: T0 + 5_000 });
    h.trade('FPT', 100_500, 100, T0 + 4_000); // late trade, before the order: no fill
    expect(h.fills()).toEqual([]);
    h.trade('FPT', 100_700, 100, T0 + 5_000);
    expect(h.fills().map((f) => [f.qty, f.price, f.ts])).toEqual([[500, 100_700, T0 + 5_000]]);
    expect(h.core.order(r.order!.id)!.status).toBe('filled');
  });

  it('slippage moves trade-price fills by whole ticks against the order, inside the band', () => {
    const h = vnSession({ fillModel: { slippageTicks: 2 } });
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 100 });
    h.trade('FPT', 100_000, 100, T0 + 1);
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 100 });
    h.trade('FPT', 106_900, 100, T0 + 2);
    expect(h.fills().map((f) => f.price)).toEqual([100_200, 107_000]);
  });
});

describe('limit orders', () => {
  it('a trade through the limit fills at the limit; a trade at the limit fills only its own volume', () => {
    const h = vnSession();
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 500, limitPrice: 99_900 });
    h.trade('FPT', 100_000, 1_000, T0 + 1); // above: nothing
    h.trade('FPT', 99_900, 200, T0 + 2); // at: 200
    h.trade('FPT', 99_800, 100, T0 + 3); // through: the remaining 300, at the limit
    expect(h.fills().map((f) => [f.qty, f.price])).toEqual([[200, 99_900], [300, 99_900]]);
    expect(h.core.order(r.order!.id)!.status).toBe('filled');
  });

  it("limitAtPrice 'through' ignores trades exactly at the limit", () => {
    const h = vnSession({ fillModel: { limitAtPrice: 'through' } });
    h.submit({ symbol: 'FPT', side: 'sell', type: 'limit', qty: 100, limitPrice: 100_000 }); // no shares: rejected
    h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 99_900 });
    h.trade('FPT', 99_900, 1_000, T0 + 1);
    expect(h.fills()).toEqual([]);
    h.trade('FPT', 99_800, 1_000, T0 + 2);
    expect(h.fills().map((f) => [f.qty, f.price])).toEqual([[100, 99_900]]);
  });

  it('a marketable limit takes the book only up to its price', () => {
    const h = vnSession();
    h.quote('FPT', [], [{ price: 100_000, volume: 100 }, { price: 100_100, volume: 100 }, { price: 100_200, volume: 100 }]);
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 300, limitPrice: 100_100 });
    expect(h.fills().map((f) => f.price)).toEqual([100_000, 100_100]);
    expect(h.core.order(r.order!.id)!.status).toBe('partially_filled');
  });
});

describe('stop orders', () => {
  it('a buy stop triggers on a trade at or above the stop and fills like a market order', () => {
    const h = vnSession();
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'stop', qty: 200, stopPrice: 101_000 });
    h.trade('FPT', 100_900, 100, T0 + 1);
    expect(h.core.order(r.order!.id)!.triggered).toBe(false);
    h.trade('FPT', 101_000, 100, T0 + 2);
    expect(h.core.order(r.order!.id)!.triggered).toBe(true);
    expect(h.fills().map((f) => [f.qty, f.price])).toEqual([[200, 101_000]]);
    expect(h.events.some((e) => e.type === 'order' && e.event.reason.startsWith('stop triggered'))).toBe(true);
  });

  it('a stop-limit becomes a limit order once triggered', () => {
    const h = vnSession();
    h.submit({ symbol: 'FPT', side: 'buy', type: 'stop_limit', qty: 100, stopPrice: 101_000, limitPrice: 101_000 });
    h.trade('FPT', 101_500, 100, T0 + 1); // triggers, but above the limit
    expect(h.fills()).toEqual([]);
    h.trade('FPT', 100_900, 100, T0 + 2); // through the limit
    expect(h.fills().map((f) => [f.qty, f.price])).toEqual([[100, 101_000]]);
  });

  it('a sell stop triggers on a trade at or below the stop', () => {
    const h = vnSession({ settlementDays: { VN: 0 } });
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 100 });
    h.trade('FPT', 100_000, 100, T0 + 1);
    h.submit({ symbol: 'FPT', side: 'sell', type: 'stop', qty: 100, stopPrice: 99_000 });
    h.trade('FPT', 99_100, 100, T0 + 2);
    h.trade('FPT', 98_900, 100, T0 + 3);
    expect(h.fills().map((f) => [f.side, f.price])).toEqual([['buy', 100_000], ['sell', 98_900]]);
  });
});

describe('auctions', () => {
  it('ATO/ATC orders fill at the auction price; limits only when they cross it', () => {
    const h = new Harness();
    h.ref(vnRef());
    h.status('ato');
    const m = h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 300 });
    const low = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 100_000 });
    const high = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 100_600 });
    h.quote('FPT', [], [{ price: 100_200, volume: 10_000 }], T0 + 1); // no book walk during an auction
    expect(h.fills()).toEqual([]);
    h.trade('FPT', 100_500, 50_000, T0 + 2, 'ato');
    expect(h.fills().map((f) => [f.orderId, f.qty, f.price, f.liquidity])).toEqual([
      [m.order!.id, 300, 100_500, 'auction'],
      [high.order!.id, 100, 100_500, 'auction'],
    ]);
    expect(h.core.order(low.order!.id)!.status).toBe('accepted');
  });
});

describe('time in force, cancel and replace', () => {
  it('day orders expire at the close, good-till-cancelled orders do not', () => {
    const h = vnSession();
    const day = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 95_000 });
    const gtc = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 95_000, tif: 'gtc' });
    h.status('closed', 'HOSE', T0 + 1);
    expect(h.core.order(day.order!.id)!.status).toBe('expired');
    expect(h.core.order(gtc.order!.id)!.status).toBe('accepted');
    // Reservations follow: only the gtc order still holds cash.
    expect(h.core.account().reservedCash).toBe(9_500_000);
  });

  it('cancel and replace', () => {
    const h = vnSession();
    const r = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 95_000 });
    expect(h.core.replace(r.order!.id, { limitPrice: 95_050 }).code).toBe('ORDER_REJECTED_TICK');
    const rep = h.core.replace(r.order!.id, { limitPrice: 99_000, qty: 300 });
    expect(rep.ok).toBe(true);
    expect(rep.order!.limitPrice).toBe(99_000);
    h.trade('FPT', 98_000, 1_000, T0 + 1);
    expect(h.fills().map((f) => [f.qty, f.price])).toEqual([[300, 99_000]]);
    const c = h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 95_000 });
    expect(h.core.cancel(c.order!.id).ok).toBe(true);
    const again = h.core.cancel(c.order!.id);
    expect(again.code).toBe('ORDER_NOT_OPEN');
    expect(ERRORS.ORDER_NOT_OPEN.status).toBe(409);
  });

  it('a repeated clientOrderId returns the first order (idempotent submit)', () => {
    const h = vnSession();
    const a = h.submit({ clientOrderId: 'k1', symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 95_000 });
    const b = h.submit({ clientOrderId: 'k1', symbol: 'FPT', side: 'buy', type: 'limit', qty: 200, limitPrice: 96_000 });
    expect(b.order!.id).toBe(a.order!.id);
    expect(h.core.orders().length).toBe(1);
  });
});

describe('market rules', () => {
  it('VN: lot 100, tick grid by band, ceiling/floor', () => {
    const h = vnSession();
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 150, limitPrice: 100_000 }).code).toBe('ORDER_REJECTED_LOT');
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 100_050 }).code).toBe('ORDER_REJECTED_TICK');
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 107_100 }).code).toBe('ORDER_REJECTED_BAND');
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 92_900 }).code).toBe('ORDER_REJECTED_BAND');
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 107_000 }).ok).toBe(true);
    expect(h.submit({ symbol: 'XYZ', side: 'buy', type: 'market', qty: 100 }).code).toBe('UNKNOWN_SYMBOL');
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100 }).code).toBe('ORDER_INVALID');
    for (const c of ['ORDER_REJECTED_LOT', 'ORDER_REJECTED_TICK', 'ORDER_REJECTED_BAND', 'ORDER_INVALID'] as const) expect(ERRORS[c].status).toBe(422);
  });

  it('US: lot 1, penny ticks, no band, no settlement hold', () => {
    const h = new Harness();
    h.ref(usRef(), Date.UTC(2024, 0, 2, 15));
    h.status('continuous', 'NASDAQ', Date.UTC(2024, 0, 2, 15));
    const ts = Date.UTC(2024, 0, 2, 15, 0, 1);
    expect(h.submit({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: 7, limitPrice: 100.005 }).code).toBe('ORDER_REJECTED_TICK');
    expect(h.submit({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: 7, limitPrice: 250.01 }).ok).toBe(true);
    h.submit({ symbol: 'AAPL', side: 'buy', type: 'market', qty: 3 });
    h.trade('AAPL', 100.01, 10, ts);
    expect(h.submit({ symbol: 'AAPL', side: 'sell', type: 'market', qty: 3 }).ok).toBe(true); // same day: no hold
  });

  it('VN T+2: shares bought on D are sellable from D+2 trading days (weekends skipped)', () => {
    expect(addTradingDays('2024-01-02', 2)).toBe('2024-01-04');
    expect(addTradingDays('2024-01-04', 2)).toBe('2024-01-08'); // Thu → Mon
    expect(addTradingDays('2024-01-05', 2)).toBe('2024-01-09'); // Fri → Tue
    const h = vnSession();
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 200 });
    h.trade('FPT', 100_000, 200, T0 + 1);
    const d0 = h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 100 });
    expect(d0.code).toBe('INSUFFICIENT_SETTLED_SHARES');
    expect(h.core.positions()[0]).toMatchObject({ qty: 200, settledQty: 0, unsettledQty: 200 });
    h.ref(vnRef('FPT', '2024-01-03'), T0 + DAY);
    expect(h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 100 }, { ts: T0 + DAY }).code).toBe('INSUFFICIENT_SETTLED_SHARES');
    h.ref(vnRef('FPT', '2024-01-04'), T0 + 2 * DAY);
    expect(h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 200 }, { ts: T0 + 2 * DAY }).ok).toBe(true);
    expect(h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 100 }, { ts: T0 + 2 * DAY }).code).toBe('INSUFFICIENT_SETTLED_SHARES'); // all held by the open sell
  });

  it('VN fees: 0.15% broker fee on both sides, 0.1% sell tax; P&L net of both', () => {
    const h = vnSession({ fees: { VN: FEE_PRESETS.vn }, settlementDays: { VN: 0 } });
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 1_000 });
    h.trade('FPT', 100_000, 1_000, T0 + 1);
    h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 1_000 });
    h.trade('FPT', 101_000, 1_000, T0 + 2);
    const [b, s] = h.fills();
    expect([b!.fee, b!.tax]).toEqual([150_000, 0]);
    expect([s!.fee, s!.tax]).toEqual([151_500, 101_000]);
    const a = h.core.account();
    expect(a.cash).toBe(1_000_000_000 - 100_000_000 - 150_000 + 101_000_000 - 151_500 - 101_000);
    expect(a.realizedPnl).toBe(1_000_000 - 150_000 - 151_500 - 101_000);
    expect(h.core.closedTrades().map((t) => t.pnl)).toEqual([597_500]);
  });
});
