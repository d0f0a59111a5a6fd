/**
 * The process logger: JSON lines via pino (one object per line, `request_id`
 * on request-scoped lines), or human-readable with LOG_PRETTY=1. Pretty output
 * goes through pino-pretty as a synchronous stream in the main thread so that
 * nothing is lost when the process exits right after logging.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import type { Writable } from 'node:stream';

export type { Logger };

export interface LoggerSettings {
  level: string;
  pretty?: boolean;
  /** Static fields on every line (service, role). */
  base?: Record<string, unknown>;
  /** Destination; defaults to stdout. Tests pass a collecting stream. */
  destination?: Writable;
}

export function createLogger(s: LoggerSettings): Logger {
  const opts: LoggerOptions = {
    level: s.level,
    base: { service: 'stock-tracker', ...s.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Never log credentials that may sit in headers (WebSocket tokens travel in Sec-WebSocket-Protocol).
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]', 'headers.authorization', 'headers.cookie', 'headers["sec-websocket-protocol"]', 'headers["set-cookie"]', 'res.headers["set-cookie"]'],
      censor: '***',
    },
  };
  if (s.pretty) {
    return pino(opts, pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', destination: s.destination ?? 1 }));
  }
  return pino(opts, s.destination ?? pino.destination({ sync: true }));
}

/** A logger that drops everything (tests, library defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
