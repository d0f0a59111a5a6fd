/** The user's alert rules: enable/disable, edit in place, delete. */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AlertRule } from '@stock-tracker/protocol';
import { Link } from 'react-router-dom';
import { useServices } from '../services.tsx';
import { AlertForm, ALERT_RULES_KEY } from './AlertForm.tsx';
import { describeRule, type ValidationContext } from './alert-form-model.ts';

export function AlertRulesList({ symbol, context }: { symbol?: string; context?: ValidationContext }) {
  const { api } = useServices();
  const qc = useQueryClient();
  const [editing, setEditing] = useState<string | null>(null);
  const { data, isLoading, isError, error } = useQuery({ queryKey: ALERT_RULES_KEY, queryFn: ({ signal }) => api.alertRules({ signal }) });
  const invalidate = () => qc.invalidateQueries({ queryKey: ALERT_RULES_KEY });
  const toggle = useMutation({ mutationFn: (r: AlertRule) => api.updateAlertRule(r.id, { enabled: !r.enabled }), onSettled: invalidate });
  const remove = useMutation({ mutationFn: (id: string) => api.deleteAlertRule(id), onSettled: invalidate });

  if (isLoading) return <p className="muted" role="status">Loading alerts…</p>;
  if (isError) return <p className="error">Could not load alerts: {(error as Error).message}</p>;
  const rules = (data?.items ?? []).filter((r) => !symbol || r.symbol === symbol);
  if (rules.length === 0) return <p className="muted">No alert rules{symbol ? ` for ${symbol}` : ''}.</p>;
  return (
    <table className="data-table">
      <thead>
        <tr>
          {!symbol && <th scope="col">Symbol</th>}
          <th scope="col">Condition</th>
          <th scope="col">Cooldown</th>
          <th scope="col">Enabled</th>
          <th scope="col"><span className="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {rules.map((r) =>
          editing === r.id ? (
            <tr key={r.id}>
              <td colSpan={symbol ? 4 : 5}>
                <AlertForm rule={r} symbol={symbol} context={context} onDone={() => setEditing(null)} onCancel={() => setEditing(null)} />
              </td>
            </tr>
          ) : (
            <tr key={r.id}>
              {!symbol && (
                <th scope="row">
                  <Link to={`/s/${encodeURIComponent(r.symbol)}`}>{r.symbol}</Link>
                </th>
              )}
              <td>
                {describeRule(r)}
                {r.note ? <span className="muted"> — {r.note}</span> : null}
              </td>
              <td>{Math.round(r.cooldownMs / 1000)} s</td>
              <td>
                <input type="checkbox" checked={r.enabled} aria-label={`Enabled: ${r.symbol} ${describeRule(r)}`} onChange={() => toggle.mutate(r)} />
              </td>
              <td>
                <button type="button" className="link-btn" onClick={() => setEditing(r.id)}>Edit</button>
                <button
                  type="button"
                  className="link-btn danger"
                  onClick={() => {
                    if (window.confirm(`Delete the alert “${describeRule(r)}” on ${r.symbol}?`)) remove.mutate(r.id);
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}
