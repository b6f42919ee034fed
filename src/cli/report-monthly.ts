/**
 * `klagomal report monthly --month YYYY-MM [--send | --out FILE] [--now ISO]`: the monthly
 * management pack on demand (src/monthly/).
 *  - --out FILE: the whole mail as one .eml file (RFC 5322 with its HTML, the charts as inline
 *    PNG images and the register CSV attached), as every manager would get it; the database is
 *    opened read-only; the file is readable by its owner only (it holds the register).
 *  - --send: queued through the outbox to every manager (officers with "role": "manager"); the
 *    service's sender sends it (`klagomal start`, or `klagomal run --once`). An on-demand pack
 *    does not stand in for the scheduled one of the same month.
 */
import path from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import type { NewOutbox, OutboxRow } from '../store/store';
import { writeFileDurably } from '../util/durable-file';
import { mailOptions } from '../reply/transport';
import { checkSchema } from '../report/facts';
import { MonthError, parseMonth } from '../monthly/pack';
import { packMail, packLanguage, packRecipients, queuePack, readPack, renderPackIn } from '../monthly/mail';
import { UsageError } from './args';
import { configOf, Io } from './shared';

/** An outbox row as it would be stored, for composing a mail that is written to a file rather than queued. */
function asRow(o: NewOutbox): OutboxRow {
  return {
    id: 0,
    case_id: o.caseId,
    kind: o.kind,
    idempotency_key: o.idempotencyKey,
    template: o.template,
    language: o.language,
    template_version: o.templateVersion,
    from_address: o.fromAddress,
    from_name: o.fromName,
    to_address: o.toAddress,
    subject: o.subject,
    message_id: o.messageId,
    in_reply_to: o.inReplyTo,
    refs: JSON.stringify(o.references),
    headers: JSON.stringify(o.headers),
    body_text: o.bodyText,
    body_html: o.bodyHtml,
    date_header: o.dateHeader,
    status: 'queued',
    attempts: 0,
    next_attempt_at: o.createdAt,
    last_error: null,
    created_at: o.createdAt,
    sent_at: null,
    transport_response: null,
    retry_from: null,
    attach_inbound_id: null,
    copies_accepted: null,
  };
}

/** The MIME bytes of a pack mail, with its files (the same composition the transports use). */
export function composePackEml(o: NewOutbox): Promise<Buffer> {
  const files = (o.attachments ?? []).map((a, i) => ({
    outbox_id: 0,
    position: i,
    filename: a.filename,
    content_type: a.contentType,
    cid: a.cid,
    size: a.content.length,
    sha256: '',
    content: a.content,
  }));
  return new Promise((resolve, reject) => {
    new MailComposer(mailOptions(asRow(o), null, files)).compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}

export async function runMonthlyReport(values: Record<string, string | boolean | undefined>, io: Io): Promise<number> {
  if (typeof values.month !== 'string') throw new UsageError('give --month YYYY-MM (the Stockholm month to report, e.g. 2026-11)');
  let month;
  try {
    month = parseMonth(values.month);
  } catch (err) {
    if (err instanceof MonthError) throw new UsageError(err.message);
    throw err;
  }
  const send = values.send === true;
  const out = typeof values.out === 'string' ? values.out : undefined;
  if (send === (out !== undefined)) throw new UsageError('give either --send (queue the pack to every manager) or --out FILE (write it as an .eml file)');
  for (const k of ['from', 'to', 'format', 'product', 'category', 'regime', 'channel', 'customer-type', 'lang'])
    if (values[k] !== undefined) throw new UsageError(`--${k} does not apply to report monthly: the pack is the whole month, in the firm's language`);
  let now = new Date();
  if (values.now !== undefined) {
    now = new Date(values.now as string);
    if (Number.isNaN(now.getTime())) throw new UsageError(`--now '${values.now}' is not an instant; write ISO 8601, e.g. 2026-12-01T07:00:00Z`);
  }
  const config = configOf(values);
  const managers = packRecipients(config);

  if (out) {
    const db = openDatabase(config.database, { readonly: true });
    let mail: NewOutbox;
    try {
      const store = new Store(db);
      checkSchema(store);
      const pack = store.readTx(() => readPack(store, config, month, now));
      // The file is in the firm's language (config.language), addressed as the managers would get it.
      const lang = packLanguage(config);
      const rendered = renderPackIn(pack, config, [lang], now).get(lang)!;
      const to = managers.length ? managers.map((m) => m.address).join(', ') : (config.firm.adminAddress ?? config.firm.complaintsAddress);
      mail = packMail(rendered, { month, to, key: 'file', now, language: lang }, config);
    } finally {
      db.close();
    }
    writeFileDurably(path.resolve(out), await composePackEml(mail));
    io.out(`monthly pack of ${month} written to ${out} (an .eml mail: HTML, ${(mail.attachments ?? []).length - 1} charts inline, the register CSV attached)`);
    return 0;
  }

  if (managers.length === 0) throw new UsageError('no manager to send the pack to: give an officer "role": "manager" in the config (officers[])');
  const db = openDatabase(config.database);
  try {
    const store = new Store(db);
    checkSchema(store);
    // On demand: a key of its own (the instant), so that asking again sends again; the scheduled pack keeps its own claim.
    const pack = store.readTx(() => readPack(store, config, month, now));
    const rendered = renderPackIn(
      pack,
      config,
      managers.map((m) => m.language),
      now,
    );
    const ids = store.tx(() => queuePack(store, config, rendered, month, `demand-${now.toISOString()}`, now));
    io.out(
      `monthly pack of ${month} queued to ${ids.length} manager${ids.length === 1 ? '' : 's'} (outbox ${ids.join(', ')}); it goes out with the service's next send (klagomal start, or klagomal run --once)`,
    );
  } finally {
    db.close();
  }
  return 0;
}
