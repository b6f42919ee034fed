/**
 * Keeping `backup.keep` backups: the oldest manifests beyond the newest `keep` are removed,
 * then every file in the backup folder that no remaining manifest lists (a raw mail or an
 * attachment retention has since removed, an old database copy, an old template). Runs inside
 * the backup's folder lock, after the new manifest is written, so a file the new backup needs
 * is never removed. Only the backup's own folders are touched (database/, raw/, attachments/,
 * templates/), never anything else a person keeps in the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { filesUnder } from './files';
import { listManifests, readManifest } from './manifest';

export interface PruneResult {
  readonly manifestsRemoved: readonly string[];
  readonly filesRemoved: number;
  readonly bytesRemoved: number;
}

const OWN_FOLDERS = ['database', 'raw', 'attachments', 'templates'];

export function pruneBackups(dir: string, keep: number): PruneResult {
  const names = listManifests(dir);
  const removed = names.slice(0, Math.max(0, names.length - keep));
  const kept = names.slice(removed.length);
  // Every file a kept manifest needs. A kept manifest that cannot be read keeps everything.
  const needed = new Set<string>();
  for (const name of kept) {
    try {
      for (const f of readManifest(dir, name).files) needed.add(path.normalize(f.path));
    } catch {
      return { manifestsRemoved: [], filesRemoved: 0, bytesRemoved: 0 };
    }
  }
  for (const name of removed) fs.rmSync(path.join(dir, name), { force: true });
  let filesRemoved = 0;
  let bytesRemoved = 0;
  for (const folder of OWN_FOLDERS) {
    for (const rel of filesUnder(path.join(dir, folder))) {
      const p = path.normalize(path.join(folder, rel));
      if (needed.has(p)) continue;
      const file = path.join(dir, p);
      try {
        bytesRemoved += fs.statSync(file).size;
        fs.rmSync(file, { force: true });
        filesRemoved++;
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return { manifestsRemoved: removed, filesRemoved, bytesRemoved };
}
