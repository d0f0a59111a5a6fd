import fc from 'fast-check';
import { StreamPositions } from '../src/index.ts';

describe('StreamPositions', () => {
  it('accepts contiguous updates, drops repeats, flags gaps', () => {
    const p = new StreamPositions();
    p.snapshot({ key: 'A', seq: 10, epoch: 'E' });
    expect(p.update({ key: 'A', seq: 11, epoch: 'E' })).toBe('accept');
    expect(p.update({ key: 'A', seq: 11, epoch: 'E' })).toBe('duplicate');
    expect(p.update({ key: 'A', seq: 9, epoch: 'E' })).toBe('duplicate');
    expect(p.update({ key: 'A', seq: 15, epoch: 'E', from: 12 })).toBe('accept');
    expect(p.update({ key: 'A', seq: 18, epoch: 'E' })).toBe('gap');
    expect(p.gapOf({ key: 'A', seq: 18, epoch: 'E' })).toEqual({ key: 'A', expected: 16, got: 18, epoch: 'E' });
    expect(p.get('A')).toEqual({ seq: 15, epoch: 'E' });
  });

  it('accepts a new epoch only from its first message', () => {
    const p = new StreamPositions();
    p.snapshot({ key: 'A', seq: 10, epoch: 'OLD' });
    expect(p.update({ key: 'A', seq: 3, epoch: 'NEW' })).toBe('gap');
    expect(p.update({ key: 'A', seq: 1, epoch: 'NEW' })).toBe('accept');
    expect(p.get('A')).toEqual({ seq: 1, epoch: 'NEW' });
  });

  it('starts an unknown key at its first update', () => {
    const p = new StreamPositions();
    expect(p.update({ key: 'B', seq: 7, epoch: 'E' })).toBe('accept');
    expect(p.toRecord()).toEqual({ B: { seq: 7, epoch: 'E' } });
  });

  it('never advances past a hole (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ seq: fc.integer({ min: 1, max: 40 }), span: fc.integer({ min: 0, max: 3 }) }), { maxLength: 80 }), (msgs) => {
        const p = new StreamPositions();
        p.snapshot({ key: 'K', seq: 0, epoch: 'E' });
        let covered = 0; // highest seq such that 1..covered were all covered
        for (const m of msgs) {
          const from = m.span > 0 ? Math.max(1, m.seq - m.span) : undefined;
          const v = p.update({ key: 'K', seq: m.seq, epoch: 'E', from });
          if (v === 'accept') {
            expect((from ?? m.seq) <= covered + 1).toBe(true);
            covered = m.seq;
          }
          expect(p.get('K')!.seq).toBe(covered);
        }
      }),
    );
  });
});
