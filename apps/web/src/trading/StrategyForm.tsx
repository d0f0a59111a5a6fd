/** New strategy: a built-in name, its parameters (defaults, ranges, descriptions from the server) and the symbols it trades. */
import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { StrategyInfo, TradingStrategy, TradingStrategyCreate } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import { ServerError } from './ServerError.tsx';
import { defaultParams, validateStrategyForm, type StrategyFormErrors, type StrategyFormValues } from './strategy-form-model.ts';
import { T } from './strings.ts';
import { tradingKeys } from './use-trading-live.ts';

export interface StrategyFormProps {
  accountId: string;
  builtins: readonly StrategyInfo[];
  knownSymbols?: ReadonlySet<string>;
  onCreated?: (s: TradingStrategy) => void;
}

export function StrategyForm({ accountId, builtins, knownSymbols, onCreated }: StrategyFormProps) {
  const { api } = useServices();
  const qc = useQueryClient();
  const id = useId();
  const first = builtins[0];
  const [values, setValues] = useState<StrategyFormValues>(() => ({ accountId, strategy: first?.name ?? '', params: defaultParams(first), symbols: '' }));
  const [errors, setErrors] = useState<StrategyFormErrors>({ params: {} });
  const [touched, setTouched] = useState(false);
  const [created, setCreated] = useState<string | null>(null);
  const strategy = values.strategy || first?.name || '';
  const info = builtins.find((b) => b.name === strategy);

  const create = useMutation({
    mutationFn: (body: TradingStrategyCreate) => api.createStrategy(body),
    onSuccess: (s) => {
      void qc.invalidateQueries({ queryKey: tradingKeys.strategies(accountId) });
      setCreated(T.newStrategy.created(s.strategy));
      setTouched(false);
      onCreated?.(s);
    },
  });

  const current = { ...values, accountId, strategy };
  const live = touched ? validateStrategyForm(current, builtins, knownSymbols) : null;
  // Once submitted, errors follow the typing (fixed fields clear at once).
  const shown: StrategyFormErrors = live ? (live.ok ? { params: {} } : live.errors) : errors;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    const r = validateStrategyForm(current, builtins, knownSymbols);
    if (!r.ok) {
      setErrors(r.errors);
      const bad = r.errors.strategy ? 'strategy' : Object.keys(r.errors.params)[0] ? `p-${Object.keys(r.errors.params)[0]}` : 'symbols';
      document.getElementById(`${id}-${bad}`)?.focus();
      return;
    }
    setErrors({ params: {} });
    setCreated(null);
    create.mutate(r.value);
  };

  const err = (fid: string, text: string | undefined) => (text ? <span id={`${fid}-err`} className="field-error">{text}</span> : null);
  return (
    <form className="strategy-form" onSubmit={onSubmit} noValidate aria-label={T.newStrategy.heading}>
      <div className="form-grid">
        <div className="field">
          <label htmlFor={`${id}-strategy`}>{T.newStrategy.strategy}</label>
          <select
            id={`${id}-strategy`}
            value={strategy}
            aria-invalid={Boolean(shown.strategy)}
            onChange={(e) => {
              const name = e.target.value;
              setValues((v) => ({ ...v, strategy: name, params: defaultParams(builtins.find((b) => b.name === name)) }));
              setCreated(null);
            }}
          >
            {builtins.map((b) => (
              <option key={b.name} value={b.name}>{b.name}</option>
            ))}
          </select>
          {err(`${id}-strategy`, shown.strategy)}
        </div>
        {info?.params.map((p) => {
          const fid = `${id}-p-${p.name}`;
          const e = shown.params[p.name];
          return (
            <div className="field" key={p.name}>
              <label htmlFor={fid}>{p.name}</label>
              <input
                id={fid}
                value={values.params[p.name] ?? ''}
                inputMode="decimal"
                aria-invalid={Boolean(e)}
                aria-describedby={`${fid}-hint${e ? ` ${fid}-err` : ''}`}
                onChange={(ev) => {
                  const x = ev.target.value;
                  setValues((v) => ({ ...v, params: { ...v.params, [p.name]: x } }));
                  setCreated(null);
                }}
              />
              <span id={`${fid}-hint`} className="hint">
                {p.description} ({p.min}–{p.max}{p.integer ? ', whole' : ''}; default {p.default})
              </span>
              {err(fid, e)}
            </div>
          );
        })}
        <div className="field">
          <label htmlFor={`${id}-symbols`}>{T.newStrategy.symbols}</label>
          <input
            id={`${id}-symbols`}
            value={values.symbols}
            autoCapitalize="characters"
            spellCheck={false}
            aria-invalid={Boolean(shown.symbols)}
            aria-describedby={`${id}-symbols-hint${shown.symbols ? ` ${id}-symbols-err` : ''}`}
            onChange={(e) => {
              const x = e.target.value.toUpperCase();
              setValues((v) => ({ ...v, symbols: x }));
              setCreated(null);
            }}
          />
          <span id={`${id}-symbols-hint`} className="hint">{T.newStrategy.symbolsHint}</span>
          {err(`${id}-symbols`, shown.symbols)}
        </div>
        <div className="field">
          <button type="submit" disabled={create.isPending || builtins.length === 0}>{T.newStrategy.create}</button>
        </div>
      </div>
      {info && <p className="hint">{info.description}</p>}
      {create.isError && <ServerError error={create.error} />}
      {created && <p className="ok" role="status">{created}</p>}
    </form>
  );
}
