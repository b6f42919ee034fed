/**
 * When an imported mail reached the firm (`klagomal import`): its Date header, else the mbox
 * "From " line's date (Stockholm time when it has no zone), else the file's modification time;
 * a date before 1980 or more than a day ahead of now is a clock error, not a receipt. RFC 5322
 * §3.3 dates, read leniently (obsolete zones and two-digit years, RFC 5322 §4.3), and the
 * asctime form of an mbox envelope.
 */
import { localTime } from '../util/stockholm-time';
import type { ReceivedFrom } from './import';

/** Earliest receipt time believed: older dates are clock errors or spam, not a firm's mailbox. */
const EARLIEST = Date.UTC(1980, 0, 1);
const DAY_MS = 24 * 3600 * 1000;

export function receiptTime(head: Buffer, envelope: Date | null, fileMtime: Date, now: Date): { receivedAt: Date; receivedFrom: ReceivedFrom } {
  const plausible = (d: Date | null): d is Date => d !== null && d.getTime() >= EARLIEST && d.getTime() <= now.getTime() + DAY_MS;
  const header = dateHeader(head);
  if (plausible(header)) return { receivedAt: header, receivedFrom: 'date-header' };
  if (plausible(envelope)) return { receivedAt: envelope, receivedFrom: 'envelope' };
  return { receivedAt: fileMtime, receivedFrom: 'file-time' };
}

/** The first Date header of a header block, parsed; null when there is none or it cannot be read. */
export function dateHeader(head: Buffer): Date | null {
  const text = head.toString('latin1');
  const m = /^date[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/im.exec(text);
  return m ? parseMailDate(m[1].replace(/\r?\n/g, ' ')) : null;
}

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
  // Seen from Swedish and German clients that localise the month, against RFC 5322.
  maj: 5,
  okt: 10,
  mai: 5,
  mrz: 3,
  dez: 12,
};

/** Zone names in RFC 5322 section 4.3 (obs-zone), and the European ones clients write anyway. Minutes east of UTC. */
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  wet: 0,
  west: 60,
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  eet: 120,
  eest: 180,
};

interface DateParts {
  y: number;
  mon: number;
  d: number;
  h: number;
  min: number;
  s: number;
  zone: string | undefined;
}

/**
 * An RFC 5322 date-time, tolerant of what old mail holds: comments, no weekday, two- and
 * three-digit years (section 4.3: 00-49 are 20xx, 50-999 are 1900 + year), missing seconds,
 * named zones, and the asctime form of mbox envelopes ("Thu Jan  1 00:00:00 2026", zone
 * optional before the year). A time without a zone is read as Stockholm time: the firm's
 * mailbox was in Sweden. Null when it cannot be read.
 */
export function parseMailDate(text: string): Date | null {
  const t = text
    .replace(/\([^()]*\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  let p: DateParts | null = null;
  let m =
    /^(?:[a-z]+\.?,? ?)?(\d{1,2})[ -]([a-z]{3,})\.?[ -](\d{2,4}),? (\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?(?: ?([+-]\d{2}:?\d{2}|[a-z]{1,5}))?(?:\s|$)/i.exec(
      t,
    );
  if (m) p = { d: +m[1], mon: MONTHS[m[2].slice(0, 3).toLowerCase()], y: year(m[3]), h: +m[4], min: +m[5], s: +(m[6] ?? 0), zone: m[7] };
  m ??= /^[a-z]{3},? ([a-z]{3}) +(\d{1,2}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ([+-]\d{4}|[a-z]{1,5}))? (\d{4})(?:\s|$)/i.exec(t);
  if (!p && m) p = { mon: MONTHS[m[1].toLowerCase()], d: +m[2], h: +m[3], min: +m[4], s: +(m[5] ?? 0), zone: m[6], y: +m[7] };
  if (!p) {
    const iso = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i.exec(t);
    if (!iso) return null;
    const d = new Date(t.replace(' ', 'T'));
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return dateOf(p);
}

function year(text: string): number {
  const y = Number(text);
  if (text.length === 4) return y;
  if (text.length === 2 && y < 50) return 2000 + y;
  return 1900 + y;
}

function dateOf(p: DateParts): Date | null {
  if (!p.mon || p.d < 1 || p.d > 31 || p.h > 23 || p.min > 59 || p.s > 60) return null;
  const day = new Date(Date.UTC(p.y, p.mon - 1, p.d));
  if (day.getUTCDate() !== p.d) return null; // 31 February
  const s = Math.min(p.s, 59); // a leap second is the last second of its minute
  if (p.zone === undefined) return localTime({ y: p.y, m: p.mon, d: p.d }, p.h, p.min, s);
  let offset: number | undefined;
  const num = /^([+-])(\d{2}):?(\d{2})$/.exec(p.zone);
  if (num) offset = (num[1] === '-' ? -1 : 1) * (Number(num[2]) * 60 + Number(num[3]));
  else offset = ZONES[p.zone.toLowerCase()];
  // An unknown zone name: military letters and local names RFC 5322 says to read as "-0000" (UTC).
  offset ??= 0;
  return new Date(Date.UTC(p.y, p.mon - 1, p.d, p.h, p.min, s) - offset * 60_000);
}

/**
 * The date of an mbox envelope line ("From sender Thu Jan  1 00:00:00 2026"), or null when the
 * line does not read as one. Used both for the date and to tell a separator from a body line.
 */
export function envelopeDate(line: string): Date | null {
  const m = /^From (?:"[^"]*"\S*|\S+)? +(.*?)[\r\n]*$/.exec(line);
  if (!m) return null;
  return parseMailDate(m[1].replace(/ remote from .*$/, ''));
}
