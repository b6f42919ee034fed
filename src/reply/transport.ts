/**
 * Transports: how a queued mail leaves. Two kinds, chosen in config:
 *  - pickup: one .eml file per mail in a folder (the embedded default; an MTA or a person
 *    picks them up). Written durably under a name derived from the outbox id, so a repeat
 *    after a crash replaces the same file instead of adding a second one.
 *  - smtp:   nodemailer with a connection pool; a password, or OAuth2 (SASL XOAUTH2).
 *  - graph:  Microsoft Graph `sendMail` with our finished MIME message, for Microsoft 365
 *            tenants with SMTP AUTH switched off (GraphTransport below).
 *
 * OAuth2 and the pool: a pooled connection authenticates once, when it is opened, and may
 * stay open for minutes. A pool ("generation") is used only until the first token one of its
 * connections logged in with is due for renewal; then a new pool is made (its connections log
 * in with a fresh token) and the old one is closed once its sends in flight have reported, so
 * no connection sends on an expired token and no send is cut off. A login refused with the
 * cached token is tried once with a fresh one (nodemailer asks again with `renew`).
 *
 * Errors are classified once, here, at the boundary (maddy's rule): a 5xx reply is permanent
 * for this mail; a 4xx reply, a dropped connection, a timeout or a failed login is temporary
 * and retried with backoff. A failed login is an operator problem, not the mail's, so it must
 * not burn the mail's attempts into a permanent failure.
 */
import nodemailer, { Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import crypto from 'node:crypto';
import path from 'node:path';
import type { PickupTransportConfig, SmtpTransportConfig, TransportConfig } from '../config/config';
import type { OutboxAttachmentRow, OutboxRow } from '../store/store';
import { writeFileDurably, ensureDir, sweepTempFiles } from '../util/durable-file';
import { redactSecrets, registerSecret } from '../util/secrets';
import { credentialsFor, MailboxCredentials } from '../auth/credentials';
import { tokenRoles } from '../auth/roles';
import type { GraphTransportConfig } from '../config/config';

export class SendError extends Error {
  constructor(
    message: string,
    readonly temporary: boolean,
    readonly responseCode?: number,
    /**
     * Whether the server took the mail cannot be known (the transport's thread died while the
     * mail was out): the sender records nothing, and the mail goes again when its lease runs
     * out, as after a crash of the process (or after the retry delay, if later; failed after
     * outbox.giveUpAfterHours).
     */
    readonly inDoubt = false,
    /**
     * The server refused the customer's address at RCPT TO (RFC 5321 §3.3) for the address
     * itself: a 5yz reply with an enhanced status code of the addressing class, 5.1.x (RFC 3463:
     * 5.1.1 no such mailbox, 5.1.2 no such system, 5.1.6 moved, 5.1.10 null MX; badAddressReply).
     * The sender marks a customer's address failing on it, as after a permanent bounce. Never
     * for a policy refusal (5.7.x: relay denied, sender or client rejected, authentication
     * required), a full mailbox (5.2.x), a system or network status (5.3.x, 5.4.x), or a
     * reply without an enhanced code: those say nothing about the address.
     */
    readonly badAddress = false,
    /** Copies (Cc) the server took while it refused the customer: the sender records them, and later attempts leave them out. */
    readonly copiesAccepted: readonly string[] = [],
  ) {
    super(redactSecrets(message));
    this.name = 'SendError';
  }
}

export interface SendResult {
  readonly response: string;
  /**
   * Copies (Cc) the server refused while it took the mail for the customer: each as
   * "address: the server's reply". The mail counts as sent; the sender records these with it.
   */
  readonly refused?: readonly string[];
}

export interface Transport {
  readonly name: string;
  /** Check that mail can be sent at all (SMTP login, folder writable) before the loop starts. */
  verify(): Promise<void>;
  /**
   * `original`: an inbound mail to attach as message/rfc822 (the officer's notification);
   * `files`: the row's stored attachments and inline images (outbox_attachments).
   */
  send(row: OutboxRow, original?: Buffer | null, files?: readonly OutboxAttachmentRow[]): Promise<SendResult>;
  close(): void;
  /** True when sends beyond its connections wait in its own queue (a pool, a thread), so the sender may hand it more at once. */
  readonly queues?: boolean;
}

/** The nodemailer message for an outbox row; the same bytes whichever transport sends it. */
export function mailOptions(row: OutboxRow, original?: Buffer | null, files: readonly OutboxAttachmentRow[] = []): Mail.Options {
  const refs = JSON.parse(row.refs) as string[];
  // Stored files: with a cid an inline part of a multipart/related HTML (RFC 2392), else an
  // attachment. A file whose content is gone (blanked after an earlier send) is left out.
  const stored: Mail.Attachment[] = files
    .filter((f): f is OutboxAttachmentRow & { content: Buffer } => f.content !== null)
    .map((f) => ({
      filename: f.filename,
      content: f.content,
      contentType: f.content_type,
      ...(f.cid ? { cid: f.cid, contentDisposition: 'inline' as const } : { contentDisposition: 'attachment' as const }),
    }));
  const attachments: Mail.Attachment[] = [
    // The original as message/rfc822: opened in a mail client, Reply answers its sender.
    ...(original ? [{ filename: 'original.eml', content: original, contentType: 'message/rfc822', contentDisposition: 'attachment' as const }] : []),
    ...stored,
  ];
  // A copy to the customer's representative is a recipient too, not only a header; not in the
  // envelope of a later attempt once a server took it (copies_accepted: the customer was refused).
  const { Cc: cc, ...headers } = JSON.parse(row.headers) as Record<string, string>;
  const taken = (JSON.parse(row.copies_accepted ?? '[]') as string[]).map((a) => a.toLowerCase());
  const copies = cc && !taken.includes(cc.trim().toLowerCase()) ? [cc] : [];
  return {
    attachments: attachments.length ? attachments : undefined,
    from: { name: row.from_name, address: row.from_address },
    to: row.to_address,
    subject: row.subject,
    text: row.body_text,
    html: row.body_html ?? undefined,
    messageId: `<${row.message_id}>`,
    date: new Date(row.date_header),
    inReplyTo: row.in_reply_to ? `<${row.in_reply_to}>` : undefined,
    references: refs.length ? refs.map((r) => `<${r}>`) : undefined,
    cc: cc || undefined,
    headers,
    envelope: { from: row.from_address, to: [row.to_address, ...copies] },
  };
}

export function composeMime(row: OutboxRow, original?: Buffer | null, files?: readonly OutboxAttachmentRow[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    new MailComposer(mailOptions(row, original, files)).compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}

/**
 * The outbox row's id (files sort in the order they were queued), its kind, and a short hash of
 * its Message-ID: a repeat of the same mail rewrites the same file (exactly once), while a
 * different mail never takes an existing file's name, even when a restored database hands out
 * an outbox id the install before the restore had used (src/backup/restore.ts).
 */
export function pickupFileName(row: OutboxRow): string {
  const tag = crypto.createHash('sha256').update(row.message_id).digest('hex').slice(0, 8);
  return `${String(row.id).padStart(8, '0')}-${row.kind}-${tag}.eml`;
}

class PickupTransport implements Transport {
  readonly name = 'pickup';
  constructor(private readonly cfg: PickupTransportConfig) {}

  async verify(): Promise<void> {
    ensureDir(this.cfg.path);
    sweepTempFiles(this.cfg.path);
  }

  async send(row: OutboxRow, original?: Buffer | null, files?: readonly OutboxAttachmentRow[]): Promise<SendResult> {
    const bytes = await composeMime(row, original, files);
    const file = path.join(this.cfg.path, pickupFileName(row));
    try {
      writeFileDurably(file, bytes, 0o640);
    } catch (err) {
      throw new SendError(`cannot write ${file}: ${(err as Error).message}`, true);
    }
    return { response: `written to ${file}` };
  }

  close(): void {}
}

interface NodemailerError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  /** The SMTP command the server refused ('RCPT TO' for a recipient). */
  command?: string;
}

/**
 * What to do about a refused OAuth2 login, in the words of the mailbox's admin. Exchange
 * Online answers 5.7.139 when SMTP AUTH is off for the mailbox or the tenant; 5.7.3 or 5.7.8
 * when the token is not good for the mailbox.
 */
export function smtpOAuth2Fix(cfg: Pick<SmtpTransportConfig, 'auth' | 'user'>, text: string): string {
  const provider = cfg.auth?.provider;
  if (provider === 'microsoft') {
    if (/5\.7\.139|SmtpClientAuthentication is disabled|disabled for the (Tenant|Mailbox)/i.test(text))
      return `Exchange Online has SMTP AUTH switched off: turn it on for the mailbox only (Set-CASMailbox -Identity ${cfg.user} -SmtpClientAuthenticationDisabled $false) and check the tenant's setting (Set-TransportConfig -SmtpClientAuthenticationDisabled), or use transport.type "graph"`;
    return `Exchange Online refused the token for ${cfg.user}: the app needs the SMTP.SendAsApp permission (Office 365 Exchange Online, admin consent granted) and its service principal needs SendAs or FullAccess on the mailbox (Add-MailboxPermission -Identity ${cfg.user} -User <service principal id> -AccessRights FullAccess), and SMTP AUTH must be on for the mailbox`;
  }
  if (provider === 'google')
    return `Gmail refused the token for ${cfg.user}: the scope https://mail.google.com/ must be in the service account's domain-wide delegation, and ${cfg.user} must be an active user`;
  return `the SMTP server refused the token for ${cfg.user}: check what the server expects of the token (audience, scope) and its log`;
}

/**
 * Whether a reply refusing a recipient says the address itself is bad (SendError.badAddress): a
 * 5yz reply whose enhanced status code (RFC 2034, RFC 3463 §3.2) is 5.1.x, as in
 * "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown" or Gmail's
 * "550-5.1.1 The email account that you tried to reach does not exist".
 */
export function badAddressReply(code: number | undefined, response: string | undefined): boolean {
  if (code === undefined || code < 500 || code > 599) return false;
  const m = /^\s*(\d{3})[ -](\d)\.(\d{1,3})\.(\d{1,3})(?![\d.])/.exec(response ?? '');
  // Of the 5.1.x codes only those about the destination (RFC 3463 §3.2; RFC 7505 5.1.10): 5.1.7
  // and 5.1.8 are about our sender address, and Postfix gives its sender refusals at RCPT TO
  // (smtpd_delay_reject), also as 5.1.0 "Sender address rejected": a misconfigured From would
  // mark every customer.
  return (
    m !== null &&
    Number(m[1]) === code &&
    m[2] === '5' &&
    m[3] === '1' &&
    ['1', '2', '3', '6', '10'].includes(m[4]) &&
    !/sender address|sender domain|mail from/i.test(response ?? '')
  );
}

export function classifySmtpError(err: unknown, cfg?: Pick<SmtpTransportConfig, 'auth' | 'user' | 'passwordEnv'>): SendError {
  const e = err as NodemailerError;
  const code = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  const text = redactSecrets((e?.response || e?.message || String(err)).replace(/\s+/g, ' ')).slice(0, 500);
  if (e?.code === 'EAUTH' && cfg?.auth) {
    // The token could not be had at all (the token endpoint refused), or SMTP refused it.
    if (/token endpoint|token program|Google refused|delegation|not set in the environment|cannot read/i.test(text))
      return new SendError(`SMTP login failed: no token: ${text}`, true, code);
    return new SendError(`SMTP login failed: ${smtpOAuth2Fix(cfg, text)}: ${text}`, true, code);
  }
  if (e?.code === 'EAUTH') return new SendError(`SMTP login failed (check transport.user and transport.passwordEnv): ${text}`, true, code);
  const badAddress = e?.command === 'RCPT TO' && badAddressReply(code, e.response);
  if (code !== undefined && code >= 500 && code < 600) return new SendError(text, false, code, false, badAddress);
  return new SendError(text, true, code, false, false);
}

/**
 * A send nodemailer failed because the server refused every recipient (a customer with a copy
 * to the representative, both refused): classified by the customer's own refusal. nodemailer
 * reports one of the replies (a temporary one if any, else the last: the copy's), so the copy's
 * "550 5.1.1" would mark the customer's address failing when the customer's own reply was a
 * policy refusal, and the other way round.
 */
function customerRefusal(row: Pick<OutboxRow, 'to_address'>, err: unknown): unknown {
  const errors = (err as { rejectedErrors?: Array<NodemailerError & { recipient?: string }> })?.rejectedErrors;
  if (!Array.isArray(errors) || errors.length < 2) return err;
  const own = errors.find((e) => e.recipient?.toLowerCase() === row.to_address.toLowerCase());
  return own ?? err;
}

/** What nodemailer reports for a mail the server took for at least one recipient. */
interface AcceptedInfo {
  response?: string;
  accepted?: string[];
  envelope?: { to?: string[] };
  rejected?: string[];
  rejectedErrors?: Array<NodemailerError & { recipient?: string }>;
}

/**
 * The result of a send nodemailer reports as done. nodemailer fails a send only when every
 * recipient is refused; a mail with a copy to the customer's representative (Cc) is taken when
 * either address is. The server delivers only to the recipients whose RCPT TO it accepted
 * (RFC 5321 §3.3), so a refusal of the customer's address means the customer does not get the
 * mail: it fails the send as a refusal of a mail to the customer alone does, classified by its
 * code (RFC 5321 §4.2.1: 4yz transient, tried again; 5yz permanent). A refused Cc alone does
 * not: the customer has the mail; the refusal is returned with the result.
 */
function acceptedResult(row: Pick<OutboxRow, 'to_address'>, info: AcceptedInfo, cfg?: Pick<SmtpTransportConfig, 'auth' | 'user' | 'passwordEnv'>): SendResult {
  const response = String(info.response ?? 'accepted');
  const rejected = info.rejected ?? [];
  if (rejected.length === 0) return { response };
  // The customer is the envelope's first recipient (mailOptions), in nodemailer's own spelling.
  const customer = info.envelope?.to?.[0] ?? row.to_address;
  const isCustomer = (address: string | undefined): boolean => address !== undefined && address.toLowerCase() === customer.toLowerCase();
  const refusalOf = (address: string): (NodemailerError & { recipient?: string }) | undefined =>
    info.rejectedErrors?.find((e) => e.recipient?.toLowerCase() === address.toLowerCase());
  if (rejected.some(isCustomer)) {
    const e = classifySmtpError(refusalOf(customer) ?? new Error('the server refused the recipient'), cfg);
    throw new SendError(
      `${e.message} (the customer's address was refused; the copy to the other recipients was accepted)`,
      e.temporary,
      e.responseCode,
      false,
      e.badAddress,
      (info.accepted ?? []).filter((a) => !isCustomer(a)),
    );
  }
  const said = (address: string): string => {
    const err = refusalOf(address);
    return `${address}: ${redactSecrets((err?.response || err?.message || 'refused').replace(/\s+/g, ' ')).slice(0, 300)}`;
  };
  return { response, refused: rejected.map(said) };
}

/** One pool of SMTP connections, used until the first token its connections logged in with is due for renewal. */
interface Generation {
  readonly transporter: Transporter;
  validUntil: number;
  inFlight: number;
  retired: boolean;
}

class SmtpTransport implements Transport {
  readonly name = 'smtp';
  readonly queues = true; // nodemailer's pool
  private current: Generation | null = null;

  constructor(
    private readonly cfg: SmtpTransportConfig,
    private readonly password: string | undefined,
    readonly credentials: MailboxCredentials | null,
  ) {}

  private options(): Parameters<typeof nodemailer.createTransport>[0] {
    const cfg = this.cfg;
    return {
      pool: true,
      maxConnections: cfg.maxConnections,
      maxMessages: 1000,
      host: cfg.host,
      port: cfg.port,
      secure: cfg.tls === 'implicit',
      requireTLS: cfg.tls === 'starttls',
      ignoreTLS: cfg.tls === 'none',
      tls: { rejectUnauthorized: cfg.tlsRejectUnauthorized },
      auth: cfg.user ? (cfg.auth ? { type: 'OAuth2', user: cfg.user } : { user: cfg.user, pass: this.password ?? '' }) : undefined,
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 60_000,
    } as Parameters<typeof nodemailer.createTransport>[0];
  }

  /** The pool to send with: the current one while its tokens are good, else a new one. */
  private generation(): Generation {
    const cur = this.current;
    if (cur && Date.now() < cur.validUntil) return cur;
    if (cur) this.retire(cur);
    const gen: Generation = { transporter: nodemailer.createTransport(this.options()), validUntil: Infinity, inFlight: 0, retired: false };
    const credentials = this.credentials;
    if (this.cfg.auth && credentials) {
      // Every connection of the pool asks here for its token when it logs in; `renew` after a refusal.
      gen.transporter.set('oauth2_provision_cb', ((_user: string, renew: boolean, callback: (err: Error | null, token?: string, expires?: number) => void) => {
        credentials.login({ fresh: renew }).then(
          (login) => {
            if (login.renewAt !== null) gen.validUntil = Math.min(gen.validUntil, login.renewAt);
            callback(null, login.accessToken, login.expiresAt ?? undefined);
          },
          (err: Error) => callback(err),
        );
      }) as never);
    }
    this.current = gen;
    return gen;
  }

  private retire(gen: Generation): void {
    gen.retired = true;
    if (gen.inFlight === 0) gen.transporter.close();
  }

  private async use<T>(fn: (t: Transporter) => Promise<T>): Promise<T> {
    const gen = this.generation();
    gen.inFlight++;
    try {
      return await fn(gen.transporter);
    } finally {
      gen.inFlight--;
      if (gen.retired && gen.inFlight === 0) gen.transporter.close();
    }
  }

  private failure(err: unknown, row?: OutboxRow): SendError {
    const e = classifySmtpError(row ? customerRefusal(row, err) : err, this.cfg);
    if ((err as NodemailerError)?.code === 'EAUTH') this.credentials?.tokens?.reportRefused(e.message);
    return e;
  }

  async verify(): Promise<void> {
    try {
      await this.use((t) => t.verify());
    } catch (err) {
      throw this.failure(err);
    }
  }

  async send(row: OutboxRow, original?: Buffer | null, files?: readonly OutboxAttachmentRow[]): Promise<SendResult> {
    let info: AcceptedInfo;
    try {
      info = (await this.use((t) => t.sendMail(mailOptions(row, original, files)))) as AcceptedInfo;
    } catch (err) {
      throw this.failure(err, row);
    }
    return acceptedResult(row, info, this.cfg);
  }

  close(): void {
    this.current?.transporter.close();
    this.current = null;
  }
}

/**
 * The transport of a config. `credentials`: the mailbox login to use (the service passes the
 * one whose token events it records); by default made from the config.
 */
export function createTransport(cfg: TransportConfig, env: NodeJS.ProcessEnv = process.env, credentials?: MailboxCredentials): Transport {
  if (cfg.type === 'pickup') return new PickupTransport(cfg);
  if (cfg.type === 'graph') return new GraphTransport(cfg, credentials ?? credentialsFor({ user: cfg.user, passwordEnv: null, auth: cfg.auth }, env));
  const creds = cfg.auth ? (credentials ?? credentialsFor(cfg, env)) : null;
  const password = cfg.passwordEnv ? env[cfg.passwordEnv] : undefined;
  registerSecret(password);
  return new SmtpTransport(cfg, password, creds);
}

/**
 * Microsoft Graph `sendMail` with MIME content
 * (https://learn.microsoft.com/graph/api/user-sendmail, "send a message in MIME format"):
 *
 *   POST {endpoint}/v1.0/users/{user}/sendMail
 *   Authorization: Bearer {app-only token with the Mail.Send role}
 *   Content-Type: text/plain
 *
 *   {the MIME message, base64}
 *
 * answered `202 Accepted` with no body. The message is our own bytes (composeMime), so the
 * Message-ID, In-Reply-To, References and Auto-Submitted the customer receives are ours;
 * Exchange saves a copy in the mailbox's Sent Items. Errors are JSON
 * `{"error": {"code", "message"}}`: 401 (the token: one fresh token is tried), 403 (no
 * Mail.Send, or an application access policy that excludes the mailbox: an operator problem,
 * retried with backoff like a refused SMTP login), 404 (no such mailbox), 429/5xx
 * (temporary, Retry-After), other 4xx (this mail is refused: permanent).
 */
export class GraphTransport implements Transport {
  readonly name = 'graph';

  constructor(
    private readonly cfg: GraphTransportConfig,
    readonly credentials: MailboxCredentials,
  ) {}

  private url(): string {
    return `${this.cfg.endpoint}/v1.0/users/${encodeURIComponent(this.cfg.user)}/sendMail`;
  }

  /** A token, and that it carries Mail.Send (app-only tokens list their application permissions in `roles`). */
  async verify(): Promise<void> {
    let login;
    try {
      login = await this.credentials.login();
    } catch (err) {
      throw new SendError(`Graph: no token: ${(err as Error).message}`, true);
    }
    const roles = tokenRoles(login.accessToken ?? '');
    if (roles !== null && !roles.includes('Mail.Send'))
      throw new SendError(
        `Graph: the token has no Mail.Send permission (roles: ${roles.join(', ') || 'none'}): add the Microsoft Graph application permission Mail.Send to the app registration and grant admin consent`,
        true,
      );
  }

  async send(row: OutboxRow, original?: Buffer | null, files?: readonly OutboxAttachmentRow[]): Promise<SendResult> {
    const body = (await composeMime(row, original, files)).toString('base64');
    for (let attempt = 0; ; attempt++) {
      let login;
      try {
        login = await this.credentials.login({ fresh: attempt > 0 });
      } catch (err) {
        throw new SendError(`Graph: no token: ${(err as Error).message}`, true);
      }
      let res: Response;
      try {
        res = await fetch(this.url(), {
          method: 'POST',
          headers: { authorization: `Bearer ${login.accessToken}`, 'content-type': 'text/plain' },
          body,
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause;
        throw new SendError(`Graph sendMail did not answer: ${cause ? String(cause) : (err as Error).message}`, true);
      }
      if (res.status === 202 || res.ok) return { response: `${res.status} accepted by Microsoft Graph` };
      const text = await res.text().catch(() => '');
      let error: { code?: string; message?: string } = {};
      try {
        error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
      } catch {
        /* not JSON */
      }
      const said = `${res.status}${error.code ? ` ${error.code}` : ''}${error.message ? `: ${error.message.slice(0, 300)}` : ''}`;
      // A token the server no longer takes (revoked, expired early): one fresh token.
      if (res.status === 401 && attempt === 0) continue;
      if (res.status === 401 || res.status === 403) {
        const why = `Graph refused to send as ${this.cfg.user} (${said}): the app needs the Microsoft Graph application permission Mail.Send with admin consent, and an application access policy that includes this mailbox`;
        this.credentials.tokens?.reportRefused(why);
        throw new SendError(why, true, res.status);
      }
      if (res.status === 404) throw new SendError(`Graph: no mailbox ${this.cfg.user} (${said}): check transport.user`, true, res.status);
      if (res.status === 429 || res.status >= 500) throw new SendError(`Graph sendMail: ${said}`, true, res.status);
      throw new SendError(`Graph refused the message: ${said}`, false, res.status);
    }
  }

  close(): void {}
}
