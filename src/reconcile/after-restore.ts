/**
 * Reconciliation after a restore from a backup (src/backup/restore.ts): the run that compares
 * every mailbox with the restored database before anything is filed.
 *
 * The lost install went on after the backup: it numbered new cases, and the customers hold
 * those numbers. A restored sequence would hand them out again, to other customers. So before
 * a single mail is filed, the case numbers the lost install may have issued are reserved, and
 * the restored install goes on above them. An upper bound of how many it issued: one per mail
 * it can have filed after the backup, that is every mail the restored database did not hold
 * (what this run found on the servers) and every mail the backup held but had not filed yet.
 * Above that bound, and above every case number this mail names (a customer's reply carries
 * the tag and our Message-ID, which holds the number; so do our mails in the pickup folder), the
 * sequences of every year from the backup's to today resume. The reserved range is the `gap`:
 * a later mail naming one of its numbers refers to a lost case and is filed quietly
 * (src/cases/after-restore.ts).
 *
 * While restoring, the run also takes what the sources would take themselves (mail above their
 * cursors), because only here is it known how the lost install had marked it (moved, \Seen,
 * renamed into cur/), and that is what tells mail it answered from mail nobody has answered.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { CaseNumberSequence, RestoreMarker } from '../store/backup';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';
import { caseNumbersIn, CaseNumberGap } from '../cases/after-restore';
import { localDateOf } from '../util/stockholm-time';

/** The pure decision: the numbers to reserve per year. */
export function planGap(
  sequences: readonly CaseNumberSequence[],
  prefix: string,
  mailsAfterBackup: number,
  named: readonly string[],
  years: { readonly from: number; readonly to: number },
): CaseNumberGap[] {
  const last = new Map<number, number>();
  for (const s of sequences) if (s.prefix === prefix) last.set(s.year, s.last);
  const highestNamed = new Map<number, number>();
  for (const n of named) {
    const m = /-(\d{4})-(\d+)$/.exec(n);
    if (m) highestNamed.set(Number(m[1]), Math.max(highestNamed.get(Number(m[1])) ?? 0, Number(m[2])));
  }
  const allYears = new Set<number>([...last.keys(), ...highestNamed.keys()]);
  for (let y = years.from; y <= years.to; y++) allYears.add(y);
  const gap: CaseNumberGap[] = [];
  for (const year of [...allYears].sort()) {
    const now = last.get(year) ?? 0;
    // A year before the backup's had its cases numbered already, except forwarded old originals.
    const bound = year >= years.from ? now + mailsAfterBackup : now;
    const to = Math.max(bound, highestNamed.get(year) ?? 0);
    if (to > now) gap.push({ prefix, year, from: now + 1, to });
  }
  return gap;
}

/**
 * Reserve the gap and mark the restore reconciled, in one transaction; returns the gap. Called
 * only when every folder could be compared, before the found mail is filed.
 */
export function reserveGap(store: Store, config: Config, marker: RestoreMarker, at: Instant): CaseNumberGap[] {
  const prefix = config.cases.prefix;
  const after = store.inboundStoredAfter(marker.lastInboundId);
  const pendingInBackup = store.pendingInboundIdsUpTo(marker.lastInboundId).length;
  const named = new Set<string>();
  for (const row of after) for (const n of caseNumbersIn(headerOf(store, config.dataDir, row.sha256), prefix)) named.add(n);
  for (const h of pickupHeaders(config)) for (const c of caseNumbersIn(h, prefix)) named.add(c);
  const gap = planGap(store.caseNumberSequences(), prefix, after.length + pendingInBackup, [...named], {
    from: localDateOf(new Date(marker.backupAt)).y,
    to: localDateOf(new Date(at)).y,
  });
  store.tx(() => {
    for (const g of gap) store.raiseCaseNumberSequence(g.prefix, g.year, g.to);
    store.setRestoreMarker({ ...marker, reconciledAt: at, gap });
    store.appendEvent({
      at,
      actor: 'system',
      type: 'case-numbers-reserved',
      detail: {
        manifest: marker.manifest,
        mailsAfterBackup: after.length,
        pendingInBackup,
        highestNamed: [...named].sort().slice(-5),
        gap,
        rule: 'every mail the restored database did not hold or had not filed may have opened a case after the backup',
      },
    });
  });
  return gap;
}

/** The header of a stored raw mail (its first 64 KiB), or '' when it cannot be read. */
function headerOf(store: Store, dataDir: string, sha256: string): string {
  const raw = store.rawMail(sha256);
  if (!raw) return '';
  return 'bytes' in raw ? headerText(raw.bytes.subarray(0, 65536)) : headOfFile(path.join(dataDir, raw.path));
}

/** The headers of the mails in the pickup folder (the lost install's own mail, if it is still there). */
function pickupHeaders(config: Config): string[] {
  if (config.transport.type !== 'pickup') return [];
  const dir = config.transport.path;
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.eml'));
  } catch {
    return [];
  }
  return names.map((n) => headOfFile(path.join(dir, n)));
}

function headOfFile(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(65536);
      return headerText(buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function headerText(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return end >= 0 ? text.slice(0, end) : text;
}
