// @vitest-environment jsdom
/** The new-strategy form: parameters from the server's built-in list (defaults, ranges, integers, fast < slow), symbols, and what is sent. */
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { StrategyInfo, TradingStrategyCreate } from '@stock-tracker/protocol';
import { BUILTIN_STRATEGIES } from '@stock-tracker/trading';
import { StrategyForm } from '../src/trading/StrategyForm.tsx';
import { defaultParams, validateStrategyForm, type StrategyFormValues } from '../src/trading/strategy-form-model.ts';
import { fakeApi, makeServices, Providers } from './helpers.tsx';

afterEach(() => cleanup());
// The list the server serves (GET /api/trading/strategies/builtin answers BUILTIN_STRATEGIES).
const builtins: StrategyInfo[] = BUILTIN_STRATEGIES;
const known = new Set(['FPT', 'VNM', 'ACB']);
const sma = builtins.find((b) => b.name === 'sma-cross')!;
const v = (over: Partial<StrategyFormValues>): StrategyFormValues => ({ accountId: 'a1', strategy: 'sma-cross', params: defaultParams(sma), symbols: 'FPT', ...over });
const errorsOf = (x: StrategyFormValues) => {
  const r = validateStrategyForm(x, builtins, known);
  return r.ok ? null : r.errors;
};

describe('strategy form validation', () => {
  it('starts from the server\'s defaults and builds the request', () => {
    expect(defaultParams(sma)).toEqual({ fast: '10', slow: '30', allocation: '100' });
    const r = validateStrategyForm(v({ params: { fast: '2', slow: '3', allocation: '50' }, symbols: 'fpt, vnm fpt' }), builtins, known);
    expect(r).toEqual({ ok: true, value: { accountId: 'a1', strategy: 'sma-cross', params: { fast: 2, slow: 3, allocation: 50 }, symbols: ['FPT', 'VNM'] } });
  });
  it('an empty parameter takes its default', () => {
    const r = validateStrategyForm(v({ params: { fast: '', slow: '', allocation: '' } }), builtins, known);
    expect(r.ok && r.value.params).toEqual({ fast: 10, slow: 30, allocation: 100 });
  });
  it('checks each parameter against its range and integer-ness, as the core does', () => {
    expect(errorsOf(v({ params: { fast: '0', slow: '3' } }))!.params.fast).toBe('Between 1 and 500.');
    expect(errorsOf(v({ params: { fast: '2.5', slow: '3' } }))!.params.fast).toBe('A whole number.');
    expect(errorsOf(v({ params: { fast: 'two', slow: '3' } }))!.params.fast).toBe('Not a number.');
    expect(errorsOf(v({ params: { fast: '2', slow: '3', allocation: '150' } }))!.params.allocation).toBe('Between 1 and 100.');
    // Not integer: bollinger's multiplier may be fractional.
    expect(errorsOf(v({ strategy: 'bollinger-breakout', params: { period: '20', mult: '1.5' } }))).toBeNull();
  });
  it('fast must be below slow; oversold below overbought', () => {
    expect(errorsOf(v({ params: { fast: '3', slow: '3' } }))!.params.slow).toBe('Fast must be below slow.');
    expect(errorsOf(v({ strategy: 'ema-cross', params: { fast: '30', slow: '26' } }))!.params.slow).toBe('Fast must be below slow.');
    expect(errorsOf(v({ strategy: 'rsi-reversion', params: { period: '14', oversold: '70', overbought: '30' } }))!.params.overbought).toBe('Oversold must be below overbought.');
  });
  it('needs 1–50 known symbols', () => {
    expect(errorsOf(v({ symbols: ' ' }))!.symbols).toBe('Enter 1 to 50 symbols.');
    expect(errorsOf(v({ symbols: 'ZZZ' }))!.symbols).toBe('Unknown symbol ZZZ.');
    expect(errorsOf(v({ symbols: 'FP T!' }))!.symbols).toMatch(/Not a symbol: T!/);
    expect(errorsOf(v({ symbols: Array.from({ length: 51 }, (_, i) => `S${i}`).join(',') }))!.symbols).toBe('Enter 1 to 50 symbols.');
  });
  it('an unknown strategy name is refused', () => {
    expect(errorsOf(v({ strategy: 'nope' }))!.strategy).toBeDefined();
  });
});

describe('<StrategyForm>', () => {
  const setup = (createStrategy: (...a: unknown[]) => Promise<unknown>) => {
    const { api, calls } = fakeApi({ overrides: { createStrategy } });
    render(
      <Providers services={makeServices(api)}>
        <StrategyForm accountId="a1" builtins={builtins} knownSymbols={known} />
      </Providers>,
    );
    return { form: screen.getByRole('form', { name: 'New strategy' }), calls };
  };

  it('shows each parameter with its default and description, and the new strategy\'s own after a switch', () => {
    const { form } = setup(async () => ({}));
    expect((within(form).getByLabelText('fast') as HTMLInputElement).value).toBe('10');
    expect(within(form).getByText(/bars in the fast SMA \(1–500, whole; default 10\)/)).toBeTruthy();
    fireEvent.change(within(form).getByLabelText('Built-in strategy'), { target: { value: 'rsi-reversion' } });
    expect((within(form).getByLabelText('oversold') as HTMLInputElement).value).toBe('30');
    expect(within(form).queryByLabelText('fast')).toBeNull();
  });

  it('marks bad fields and sends nothing; then sends the valid strategy', async () => {
    const { form, calls } = setup(async (...a) => ({ id: 's1', ...(a[0] as TradingStrategyCreate), state: 'stopped', createdAt: 1, updatedAt: 1 }));
    fireEvent.change(within(form).getByLabelText('fast'), { target: { value: '5' } });
    fireEvent.change(within(form).getByLabelText('slow'), { target: { value: '3' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Create strategy' }));
    expect(within(form).getByLabelText('slow').getAttribute('aria-invalid')).toBe('true');
    expect(within(form).getByText('Fast must be below slow.')).toBeTruthy();
    expect(within(form).getByLabelText('Symbols').getAttribute('aria-invalid')).toBe('true');
    expect(calls.filter((c) => c.method === 'createStrategy')).toHaveLength(0);

    fireEvent.change(within(form).getByLabelText('fast'), { target: { value: '2' } });
    fireEvent.change(within(form).getByLabelText('Symbols'), { target: { value: 'fpt' } });
    expect(within(form).getByLabelText('slow').getAttribute('aria-invalid')).toBe('false');
    fireEvent.click(within(form).getByRole('button', { name: 'Create strategy' }));
    await waitFor(() => expect(within(form).getByRole('status').textContent).toMatch(/Strategy sma-cross created/));
    expect(calls.find((c) => c.method === 'createStrategy')!.args[0]).toEqual({ accountId: 'a1', strategy: 'sma-cross', params: { fast: 2, slow: 3, allocation: 100 }, symbols: ['FPT'] });
  });
});
