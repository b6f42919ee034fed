/**
 * Intake: the first thing that happens to every mail, whatever its source. The raw bytes, their
 * sha256 and where they came from are committed to the database (together with the source's
 * cursor) before anything parses them and before the source marks the mail as taken. Only
 * after `storeArrivals` returns may a source set \Seen, move the mail, or rename a Maildir file.
 *
 * Idempotent: a mail whose source key (mailbox + UIDVALIDITY + UID, or Maildir file name +
 * hash) is already stored is not stored again; the caller still gets its id, so it can finish
 * the marking that a crash interrupted.
 *
 * Small mails arrive as bytes and go into the database; large ones arrive already spooled to a
 * temporary file (src/ingest/raw-files.ts), which is moved to its content address, durably,
 * before the transaction that records it.
 */
import crypto from 'node:crypto';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';
import { commitSpooledRaw, SpooledRaw } from './raw-files';

export interface RawArrival {
  /** The whole mail (small mails), or a spooled file (large mails). */
  readonly raw: Buffer | SpooledRaw;
  /** INTERNALDATE from the server, or the file's modification time. */
  readonly receivedAt: Date;
  readonly mailbox: string | null;
  readonly locator: string | null;
  /** Unique per source location; null for one-off files (`klagomal ingest`). */
  readonly sourceKey: string | null;
  readonly uidvalidity?: string | null;
  readonly uid?: number | null;
}

export interface StoredArrival {
  readonly id: number;
  readonly created: boolean;
}

export interface CursorUpdate {
  readonly mailbox: string;
  readonly uidvalidity: string;
  readonly lastUid: number;
}

export function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Commit a batch of raw mails (and the cursor that covers them) in one transaction. */
export function storeArrivals(
  store: Store,
  dataDir: string,
  source: string,
  arrivals: readonly RawArrival[],
  now: Instant,
  cursor?: CursorUpdate,
): StoredArrival[] {
  // Files first, durably; only then the rows that point at them.
  const bodies = arrivals.map((a) =>
    Buffer.isBuffer(a.raw)
      ? { sha256: sha256(a.raw), size: a.raw.length, raw: { bytes: a.raw } }
      : { sha256: a.raw.sha256, size: a.raw.size, raw: { path: commitSpooledRaw(dataDir, a.raw) } },
  );
  return store.tx(() => {
    const out: StoredArrival[] = [];
    arrivals.forEach((a, i) => {
      const received = Number.isNaN(a.receivedAt.getTime()) ? now : a.receivedAt.toISOString();
      const body = bodies[i];
      const r = store.storeInbound(
        {
          source,
          mailbox: a.mailbox,
          locator: a.locator,
          sourceKey: a.sourceKey,
          uidvalidity: a.uidvalidity ?? null,
          uid: a.uid ?? null,
          receivedAt: received,
          ...body,
        },
        now,
      );
      if (r.created) {
        store.appendEvent({
          at: now,
          inboundId: r.id,
          actor: `source:${source}`,
          type: 'mail-stored',
          detail: {
            source,
            mailbox: a.mailbox,
            locator: a.locator,
            size: body.size,
            receivedAt: received,
            ...('path' in body.raw ? { storedAs: 'file' } : {}),
          },
        });
      }
      out.push(r);
    });
    if (cursor) store.setCursor(source, cursor.mailbox, cursor.uidvalidity, cursor.lastUid, now);
    return out;
  });
}
