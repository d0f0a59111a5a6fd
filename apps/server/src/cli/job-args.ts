/**
 * Shared front of the backup/restore job commands: parse the arguments, print
 * usage on `--help` (exit 0) or on a usage error (exit EXIT.usage).
 */
import { EXIT, messageOf } from '../backup/errors.ts';

export function planOrExit<P>(command: string, usage: string, argv: string[], plan: (argv: string[]) => P | 'help'): { plan: P } | { exit: number } {
  let p: P | 'help';
  try {
    p = plan(argv);
  } catch (err) {
    process.stderr.write(`stock-tracker ${command}: ${messageOf(err)}\n`);
    process.stderr.write(usage);
    return { exit: EXIT.usage };
  }
  if (p === 'help') {
    process.stdout.write(usage);
    return { exit: EXIT.ok };
  }
  return { plan: p };
}
