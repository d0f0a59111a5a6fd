/**
 * Retention: keep the newest N complete backups (archive + manifest) of one
 * database in a directory and delete the files of older ones. Other
 * databases' backups, unrelated files and in-progress temp files are never
 * touched; an incomplete backup newer than the oldest kept one is left alone
 * (it may be another run still writing).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { labelOf, parseBackupName } from './manifest.ts';

export interface RetentionResult {
  /** Stems (file names without extension) of the backups kept, newest first. */
  kept: string[];
  /** Files deleted. */
  deleted: string[];
}

export function applyRetention(dir: string, database: string, keep: number): RetentionResult {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`retention must keep at least 1 backup (got ${keep})`);
  const label = labelOf(database);
  const stems = new Map<string, { ts: number; files: string[]; archive: boolean; manifest: boolean }>();
  for (const name of readdirSync(dir)) {
    const p = parseBackupName(name);
    if (!p || p.label !== label) continue;
    const s = stems.get(p.stem) ?? { ts: p.ts, files: [], archive: false, manifest: false };
    s.files.push(name);
    if (p.kind === 'archive') s.archive = true;
    else s.manifest = true;
    stems.set(p.stem, s);
  }
  // Newest first; the stem breaks ties so the order never depends on readdir.
  const ordered = [...stems.entries()].sort((a, b) => b[1].ts - a[1].ts || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
  const kept: string[] = [];
  const deleted: string[] = [];
  let cutoffReached = false;
  for (const [stem, s] of ordered) {
    const complete = s.archive && s.manifest;
    if (!cutoffReached && complete) {
      kept.push(stem);
      if (kept.length === keep) cutoffReached = true;
      continue;
    }
    if (!cutoffReached) continue; // incomplete and newer than the oldest kept: maybe still being written
    for (const f of s.files) {
      rmSync(join(dir, f), { force: true });
      deleted.push(f);
    }
  }
  return { kept, deleted };
}
