/**
 * Mail to officers and the manager about a case, outside the deadline notices:
 *  - the contact person's notification of a new (or newly assigned) case: the facts, the
 *    extracted fields, the deadlines, the related complaints (the firm must weigh "other
 *    complaints about the same circumstance and how they were resolved"), and the original
 *    complaint attached as message/rfc822, so that opening it and pressing Reply answers the
 *    customer directly;
 *  - the manager's notice of a suspected forged staff mail (built-in text, like the admin's
 *    template notice: it must not depend on anything an attacker could influence).
 */
import type { Config, Language, Officer } from '../config/config';
import type { CaseRow, NewOutbox, Store } from '../store/store';
import type { TemplateRenderer } from '../reply/templates';
import { buildAdminNotice, buildMail } from '../reply/mail';
import { caseTag } from '../classify/thread';
import { describeRule, DeadlineRule } from '../deadlines/rules';
import type { ComplaintFields } from '../parse/complaint-fields';
import { customerNameForStaff } from '../util/header-safe';
import { asciiLower } from '../util/mailbox';

/** The language an officer gets mail in: their first. */
export function officerLanguage(officer: Officer | undefined, config: Config): Language {
  return officer?.languages[0] ?? config.language;
}

export function officerByAddress(config: Config, address: string | null | undefined): Officer | undefined {
  const a = address ? asciiLower(address) : undefined;
  return a ? config.officers.find((o) => o.address === a) : undefined;
}

const LABELS: Record<Language, Record<string, string>> = {
  sv: {
    contactName: 'Namn',
    email: 'E-post',
    phones: 'Telefon',
    postalAddress: 'Adress',
    category: 'Kategori',
    incidentDate: 'Datum för problemet',
    compensationAsked: 'Vill ha ersättning',
    amountsSek: 'Belopp (kr)',
    compensationReason: 'Skäl för ersättning',
    references: 'Referenser',
    personnummerMasked: 'Personnummer',
    missing: 'Saknas i klagomålet',
  },
  en: {
    contactName: 'Name',
    email: 'E-mail',
    phones: 'Phone',
    postalAddress: 'Address',
    category: 'Category',
    incidentDate: 'Date of the problem',
    compensationAsked: 'Wants compensation',
    amountsSek: 'Amounts (SEK)',
    compensationReason: 'Reason for compensation',
    references: 'References',
    personnummerMasked: 'Personal identity number',
    missing: 'Missing from the complaint',
  },
};

/** The extracted fields as labelled lines for staff (personnummer only masked). */
export function fieldLines(fieldsJson: string, lang: Language): Array<{ label: string; value: string }> {
  const f = JSON.parse(fieldsJson) as Partial<ComplaintFields>;
  const yesNo = (b: boolean | null | undefined): string | null =>
    b === true ? (lang === 'sv' ? 'ja' : 'yes') : b === false ? (lang === 'sv' ? 'nej' : 'no') : null;
  const values: Record<string, string | null> = {
    contactName: f.contactName ?? null,
    email: f.email ?? null,
    phones: f.phones?.length ? f.phones.join(', ') : null,
    postalAddress: f.postalAddress ?? null,
    category: f.category ?? null,
    incidentDate: f.incidentDate ? `${f.incidentDate}${f.incidentDateText ? ` ("${f.incidentDateText}")` : ''}` : null,
    compensationAsked: yesNo(f.compensationAsked),
    amountsSek: f.amountsSek?.length ? f.amountsSek.join(', ') : null,
    compensationReason: f.compensationReason ?? null,
    references: f.references?.length ? f.references.map((r) => `${r.type} ${r.value}`).join(', ') : null,
    personnummerMasked: f.personnummerMasked ?? null,
    missing: f.missing?.length ? f.missing.join(', ') : null,
  };
  return Object.entries(values)
    .filter((e): e is [string, string] => e[1] !== null && e[1] !== '')
    .map(([k, v]) => ({ label: LABELS[lang][k], value: v }));
}

/** What every staff mail about a case says about it. */
export function staffCaseData(c: CaseRow): Record<string, unknown> {
  return {
    number: c.number,
    tag: caseTag(c.number),
    subject: c.subject,
    ...customerNameForStaff(c.customer_name, c.customer_address),
    customerAddress: c.customer_address,
    receivedAt: new Date(c.received_at),
    contact: c.contact_officer,
    category: c.category,
  };
}

/** The related complaints shown to officers, with their status and outcome. */
export function relatedForStaff(store: Store, c: CaseRow, config: Config): Array<Record<string, string>> {
  return store.relatedCases(c, config.cases.relatedWindowDays).map((r) => ({
    number: r.number,
    subject: r.subject ?? '',
    status: r.status,
    outcome: r.outcome ?? '',
    relation: r.relation,
  }));
}

/**
 * The contact person's notification of a case, with the original complaint attached.
 * `occasion` makes the idempotency key: one notification per case, officer and occasion.
 */
export function buildOfficerNotification(
  store: Store,
  config: Config,
  templates: TemplateRenderer,
  c: CaseRow,
  officer: Officer,
  occasion: string,
  now: Date,
): NewOutbox {
  const lang = officerLanguage(officer, config);
  const first = store.messagesOfCase(c.id)[0];
  // The new text, or the whole text when there is none (a mail that is all quote or forward).
  const excerpt = (first?.new_text?.trim() || first?.body_text || '').trim();
  const data = {
    firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
    case: staffCaseData(c),
    recipient: { name: officer.name },
    fields: fieldLines(c.fields, lang),
    deadlines: store
      .deadlinesOfCase(c.id)
      .filter((d) => d.milestone !== 'finalAnswerMax')
      .map((d) => ({ milestone: d.milestone, dueAt: new Date(d.due_at), rule: describeRule(JSON.parse(d.rule) as DeadlineRule) })),
    related: relatedForStaff(store, c, config),
    excerpt: excerpt.length > 1200 ? `${excerpt.slice(0, 1200)} …` : excerpt,
  };
  return {
    ...buildMail(
      {
        kind: 'officer-new-case',
        caseId: c.id,
        caseNumber: c.number,
        language: lang,
        to: officer.address,
        data,
        idempotencyKey: `officer-new-case:${c.id}:${officer.address}:${occasion}`,
        now,
      },
      templates,
      config,
    ),
    attachInboundId: first?.inbound_id ?? null,
  };
}

/** The manager's notice of a staff From that the firm's server did not vouch for. */
export function buildSpoofingNotice(
  config: Config,
  o: { caseNumber: string | null; claimedFrom: string; reason: string; inboundId: number; commandsIgnored: number; now: Date },
): NewOutbox | null {
  const manager = config.officers.find((x) => x.role === 'manager');
  const to = manager?.address ?? config.firm.adminAddress;
  if (!to) return null;
  const where = o.caseNumber ? `ärende ${o.caseNumber} / case ${o.caseNumber}` : 'inget ärende / no case';
  return buildAdminNotice(
    {
      to,
      subject: `Misstänkt förfalskad avsändare / Suspected forged staff sender (${where})`,
      text:
        `Ett mejl med avsändaren ${o.claimedFrom} kom till ${config.firm.complaintsAddress}, men vår mottagande server intygade inte att det kom från personal.\n` +
        `A mail from ${o.claimedFrom} reached ${config.firm.complaintsAddress}, but our receiving server did not vouch that it came from staff.\n\n` +
        `  ${o.reason}\n\n` +
        `Det har registrerats som ett vanligt kundmejl${o.caseNumber ? ` på ${o.caseNumber}` : ''}; inga kommandon har utförts (${o.commandsIgnored}).\n` +
        `It was recorded as an ordinary customer mail${o.caseNumber ? ` on ${o.caseNumber}` : ''}; no commands were carried out (${o.commandsIgnored}).\n\n` +
        `Inkommande mejl / inbound mail #${o.inboundId}: klagomal mail list --kind followup\n`,
      idempotencyKey: `spoofing:${o.inboundId}`,
      now: o.now,
    },
    config,
  );
}
