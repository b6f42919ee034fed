/**
 * Is a mail with a staff From really from staff? Anyone can write a staff address into From;
 * what a forger cannot do is make the firm's own receiving server record that DKIM, SPF or
 * DMARC passed for the staff domain. That record is the `Authentication-Results` header
 * (RFC 8601) the server adds on delivery, named by its authserv-id (`firm.authservIds`).
 *
 * Only the topmost such header counts: the firm's server prepends its own, and a header a
 * sender wrote under the same authserv-id sits below it (RFC 8601 §5 also has the server remove
 * those). It passes when, for the From's domain:
 *   - dmarc=pass with header.from = that domain, or
 *   - dkim=pass with header.d = that domain (or header.i at it), or
 *   - spf=pass with smtp.mailfrom at that domain.
 *
 * Pure: headers in, a verdict with its reason out.
 */
import type { HeaderView } from '../parse/parse';

export interface AuthResult {
  readonly method: string;
  readonly result: string;
  readonly props: Readonly<Record<string, string>>;
}

export interface AuthenticationResults {
  readonly authservId: string;
  readonly results: readonly AuthResult[];
}

/**
 * The header's ";"-separated parts, with RFC 5322 comments "(...)" removed (nested ones too).
 * A ";" or "(" inside a quoted string is text, not structure: the sender chooses what the
 * server quotes (a MAIL FROM local part), so splitting naively would let them add a result.
 */
function splitParts(value: string): string[] {
  const parts: string[] = [];
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      out += ch;
      if (ch === '\\' && i + 1 < value.length) out += value[++i];
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '\\' && depth > 0) {
      i++;
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (depth === 0) {
      if (ch === '"') quoted = true;
      if (ch === ';') {
        parts.push(out.trim());
        out = '';
      } else out += ch;
    }
  }
  parts.push(out.trim());
  return parts;
}

/** One Authentication-Results header value, or null when it cannot be read. */
export function parseAuthenticationResults(value: string): AuthenticationResults | null {
  const parts = splitParts(value);
  const head = parts.shift();
  if (!head) return null;
  // "authserv-id [version]"
  const authservId = head.split(/\s+/)[0].toLowerCase();
  if (!authservId) return null;
  const results: AuthResult[] = [];
  for (const part of parts) {
    if (!part || part.toLowerCase() === 'none') continue;
    const tokens = part.match(/[^\s=]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s]+)|[^\s]+/g) ?? [];
    const first = /^([A-Za-z0-9_.-]+)(?:\/[0-9]+)?\s*=\s*([A-Za-z]+)$/.exec(tokens[0] ?? '');
    if (!first) continue;
    const props: Record<string, string> = {};
    for (const t of tokens.slice(1)) {
      const m = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(t);
      if (m) props[m[1].toLowerCase()] = m[2].replace(/^"(.*)"$/, '$1').toLowerCase();
    }
    results.push({ method: first[1].toLowerCase(), result: first[2].toLowerCase(), props });
  }
  return { authservId, results };
}

export interface StaffAuthentication {
  readonly authenticated: boolean;
  /** Which check passed, or why none did: goes on the case's event. */
  readonly reason: string;
}

const domainOf = (v: string): string => (v.includes('@') ? v.slice(v.lastIndexOf('@') + 1) : v).replace(/^<|>$/g, '').toLowerCase();

/** Whether the firm's own server vouches for `fromAddress` (a staff address). */
export function staffAuthentication(headers: HeaderView, fromAddress: string, authservIds: readonly string[]): StaffAuthentication {
  if (authservIds.length === 0) return { authenticated: false, reason: 'no firm.authservIds configured: no Authentication-Results header can be trusted' };
  const ours = headers
    .all('authentication-results')
    .map(parseAuthenticationResults)
    .find((r): r is AuthenticationResults => r !== null && authservIds.includes(r.authservId));
  if (!ours) return { authenticated: false, reason: `no Authentication-Results header from ${authservIds.join(', ')}` };
  const domain = domainOf(fromAddress);
  for (const r of ours.results) {
    if (r.result !== 'pass') continue;
    if (r.method === 'dmarc' && r.props['header.from'] && domainOf(r.props['header.from']) === domain)
      return { authenticated: true, reason: `dmarc=pass for ${domain} (${ours.authservId})` };
    if (r.method === 'dkim' && ((r.props['header.d'] && r.props['header.d'] === domain) || (r.props['header.i'] && domainOf(r.props['header.i']) === domain)))
      return { authenticated: true, reason: `dkim=pass for ${domain} (${ours.authservId})` };
    if (r.method === 'spf' && r.props['smtp.mailfrom'] && domainOf(r.props['smtp.mailfrom']) === domain)
      return { authenticated: true, reason: `spf=pass for ${domain} (${ours.authservId})` };
  }
  const seen = ours.results.map((r) => `${r.method}=${r.result}`).join(', ') || 'no results';
  return { authenticated: false, reason: `${ours.authservId} recorded ${seen}: none passed for ${domain}` };
}
