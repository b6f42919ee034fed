/**
 * Swedish personal identity numbers (personnummer) and coordination numbers
 * (samordningsnummer, day + 60), found in free text, checked with the Luhn algorithm over the
 * ten digits YYMMDDNNNC, and masked wherever text is stored or shown: `19850412-****`.
 *
 * A personnummer is personal data that the firm needs only to identify a customer; GDPR and
 * dataskyddslagen 3 kap. 10 § ask that it is shown as little as possible. The raw mail keeps
 * the original (it is the evidence); every derived text keeps the mask.
 *
 * Recognised as people and their mail clients write them (Skatteverket's form is YYMMDD-NNNC,
 * `+` from the year a person turns 100; everything else is what real mail shows):
 *  - 10 or 12 digits: `811218-9876`, `19811218-9876`, `8112189876`, `198112189876`;
 *  - between the date and the last four: nothing, a hyphen, a plus, spaces (also no-break and
 *    other Unicode spaces), any dash (en dash, em dash, the minus sign U+2212, full-width ...),
 *    or a space and a dash together (`811218 - 9876`);
 *  - any Unicode decimal digits (full-width `８１１２１８`, Arabic-Indic, mathematical ...) and
 *    digits that NFKC folds to one (superscript, circled);
 *  - with invisible characters anywhere inside (zero-width space and joiners, soft hyphen, bidi
 *    marks, variation selectors: every format character or default-ignorable code point, and
 *    combining marks), which a copy from a web page or a deliberate attempt can put there.
 * Not inside a longer run of digits (an account or OCR number), and never a date in the future.
 */
export interface FoundPersonnummer {
  /** As written in the text (`text.slice(index, end)`). */
  readonly written: string;
  /** Where it is in the text (UTF-16 offsets), for replacing exactly that span. */
  readonly index: number;
  readonly end: number;
  /** Twelve digits, YYYYMMDDNNNC (the century inferred for a ten-digit form). */
  readonly normalised: string;
  /** `YYYYMMDD-****` */
  readonly masked: string;
  readonly samordningsnummer: boolean;
}

/** Luhn check over the ten digits YYMMDDNNNC. */
export function luhnValid(tenDigits: string): boolean {
  if (!/^\d{10}$/.test(tenDigits)) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    let d = Number(tenDigits[i]) * (i % 2 === 0 ? 2 : 1);
    if (d > 9) d -= 9;
    sum += d;
  }
  return sum % 10 === 0;
}

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

// ---- folding: what a person sees as digits and separators -> ASCII ----------------------

const DASHES = String.raw`\p{Pd}\u2212\u02D7\u2796\uFE63\uFF0D`;
const PLUSES = String.raw`+\u2795\uFB29\uFE62\uFF0B\u207A\u208A`;
const SPACES = String.raw`\p{Zs}\t`;
const INVISIBLE = String.raw`\p{Cf}\p{Default_Ignorable_Code_Point}\p{M}`;
const IS_DASH = new RegExp(`^[${DASHES}]$`, 'u');
const IS_PLUS = new RegExp(`^[${PLUSES}]$`, 'u');
const IS_SPACE = new RegExp(`^[${SPACES}]$`, 'u');
const IS_INVISIBLE = new RegExp(`^[${INVISIBLE}]$`, 'u');
const IS_ND = /^\p{Nd}$/u;

/**
 * What one character folds to: an ASCII digit, '-', '+', ' ', '' (invisible: skipped), or 'x'
 * (anything else: it ends a number).
 */
const foldCache = new Map<number, string>();
function foldChar(ch: string, cp: number): string {
  if (cp < 0x80) {
    if (cp >= 0x30 && cp <= 0x39) return ch;
    // A line break folds to a space: a number wrapped by a mail client or a form ("811218 -"
    // at a line's end, "9876" at the next one's start) is still the number.
    return ch === '-' || ch === '+' ? ch : ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' ? ' ' : 'x';
  }
  const cached = foldCache.get(cp);
  if (cached !== undefined) return cached;
  let out: string;
  const nfkc = ch.normalize('NFKC');
  if (/^[0-9]$/.test(nfkc))
    out = nfkc; // full-width, mathematical, superscript, circled ...
  else if (IS_ND.test(ch)) {
    // Unicode assigns decimal digits only in runs of ten, 0 to 9 in order (the Numeric_Type=
    // Decimal stability policy): the value is the distance from the start of the run, modulo ten.
    let start = cp;
    while (start > 0 && IS_ND.test(String.fromCodePoint(start - 1))) start--;
    out = String((cp - start) % 10);
  } else if (IS_DASH.test(ch)) out = '-';
  else if (IS_PLUS.test(ch)) out = '+';
  else if (IS_SPACE.test(ch)) out = ' ';
  else if (IS_INVISIBLE.test(ch)) out = '';
  else out = 'x';
  if (foldCache.size < 4096) foldCache.set(cp, out);
  return out;
}

/** A run of digits (invisible characters inside skipped), as the scanner saw it. */
interface Group {
  /** The digits, ASCII; only kept up to 13 (a longer run is never part of a number). */
  digits: string;
  length: number;
  /** UTF-16 offsets of its first digit and after its last. */
  start: number;
  end: number;
  /**
   * What stood between the previous group and this one, folded ('-', ' - ', '' for nothing
   * but invisibles cannot happen: those do not end a group); null when something else (a
   * letter, a line break) stood there, or it was longer than a separator can be.
   */
  before: string | null;
}

/** Where a number can be: see findPersonnummer. No `u` flag: astral characters are their two surrogates, both in range. */
const STRETCH = /[0-9\u0080-\uffff][0-9 \t\r\n+\-\u0080-\uffff]*/g;

/** Between the date and the last four: up to three spaces, at most one dash or plus, up to three spaces. */
const SEPARATOR = /^ {0,3}[-+]? {0,3}$/;

/**
 * The number may not continue "digits-" or "digits+" (the tail of an account number such as
 * 1234-811218-9876); a space, a letter or a dash after a space before it are fine.
 */
const continuesAnother = (g: Group): boolean => g.before === '-' || g.before === '+';

/**
 * Every valid personnummer or samordningsnummer in `text`, in order, with its span.
 *
 * One pass over the text, keeping only the last two runs of digits: a number is one run of 10
 * or 12 digits, or a run of 6 (or 8, starting 19 or 20) and a run of 4 with a separator between.
 * Linear in the text and constant in memory, whatever the mail holds (a megabyte of digits too).
 */
export function findPersonnummer(text: string, today: Date = new Date()): FoundPersonnummer[] {
  const out: FoundPersonnummer[] = [];
  const thisYear = today.getUTCFullYear();
  const accept = (datePart: string, sep: string, tail: string, start: number, end: number): void => {
    const six = datePart.slice(-6);
    if (!luhnValid(six + tail)) return;
    const yy = Number(six.slice(0, 2));
    const mm = Number(six.slice(2, 4));
    let dd = Number(six.slice(4, 6));
    const samordning = dd > 60;
    if (samordning) dd -= 60;
    let year: number;
    if (datePart.length === 8) year = Number(datePart.slice(0, 4));
    else {
      year = 2000 + yy > thisYear ? 1900 + yy : 2000 + yy;
      if (sep.includes('+')) year -= 100;
    }
    if (!validDate(year, mm, dd) || year > thisYear) return;
    const normalised = `${year}${six.slice(2)}${tail}`;
    out.push({ written: text.slice(start, end), index: start, end, normalised, masked: `${normalised.slice(0, 8)}-****`, samordningsnummer: samordning });
  };
  const centuryOk = (d: string): boolean => d.startsWith('19') || d.startsWith('20');
  /** A date written in parts: YYYY-MM-DD or YY-MM-DD, each part after a single dash. */
  const datePartsBefore = (g: Group, p1: Group | null, p2: Group | null, p3: Group | null): string | null => {
    if (!p1 || !p2 || !p3 || p1.length !== 2 || p2.length !== 2 || (p3.length !== 4 && p3.length !== 2)) return null;
    if (p1.before !== '-' || p2.before !== '-' || continuesAnother(p3)) return null;
    if (p3.length === 4 && !centuryOk(p3.digits)) return null;
    return g.before !== null && SEPARATOR.test(g.before) ? p3.digits + p2.digits + p1.digits : null;
  };
  const close = (g: Group, prev: Group | null, prev2: Group | null = null, prev3: Group | null = null): void => {
    // The date in parts (1981-12-18-9876, 81-12-18-9876), then the last four.
    if (g.length === 4) {
      const date = datePartsBefore(g, prev, prev2, prev3);
      if (date) accept(date, g.before!, g.digits, prev3!.start, g.end);
    }
    // One run: YYMMDDNNNC or YYYYMMDDNNNC.
    if ((g.length === 10 || (g.length === 12 && centuryOk(g.digits))) && !continuesAnother(g)) {
      accept(g.digits.slice(0, g.length - 4), '', g.digits.slice(-4), g.start, g.end);
    }
    // Two runs: the date, a separator, the last four.
    if (g.length === 4 && prev && g.before !== null && SEPARATOR.test(g.before) && !continuesAnother(prev)) {
      if (prev.length === 6 || (prev.length === 8 && centuryOk(prev.digits))) accept(prev.digits, g.before, g.digits, prev.start, g.end);
    }
  };

  // Only stretches that can hold a number are walked character by character: from an ASCII
  // digit or any non-ASCII character (a digit, a dash, a space or an invisible one may be among
  // them), on through those and ASCII spaces, hyphens and plus signs. Whatever stands between
  // two stretches ends a number, so the walk starts afresh in each.
  for (const stretch of text.matchAll(STRETCH)) {
    if (stretch[0].length < 10) continue; // ten digits at least
    const from = stretch.index!;
    const to = from + stretch[0].length;
    let prev: Group | null = null;
    let prev2: Group | null = null;
    let prev3: Group | null = null;
    let cur: Group | null = null;
    let between: string | null = null; // folded separators since the last group
    for (let i = from; i < to;) {
      const cp = text.codePointAt(i)!;
      const size = cp > 0xffff ? 2 : 1;
      const f = foldChar(size === 1 ? text[i] : text.slice(i, i + 2), cp);
      if (f.length === 1 && f >= '0' && f <= '9') {
        if (!cur) cur = { digits: '', length: 0, start: i, end: i, before: prev ? between : null };
        if (cur.length < 13) cur.digits += f;
        cur.length++;
        cur.end = i + size;
      } else if (f !== '') {
        if (cur) {
          close(cur, prev, prev2, prev3);
          prev3 = prev2;
          prev2 = prev;
          prev = cur;
          cur = null;
          between = '';
        }
        if (between !== null) between = f === 'x' || between.length >= 7 ? null : between + f;
      }
      i += size;
    }
    if (cur) close(cur, prev, prev2, prev3);
  }
  return out;
}

/**
 * The text with every valid personnummer replaced by `by(found)`, span by span (never by
 * searching for the written form again: `8112189876` is also inside `198112189876`).
 */
export function replacePersonnummer(text: string, by: (p: FoundPersonnummer) => string, today: Date = new Date()): string {
  const found = findPersonnummer(text, today);
  if (found.length === 0) return text;
  let result = '';
  let at = 0;
  for (const p of found) {
    result += text.slice(at, p.index) + by(p);
    at = p.end;
  }
  return result + text.slice(at);
}

/** The text with every valid personnummer replaced by its mask. */
export function maskPersonnummer(text: string, today: Date = new Date()): string {
  return replacePersonnummer(text, (p) => p.masked, today);
}

/** Every string inside a JSON-like value (objects, lists) masked; other values as they are. */
export function maskPersonnummerIn<T>(value: T, today: Date = new Date()): T {
  if (typeof value === 'string') return maskPersonnummer(value, today) as T;
  if (Array.isArray(value)) return value.map((v) => maskPersonnummerIn(v, today)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskPersonnummerIn(v, today);
    return out as T;
  }
  return value;
}
