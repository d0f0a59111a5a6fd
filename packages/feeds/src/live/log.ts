/**
 * The logging surface vendor feeds need: a pino logger fits, and so does any
 * `{ info, warn, error, debug }` object. Feeds never print on their own.
 */
export interface FeedLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

const noop = () => {};
export const silentFeedLogger: FeedLogger = { info: noop, warn: noop, error: noop, debug: noop };
