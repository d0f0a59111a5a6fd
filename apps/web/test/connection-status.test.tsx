// @vitest-environment jsdom
import { act, cleanup, render, screen } from '@testing-library/react';
import { CONNECTION_LABELS, ConnectionStatus, StaleNotice } from '../src/components/ConnectionStatus.tsx';
import { ConnectionStore, isLiveState, type ConnectionState } from '../src/store/connection.ts';

afterEach(() => cleanup());

const STATES: ConnectionState[] = ['connecting', 'live', 'reconnecting', 'resumed', 'reset', 'closed'];
// A clock the test moves: 02:15:30 UTC = 09:15:30 in Hanoi.
function clock(start = Date.UTC(2024, 5, 3, 2, 15, 30)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('connection status', () => {
  it.each(STATES)('shows the %s state with its label and data-state', (state) => {
    const store = new ConnectionStore(clock().now);
    store.setState(state);
    render(<ConnectionStatus store={store} />);
    const status = screen.getByRole('status');
    expect(status.dataset.state).toBe(state);
    expect(status.textContent).toContain(CONNECTION_LABELS[state].label);
    // every state that is not live says since when the data is stale, in exchange time
    if (isLiveState(state)) expect(status.textContent).not.toContain('stale');
    else expect(status.textContent).toContain('stale since 09:15:30');
  });

  it('counts only live, resumed and reset as live', () => {
    expect(STATES.filter(isLiveState)).toEqual(['live', 'resumed', 'reset']);
  });

  it('keeps the moment the data went stale across several non-live states, and clears it when live again', () => {
    const c = clock();
    const store = new ConnectionStore(c.now);
    store.setState('live');
    expect(store.get().staleSince).toBeNull();
    c.advance(60_000); // 09:16:30
    store.setState('reconnecting');
    c.advance(5_000);
    store.setState('closed');
    c.advance(5_000);
    store.setState('reconnecting');
    render(<ConnectionStatus store={store} />);
    expect(screen.getByRole('status').textContent).toContain('stale since 09:16:30');
    act(() => store.setState('resumed'));
    expect(screen.getByRole('status').textContent).not.toContain('stale');
    expect(store.get().staleSince).toBeNull();
  });

  it('starts stale (no live data yet) until the stream is live', () => {
    const store = new ConnectionStore(clock().now);
    expect(store.get()).toEqual({ state: 'connecting', staleSince: Date.UTC(2024, 5, 3, 2, 15, 30) });
  });

  it('the stale notice appears only while not live', () => {
    const store = new ConnectionStore(clock().now);
    store.setState('live');
    const { container } = render(<StaleNotice store={store} />);
    expect(container.textContent).toBe('');
    act(() => store.setState('reconnecting'));
    expect(screen.getByRole('alert').textContent).toMatch(/Not live — Reconnecting · stale since 09:15:30/);
    act(() => store.setState('reset'));
    expect(container.textContent).toBe('');
  });
});
