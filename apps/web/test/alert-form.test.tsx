// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { ALERT_KINDS, type AlertRuleCreate } from '@stock-tracker/protocol';
import { ApiError } from '@stock-tracker/client';
import { AlertForm, fieldOfPath } from '../src/alerts/AlertForm.tsx';
import { describeRule, emptyForm, KIND_SPECS, validateAlertForm, type AlertFormValues } from '../src/alerts/alert-form-model.ts';
import { fakeApi, makeServices, Providers } from './helpers.tsx';

afterEach(() => cleanup());
const form = (over: Partial<AlertFormValues>): AlertFormValues => ({ ...emptyForm('VNM'), ...over });
const errorsOf = (f: AlertFormValues, ctx = {}) => {
  const r = validateAlertForm(f, ctx);
  return r.ok ? {} : r.errors;
};

describe('alert form validation', () => {
  it('builds the request for a valid price alert, upper-casing the symbol', () => {
    const r = validateAlertForm(form({ symbol: ' vnm ', kind: 'price_above', threshold: '65,300', cooldownSec: '120', note: ' breakout ' }));
    expect(r).toEqual({
      ok: true,
      warnings: {},
      value: { symbol: 'VNM', kind: 'price_above', threshold: 65_300, cooldownMs: 120_000, enabled: true, note: 'breakout' },
    });
  });
  it('requires a symbol of the allowed characters, and a known one when the list is given', () => {
    expect(errorsOf(form({ symbol: '', threshold: '1' })).symbol).toBeDefined();
    expect(errorsOf(form({ symbol: 'VN M', threshold: '1' })).symbol).toBeDefined();
    expect(errorsOf(form({ symbol: 'X'.repeat(21), threshold: '1' })).symbol).toBeDefined();
    expect(errorsOf(form({ symbol: 'ABC', threshold: '1' }), { knownSymbols: new Set(['VNM']) }).symbol).toMatch(/Unknown symbol ABC/);
    expect(errorsOf(form({ symbol: 'vnm', threshold: '1' }), { knownSymbols: new Set(['VNM']) }).symbol).toBeUndefined();
  });
  it('checks each kind against the meaning of its threshold', () => {
    expect(errorsOf(form({ kind: 'price_below', threshold: '0' })).threshold).toMatch(/greater than 0/);
    expect(errorsOf(form({ kind: 'price_below', threshold: 'abc' })).threshold).toBe('Not a number.');
    expect(errorsOf(form({ kind: 'price_below', threshold: '' })).threshold).toMatch(/Enter the price/);
    expect(errorsOf(form({ kind: 'change_pct_below', threshold: '-3' }))).toEqual({});
    expect(errorsOf(form({ kind: 'change_pct_below', threshold: '-101' })).threshold).toMatch(/at least -100/);
    expect(errorsOf(form({ kind: 'change_pct_above', threshold: '5%' })).threshold).toBe('Not a number.');
    expect(errorsOf(form({ kind: 'volume_spike', threshold: '1', period: '20' })).threshold).toMatch(/greater than 1/);
    expect(errorsOf(form({ kind: 'volume_spike', threshold: '3', period: '0' })).period).toMatch(/Between 1 and 500/);
    expect(errorsOf(form({ kind: 'rsi_cross_above', threshold: '100', period: '14' })).threshold).toMatch(/less than 100/);
    expect(errorsOf(form({ kind: 'rsi_cross_below', threshold: '30', period: '1' })).period).toMatch(/Between 2 and 500/);
    expect(errorsOf(form({ kind: 'rsi_cross_below', threshold: '30', period: '14.5' })).period).toBe('A whole number.');
    const fx = validateAlertForm(form({ kind: 'foreign_net_buy_above', threshold: '10 tỷ' }));
    expect(fx.ok && fx.value.threshold).toBe(10_000_000_000);
  });
  it('sends 0 and the period for kinds without a threshold (price crossing its SMA)', () => {
    const r = validateAlertForm(form({ kind: 'price_cross_above_sma', threshold: 'ignored', period: '' }));
    expect(r.ok && r.value).toMatchObject({ kind: 'price_cross_above_sma', threshold: 0, period: 20 });
  });
  it('bounds the cooldown to one day in whole seconds and the note to 200 characters', () => {
    expect(errorsOf(form({ threshold: '1', cooldownSec: '86401' })).cooldownSec).toBeDefined();
    expect(errorsOf(form({ threshold: '1', cooldownSec: '-5' })).cooldownSec).toBeDefined();
    expect(errorsOf(form({ threshold: '1', cooldownSec: '86400' })).cooldownSec).toBeUndefined();
    expect(errorsOf(form({ threshold: '1', note: 'x'.repeat(201) })).note).toBeDefined();
  });
  it('warns (without blocking) about a price outside today\'s limits', () => {
    const r = validateAlertForm(form({ kind: 'price_above', threshold: '60,000' }), { band: { ceiling: 53_500, floor: 46_500 } });
    expect(r.ok).toBe(true);
    expect(r.warnings.threshold).toMatch(/ceiling/);
  });
  it('has a form spec and a description for every alert kind of the contract', () => {
    for (const k of ALERT_KINDS) {
      expect(KIND_SPECS[k].label.length).toBeGreaterThan(0);
      expect(describeRule({ kind: k, threshold: 70, period: 14 })).toContain(KIND_SPECS[k].label);
    }
    expect(describeRule({ kind: 'price_above', threshold: 65_300 })).toBe('Price above 65,300 VND');
    expect(describeRule({ kind: 'change_pct_below', threshold: -3 })).toBe('Change % below -3%');
  });
  it('maps server error paths to fields', () => {
    expect(fieldOfPath('/threshold')).toBe('threshold');
    expect(fieldOfPath('body.cooldownMs')).toBe('cooldownSec');
    expect(fieldOfPath('/unknown')).toBeNull();
  });
});

describe('alert form component', () => {
  function renderForm(create: (body: AlertRuleCreate) => Promise<unknown>) {
    const { api, calls } = fakeApi({ overrides: { createAlertRule: (b) => create(b as AlertRuleCreate) } });
    render(
      <Providers services={makeServices(api)}>
        <AlertForm symbol="VNM" />
      </Providers>,
    );
    return calls;
  }

  it('shows field errors, marks inputs invalid and does not call the API for an invalid form', async () => {
    const create = vi.fn(async () => ({}));
    renderForm(create);
    fireEvent.click(screen.getByRole('button', { name: 'Add alert' }));
    const input = screen.getByLabelText('Price (VND)');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByRole('alert').textContent).toMatch(/Enter the price/);
    expect(create).not.toHaveBeenCalled();
  });

  it('changes inputs and units with the kind, then sends a valid rule', async () => {
    const create = vi.fn(async (b: AlertRuleCreate) => ({ ...b, id: 'r1', userId: 'u', createdAt: 0 }));
    renderForm(create);
    fireEvent.change(screen.getByLabelText('Condition'), { target: { value: 'rsi_cross_above' } });
    expect(screen.queryByLabelText('Price (VND)')).toBeNull();
    expect((screen.getByLabelText('RSI period') as HTMLInputElement).value).toBe('14');
    fireEvent.change(screen.getByLabelText('RSI level'), { target: { value: '70' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add alert' }));
    await waitFor(() => expect(create).toHaveBeenCalledTimes(1));
    expect(create.mock.calls[0]![0]).toEqual({ symbol: 'VNM', kind: 'rsi_cross_above', threshold: 70, period: 14, cooldownMs: 60_000, enabled: true });
  });

  it('shows the server\'s validation details next to the field', async () => {
    const create = vi.fn(async () => {
      throw new ApiError(400, 'VALIDATION_FAILED', 'The request is not valid.', 'req-1', [{ path: '/threshold', issue: 'must be on the tick grid' }]);
    });
    renderForm(create);
    fireEvent.change(screen.getByLabelText('Price (VND)'), { target: { value: '65,301' } });
    await act(async () => void fireEvent.click(screen.getByRole('button', { name: 'Add alert' })));
    await waitFor(() => expect(screen.getByText('must be on the tick grid')).toBeTruthy());
    expect(screen.getByLabelText('Price (VND)').getAttribute('aria-invalid')).toBe('true');
  });
});
