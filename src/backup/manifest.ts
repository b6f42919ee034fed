/**
 * The backup folder's layout and its manifests.
 *
 *   DIR/manifest-2026-05-01T02-15-00-123Z.json   one per backup, named by the moment of its copy
 *   DIR/database/klagomal-2026-05-01T02-15-00-123Z.db   the database as of that moment
 *   DIR/raw/ab/<sha256>.eml                       large raw mails, as under the data folder
 *   DIR/attachments/ab/<sha256>                   attachments, as under the data folder
 *   DIR/templates/<sha256>                        the template files, by content
 *
 * Raw mails and attachments are content-addressed in the data folder already (their name is
 * the sha256 of their bytes), and templates are stored by content here, so a file is copied
 * once however many backups need it: a second backup into DIR copies only what is new, and
 * writes a new manifest. A manifest lists every file its backup needs with its sha256 and size,
 * and what an auditor checks the database against: its schema version, the counts of cases,
 * mails and events, the last event of every hash chain, the case-number sequences.
 *
 * The personnummer key is never in a backup: the database holds the numbers encrypted, and the
 * key lives only in the service's environment.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BackupCounts, CaseNumberSequence } from '../store/backup';
import type { Instant } from '../util/clock';
import { writeFileDurably } from '../util/durable-file';

export const MANIFEST_FORMAT = 'klagomal-backup/1';
const MANIFEST_NAME = /^manifest-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)\.json$/;

export type BackupFileKind = 'database' | 'raw' | 'attachment' | 'template';

export interface ManifestFile {
  readonly kind: BackupFileKind;
  /** Where it is in the backup folder (for raw mails and attachments also where it goes in the data folder). */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** A template's file name under the templates folder. */
  readonly name?: string;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly name: string;
  /** The moment of the database copy: everything committed before it is in the backup. */
  readonly createdAt: Instant;
  readonly finishedAt: Instant;
  readonly program: { readonly version: string };
  readonly schemaVersion: number;
  readonly database: ManifestFile;
  readonly counts: BackupCounts;
  /** The hash chains: how many, the last event overall, and the last event of each ([case number or null, event id, hash]). */
  readonly chains: {
    readonly count: number;
    readonly head: { readonly id: number; readonly hash: string | null } | null;
    readonly last: ReadonlyArray<readonly [string | null, number, string | null]>;
  };
  readonly caseNumbers: readonly CaseNumberSequence[];
  /** The highest inbound id and the latest arrival in the copy (a restore uses them). */
  readonly lastInboundId: number;
  readonly newestArrival: Instant | null;
  readonly templates: { readonly folder: string; readonly setInUse: string | null };
  readonly personnummer: { readonly encrypted: number; readonly key: string };
  /** Every file the backup needs, the database and templates included. */
  readonly files: readonly ManifestFile[];
  /** Files the database refers to that were not in the data folder, or not as their hash says. */
  readonly missing: ReadonlyArray<{ readonly kind: BackupFileKind; readonly path: string; readonly problem: string }>;
  /** What this backup copied (the rest was in DIR already). */
  readonly copied: { readonly files: number; readonly bytes: number };
}

/** "2026-05-01T02-15-00-123Z": an instant as a file name part (no colons). */
export function stamp(at: Date): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

export function manifestName(at: Date): string {
  return `manifest-${stamp(at)}.json`;
}

export function databasePathFor(at: Date): string {
  return path.join('database', `klagomal-${stamp(at)}.db`);
}

/** Where a template file is kept in the backup, by its content. */
export function templatePath(sha256: string): string {
  return path.join('templates', sha256);
}

/** The manifests in DIR, oldest first (their names sort by time). */
export function listManifests(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => MANIFEST_NAME.test(n)).sort();
}

export class ManifestError extends Error {}

/** A manifest by name ("manifest-….json", with or without ".json"), or the newest one. */
export function readManifest(dir: string, name?: string): Manifest {
  const names = listManifests(dir);
  let chosen: string | undefined;
  if (name) {
    const base = path.basename(name);
    chosen = names.find((n) => n === base || n === `${base}.json`);
    if (!chosen) throw new ManifestError(`no manifest ${base} in ${dir}${names.length ? ` (there are: ${names.slice(-5).join(', ')})` : ''}`);
  } else {
    chosen = names[names.length - 1];
    if (!chosen) throw new ManifestError(`no backup in ${dir}: it holds no manifest-*.json`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, chosen), 'utf8')) as Manifest;
  } catch (err) {
    throw new ManifestError(`${path.join(dir, chosen)}: cannot read the manifest: ${(err as Error).message}`);
  }
  if (m.format !== MANIFEST_FORMAT) throw new ManifestError(`${path.join(dir, chosen)}: not a klagomal backup manifest (format ${JSON.stringify(m.format)})`);
  return m;
}

export function writeManifest(dir: string, m: Manifest): void {
  writeFileDurably(path.join(dir, m.name), JSON.stringify(m, null, 1) + '\n');
}

/** Every case-number sequence any manifest in DIR records, at its highest: a high-water mark kept outside the database. */
export function highestCaseNumbers(dir: string): CaseNumberSequence[] {
  const best = new Map<string, CaseNumberSequence>();
  for (const name of listManifests(dir)) {
    try {
      for (const s of readManifest(dir, name).caseNumbers) {
        const key = `${s.prefix}/${s.year}`;
        if ((best.get(key)?.last ?? -1) < s.last) best.set(key, s);
      }
    } catch {
      /* an unreadable manifest is `backup verify`'s to report */
    }
  }
  return [...best.values()];
}
