/**
 * Swedish personal identity numbers (personnummer) and coordination numbers
 * (samordningsnummer, day + 60), found in free text, checked with the Luhn algorithm over the
 * ten digits YYMMDDNNNC, and masked wherever text is stored or shown: `19850412-****`.
 *
 * A personnummer is personal data that the firm needs only to identify a customer; GDPR and
 * dataskyddslagen 3 kap. 10 § ask that it is shown as little as possible. The raw mail keeps
 * the original (it is the evidence); every derived text keeps the mask.
 */

export interface FoundPersonnummer {
  /** As written in the text. */
  readonly written: string;
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

/**
 * 8-digit (YYYYMMDD) or 6-digit (YYMMDD) birth date, an optional - or + (+ means 100 years
 * or older), then 4 digits. Not inside a longer digit run (an account or OCR number).
 */
const CANDIDATE = /(?<![\d-])((?:19|20)?\d{6})([-+]?)(\d{4})(?![\d])/g;

/** The candidate of one match ([written, date part, separator, last four]), when it is valid. */
function validCandidate(written: string, datePart: string, sep: string, tail: string, today: Date): FoundPersonnummer | null {
  const six = datePart.slice(-6);
  if (!luhnValid(six + tail)) return null;
  const yy = Number(six.slice(0, 2));
  const mm = Number(six.slice(2, 4));
  let dd = Number(six.slice(4, 6));
  const samordning = dd > 60;
  if (samordning) dd -= 60;
  let year: number;
  if (datePart.length === 8) year = Number(datePart.slice(0, 4));
  else {
    const thisYear = today.getUTCFullYear();
    year = 2000 + yy > thisYear ? 1900 + yy : 2000 + yy;
    if (sep === '+') year -= 100;
  }
  if (!validDate(year, mm, dd) || year > today.getUTCFullYear()) return null;
  const normalised = `${year}${six.slice(2)}${tail}`;
  return { written, normalised, masked: `${normalised.slice(0, 8)}-****`, samordningsnummer: samordning };
}

export function findPersonnummer(text: string, today: Date = new Date()): FoundPersonnummer[] {
  const out: FoundPersonnummer[] = [];
  for (const m of text.matchAll(CANDIDATE)) {
    const p = validCandidate(m[0], m[1], m[2], m[3], today);
    if (p) out.push(p);
  }
  return out;
}

/**
 * The text with every valid personnummer replaced by `by(p)`, in one pass. (Replacing each
 * number found through the whole text again was quadratic: a 1 MB body holding 120,000 of them
 * took 8 s of CPU, issue 17.)
 */
export function replacePersonnummer(text: string, by: (p: FoundPersonnummer) => string, today: Date = new Date()): string {
  return text.replace(CANDIDATE, (written: string, datePart: string, sep: string, tail: string) => {
    const p = validCandidate(written, datePart, sep, tail, today);
    return p ? by(p) : written;
  });
}

/** The text with every valid personnummer replaced by its mask. */
export function maskPersonnummer(text: string, today: Date = new Date()): string {
  return replacePersonnummer(text, (p) => p.masked, today);
}
