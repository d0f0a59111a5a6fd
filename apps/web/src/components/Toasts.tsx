/** Live alert notifications: a polite live region, newest last, auto-dismissed; a system notice stays until it clears. */
import { Link } from 'react-router-dom';
import { formatTime } from '../lib/format.ts';
import type { AlertFeed } from '../store/alert-feed.ts';
import { useValue } from '../store/value-store.ts';

export function Toasts({ feed }: { feed: AlertFeed }) {
  const toasts = useValue(feed.toasts);
  const notice = useValue(feed.notice);
  return (
    <div className="toasts" role="status" aria-live="polite" aria-label="Alert notifications">
      {notice && (
        <div className="toast toast-system" role="alert" data-kind={notice.kind}>
          <div>
            <strong>Market data delayed</strong> <span className="muted">{formatTime(notice.ts)}</span>
          </div>
          <div>{notice.message}</div>
        </div>
      )}
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
