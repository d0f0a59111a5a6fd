/** The exchanges' session phase (ATO, continuous, lunch, ATC…), polled from /api/market/status. */
import { useQuery } from '@tanstack/react-query';
import type { SessionPhase } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';

export const PHASE_LABELS: Record<SessionPhase, string> = {
  pre_open: 'Pre-open',
  ato: 'ATO',
  continuous: 'Continuous',
  lunch_break: 'Lunch break',
  atc: 'ATC',
  plo: 'Put-through / PLO',
  closed: 'Closed',
};

export function MarketPhase() {
  const { api } = useServices();
  const { data } = useQuery({ queryKey: ['marketStatus'], queryFn: ({ signal }) => api.marketStatus({ signal }), refetchInterval: 30_000 });
  if (!data) return null;
  return (
    <ul className="phases" aria-label="Session phase by exchange">
      {data.exchanges.map((e) => (
        <li key={e.exchange} className={`phase phase-${e.phase}`}>
          {e.exchange}: {PHASE_LABELS[e.phase] ?? e.phase}
          {e.halted ? ' (halted)' : ''}
        </li>
      ))}
    </ul>
  );
}
