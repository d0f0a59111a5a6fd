/** Alerts: rules (create, edit, enable, delete), live notifications and the history of fired alerts. */
import { useMemo } from 'react';
import { useQuery } from '@tanstack/react-query';
import { AlertForm } from '../alerts/AlertForm.tsx';
import { AlertHistory } from '../alerts/AlertHistory.tsx';
import { AlertRulesList } from '../alerts/AlertRulesList.tsx';
import { useServices } from '../services.tsx';

export default function AlertsPage() {
  const { api } = useServices();
  const refs = useQuery({ queryKey: ['symbols'], queryFn: ({ signal }) => api.symbols({}, { signal }), staleTime: 5 * 60_000 });
  const known = useMemo(() => new Set((refs.data?.items ?? []).map((r) => r.symbol)), [refs.data]);
  return (
    <article aria-labelledby="alerts-page-h">
      <h1 id="alerts-page-h">Alerts</h1>
      <section className="card" aria-labelledby="new-alert-h">
        <h2 id="new-alert-h">New alert</h2>
        <AlertForm context={{ knownSymbols: known }} />
      </section>
      <section className="card" aria-labelledby="rules-h">
        <h2 id="rules-h">Rules</h2>
        <AlertRulesList context={{ knownSymbols: known }} />
      </section>
      <section className="card" aria-labelledby="fired-h">
        <h2 id="fired-h">Fired alerts</h2>
        <AlertHistory />
      </section>
    </article>
  );
}
