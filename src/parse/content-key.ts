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

/**
 * The mail's lines, whatever its line endings (RFC 5322 §2.1 says CRLF; clients write LF, old
 * Macs and some gateways a bare CR, a doubled conversion CR CR LF). A mail with no LF at all
 * ends its lines with CR; otherwise a run of CRs before an LF is one line end. Without this a
 * CR-only mail is one long header line with no body, and two different such mails would share
 * a key (the same normalisation as the parser's, src/parse/charset-repair.ts).
 */
function linesOf(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  return (text.includes('\n') ? text.replace(/\r+\n/g, '\n') : text.replace(/\r/g, '\n')).split('\n');
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
  const lines = linesOf(raw);
  const end = lines.indexOf('');
  const header = (end < 0 ? lines : lines.slice(0, end)).join('\n');
  const body = (end < 0 ? [] : lines.slice(end + 1)).map((l) => l.replace(/[ \t]+$/, ''));
  while (body.length > 0 && body[body.length - 1] === '') body.pop();
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([firstField(header, 'from').toLowerCase(), ...AUTHOR_FIELDS.map((f) => firstField(header, f)), body.length]))
    .update('\n')
    .update(body.join('\n'), 'latin1')
    .digest('hex');
}
