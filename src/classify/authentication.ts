/**
 * Is a mail with a staff From really from staff? Anyone can write a staff address into From;
 * what a forger cannot do is make the firm's own receiving server record that DKIM, SPF or
 * DMARC passed for the staff domain. That record is the `Authentication-Results` header
 * (RFC 8601) the server adds on delivery, named by its authserv-id (`firm.authservIds`).
 *
 * Only the topmost header with one of our authserv-ids counts: the firm's server prepends its
 * own, and a header a sender wrote under the same authserv-id sits below it (RFC 8601 §5 also
 * has the server remove those). It passes when, for the From's domain:
 *   - dmarc=pass with header.from = that domain, or
 *   - dkim=pass with header.d = that domain (header.i at it only when header.d is not written), or
 *   - spf=pass with smtp.mailfrom at that domain,
 * and nothing in the same header says otherwise: a dmarc=fail, or a dkim=fail for that domain,
 * vetoes every pass (a forger's mail that happens to pass SPF through a shared relay still fails
 * DMARC).
 *
 * The header is read with its real grammar (RFC 8601 §2.2, with RFC 5322 comments and quoted
 * strings and RFC 2045 values), and read whole or not at all: the server writes text the sender
 * chose into it (the MAIL FROM local part, the HELO name, reasons), so a reader that guesses
 * past an error lets the sender write structure. Specifically:
 *   - comments nest and end at the first unescaped ")" (a '"' inside a comment is text);
 *   - a quoted string is one unit: its ";", "(", "=" and "@" are text;
 *   - the domain of an address is what follows its last *unquoted* "@", so
 *     `smtp.mailfrom="olle@firm.se"@evil.example` is at evil.example;
 *   - a property given twice in one result, an unterminated comment or quoted string, or any
 *     text the grammar does not allow makes the whole header unreadable: nothing in it passes.
 *
 * Pure: headers in, a verdict with its reason out.
 */
import addressparser from 'nodemailer/lib/addressparser';
import type { HeaderView } from '../parse/parse';

export interface AuthResult {
  readonly method: string;
  readonly result: string;
  /** `ptype.property` (or a bare name such as `reason`) -> value, lower case; a value quoted as a whole is unquoted. */
  readonly props: Readonly<Record<string, string>>;
}

export interface AuthenticationResults {
  readonly authservId: string;
  readonly results: readonly AuthResult[];
}

class Unreadable extends Error {}

/** A reader over one unfolded header value; every method throws `Unreadable` on a grammar error. */
class Reader {
  i = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }

  peek(): string {
    return this.s[this.i] ?? '';
  }

  /** CFWS (RFC 5322 §3.2.2): white space and comments, which nest and take quoted pairs. */
  cfws(): void {
    for (;;) {
      const ch = this.peek();
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') this.i++;
      else if (ch === '(') this.comment();
      else return;
    }
  }

  private comment(): void {
    let depth = 0;
    while (!this.done) {
      const ch = this.s[this.i++];
      if (ch === '\\') {
        if (this.done) break;
        this.i++;
      } else if (ch === '(') depth++;
      else if (ch === ')' && --depth === 0) return;
    }
    throw new Unreadable('unterminated comment');
  }

  /** A quoted string (RFC 5322 §3.2.4): its text, without quotes and escapes. */
  quoted(): string {
    if (this.peek() !== '"') throw new Unreadable('expected a quoted string');
    this.i++;
    let out = '';
    while (!this.done) {
      const ch = this.s[this.i++];
      if (ch === '"') return out;
      if (ch === '\\') {
        if (this.done) break;
        out += this.s[this.i++];
      } else out += ch;
    }
    throw new Unreadable('unterminated quoted string');
  }

  /** Characters matching `re`, at least one. */
  run(re: RegExp, what: string): string {
    const start = this.i;
    while (!this.done && re.test(this.s[this.i])) this.i++;
    if (this.i === start) throw new Unreadable(`expected ${what} at ${start}`);
    return this.s.slice(start, this.i);
  }

  expect(ch: string): void {
    if (this.peek() !== ch) throw new Unreadable(`expected "${ch}" at ${this.i}`);
    this.i++;
  }
}

/** RFC 2045 token characters: printable ASCII except SPACE and tspecials. */
const TOKEN = /[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]/;
/** RFC 5321 Keyword (Ldh-str; "_" also accepted, as some servers write it). */
const KEYWORD = /[A-Za-z0-9_-]/;
/**
 * The unquoted parts of a property value. RFC 8601 allows a token or `[local-part] "@" domain`;
 * real servers also write base64 signature prefixes (`header.b=Ab+/c=`) and angle brackets
 * (`smtp.mailfrom=<a@b>`), which are accepted as text. White space, ";", comments, quotes and
 * backslashes end the run: they are structure.
 */
const PVALUE = /[^\s;()"\\]/;

/** RFC 2045 value: a token or a quoted string. */
function value(r: Reader): string {
  return r.peek() === '"' ? r.quoted() : r.run(TOKEN, 'a value');
}

/**
 * A property value: one or more adjacent quoted strings and unquoted runs, kept as written
 * (quotes included, so that the domain can be read after the last unquoted "@"); a value that
 * is one quoted string as a whole is unquoted.
 */
function propertyValue(r: Reader): string {
  let written = '';
  let parts = 0;
  let only: string | null = null;
  for (;;) {
    const ch = r.peek();
    if (ch === '"') {
      const q = r.quoted();
      only = parts === 0 ? q : null;
      written += `"${q.replace(/(["\\])/g, '\\$1')}"`;
    } else if (ch !== '' && PVALUE.test(ch)) {
      written += r.run(PVALUE, 'a property value');
      only = null;
    } else break;
    parts++;
  }
  if (parts === 0) throw new Unreadable(`expected a property value at ${r.i}`);
  return only !== null && parts === 1 ? only : written;
}

/** The authserv-id a header names (RFC 8601 §2.5), read on its own: which server wrote it. */
function readAuthservId(r: Reader): string {
  r.cfws();
  const id = value(r).toLowerCase();
  if (!id) throw new Unreadable('empty authserv-id');
  return id;
}

/** The authserv-id of a header value, or null when even that cannot be read. */
export function authservIdOf(headerValue: string): string | null {
  try {
    return readAuthservId(new Reader(headerValue));
  } catch {
    return null;
  }
}

/** One `resinfo` (RFC 8601 §2.2) after its ";". */
function resinfo(r: Reader): AuthResult {
  r.cfws();
  const method = r.run(KEYWORD, 'a method').toLowerCase();
  r.cfws();
  if (r.peek() === '/') {
    r.i++;
    r.cfws();
    r.run(/[0-9]/, 'a method version');
    r.cfws();
  }
  r.expect('=');
  r.cfws();
  const result = r.run(KEYWORD, 'a result').toLowerCase();
  const props: Record<string, string> = {};
  for (;;) {
    r.cfws();
    if (r.done || r.peek() === ';') break;
    let name = r.run(KEYWORD, 'a property').toLowerCase();
    r.cfws();
    if (r.peek() === '.') {
      r.i++;
      r.cfws();
      name = `${name}.${r.run(KEYWORD, 'a property name').toLowerCase()}`;
      r.cfws();
    }
    r.expect('=');
    r.cfws();
    const v = name === 'reason' ? value(r) : propertyValue(r);
    // A property said twice has no single meaning; a reader that keeps the last (or the first)
    // lets whoever wrote the other one choose. The header is not believed at all.
    if (Object.prototype.hasOwnProperty.call(props, name)) throw new Unreadable(`property ${name} given twice`);
    props[name] = v.toLowerCase();
  }
  return { method, result, props };
}

/** One Authentication-Results header value, or null when it cannot be read as a whole. */
export function parseAuthenticationResults(headerValue: string): AuthenticationResults | null {
  const r = new Reader(headerValue);
  try {
    const authservId = readAuthservId(r);
    r.cfws();
    if (/[0-9]/.test(r.peek())) {
      r.run(/[0-9]/, 'a version');
      r.cfws();
    }
    const results: AuthResult[] = [];
    let none = false;
    while (!r.done) {
      r.expect(';');
      r.cfws();
      if (r.done && results.length > 0) break; // a trailing ";", as some servers write
      if (none) throw new Unreadable('"none" must be the only result');
      const save = r.i;
      const word = /^none\b/i.exec(r.s.slice(r.i));
      if (word && results.length === 0) {
        r.i += 4;
        r.cfws();
        if (r.done || r.peek() === ';') {
          none = true;
          continue;
        }
        r.i = save;
      }
      results.push(resinfo(r));
      r.cfws();
    }
    return { authservId, results };
  } catch (err) {
    if (err instanceof Unreadable) return null;
    throw err;
  }
}

export interface StaffAuthentication {
  readonly authenticated: boolean;
  /** Which check passed, or why none did: goes on the case's event. */
  readonly reason: string;
}

/**
 * The domain of an address or identity as written in a property value: what follows the last
 * "@" outside quoted strings (RFC 5321 §4.1.2: the local part may be quoted and may contain
 * "@"), without angle brackets; a value without "@" is a domain itself.
 */
export function domainOfValue(v: string): string {
  // A control character anywhere (a NUL hiding what precedes it from some readers) makes the
  // whole value untrustworthy, not just the part after the last "@".
  if (/[\u0000-\u001f\u007f]/.test(v)) return '';
  let at = -1;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '@') at = i;
  }
  if (quoted) return ''; // unbalanced: no domain can be trusted
  const domain = (at >= 0 ? v.slice(at + 1) : v).replace(/^<|>$/g, '');
  // A domain is letters, digits, hyphens and dots; anything else (a quote left over) is no domain.
  // Checked before lower-casing: U+212A KELVIN SIGN lower-cases to an ASCII "k".
  return /^[A-Za-z0-9.-]+$/.test(domain) ? domain.toLowerCase().replace(/\.$/, '') : '';
}

const addressDomain = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** How many addresses a From header value names (RFC 5322 §3.6.2 allows several). */
function fromAddressCount(value: string): number {
  const flat = (list: ReturnType<typeof addressparser>): number => list.reduce((n, a) => n + ('group' in a && a.group ? flat(a.group) : a.address ? 1 : 0), 0);
  try {
    return flat(addressparser(value));
  } catch {
    return 0;
  }
}

/**
 * The domain a DKIM result speaks for: the signing domain `header.d` (RFC 6376 §3.5, the d=
 * tag) when the server wrote it; only without it the domain of the identity `header.i` (Gmail
 * writes only that). `header.i` must be at or below `header.d`, so when both are written and
 * disagree it is the signer's claim, not the signer: `dkim=pass header.d=evil.example
 * header.i=@firm.se` is a pass for evil.example.
 */
function dkimDomain(r: AuthResult): string | null {
  if (r.props['header.d'] !== undefined) return domainOfValue(r.props['header.d']);
  if (r.props['header.i'] !== undefined) return domainOfValue(r.props['header.i']);
  return null;
}

/** "dkim=pass" (and so on) when this result vouches for `domain`, else null. */
function passFor(r: AuthResult, domain: string): string | null {
  if (r.result !== 'pass') return null;
  const prop = (name: string): string | null => (r.props[name] !== undefined ? domainOfValue(r.props[name]) : null);
  if (r.method === 'dmarc' && prop('header.from') === domain) return 'dmarc=pass';
  if (r.method === 'dkim' && dkimDomain(r) === domain) return 'dkim=pass';
  if (r.method === 'spf' && prop('smtp.mailfrom') === domain) return 'spf=pass';
  return null;
}

/** Where the firm's mail is hosted, and so which stamps of the platform can be trusted. */
export interface MailPlatformTrust {
  readonly mailPlatform?: 'own' | 'microsoft365' | 'google';
  /** The Microsoft 365 tenant id (lower case), with mailPlatform "microsoft365". */
  readonly tenantId?: string | null;
}

/** Gmail's authserv-id: the Authentication-Results Google Workspace writes on delivery. */
export const GOOGLE_AUTHSERV_ID = 'mx.google.com';

/**
 * Exchange Online's own verdict on mail between two mailboxes of one tenant. Such mail carries
 * no Authentication-Results from a receiving server of the firm (it never crosses one), but
 * Exchange stamps how the sender was authenticated: `X-MS-Exchange-Organization-AuthAs:
 * Internal` (a mailbox of the organisation submitted it; mail from outside is `Anonymous`),
 * and the tenant the stamps are from, `X-MS-Exchange-CrossTenant-Id`, with
 * `X-MS-Exchange-CrossTenant-AuthAs: Internal`. Exchange's header firewall removes
 * X-MS-Exchange-Organization-* headers from mail arriving from untrusted sources and writes its
 * own, so a sender cannot bring the Internal stamp in from outside; should a forged copy survive
 * beside Exchange's own, there are two of them and the mail is not believed. Trusted only when
 * the firm says its mail is on Microsoft 365 (`firm.mailPlatform`), for its own tenant.
 */
export function exchangeInternal(headers: HeaderView, tenantId: string): StaffAuthentication {
  const one = (name: string): string | null => {
    const all = headers.all(name);
    return all.length === 1 ? all[0].trim().toLowerCase() : null;
  };
  const authAs = headers.all('x-ms-exchange-organization-authas');
  if (authAs.length === 0)
    return { authenticated: false, reason: 'no X-MS-Exchange-Organization-AuthAs stamp: not delivered by Exchange Online as internal mail' };
  if (authAs.length > 1) return { authenticated: false, reason: `${authAs.length} X-MS-Exchange-Organization-AuthAs stamps: a copy was forged` };
  if (one('x-ms-exchange-organization-authas') !== 'internal')
    return { authenticated: false, reason: `X-MS-Exchange-Organization-AuthAs is ${authAs[0].trim()}: mail from outside the tenant` };
  const tenant = one('x-ms-exchange-crosstenant-id');
  if (tenant !== tenantId)
    return { authenticated: false, reason: `X-MS-Exchange-CrossTenant-Id is not the firm's tenant (${tenantId}) or given more than once` };
  if (one('x-ms-exchange-crosstenant-authas') !== 'internal')
    return { authenticated: false, reason: 'X-MS-Exchange-CrossTenant-AuthAs is not Internal (or given more than once)' };
  return { authenticated: true, reason: `Exchange Online stamped it internal mail of tenant ${tenantId} (AuthAs: Internal)` };
}

/** Whether the firm's own server (or its mail platform) vouches for `fromAddress` (a staff address). */
export function staffAuthentication(
  headers: HeaderView,
  fromAddress: string,
  authservIds: readonly string[],
  platform: MailPlatformTrust = {},
): StaffAuthentication {
  const ids = [...authservIds, ...(platform.mailPlatform === 'google' ? [GOOGLE_AUTHSERV_ID] : [])].map((id) => id.toLowerCase());
  const exchange = platform.mailPlatform === 'microsoft365' && platform.tenantId ? exchangeInternal(headers, platform.tenantId) : null;
  if (ids.length === 0 && !exchange) return { authenticated: false, reason: 'no firm.authservIds configured: no Authentication-Results header can be trusted' };
  // One From, one author: also for the platform's stamps.
  const single = singleAuthor(headers);
  if (single) return single;
  if (exchange?.authenticated) return exchange;
  if (ids.length === 0) return exchange!;
  const byHeader = authenticationResultsVerdict(headers, fromAddress, ids);
  return exchange && !byHeader.authenticated ? { authenticated: false, reason: `${exchange.reason}; ${byHeader.reason}` } : byHeader;
}

/** A refusal when the mail has no single author (two From fields, or one naming two addresses). */
function singleAuthor(headers: HeaderView): StaffAuthentication | null {
  // DMARC and DKIM vouch for "the" From domain; a mail with two From fields, or one From naming
  // two addresses, has none (RFC 7489 §6.6.1), and the one we read may not be the one checked.
  const froms = headers.all('from');
  if (froms.length > 1) return { authenticated: false, reason: `the mail has ${froms.length} From fields: no single author to authenticate` };
  if (froms.length === 1 && fromAddressCount(froms[0]) > 1)
    return { authenticated: false, reason: 'the From field names several addresses: no single author to authenticate' };
  return null;
}

/**
 * The Authentication-Results headers the firm's server wrote: the topmost one under one of
 * `ids`, and the ones under our ids that follow it before the next `Received:` field. A
 * receiving stack often writes one header per check (OpenDKIM, OpenDMARC, policyd-spf each
 * prepend their own, all under the same authserv-id, all above the server's own `Received:`),
 * while a header the sender wrote stands below at least one `Received:` (the hop into our
 * server). Without the fields in order (a hand-made view), only the topmost counts.
 */
function ourHeaders(headers: HeaderView, ids: readonly string[]): { values: string[]; belowReceived: boolean } {
  const isOurs = (v: string): boolean => {
    const id = authservIdOf(v);
    return id !== null && ids.includes(id);
  };
  const fields = headers.inOrder?.();
  if (!fields) {
    const top = headers.all('authentication-results').find(isOurs);
    return { values: top === undefined ? [] : [top], belowReceived: false };
  }
  const out: string[] = [];
  let received = false;
  let belowReceived = false;
  for (const f of fields) {
    if (f.name === 'received') {
      if (out.length > 0) break;
      received = true;
    }
    if (f.name === 'authentication-results' && isOurs(f.value)) {
      // Gmail writes one header per delivery, below its own Received:, where the sender's
      // header fields follow at once: a second one under its id is the sender's.
      if (authservIdOf(f.value) === GOOGLE_AUTHSERV_ID && out.some((v) => authservIdOf(v) === GOOGLE_AUTHSERV_ID)) continue;
      if (out.length === 0) belowReceived = received;
      out.push(f.value);
    }
  }
  return { values: out, belowReceived };
}

/**
 * Why the headers collected as ours cannot all be ours, or null; asked only of headers that
 * stand below a Received: field. A stack that writes its headers below its own Received:
 * (Postfix with OpenDKIM's milters, as in the mails of test/fixtures/golden; Gmail) is followed
 * directly by the sender's header fields, so a header the sender put at the top of the mail
 * cannot be told from ours by its place (RFC 8601 §5 asks the receiving server to remove such
 * headers; not every server does). Two of our filters may report the same check (pypolicyd-spf
 * and OpenDMARC both write spf=), but they agree. Headers that disagree on one check (DMARC, SPF
 * for its mailfrom, DKIM for one signing domain), or "no DKIM signature" beside a DKIM result,
 * cannot all be ours: one was written by the sender.
 */
function conflictingResults(fields: readonly AuthenticationResults[]): string | null {
  const domainOf = (v: string | undefined): string => (v === undefined ? '' : domainOfValue(v));
  const claims = new Map<string, { field: number; said: string }>();
  let noSignature = -1;
  let signature = -1;
  for (const [i, f] of fields.entries()) {
    for (const r of f.results) {
      let key: string;
      let said: string;
      if (r.method === 'dmarc') [key, said] = ['DMARC', `${r.result} for ${domainOf(r.props['header.from'])}`];
      else if (r.method === 'spf' && r.props['smtp.mailfrom'] !== undefined) [key, said] = ['SPF', `${r.result} for ${domainOf(r.props['smtp.mailfrom'])}`];
      else if (r.method === 'dkim' && r.result === 'none') {
        if (signature >= 0 && signature !== i) return 'one header under our authserv-id reports a DKIM result and another no DKIM signature';
        noSignature = i;
        continue;
      } else if (r.method === 'dkim') {
        if (noSignature >= 0 && noSignature !== i) return 'one header under our authserv-id reports no DKIM signature and another a DKIM result';
        signature = i;
        [key, said] = [`DKIM for ${dkimDomain(r) ?? ''}`, r.result];
      } else continue;
      const before = claims.get(key);
      if (before && before.field !== i && before.said !== said) return `two headers under our authserv-id disagree on ${key} (${before.said}; ${said})`;
      if (!before) claims.set(key, { field: i, said });
    }
  }
  return null;
}

/** The verdict of the Authentication-Results headers our server wrote (ourHeaders). */
function authenticationResultsVerdict(headers: HeaderView, fromAddress: string, ids: readonly string[]): StaffAuthentication {
  // Every header of ours, whether or not it reads: an unreadable one is not skipped for a
  // readable one below it (that one could be the sender's), and makes the whole set unreadable.
  const { values, belowReceived } = ourHeaders(headers, ids);
  if (values.length === 0) return { authenticated: false, reason: `no Authentication-Results header from ${ids.join(', ')}` };
  const parsed = values.map(parseAuthenticationResults);
  const bad = parsed.findIndex((p) => p === null);
  if (bad >= 0) {
    return {
      authenticated: false,
      reason: `the Authentication-Results header from ${authservIdOf(values[bad])} does not follow RFC 8601 (a property given twice, an unclosed comment or quote, or stray text): not believed`,
    };
  }
  const conflict = belowReceived ? conflictingResults(parsed as AuthenticationResults[]) : null;
  if (conflict) return { authenticated: false, reason: `${conflict}: one of them was written by the sender, none is believed` };
  const ours = { authservId: parsed[0]!.authservId, results: parsed.flatMap((p) => p!.results) };
  const domain = addressDomain(fromAddress);
  const seen = ours.results.map((r) => `${r.method}=${r.result}`).join(', ') || 'no results';
  // A recorded failure for the From's domain outweighs any pass: a forger may get one method to
  // pass (SPF through a shared relay), never DMARC for our domain.
  const veto = ours.results.find(
    (r) => (r.method === 'dmarc' && r.result === 'fail') || (r.method === 'dkim' && r.result === 'fail' && dkimDomain(r) === domain),
  );
  const pass = ours.results.map((r) => passFor(r, domain)).find((p): p is string => p !== null);
  if (pass && veto) return { authenticated: false, reason: `${ours.authservId} recorded ${seen}: ${veto.method}=fail vetoes the ${pass} for ${domain}` };
  if (pass) return { authenticated: true, reason: `${pass} for ${domain} (${ours.authservId})` };
  return { authenticated: false, reason: `${ours.authservId} recorded ${seen}: none passed for ${domain}` };
}
