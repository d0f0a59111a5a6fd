import fc from 'fast-check';
import { copyField } from '../src/storage/sql-batch.ts';

// Decoder for the COPY text escapes copyField produces (PostgreSQL's rules for these four).
const decode = (s: string) => s.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));

describe('COPY text fields', () => {
  it('escape backslash, tab, newline and carriage return so any string round-trips and never splits a row', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', '\\', '\t', '\n', '\r', 'N', ' ', 'é') }), (s) => {
        const f = copyField(s);
        expect(f).not.toMatch(/[\t\n\r]/);
        expect(decode(f)).toBe(s);
      }),
    );
  });

  it('writes NULL, numbers and booleans in COPY text form', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField(undefined)).toBe('\\N');
    expect(copyField(65300)).toBe('65300');
    expect(copyField(0.1)).toBe('0.1');
    expect(copyField(true)).toBe('t');
    expect(copyField('\\N')).toBe('\\\\N'); // a literal backslash-N string is not NULL
  });
});
