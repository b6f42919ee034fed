/**
 * Forwarded mail: the customer's original inside a mail that staff forwarded from another
 * mailbox (customer service, a branch, a personal inbox).
 *
 * Complaints do not only arrive at the complaints address: a customer writes to customer
 * service, and someone there forwards it. The complaint is the customer's, with the customer's
 * address, words and date; the deadline runs from when the mail first reached the firm. This
 * module finds that original in the two shapes mail clients produce:
 *
 *  - a `message/rfc822` attachment (Outlook "forward as attachment", Thunderbird's default in
 *    some versions, mutt): parsed in full by the caller, which hands us the result;
 *  - an inline block of the original's headers in the text, in the client's language:
 *      Gmail        ---------- Forwarded message --------- / Vidarebefordrat meddelande
 *                   From: … Date: … Subject: … To: …      (Från: Datum: Ämne: Till:)
 *      Outlook      -----Original Message----- or a line of underscores, then
 *                   From: … Sent: … To: … Subject: …      (Från: Skickat: Till: Ämne:)
 *      Thunderbird  -------- Forwarded Message -------- / Vidarebefordrat meddelande
 *                   Subject: … Date: … From: … To: …
 *      Apple Mail   Begin forwarded message: / Vidarebefordrat brev:
 *
 * Pure: text in, fields out. Whether a forward is believed (it must come from authenticated
 * staff) is the classifier's decision, not ours.
 */
import { localTime } from '../util/stockholm-time';
import { normaliseAddress } from '../util/header-safe';
import type { MailAddress } from './parse';

export interface ForwardedOriginal {
  /** 'registered': typed in by an officer from a letter, call, chat or visit (src/parse/registration.ts). */
  readonly via: 'attachment' | 'inline' | 'registered';
  readonly from: MailAddress | null;
  /** When the customer sent it, as the forward shows it; null when absent or unreadable. */
  readonly date: Date | null;
  /** The date as written in the forward, for the record. */
  readonly dateText: string | null;
  readonly subject: string | null;
  readonly messageId: string | null;
  /** The customer's own text. */
  readonly text: string;
}

/** Fwd:, Fw:, VB: (Swedish Outlook, "vidarebefordrat"), VS: (Norwegian/Danish), WG: (German). */
const FORWARD_PREFIX = /^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|vb|vs|wg|tr)\s*:/i;

export function hasForwardPrefix(subject: string): boolean {
  return FORWARD_PREFIX.test(subject);
}

/** Lines that announce a forwarded or original message in the clients above. */
const MARKER =
  /^(?:-{2,}\s*(?:forwarded message|vidarebefordrat meddelande|original message|ursprungligt meddelande|originalmeddelande)\s*-{2,}|begin forwarded message:|vidarebefordrat brev:|start of forwarded message|_{10,})\s*$/i;

type Label = 'from' | 'date' | 'subject' | 'to' | 'cc' | 'reply-to';
const LABELS: Readonly<Record<string, Label>> = {
  from: 'from',
  från: 'from',
  date: 'date',
  datum: 'date',
  sent: 'date',
  skickat: 'date',
  subject: 'subject',
  ämne: 'subject',
  to: 'to',
  till: 'to',
  cc: 'cc',
  kopia: 'cc',
  'reply-to': 'reply-to',
  'svara till': 'reply-to',
};
// "*From:* …" when the text came from HTML with bold labels; "> From: …" when quoted.
const HEADER_LINE = /^\*?(from|från|date|datum|sent|skickat|subject|ämne|to|till|cc|kopia|reply-to|svara till)\*?\s*:\s*\*?\s*(.*)$/i;

function unquote(line: string): { text: string; depth: number } {
  const m = /^((?:\s*>)+)\s?/.exec(line);
  if (!m) return { text: line, depth: 0 };
  return { text: line.slice(m[0].length), depth: (m[1].match(/>/g) ?? []).length };
}

/**
 * The original inside an inline forward, or null. Only the first (outermost) forwarded block
 * counts: older mail quoted inside the customer's own text stays part of that text.
 * `subject` is the forward's own subject: a Fwd:/VB: prefix makes a header block without a
 * marker line acceptable (Outlook sometimes writes none).
 */
export function findInlineForward(text: string, subject: string): ForwardedOriginal | null {
  const lines = text.split(/\r?\n/);
  const prefixed = hasForwardPrefix(subject);
  for (let i = 0; i < lines.length; i++) {
    const first = unquote(lines[i]);
    if (!HEADER_LINE.test(first.text.trim())) continue;
    // A run of header lines (a long value may wrap onto an indented line).
    const fields = new Map<Label, string>();
    let j = i;
    let last: Label | null = null;
    for (; j < lines.length; j++) {
      const { text: t } = unquote(lines[j]);
      const m = HEADER_LINE.exec(t.trim());
      if (m) {
        last = LABELS[m[1].toLowerCase()];
        if (!fields.has(last)) fields.set(last, m[2].replace(/\*+$/, '').trim());
      } else if (last && /^\s+\S/.test(t) && t.trim() !== '') {
        fields.set(last, `${fields.get(last)} ${t.trim()}`);
      } else break;
    }
    if (!fields.has('from') || !fields.has('date')) {
      i = j - 1;
      continue;
    }
    const marked = lines.slice(Math.max(0, i - 3), i).some((l) => MARKER.test(unquote(l).text.trim()));
    if (!marked && !prefixed) return null;
    // The original's text: after the block, without the blank lines and quote marks around it.
    const body: string[] = [];
    for (let k = j; k < lines.length; k++) {
      const u = unquote(lines[k]);
      body.push(first.depth > 0 ? (u.depth >= first.depth ? u.text : lines[k]) : lines[k]);
    }
    const dateText = fields.get('date') || null;
    return {
      via: 'inline',
      from: parseForwardedAddress(fields.get('from') ?? ''),
      date: dateText ? parseWrittenDate(dateText) : null,
      dateText,
      subject: fields.get('subject') || null,
      messageId: null,
      text: body.join('\n').trim(),
    };
  }
  return null;
}

/** "Anna Svensson <anna@example.se>", "Anna [mailto:anna@example.se]", "anna@example.se". */
export function parseForwardedAddress(value: string): MailAddress | null {
  const m = /([^\s<>[\]"'():;,]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})/.exec(value);
  if (!m) return null;
  const address = normaliseAddress(m[1]);
  if (!address) return null;
  const before = value.slice(0, m.index).replace(/[<[(]\s*(mailto:)?\s*$/i, '');
  const name = before.replace(/^["'\s]+|["'\s]+$/g, '').trim();
  return { address, name: name && !name.includes('@') ? name : '' };
}

const MONTHS: Readonly<Record<string, number>> = {
  jan: 1, januari: 1, january: 1,
  feb: 2, febr: 2, februari: 2, february: 2,
  mar: 3, mars: 3, march: 3,
  apr: 4, april: 4,
  maj: 5, may: 5,
  jun: 6, juni: 6, june: 6,
  jul: 7, juli: 7, july: 7,
  aug: 8, augusti: 8, august: 8,
  sep: 9, sept: 9, september: 9,
  okt: 10, oct: 10, oktober: 10, october: 10,
  nov: 11, november: 11,
  dec: 12, december: 12,
}; // prettier-ignore

const ZONES: Readonly<Record<string, number>> = { gmt: 0, utc: 0, ut: 0, z: 0, cet: 60, cest: 120, wet: 0, west: 60, eet: 120, eest: 180 };

/**
 * A date as mail clients write it in a forward, in English or Swedish:
 * "Mon, 2 Nov 2026 09:15:00 +0100", "Mon, 2 Nov 2026 at 09:15", "mån 2 nov. 2026 kl 09:15",
 * "Monday, November 2, 2026 9:15 AM", "den 2 november 2026 09:15", "2 November 2026 at 09:15:00 CET",
 * "2026-11-02 09:15". Without a zone the time is read as Stockholm time, where the mailbox is.
 * Null when it cannot be read with confidence (never a guess).
 */
export function parseWrittenDate(text: string): Date | null {
  const t = text
    .toLowerCase()
    .replace(/\([^)]*\)/g, ' ')
    .replace(/[,]/g, ' ');
  let y: number, mo: number, d: number;
  const iso = /\b(\d{4})-(\d{2})-(\d{2})\b/.exec(t);
  const numeric = /\b(\d{1,2})\/(\d{1,2})\/(\d{4})\b/.exec(t);
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  } else if (numeric) {
    // "3/11/2026" is the 3rd of November in Sweden and the 11th of March in the US: not readable.
    return null;
  } else {
    const year = /\b(19|20)\d{2}\b/.exec(t);
    if (!year) return null;
    y = Number(year[0]);
    let month: number | null = null;
    for (const m of t.matchAll(/\p{L}+/gu)) {
      const v = MONTHS[m[0]];
      if (v !== undefined) {
        month = v;
        break;
      }
    }
    if (month === null) return null;
    mo = month;
    // The day: a number of one or two digits not part of the time or the year.
    const withoutTime = t.replace(/\b\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\b/g, ' ').replace(/[+-]\d{4}\b/g, ' ');
    const day = /(?:^|[^\d:])(\d{1,2})(?:\.|\b)(?![:\d])/.exec(withoutTime.replace(year[0], ' '));
    if (!day) return null;
    d = Number(day[1]);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  const time = /\b(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?/.exec(t.replace(/\b\d{4}-\d{2}-\d{2}\b/, ' '));
  let h = 0;
  let min = 0;
  let s = 0;
  if (time) {
    h = Number(time[1]);
    min = Number(time[2]);
    s = time[3] ? Number(time[3]) : 0;
    const ampm = time[4]?.[0];
    if (ampm === 'p' && h < 12) h += 12;
    if (ampm === 'a' && h === 12) h = 0;
    if (h > 23 || min > 59 || s > 59) return null;
  }
  const after = time ? t.slice(t.indexOf(time[0]) + time[0].length) : t;
  const offset = /([+-])(\d{2}):?(\d{2})\b/.exec(after);
  const zoneName = /\b(gmt|utc|ut|cet|cest|wet|west|eet|eest)\b/.exec(after);
  let minutesEast: number | null = null;
  if (offset) minutesEast = (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
  else if (zoneName) minutesEast = ZONES[zoneName[1]];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCMonth() !== mo - 1) return null; // 31 November
  if (minutesEast === null) return localTime({ y, m: mo, d }, h, min, s);
  return new Date(Date.UTC(y, mo - 1, d, h, min, s) - minutesEast * 60_000);
}
