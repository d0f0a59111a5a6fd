/**
 * How the tape-reading commands (replay, backtest) report malformed lines on
 * stderr: the first MAX_MALFORMED_REPORTED with their line numbers, then one
 * line counting the rest, so a bad tape cannot flood the terminal.
 */
import type { MalformedLine } from '@stock-tracker/feeds';

export const MAX_MALFORMED_REPORTED = 20;

export interface MalformedLineReporter {
  readonly onMalformed: (m: MalformedLine) => void;
  /** Writes the count of lines not shown, if any. */
  finish(): void;
}

export function malformedLineReporter(file: string, write: (text: string) => void = (t) => void process.stderr.write(t)): MalformedLineReporter {
  let reported = 0;
  return {
    onMalformed: (m) => {
      reported += 1;
      if (reported <= MAX_MALFORMED_REPORTED) write(`${file}:${m.line}: malformed (${m.kind}): ${m.message}\n`);
    },
    finish: () => {
      if (reported > MAX_MALFORMED_REPORTED) write(`${file}: ${reported - MAX_MALFORMED_REPORTED} more malformed lines not shown (${reported} in all)\n`);
    },
  };
}
