/** Fired alerts: history from /api/alerts/events merged with those that arrived live. */
import { useMemo } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { AlertEvent } from '@stock-tracker/protocol';
import { Link } from 'react-router-dom';
import { formatDateTime } from '../lib/format.ts';
import { useServices } from '../services.tsx';
import { useValue } from '../store/value-store.ts';

export function mergeAlertEvents(a: readonly AlertEvent[], b: readonly AlertEvent[]): AlertEvent[] {
  const byId = new Map<string, AlertEvent>();
  for (const e of [...a, ...b]) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => y.ts - x.ts);
}

export function AlertHistory({ symbol }: { symbol?: string }) {
  const { api, alerts } = useServices();
  const live = useValue(alerts.list);
  const { data, isError } = useQuery({
    queryKey: ['alertEvents', symbol ?? null],
    queryFn: ({ signal }) => api.alertEvents({ limit: 100, ...(symbol && { symbol }) }, { signal }),
  });
  const events = useMemo(
    () => mergeAlertEvents(data?.items ?? [], live).filter((e) => !symbol || e.symbol === symbol).slice(0, 200),
    [data, live, symbol],
  );
  return (
    <>
      {isError && <p className="error">Could not load the alert history.</p>}
      {events.length === 0 ? (
        <p className="muted">No alert has fired yet.</p>
      ) : (
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              {!symbol && <th scope="col">Symbol</th>}
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td>{formatDateTime(e.ts)}</td>
                {!symbol && (
                  <td>
                    <Link to={`/s/${encodeURIComponent(e.symbol)}`}>{e.symbol}</Link>
                  </td>
                )}
                <td style={{ textAlign: 'left' }}>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
