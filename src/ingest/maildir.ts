/**
 * Maildir source: the embedded default, and a real option for firms whose MTA delivers to a
 * Maildir. Semantics as for IMAP: new/X -> stored (committed) -> renamed to cur/X:2,S.
 *
 * A Maildir file name is unique per delivery (the MTA writes to tmp/ and renames into new/),
 * so the source key is the base name (without the ":2,..." info) plus a prefix of the content
 * hash: the same file seen again after a crash is recognised and only moved, while a person
 * copying a different file under a reused name is not mistaken for it.
 *
 * Files that a person copies straight into new/ (rather than through tmp/) may still be
 * growing; a file modified in the last moment is left for the next scan.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MaildirSourceConfig } from '../config/config';
import type { Store } from '../store/store';
import type { Clock } from '../util/clock';
import { sleep, toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { Wakeup } from '../util/wakeup';
import { storageFailure, storageFailureReading } from '../util/storage-error';
import { SourceStatusRecorder } from './source-status';
import { RawArrival, sha256, storeArrivals } from './intake';
import { LARGE_MAIL_BYTES, spoolRaw, SpooledRaw } from './raw-files';
import type { MailSource, PollStats } from './source';

const SETTLE_MS = 300;
const BATCH_FILES = 200;
const BATCH_BYTES = 32 * 1024 * 1024;

export function ensureMaildir(root: string): void {
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(root, sub), { recursive: true, mode: 0o700 });
}

function countNew(newDir: string): number | null {
  try {
    return fs.readdirSync(newDir).filter((n) => !n.startsWith('.')).length;
  } catch {
    return null;
  }
}

function baseName(fileName: string): string {
  const colon = fileName.indexOf(':');
  return colon >= 0 ? fileName.slice(0, colon) : fileName;
}

export class MaildirSource implements MailSource {
  readonly name: string;
  private readonly wakeup = new Wakeup();
  /** Written to the database for `klagomal status` in another process. */
  private readonly recorder: SourceStatusRecorder;
  /** Files left in new/ after the last scan (settling, unreadable, or arrived meanwhile). */
  private waiting: number | null = null;

  constructor(
    private readonly cfg: MaildirSourceConfig,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly dataDir: string,
  ) {
    this.name = cfg.name;
    this.recorder = new SourceStatusRecorder(store, cfg.name, cfg.path, clock, log, dataDir);
  }

  async pollOnce(): Promise<PollStats> {
    try {
      const stats = await this.scan();
      this.recorder.polledOnce({ folderMessages: null, waiting: this.waiting });
      return stats;
    } catch (err) {
      this.recorder.failedOnce(err);
      throw err;
    }
  }

  private async scan(): Promise<PollStats> {
    ensureMaildir(this.cfg.path);
    const newDir = path.join(this.cfg.path, 'new');
    let stored = 0;
    let alreadyStored = 0;
    let settling = false;
    const names = fs
      .readdirSync(newDir)
      .filter((n) => !n.startsWith('.'))
      .sort();
    for (let i = 0; i < names.length;) {
      const batch: Array<{ file: string; name: string; arrival: RawArrival }> = [];
      let bytes = 0;
      for (; i < names.length && batch.length < BATCH_FILES && bytes < BATCH_BYTES; i++) {
        const name = names[i];
        const file = path.join(newDir, name);
        let st: fs.Stats;
        let raw: Buffer | SpooledRaw | undefined;
        try {
          st = fs.statSync(file);
          if (!st.isFile()) continue;
          if (this.clock().getTime() - st.mtimeMs < SETTLE_MS) {
            settling = true;
            continue;
          }
          // A large mail is streamed into the spool, never read into memory whole.
          raw = st.size > LARGE_MAIL_BYTES ? await spoolRaw(this.dataDir, fs.createReadStream(file)) : fs.readFileSync(file);
          // Written to while it was read: a file copied straight into new/ (against the Maildir
          // rule of writing in tmp/ and renaming) that has not changed for SETTLE_MS but is still
          // being written. Stored, it would be filed cut short, and then again whole by the next
          // reconciliation, which finds the grown file in cur/. Left for a later scan. (A copy
          // that pauses past SETTLE_MS and resumes only after the file was taken is not seen.)
          // Gone meanwhile (a mail client took it to cur/): what was read is kept, as before.
          const after = fs.statSync(file, { throwIfNoEntry: false });
          if (after && (after.size !== (Buffer.isBuffer(raw) ? raw.length : raw.size) || after.mtimeMs !== st.mtimeMs)) {
            if (!Buffer.isBuffer(raw)) fs.rmSync(raw.tmpPath, { force: true });
            settling = true;
            continue;
          }
        } catch (err) {
          if (raw && !Buffer.isBuffer(raw)) fs.rmSync(raw.tmpPath, { force: true });
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // taken by someone else meanwhile
          // The data folder cannot take it (full, not ours): that is no fault of this file, and
          // the next ones would fail alike. The scan stops; everything stays in new/. The
          // embedded Maildir lies inside the data folder (config/default.json), so an error that
          // names this mail file itself is the file's (another user's, mode 0600), not the
          // spool's: taken for a storage failure it stopped every scan at this file.
          if (storageFailureReading(err, this.dataDir, file)) throw err;
          // One unreadable file (permissions, an I/O error) must not stop the others. It stays in
          // new/, is tried again on every scan, and is reported each time.
          this.log.error('cannot read a mail file; it stays in new/ and is tried again', { source: this.name, file: name, error: errorChain(err) });
          continue;
        }
        const base = baseName(name);
        const hash = Buffer.isBuffer(raw) ? sha256(raw) : raw.sha256;
        bytes += Buffer.isBuffer(raw) ? raw.length : 0;
        batch.push({
          file,
          name,
          arrival: {
            raw,
            receivedAt: st.mtime,
            mailbox: this.cfg.path,
            locator: base,
            sourceKey: `maildir:${this.cfg.name}:${base}:${hash.slice(0, 16)}`,
          },
        });
      }
      if (batch.length === 0) continue;
      const results = storeArrivals(
        this.store,
        this.dataDir,
        this.cfg.name,
        batch.map((b) => b.arrival),
        toInstant(this.clock()),
      );
      // Committed: now, and only now, mark each file as taken by moving it to cur/ with the S flag.
      const marked: number[] = [];
      batch.forEach((b, k) => {
        if (results[k].created) stored++;
        else alreadyStored++;
        if (this.moveToCur(b.file, b.name)) marked.push(results[k].id);
      });
      this.store.markServerDone(marked, toInstant(this.clock()));
      this.recorder.heartbeat(); // a long backlog must not look like a dead service
    }
    this.waiting = countNew(newDir);
    if (settling) setTimeout(() => this.wakeup.notify(), SETTLE_MS).unref();
    return { stored, alreadyStored };
  }

  private moveToCur(file: string, name: string): boolean {
    const curDir = path.join(this.cfg.path, 'cur');
    const base = baseName(name);
    let target = path.join(curDir, `${base}:2,S`);
    for (let n = 1; fs.existsSync(target); n++) target = path.join(curDir, `${base}.${n}:2,S`);
    try {
      fs.renameSync(file, target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // already moved
      this.log.error('cannot move a stored mail to cur/', { source: this.name, file: name, error: errorChain(err) });
      return false;
    }
  }

  async run(signal: AbortSignal, onStored: () => void): Promise<void> {
    ensureMaildir(this.cfg.path);
    let watcher: fs.FSWatcher | null = null;
    try {
      watcher = fs.watch(path.join(this.cfg.path, 'new'), () => this.wakeup.notify());
      watcher.on('error', () => undefined); // the poll interval still covers us
    } catch (err) {
      this.log.warn('fs.watch unavailable; polling only', { source: this.name, error: errorChain(err) });
    }
    let failures = 0;
    this.recorder.connected(); // for a Maildir: watched
    try {
      while (!signal.aborted) {
        try {
          const stats = await this.scan();
          failures = 0;
          this.recorder.polled({ folderMessages: null, waiting: this.waiting });
          if (stats.stored > 0 || stats.alreadyStored > 0) onStored();
        } catch (err) {
          failures++;
          this.recorder.failed(err);
          const failure = storageFailure(err, this.dataDir);
          if (!failure) this.log.error('maildir scan failed', { source: this.name, error: errorChain(err), failures });
          else if (failures === 1)
            this.log.error('cannot store mail: the data folder cannot be written; the mail stays in new/ and is taken once it can', {
              source: this.name,
              code: failure.code,
              error: errorChain(err),
              fix: failure.fix,
            });
          else this.log.debug('the data folder still cannot be written', { source: this.name, code: failure.code, failures });
          await sleep(Math.min(60_000, 1000 * 2 ** Math.min(failures, 6)), signal);
        }
        await this.wakeup.wait(this.cfg.pollSeconds * 1000, signal);
      }
    } finally {
      watcher?.close();
      this.recorder.stopped();
    }
  }
}
