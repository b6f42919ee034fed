/**
 * Customer text never reaches a header as it is. RFC 5322 header bodies are single lines;
 * a CR or LF from a subject or a display name would let a sender add headers of their own
 * (header injection). Everything that goes from a mail into one of our headers passes here.
 */

/** One line, no control characters, at most `max` characters (cut at a character boundary). */
export function headerText(value: string | null | undefined, max = 200): string {
  if (!value) return '';
  // eslint-disable-next-line no-control-regex
  const oneLine = value
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(oneLine);
  return chars.length <= max ? oneLine : chars.slice(0, max - 1).join('') + '…';
}

/**
 * A Message-ID as we store and compare it: without angle brackets and surrounding space.
 * Returns null when the value cannot be a Message-ID (empty, too long, spaces or control
 * characters inside), so that it is never echoed into In-Reply-To/References.
 */
export function normaliseMessageId(value: string | null | undefined): string | null {
  if (!value) return null;
  let v = value.trim();
  const m = /<([^<>]*)>/.exec(v);
  if (m) v = m[1].trim();
  // RFC 5322 msg-id: id-left "@" id-right, printable ASCII without spaces. Be tolerant of a
  // missing "@" (seen in the wild) but never of whitespace, brackets or control characters.
  if (v.length === 0 || v.length > 250 || !/^[\x21-\x7e]+$/.test(v) || /[<>]/.test(v)) return null;
  return v;
}

/**
 * Every Message-ID in a References/In-Reply-To header value, normalised, in order, each once.
 * (A Set, not a search of the list so far: 30,000 ids in one header took 28 s, issue 17.)
 */
export function messageIdList(value: string | string[] | null | undefined): string[] {
  if (!value) return [];
  const text = Array.isArray(value) ? value.join(' ') : value;
  const out = new Set<string>();
  for (const m of text.matchAll(/<([^<>\s]+)>/g)) {
    const id = normaliseMessageId(m[1]);
    if (id) out.add(id);
  }
  if (out.size === 0) {
    for (const token of text.split(/[\s,]+/)) {
      const id = normaliseMessageId(token);
      if (id && id.includes('@')) out.add(id);
    }
  }
  return [...out];
}

/**
 * A plain e-mail address we are willing to write to, lower-cased. RFC 5321 lets the local part
 * be case-sensitive, but no mail system a customer uses treats it so, and comparing
 * `Anna.Svensson@` with `anna.svensson@` as different people would split one customer's
 * follow-ups into new cases. Null when it is not an address (spaces, brackets, no domain).
 */
export function normaliseAddress(value: string | null | undefined): string | null {
  if (!value) return null;
  const v = value.trim();
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1 || v.length > 254) return null;
  // eslint-disable-next-line no-control-regex
  // One address only: no list separators anywhere, no second "@" outside quotes, nothing that
  // could make a transport read two recipients out of one customer's address.
  if (/[\s<>()[\]\\,;:"\u0000-\u001f]/.test(v.slice(at + 1)) || /[\s<>,;\u0000-\u001f\u007f]/.test(v)) return null;
  // A quoted local part is one quoted string (RFC 5322 §3.2.4): `"klagomal"@firm.se"y"@example.com`
  // looked quoted from end to end, passed for an address at example.com to every check, and was
  // read by the transport as klagomal@firm.se, past the loop guards and the caps.
  const local = v.slice(0, at);
  if (local.startsWith('"') ? !/^"(?:[^"\\]|\\.)*"$/.test(local) : local.includes('@') || local.includes('"')) return null;
  // Lower-casing must not make a character ASCII that was not: U+212A KELVIN SIGN lower-cases to
  // "k", so `olle@testban\u212A.se` became a staff address, while the receiving server checked
  // DKIM and DMARC for another, non-existent domain and could never record a failure for ours.
  // (U+0130 İ lower-cases to "i" with a combining dot above: not ASCII, kept.)
  for (const ch of v) if (ch.charCodeAt(0) > 0x7f && [...ch.toLowerCase()].every((c) => c.charCodeAt(0) <= 0x7f)) return null;
  return v.toLowerCase();
}

/**
 * An address written inside a display name that is not the sender's own, or null:
 * `"olle@firm.se <olle@firm.se>" <evil@example.com>` shows as Olle in many mail clients and
 * in any text that prints the name before the address. Whoever shows such a name must show the
 * real address first and say that the name holds another.
 */
export function otherAddressInName(name: string | null | undefined, address: string | null | undefined): string | null {
  if (!name || !name.includes('@')) return null;
  const own = (address ?? '').toLowerCase();
  for (const m of name.matchAll(/[^\s<>"'(),;:[\]]+@[^\s<>"'(),;:[\]]+/g)) {
    const a = m[0].replace(/\.+$/, '').toLowerCase();
    if (a !== own) return a;
  }
  return null;
}

/**
 * The customer's name as staff mails show it: a display name that holds another address
 * (`"olle@firm.se <olle@firm.se>" <evil@example.com>`) is quoted and flagged, so that it never
 * passes for that address, also in a template that does not look at the flag.
 */
export function customerNameForStaff(name: string | null, address: string | null): { customerName: string | null; customerNameHasOtherAddress: boolean } {
  const other = otherAddressInName(name, address) !== null;
  return { customerName: other ? `"${name}"` : name, customerNameHasOtherAddress: other };
}
