/**
 * The structured complaint: what the firm asks a complaining customer to send (Billender's list,
 * echoed by the EU guidelines): contact details, what the complaint concerns, the date of the
 * problem, a description, and whether compensation is wanted and why.
 *
 * This is a first, deliberately conservative reader: it looks for each item and reports the
 * ones it cannot find, so the acknowledgement can ask for exactly those. It never decides
 * anything about the complaint itself. Pure function of the text.
 */

export type ComplaintItem = 'contact' | 'concerns' | 'incidentDate' | 'description' | 'compensation';
export const COMPLAINT_ITEMS: readonly ComplaintItem[] = ['contact', 'concerns', 'incidentDate', 'description', 'compensation'];

export interface ComplaintFields {
  readonly contactName: string | null;
  readonly phones: readonly string[];
  readonly category: string | null;
  /** The first date found in the text, as written. */
  readonly incidentDateText: string | null;
  readonly descriptionWords: number;
  readonly compensationMentioned: boolean;
  readonly amountsSek: readonly number[];
  /** Items the customer has not given us (asked for in the acknowledgement). */
  readonly missing: readonly ComplaintItem[];
}

/**
 * Word boundaries that know Swedish letters. JavaScript's \b counts only [A-Za-z0-9_] as word
 * characters, so /\båterbetal/ never matches after a space; these look-arounds use Unicode
 * letter and number classes instead (with the `u` flag).
 */
const B = '(?<![\\p{L}\\p{N}])';
const E = '(?![\\p{L}\\p{N}])';
/** A case-insensitive Unicode pattern from word stems: each stem may take an inflected ending. */
function words(stems: string): RegExp {
  return new RegExp(`${B}(?:${stems})`, 'iu');
}

/**
 * Default categories of a lender / payment firm, with Swedish and English keywords, first match
 * wins. Payment-service and fraud (unauthorised transactions) come first: they bring the PSD2
 * deadlines, and since the earliest deadline wins, reading a complaint as one of them when it
 * also mentions a fee can only make the case's deadlines stricter, never looser.
 */
const CATEGORIES: ReadonlyArray<{ id: string; words: RegExp }> = [
  { id: 'fraud', words: words('bedrägeri|bedragare|kapad|kapat|obehörig|fraud|scam|unauthori[sz]ed|identity theft|id-kapning') },
  { id: 'payments', words: words('autogiro|betalning|inbetalning|dragning|dragit|dragits|överföring|payment|direct debit|transfer|refund|återbetalning') },
  { id: 'debt-collection', words: words('inkasso|påminnelse|kronofogde|betalningsföreläggande|debt collect|collection agency|reminder fee') },
  { id: 'fees', words: words(`avgift|kostnad|fees?${E}|charged?${E}|charges${E}`) },
  { id: 'interest', words: words(`ränt[ae]|räntor|interest`) },
  {
    id: 'credit-decision',
    words: words('kreditprövning|kreditbeslut|avslag|nekad|nekades|beviljad|credit decision|credit check|declined|rejected my (?:loan )?application'),
  },
  { id: 'termination', words: words('uppsägning|uppsagd|sagt upp|säga upp|förtida inlösen|lösa lånet|terminat|cancel') },
  { id: 'personal-data', words: words('personuppgift|gdpr|dataskydd|registerutdrag|personal data|data protection') },
  { id: 'customer-service', words: words('bemötande|kundtjänst|otrevlig|oförskämd|svarar inte|ingen svarar|customer service|rude|no answer|unhelpful') },
];

const MONTHS_SV = 'januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|okt|nov|dec';
const MONTHS_EN = 'january|february|march|april|may|june|july|august|september|october|november|december';
const DATE_PATTERNS: readonly RegExp[] = [
  new RegExp(`${B}(20\\d\\d-\\d\\d-\\d\\d)${E}`, 'u'),
  new RegExp(`${B}(\\d{1,2}(?:e|:e|st|nd|rd|th)?\\s+(?:${MONTHS_SV}|${MONTHS_EN})(?:\\.?\\s+20\\d\\d)?)${E}`, 'iu'),
  new RegExp(`${B}((?:${MONTHS_EN})\\s+\\d{1,2}(?:st|nd|rd|th)?(?:,?\\s+20\\d\\d)?)${E}`, 'iu'),
  new RegExp(`${B}(\\d{1,2}\\/\\d{1,2}(?:[/-](?:20)?\\d\\d)?)${E}`, 'u'),
  new RegExp(`${B}(igår|i går|i förrgår|yesterday|förra veckan|last week)${E}`, 'iu'),
];

const PHONE = /(?:\+46|0046|(?<![\p{L}\p{N}])0)[\s-]?\d{1,3}[\s-]?\d{2,3}[\s-]?\d{2}[\s-]?\d{2,3}(?![\p{N}])/gu;
const COMPENSATION = words(
  'ersättning|kompensation|ersätta|ersätt|återbetal|tillbakabetal|betala(?:r)? tillbaka|pengarna tillbaka|gottgörelse|skadestånd|compensat|refund|reimburs|money back',
);
/** An amount with a currency that is a whole word: "60 kr", "1 250,50 kronor", "1.250:-", "1250 SEK", not "2026 kräver". */
const AMOUNT = new RegExp(`(\\d{1,3}(?:[ .\\u00a0]\\d{3})+|\\d+)(?:,(\\d{1,2}))?\\s*(?:(?:kr|kronor|sek)${E}|:-)`, 'giu');
const NAME_LINE = /^\s*(?:namn|name)\s*:\s*(.+)$/im;

export function readComplaintFields(text: string, subject: string, senderName: string | null): ComplaintFields {
  const all = `${subject}\n${text}`;
  const phones = [...new Set(Array.from(text.matchAll(PHONE), (m) => m[0].trim()))];
  const nameFromForm = NAME_LINE.exec(text)?.[1]?.trim() ?? null;
  const contactName = nameFromForm || (senderName && senderName.trim()) || null;
  const category = CATEGORIES.find((c) => c.words.test(all))?.id ?? null;
  let incidentDateText: string | null = null;
  for (const re of DATE_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      incidentDateText = m[1];
      break;
    }
  }
  const descriptionWords = text.split(/\s+/).filter((w) => /[\p{L}\d]/u.test(w)).length;
  const amountsSek = Array.from(all.matchAll(AMOUNT), (m) => Number(m[1].replace(/[ .\u00a0]/g, '')) + (m[2] ? Number(m[2]) / 100 : 0));
  const compensationMentioned = COMPENSATION.test(all);

  const missing: ComplaintItem[] = [];
  if (!contactName) missing.push('contact');
  if (!category) missing.push('concerns');
  if (!incidentDateText) missing.push('incidentDate');
  if (descriptionWords < 25) missing.push('description');
  if (!compensationMentioned) missing.push('compensation');

  return { contactName, phones, category, incidentDateText, descriptionWords, compensationMentioned, amountsSek, missing };
}
