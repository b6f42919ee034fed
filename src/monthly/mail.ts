/**
 * The monthly pack queued to every manager through the outbox (src/store/outbox.ts): one mail per
 * manager, built here (not from a template: its tables and charts are the report's, its words
 * src/monthly/words.ts), carrying its chart images inline (cid) and the register CSV as
 * outbox attachments, all in the same transaction as the outbox row. The sender records the
 * attempt before the send like any other mail (src/reply/outbox-sender.ts).
 */
import type { Config } from '../config/config';
import type { NewOutbox, OutboxAttachment, Store } from '../store/store';
import { newMessageId } from '../reply/mail';
import { headerText } from '../util/header-safe';
import type { ReportLanguage } from '../report/labels';
import { readMonthlyPack, Month, MonthlyPack } from './pack';
import { renderPack, RenderedPack } from './render';

/** The pack's language: the firm's (config.language). */
export function packLanguage(config: Config): ReportLanguage {
  return config.language === 'en' ? 'en' : 'sv';
}

/** The files of the mail: each chart inline (Content-ID), then the register as an attachment. */
export function packAttachments(r: RenderedPack): OutboxAttachment[] {
  return [
    ...r.images.map((i) => ({ filename: i.filename, contentType: 'image/png', cid: i.cid, content: i.png })),
    { filename: r.csv.filename, contentType: 'text/csv; charset=utf-8', cid: null, content: r.csv.content },
  ];
}

/** The outbox row of the pack to one manager. `key`: what makes it once (the month and scheduled, or an on-demand instant). */
export function packMail(r: RenderedPack, o: { month: Month; to: string; key: string; now: Date; language: ReportLanguage }, config: Config): NewOutbox {
  return {
    caseId: null,
    kind: 'monthly-pack',
    idempotencyKey: `monthly-pack:${o.month}:${o.key}:${o.to}`,
    template: '(built-in)',
    language: o.language,
    templateVersion: 'built-in',
    fromAddress: config.firm.complaintsAddress,
    fromName: headerText(config.firm.fromName, 100),
    toAddress: o.to,
    subject: headerText(r.subject, 200),
    messageId: newMessageId(null, 'monthly', config.firm.messageIdDomain),
    inReplyTo: null,
    references: [],
    // RFC 3834 §5: a notice we send on our own.
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All', Precedence: 'auto_reply', 'X-Klagomal-Report': `monthly ${o.month}` },
    bodyText: r.text,
    bodyHtml: r.html,
    dateHeader: o.now.toISOString(),
    createdAt: o.now.toISOString(),
    attachments: packAttachments(r),
  };
}

/** The managers the pack goes to, each with the language of our mail to them (their first, officers[].languages). */
export function packRecipients(config: Config): Array<{ address: string; language: ReportLanguage }> {
  return config.officers
    .filter((o) => o.role === 'manager')
    .map((o) => ({ address: o.address, language: o.languages[0] === 'en' ? 'en' : o.languages[0] === 'sv' ? 'sv' : packLanguage(config) }));
}

/** Read the pack of `month` (read-only; call inside a read transaction). */
export function readPack(store: Store, config: Config, month: Month, now: Date): MonthlyPack {
  return readMonthlyPack(store, month, now, config.retention.closedCaseYears);
}

/** The pack's mail in each language it is needed in (rendered once per language). */
export function renderPackIn(pack: MonthlyPack, config: Config, languages: readonly ReportLanguage[], now: Date): Map<ReportLanguage, RenderedPack> {
  return new Map([...new Set(languages)].map((lang) => [lang, renderPack(pack, { firmName: config.firm.name, lang, generatedAt: now })]));
}

/** Queue the rendered pack to every manager in their language; returns the outbox ids queued (none for a key used before). */
export function queuePack(store: Store, config: Config, rendered: ReadonlyMap<ReportLanguage, RenderedPack>, month: Month, key: string, now: Date): number[] {
  const ids: number[] = [];
  for (const m of packRecipients(config)) {
    const mail = rendered.get(m.language);
    if (!mail) throw new Error(`monthly pack: not rendered in ${m.language}`);
    const id = store.enqueue(packMail(mail, { month, to: m.address, key, now, language: m.language }, config));
    if (id !== null) ids.push(id);
  }
  return ids;
}
