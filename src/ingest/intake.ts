/**
 * Intake: the first thing that happens to every mail, whatever its source. The raw bytes, their
 * sha256 and where they came from are committed to the database (together with the source's
 * cursor) before anything parses them and before the source marks the mail as taken. Only
 * after `storeArrivals` returns may a source set \Seen, move the mail, or rename a Maildir file.
 *
 * Idempotent: a mail whose source key (mailbox + UIDVALIDITY + UID, or Maildir file name +
 * hash) is already stored is not stored again; the caller still gets its id, so it can finish
 * the marking that a crash interrupted.
 */
import crypto from 'node:crypto';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';

export interface RawArrival {
  readonly raw: Buffer;
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
export function storeArrivals(store: Store, source: string, arrivals: readonly RawArrival[], now: Instant, cursor?: CursorUpdate): StoredArrival[] {
  return store.tx(() => {
    const out: StoredArrival[] = [];
    for (const a of arrivals) {
      const received = Number.isNaN(a.receivedAt.getTime()) ? now : a.receivedAt.toISOString();
      const r = store.storeInbound(
        {
          source,
          mailbox: a.mailbox,
          locator: a.locator,
          sourceKey: a.sourceKey,
          uidvalidity: a.uidvalidity ?? null,
          uid: a.uid ?? null,
          receivedAt: received,
          raw: a.raw,
          sha256: sha256(a.raw),
        },
        now,
      );
      if (r.created) {
        store.appendEvent({
          at: now,
          inboundId: r.id,
          actor: `source:${source}`,
          type: 'mail-stored',
          detail: { source, mailbox: a.mailbox, locator: a.locator, size: a.raw.length, receivedAt: received },
        });
      }
      out.push(r);
    }
    if (cursor) store.setCursor(source, cursor.mailbox, cursor.uidvalidity, cursor.lastUid, now);
    return out;
  });
}
