/**
 * Threading helpers: case tags in subjects and reply/forward prefixes.
 *
 * Our tag is `[PREFIX-YYYY-NNNNNN]` (e.g. [KLG-2026-000042]); customers also type the number
 * without brackets, so a bare number with our prefix counts as well. Prefixes are matched only
 * for the configured case prefix, so another firm's tag in a forwarded subject is ignored.
 */

export function caseNumbersInSubject(subject: string, prefix: string): string[] {
  const re = new RegExp(`(?:^|[^A-Za-z0-9])(${prefix}-\\d{4}-\\d{6})(?![0-9])`, 'g');
  const out = new Set<string>(); // in order, each once (a Set: a subject may be 900 KB of tags)
  for (const m of subject.matchAll(re)) out.add(m[1]);
  return [...out];
}

/** The tag we put in front of every subject we send on a case. */
export function caseTag(caseNumber: string): string {
  return `[${caseNumber}]`;
}

/**
 * Reply and forward prefixes in the languages our customers' clients use: English, the
 * Nordic ones Outlook writes (SV:, VB:, VS:, VL:), German (AW:, WG:), Dutch, Polish, French,
 * with counters and brackets (Re[2]:, RE: RE:, [Fwd: ...]).
 */
const PREFIX = /^\s*(?:(?:re|r|sv|vs|vl|vb|aw|wg|fw|fwd|antw|odp|réf|ref|tr|rif|enc|doorst)(?:\s*\[\d+\]|\s*\(\d+\))?\s*:\s*)/i;

export function stripReplyPrefixes(subject: string): string {
  let s = subject.trim();
  for (let i = 0; i < 20; i++) {
    // "[Fwd: Avgift]" (old Netscape/Thunderbird forwards): unwrap first, then strip the prefix.
    const next = s
      .replace(/^\[((?:fwd?|fw)\s*:.*)\]$/i, '$1')
      .replace(PREFIX, '')
      .trim();
    if (next === s) break;
    s = next;
  }
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * What two subjects of one thread share: without reply/forward prefixes, without our case tag,
 * lower-cased, spaces collapsed. "SV: [KLG-2026-000042] Felaktig avgift" -> "felaktig avgift".
 */
export function subjectKey(subject: string, prefix: string): string {
  const untagged = subject.replace(new RegExp(`\\[?${prefix}-\\d{4}-\\d{6}\\]?`, 'g'), ' ');
  return stripReplyPrefixes(stripReplyPrefixes(untagged).replace(/\s+/g, ' ').trim()).toLowerCase().replace(/\s+/g, ' ').trim();
}

/** True when the subject carries a reply or forward prefix. */
export function hasReplyPrefix(subject: string): boolean {
  return stripReplyPrefixes(subject) !== subject.replace(/\s+/g, ' ').trim();
}

/** One case a referenced Message-ID belongs to (store.casesOfMessageId). */
export interface MessageIdOwner {
  readonly case_id: number;
  /** The sender of the inbound mail with that Message-ID (null for our own mail). */
  readonly from_address: string | null;
  readonly customer_address: string | null;
}

/**
 * The case that a reference (In-Reply-To/References, RFC 5322 §3.6.4) threads a mail to.
 * Normally a Message-ID names one mail. When different mails shared one (a web form with a
 * constant Message-ID, or someone who sent a mail under a customer's Message-ID), a reply must
 * not be attached to the other party's case: prefer the mail this sender wrote, then the case
 * whose customer this sender is, then a case whose customer the mail is addressed to (an
 * officer answering the customer), then the earliest.
 */
export function chooseReferencedCase(owners: readonly MessageIdOwner[], sender: string | null, recipients: readonly string[]): number | undefined {
  if (owners.length <= 1) return owners[0]?.case_id;
  const s = sender?.toLowerCase() ?? null;
  const to = new Set(recipients.map((r) => r.toLowerCase()));
  const rank = (o: MessageIdOwner): number =>
    s !== null && o.from_address?.toLowerCase() === s
      ? 0
      : s !== null && o.customer_address?.toLowerCase() === s
        ? 1
        : o.customer_address && to.has(o.customer_address.toLowerCase())
          ? 2
          : 3;
  let best = owners[0];
  for (const o of owners) if (rank(o) < rank(best)) best = o;
  return best.case_id;
}
