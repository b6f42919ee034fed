/**
 * The content key of a raw mail: what makes two copies "the same mail" even when they differ in
 * their trace headers.
 *
 * A Message-ID alone does not identify a mail. RFC 5322 §3.6.4 asks generators to make it
 * unique, but web forms and CRMs send every mail with one constant Message-ID, test suites ship
 * different mails sharing one, and anyone who can guess a customer's Message-ID can send a mail
 * with it first. Treating "Message-ID seen before" as "already filed" would then drop the
 * customer's complaint without a trace. So a duplicate is the same Message-ID *and* the same
 * content: the same From, Date and body, and the same Subject, Reply-To, To, Cc, In-Reply-To and
 * References (fields the author writes, which no relay changes). The trace fields that a second
 * delivery route adds or changes (Received, Return-Path, Delivered-To, Authentication-Results,
 * X-headers of the receiving server) are left out, so that one mail delivered twice (To and Cc
 * to two aliases, a UIDVALIDITY rescan, a copy in two folders) is still recognised.
 *
 * Pure and byte-based (no mailparser): it can be computed for an earlier mail straight from its
 * stored raw bytes, whatever version of the parser filed it.
 */
import crypto from 'node:crypto';

/** Where the header section ends: the first empty line (CRLF or bare LF, RFC 5322 §2.1). */
function headerEnd(raw: Buffer): { end: number; bodyStart: number } {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    // "\n\n" or "\n\r\n": the line after this LF is empty.
    if (raw[i + 1] === 0x0a) return { end: i, bodyStart: i + 2 };
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return { end: i, bodyStart: i + 3 };
  }
  return { end: raw.length, bodyStart: raw.length };
}

/** The first value of a header field, unfolded, whitespace collapsed (RFC 5322 §2.2.3). */
function firstField(header: string, name: string): string {
  const lines = header.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0 || lines[i].slice(0, colon).trim().toLowerCase() !== name) continue;
    let value = lines[i].slice(colon + 1);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1])) value += ' ' + lines[++i];
    return value.replace(/\s+/g, ' ').trim();
  }
  return '';
}

/**
 * The fields the author wrote, beside From, that a second delivery route never changes: a mail
 * with another Reply-To, recipient, subject or thread is another mail to us (another customer
 * to answer, another case to thread to), even when a test suite or a form gave it the same
 * Message-ID, From, Date and body.
 */
const AUTHOR_FIELDS = ['date', 'subject', 'reply-to', 'to', 'cc', 'in-reply-to', 'references'] as const;

/**
 * sha256 over From, Date, the other author fields and the body. The body is compared line by line with line endings
 * and trailing white space normalised (a Maildir copy has LF where the IMAP copy has CRLF, and
 * relays may strip trailing spaces), and trailing empty lines dropped.
 */
export function contentKey(raw: Buffer): string {
  const { end, bodyStart } = headerEnd(raw);
  const header = raw.subarray(0, end).toString('latin1');
  const body = raw
    .subarray(bodyStart)
    .toString('latin1')
    .split(/\r\n|\n|\r/)
    .map((l) => l.replace(/[ \t]+$/, ''));
  while (body.length > 0 && body[body.length - 1] === '') body.pop();
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([firstField(header, 'from').toLowerCase(), ...AUTHOR_FIELDS.map((f) => firstField(header, f)), body.length]))
    .update('\n')
    .update(body.join('\n'), 'latin1')
    .digest('hex');
}
