/**
 * Is the customer obviously an organisation? (REGULATION.md §4 A: customer type; ARN hears
 * consumers' disputes only, so a business must not be told to go there.) Pure: from the
 * sender's display name and the mail's own text, the obvious signs only, each giving its why:
 *  - a company form in the display name or a signature line: "Exempel AB", "AB (publ)",
 *    "Aktiebolag", "Handelsbolag", "Kommanditbolag", "Ltd", "GmbH", "Inc.", "LLC", "Oy", "ApS";
 *  - an organisationsnummer (NNNNNN-NNNN with the third digit 2 or more, Luhn-valid; a
 *    personnummer's third digit is a month's first, 0 or 1), named as such or after "org".
 * Anything less is left to the officer (`#customer business`); the register says "detected".
 */
const COMPANY_FORM = /(?:^|[\s,])(AB(?:\s*\(publ\))?|Aktiebolag|Handelsbolag|Kommanditbolag|HB|KB|Ltd\.?|Limited|GmbH|Inc\.?|LLC|Oy|ApS)\s*$/u;

function luhnOk(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Why the customer looks like an organisation, or null. */
export function detectBusiness(input: { readonly senderName: string | null; readonly text: string; readonly firmName: string }): string | null {
  const firm = input.firmName.trim().toLowerCase();
  const name = (input.senderName ?? '').trim();
  const form = COMPANY_FORM.exec(name);
  if (form && name.length > form[0].length && name.toLowerCase() !== firm) return `the sender's name ends in "${form[1]}"`;
  // Bounded: the signature is near the end; read the last 40 lines of at most 20,000 characters.
  const text = input.text.length > 20_000 ? input.text.slice(-20_000) : input.text;
  const lines = text.split('\n').slice(-40);
  // Only below a closing ("Med vänliga hälsningar", "Regards", "--"): a customer names the
  // firm (an AB) in the complaint itself, and that is no sign of being one.
  const closing = lines.findIndex((l) =>
    /^\s*(--\s*|(med\s+)?(vänliga\s+|bästa\s+)?hälsningar\b.*|mvh\b.*|(best\s+|kind\s+)?regards\b.*|sincerely\b.*|vänligen\b.*)$/iu.test(l),
  );
  for (const line of closing >= 0 ? lines.slice(closing + 1) : []) {
    const t = line.trim();
    if (t.length < 4 || t.length > 80 || t.startsWith('>') || t.toLowerCase() === firm) continue;
    const m = COMPANY_FORM.exec(t);
    // A short line that is a company name: a few words then the form.
    if (m && t.length > m[0].length && t.split(/\s+/).length <= 6 && /^[\p{Lu}0-9]/u.test(t)) return `a signature line names a company: "${t}"`;
  }
  const org = /\b(?:org(?:anisations)?\.?\s*-?\s*n(?:umme)?r\.?|organisationsnummer|corporate identity number)\s*:?\s*(\d{6})-?(\d{4})\b/iu.exec(text);
  if (org && Number(org[1][2]) >= 2 && luhnOk(org[1] + org[2])) return `an organisationsnummer is given (${org[1]}-${org[2]})`;
  return null;
}
