/**
 * The structured complaint read from the mail and its attached documents together, each item
 * with its source. Precedence, first that has the item wins: the fields of a filled-in form
 * (exact: read field by field, see complaint-form.ts), then the mail itself, then the text of
 * the attached documents in their order. Amounts and reference numbers are gathered from all.
 * A PDF that is the firm's own form is read from its fields only: its printed text is our own
 * labels ("Önskar du ersättning?"), no answer of the customer's.
 *
 * Pure: the readings are given (src/documents/stage.ts reads them beforehand, bounded).
 */
import type { ComplaintInput, ComplaintFields, FieldSource, SensitiveFields, SourcedItem } from '../parse/complaint-fields';
import { readComplaintFields } from '../parse/complaint-fields';
import type { ComplaintItem, ComplaintRules } from '../config/complaint-rules';
import { compileCategory, DEFAULT_RULES } from '../config/complaint-rules';
import type { FormFieldValue, PageText } from './reading';
import { COMPLAINT_FORM_FIELDS, formFieldLines } from './complaint-form';

export interface AttachedDocument {
  /** The attachment's file name as the customer sent it (or "attachment N"), for the source. */
  readonly file: string;
  readonly pages: readonly PageText[];
  readonly formFields: readonly FormFieldValue[];
}

/** One text the complaint is read from, in parts that each have a source (form lines, pages). */
interface Reading {
  readonly fields: ComplaintFields & SensitiveFields;
  readonly units: ReadonlyArray<{ readonly text: string; readonly source: FieldSource }>;
}

const squash = (s: string): string => s.replace(/\s+/g, ' ').toLowerCase();

/** The part of a reading that holds `evidence` (else its first part): where an item was read. */
function locate(r: Reading, evidence: string | RegExp | null): FieldSource {
  if (evidence !== null) {
    const hit = r.units.find((u) => (typeof evidence === 'string' ? squash(u.text).includes(squash(evidence)) : evidence.test(u.text)));
    if (hit) return hit.source;
  }
  return r.units[0].source;
}

function present(f: ComplaintFields): Record<ComplaintItem, boolean> {
  return {
    contact: f.contactName !== null,
    concerns: f.categoryMatched,
    incidentDate: f.incidentDate !== null,
    description: f.descriptionWords >= 25,
    compensation: f.compensationAsked !== null,
  };
}

export function readComplaintWithDocuments(
  input: ComplaintInput,
  documents: readonly AttachedDocument[],
  rules: ComplaintRules = DEFAULT_RULES,
): ComplaintFields & SensitiveFields {
  const body: Reading = { fields: readComplaintFields(input, rules), units: [{ text: `${input.subject}\n${input.text}`, source: { from: 'body' } }] };
  if (documents.length === 0) return { ...body.fields, sources: sourcesOf([body], rules) };
  // What a document says is read without the mail's sender (its own name is in it, if anywhere).
  const alone = (text: string): ComplaintInput => ({ ...input, text, subject: '', senderName: null, senderAddress: null });
  const forms: Reading[] = [];
  const texts: Reading[] = [];
  for (const d of documents) {
    const lines = formFieldLines(d.formFields);
    if (lines.length > 0) {
      const text = lines.map((l) => l.line).join('\n');
      forms.push({
        fields: readComplaintFields(alone(text), rules),
        units: lines.map((l) => ({ text: l.line, source: { from: 'form', file: d.file, field: l.field } })),
      });
    }
    const firmsForm = d.formFields.some((f) => COMPLAINT_FORM_FIELDS.some((s) => s.name === f.name));
    const pages = firmsForm ? [] : d.pages.filter((p) => p.text.trim());
    if (pages.length > 0) {
      const text = pages.map((p) => p.text).join('\n\n');
      texts.push({
        fields: readComplaintFields(alone(text), rules),
        units: pages.map((p) => ({ text: p.text, source: { from: 'attachment', file: d.file, page: p.page } })),
      });
    }
  }
  const all = [...forms, body, ...texts];
  const first = <T>(pick: (f: ComplaintFields & SensitiveFields) => T | null): T | null => {
    for (const r of all) {
      const v = pick(r.fields);
      if (v !== null) return v;
    }
    return null;
  };
  const withItem = (item: ComplaintItem): (ComplaintFields & SensitiveFields) | null => all.find((r) => present(r.fields)[item])?.fields ?? null;
  const concerns = withItem('concerns');
  const date = withItem('incidentDate');
  const description = withItem('description') ?? all.reduce((a, r) => (r.fields.descriptionWords > a.descriptionWords ? r.fields : a), body.fields);
  const compensation = withItem('compensation');
  const amountsSek = [...new Set(all.flatMap((r) => r.fields.amountsSek))];
  const references: Array<{ type: string; value: string }> = [];
  for (const r of all) for (const x of r.fields.references) if (!references.some((y) => y.type === x.type && y.value === x.value)) references.push(x);
  const pnr = all.find((r) => r.fields.personnummer !== null)?.fields ?? null;
  const merged: ComplaintFields & SensitiveFields = {
    contactName: first((f) => f.contactName),
    email: first((f) => f.email),
    phones: [...new Set(all.flatMap((r) => r.fields.phones))],
    postalAddress: first((f) => f.postalAddress),
    category: concerns?.category ?? body.fields.category,
    categoryMatched: concerns !== null,
    incidentDate: date?.incidentDate ?? null,
    incidentDateText: date?.incidentDateText ?? null,
    descriptionWords: description.descriptionWords,
    compensationAsked: compensation?.compensationAsked ?? null,
    compensationReason: compensation?.compensationReason ?? first((f) => f.compensationReason),
    amountsSek,
    references,
    personnummerMasked: pnr?.personnummerMasked ?? null,
    personnummer: pnr?.personnummer ?? null,
    fromForm: all.some((r) => r.fields.fromForm),
    missing: [],
  };
  const has = present(merged);
  return { ...merged, missing: rules.requiredItems.filter((i) => !has[i]), sources: sourcesOf(all, rules) };
}

/** For each item, the source of the reading that gave it (as the merge above chose it). */
function sourcesOf(all: readonly Reading[], rules: ComplaintRules): Partial<Record<SourcedItem, FieldSource>> {
  const out: Partial<Record<SourcedItem, FieldSource>> = {};
  const by = (item: ComplaintItem): Reading | undefined => all.find((r) => present(r.fields)[item]);
  const contact = all.find((r) => r.fields.contactName !== null);
  if (contact) out.contact = locate(contact, contact.fields.contactName);
  const concerns = by('concerns');
  if (concerns) {
    const rule = rules.categories.find((c) => c.id === concerns.fields.category);
    out.concerns = locate(concerns, rule ? compileCategory(rule) : null);
  }
  const date = by('incidentDate');
  if (date) out.incidentDate = locate(date, date.fields.incidentDateText);
  const description = by('description');
  if (description) out.description = locate(description, /^Beskrivning:/);
  const compensation = by('compensation');
  if (compensation) out.compensation = locate(compensation, compensation.fields.compensationReason ?? /^Önskar ersättning:/);
  const amounts = all.find((r) => r.fields.amountsSek.length > 0);
  if (amounts) {
    const digits = String(Math.trunc(amounts.fields.amountsSek[0]));
    const holds = (u: { text: string }): boolean => u.text.replace(/\D/g, '').includes(digits);
    // A form's amount field before a description that names the same sum.
    out.amounts = (amounts.units.find((u) => /^Belopp:/.test(u.text) && holds(u)) ?? amounts.units.find(holds) ?? amounts.units[0]).source;
  }
  const refs = all.find((r) => r.fields.references.length > 0);
  if (refs) out.references = locate(refs, refs.fields.references[0].value);
  const pnr = all.find((r) => r.fields.personnummer !== null);
  if (pnr) out.personnummer = locate(pnr, /^Personnummer:/);
  return out;
}
