import { readFileSync } from 'node:fs';
import { AppError, ERRORS, ERROR_CODES, codeForStatus, errorBody } from '../src/errors.ts';
import { renderErrorDocs } from '../../../scripts/gen-error-docs.ts';

describe('error catalogue', () => {
  it('every code has a 4xx/5xx status and a message', () => {
    for (const code of ERROR_CODES) {
      expect(ERRORS[code].status).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].status).toBeLessThan(600);
      expect(ERRORS[code].message.length).toBeGreaterThan(5);
    }
  });

  it('maps every status the edge can produce to a code with that status', () => {
    for (const status of [400, 401, 403, 404, 405, 409, 413, 415, 429, 502, 503, 504]) {
      expect(ERRORS[codeForStatus(status)].status).toBe(status);
    }
    expect(codeForStatus(599)).toBe('INTERNAL');
  });

  it('AppError and errorBody carry the catalogue status and omit empty details', () => {
    const e = new AppError('UNKNOWN_SYMBOL');
    expect(e.status).toBe(404);
    expect(errorBody('UNKNOWN_SYMBOL', 'r1')).toEqual({ code: 'UNKNOWN_SYMBOL', message: ERRORS.UNKNOWN_SYMBOL.message, request_id: 'r1' });
    expect(errorBody('VALIDATION_FAILED', 'r2', 'x', [{ path: '/a', issue: 'b' }]).details).toHaveLength(1);
  });

  it('docs/errors.md is generated from the catalogue and current', () => {
    const onDisk = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderErrorDocs());
  });
});
