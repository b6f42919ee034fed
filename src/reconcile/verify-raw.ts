/**
 * Raw mail verification: every stored raw mail (bytes in the database, files under data/raw)
 * is hashed again and compared with its sha256. Missing and mismatching ones are reported,
 * never "repaired": which copy is right is for a person to judge.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Store } from '../store/store';
import { errorChain } from '../util/log';
import { sha256 } from '../ingest/intake';
import type { DamagedRaw, RawReport } from './report';

/** Raw mails read per database page while verifying (each at most LARGE_MAIL_BYTES). */
const VERIFY_PAGE = 16;
/** Damaged raw mails listed in a report (all are counted). */
const DAMAGED_LISTED = 100;

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Hash every stored raw mail again. Paged by sha256 (keyset), a few rows at a time, yielding to
 * the event loop between pages: the service's sources and sender keep running meanwhile.
 */
export async function verifyRawMail(store: Store, dataDir: string, signal?: AbortSignal): Promise<RawReport> {
  const report: RawReport = { checked: 0, missing: 0, mismatched: 0, damaged: [] };
  // Bytes that retention removed on purpose (raw_mail.removed_at, from migration 9: the row stays
  // as a tombstone with an empty blob) are not damage; older schemas have no such column.
  const skipRemoved = store.rawMailHasTombstones();
  const damaged = (d: Omit<DamagedRaw, 'inboundIds' | 'cases'>): void => {
    if (d.problem === 'mismatch') report.mismatched++;
    else report.missing++;
    if (report.damaged.length >= DAMAGED_LISTED) return;
    const rows = store.inboundOfRaw(d.sha256);
    report.damaged.push({ ...d, inboundIds: rows.map((r) => r.id), cases: [...new Set(rows.flatMap((r) => (r.number ? [r.number] : [])))] });
  };
  let after = '';
  for (;;) {
    if (signal?.aborted) break;
    const rows = store.rawMailPage(after, VERIFY_PAGE, skipRemoved);
    if (rows.length === 0) break;
    for (const row of rows) {
      report.checked++;
      if (row.bytes) {
        const actual = sha256(row.bytes);
        if (actual !== row.sha256) damaged({ sha256: row.sha256, storedAs: 'database', path: null, problem: 'mismatch', detail: actual });
        continue;
      }
      const rel = row.path ?? '';
      try {
        const actual = await hashFile(path.join(dataDir, rel));
        if (actual !== row.sha256) damaged({ sha256: row.sha256, storedAs: 'file', path: rel, problem: 'mismatch', detail: actual });
      } catch (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        damaged({ sha256: row.sha256, storedAs: 'file', path: rel, problem: missing ? 'missing' : 'unreadable', detail: missing ? null : errorChain(err) });
      }
    }
    after = rows[rows.length - 1].sha256;
    await yieldToEventLoop();
  }
  // Mails whose raw row is gone altogether (possible only with foreign keys off: a hand edit, a bad restore).
  for (const sha of store.inboundWithoutRaw()) {
    report.checked++;
    damaged({ sha256: sha, storedAs: 'database', path: null, problem: 'missing', detail: 'no raw_mail row' });
  }
  return report;
}
