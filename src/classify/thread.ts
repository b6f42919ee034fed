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
