/** Each risk limit refuses with its own catalogue code; continuous limits engage the kill switch. */
import { describe, expect, it } from 'vitest';
import { ERRORS } from '@stock-tracker/protocol';
import { DAY, T0, vnRef, vnSession } from './harness.ts';

const buy = (qty: number, limitPrice = 100_000, symbol = 'FPT') => ({ symbol, side: 'buy' as const, type: 'limit' as const, qty, limitPrice });

describe('risk limits before every order', () => {
  it('RISK_MAX_ORDER_VALUE', () => {
    const h = vnSession({ riskLimits: { maxOrderValue: 50_000_000 } });
    expect(h.submit(buy(500)).ok).toBe(true); // 50,000,000: at the limit
    const r = h.submit(buy(600));
    expect(r.code).toBe('RISK_MAX_ORDER_VALUE');
    expect(r.order!.status).toBe('rejected');
    expect(r.reason).toMatch(/max/);
  });

  it('RISK_MAX_POSITION_VALUE counts the position and open buys', () => {
    const h = vnSession({ riskLimits: { maxPositionValue: 100_000_000 } });
    expect(h.submit(buy(600)).ok).toBe(true);
    expect(h.submit(buy(500)).code).toBe('RISK_MAX_POSITION_VALUE');
    expect(h.submit(buy(400)).ok).toBe(true);
  });

  it('RISK_MAX_POSITION_PCT of equity per symbol', () => {
    const h = vnSession({ cash: 100_000_000, riskLimits: { maxPositionPct: 20 } });
    expect(h.submit(buy(300)).code).toBe('RISK_MAX_POSITION_PCT');
    expect(h.submit(buy(200)).ok).toBe(true);
  });

  it('RISK_MAX_OPEN_POSITIONS', () => {
    const h = vnSession({ riskLimits: { maxOpenPositions: 1 } });
    h.ref(vnRef('VNM', '2024-01-02', 60_000));
    expect(h.submit(buy(100)).ok).toBe(true);
    expect(h.submit(buy(100, 60_000, 'VNM')).code).toBe('RISK_MAX_OPEN_POSITIONS');
    expect(h.submit(buy(100)).ok).toBe(true); // same symbol: not a new position
  });

  it('RISK_MAX_GROSS_EXPOSURE', () => {
    const h = vnSession({ cash: 100_000_000, riskLimits: { maxGrossExposurePct: 50 } });
    h.ref(vnRef('VNM', '2024-01-02', 60_000));
    expect(h.submit(buy(300)).ok).toBe(true); // 30M
    expect(h.submit(buy(400, 60_000, 'VNM')).code).toBe('RISK_MAX_GROSS_EXPOSURE'); // +24M > 50M
    expect(h.submit(buy(300, 60_000, 'VNM')).ok).toBe(true); // +18M
  });

  it('INSUFFICIENT_BUYING_POWER: open buys reserve cash; VN market buys reserve at the ceiling', () => {
    const h = vnSession({ cash: 100_000_000 });
    expect(h.submit(buy(1_100)).code).toBe('INSUFFICIENT_BUYING_POWER'); // 110M > 100M
    expect(h.submit(buy(600)).ok).toBe(true); // 60M reserved
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 400 }).code).toBe('INSUFFICIENT_BUYING_POWER'); // 400 × ceiling 107,000 > 40M
    expect(h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 300 }).ok).toBe(true);
  });

  it('INSUFFICIENT_SETTLED_SHARES: no short selling', () => {
    const h = vnSession();
    const r = h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 100 });
    expect(r.code).toBe('INSUFFICIENT_SETTLED_SHARES');
  });

  it('every code is in the one error catalogue', () => {
    for (const c of ['RISK_MAX_ORDER_VALUE', 'RISK_MAX_POSITION_VALUE', 'RISK_MAX_POSITION_PCT', 'RISK_MAX_OPEN_POSITIONS', 'RISK_MAX_GROSS_EXPOSURE', 'INSUFFICIENT_BUYING_POWER', 'INSUFFICIENT_SETTLED_SHARES'] as const)
      expect(ERRORS[c].status).toBe(422);
    for (const c of ['RISK_MAX_DAILY_LOSS', 'RISK_MAX_DRAWDOWN', 'RISK_KILL_SWITCH', 'RISK_COOLDOWN', 'ORDER_NOT_OPEN'] as const) expect(ERRORS[c].status).toBe(409);
  });
});

describe('continuous limits and the kill switch', () => {
  it('RISK_MAX_DAILY_LOSS: cancels open orders, blocks entries (not exits) until the next trading day', () => {
    const h = vnSession({ cash: 100_000_000, riskLimits: { maxDailyLossPct: 5 }, settlementDays: { VN: 0 } });
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 900 });
    h.trade('FPT', 100_000, 900, T0 + 1);
    const resting = h.submit(buy(100, 93_000));
    expect(resting.ok).toBe(true);
    h.trade('FPT', 94_000, 100, T0 + 2); // −5.4M on 100M: −5.4%
    const acc = h.core.account();
    expect(acc.killSwitch).toMatchObject({ active: true, code: 'RISK_MAX_DAILY_LOSS', untilTradingDate: '2024-01-03' });
    expect(h.core.order(resting.order!.id)!.status).toBe('cancelled');
    expect(h.events.some((e) => e.type === 'risk' && e.risk.kind === 'kill_switch_on' && e.risk.code === 'RISK_MAX_DAILY_LOSS')).toBe(true);
    expect(h.submit(buy(100, 94_000)).code).toBe('RISK_MAX_DAILY_LOSS');
    expect(h.submit({ symbol: 'FPT', side: 'sell', type: 'limit', qty: 100, limitPrice: 95_000 }).ok).toBe(true);
    h.ref(vnRef('FPT', '2024-01-03', 94_000), T0 + DAY);
    expect(h.core.account().killSwitch.active).toBe(false);
    expect(h.submit(buy(100, 94_000), { ts: T0 + DAY }).ok).toBe(true);
  });

  it('RISK_MAX_DRAWDOWN: blocks entries until a manual reset', () => {
    const h = vnSession({ cash: 100_000_000, riskLimits: { maxDrawdownPct: 3 }, settlementDays: { VN: 0 } });
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 900 });
    h.trade('FPT', 100_000, 900, T0 + 1);
    h.trade('FPT', 104_000, 100, T0 + 2); // peak 103.6M
    h.trade('FPT', 100_000, 100, T0 + 3); // 100M: −3.47% from the peak
    expect(h.core.account().killSwitch).toMatchObject({ active: true, code: 'RISK_MAX_DRAWDOWN', untilTradingDate: null });
    h.ref(vnRef('FPT', '2024-01-03'), T0 + DAY);
    expect(h.submit(buy(100), { ts: T0 + DAY }).code).toBe('RISK_MAX_DRAWDOWN');
    h.core.resetKillSwitch();
    expect(h.submit(buy(100), { ts: T0 + DAY }).ok).toBe(true);
  });

  it('RISK_KILL_SWITCH: manual', () => {
    const h = vnSession();
    h.core.engageKillSwitch('operator');
    expect(h.submit(buy(100)).code).toBe('RISK_KILL_SWITCH');
  });

  it('RISK_COOLDOWN after N losing trades in a row, for cooldownMinutes of event time', () => {
    const h = vnSession({ riskLimits: { cooldownAfterLosses: 2, cooldownMinutes: 30 }, settlementDays: { VN: 0 } });
    let ts = T0;
    for (let i = 0; i < 2; i++) {
      h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 100 }, { ts: ++ts });
      h.trade('FPT', 100_000, 100, ts);
      h.submit({ symbol: 'FPT', side: 'sell', type: 'market', qty: 100 }, { ts: ++ts });
      h.trade('FPT', 99_000, 100, ts);
    }
    const r = h.submit(buy(100), { ts: ts + 1 });
    expect(r.code).toBe('RISK_COOLDOWN');
    h.trade('FPT', 99_000, 100, ts + 30 * 60_000);
    expect(h.submit(buy(100), { ts: ts + 30 * 60_000 }).ok).toBe(true);
  });
});

describe('exits attached to positions', () => {
  const setup = (riskLimits: Record<string, number>) => {
    const h = vnSession({ riskLimits, settlementDays: { VN: 0 } });
    h.submit({ symbol: 'FPT', side: 'buy', type: 'market', qty: 500 });
    h.trade('FPT', 100_000, 500, T0 + 1);
    return h;
  };
  const sells = (h: ReturnType<typeof setup>) => h.fills().filter((f) => f.side === 'sell').map((f) => [f.qty, f.price]);

  it('stop-loss sells the position on a trade at or below avg × (1 − sl)', () => {
    const h = setup({ stopLossPct: 2 });
    h.trade('FPT', 98_100, 100, T0 + 2);
    expect(sells(h)).toEqual([]);
    h.trade('FPT', 98_000, 100, T0 + 3); // triggers: market sell submitted
    h.trade('FPT', 97_900, 1_000, T0 + 4); // fills at the next trade
    expect(sells(h)).toEqual([[500, 97_900]]);
    expect(h.events.some((e) => e.type === 'risk' && e.risk.kind === 'stop_loss')).toBe(true);
  });

  it('take-profit', () => {
    const h = setup({ takeProfitPct: 3 });
    h.trade('FPT', 103_000, 100, T0 + 2);
    h.trade('FPT', 103_100, 1_000, T0 + 3);
    expect(sells(h)).toEqual([[500, 103_100]]);
  });

  it('trailing stop follows the high water mark', () => {
    const h = setup({ trailingStopPct: 2 });
    h.trade('FPT', 105_000, 100, T0 + 2); // high 105,000 → trail 102,900
    h.trade('FPT', 103_000, 100, T0 + 3);
    expect(sells(h)).toEqual([]);
    h.trade('FPT', 102_900, 100, T0 + 4);
    h.trade('FPT', 102_800, 1_000, T0 + 5);
    expect(sells(h)).toEqual([[500, 102_800]]);
    expect(h.core.positions()).toEqual([]);
  });
});
