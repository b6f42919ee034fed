/**
 * An SMTP receiver that takes its time: each DATA is answered `delayMs` after the body was
 * read, so that sends stay in flight long enough for a test to stop the service meanwhile.
 * The delay can be changed while it runs (0 = at once).
 *
 * A mail counts as received only when its 250 went out on a connection that was still open:
 * a client that hung up before the answer did not deliver it (RFC 5321 §6.1: the receiver
 * takes responsibility with its reply), so it is not in `messages`. `dataStarted` counts every
 * body read, answered or not.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { parseHeaders } from './smtp';

export interface SlowReceivedMail {
  readonly messageId: string | undefined;
  readonly to: string[];
  readonly raw: Buffer;
}

export interface SlowSmtpReceiver {
  readonly host: string;
  readonly port: number;
  readonly messages: SlowReceivedMail[];
  /** Bodies read so far (answered or not). */
  readonly dataStarted: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startSlowSmtpReceiver(opts: { delayMs: number }): Promise<SlowSmtpReceiver> {
  const messages: SlowReceivedMail[] = [];
  let dataStarted = 0;
  const open = new Set<string>();
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      open.add(session.id);
      callback();
    },
    onClose(session: SMTPServerSession): void {
      open.delete(session.id);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        dataStarted++;
        const raw = Buffer.concat(chunks);
        setTimeout(() => {
          if (!open.has(session.id)) return; // the client hung up first: not delivered
          messages.push({ messageId: parseHeaders(raw).get('message-id'), to: session.envelope.rcptTo.map((a) => a.address), raw });
          callback();
        }, receiver.delayMs).unref(); // a test that ends meanwhile does not wait for it
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.server.address();
  if (!addr || typeof addr === 'string') throw new Error('slow SMTP receiver: no port');
  const receiver: SlowSmtpReceiver = {
    host: '127.0.0.1',
    port: addr.port,
    messages,
    get dataStarted() {
      return dataStarted;
    },
    delayMs: opts.delayMs,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return receiver;
}
