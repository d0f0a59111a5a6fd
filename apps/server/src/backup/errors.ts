/**
 * One error type for every backup/restore failure, tagged with what kind of
 * failure it is so the CLI can map it to an exit code a job runner can act on.
 */
export type BackupFailureKind =
  /** The database could not be reached (connect refused, auth, DNS). */
  | 'unreachable'
  /** Refused before anything was changed: checksum mismatch, unsafe target. */
  | 'refused'
  /** Restored, but the restored data does not match the manifest. */
  | 'mismatch'
  /** Anything else: a client tool failed or is missing, a disk error. */
  | 'failed';

export class BackupError extends Error {
  constructor(
    message: string,
    readonly kind: BackupFailureKind = 'failed',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }
}

/** Exit codes of `stock-tracker backup|restore` (documented in docs/backup-restore.md). */
export const EXIT = { ok: 0, failed: 1, mismatch: 1, usage: 2, unreachable: 3, refused: 4 } as const;

export function exitCodeOf(err: unknown): number {
  return err instanceof BackupError ? EXIT[err.kind] : EXIT.failed;
}

export function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return messageOf(err.errors[0]);
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}
