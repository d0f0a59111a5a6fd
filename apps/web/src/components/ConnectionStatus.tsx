/**
 * Always-visible connection indicator driven by the StreamClient state, and
 * the stale notice shown while the data is not live.
 */
import { formatTime } from '../lib/format.ts';
import { VN_TIME_ZONE } from '../lib/market.ts';
import { isLiveState, type ConnectionState, type ConnectionStore } from '../store/connection.ts';
import { useValue } from '../store/value-store.ts';

export const CONNECTION_LABELS: Record<ConnectionState, { label: string; title: string }> = {
  connecting: { label: 'Connecting…', title: 'Opening the live data connection' },
  live: { label: 'Live', title: 'Receiving live updates' },
  reconnecting: { label: 'Reconnecting…', title: 'Connection lost; retrying. Prices shown are not live.' },
  resumed: { label: 'Resumed', title: 'Reconnected; every missed update was replayed' },
  reset: { label: 'Reloaded', title: 'Reconnected; history was lost so fresh snapshots replaced the data' },
  closed: { label: 'Offline', title: 'Not connected. Prices shown are not live.' },
};

export function ConnectionStatus({ store, timeZone = VN_TIME_ZONE }: { store: ConnectionStore; timeZone?: string }) {
  const { state, staleSince } = useValue(store);
  const live = isLiveState(state);
  const { label, title } = CONNECTION_LABELS[state];
  return (
    <div className={`conn conn-${state}`} role="status" aria-live="polite" title={title} data-state={state}>
      <span className="conn-dot" aria-hidden="true" />
      <span className="conn-label">{label}</span>
      {!live && staleSince !== null && <span className="conn-since"> · stale since {formatTime(staleSince, timeZone)}</span>}
    </div>
  );
}

/** Banner over data that is not live; renders nothing while live. */
export function StaleNotice({ store, timeZone = VN_TIME_ZONE }: { store: ConnectionStore; timeZone?: string }) {
  const { state, staleSince } = useValue(store);
  if (isLiveState(state)) return null;
  return (
    <p className="stale-notice" role="alert">
      Not live — {CONNECTION_LABELS[state].label.replace('…', '')}
      {staleSince !== null && <> · stale since <time>{formatTime(staleSince, timeZone)}</time></>}
    </p>
  );
}

/** Whether the data is live (for dimming containers). */
export function useIsLive(store: ConnectionStore): boolean {
  return isLiveState(useValue(store).state);
}
