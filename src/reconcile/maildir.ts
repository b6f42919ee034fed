/**
 * Reconciliation of a Maildir source: the files in cur/, by delivery name and size, else by
 * sha256 (plan.ts); new/ is the source's queue. A file never stored is stored and filed; it
 * stays where it is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MaildirSourceConfig } from '../config/config';
import { toInstant } from '../util/clock';
import { errorChain } from '../util/log';
import { storageFailureReading } from '../util/storage-error';
import { sha256 } from '../ingest/intake';
import { LARGE_MAIL_BYTES, spoolRaw, SpooledRaw } from '../ingest/raw-files';
import type { FolderReport } from './report';
import { maildirLocator, MaildirFile, planMaildir } from './plan';
import { dropSpool, newFolder, Run, storeFound } from './context';

export async function reconcileMaildir(run: Run, s: MaildirSourceConfig): Promise<FolderReport> {
  const report = newFolder(s.name, s.path, 'maildir');
  const { store, config } = run.deps;
  try {
    const files: MaildirFile[] = [];
    let dirs = 0;
    for (const sub of ['new', 'cur'] as const) {
      const dir = path.join(s.path, sub);
      let names: string[];
      try {
        names = fs.readdirSync(dir);
        dirs++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
        try {
          const st = fs.statSync(path.join(dir, name));
          if (st.isFile()) files.push({ sub, name, size: st.size, mtime: st.mtime });
        } catch {
          /* taken by the source meanwhile */
        }
      }
    }
    // The source creates the Maildir when it starts: none yet, nothing in it.
    if (dirs === 0) return report;
    report.onServer = files.length;
    const storedSizes = new Map<string, Set<number>>();
    for (const row of store.storedLocatorSizes(s.name, s.path)) {
      let sizes = storedSizes.get(row.locator);
      if (!sizes) storedSizes.set(row.locator, (sizes = new Set()));
      sizes.add(row.size);
    }
    const plan = planMaildir(files, storedSizes);
    report.known = plan.known;
    report.waiting = plan.waiting;

    for (const f of plan.toCheck) {
      if (run.deps.signal?.aborted) break;
      const file = path.join(s.path, f.sub, f.name);
      let raw: Buffer | SpooledRaw;
      try {
        raw = f.size > LARGE_MAIL_BYTES ? await spoolRaw(config.dataDir, fs.createReadStream(file)) : fs.readFileSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        // The data folder failing the spool is no file's fault and would fail the next alike.
        if (storageFailureReading(err, config.dataDir, file)) throw err;
        // This file's own problem (another user's, an I/O error): reported, and the folder's
        // other files are still compared; thrown, it left every file after it unchecked.
        const where = `${f.sub}/${f.name}`;
        report.unreadable.push({ where, error: errorChain(err) });
        run.log.error('reconcile: cannot read a mail file in the Maildir; it is not compared', {
          run: run.runId,
          source: s.name,
          file: where,
          error: errorChain(err),
        });
        continue;
      }
      const hash = Buffer.isBuffer(raw) ? sha256(raw) : raw.sha256;
      if (run.shaKnown(hash)) {
        report.known++;
        dropSpool(raw);
        continue;
      }
      const locator = maildirLocator(f.name);
      const [r] = storeFound(
        run,
        s.name,
        [{ raw, receivedAt: f.mtime, mailbox: s.path, locator, sourceKey: `reconcile:${s.name}:${locator}:${hash.slice(0, 16)}` }],
        () => ({
          where: f.name,
          detail: {
            mailbox: s.path,
            role: 'maildir',
            file: `${f.sub}/${f.name}`,
            // After a restore: the lost install renames what it stored into cur/ (src/cases/after-restore.ts).
            ...(run.restoring && f.sub === 'cur' ? { takenBefore: `in ${path.basename(s.path)}/cur/ of the Maildir` } : {}),
          },
        }),
      );
      if (!r.created) {
        report.known++;
        continue;
      }
      // Already in cur/: nothing left to do on disk, the file stays where it is.
      store.markServerDone([r.id], toInstant(run.deps.clock()));
      report.found.push({ where: f.name, inboundId: r.id, state: 'stored', kind: null, caseNumber: null });
      run.log.error('reconcile: a mail in the Maildir had never been stored; stored it and filing it now', {
        run: run.runId,
        source: s.name,
        file: f.name,
        inbound: r.id,
      });
    }
  } catch (err) {
    report.error = errorChain(err);
    run.log.error('reconcile: cannot compare a Maildir', { source: s.name, error: report.error });
  }
  return report;
}
