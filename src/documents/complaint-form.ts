/**
 * The firm's fillable complaint form (`klagomal form --lang sv|en --out FILE.pdf`) and the names
 * of its fields, which the reader knows: a returned form is read field by field, exactly, not
 * guessed from its text. The fields are Billender's five (contact details, what the complaint
 * concerns, the date of the problem, a description, compensation wanted and why), plus the
 * customer number, an agreement or loan number and the personnummer.
 *
 * The field names are part of the contract with every form already sent out: never rename one
 * (add new ones instead), or returned old forms would be read by their labels only.
 */
// Only the form command needs pdf-lib: loaded when a form is made, not at every start of the CLI
// or the service (the field names below are read while filing).
import type { PDFFont, PDFPage } from 'pdf-lib';

/** What each field of the form is, in the words of the complaint reader's form labels (src/parse/complaint-fields.ts). */
export type FormFieldRole =
  | 'name'
  | 'email'
  | 'phone'
  | 'address'
  | 'customerNumber'
  | 'personnummer'
  | 'reference'
  | 'concerns'
  | 'date'
  | 'description'
  | 'compensation'
  | 'amount'
  | 'reason';

export interface FormFieldSpec {
  readonly name: string;
  readonly role: FormFieldRole;
  readonly label: { readonly sv: string; readonly en: string };
  /** Lines of the box (1: one line). */
  readonly lines: number;
}

/** The form's fields in order; `name` is what the PDF carries (AcroForm /T). */
export const COMPLAINT_FORM_FIELDS: readonly FormFieldSpec[] = [
  { name: 'klagomal_namn', role: 'name', label: { sv: 'Namn', en: 'Name' }, lines: 1 },
  { name: 'klagomal_epost', role: 'email', label: { sv: 'E-post', en: 'E-mail' }, lines: 1 },
  { name: 'klagomal_telefon', role: 'phone', label: { sv: 'Telefon', en: 'Phone' }, lines: 1 },
  { name: 'klagomal_adress', role: 'address', label: { sv: 'Postadress', en: 'Postal address' }, lines: 1 },
  { name: 'klagomal_kundnummer', role: 'customerNumber', label: { sv: 'Kundnummer', en: 'Customer number' }, lines: 1 },
  { name: 'klagomal_personnummer', role: 'personnummer', label: { sv: 'Personnummer', en: 'Personal identity number' }, lines: 1 },
  { name: 'klagomal_avtalsnummer', role: 'reference', label: { sv: 'Avtals- eller lånenummer', en: 'Agreement or loan number' }, lines: 1 },
  { name: 'klagomal_galler', role: 'concerns', label: { sv: 'Vad gäller klagomålet?', en: 'What does the complaint concern?' }, lines: 1 },
  { name: 'klagomal_datum', role: 'date', label: { sv: 'Datum då problemet uppstod (ÅÅÅÅ-MM-DD)', en: 'Date the problem happened (YYYY-MM-DD)' }, lines: 1 },
  { name: 'klagomal_beskrivning', role: 'description', label: { sv: 'Beskriv vad som hänt', en: 'Describe what happened' }, lines: 6 },
  { name: 'klagomal_ersattning', role: 'compensation', label: { sv: 'Önskar du ersättning? (ja/nej)', en: 'Do you want compensation? (yes/no)' }, lines: 1 },
  { name: 'klagomal_belopp', role: 'amount', label: { sv: 'Belopp (kr)', en: 'Amount (SEK)' }, lines: 1 },
  { name: 'klagomal_skal', role: 'reason', label: { sv: 'Varför ska du få ersättning?', en: 'Why should you be compensated?' }, lines: 3 },
];

/**
 * The label the complaint reader reads each role by (its FORM_LABELS, and the reference
 * patterns of src/config/complaint-rules.ts for numbers): a form field becomes a "Label: value"
 * line, so that a form and a typed "Namn: ..." mail are read by the same rules.
 */
const READER_LABEL: Record<FormFieldRole, string> = {
  name: 'Namn',
  email: 'E-post',
  phone: 'Telefon',
  address: 'Adress',
  customerNumber: 'Kundnummer',
  personnummer: 'Personnummer',
  reference: 'Avtalsnummer',
  concerns: 'Gäller',
  date: 'Datum för problemet',
  description: 'Beskrivning',
  compensation: 'Önskar ersättning',
  amount: 'Belopp',
  reason: 'Anledning',
};

export interface FormLine {
  /** The PDF's field name (the source recorded for what is read from it). */
  readonly field: string;
  readonly line: string;
}

/**
 * A filled-in form's fields as "Label: value" lines. The firm's own fields by name; any other
 * form's fields by their own name (its last part, `_` and `.` read as spaces), so that another
 * firm's "Namn" or "Datum" field is read by the same labels.
 */
export function formFieldLines(fields: ReadonlyArray<{ name: string; value: string }>): FormLine[] {
  const out: FormLine[] = [];
  for (const f of fields) {
    const spec = COMPLAINT_FORM_FIELDS.find((s) => s.name === f.name);
    let value = f.value.replace(/\s+/g, ' ').trim();
    if (!value) continue;
    const role = spec?.role;
    if (role === 'amount' && /^\d[\d .,]*$/.test(value)) value = `${value} kr`;
    if (role === 'compensation') value = /^(ja|yes|j|y|on|true)$/i.test(value) ? 'Ja' : /^(nej|no|n|off|false)$/i.test(value) ? 'Nej' : value;
    const label = role ? READER_LABEL[role] : (f.name.split('.').pop() ?? f.name).replace(/[_.]+/g, ' ').trim();
    out.push({ field: f.name, line: `${label}: ${value}` });
  }
  return out;
}

export interface FormOptions {
  readonly lang: 'sv' | 'en';
  readonly firmName: string;
  readonly complaintsAddress: string;
}

const TEXT = {
  sv: {
    title: 'Klagomål',
    intro: (firm: string): string[] => [
      `Fyll i formuläret och skicka det till ${firm} som bilaga till ett e-postmeddelande.`,
      'Svara så fullständigt du kan, så kan vi utreda ditt klagomål utan att behöva fråga igen.',
    ],
    send: (addr: string): string => `Skicka till: ${addr}`,
    foot: 'Vi bekräftar att vi tagit emot klagomålet och svarar inom den tid vi lovar.',
  },
  en: {
    title: 'Complaint',
    intro: (firm: string): string[] => [
      `Fill in the form and send it to ${firm} attached to an e-mail.`,
      'Answer as fully as you can, so that we can look into your complaint without asking again.',
    ],
    send: (addr: string): string => `Send to: ${addr}`,
    foot: 'We confirm that we have received the complaint and answer within the time we promise.',
  },
};

/** The fillable form as PDF bytes. Standard fonts (WinAnsi: å, ä, ö, é are in it); fields in the order above. */
export async function complaintFormPdf(opts: FormOptions): Promise<Uint8Array> {
  const t = TEXT[opts.lang];
  const { PDFDocument, StandardFonts, rgb } = await import('pdf-lib');
  const doc = await PDFDocument.create();
  doc.setTitle(`${t.title} – ${opts.firmName}`);
  doc.setLanguage(opts.lang === 'sv' ? 'sv-SE' : 'en-GB');
  doc.setCreator('klagomal');
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const form = doc.getForm();
  const margin = 50;
  let page: PDFPage = doc.addPage([595.28, 841.89]); // A4
  let y = page.getHeight() - margin;
  const text = (s: string, size: number, f: PDFFont = font): void => {
    page.drawText(s, { x: margin, y, size, font: f, color: rgb(0, 0, 0) });
    y -= size + 6;
  };
  text(`${t.title} – ${opts.firmName}`, 18, bold);
  y -= 4;
  for (const l of t.intro(opts.firmName)) text(l, 10);
  text(t.send(opts.complaintsAddress), 10, bold);
  y -= 8;
  const width = page.getWidth() - 2 * margin;
  for (const spec of COMPLAINT_FORM_FIELDS) {
    const height = spec.lines === 1 ? 20 : spec.lines * 14 + 6;
    if (y - 14 - height < margin) {
      page = doc.addPage([595.28, 841.89]);
      y = page.getHeight() - margin;
    }
    text(spec.label[opts.lang], 10, bold);
    const field = form.createTextField(spec.name);
    if (spec.lines > 1) field.enableMultiline();
    field.addToPage(page, { x: margin, y: y - height + 12, width, height, font, borderColor: rgb(0.4, 0.4, 0.4) });
    y -= height + 8;
  }
  y -= 6;
  text(t.foot, 9);
  form.updateFieldAppearances(font);
  return doc.save();
}
