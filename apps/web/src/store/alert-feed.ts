/**
 * Alerts fired for the user, as they arrive on /ws/alerts: a bounded list for
 * the alerts page and short-lived toasts. The snapshot on (re)subscribe seeds
 * the list silently; only live updates pop a toast.
 *
 * System notices (the `system` key: market data stale) are not rule alerts:
 * the latest one decides whether a notice stays on screen until it clears.
 */
import type { AlertEvent, SystemAlert } from '@stock-tracker/protocol';
import { ValueStore } from './value-store.ts';

export const MAX_ALERTS = 100;
export const TOAST_MS = 8_000;

export interface Toast {
  id: string;
  alert: AlertEvent;
}

export class AlertFeed {
  readonly list = new ValueStore<readonly AlertEvent[]>([]);
  readonly toasts = new ValueStore<readonly Toast[]>([]);
  /** The current outage notice, null when market data is live. */
  readonly notice = new ValueStore<SystemAlert | null>(null);
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  constructor(private readonly toastMs = TOAST_MS) {}

  /** Events from a snapshot (oldest first): merged into the list, no toasts. */
  seed(events: readonly AlertEvent[]): void {
    this.merge(events);
  }

  /** A live event: listed and toasted. */
  push(event: AlertEvent): void {
    if (!this.merge([event])) return;
    this.toasts.update((t) => [...t, { id: event.id, alert: event }].slice(-5));
    this.timers.set(event.id, setTimeout(() => this.dismiss(event.id), this.toastMs));
  }

  /** System notices, oldest first (a snapshot or one update): the newest one is the current state. */
  system(notices: readonly SystemAlert[]): void {
    const last = notices[notices.length - 1];
    if (last) this.notice.set(last.kind === 'feed_stale' ? last : null);
  }

  dismiss(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.toasts.update((list) => list.filter((x) => x.id !== id));
  }

  /** Adds unseen events newest first; returns whether anything was new. */
  private merge(events: readonly AlertEvent[]): boolean {
    const cur = this.list.get();
    const seen = new Set(cur.map((e) => e.id));
    const fresh = events.filter((e) => !seen.has(e.id));
    if (fresh.length === 0) return false;
    const next = [...fresh.reverse(), ...cur].sort((a, b) => b.ts - a.ts).slice(0, MAX_ALERTS);
    this.list.set(next);
    return true;
  }
}
