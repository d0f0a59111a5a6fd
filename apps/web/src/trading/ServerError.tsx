/**
 * A refusal from the server, shown as the error catalogue names it: the
 * code, the catalogue's sentence for it, the server's own words (which name
 * the limit or the rule, e.g. "qty 150 is not a multiple of the FPT lot
 * (100)") and the request id to quote.
 */
import { ERRORS } from '@stock-tracker/protocol';
import { ApiError } from '@stock-tracker/client';
import { T } from './strings.ts';

export function errorText(err: unknown): { code: string; headline: string; detail: string | null; requestId: string | null } {
  if (err instanceof ApiError) {
    const spec = (ERRORS as Record<string, { message: string } | undefined>)[err.code];
    const headline = spec?.message ?? err.message;
    const fromDetails = (err.details ?? []).filter((d) => d.path !== 'orderId').map((d) => d.issue);
    const words = [err.message !== headline ? err.message : null, ...fromDetails].filter((x): x is string => !!x && x !== headline);
    return { code: err.code, headline, detail: words.length ? [...new Set(words)].join(' · ') : null, requestId: err.requestId };
  }
  return { code: 'ERROR', headline: err instanceof Error ? err.message : String(err), detail: null, requestId: null };
}

export function ServerError({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  const e = errorText(error);
  return (
    <p className="error server-error" role="alert" data-code={e.code}>
      {prefix ? `${prefix} ` : ''}
      <strong>{T.errors.server(e.code, e.headline)}</strong>
      {e.detail && <span> — {e.detail}</span>}
      {e.requestId && <span className="muted"> ({T.errors.requestId(e.requestId)})</span>}
    </p>
  );
}
