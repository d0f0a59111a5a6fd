import { initialMachineState, step, type Effect, type MachineEvent, type MachineState } from '../src/index.ts';

const delayFor = (attempt: number) => 100 * 2 ** attempt;

function run(events: MachineEvent[], from: MachineState = initialMachineState) {
  let s = from;
  const effects: Effect[][] = [];
  for (const ev of events) {
    const [next, fx] = step(s, ev, delayFor);
    s = next;
    effects.push(fx);
  }
  return { s, effects };
}

describe('reconnect state machine', () => {
  it('connects, subscribes on open and goes live when ready', () => {
    const { s, effects } = run([{ type: 'start' }, { type: 'opened' }, { type: 'ready', outcome: 'live' }]);
    expect(effects).toEqual([[{ type: 'open' }], [{ type: 'subscribe' }], []]);
    expect(s).toEqual({ status: 'live', attempt: 0 });
  });

  it('backs off longer on each failed attempt and resets the count once ready again', () => {
    const { s, effects } = run([
      { type: 'start' },
      { type: 'opened' },
      { type: 'ready', outcome: 'live' },
      { type: 'dropped' },
      { type: 'retry-due' },
      { type: 'dropped' }, // the reconnect attempt failed
      { type: 'retry-due' },
      { type: 'dropped' },
      { type: 'retry-due' },
      { type: 'opened' },
      { type: 'ready', outcome: 'resumed' },
      { type: 'dropped' },
    ]);
    const scheduled = effects.flat().filter((e) => e.type === 'schedule-retry').map((e) => (e as { delayMs: number }).delayMs);
    expect(scheduled).toEqual([100, 200, 400, 100]);
    expect(s).toEqual({ status: 'reconnecting', attempt: 1 });
  });

  it('reports how a reconnection ended: resumed or reset', () => {
    const base = run([{ type: 'start' }, { type: 'opened' }, { type: 'ready', outcome: 'live' }, { type: 'dropped' }, { type: 'retry-due' }, { type: 'opened' }]).s;
    expect(step(base, { type: 'ready', outcome: 'reset' }, delayFor)[0].status).toBe('reset');
    expect(step(base, { type: 'ready', outcome: 'resumed' }, delayFor)[0].status).toBe('resumed');
  });

  it('a first connection that fails keeps retrying', () => {
    const { s, effects } = run([{ type: 'start' }, { type: 'dropped' }, { type: 'retry-due' }]);
    expect(s.status).toBe('reconnecting');
    expect(effects.at(-1)).toEqual([{ type: 'open' }]);
  });

  it('stop cancels the timer and closes; later socket events are ignored', () => {
    const { s, effects } = run([{ type: 'start' }, { type: 'dropped' }, { type: 'stop' }, { type: 'dropped' }, { type: 'retry-due' }, { type: 'opened' }]);
    expect(effects[2]).toEqual([{ type: 'cancel-retry' }, { type: 'close-socket' }]);
    expect(effects.slice(3)).toEqual([[], [], []]);
    expect(s).toEqual({ status: 'closed', attempt: 0 });
  });

  it('ignores events that do not apply to the current state', () => {
    const live: MachineState = { status: 'live', attempt: 0 };
    for (const ev of [{ type: 'start' }, { type: 'opened' }, { type: 'retry-due' }, { type: 'ready', outcome: 'reset' }] as MachineEvent[]) {
      expect(step(live, ev, delayFor)).toEqual([live, []]);
    }
  });
});
