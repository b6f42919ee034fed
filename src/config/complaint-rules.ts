/**
 * What a complaint is read for (the config's `complaints` section and its defaults): the
 * categories a complaint can fall in (word stems, first match wins), the reference-number
 * patterns, and the items the firm asks every complaining customer for (Billender's list,
 * echoed by the EU guidelines). Pure data; src/parse/complaint-fields.ts reads mail with it,
 * src/config/sections.ts validates what a config gives instead.
 */
import { WORD_END as E, WORD_START as B } from '../util/word-boundary';

export type ComplaintItem = 'contact' | 'concerns' | 'incidentDate' | 'description' | 'compensation';
export const COMPLAINT_ITEMS: readonly ComplaintItem[] = ['contact', 'concerns', 'incidentDate', 'description', 'compensation'];

export interface CategoryRule {
  readonly id: string;
  /** Word stems (regular-expression source); a match at the start of a word counts. */
  readonly words: readonly string[];
}

export interface ReferenceRule {
  readonly type: string;
  /** A regular-expression source with one capture group: the number. */
  readonly pattern: string;
}

export interface ComplaintRules {
  readonly categories: readonly CategoryRule[];
  readonly references: readonly ReferenceRule[];
  /** The items the firm asks for; only these can be `missing`. */
  readonly requiredItems: readonly ComplaintItem[];
  /** The products a complaint can concern (`#product`; the register's product column). */
  readonly products: readonly string[];
  /** Root-cause codes (`#cause CODE`): the learning the EU guidelines ask the firm to show. */
  readonly rootCauses: readonly string[];
}

/** Products of a lender, broker or payment firm (complaints.products). */
export const DEFAULT_PRODUCTS: readonly string[] = ['consumer-credit', 'payment-account', 'card', 'loan-brokerage', 'crowdfunding', 'savings', 'other'];

/** Root causes (complaints.rootCauses), coarse enough to count across a year. */
export const DEFAULT_ROOT_CAUSES: readonly string[] = [
  'information',
  'fees-and-pricing',
  'process-error',
  'system-error',
  'staff-conduct',
  'delay',
  'third-party',
  'fraud',
  'product-design',
  'other',
];

/**
 * Default categories of a lender / payment firm, first match wins. Payment-service and fraud
 * (unauthorised transactions) come first: they bring the PSD2 deadlines, and since the earliest
 * deadline wins, reading a complaint as one of them when it also mentions a fee can only make
 * the case's deadlines stricter, never looser.
 */
export const DEFAULT_CATEGORIES: readonly CategoryRule[] = [
  { id: 'fraud', words: ['bedrägeri', 'bedragare', 'kapad', 'kapat', 'obehörig', 'id-kapning', 'fraud', 'scam', 'unauthori[sz]ed', 'identity theft'] },
  {
    id: 'payments',
    words: [
      'autogiro',
      'betalning',
      'inbetalning',
      'dubbeldragning',
      'dragning',
      'dragit',
      'dragits',
      'drogs',
      'överföring',
      'payment',
      'direct debit',
      'transfer',
    ],
  },
  { id: 'debt-collection', words: ['inkasso', 'påminnelse', 'kronofogde', 'betalningsföreläggande', 'debt collect', 'collection agency', 'reminder fee'] },
  { id: 'fees', words: ['avgift', 'kostnad', `fees?${E}`, `charges${E}`, 'service charge'] },
  { id: 'interest', words: ['ränt[ae]', 'räntor', 'räntesats', 'interest'] },
  {
    id: 'credit-decision',
    words: ['kreditprövning', 'kreditbeslut', 'avslag', 'nekad', 'nekades', 'credit decision', 'credit check', 'declined', 'rejected my (?:loan )?application'],
  },
  { id: 'termination', words: ['uppsägning', 'uppsagd', 'sagt upp', 'säga upp', 'förtida inlösen', 'lösa lånet', 'terminat', 'cancel'] },
  { id: 'personal-data', words: ['personuppgift', 'gdpr', 'dataskydd', 'registerutdrag', 'personal data', 'data protection'] },
  {
    id: 'customer-service',
    words: ['bemötande', 'kundtjänst', 'otrevlig', 'oförskämd', 'svarar inte', 'ingen svarar', 'customer service', 'rude', 'no answer', 'unhelpful'],
  },
];

export const DEFAULT_REFERENCES: readonly ReferenceRule[] = [
  { type: 'agreement', pattern: '(?:avtalsnummer|avtalsnr|avtal nr|agreement (?:number|no\\.?))[\\s.:#]*([A-Z0-9][A-Z0-9-]{2,})' },
  { type: 'loan', pattern: '(?:lånenummer|lånenr|lån nr|loan (?:number|no\\.?))[\\s.:#]*([A-Z0-9][A-Z0-9-]{2,})' },
  { type: 'invoice', pattern: '(?:fakturanummer|fakturanr|faktura nr|invoice (?:number|no\\.?))[\\s.:#]*([A-Z0-9][A-Z0-9-]{2,})' },
  { type: 'ocr', pattern: '(?:ocr-nummer|ocr-nr|ocr|ocr number)[\\s.:#]*(\\d{4,25})' },
  { type: 'customer', pattern: '(?:kundnummer|kundnr|kund nr|customer (?:number|no\\.?))[\\s.:#]*([A-Z0-9][A-Z0-9-]{2,})' },
];

export const DEFAULT_RULES: ComplaintRules = {
  categories: DEFAULT_CATEGORIES,
  references: DEFAULT_REFERENCES,
  requiredItems: COMPLAINT_ITEMS,
  products: DEFAULT_PRODUCTS,
  rootCauses: DEFAULT_ROOT_CAUSES,
};

/** Compiled once per rule (config rules live as long as the process): every complaint tests them all (issue 16). */
const compiledCategories = new WeakMap<CategoryRule, RegExp>();

/** The rule's words as one pattern. Without the g flag, so that one RegExp is safely shared by every test(). */
export function compileCategory(rule: CategoryRule): RegExp {
  let re = compiledCategories.get(rule);
  if (!re) {
    re = new RegExp(`${B}(?:${rule.words.join('|')})`, 'iu');
    compiledCategories.set(rule, re);
  }
  return re;
}
