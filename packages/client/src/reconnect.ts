/**
 * The connection lifecycle as a pure state machine: (state, event) -> (state,
 * effects). StreamClient performs the effects (open a socket, arm a timer,
 * send the subscriptions); tests drive the machine directly.
 *
 *   closed --start--> connecting --opened--> (subscribe) --ready(live)--> live
 *   any open state --dropped--> reconnecting --retry-due--> (open) --opened-->
 *   (resubscribe with since) --ready(resumed|reset)--> resumed | reset
 *   any --stop--> closed
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'resumed' | 'reset' | 'closed';

export interface MachineState {
  status: ConnectionState;
  /** Failed attempts since the connection was last ready; drives the backoff. */
  attempt: number;
}

export type MachineEvent =
  | { type: 'start' }
  | { type: 'opened' }
  | { type: 'ready'; outcome: 'live' | 'resumed' | 'reset' }
  | { type: 'dropped' }
  | { type: 'retry-due' }
  | { type: 'stop' };

export type Effect =
  | { type: 'open' }
  | { type: 'subscribe' }
  | { type: 'schedule-retry'; delayMs: number }
  | { type: 'cancel-retry' }
  | { type: 'close-socket' };

export const initialMachineState: MachineState = { status: 'closed', attempt: 0 };

export function step(s: MachineState, ev: MachineEvent, delayFor: (attempt: number) => number): [MachineState, Effect[]] {
  switch (ev.type) {
    case 'start':
      if (s.status !== 'closed') return [s, []];
      return [{ status: 'connecting', attempt: 0 }, [{ type: 'open' }]];
    case 'opened':
      if (s.status !== 'connecting' && s.status !== 'reconnecting') return [s, []];
      return [s, [{ type: 'subscribe' }]];
    case 'ready':
      if (s.status !== 'connecting' && s.status !== 'reconnecting') return [s, []];
      return [{ status: ev.outcome, attempt: 0 }, []];
    case 'dropped':
      if (s.status === 'closed') return [s, []];
      return [{ status: 'reconnecting', attempt: s.attempt + 1 }, [{ type: 'schedule-retry', delayMs: delayFor(s.attempt) }]];
    case 'retry-due':
      if (s.status !== 'reconnecting') return [s, []];
      return [s, [{ type: 'open' }]];
    case 'stop':
      if (s.status === 'closed') return [s, []];
      return [{ status: 'closed', attempt: 0 }, [{ type: 'cancel-retry' }, { type: 'close-socket' }]];
  }
}
