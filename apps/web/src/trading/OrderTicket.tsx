/** Manual order ticket: VN/US rules checked here first (field-level errors), then the server's answer shown as it came. */
import { useId, useState, type FormEvent, type ReactElement } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Order, OrderRequest, OrderSide, OrderType, TimeInForce, TradingCommandAccepted } from '@stock-tracker/protocol';
import { ApiError } from '@stock-tracker/client';
import { useServices } from '../services.tsx';
import { describeRules, emptyTicket, ticketFieldOfCode, ticketFieldOfPath, validateTicket, type TicketContext, type TicketField, type TicketValues } from './order-ticket-model.ts';
import { ServerError } from './ServerError.tsx';
import { T } from './strings.ts';
import { mergeOrder, tradingKeys } from './use-trading-live.ts';

export interface OrderTicketProps {
  accountId: string;
  context: TicketContext;
  initialSymbol?: string;
}

let seq = 0;
/** An idempotency key per submit attempt: a retried request (network) returns the first order, never a second one. */
const newClientOrderId = () => `ui-${Date.now().toString(36)}-${(++seq).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export function OrderTicket({ accountId, context, initialSymbol = '' }: OrderTicketProps) {
  const { api } = useServices();
  const qc = useQueryClient();
  const id = useId();
  const [values, setValues] = useState<TicketValues>(() => emptyTicket(initialSymbol));
  const [touched, setTouched] = useState(false);
  const [serverErrors, setServerErrors] = useState<Partial<Record<TicketField, string>>>({});
  const [done, setDone] = useState<string | null>(null);
  // Checked at every render: the band comes from the live quote, which moves on (a new trading day).
  const check = validateTicket(values, context);
  const info = context.symbols?.get(values.symbol.trim().toUpperCase());

  const submit = useMutation({
    mutationFn: (req: OrderRequest) => api.submitOrder(accountId, { ...req, clientOrderId: newClientOrderId() }),
    onSuccess: (r: Order | TradingCommandAccepted) => {
      setServerErrors({});
      if ('status' in r && r.status === 'pending') setDone(T.ticket.pending);
      else {
        const o = r as Order;
        qc.setQueryData(tradingKeys.orders(accountId), (p: Parameters<typeof mergeOrder>[0]) => mergeOrder(p, o));
        setDone(T.ticket.placed(T.statuses[o.status] ?? o.status, o.id));
      }
      void qc.invalidateQueries({ queryKey: tradingKeys.orders(accountId) });
    },
    onError: (err: unknown) => {
      setDone(null);
      const fe: Partial<Record<TicketField, string>> = {};
      if (err instanceof ApiError) {
        for (const d of err.details ?? []) {
          const f = ticketFieldOfPath(d.path);
          if (f) fe[f] = d.issue;
        }
        const f = ticketFieldOfCode(err.code, values.type);
        if (f && !fe[f]) fe[f] = (err.details ?? []).find((d) => d.path !== 'orderId')?.issue ?? err.message;
        // A refused order is stored and listed too.
        void qc.invalidateQueries({ queryKey: tradingKeys.orders(accountId) });
      }
      setServerErrors(fe);
    },
  });

  const set = <K extends TicketField>(k: K, v: TicketValues[K]) => {
    setValues((cur) => ({ ...cur, [k]: v }));
    setServerErrors((cur) => {
      if (!cur[k]) return cur;
      const n = { ...cur };
      delete n[k];
      return n;
    });
    setDone(null);
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!check.ok) {
      const first = (Object.keys(check.errors) as TicketField[])[0];
      if (first) document.getElementById(`${id}-${first}`)?.focus();
      return;
    }
    submit.mutate(check.value);
  };

  const clientErrors: Partial<Record<TicketField, string>> = touched && !check.ok ? check.errors : {};
  const shown: Partial<Record<TicketField, string>> = { ...serverErrors, ...clientErrors };
  const field = (k: TicketField, label: string, input: (c: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ReactElement) => {
    const fid = `${id}-${k}`;
    const err = shown[k];
    return (
      <div className="field">
        <label htmlFor={fid}>{label}</label>
        {input({ id: fid, 'aria-invalid': Boolean(err), 'aria-describedby': err ? `${fid}-err` : undefined })}
        {err && <span id={`${fid}-err`} className="field-error">{err}</span>}
      </div>
    );
  };
  const needLimit = values.type === 'limit' || values.type === 'stop_limit';
  const needStop = values.type === 'stop' || values.type === 'stop_limit';
  const rules = describeRules(info);

  return (
    <form className="order-ticket" onSubmit={onSubmit} noValidate aria-label={T.ticket.heading}>
      <div className="form-grid">
        {field('symbol', T.ticket.symbol, (c) => (
          <input {...c} value={values.symbol} maxLength={20} autoCapitalize="characters" spellCheck={false} onChange={(e) => set('symbol', e.target.value.toUpperCase())} />
        ))}
        <div className="field">
          <span className="label" id={`${id}-side-l`}>{T.ticket.side}</span>
          <div className="seg side-seg" role="radiogroup" aria-labelledby={`${id}-side-l`}>
            {(['buy', 'sell'] as OrderSide[]).map((s) => (
              <button key={s} type="button" role="radio" aria-checked={values.side === s} className={`side-${s}`} onClick={() => set('side', s)}>
                {s === 'buy' ? T.ticket.buy : T.ticket.sell}
              </button>
            ))}
          </div>
        </div>
        {field('type', T.ticket.type, (c) => (
          <select {...c} value={values.type} onChange={(e) => set('type', e.target.value as OrderType)}>
            {(['market', 'limit', 'stop', 'stop_limit'] as OrderType[]).map((t) => (
              <option key={t} value={t}>{T.ticket.types[t]}</option>
            ))}
          </select>
        ))}
        {field('qty', T.ticket.qty, (c) => <input {...c} value={values.qty} inputMode="numeric" onChange={(e) => set('qty', e.target.value)} />)}
        {needLimit && field('limitPrice', T.ticket.limitPrice, (c) => <input {...c} value={values.limitPrice} inputMode="decimal" onChange={(e) => set('limitPrice', e.target.value)} />)}
        {needStop && field('stopPrice', T.ticket.stopPrice, (c) => <input {...c} value={values.stopPrice} inputMode="decimal" onChange={(e) => set('stopPrice', e.target.value)} />)}
        {field('tif', T.ticket.tif, (c) => (
          <select {...c} value={values.tif} onChange={(e) => set('tif', e.target.value as TimeInForce)}>
            {(['day', 'gtc'] as TimeInForce[]).map((t) => (
              <option key={t} value={t}>{T.ticket.tifs[t]}</option>
            ))}
          </select>
        ))}
        <div className="field">
          <button type="submit" className={`submit-${values.side}`} disabled={submit.isPending}>
            {T.ticket.submit(values.side)}
          </button>
        </div>
      </div>
      {rules && <p className="hint rules-line">{rules}</p>}
      {submit.isError && <ServerError error={submit.error} />}
      {done && <p className="ok" role="status">{done}</p>}
    </form>
  );
}
