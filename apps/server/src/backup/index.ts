export { BackupError, EXIT, exitCodeOf, type BackupFailureKind } from './errors.ts';
export { databaseNameOf, libpqTarget, withDatabase, type LibpqTarget } from './connection.ts';
export { pgToolPath, pgToolVersion, runPgTool, type PgTool } from './pg-tools.ts';
export {
  ARCHIVE_EXT,
  backupStem,
  fileTimestamp,
  manifestPathFor,
  MANIFEST_FORMAT,
  parseBackupName,
  parseManifest,
  verifyBackupFile,
  type BackupEngine,
  type BackupManifest,
  type VerifiedBackup,
} from './manifest.ts';
export { countTables, schemaVersion, userRelationCount } from './table-counts.ts';
export { applyRetention, type RetentionResult } from './retention.ts';
export { formatVerification, verifyRestore, type CountCheck, type RestoreVerification } from './verify.ts';
export { backupPostgres, type BackupOptions, type BackupResult, type PostgresBackupOptions } from './postgres-backup.ts';
export { restorePostgres, type PostgresRestoreOptions, type RestoreReport } from './postgres-restore.ts';
export { backupPglite, restorePglite, pgliteDir, PGLITE_LABEL, type PgliteBackupOptions, type PgliteRestoreOptions } from './pglite.ts';
