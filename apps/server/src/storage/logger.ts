/**
 * The logging surface storage needs: a pino logger fits, and so does any
 * `{ info, warn, error, debug }` object (tests pass a silent one).
 */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

const noop = () => {};
export const silentLogger: Logger = { info: noop, warn: noop, error: noop, debug: noop };
