/**
 * In-process SMTP receiver for tests (smtp-server on 127.0.0.1, no TLS, no auth required).
 *
 * With `xoauth2`, it accepts only SASL XOAUTH2 with a token the test's token service says is
 * live, as Exchange Online and Gmail do: a refused token gets the 334 JSON challenge and then
 * 535 (so a client can retry with a fresh token), and a session whose token expired since it
 * logged in is refused at MAIL FROM (421, counted in `expiredSessionRefusals`).
 *
 * Notes:
 *  - smtp-server holds every new connection ~100 ms before the greeting; use a pooled
 *    nodemailer transport when sending many mails.
 *  - Headers are parsed minimally (split at the first blank line, unfold); values are the
 *    raw unfolded header text. `subject` additionally has RFC 2047 encoded-words decoded.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession, type SMTPServerAddress } from 'smtp-server';

export interface ReceivedMail {
  raw: Buffer;
  /** MAIL FROM address ('' for the null sender <>) */
  from: string;
  /** RCPT TO addresses */
  to: string[];
  receivedAt: number;
  /** lower-cased header name -> unfolded value of the first occurrence */
  headers: Map<string, string>;
  /** Message-ID header value including the angle brackets, e.g. '<abc@example.com>' */
  messageId?: string;
  /** decoded (RFC 2047) Subject */
  subject?: string;
}

export interface SmtpReceiver {
  host: string;
  port: number;
  messages: ReceivedMail[];
  /** resolves with a copy of `messages` once messages.length >= count */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /**
   * The next n DATA commands (after the body was read; default) -- or, with stage 'rcpt',
   * the next n RCPT TO commands -- are answered with `code`. 4xx = temporary, 5xx = permanent.
   * Calls queue up in order: rejectNext(1, 451); rejectNext(1, 550) refuses 451 first, then 550.
   * The queue is consumed strictly in order; its head only fires at its own stage.
   */
  rejectNext(n: number, code: number, message?: string, stage?: 'data' | 'rcpt'): void;
  /** Every later RCPT TO for `address` (any case) is answered with `code`, whatever else is queued. */
  refuseRecipient(address: string, code: number, message: string): void;
  /** number of transactions refused so far through rejectNext */
  readonly rejectedCount: number;
  /** XOAUTH2 logins: the token each accepted one used, and how many were refused. */
  readonly auths: { accepted: string[]; refused: number };
  /** Transactions refused because the session's token had expired since its login. */
  readonly expiredSessionRefusals: number;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const MAX_SIZE = 50 * 1024 * 1024; // > 40 MB with room for base64/MIME overhead

interface Rejection {
  code: number;
  message: string;
  stage: 'data' | 'rcpt';
}

/** Split off the header block and unfold it. Only the first occurrence of a name is kept. */
export function parseHeaders(raw: Buffer): Map<string, string> {
  const text = raw.toString('latin1'); // byte-preserving; header bytes are ASCII or 8-bit
  const m = /\r?\n\r?\n/.exec(text);
  const block = m ? text.slice(0, m.index) : text;
  const headers = new Map<string, string>();
  const unfolded = block.replace(/\r?\n(?=[ \t])/g, '');
  for (const line of unfolded.split(/\r?\n/)) {
    const idx = line.indexOf(':');
    if (idx <= 0) continue;
    const name = line.slice(0, idx).trim().toLowerCase();
    if (!name || headers.has(name)) continue;
    // re-read 8-bit (e.g. SMTPUTF8) header values as UTF-8
    const value = Buffer.from(line.slice(idx + 1).trim(), 'latin1').toString('utf8');
    headers.set(name, value);
  }
  return headers;
}

/** Decode RFC 2047 encoded-words (B and Q); unknown charsets are left encoded. */
export function decodeMimeWords(value: string): string {
  const re = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
  // whitespace between two adjacent encoded-words is dropped (RFC 2047 section 6.2)
  const joined = value.replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?[^?]+\?[BbQq]\?[^?]*\?=)/g, '$1');
  return joined.replace(re, (whole: string, charset: string, enc: string, text: string) => {
    try {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m: string, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            );
      const cs = charset.split('*')[0] ?? charset; // RFC 2231 language suffix
      return new TextDecoder(cs.toLowerCase()).decode(bytes);
    } catch {
      return whole;
    }
  });
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export interface Xoauth2Check {
  /** The token's expiry (ms since the epoch) when it is live for `user`, else null. */
  live(user: string, token: string): number | null;
  /** The scope put in the 334 error challenge. */
  scope?: string;
}

export async function startSmtpReceiver(opts: { port?: number; xoauth2?: Xoauth2Check } = {}): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const auths = { accepted: [] as string[], refused: 0 };
  let expiredSessionRefusals = 0;
  const xo = opts.xoauth2;
  const rejections: Rejection[] = [];
  const refusedRecipients = new Map<string, { code: number; message: string }>();
  let rejectedCount = 0;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  const takeRejection = (stage: 'data' | 'rcpt'): Rejection | undefined => {
    if (rejections[0]?.stage !== stage) return undefined;
    rejectedCount += 1;
    return rejections.shift();
  };

  const server = new SMTPServer({
    authOptional: !xo,
    ...(xo
      ? {
          authMethods: ['XOAUTH2'],
          allowInsecureAuth: true,
          onAuth(auth, _session, callback) {
            const expiresAt = auth.method === 'XOAUTH2' && auth.accessToken ? xo.live(auth.username ?? '', auth.accessToken) : null;
            if (expiresAt === null) {
              auths.refused += 1;
              // RFC 7628 §3.2.2 style error, as Gmail and Exchange send it: 334 + JSON, then 535.
              return callback(null, { data: { status: '401', schemes: 'bearer', scope: xo.scope ?? 'https://outlook.office365.com/.default' } });
            }
            auths.accepted.push(auth.accessToken!);
            callback(null, { user: { name: auth.username, expiresAt } });
          },
          onMailFrom(_address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
            const u = session.user as unknown as { expiresAt?: number } | undefined;
            if (!u || (u.expiresAt !== undefined && Date.now() >= u.expiresAt)) {
              expiredSessionRefusals += 1;
              return callback(smtpError(421, '4.7.0 Session token expired, log in again'));
            }
            callback();
          },
        }
      : {}),
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    size: MAX_SIZE,
    logger: false,
    // pooled clients keep connections open; without this close() waits 30 s for them
    closeTimeout: 100,
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      const refused = refusedRecipients.get(address.address.toLowerCase());
      if (refused) return callback(smtpError(refused.code, refused.message));
      const r = takeRejection('rcpt');
      if (r) return callback(smtpError(r.code, r.message));
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      const chunks: Buffer[] = [];
      let answered = false;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err: Error) => {
        if (!answered) callback(err);
        answered = true;
      });
      stream.on('end', () => {
        if (answered) return;
        answered = true;
        if (stream.sizeExceeded) {
          return callback(smtpError(552, `Message exceeds fixed maximum message size ${MAX_SIZE}`));
        }
        const r = takeRejection('data');
        if (r) return callback(smtpError(r.code, r.message));
        const raw = Buffer.concat(chunks);
        const headers = parseHeaders(raw);
        const mailFrom = session.envelope.mailFrom;
        const mail: ReceivedMail = {
          raw,
          from: mailFrom ? mailFrom.address : '',
          to: session.envelope.rcptTo.map((a) => a.address),
          receivedAt: Date.now(),
          headers,
        };
        const mid = headers.get('message-id');
        if (mid !== undefined) mail.messageId = mid; // with <>, like imapflow's envelope and mailparser
        const subject = headers.get('subject');
        if (subject !== undefined) mail.subject = decodeMimeWords(subject);
        messages.push(mail);
        callback();
        notify();
      });
    },
  });
  server.on('error', () => undefined); // per-connection errors (client resets) are not test failures

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.server.once('error', onError);
    server.listen(opts.port ?? 0, HOST, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const addr = server.server.address();
  if (!addr || typeof addr === 'string') throw new Error('SMTP receiver: could not read the listening port');
  let closed = false;

  const receiver: SmtpReceiver = {
    host: HOST,
    port: addr.port,
    messages,
    get rejectedCount(): number {
      return rejectedCount;
    },
    auths,
    get expiredSessionRefusals(): number {
      return expiredSessionRefusals;
    },
    waitFor(count: number, timeoutMs = 5000): Promise<ReceivedMail[]> {
      if (messages.length >= count) return Promise.resolve(messages.slice());
      return new Promise<ReceivedMail[]>((resolve, reject) => {
        const check = (): void => {
          if (messages.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(messages.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const got = messages.map((m) => `  - ${m.subject ?? '(no subject)'} -> ${m.to.join(', ')}`).join('\n');
          reject(
            new Error(
              `SMTP receiver on ${HOST}:${addr.port}: timed out after ${timeoutMs} ms waiting for ${count} message(s); ` +
                `received ${messages.length}${got ? `:\n${got}` : ''}` +
                (rejections.length ? `\n(${rejections.length} rejection(s) still queued)` : ''),
            ),
          );
        }, timeoutMs);
        waiters.add(check);
      });
    },
    rejectNext(n: number, code: number, message?: string, stage: 'data' | 'rcpt' = 'data'): void {
      if (!Number.isInteger(code) || code < 400 || code > 599) throw new Error(`rejectNext: code must be 4xx or 5xx, got ${code}`);
      const text = message ?? (code < 500 ? 'Temporary failure, try again later' : 'Message rejected');
      for (let i = 0; i < n; i += 1) rejections.push({ code, message: text, stage });
    },
    refuseRecipient(address: string, code: number, message: string): void {
      refusedRecipients.set(address.toLowerCase(), { code, message });
    },
    close(): Promise<void> {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
