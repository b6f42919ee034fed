/**
 * A large mail read from an IMAP server into a spool file, in chunks (BODY.PEEK[]<start.length>),
 * never whole in memory (src/ingest/raw-files.ts LARGE_MAIL_BYTES).
 *
 * Not imapflow's `download`: it asks for each chunk with `fetchOne`, which takes the first FETCH
 * of its command, and a FETCH that another session's flag change sent meanwhile (an officer
 * reading the shared mailbox) can come first. On the first chunk the mail then passed for
 * expunged and the cursor moved past it; on a later one the stream ended early and the mail was
 * stored cut short, as if complete. Here every chunk's answers are collected (fetchAll) and the
 * one of this UID carrying the body is taken. RFC822.SIZE is no check of the length: Exchange
 * reports it only approximately.
 */
import { Readable } from 'node:stream';
import type { ImapFlow } from 'imapflow';
import { spoolRaw, SpooledRaw } from './raw-files';

const CHUNK_BYTES = 1024 * 1024;

/**
 * This UID's part of the body from `start`; null when the server has no such message (expunged).
 * Past the start of the mail a body of NIL (imapflow: `source` false) is taken as the empty string
 * RFC 3501 §6.4.5 asks for beyond the end of the text: the mail is there, its end was reached.
 */
async function chunkOf(client: ImapFlow, uid: number, start: number, maxLength: number): Promise<Buffer | null> {
  const answers = await client.fetchAll(String(uid), { uid: true, source: { start, maxLength } }, { uid: true });
  const chunk = answers.find((m) => m.uid === uid && Buffer.isBuffer(m.source))?.source ?? null;
  if (chunk) return chunk;
  if (start > 0 && answers.some((m) => m.uid === uid && 'source' in m)) return Buffer.alloc(0);
  refuseClosed(client, 'a mail was read');
  return null;
}

/**
 * Throws when `client`'s connection has closed. imapflow answers a FETCH on a closed connection
 * with nothing (it fetches only in a selected mailbox): that does not mean the mails asked for
 * are gone, and must not move a cursor past them.
 */
export function refuseClosed(client: ImapFlow, doing: string): void {
  if (!(client.usable && client.mailbox)) throw new Error(`the IMAP connection closed while ${doing}`);
}

/**
 * The mail `uid` spooled (hashed, fsynced; committed by the caller), or null when it is gone
 * before its first chunk. A mail that goes while it is read fails the read (nothing is stored;
 * the next scan lists what is there).
 */
export async function downloadLarge(
  client: ImapFlow,
  uid: number,
  dataDir: string,
  listedSize: number,
  chunkBytes: number = CHUNK_BYTES,
): Promise<SpooledRaw | null> {
  // As imapflow's download: never more than twice the listed size and a chunk (a server that
  // ignores the range and sends the whole mail each time would otherwise fill the disk).
  const bound = 2 * listedSize + chunkBytes;
  const first = await chunkOf(client, uid, 0, chunkBytes);
  if (!first) return null;
  async function* chunks(): AsyncGenerator<Buffer> {
    let chunk: Buffer = first!;
    let at = 0;
    for (;;) {
      yield chunk;
      at += chunk.length;
      // Longer than asked for: a server that ignores the partial range sent the whole mail.
      if (chunk.length > chunkBytes) return;
      // The end is an empty chunk: past the end a server answers with an empty string (RFC 3501
      // §6.4.5, "beyond the end of the text"). A chunk shorter than asked for is not taken as the
      // end, which costs one more FETCH per large mail: a server that sends less in the middle
      // of a mail (against the rule) would otherwise have the mail stored cut short, as if whole.
      const next = await chunkOf(client, uid, at, chunkBytes);
      if (!next) {
        // Gone after a short chunk: that chunk was most likely its end, and the mail can no longer
        // be read again; kept as read, as before the check of the end. Gone after a full chunk:
        // more was to come, so nothing is stored.
        if (chunk.length < chunkBytes) return;
        throw new Error(`mail UID ${uid} went from the server after ${at} bytes of it were read`);
      }
      if (next.length === 0) return;
      // The whole mail again after a short first chunk: a server that ignores the range, on a mail
      // smaller than a chunk that it listed as larger (Exchange's sizes are approximate). The
      // first chunk was the mail.
      if (at === first!.length && at < chunkBytes && next.equals(first!)) return;
      // Only when more is still coming: a last short chunk past the bound ends the mail, as before.
      if (at > bound) throw new Error(`mail UID ${uid} is still being sent after ${at} bytes, more than twice its listed size`);
      chunk = next;
    }
  }
  return spoolRaw(dataDir, Readable.from(chunks()));
}
