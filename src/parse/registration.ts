/**
 * A complaint that came by letter, phone, chat or at a branch, registered by an officer by mail
 * (FFFS 2002:23 and the EU complaint guidelines: every complaint is registered, whatever the
 * channel). The officer writes to the complaints address, `#register CHANNEL` on the first line,
 * then the customer's details as "Label: value" lines, then (after a blank line, or at the first
 * line that is not a label) the complaint as the customer made it:
 *
 *   #register letter                    letter | phone | chat | in-person (brev, telefon, chatt, besök)
 *   Name: Anna Andersson                Namn
 *   Address: Storgatan 1, 123 45 Ort    Adress, Postadress (postal)
 *   Email: anna@example.com             E-post, Epost, Mejl
 *   Customer: consumer                  Kund, Kundtyp: consumer | business (konsument | företag)
 *   Received: 2026-12-01                Mottaget, Inkom: YYYY-MM-DD [HH:MM] (Stockholm), not in the future
 *
 * The name, the date, and an e-mail or a postal address are required. Pure: text in, a value
 * out (or every problem, for the officer's confirmation). Whether the sender may register (an
 * authenticated officer) is the classifier's decision.
 */
import type { Channel } from '../store/rows';
import { isoDate, localDateOf, localTime, parseIsoDate } from '../util/stockholm-time';

export interface Registration {
  readonly channel: Exclude<Channel, 'email'>;
  readonly name: string;
  readonly email: string | null;
  readonly postal: string | null;
  readonly customerType: 'consumer' | 'business' | null;
  /** When the complaint reached the firm (deadlines count from it). */
  readonly receivedAt: Date;
  /** The complaint as the customer made it (the rest of the mail). */
  readonly text: string;
}

export type RegistrationRead = { readonly ok: true; readonly registration: Registration } | { readonly ok: false; readonly problems: readonly string[] };

const CHANNEL_WORDS: Readonly<Record<string, Exclude<Channel, 'email'>>> = {
  letter: 'letter',
  brev: 'letter',
  post: 'letter',
  phone: 'phone',
  telefon: 'phone',
  chat: 'chat',
  chatt: 'chat',
  'in-person': 'in-person',
  visit: 'in-person',
  besök: 'in-person',
  kontor: 'in-person',
};

type Field = 'name' | 'postal' | 'email' | 'customer' | 'received';
const LABELS: Readonly<Record<string, Field>> = {
  name: 'name',
  namn: 'name',
  address: 'postal',
  adress: 'postal',
  'postal address': 'postal',
  postadress: 'postal',
  email: 'email',
  'e-mail': 'email',
  'e-post': 'email',
  epost: 'email',
  mejl: 'email',
  customer: 'customer',
  'customer type': 'customer',
  kund: 'customer',
  kundtyp: 'customer',
  received: 'received',
  date: 'received',
  mottaget: 'received',
  inkom: 'received',
  datum: 'received',
};

/** Does the mail's new text start with `#register`? */
export function startsWithRegister(text: string): boolean {
  return /^\s*#\s*register\b/i.test(text);
}

/** Read a registration; `now` bounds the date (a complaint is not received in the future). */
export function readRegistration(text: string, now: Date): RegistrationRead {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  const head = /^\s*#\s*register\b\s*(\S*)\s*$/i.exec(lines[i] ?? '');
  const problems: string[] = [];
  if (!head) return { ok: false, problems: ['the first line must be #register letter|phone|chat|in-person'] };
  const channel = CHANNEL_WORDS[head[1].toLowerCase()];
  if (!channel) problems.push(`#register needs the channel: letter, phone, chat or in-person (got '${head[1]}')`);
  i++;
  const values: Partial<Record<Field, string>> = {};
  for (; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t === '') {
      // Blank lines before the first label are skipped; after labels, a blank line ends them.
      if (Object.keys(values).length) break;
      continue;
    }
    const m = /^([\p{L} -]{2,20}?)\s*:\s*(.*)$/u.exec(t);
    const field = m ? LABELS[m[1].trim().toLowerCase()] : undefined;
    if (!m || !field) break;
    values[field] = m[2].trim();
  }
  const rest = lines.slice(i).join('\n').trim();

  const name = (values.name ?? '').replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
  if (!name) problems.push('Name: the customer\'s name is needed ("Name: Anna Andersson")');
  let email: string | null = null;
  if (values.email) {
    // Plain ASCII only: it becomes the To of the acknowledgement.
    if (/^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$/.test(values.email)) email = values.email.toLowerCase();
    else problems.push(`Email: not an e-mail address: '${values.email.slice(0, 80)}'`);
  }
  const postal = values.postal ? values.postal.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 300) : null;
  if (!email && !postal && !values.email) problems.push('Email or Address: an e-mail or a postal address is needed, to send the acknowledgement');
  let customerType: 'consumer' | 'business' | null = null;
  if (values.customer) {
    const w = values.customer.toLowerCase();
    customerType = ['consumer', 'konsument', 'privatperson'].includes(w)
      ? 'consumer'
      : ['business', 'företag', 'foretag', 'company'].includes(w)
        ? 'business'
        : null;
    if (!customerType) problems.push(`Customer: consumer or business (konsument or företag), got '${values.customer.slice(0, 40)}'`);
  }
  let receivedAt: Date | null = null;
  const r = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2}))?$/.exec(values.received ?? '');
  const date = r ? parseIsoDate(r[1]) : null;
  if (!values.received) problems.push('Received: the date the complaint reached the firm is needed ("Received: 2026-12-01"); deadlines count from it');
  else if (!date || (r![2] !== undefined && (Number(r![2]) > 23 || Number(r![3]) > 59)))
    problems.push(`Received: a date YYYY-MM-DD, optionally with HH:MM (Stockholm time), got '${values.received.slice(0, 40)}'`);
  else {
    receivedAt = localTime(date, r![2] ? Number(r![2]) : 0, r![3] ? Number(r![3]) : 0, 0);
    if (isoDate(date) > isoDate(localDateOf(now)) || receivedAt.getTime() > now.getTime()) problems.push(`Received: ${values.received} is in the future`);
  }
  if (!rest) problems.push('the complaint itself is missing: write it below the details, after a blank line');
  if (problems.length || !channel || !receivedAt) return { ok: false, problems };
  return { ok: true, registration: { channel, name, email, postal, customerType, receivedAt, text: rest } };
}
