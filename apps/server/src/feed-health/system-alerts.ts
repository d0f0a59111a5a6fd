/**
 * System alerts travel on the alerts channel under SYSTEM_ALERTS_KEY, an event
 * stream every alerts subscription includes (ws/connection.ts), so each user
 * connected to /ws/alerts gets them, and a client that connects during an
 * outage finds the notice in its snapshot. They are not stored: they describe
 * the live feed, not the user's rules.
 */
import { SYSTEM_ALERTS_KEY, type SystemAlert } from '@stock-tracker/protocol';
import type { StreamPublisher } from '../bus/types.ts';

export function publishSystemAlert(publisher: StreamPublisher, alert: SystemAlert): void {
  publisher.publish('alerts', SYSTEM_ALERTS_KEY, 'event', alert);
}
