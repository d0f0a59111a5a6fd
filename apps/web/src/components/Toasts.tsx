/** Live alert notifications: a polite live region, newest last, auto-dismissed. */
import { Link } from 'react-router-dom';
import { formatTime } from '../lib/format.ts';
import type { AlertFeed } from '../store/alert-feed.ts';
import { useValue } from '../store/value-store.ts';

export function Toasts({ feed }: { feed: AlertFeed }) {
  const toasts = useValue(feed.toasts);
  return (
    <div className="toasts" role="status" aria-live="polite" aria-label="Alert notifications">
      {toasts.map(({ id, alert }) => (
        <div key={id} className="toast">
          <div>
            <strong>
              <Link to={`/s/${encodeURIComponent(alert.symbol)}`}>{alert.symbol}</Link>
            </strong>{' '}
            <span className="muted">{formatTime(alert.ts)}</span>
          </div>
          <div>{alert.message}</div>
          <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => feed.dismiss(id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
