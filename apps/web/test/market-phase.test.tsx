// @vitest-environment jsdom
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import type { MarketStatusResponse } from '@stock-tracker/protocol';
import { MarketPhase, PHASE_LABELS, describeExchange, formatNextAt } from '../src/components/MarketPhase.tsx';
import { Providers, fakeApi, makeServices } from './helpers.tsx';

afterEach(() => cleanup());

// Instants in Ho Chi Minh City (UTC+7) on Tuesday 2025-01-07.
const vn = (h: number, m = 0, date = '2025-01-07') => Date.parse(`${date}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+07:00`);

function status(ts: number, exchanges: MarketStatusResponse['exchanges']): MarketStatusResponse {
  return { ts, exchanges, feed: { name: 'simulator', connected: true, lastEventTs: ts } };
}

async function renderWith(s: MarketStatusResponse) {
  const { api } = fakeApi({ overrides: { marketStatus: async () => s } });
  render(
    <Providers services={makeServices(api)}>
      <MarketPhase />
    </Providers>,
  );
  const list = await screen.findByRole('list', { name: 'Session phase by exchange' });
  return list;
}

describe('MarketPhase', () => {
  it('says why a quiet exchange is quiet and when trading resumes, in exchange time', async () => {
    const list = await renderWith(
      status(vn(11, 40), [
        { exchange: 'HNX', phase: 'lunch_break', halted: false, next: { phase: 'continuous', at: vn(13) } },
        { exchange: 'HOSE', phase: 'lunch_break', halted: false, next: { phase: 'continuous', at: vn(13) } },
      ]),
    );
    const items = [...list.querySelectorAll('li')];
    expect(items.map((li) => li.textContent)).toEqual(['HNX Lunch break — trading resumes at 13:00', 'HOSE Lunch break — trading resumes at 13:00']);
    expect(items.every((li) => li.classList.contains('phase-quiet'))).toBe(true);
  });

  it('while trading: the phase and what comes next', async () => {
    const list = await renderWith(
      status(vn(10, 5), [
        { exchange: 'HOSE', phase: 'continuous', halted: false, next: { phase: 'lunch_break', at: vn(11, 30) } },
        { exchange: 'UPCOM', phase: 'continuous', halted: false },
      ]),
    );
    const items = [...list.querySelectorAll('li')];
    expect(items[0]!.textContent).toBe('HOSE Continuous · next: Lunch break at 11:30');
    expect(items[0]!.dataset.phase).toBe('continuous');
    expect(items[0]!.classList.contains('phase-quiet')).toBe(false);
    // An older server without `next`: the phase alone.
    expect(items[1]!.textContent).toBe('UPCOM Continuous');
  });

  it('names the day when the next session is not today (after the close on a Friday)', async () => {
    const friday = vn(15, 10, '2025-01-10');
    const list = await renderWith(status(friday, [{ exchange: 'HOSE', phase: 'closed', halted: false, next: { phase: 'ato', at: vn(9, 0, '2025-01-13') } }]));
    expect(list.textContent).toBe('HOSE Closed — trading resumes at 09:00 Mon 13/01');
  });

  it('refreshes from the server (the simulated day changes phase within seconds)', async () => {
    let calls = 0;
    const { api } = fakeApi({
      overrides: {
        marketStatus: async () => {
          calls++;
          return calls === 1
            ? status(vn(11, 29), [{ exchange: 'HOSE', phase: 'continuous', halted: false, next: { phase: 'lunch_break', at: vn(11, 30) } }])
            : status(vn(11, 31), [{ exchange: 'HOSE', phase: 'lunch_break', halted: false, next: { phase: 'continuous', at: vn(13) } }]);
        },
      },
    });
    render(
      <Providers services={makeServices(api)}>
        <MarketPhase />
      </Providers>,
    );
    await screen.findByText(/Continuous/);
    // A bounded wait: fails with the last text if the component never polls again.
    await waitFor(() => expect(screen.getByRole('list').textContent).toBe('HOSE Lunch break — trading resumes at 13:00'), { timeout: 10_000 });
  });

  it('describes every phase, halted or not, and has a label for each', () => {
    const phases = Object.keys(PHASE_LABELS) as (keyof typeof PHASE_LABELS)[];
    for (const phase of phases) {
      const d = describeExchange({ exchange: 'HOSE', phase, halted: false, next: { phase: 'continuous', at: vn(13) } }, vn(12));
      expect(d.phase).toBe(PHASE_LABELS[phase]);
      const quiet = ['pre_open', 'lunch_break', 'closed'].includes(phase);
      expect(d.quiet).toBe(quiet);
      expect(d.detail).toContain('13:00');
      const halted = describeExchange({ exchange: 'HOSE', phase, halted: true, next: null }, vn(12));
      expect(halted.quiet).toBe(true);
      expect(halted.detail).toMatch(/Halted/);
    }
    // No schedule: still says what the phase is.
    expect(describeExchange({ exchange: 'HOSE', phase: 'closed', halted: false, next: null }, vn(16)).detail).toBe('Closed');
  });

  it('formats the next start in the exchange time zone', () => {
    expect(formatNextAt(vn(13), vn(12), 'Asia/Ho_Chi_Minh')).toBe('13:00');
    // 09:30 New York is 14:30 UTC in January.
    expect(formatNextAt(Date.UTC(2025, 0, 7, 14, 30), Date.UTC(2025, 0, 7, 13), 'America/New_York')).toBe('09:30');
  });
});
