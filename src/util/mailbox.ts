/**
 * One mailbox, however its address is written. The loop guards compare and count mailboxes,
 * not spellings: `support+t17@helpdesk.example` and `support+t18@helpdesk.example` reach the
 * same helpdesk (RFC 5233 subaddressing), `klagomal@firm.se.` is our own address with the DNS
 * root's dot (RFC 1034 §3.1: an absolute name), and `"klagomal"@firm.se` is the same local part
 * quoted (RFC 5322 §3.4.1: a quoted local part whose content is a dot-atom is the same).
 *
 * Pure functions on addresses as src/util/header-safe.ts normalises them (lower case).
 */

export interface Mailbox {
  /** The local part without quotes and without its `+tag`. */
  readonly local: string;
  /** The domain without trailing dots. */
  readonly domain: string;
}

/**
 * An address lower-cased in ASCII only. `toLowerCase` also maps U+212A KELVIN SIGN to "k": a
 * From of `olle@testban\u212A.se` (a domain nobody's DKIM or DMARC can speak for) would compare
 * equal to the officer olle@testbank.se. Addresses from mail are normalised before they get
 * here (src/util/header-safe.ts refuses such characters); this keeps every other path safe.
 */
export function asciiLower(address: string): string {
  return address.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The mailbox an address reaches; null when it has no `@`. */
export function mailboxOf(address: string): Mailbox | null {
  const a = asciiLower(address.trim());
  const at = a.lastIndexOf('@');
  if (at <= 0) return null;
  let local = a.slice(0, at);
  const domain = a.slice(at + 1).replace(/\.+$/, '');
  if (!domain) return null;
  const quoted = /^"([^"\\]*)"$/.exec(local);
  if (quoted && /^[^\s@"()<>[\]\\,;:]+$/.test(quoted[1])) local = quoted[1];
  // The subaddress (RFC 5233 §1: "user+detail"); a local part that starts with "+" has none.
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  return { local, domain };
}

/** `local@domain` of the mailbox: the key the loop guards count by; the address itself when it is not one. */
export function mailboxKey(address: string): string {
  const m = mailboxOf(address);
  return m ? `${m.local}@${m.domain}` : asciiLower(address.trim());
}

/** Do two addresses reach the same mailbox? */
export function sameMailbox(a: string | null | undefined, b: string | null | undefined): boolean {
  return !!a && !!b && mailboxKey(a) === mailboxKey(b);
}
