/**
 * What each mail kind's templates may use: a schema of variables, and sample data that fits
 * it. `klagomal templates check` walks every template's syntax tree against the schema (a typo
 * like `{{caseNumbr}}` is an error with its file and line) and renders it with the sample data;
 * `templates preview` shows a mail from the sample data.
 *
 * Values marked `customer` come from the customer's mail: always escaped in HTML, never
 * evaluated as template text. Values marked `line` are customer text shown as one line (a
 * subject, a name): before rendering they are made one line of at most LINE_MAX characters
 * (`boundLines`), so that an encoded CR/LF cannot add lines to a notice and a 100 KB subject
 * cannot make a 400 KB digest. The full text stays on the case.
 */
import type { TemplateKind } from '../cases/lifecycle';
import { headerText } from '../util/header-safe';

export type Leaf = 'text' | 'date' | 'number' | 'bool' | 'customer' | 'line';
export interface Schema {
  readonly [key: string]: Leaf | Schema | ListOf;
}
export interface ListOf {
  readonly list: Schema;
}

export function isList(v: Leaf | Schema | ListOf): v is ListOf {
  return typeof v === 'object' && 'list' in v && Object.keys(v).length === 1 && typeof (v as ListOf).list === 'object';
}

const FIRM: Schema = { name: 'text', complaintsAddress: 'text' };
const CASE: Schema = { number: 'text', tag: 'text', receivedAt: 'date' };
const CUSTOMER: Schema = { name: 'line', type: 'text' };
const CASE_FOR_STAFF: Schema = {
  number: 'text',
  tag: 'text',
  subject: 'line',
  customerName: 'line',
  customerAddress: 'line',
  /** The display name holds an address other than the sender's (src/util/header-safe.ts otherAddressInName). */
  customerNameHasOtherAddress: 'bool',
  receivedAt: 'date',
  contact: 'text',
};
const DIGEST_ITEM: Schema = { number: 'text', subject: 'line', milestone: 'text', dueAt: 'date', contact: 'text' };

export const TEMPLATE_SCHEMAS: Readonly<Record<TemplateKind, Schema>> = {
  acknowledgement: {
    firm: FIRM,
    case: { ...CASE, answerDueAt: 'date' },
    answerWithin: { unit: 'text', amount: 'number' },
    customer: CUSTOMER,
    complaint: { subject: 'line' },
    contact: { name: 'text' },
    missing: { contact: 'bool', concerns: 'bool', incidentDate: 'bool', description: 'bool', compensation: 'bool' },
    hasMissing: 'bool',
  },
  'information-request': {
    firm: FIRM,
    case: CASE,
    customer: CUSTOMER,
    questions: 'customer',
    answerBy: 'date',
    officer: { name: 'text' },
  },
  'delay-notice': {
    firm: FIRM,
    case: CASE,
    customer: CUSTOMER,
    reason: 'customer',
    previousDueAt: 'date',
    newDueAt: 'date',
    holdingReply: 'bool',
  },
  'holding-reply': {
    firm: FIRM,
    case: CASE,
    customer: CUSTOMER,
    reason: 'customer',
    finalAnswerBy: 'date',
    officer: { name: 'text' },
  },
  'final-answer': {
    firm: FIRM,
    case: CASE,
    customer: CUSTOMER,
    answer: 'customer',
    outcome: 'text',
    compensationSek: 'number',
    officer: { name: 'text' },
    consumer: 'bool',
  },
  'officer-new-case': {
    firm: FIRM,
    case: { ...CASE_FOR_STAFF, category: 'text' },
    recipient: { name: 'text' },
    fields: { list: { label: 'text', value: 'line' } },
    deadlines: { list: { milestone: 'text', dueAt: 'date', rule: 'text' } },
    related: { list: { number: 'text', subject: 'line', status: 'text', outcome: 'text', relation: 'text' } },
    excerpt: 'customer',
  },
  'officer-command-result': {
    firm: FIRM,
    case: { number: 'text', tag: 'text' },
    recipient: { name: 'text' },
    done: { list: { line: 'customer', result: 'text' } },
    errors: { list: { lineNumber: 'number', line: 'customer', problem: 'text' } },
    hasErrors: 'bool',
    note: 'customer',
  },
  'officer-closed-case-reply': {
    firm: FIRM,
    case: { ...CASE_FOR_STAFF, category: 'text', outcome: 'text', closedAt: 'date' },
    recipient: { name: 'text' },
    /** Sent to a manager: the case has no contact person among the configured officers. */
    toManager: 'bool',
    /** The customer's new mail: who wrote it, when, its subject and its new text (the quoted history left out). */
    reply: {
      fromName: 'line',
      fromAddress: 'line',
      /** Not the case's customer (a reply to one of our mails from another address). */
      senderDiffers: 'bool',
      receivedAt: 'date',
      subject: 'line',
      text: 'customer',
      attachments: 'number',
    },
  },
  'escalation-warning': {
    firm: FIRM,
    case: CASE_FOR_STAFF,
    recipient: { name: 'text' },
    milestone: 'text',
    dueAt: 'date',
    plannedAt: 'date',
    level: 'text',
    rule: 'text',
    policySource: 'text',
    late: 'bool',
    toManager: 'bool',
    delayNoticeOwed: 'bool',
    draftWaiting: 'bool',
    draftedAt: 'date',
    toApprover: 'bool',
  },
  'breach-notice': {
    firm: FIRM,
    case: CASE_FOR_STAFF,
    recipient: { name: 'text' },
    milestone: 'text',
    dueAt: 'date',
    plannedAt: 'date',
    level: 'text',
    rule: 'text',
    policySource: 'text',
    late: 'bool',
    toManager: 'bool',
    delayNoticeOwed: 'bool',
    draftWaiting: 'bool',
    draftedAt: 'date',
    toApprover: 'bool',
  },
  'manager-digest': {
    firm: FIRM,
    day: 'date',
    late: 'bool',
    openCount: 'number',
    breached: { list: DIGEST_ITEM },
    dueToday: { list: DIGEST_ITEM },
    dueTomorrow: { list: DIGEST_ITEM },
    nearest: { list: DIGEST_ITEM },
    /** Final answers waiting for approval, longest waiting first. */
    drafts: { list: { number: 'text', subject: 'line', author: 'text', draftedAt: 'date', dueAt: 'date' } },
  },
  'approval-request': {
    firm: FIRM,
    case: { ...CASE_FOR_STAFF, category: 'text' },
    recipient: { name: 'text' },
    /** The draft: its number (for #approve on a client that drops threading headers), author, when, how long. */
    draft: { id: 'number', author: 'text', authorName: 'text', draftedAt: 'date', words: 'number', replaces: 'number' },
    outcome: 'text',
    compensationSek: 'number',
    finalAnswerDueAt: 'date',
    /** The complaint's fields as the officer's notification shows them. */
    fields: { list: { label: 'text', value: 'line' } },
    /** The final answer exactly as the customer would get it: the rendered subject and text of the final-answer mail. */
    answer: { to: 'line', subject: 'customer', text: 'customer' },
  },
};

// ---- sample data --------------------------------------------------------------------------

const D = (iso: string): Date => new Date(iso);
const firm = { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se' };
const theCase = { number: 'KLG-2026-000042', tag: '[KLG-2026-000042]', receivedAt: D('2026-11-16T09:12:00+01:00') };
const staffCase = {
  ...theCase,
  subject: 'Felaktig påminnelseavgift',
  customerName: 'Anna Svensson',
  customerAddress: 'anna.svensson@example.com',
  customerNameHasOtherAddress: false,
  contact: 'olle@exempelfinans.se',
};
const item = {
  number: 'KLG-2026-000042',
  subject: 'Felaktig påminnelseavgift',
  milestone: 'finalAnswer',
  dueAt: D('2026-11-30T23:59:59+01:00'),
  contact: 'olle@exempelfinans.se',
};
const escalation = {
  firm,
  case: staffCase,
  recipient: { name: 'Olle Handläggare' },
  milestone: 'finalAnswer',
  dueAt: D('2026-11-30T23:59:59+01:00'),
  plannedAt: D('2026-11-27T00:00:00+01:00'),
  level: 'warn-1bd',
  rule: '14 calendar days',
  policySource: "firm's promise: an answer within 24 hours, a position within 14 days",
  late: false,
  toManager: true,
  delayNoticeOwed: true,
  draftWaiting: false,
  draftedAt: null,
  toApprover: false,
};

export const TEMPLATE_SAMPLES: Readonly<Record<TemplateKind, Record<string, unknown>>> = {
  acknowledgement: {
    firm,
    case: { ...theCase, answerDueAt: D('2026-11-30T23:59:59+01:00') },
    answerWithin: { unit: 'calendarDays', amount: 14 },
    customer: { name: 'Anna Svensson', type: 'consumer' },
    complaint: { subject: 'Felaktig påminnelseavgift' },
    contact: { name: 'Olle Handläggare' },
    missing: { contact: false, concerns: false, incidentDate: true, description: false, compensation: true },
    hasMissing: true,
  },
  'information-request': {
    firm,
    case: theCase,
    customer: { name: 'Anna Svensson', type: 'consumer' },
    questions: 'Kan du skicka kontoutdraget för november som visar dragningen?',
    answerBy: D('2026-11-25T23:59:59+01:00'),
    officer: { name: 'Olle Handläggare' },
  },
  'delay-notice': {
    firm,
    case: theCase,
    customer: { name: 'Anna Svensson', type: 'consumer' },
    reason: 'Vi väntar på underlag från banken.',
    previousDueAt: D('2026-11-30T23:59:59+01:00'),
    newDueAt: D('2026-12-14T23:59:59+01:00'),
    holdingReply: false,
  },
  'holding-reply': {
    firm,
    case: theCase,
    customer: { name: 'Anna Svensson', type: 'consumer' },
    reason: 'Betalningen utreds av vår bank, som ännu inte har lämnat sitt svar.',
    finalAnswerBy: D('2027-01-08T23:59:59+01:00'),
    officer: { name: 'Olle Handläggare' },
  },
  'final-answer': {
    firm,
    case: theCase,
    customer: { name: 'Anna Svensson', type: 'consumer' },
    answer: 'Vi har gått igenom ditt ärende och ser att påminnelseavgiften togs ut felaktigt. Vi betalar tillbaka avgiften.',
    outcome: 'partly-upheld',
    compensationSek: 1250,
    officer: { name: 'Olle Handläggare' },
    consumer: true,
  },
  'officer-new-case': {
    firm,
    case: { ...staffCase, category: 'fees' },
    recipient: { name: 'Olle Handläggare' },
    fields: [
      { label: 'Kategori', value: 'fees' },
      { label: 'Datum för problemet', value: '2026-11-03' },
    ],
    deadlines: [{ milestone: 'finalAnswer', dueAt: D('2026-11-30T23:59:59+01:00'), rule: '14 calendar days' }],
    related: [{ number: 'KLG-2026-000017', subject: 'Påminnelseavgift', status: 'closed', outcome: 'upheld', relation: 'same customer' }],
    excerpt: 'Jag vill klaga på en påminnelseavgift på 60 kr ...',
  },
  'officer-command-result': {
    firm,
    case: { number: 'KLG-2026-000042', tag: '[KLG-2026-000042]' },
    recipient: { name: 'Olle Handläggare' },
    done: [{ line: '#status in-progress', result: 'status: new -> in-progress' }],
    errors: [{ lineNumber: 2, line: '#stat answered', problem: "unknown command '#stat' — did you mean '#status'?" }],
    hasErrors: true,
    note: 'Kunden ringde och bekräftade dragningen.',
  },
  'officer-closed-case-reply': {
    firm,
    case: { ...staffCase, category: 'fees', outcome: 'rejected', closedAt: D('2026-11-27T14:05:00+01:00') },
    recipient: { name: 'Olle Handläggare' },
    toManager: false,
    reply: {
      fromName: 'Anna Svensson',
      fromAddress: 'anna.svensson@example.com',
      senderDiffers: false,
      receivedAt: D('2026-12-02T08:41:00+01:00'),
      subject: 'SV: [KLG-2026-000042] Vårt svar på ditt klagomål',
      text: 'Jag är inte nöjd med ert svar. Avgiften är fortfarande fel, och jag tänker vända mig till ARN.',
      attachments: 0,
    },
  },
  'escalation-warning': escalation,
  'breach-notice': { ...escalation, level: 'breach', plannedAt: D('2026-12-01T00:00:00+01:00') },
  'manager-digest': {
    firm,
    day: D('2026-11-27T07:30:00+01:00'),
    late: false,
    openCount: 12,
    breached: [item],
    dueToday: [],
    dueTomorrow: [item],
    nearest: [item],
    drafts: [{ ...item, author: 'olle@exempelfinans.se', draftedAt: D('2026-11-26T15:10:00+01:00') }],
  },
  'approval-request': {
    firm,
    case: { ...staffCase, category: 'fees' },
    recipient: { name: 'Karin Klagomålsansvarig' },
    draft: { id: 7, author: 'olle@exempelfinans.se', authorName: 'Olle Handläggare', draftedAt: D('2026-11-26T15:10:00+01:00'), words: 42, replaces: null },
    outcome: 'rejected',
    compensationSek: 0,
    finalAnswerDueAt: D('2026-11-30T23:59:59+01:00'),
    fields: [
      { label: 'Kategori', value: 'fees' },
      { label: 'Datum för problemet', value: '2026-11-03' },
    ],
    answer: {
      to: 'anna.svensson@example.com',
      subject: '[KLG-2026-000042] Vårt svar på ditt klagomål',
      text: 'Hej Anna Svensson,\n\nHär är vårt svar på ditt klagomål (ärendenummer KLG-2026-000042).\n\nVi har gått igenom ditt ärende ...',
    },
  },
};

/** Every dotted path a schema declares, for "did you mean" hints. */
export function schemaPaths(schema: Schema, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(schema)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.push(p);
    else if (isList(v)) out.push(p, ...schemaPaths(v.list, `${p}[]`));
    else out.push(p, ...schemaPaths(v, p));
  }
  return out;
}

/**
 * The declared variables that `data` lacks ("case.number", "fields[].label"): templates render
 * in strict mode, so every builder of a mail kind's data must give all of them (null allowed).
 */
export function missingFromData(schema: Schema, data: unknown, prefix = ''): string[] {
  const out: string[] = [];
  const obj = (data ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(schema)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (!(k in obj)) {
      out.push(p);
      continue;
    }
    if (typeof v === 'string') continue;
    if (isList(v)) {
      const list = obj[k];
      if (!Array.isArray(list)) out.push(`${p} (not a list)`);
      else for (const item of list) out.push(...missingFromData(v.list, item, `${p}[]`));
    } else if (obj[k] !== null) out.push(...missingFromData(v, obj[k], p));
  }
  return [...new Set(out)];
}

/** The longest a `line` value is in a mail: a subject or a name, with an ellipsis past it. */
export const LINE_MAX = 200;

/** Bidi embeddings, overrides and isolates: in a one-line value they could reorder what follows (an address). */
// eslint-disable-next-line no-control-regex
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The data with every `line` value of the schema made one line of at most LINE_MAX characters
 * (control characters, line breaks and bidi controls out, white space collapsed). Other values,
 * and keys the schema does not declare, as they are.
 */
export function boundLines(schema: Schema, data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || data instanceof Date) return data;
  const obj = data as Record<string, unknown>;
  const out: Record<string, unknown> = { ...obj };
  for (const [k, v] of Object.entries(schema)) {
    if (!(k in obj)) continue;
    const value = obj[k];
    if (v === 'line') {
      if (typeof value === 'string') out[k] = headerText(value.replace(BIDI_CONTROLS, ''), LINE_MAX);
    } else if (typeof v === 'object') {
      if (isList(v)) out[k] = Array.isArray(value) ? value.map((item) => boundLines(v.list, item)) : value;
      else out[k] = boundLines(v, value);
    }
  }
  return out;
}
