/**
 * Files that are either complete or absent: written under a temporary name in
 * the same directory, flushed to disk, then renamed into place, so a crash or
 * a full disk never leaves a truncated backup under a real backup's name.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BackupError } from './errors.ts';

/** A hidden sibling of `path`, unique to this process, ignored by retention. */
export const tempPathFor = (path: string) => join(dirname(path), `.${basename(path)}.partial-${process.pid}`);

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes `tmp`, renames it to `final` (refusing to replace an existing file) and flushes the directory entry. */
export async function commitFile(tmp: string, final: string): Promise<void> {
  if (existsSync(final)) throw new BackupError(`refusing to overwrite existing ${final}`);
  await fsyncPath(tmp);
  await rename(tmp, final);
  // Directory fsync makes the rename itself durable; not every platform allows it.
  await fsyncPath(dirname(final)).catch(() => {});
}

export async function writeFileAtomic(final: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(final);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await commitFile(tmp, final);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
