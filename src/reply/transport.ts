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
import { registerSecret } from '../util/secrets';
import { credentialsFor, MailboxCredentials } from '../auth/credentials';
import { tokenRoles } from '../auth/roles';
import type { GraphTransportConfig } from '../config/config';
import { acceptedResult, AcceptedInfo, classifySmtpError, customerRefusal, NodemailerError, SendError, SendResult } from './smtp-replies';

export { badAddressReply, classifySmtpError, SendError, smtpOAuth2Fix } from './smtp-replies';
export type { SendResult } from './smtp-replies';

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
