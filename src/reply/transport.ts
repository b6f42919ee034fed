/**
 * Transports: how a queued mail leaves. Two kinds, chosen in config:
 *  - pickup: one .eml file per mail in a folder (the embedded default; an MTA or a person
 *    picks them up). Written durably under a name derived from the outbox id, so a repeat
 *    after a crash replaces the same file instead of adding a second one.
 *  - smtp:   nodemailer with a connection pool.
 *
 * Errors are classified once, here, at the boundary (maddy's rule): a 5xx reply is permanent
 * for this mail; a 4xx reply, a dropped connection, a timeout or a failed login is temporary
 * and retried with backoff. A failed login is an operator problem, not the mail's, so it must
 * not burn the mail's attempts into a permanent failure.
 */
import nodemailer, { Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import path from 'node:path';
import type { PickupTransportConfig, SmtpTransportConfig, TransportConfig } from '../config/config';
import type { OutboxRow } from '../store/store';
import { writeFileDurably, ensureDir, sweepTempFiles } from '../util/durable-file';

export class SendError extends Error {
  constructor(
    message: string,
    readonly temporary: boolean,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = 'SendError';
  }
}

export interface SendResult {
  readonly response: string;
}

export interface Transport {
  readonly name: string;
  /** Check that mail can be sent at all (SMTP login, folder writable) before the loop starts. */
  verify(): Promise<void>;
  /** `original`: an inbound mail to attach as message/rfc822 (the officer's notification). */
  send(row: OutboxRow, original?: Buffer | null): Promise<SendResult>;
  close(): void;
}

/** The nodemailer message for an outbox row; the same bytes whichever transport sends it. */
export function mailOptions(row: OutboxRow, original?: Buffer | null): Mail.Options {
  const refs = JSON.parse(row.refs) as string[];
  return {
    // The original as message/rfc822: opened in a mail client, Reply answers its sender.
    attachments: original ? [{ filename: 'original.eml', content: original, contentType: 'message/rfc822', contentDisposition: 'attachment' }] : undefined,
    from: { name: row.from_name, address: row.from_address },
    to: row.to_address,
    subject: row.subject,
    text: row.body_text,
    html: row.body_html ?? undefined,
    messageId: `<${row.message_id}>`,
    date: new Date(row.date_header),
    inReplyTo: row.in_reply_to ? `<${row.in_reply_to}>` : undefined,
    references: refs.length ? refs.map((r) => `<${r}>`) : undefined,
    headers: JSON.parse(row.headers) as Record<string, string>,
    envelope: { from: row.from_address, to: [row.to_address] },
  };
}

export function composeMime(row: OutboxRow, original?: Buffer | null): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    new MailComposer(mailOptions(row, original)).compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}

export function pickupFileName(row: OutboxRow): string {
  return `${String(row.id).padStart(8, '0')}-${row.kind}.eml`;
}

class PickupTransport implements Transport {
  readonly name = 'pickup';
  constructor(private readonly cfg: PickupTransportConfig) {}

  async verify(): Promise<void> {
    ensureDir(this.cfg.path);
    sweepTempFiles(this.cfg.path);
  }

  async send(row: OutboxRow, original?: Buffer | null): Promise<SendResult> {
    const bytes = await composeMime(row, original);
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
}

export function classifySmtpError(err: unknown): SendError {
  const e = err as NodemailerError;
  const code = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  const text = (e?.response || e?.message || String(err)).replace(/\s+/g, ' ').slice(0, 500);
  if (e?.code === 'EAUTH') return new SendError(`SMTP login failed (check transport.user and transport.passwordEnv): ${text}`, true, code);
  if (code !== undefined && code >= 500 && code < 600) return new SendError(text, false, code);
  return new SendError(text, true, code);
}

class SmtpTransport implements Transport {
  readonly name = 'smtp';
  private readonly transporter: Transporter;

  constructor(cfg: SmtpTransportConfig, password: string | undefined) {
    this.transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: cfg.maxConnections,
      maxMessages: 1000,
      host: cfg.host,
      port: cfg.port,
      secure: cfg.tls === 'implicit',
      requireTLS: cfg.tls === 'starttls',
      ignoreTLS: cfg.tls === 'none',
      tls: { rejectUnauthorized: cfg.tlsRejectUnauthorized },
      auth: cfg.user ? { user: cfg.user, pass: password ?? '' } : undefined,
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 60_000,
    });
  }

  async verify(): Promise<void> {
    try {
      await this.transporter.verify();
    } catch (err) {
      throw classifySmtpError(err);
    }
  }

  async send(row: OutboxRow, original?: Buffer | null): Promise<SendResult> {
    try {
      const info = await this.transporter.sendMail(mailOptions(row, original));
      return { response: String(info.response ?? 'accepted') };
    } catch (err) {
      throw classifySmtpError(err);
    }
  }

  close(): void {
    this.transporter.close();
  }
}

export function createTransport(cfg: TransportConfig, env: NodeJS.ProcessEnv = process.env): Transport {
  if (cfg.type === 'pickup') return new PickupTransport(cfg);
  return new SmtpTransport(cfg, cfg.passwordEnv ? env[cfg.passwordEnv] : undefined);
}
