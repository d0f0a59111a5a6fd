// @vitest-environment jsdom
/** The order ticket's client-side rule checks (lot, tick grid by band, ceiling/floor; US lot 1 and pennies) and how it shows them and the server's refusals. */
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import fc from 'fast-check';
import { ApiError } from '@stock-tracker/client';
import type { Order, OrderRequest } from '@stock-tracker/protocol';
import { HOSE, isOnTick, priceLimits, tickSize } from '@stock-tracker/rules';
import { OrderTicket } from '../src/trading/OrderTicket.tsx';
import { emptyTicket, symbolRules, validateTicket, type TicketSymbolInfo, type TicketValues } from '../src/trading/order-ticket-model.ts';
import { fakeApi, makeServices, Providers } from './helpers.tsx';

afterEach(() => cleanup());

// FPT on HOSE at reference 120,000: band ±7 % → floor 111,600, ceiling 128,400 (tick 100 above 50,000).
const FPT: TicketSymbolInfo = { symbol: 'FPT', exchange: 'HOSE', market: 'VN', lotSize: 100, reference: 120_000, ceiling: null, floor: null };
// A HOSE name in the 10,000–49,950 band: tick 50.
const ACB: TicketSymbolInfo = { symbol: 'ACB', exchange: 'HOSE', market: 'VN', lotSize: 100, reference: 25_000, ceiling: 26_750, floor: 23_250 };
// HNX: one tick of 100 at every price, ±10 %.
const SHS: TicketSymbolInfo = { symbol: 'SHS', exchange: 'HNX', market: 'VN', lotSize: 100, reference: 15_000, ceiling: null, floor: null };
const AAPL: TicketSymbolInfo = { symbol: 'AAPL', exchange: 'NASDAQ', market: 'US', lotSize: 1, reference: 190.12, ceiling: null, floor: null };
const ctx = { symbols: new Map([FPT, ACB, SHS, AAPL].map((s) => [s.symbol, s])) };
const t = (over: Partial<TicketValues>): TicketValues => ({ ...emptyTicket('FPT'), ...over });
const errorsOf = (v: TicketValues) => {
  const r = validateTicket(v, ctx);
  return r.ok ? {} : r.errors;
};

describe('order ticket rules (the same @stock-tracker/rules functions as the server)', () => {
  it('accepts a valid VN limit order and builds the request', () => {
    const r = validateTicket(t({ symbol: ' fpt ', side: 'buy', type: 'limit', qty: '1,000', limitPrice: '120,500' }), ctx);
    expect(r).toEqual({ ok: true, errors: {}, value: { symbol: 'FPT', side: 'buy', type: 'limit', qty: 1000, limitPrice: 120_500, tif: 'day' } });
  });
  it('VN lot: a quantity that is not a multiple of 100 is refused, naming the nearest lots', () => {
    expect(errorsOf(t({ qty: '150', limitPrice: '120000' })).qty).toBe('Must be a multiple of the lot (100): 100 or 200.');
    expect(errorsOf(t({ qty: '50', limitPrice: '120000' })).qty).toBe('Must be a multiple of the lot (100): 100.');
    expect(errorsOf(t({ qty: '0', limitPrice: '120000' })).qty).toMatch(/at least 1/);
    expect(errorsOf(t({ qty: '1.5', limitPrice: '120000' })).qty).toMatch(/whole number/);
    expect(errorsOf(t({ qty: '300', limitPrice: '120000' })).qty).toBeUndefined();
  });
  it('VN tick grid by price band: 100 above 50,000, 50 from 10,000, HNX 100 everywhere', () => {
    expect(errorsOf(t({ limitPrice: '120,050' })).limitPrice).toBe('Off the tick grid (tick 100 at this price): 120,000 or 120,100.');
    expect(errorsOf(t({ symbol: 'ACB', limitPrice: '25,020' })).limitPrice).toBe('Off the tick grid (tick 50 at this price): 25,000 or 25,050.');
    expect(errorsOf(t({ symbol: 'ACB', limitPrice: '25,050' })).limitPrice).toBeUndefined();
    expect(errorsOf(t({ symbol: 'SHS', limitPrice: '15,050' })).limitPrice).toMatch(/tick 100/);
  });
  it('VN band: ceiling and floor from the reference (computed with priceLimits when the feed gives none), or the feed\'s own', () => {
    const { ceiling, floor } = priceLimits(HOSE, 120_000);
    expect([floor, ceiling]).toEqual([111_600, 128_400]);
    expect(errorsOf(t({ limitPrice: '128,500' })).limitPrice).toBe("Above today's ceiling (128,400).");
    expect(errorsOf(t({ limitPrice: '128,400' })).limitPrice).toBeUndefined();
    expect(errorsOf(t({ limitPrice: '111,500' })).limitPrice).toBe("Below today's floor (111,600).");
    expect(errorsOf(t({ symbol: 'ACB', limitPrice: '26,800' })).limitPrice).toBe("Above today's ceiling (26,750).");
    // Stop prices are checked the same way.
    expect(errorsOf(t({ type: 'stop', stopPrice: '130,000' })).stopPrice).toMatch(/ceiling/);
    expect(errorsOf(t({ type: 'stop_limit', stopPrice: '120,000', limitPrice: '120,010' })).limitPrice).toMatch(/tick/);
  });
  it('market orders need no price; an unknown symbol is refused', () => {
    expect(validateTicket(t({ type: 'market', limitPrice: 'junk' }), ctx).ok).toBe(true);
    expect(errorsOf(t({ symbol: 'ZZZ', limitPrice: '1000' })).symbol).toBe('Unknown symbol ZZZ.');
    expect(errorsOf(t({ symbol: '' })).symbol).toBe('Enter a symbol.');
  });
  it('US: lot 1 and penny ticks (sub-penny under $1), no daily band', () => {
    expect(validateTicket(t({ symbol: 'AAPL', qty: '3', limitPrice: '190.12' }), ctx).ok).toBe(true);
    expect(errorsOf(t({ symbol: 'AAPL', qty: '3', limitPrice: '190.125' })).limitPrice).toMatch(/tick 0.01/);
    expect(validateTicket(t({ symbol: 'AAPL', qty: '1', limitPrice: '1000' }), ctx).ok).toBe(true); // no ceiling
  });
  it('property: whatever is typed, an accepted order is on the grid, inside the band and a whole number of lots', () => {
    const { rules, lot, ceiling, floor } = symbolRules(FPT);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 100_000, max: 140_000 }), (qty, price) => {
        const r = validateTicket(t({ qty: String(qty), limitPrice: String(price) }), ctx);
        const shouldPass = qty % lot === 0 && isOnTick(rules, price) && price <= ceiling! && price >= floor!;
        expect(r.ok).toBe(shouldPass);
        if (r.ok) expect(r.value.limitPrice! % tickSize(rules, price)).toBe(0);
      }),
    );
  });
});

describe('<OrderTicket>', () => {
  const order = (req: OrderRequest): Order => ({
    id: 'o-1', clientOrderId: 'c', accountId: 'a1', symbol: req.symbol, side: req.side, type: req.type, qty: req.qty ?? 0, notional: null,
    limitPrice: req.limitPrice ?? null, stopPrice: null, tif: 'day', status: 'accepted', filledQty: 0, filledNotional: 0, avgFillPrice: null,
    triggered: false, source: 'manual', strategyId: null, tradingDate: '2025-01-06', createdTs: 1, updatedTs: 1, reason: null, code: null, exits: null,
  });
  const setup = (submitOrder: (...a: unknown[]) => Promise<unknown>) => {
    const { api, calls } = fakeApi({ overrides: { submitOrder } });
    render(
      <Providers services={makeServices(api)}>
        <OrderTicket accountId="a1" context={ctx} />
      </Providers>,
    );
    const form = screen.getByRole('form', { name: 'Order ticket' });
    return { form, calls };
  };

  it('shows field-level errors and sends nothing while the rules are broken', async () => {
    const { form, calls } = setup(async () => ({}));
    fireEvent.change(within(form).getByLabelText('Symbol'), { target: { value: 'FPT' } });
    fireEvent.change(within(form).getByLabelText('Quantity'), { target: { value: '150' } });
    fireEvent.change(within(form).getByLabelText('Limit price'), { target: { value: '120,050' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Place buy order' }));
    const qty = within(form).getByLabelText('Quantity');
    expect(qty.getAttribute('aria-invalid')).toBe('true');
    expect(document.getElementById(qty.getAttribute('aria-describedby')!)!.textContent).toMatch(/multiple of the lot \(100\)/);
    expect(within(form).getByLabelText('Limit price').getAttribute('aria-invalid')).toBe('true');
    expect(within(form).getByText(/Off the tick grid/)).toBeTruthy();
    expect(within(form).getByText(/Lot 100 · tick 100 · floor 111,600 · ceiling 128,400/)).toBeTruthy();
    expect(calls.filter((c) => c.method === 'submitOrder')).toHaveLength(0);
    // Fixing the fields clears the errors as they are typed.
    fireEvent.change(within(form).getByLabelText('Quantity'), { target: { value: '200' } });
    expect(within(form).getByLabelText('Quantity').getAttribute('aria-invalid')).toBe('false');
  });

  it('sends a valid order with an idempotency key and says what became of it', async () => {
    const { form, calls } = setup(async (...a) => order(a[1] as OrderRequest));
    fireEvent.change(within(form).getByLabelText('Symbol'), { target: { value: 'fpt' } });
    fireEvent.click(within(form).getByRole('radio', { name: 'Sell' }));
    fireEvent.change(within(form).getByLabelText('Quantity'), { target: { value: '200' } });
    fireEvent.change(within(form).getByLabelText('Limit price'), { target: { value: '121,000' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Place sell order' }));
    await waitFor(() => expect(within(form).getByRole('status').textContent).toBe('Order o-1 accepted.'));
    const sent = calls.find((c) => c.method === 'submitOrder')!;
    expect(sent.args[0]).toBe('a1');
    expect(sent.args[1]).toMatchObject({ symbol: 'FPT', side: 'sell', type: 'limit', qty: 200, limitPrice: 121_000, tif: 'day' });
    expect((sent.args[1] as OrderRequest).clientOrderId).toMatch(/^ui-/);
  });

  it('shows a refusal from the error catalogue clearly, on the field it concerns', async () => {
    const refusal = new ApiError(422, 'INSUFFICIENT_SETTLED_SHARES', 'sell 200 FPT: 0 sellable (200 held, 200 unsettled, 0 in open sells); no short selling', 'req-7', [
      { path: 'orderId', issue: 'o-9' },
    ]);
    const { form } = setup(async () => {
      throw refusal;
    });
    fireEvent.change(within(form).getByLabelText('Symbol'), { target: { value: 'FPT' } });
    fireEvent.click(within(form).getByRole('radio', { name: 'Sell' }));
    fireEvent.change(within(form).getByLabelText('Quantity'), { target: { value: '200' } });
    fireEvent.change(within(form).getByLabelText('Limit price'), { target: { value: '120,000' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Place sell order' }));
    const alert = await within(form).findByRole('alert');
    expect(alert.getAttribute('data-code')).toBe('INSUFFICIENT_SETTLED_SHARES');
    expect(alert.textContent).toContain('INSUFFICIENT_SETTLED_SHARES: Not enough settled shares to sell (no short selling; VN shares settle T+2).');
    expect(alert.textContent).toContain('0 sellable');
    expect(alert.textContent).toContain('request req-7');
    expect(within(form).getByLabelText('Quantity').getAttribute('aria-invalid')).toBe('true');
  });
});
