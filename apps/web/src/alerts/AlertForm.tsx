/** Create or edit an alert rule, with per-kind inputs and units, validated before it is sent. */
import { useId, useState, type FormEvent, type ReactElement } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ALERT_KINDS, type AlertKind, type AlertRule, type AlertRuleCreate } from '@stock-tracker/protocol';
import type { ApiError } from '@stock-tracker/client';
import { useServices } from '../services.tsx';
import { KIND_SPECS, emptyForm, formFromRule, validateAlertForm, type AlertField, type AlertFormValues, type ValidationContext } from './alert-form-model.ts';

export const ALERT_RULES_KEY = ['alertRules'] as const;

export interface AlertFormProps {
  /** Editing an existing rule; absent → create. */
  rule?: AlertRule;
  /** Fixes the symbol (symbol page). */
  symbol?: string;
  context?: ValidationContext;
  currency?: string;
  onDone?: (rule: AlertRule) => void;
  onCancel?: () => void;
}

/** Maps a server VALIDATION_FAILED detail path (`/threshold`, `body/period`) to a form field. */
export function fieldOfPath(path: string): AlertField | null {
  const last = path.split(/[/.]/).filter(Boolean).pop() ?? '';
  if (last === 'cooldownMs') return 'cooldownSec';
  return (['symbol', 'kind', 'threshold', 'period', 'enabled', 'note'] as const).find((f) => f === last) ?? null;
}

export function AlertForm({ rule, symbol, context, currency = 'VND', onDone, onCancel }: AlertFormProps) {
  const { api } = useServices();
  const qc = useQueryClient();
  const id = useId();
  const [values, setValues] = useState<AlertFormValues>(() => (rule ? formFromRule(rule) : emptyForm(symbol ?? '')));
  const [errors, setErrors] = useState<Partial<Record<AlertField, string>>>({});
  const [touched, setTouched] = useState(false);
  const spec = KIND_SPECS[values.kind];
  const check = validateAlertForm(values, context);
  const warnings = check.warnings;

  const save = useMutation({
    mutationFn: (v: AlertRuleCreate) => (rule ? api.updateAlertRule(rule.id, v) : api.createAlertRule(v)),
    onSuccess: (saved) => {
      qc.invalidateQueries({ queryKey: ALERT_RULES_KEY });
      if (!rule) setValues(emptyForm(symbol ?? '', values.kind));
      setTouched(false);
      onDone?.(saved);
    },
    onError: (err: ApiError) => {
      const fieldErrors: Partial<Record<AlertField, string>> = {};
      for (const d of err.details ?? []) {
        const f = fieldOfPath(d.path);
        if (f) fieldErrors[f] = d.issue;
      }
      setErrors(fieldErrors);
    },
  });

  const set = <K extends AlertField>(k: K, v: AlertFormValues[K]) => {
    setValues((cur) => {
      const next = { ...cur, [k]: v };
      // A new kind brings its own default period; a threshold of another unit would be meaningless.
      if (k === 'kind') {
        const s = KIND_SPECS[v as AlertKind];
        next.period = String(s.period?.default ?? '');
        if (s.threshold?.unit !== KIND_SPECS[cur.kind].threshold?.unit) next.threshold = '';
      }
      return next;
    });
    if (touched) setErrors({});
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    const r = validateAlertForm(values, context);
    if (!r.ok) {
      setErrors(r.errors);
      return;
    }
    setErrors({});
    save.mutate(r.value);
  };

  const shown = touched ? { ...(check.ok ? {} : check.errors), ...errors } : errors;
  const field = (k: AlertField, label: string, input: (common: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ReactElement, hint?: string) => {
    const fid = `${id}-${k}`;
    const err = shown[k];
    const warn = warnings[k];
    const describedBy = [err && `${fid}-err`, warn && `${fid}-warn`, hint && `${fid}-hint`].filter(Boolean).join(' ') || undefined;
    return (
      <div className="field">
        <label htmlFor={fid}>{label}</label>
        {input({ id: fid, 'aria-invalid': Boolean(err), 'aria-describedby': describedBy })}
        {hint && <span id={`${fid}-hint`} className="hint">{hint}</span>}
        {err && <span id={`${fid}-err`} className="field-error" role="alert">{err}</span>}
        {!err && warn && <span id={`${fid}-warn`} className="hint">⚠ {warn}</span>}
      </div>
    );
  };

  const unit = spec.threshold?.unit.replace('{ccy}', currency) ?? '';
  return (
    <form className="alert-form" onSubmit={submit} noValidate aria-label={rule ? `Edit alert on ${rule.symbol}` : 'New alert'}>
      <div className="form-grid">
        {!symbol &&
          field('symbol', 'Symbol', (c) => (
            <input {...c} value={values.symbol} maxLength={20} autoCapitalize="characters" spellCheck={false} onChange={(e) => set('symbol', e.target.value.toUpperCase())} />
          ))}
        {field('kind', 'Condition', (c) => (
          <select {...c} value={values.kind} onChange={(e) => set('kind', e.target.value as AlertKind)}>
            {ALERT_KINDS.map((k) => (
              <option key={k} value={k}>{KIND_SPECS[k].label}</option>
            ))}
          </select>
        ))}
        {spec.threshold &&
          field(
            'threshold',
            `${spec.threshold.label}${unit ? ` (${unit})` : ''}`,
            (c) => (
              <input {...c} value={values.threshold} inputMode="decimal" placeholder={spec.threshold!.placeholder} onChange={(e) => set('threshold', e.target.value)} />
            ),
            spec.threshold.hint,
          )}
        {spec.period &&
          field('period', spec.period.label, (c) => (
            <input {...c} value={values.period} inputMode="numeric" min={spec.period!.min} max={spec.period!.max} onChange={(e) => set('period', e.target.value)} />
          ))}
        {field('cooldownSec', 'Cooldown (s)', (c) => (
          <input {...c} value={values.cooldownSec} inputMode="numeric" onChange={(e) => set('cooldownSec', e.target.value)} />
        ))}
        {field('note', 'Note', (c) => <input {...c} value={values.note} maxLength={200} onChange={(e) => set('note', e.target.value)} />)}
        <div className="field">
          <label>
            <input type="checkbox" checked={values.enabled} onChange={(e) => set('enabled', e.target.checked)} /> Enabled
          </label>
        </div>
        <div className="field">
          <button type="submit" disabled={save.isPending}>{rule ? 'Save' : 'Add alert'}</button>
          {onCancel && <button type="button" className="link-btn" onClick={onCancel}>Cancel</button>}
        </div>
      </div>
      {save.isError && (
        <p className="error" role="alert">
          Could not save: {(save.error as Error).message}
        </p>
      )}
    </form>
  );
}
