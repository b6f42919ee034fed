/**
 * The decisions of a comparison, pure: which mails listed on a server (or files in a Maildir)
 * are known, the source's to take, or to be fetched and checked by their bytes; and the small
 * parsers they need (the Message-ID of a header-fields answer, a Maildir file's delivery name).
 */
import { normaliseMessageId } from '../util/header-safe';

/** A mail as listed on the server: no body. */
export interface ServerMail {
  readonly uid: number;
  readonly size: number;
  readonly messageId: string | null;
  readonly internalDate: Date | null;
  /** Flagged \Seen (listed for the watched folder; undefined elsewhere). */
  readonly seen?: boolean;
}

export interface FolderFacts {
  readonly role: 'watched' | 'processed' | 'sent';
  /** The folder's UIDVALIDITY now. */
  readonly uidvalidity: string;
  /** The source's cursor for this folder (watched and Sent folders; null for the processed folder). */
  readonly cursor: { readonly uidvalidity: string; readonly lastUid: number } | null;
  /** UIDs stored from this folder under `uidvalidity`, by its source or an earlier reconcile. */
  readonly storedUids: ReadonlySet<number>;
  /**
   * After a restore, before anything is filed (src/reconcile/after-restore.ts): mail above the
   * cursor is not the source's to take but this run's, which sees how the lost install marked it.
   */
  readonly restoring?: boolean;
}

export interface FolderPlan {
  readonly known: number;
  readonly waiting: number;
  readonly notCompared: number;
  /** To fetch and hash: known by sha256, or never stored. */
  readonly toCheck: ServerMail[];
}

/** Which listed mails are known, the source's to take, or to be fetched and checked by hash. */
export function planFolder(mails: readonly ServerMail[], facts: FolderFacts, messageIdKnown: (messageId: string, size: number) => boolean): FolderPlan {
  let known = 0;
  let waiting = 0;
  let notCompared = 0;
  const toCheck: ServerMail[] = [];
  // The watched and Sent folders are read by their source up to its cursor; what is above it
  // (or in a renumbered folder the source has not rescanned yet) is not missing, only not yet read.
  const cursor = facts.role !== 'processed' && facts.cursor && facts.cursor.uidvalidity === facts.uidvalidity ? facts.cursor.lastUid : null;
  // The Sent folder is read from its end at the first look: the mail before the first one stored
  // is the mailbox's history, deliberately not read (src/ingest/imap.ts).
  const sentFrom = facts.role === 'sent' ? minimum(facts.storedUids) : null;
  for (const m of mails) {
    const aboveCursor = facts.role !== 'processed' && (cursor === null || m.uid > cursor);
    if (aboveCursor && facts.restoring) {
      if (facts.storedUids.has(m.uid) || (m.messageId !== null && messageIdKnown(m.messageId, m.size))) known++;
      else toCheck.push(m);
    } else if (aboveCursor) waiting++;
    else if (facts.role === 'sent' && (sentFrom === null || m.uid < sentFrom)) notCompared++;
    // A Message-ID alone does not make a mail known: different mails can share one (a web
    // form's constant id, a forged one). The size must match too; anything else is fetched and
    // compared by its bytes, and filing tells a copy from another mail (src/parse/content-key.ts).
    else if (facts.storedUids.has(m.uid) || (m.messageId !== null && messageIdKnown(m.messageId, m.size))) known++;
    else toCheck.push(m);
  }
  return { known, waiting, notCompared, toCheck };
}

/** The smallest of `values`, or null when there is none. */
export function minimum(values: ReadonlySet<number>): number | null {
  let min: number | null = null;
  for (const v of values) if (min === null || v < min) min = v;
  return min;
}

/** The Message-ID of a `BODY[HEADER.FIELDS (MESSAGE-ID)]` answer, normalised as the parser does. */
export function messageIdFromHeaders(headers: Buffer | string | undefined | null): string | null {
  if (!headers) return null;
  const text = (Buffer.isBuffer(headers) ? headers.toString('utf8') : headers).replace(/\r?\n[ \t]+/g, ' '); // unfold (RFC 5322 §2.2.3)
  const m = /^message-id[ \t]*:(.*)$/im.exec(text);
  return m ? normaliseMessageId(m[1]) : null;
}

/** A Maildir file's delivery name: the name without the ":2,<flags>" info part. */
export function maildirLocator(fileName: string): string {
  const colon = fileName.indexOf(':');
  return colon >= 0 ? fileName.slice(0, colon) : fileName;
}

export interface MaildirFile {
  readonly sub: 'new' | 'cur';
  readonly name: string;
  readonly size: number;
  readonly mtime: Date;
}

/**
 * Files in new/ are the source's queue (`waiting`). A file in cur/ is known when a mail was
 * stored under its delivery name with its size; anything else is fetched and checked by hash
 * (the source renames a clash to "<name>.1", and a person may have copied a different file
 * under a reused name).
 */
export function planMaildir(
  files: readonly MaildirFile[],
  storedSizes: ReadonlyMap<string, ReadonlySet<number>>,
): { known: number; waiting: number; toCheck: MaildirFile[] } {
  let known = 0;
  let waiting = 0;
  const toCheck: MaildirFile[] = [];
  for (const f of files) {
    if (f.sub === 'new') waiting++;
    else if (storedSizes.get(maildirLocator(f.name))?.has(f.size)) known++;
    else toCheck.push(f);
  }
  return { known, waiting, toCheck };
}
