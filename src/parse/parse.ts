/**
 * Parse: raw bytes -> ParsedMail.
 *
 * Input: the raw message exactly as stored. Output: the fields the classifier and the case
 * store need, plus a list of problems noticed on the way (a missing Message-ID, an unreadable
 * date). The parser is tolerant: a mail that mailparser can read at all gives a ParsedMail;
 * only a mail that makes mailparser throw is reported as an error (and quarantined by the
 * caller, raw bytes kept).
 *
 * Attachments are streamed to files under <dataDir>/attachments, named by the sha256 of their
 * content (never by the sender's file name, which is kept only as a display value). The text
 * body comes from the text/plain part, or is converted from HTML when there is none; in that
 * conversion scripts and styles are dropped.
 *
 * Side effects: attachment files only. They are content-addressed, so parsing the same mail
 * twice (after a crash or a quarantine retry) writes the same files again, harmlessly.
 */
import { MailParser, AddressObject, EmailAddress } from 'mailparser';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { commitSpooled, spoolToTemp } from '../util/content-file';
import { messageIdList, normaliseAddress, normaliseMessageId, otherAddressInName } from '../util/header-safe';
import { convertHtml } from './html';
import { LINE_ENDINGS_NOTE, normaliseLineEndingsStream, repairCharsets } from './charset-repair';
import { findInlineForward, ForwardedOriginal } from './forwarded';
import { plausibleDate } from './complaint-fields';
import fs from 'node:fs';

export interface MailAddress {
  readonly address: string;
  readonly name: string;
}

export interface ParsedAttachment {
  /** As given by the sender; for display only, never used as a path. */
  readonly filename: string | null;
  readonly contentType: string;
  readonly size: number;
  readonly sha256: string;
  /** Relative to the data folder, e.g. attachments/3f/3fa2...e1 */
  readonly path: string;
}

/** Header access by lower-case name; values unfolded, in order of appearance. */
export interface HeaderView {
  get(name: string): string | undefined;
  all(name: string): string[];
  has(name: string): boolean;
  /** Every field in the order it stands, top first (names lower-cased, values unfolded). */
  inOrder?(): ReadonlyArray<{ readonly name: string; readonly value: string }>;
}

export interface ParsedMail {
  readonly messageId: string | null;
  readonly inReplyTo: string | null;
  readonly references: readonly string[];
  readonly from: MailAddress | null;
  /** The From's display name, also when its address is unusable (then `from` is null). */
  readonly fromName: string | null;
  /** An abuse feedback report (ARF, RFC 5965) or a provider's equivalent (Hotmail JMRP). */
  readonly feedbackReport: boolean;
  readonly replyTo: MailAddress | null;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[];
  readonly subject: string;
  readonly date: Date | null;
  /** The Return-Path added at delivery: '' for the null sender <>, null when absent. */
  readonly returnPath: string | null;
  /** Content-Type of the whole message, lower case, e.g. "multipart/report". */
  readonly contentType: string;
  readonly contentTypeParams: Readonly<Record<string, string>>;
  readonly text: string;
  readonly textFromHtml: boolean;
  readonly headers: HeaderView;
  readonly attachments: readonly ParsedAttachment[];
  /**
   * Message-IDs quoted inside the mail (a bounce's returned headers, a forwarded mail): how a
   * bounce is linked to the mail of ours it returns.
   */
  readonly embeddedMessageIds: readonly string[];
  /** From a delivery status notification: the first Action and Status fields (RFC 3464). */
  readonly dsn: { readonly action: string | null; readonly status: string | null } | null;
  /**
   * The original mail inside a forward (a message/rfc822 attachment or an inline block of
   * its headers), whoever sent it; src/classify/classify.ts decides whether it is believed.
   */
  readonly forwarded?: ForwardedOriginal | null;
  readonly problems: readonly string[];
}

export interface ParseOptions {
  /** Where attachments/ lives. */
  readonly dataDir: string;
  /** Parsing a mail found inside another (a forward's attachment): no deeper. */
  readonly nested?: boolean;
  /** When the mail reached the firm: a Date header later than this (plus a day) is not believed. */
  readonly receivedAt?: Date;
}

/** A forwarded original larger than this is not opened to read its sender (it stays an attachment). */
const NESTED_PARSE_LIMIT = 10 * 1024 * 1024;

/**
 * Bounds on what one mail may make us hold and work through (issue 17: a 50 MB text/plain body
 * took 1 GB and 7 s; 10 MB of `<p>a</p>` 1.1 GB). Past a bound the mail is still filed, with
 * what was read, and the cut is one of its problems (on the message, its `mail-filed` event and
 * `case show`); the raw mail, kept before parsing, is complete. Attachments are streamed to disk
 * and not bounded by size.
 */
export const PARSE_BOUNDS = {
  /** Bytes (as received) of all text/plain and text/html parts together that mailparser keeps. */
  textPartBytes: 8 * 1024 * 1024,
  /** The same inside a forwarded original (read for its sender, date and the customer's words). */
  nestedTextPartBytes: 1024 * 1024,
  /**
   * MIME parts: mailsplit's own limit (its default), set here so that it is ours. Past it the
   * split stops with EMAXLEN; the mail is then filed with its headers and the text of the
   * parts read so far. Each part costs mailsplit work in proportion to its nesting depth, so
   * this also bounds 10,000 nested multiparts.
   */
  parts: 1000,
  /** Characters of body text stored and read for the complaint's fields. */
  textChars: 1_000_000,
} as const;

/** The slice of mailparser's internals that the bounds below need (mailparser 3.9, pinned). */
interface MailParserInternals {
  curnode?: { isAttachment?: boolean; decoder?: unknown } | false;
  processChunk(data: { type: string; value?: Buffer }, done: (err?: Error) => void): void;
  getTextContent(): { text?: string; html?: string };
}

/**
 * Bound the text mailparser gathers. It keeps every inline text part whole in memory (chunks,
 * one Buffer, a string and copies) and has no option to bound it; its `processChunk` is where
 * each piece of the split mail arrives, so the bound sits there: body bytes of a text part past
 * the budget are not handed on, and the part ends where the budget does.
 */
function boundText(parser: MailParser, budget: number): { textCut: boolean } {
  const state = { textCut: false };
  const inner = parser as unknown as MailParserInternals;
  const original = inner.processChunk.bind(parser);
  let textBytes = 0;
  inner.processChunk = (data, done) => {
    const node = inner.curnode;
    if (data.type === 'body' && data.value && node && node.decoder && !node.isAttachment) {
      const room = budget - textBytes;
      if (data.value.length > room) {
        state.textCut = true;
        if (room <= 0) return done();
        data = { ...data, value: data.value.subarray(0, room) };
      }
      textBytes += data.value!.length;
    }
    return original(data, done);
  };
  return state;
}

/** mailsplit's "Max allowed child nodes exceeded": more MIME parts than PARSE_BOUNDS.parts. */
function tooManyParts(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'EMAXLEN' && /child nodes/i.test(String((err as Error).message));
}

/** The first `max` characters, not splitting a surrogate pair. */
function cutText(text: string, max: number): string {
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

async function storeAttachment(content: Readable, dataDir: string): Promise<{ sha256: string; size: number; path: string }> {
  const spooled = await spoolToTemp(path.join(dataDir, 'attachments', 'tmp'), content);
  const rel = path.join('attachments', spooled.sha256.slice(0, 2), spooled.sha256);
  commitSpooled(spooled, path.join(dataDir, rel));
  return { sha256: spooled.sha256, size: spooled.size, path: rel };
}

function headerView(lines: ReadonlyArray<{ key: string; line: string }>): HeaderView {
  const map = new Map<string, string[]>();
  for (const { key, line } of lines) {
    const colon = line.indexOf(':');
    const value = (colon >= 0 ? line.slice(colon + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim();
    const k = key.toLowerCase();
    const list = map.get(k);
    if (list) list.push(value);
    else map.set(k, [value]);
  }
  const ordered = lines.map(({ key, line }) => {
    const colon = line.indexOf(':');
    return { name: key.toLowerCase(), value: (colon >= 0 ? line.slice(colon + 1) : '').replace(/\r?\n[ \t]+/g, ' ').trim() };
  });
  return {
    get: (n) => map.get(n.toLowerCase())?.[0],
    all: (n) => map.get(n.toLowerCase()) ?? [],
    has: (n) => map.has(n.toLowerCase()),
    inOrder: () => ordered,
  };
}

function firstAddress(v: AddressObject | AddressObject[] | undefined): MailAddress | null {
  return addressList(v)[0] ?? null;
}

function addressList(v: AddressObject | AddressObject[] | undefined): MailAddress[] {
  if (!v) return [];
  const out: MailAddress[] = [];
  const visit = (e: EmailAddress): void => {
    if (e.group) e.group.forEach(visit);
    const address = normaliseAddress(e.address);
    if (address) out.push({ address, name: (e.name ?? '').trim() });
  };
  for (const obj of Array.isArray(v) ? v : [v]) obj.value.forEach(visit);
  return out;
}

/**
 * Parse one raw message, given as bytes or as a stream (large mails are read from their file,
 * so they are never in memory whole). Rejects only when the input cannot be read as a mail.
 */
export async function parseMail(input: Buffer | Readable, opts: ParseOptions): Promise<ParsedMail> {
  // Old Swedish clients: 8-bit Latin-1 without a charset (see charset-repair.ts). Only for mails
  // in memory; a large streamed mail is parsed as it is.
  const repair = Buffer.isBuffer(input) ? repairCharsets(input) : null;
  const raw = repair ? repair.bytes : input;
  const parser = new MailParser({
    skipImageLinks: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipHtmlToText: true, // we convert HTML ourselves (src/parse/html.ts) so that scripts and styles never survive
    checksumAlgo: 'sha256',
    maxChildNodes: PARSE_BOUNDS.parts, // passed on to mailsplit
  } as ConstructorParameters<typeof MailParser>[0]);
  const textBudget = opts.nested ? PARSE_BOUNDS.nestedTextPartBytes : PARSE_BOUNDS.textPartBytes;
  const bounds = boundText(parser, textBudget);
  const problems: string[] = [...(repair?.notes ?? [])];
  const attachments: ParsedAttachment[] = [];
  const pendingWrites: Promise<void>[] = [];
  let headers: Map<string, unknown> = new Map();
  let text: string | undefined;
  let html: string | undefined;

  const done = new Promise<void>((resolve, reject) => {
    parser.on('headers', (h) => {
      headers = h as Map<string, unknown>;
    });
    parser.on('data', (data) => {
      if (data.type === 'text') {
        if (typeof data.text === 'string') text = data.text;
        if (typeof data.html === 'string') html = data.html;
        return;
      }
      // An attachment: stream it to disk; release() lets the parser continue.
      const att = data;
      if (opts.nested) {
        // Inside a forwarded original: the outer mail keeps the whole original as one
        // attachment; files of its own would be on disk with no record pointing at them.
        const content = att.content as unknown as Readable;
        content.once('end', () => att.release());
        content.once('error', () => att.release());
        content.resume();
        return;
      }
      const write = storeAttachment(att.content as unknown as Readable, opts.dataDir)
        .then((stored) => {
          attachments.push({
            filename: att.filename ? String(att.filename).slice(0, 255) : null,
            contentType: String(att.contentType || 'application/octet-stream').toLowerCase(),
            size: stored.size,
            sha256: stored.sha256,
            path: stored.path,
          });
        })
        .finally(() => att.release());
      pendingWrites.push(write);
    });
    parser.on('end', resolve);
    parser.on('error', reject);
  });

  // Feed in chunks with back-pressure: the parser never needs the whole message as one more copy.
  const CHUNK = 256 * 1024;
  const chunks: AsyncIterable<Buffer> | Iterable<Buffer> = Buffer.isBuffer(raw)
    ? (function* () {
        for (let off = 0; off < raw.length; off += CHUNK) yield raw.subarray(off, Math.min(raw.length, off + CHUNK));
      })()
    : normaliseLineEndingsStream(raw as AsyncIterable<Buffer>, () => problems.push(LINE_ENDINGS_NOTE));
  const feed = (async () => {
    for await (const chunk of chunks) {
      if (!parser.write(chunk)) await new Promise<void>((r) => parser.once('drain', () => r()));
    }
    parser.end();
  })();

  let partsCut = false;
  try {
    await Promise.all([done, feed]);
  } catch (err) {
    if (!Buffer.isBuffer(raw)) (raw as Readable).destroy(); // the rest of the file is not read
    if (!tooManyParts(err)) throw err;
    // Too many parts: the mail is filed on its headers and the text of the parts read so far.
    // Attachments are left out: the one being written when the split stopped never ends.
    partsCut = true;
    attachments.length = 0;
    try {
      const partial = (parser as unknown as MailParserInternals).getTextContent();
      text = partial.text;
      html = partial.html;
    } catch {
      text = html = undefined;
    }
  }
  if (!partsCut) {
    const writes = await Promise.allSettled(pendingWrites);
    for (const w of writes) if (w.status === 'rejected') throw w.reason;
  }

  const lines = (parser as unknown as { headerLines?: Array<{ key: string; line: string }> }).headerLines ?? [];
  const view = headerView(lines);

  const rawMessageId = view.get('message-id');
  const messageId = normaliseMessageId(rawMessageId);
  if (!rawMessageId) problems.push('no Message-ID header');
  else if (!messageId) problems.push('unusable Message-ID header');

  // Read the Date header ourselves: mailparser silently puts the parse time in its place when
  // it cannot read it, and a made-up date must never pass for the customer's.
  const dateText = view.get('date');
  let date: Date | null = null;
  if (dateText !== undefined) {
    const d = new Date(dateText.replace(/\s*\([^)]*\)\s*$/, ''));
    if (Number.isNaN(d.getTime())) problems.push('unreadable Date header');
    // Year 275000, 1970 or next year: not a date (src/parse/complaint-fields.ts plausibleDate).
    else if (!plausibleDate(d, opts.receivedAt ?? null)) problems.push('implausible Date header (before 1990 or after the arrival): ignored');
    else date = d;
  }

  const subjectValue = headers.get('subject');
  const subject = typeof subjectValue === 'string' ? subjectValue : '';

  const ct = headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;

  const returnPathRaw = view.get('return-path');
  let returnPath: string | null = null;
  if (returnPathRaw !== undefined) {
    const inner = /<([^>]*)>/.exec(returnPathRaw);
    returnPath = (inner ? inner[1] : returnPathRaw).trim().toLowerCase();
  }

  if (partsCut)
    problems.push(
      `more than ${PARSE_BOUNDS.parts} MIME parts: only the headers and the text of the parts before were read, no attachments (the raw mail is complete)`,
    );
  if (bounds.textCut) problems.push(`text parts longer than ${textBudget} bytes in all: the text after that was not read (the raw mail is complete)`);
  let body = text ?? '';
  let textFromHtml = false;
  if (!text?.trim() && html) {
    const converted = convertHtml(html);
    body = converted.text;
    problems.push(...converted.notes);
    textFromHtml = true;
  }
  html = undefined; // up to PARSE_BOUNDS.textPartBytes: not kept while the rest is read
  if (body.length > PARSE_BOUNDS.textChars) {
    problems.push(`text of ${body.length} characters cut to the first ${PARSE_BOUNDS.textChars} (the raw mail is complete)`);
    body = cutText(body, PARSE_BOUNDS.textChars);
  }

  // Message-IDs and DSN fields inside the mail (returned headers, delivery-status parts). Read
  // from the raw bytes, which holds every part whatever mailparser makes of it; only for mails
  // that are in memory anyway (bounces are small).
  const embedded = new Set<string>(); // a Set: 2 MB of Message-ID lines is 50,000 of them
  let dsn: ParsedMail['dsn'] = null;
  let feedbackReport = false;
  if (Buffer.isBuffer(raw) && raw.length <= 2 * 1024 * 1024) {
    const rawText = raw.toString('latin1');
    for (const m of rawText.matchAll(/^(?:Message-ID|X-Original-Message-ID)\s*:\s*<([^<>\s]+)>/gim)) {
      const id = normaliseMessageId(m[1]);
      if (id && id !== messageId) embedded.add(id);
    }
    const action = /^Action\s*:\s*([a-z]+)/im.exec(rawText)?.[1]?.toLowerCase() ?? null;
    const status = /^Status\s*:\s*([245]\.\d{1,3}\.\d{1,3})/im.exec(rawText)?.[1] ?? null;
    if (action || status) dsn = { action, status };
    feedbackReport = /^Feedback-Type\s*:/im.test(rawText) || /^X-HmXmrOriginalRecipient\s*:/im.test(rawText);
  }
  const embeddedMessageIds = [...embedded];

  const from = firstAddress(headers.get('from') as AddressObject | undefined);
  const fromName = ((headers.get('from') as AddressObject | undefined)?.value?.[0]?.name ?? '').trim() || null;
  // A display name that is itself another address passes for that address in a list of names.
  const hidden = otherAddressInName(fromName, from?.address);
  if (hidden) problems.push(`the From display name holds another address (${hidden}) than the sender's`);

  return {
    messageId,
    forwarded: opts.nested ? null : await forwardedOriginal(body, subject, attachments, opts),
    embeddedMessageIds,
    dsn,
    feedbackReport,
    fromName,
    inReplyTo: messageIdList(view.get('in-reply-to'))[0] ?? null,
    references: messageIdList(view.all('references')),
    from,
    replyTo: firstAddress(headers.get('reply-to') as AddressObject | undefined),
    to: addressList(headers.get('to') as AddressObject | AddressObject[] | undefined),
    cc: addressList(headers.get('cc') as AddressObject | AddressObject[] | undefined),
    subject,
    date,
    returnPath,
    contentType: (ct?.value ?? 'text/plain').toLowerCase(),
    contentTypeParams: Object.fromEntries(Object.entries(ct?.params ?? {}).map(([k, v]) => [k.toLowerCase(), String(v).toLowerCase()])),
    text: body,
    textFromHtml,
    headers: view,
    attachments,
    problems,
  };
}

/** The original of a forward: an attached message/rfc822 first, else an inline header block. */
async function forwardedOriginal(
  text: string,
  subject: string,
  attachments: readonly ParsedAttachment[],
  opts: ParseOptions,
): Promise<ForwardedOriginal | null> {
  const attached = attachments.find((a) => a.contentType === 'message/rfc822' && a.size <= NESTED_PARSE_LIMIT);
  if (attached) {
    try {
      const inner = await parseMail(fs.readFileSync(path.join(opts.dataDir, attached.path)), { ...opts, nested: true });
      if (inner.from) {
        return {
          via: 'attachment',
          from: inner.from,
          date: inner.date,
          dateText: inner.headers.get('date') ?? null,
          subject: inner.subject || null,
          messageId: inner.messageId,
          text: inner.text.trim(),
        };
      }
    } catch {
      // An unreadable attachment is only an attachment; the inline form may still be there.
    }
  }
  return findInlineForward(text, subject);
}
