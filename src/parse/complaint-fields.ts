/**
 * The structured complaint: what the firm asks a complaining customer to send (Billender's
 * list, echoed by the EU guidelines): contact details, what the complaint concerns, the date of
 * the problem, a description, and whether compensation is wanted, why, and what damage it caused.
 *
 * Read from the mail's text in Swedish and English, and field by field from web-form
 * submissions ("Namn: ...", "Datum för problemet: ..."). Items the customer has not given are
 * listed as `missing`, so the acknowledgement asks for exactly those. The reader never decides
 * anything about the complaint itself. Pure: the mail's date is a parameter. The rules it reads
 * with (categories, reference patterns, the items asked for) are src/config/complaint-rules.ts.
 */
import { findPersonnummer, replacePersonnummer } from '../util/personnummer';
import { WORD_END as E, WORD_START as B } from '../util/word-boundary';
import type { ComplaintItem, ComplaintRules } from '../config/complaint-rules';
import { compileCategory, DEFAULT_RULES } from '../config/complaint-rules';

export interface ComplaintFields {
  readonly contactName: string | null;
  readonly email: string | null;
  readonly phones: readonly string[];
  readonly postalAddress: string | null;
  /** A category id, or 'other' when no rule matched. */
  readonly category: string;
  readonly categoryMatched: boolean;
  /** The earliest plausible date of the problem (ISO), and the text it was read from. */
  readonly incidentDate: string | null;
  readonly incidentDateText: string | null;
  readonly descriptionWords: number;
  /** true: compensation is asked for; false: explicitly not wanted; null: not mentioned. */
  readonly compensationAsked: boolean | null;
  readonly compensationReason: string | null;
  readonly amountsSek: readonly number[];
  readonly references: ReadonlyArray<{ type: string; value: string }>;
  /** The first valid personnummer or samordningsnummer, masked (the number itself is kept apart). */
  readonly personnummerMasked: string | null;
  readonly fromForm: boolean;
  readonly missing: readonly ComplaintItem[];
  /**
   * Where each item was read (src/documents/complaint-sources.ts): the mail itself, a form
   * field of an attached PDF, or an attached document's page. Absent on cases filed before.
   */
  readonly sources?: Readonly<Partial<Record<SourcedItem, FieldSource>>>;
}

/** The items whose source is recorded: the five asked for, and the numbers read. */
export type SourcedItem = ComplaintItem | 'amounts' | 'references' | 'personnummer';

export type FieldSource =
  | { readonly from: 'body' }
  | { readonly from: 'form'; readonly file: string; readonly field: string }
  | { readonly from: 'attachment'; readonly file: string; readonly page: number | null };

/** The full personnummer, for its own protected field; never part of ComplaintFields. */
export interface SensitiveFields {
  readonly personnummer: string | null;
}

// ---- form submissions -------------------------------------------------------------------

type FormField = 'name' | 'email' | 'phone' | 'address' | 'personnummer' | 'concerns' | 'date' | 'description' | 'compensation' | 'amount' | 'reason';

const FORM_LABELS: ReadonlyArray<[FormField, RegExp]> = [
  ['name', /^(namn|fullständigt namn|ditt namn|name|full name|your name)$/i],
  ['email', /^(e-?post|e-?postadress|mejl|e-?mail|email address)$/i],
  ['phone', /^(telefon|telefonnummer|mobil|mobilnummer|phone|phone number|mobile)$/i],
  ['address', /^(adress|postadress|address|postal address)$/i],
  ['personnummer', /^(personnummer|person-?nr|personal identity number)$/i],
  ['concerns', /^(ärendet gäller|gäller|vad gäller klagomålet|kategori|ämne|regarding|concerns|category|topic)$/i],
  ['date', /^(datum för problemet|datum då problemet uppstod|när hände det|datum|date of the problem|date of incident|date)$/i],
  ['description', /^(beskrivning|beskriv ditt klagomål|meddelande|ditt klagomål|description|message|details|your complaint)$/i],
  ['compensation', /^(önskar ersättning|önskar du ersättning|ersättning|vill du ha ersättning|compensation wanted|do you want compensation|compensation)$/i],
  ['amount', /^(belopp|önskat belopp|amount)$/i],
  ['reason', /^(anledning|skäl|motivering|reason)$/i],
];

function readForm(text: string): { fields: Partial<Record<FormField, string>>; count: number } {
  const fields: Partial<Record<FormField, string>> = {};
  let count = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*([\p{L}][\p{L} -]{1,40}?)\s*:\s*(.*)$/u.exec(lines[i]);
    if (!m) continue;
    const hit = FORM_LABELS.find(([, re]) => re.test(m[1].trim()));
    if (!hit) continue;
    let value = m[2].trim();
    // A value on the following lines (descriptions), up to the next label or a blank line.
    if (hit[0] === 'description' || value === '') {
      const more: string[] = value ? [value] : [];
      for (let j = i + 1; j < lines.length; j++) {
        if (/^\s*[\p{L}][\p{L} -]{1,40}?\s*:/u.test(lines[j]) && FORM_LABELS.some(([, re]) => re.test(lines[j].split(':')[0].trim()))) break;
        if (lines[j].trim() === '' && more.length > 0) break;
        if (lines[j].trim()) more.push(lines[j].trim());
      }
      value = more.join(' ');
    }
    if (!fields[hit[0]] && value) {
      fields[hit[0]] = value;
      count++;
    }
  }
  return { fields, count };
}

// ---- dates ------------------------------------------------------------------------------

const MONTHS: Record<string, number> = {
  januari: 1,
  january: 1,
  jan: 1,
  februari: 2,
  february: 2,
  feb: 2,
  mars: 3,
  march: 3,
  mar: 3,
  april: 4,
  apr: 4,
  maj: 5,
  may: 5,
  juni: 6,
  june: 6,
  jun: 6,
  juli: 7,
  july: 7,
  jul: 7,
  augusti: 8,
  august: 8,
  aug: 8,
  september: 9,
  sept: 9,
  sep: 9,
  oktober: 10,
  october: 10,
  okt: 10,
  oct: 10,
  november: 11,
  nov: 11,
  december: 12,
  dec: 12,
};
const MONTH_RE = Object.keys(MONTHS)
  .sort((a, b) => b.length - a.length)
  .join('|');

/**
 * The window of dates that can be real in a complaint to the firm: not before 1990 (before
 * e-mail reached the firm's customers), and not after the mail's arrival plus a day (clock skew
 * and time zones). Outside it a date is a typing error, a broken client's clock or an attack
 * (`Date: ... 275000`), and it is not a date: neither the mail's nor the incident's.
 */
export const EARLIEST_PLAUSIBLE_DATE = new Date(Date.UTC(1990, 0, 1));

export function plausibleDate(d: Date, arrival: Date | null = null): boolean {
  const t = d.getTime();
  if (!Number.isFinite(t) || t < EARLIEST_PLAUSIBLE_DATE.getTime()) return false;
  // Without an arrival: at least a four-digit year (RFC 5322 §3.3), which keeps ISO output sane.
  return arrival ? t <= arrival.getTime() + 86_400_000 : d.getUTCFullYear() <= 9999;
}

interface DateHit {
  readonly date: Date;
  readonly text: string;
  readonly index: number;
}

function utcDate(y: number, m: number, d: number): Date | null {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d ? t : null;
}

/** A date without a year is in the year of the mail, or the year before if it would be later than the mail. */
function withYear(m: number, d: number, y: number | null, ref: Date): Date | null {
  if (y !== null) return utcDate(y < 100 ? 2000 + y : y, m, d);
  const same = utcDate(ref.getUTCFullYear(), m, d);
  if (same && same.getTime() <= ref.getTime() + 86_400_000) return same;
  return utcDate(ref.getUTCFullYear() - 1, m, d);
}

// The date patterns, compiled once (matchAll takes a copy of each, so sharing them is safe).
const ISO_DATE = new RegExp(`${B}(20\\d\\d)-(\\d\\d)-(\\d\\d)${E}`, 'gu');
const DAY_MONTH = new RegExp(`${B}(\\d{1,2})(?:e|:e|st|nd|rd|th)?\\.?\\s+(${MONTH_RE})\\.?(?:\\s+(20\\d\\d))?${E}`, 'giu');
const MONTH_DAY = new RegExp(`${B}(${MONTH_RE})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?(?:,?\\s+(20\\d\\d))?${E}`, 'giu');
const NUMERIC_DATE = new RegExp(`${B}(\\d{1,2})[/.](\\d{1,2})(?:[/.-](20\\d\\d|\\d\\d))?${E}`, 'gu');
const RELATIVE_DAYS: ReadonlyArray<[RegExp, number]> = [
  [new RegExp(`${B}(i förrgår|i förgår|förrgår|day before yesterday)${E}`, 'giu'), 2],
  [new RegExp(`${B}(igår|i går|yesterday)${E}`, 'giu'), 1],
];

function findDates(text: string, ref: Date): DateHit[] {
  const hits: DateHit[] = [];
  const add = (date: Date | null, t: string, index: number): void => {
    if (date) hits.push({ date, text: t, index });
  };
  for (const m of text.matchAll(ISO_DATE)) add(utcDate(+m[1], +m[2], +m[3]), m[0], m.index!);
  for (const m of text.matchAll(DAY_MONTH)) {
    add(withYear(MONTHS[m[2].toLowerCase()], +m[1], m[3] ? +m[3] : null, ref), m[0].replace(/\.$/, ''), m.index!);
  }
  for (const m of text.matchAll(MONTH_DAY)) {
    add(withYear(MONTHS[m[1].toLowerCase()], +m[2], m[3] ? +m[3] : null, ref), m[0], m.index!);
  }
  // Swedish day/month: 3/11, 3/11/2026, 3/11-26, 3.11.2026
  for (const m of text.matchAll(NUMERIC_DATE)) {
    if (+m[2] >= 1 && +m[2] <= 12) add(withYear(+m[2], +m[1], m[3] ? +m[3] : null, ref), m[0], m.index!);
  }
  for (const [re, days] of RELATIVE_DAYS) {
    for (const m of text.matchAll(re)) {
      const d = new Date(Date.UTC(ref.getUTCFullYear(), ref.getUTCMonth(), ref.getUTCDate() - days));
      add(d, m[0], m.index!);
    }
  }
  return hits;
}

function iso(d: Date): string {
  return d.toISOString().slice(0, 10);
}

// ---- money ------------------------------------------------------------------------------

/** An amount with a currency that is a whole word: "60 kr", "1 250,50 kronor", "1.250:-", "1250 SEK", never "2026 kräver". */
const AMOUNT = new RegExp(`(?<![\\d.,])(\\d{1,3}(?:[ .\\u00a0]\\d{3})+|\\d+)(?:,(\\d{1,2}))?\\s*(?:(?:kr|kronor|sek)${E}|:-)`, 'giu');
const COMPENSATION = new RegExp(
  `${B}(?:ersättning|kompensation|ersätta|ersätt|återbetal|tillbakabetal|(?:betala|betalar|betalas|betalat|få|ha|ge|skicka)(?: mig)? (?:\\p{L}+ )?tillbaka|pengarna tillbaka|kreditera|krediterar|krediteras|gottgörelse|skadestånd|stå för kostnaden|compensat|refund|reimburs|money back|pay (?:me )?back|credit (?:me|my)|be credited)`,
  'iu',
);
const NO_COMPENSATION = new RegExp(
  `${B}(?:ingen (?:ersättning|kompensation)|inte (?:någon )?(?:ersättning|kompensation)|kräver inte|begär inte|vill inte ha (?:någon )?(?:ersättning|kompensation|pengar)|no compensation|not (?:asking|looking) for (?:any )?(?:compensation|money)|don't want (?:any )?(?:compensation|money))`,
  'iu',
);

function sentenceAround(text: string, index: number): string {
  const start = Math.max(text.lastIndexOf('.', index), text.lastIndexOf('\n', index)) + 1;
  const endDot = text.indexOf('.', index);
  const endNl = text.indexOf('\n', index);
  const end = [endDot, endNl].filter((x) => x >= 0).reduce((a, b) => Math.min(a, b), text.length);
  return text
    .slice(start, end + 1)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

// ---- contact ----------------------------------------------------------------------------

const PHONE = /(?<![\d+])(?:\+46|0046|0)[\s-]?\d{1,3}(?:[\s-]?\d{2,3}){1,2}[\s-]?\d{2,3}(?![\d])/g;
const POSTAL = /^[\p{L}][\p{L} .'-]+ \d+[A-Za-z]?(?: [A-Za-z0-9]+)?,?\s+\d{3} ?\d{2}\s+[\p{L}][\p{L} -]+$/u;
const GREETING =
  /^(med vänliga hälsningar|vänliga hälsningar|vänlig hälsning|hälsningar|mvh|best regards|kind regards|regards|sincerely|yours sincerely|thanks|tack)[,!.]?\s*$/i;

function signatureName(text: string): string | null {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    if (GREETING.test(lines[i])) {
      const next = lines.slice(i + 1).find((l) => l !== '');
      if (next && /^[\p{Lu}][\p{L}'-]+(?: [\p{Lu}][\p{L}'-]+){0,3}$/u.test(next)) return next;
    }
  }
  return null;
}

// ---- the reader -------------------------------------------------------------------------

export interface ComplaintInput {
  readonly text: string;
  readonly subject: string;
  readonly senderName: string | null;
  readonly senderAddress: string | null;
  /** The mail's Date header (relative dates and missing years are read against it), else the received time. */
  readonly mailDate: Date;
  /**
   * What a personnummer is read against (its birth date may not be later): the mail's arrival.
   * Not the Date header, which the sender's clock sets. Without it, mailDate.
   */
  readonly personnummerAt?: Date;
}

export function readComplaintFields(input: ComplaintInput, rules: ComplaintRules = DEFAULT_RULES): ComplaintFields & SensitiveFields {
  const { text, subject } = input;
  const form = readForm(text);
  const fromForm = form.count >= 3;
  const f = form.fields;
  const all = `${subject}\n${text}`;

  const pnrAt = input.personnummerAt ?? input.mailDate;
  const found = findPersonnummer(`${f.personnummer ?? ''}\n${text}`, pnrAt);
  const personnummer = found[0] ?? null;
  const phonesIn = (s: string): string[] => Array.from(s.matchAll(PHONE), (m) => m[0].trim()).filter((p) => p.replace(/\D/g, '').length >= 8);
  // A personnummer is not a phone number: take valid ones out before looking for phones.
  const withoutPnr = replacePersonnummer(text, () => ' ', pnrAt);
  const phones = [...new Set([...(f.phone ? phonesIn(f.phone) : []), ...phonesIn(withoutPnr)])];
  const postalAddress =
    f.address ??
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => POSTAL.test(l)) ??
    null;
  const contactName = f.name?.trim() || input.senderName?.trim() || signatureName(text) || null;
  const email = f.email && /@/.test(f.email) ? f.email.trim().toLowerCase() : input.senderAddress;

  const categoryText = `${f.concerns ?? ''}\n${all}`;
  const matched = rules.categories.find((c) => compileCategory(c).test(categoryText));
  const category = matched?.id ?? 'other';

  const dateSource = f.date ? `${f.date}\n${text}` : text;
  const ref = input.mailDate;
  const plausible = findDates(dateSource, ref).filter(
    (h) => plausibleDate(h.date) && h.date.getTime() <= ref.getTime() + 86_400_000 && h.date.getTime() >= ref.getTime() - 3 * 366 * 86_400_000,
  );
  const earliest = plausible.sort((a, b) => a.date.getTime() - b.date.getTime() || a.index - b.index)[0] ?? null;

  const own = fromForm && f.description ? f.description : text;
  const descriptionWords = own.split(/\s+/).filter((w) => /[\p{L}\d]/u.test(w)).length;

  const amountsSek = Array.from(`${subject}\n${text}`.matchAll(AMOUNT), (m) => Number(m[1].replace(/[ .\u00a0]/g, '')) + (m[2] ? Number(m[2]) / 100 : 0));
  let compensationAsked: boolean | null = null;
  let compensationReason: string | null = null;
  if (f.compensation) compensationAsked = /^(ja|yes|j|y)\b/i.test(f.compensation.trim()) ? true : /^(nej|no|n)\b/i.test(f.compensation.trim()) ? false : null;
  if (compensationAsked === null) {
    if (NO_COMPENSATION.test(all)) compensationAsked = false;
    else {
      const m = COMPENSATION.exec(all);
      if (m) {
        compensationAsked = true;
        compensationReason = sentenceAround(all, m.index);
      }
    }
  }
  if (f.reason) compensationReason = f.reason;

  const references: Array<{ type: string; value: string }> = [];
  for (const r of rules.references) {
    for (const m of all.matchAll(new RegExp(r.pattern, 'giu'))) {
      const value = m[1].replace(/[.,;:]+$/, '');
      if (!references.some((x) => x.type === r.type && x.value === value)) references.push({ type: r.type, value });
    }
  }

  const present: Record<ComplaintItem, boolean> = {
    contact: contactName !== null,
    concerns: matched !== undefined,
    incidentDate: earliest !== null,
    description: descriptionWords >= 25,
    compensation: compensationAsked !== null,
  };
  const missing = rules.requiredItems.filter((i) => !present[i]);

  return {
    contactName,
    email,
    phones,
    postalAddress,
    category,
    categoryMatched: matched !== undefined,
    incidentDate: earliest ? iso(earliest.date) : null,
    incidentDateText: earliest?.text ?? null,
    descriptionWords,
    compensationAsked,
    compensationReason,
    amountsSek,
    references,
    personnummerMasked: personnummer?.masked ?? null,
    personnummer: personnummer?.normalised ?? null,
    fromForm,
    missing,
  };
}

/** The fields to store with the case: everything but the personnummer, which has its own protected field. */
export function publicFields(f: ComplaintFields & SensitiveFields): ComplaintFields {
  const { personnummer: _omit, ...rest } = f;
  void _omit;
  return rest;
}
