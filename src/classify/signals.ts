/**
 * Machine-mail signals: is this mail a bounce, an automatic reply or bulk/list mail? Each
 * rule returns the reason it fired, which is stored on the mail's event so an officer can see
 * why a mail did not open a case. Pure functions of the parsed mail.
 *
 * Sources of the rules:
 *  - RFC 3464 (DSN): multipart/report; report-type=delivery-status
 *  - RFC 3834 §5: Auto-Submitted; any value other than "no" means not written by a person
 *  - RFC 2369 / 2919: List-Id, List-Unsubscribe and friends mark list mail
 *  - RFC 5965 (ARF): abuse feedback reports
 *  - de facto headers: X-Autoreply, X-Autorespond, Precedence, Exchange's
 *    X-MS-Exchange-Generated-Message-Source, Apple's X-Apple-Action: VACATION
 *  - and, as corroborating evidence only, what auto-replies say in their first lines ("I am
 *    out of the office", "Jag är på semester", "This is an automated response"). A complaint
 *    may mention a vacation too, so a body phrase never decides alone: it confirms a subject
 *    prefix, a Precedence header or a null sender.
 */
import type { ParsedMail } from '../parse/parse';

export type MachineKind = 'bounce' | 'autoreply' | 'bulk';

export interface MachineSignal {
  readonly kind: MachineKind;
  readonly reason: string;
  /**
   * 'strong': a header or structure that only machines produce; the mail is not a complaint.
   * 'weak': evidence a person's mail can also carry (a subject, a List-Unsubscribe header from a
   * form service). A complaint must never be lost to it: the mail is filed as a complaint and
   * only the automatic acknowledgement is held back, with this reason on the case.
   */
  readonly strength: 'strong' | 'weak';
}

const BOUNCE_SENDER = /^(mailer[-_]?daemon|post[-_]?master|mail[-_]daemon|mail delivery subsystem)(@|$)/i;

/** Subjects of plain-text bounces and of non-DSN delivery failures (Exchange, qmail, Exim, Outlook in Swedish/German/French); only with a system sender. */
const BOUNCE_SUBJECT =
  /^\s*(undeliver(ed|able)( mail)?|delivery (status notification|failure|has failed)|mail delivery (failed|failure|subsystem)|returned mail|failure notice|non[- ]?delivery|olevererbart|ej levererat|kunde inte levereras|unzustellbar|nicht zustellbar|non remis|message not delivered|delivery notification)\b/i;

/** What bounce texts say; with a null sender or an Auto-Submitted header it marks a bounce. */
const BOUNCE_TEXT =
  /(could not be delivered|couldn't be delivered|undeliverable|delivery (has )?failed|permanent (error|failure)|user unknown|unknown user|no such (user|mailbox)|not a valid user|mailbox (unavailable|is full|not found)|recipient address rejected|550[ -]5\.\d\.\d|returned to sender|kunde inte levereras|leveransen misslyckades)/i;

/**
 * Subject prefixes of out-of-office and other automatic replies, in the languages our
 * customers' mail systems use, as a prefix with a colon ("Automatiskt svar: ...") or in
 * brackets ("[Automatyczna odpowiedź] ..."), the forms Outlook, Exchange, Lotus and most
 * responders write. A customer's own subject such as "Frånvaro av svar på mitt klagomål" does
 * not match.
 */
const AUTOREPLY_SUBJECT =
  /^\s*\[?\s*(automatiskt svar|autosvar|automatisk svar|automatisk besked|frånvaro(meddelande)?|fraværsmelding|poissaolo|automaattinen vastaus|lomavastaaja|out of (the )?office( reply)?|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|auto|vacation reply|abwesenheitsnotiz|automatische antwort|réponse automatique|automatyczna odpowied[źz]|respuesta automática)\s*(:|\])/i;

/** "Automatic reply" in other languages anywhere in a subject (Latvian responders put it last). */
const AUTOREPLY_PHRASE_ANYWHERE = /(automātiskā atbilde|automatiska atbilde|automatic reply|auto-?reply|automatiskt svar|out of (the )?office)/i;

/** What challenge/response systems ask of a sender. */
const CHALLENGE_TEXT =
  /(has been waitlisted|guest list|verify (that )?you are (a )?(real|human)|confirm (that )?you are (a )?(real )?(person|human)|sender verification|challenge[- ]response)/i;

/**
 * A VERP return path ("bounces-main+recipient=domain@sender"): list servers and mass-mailing
 * systems use them to tell which recipient bounced. A person's mail never has one.
 */
const VERP_RETURN_PATH = /^[^@]*(bounces?|bounce-|-bounces|automated-bounces)[^@]*[+=][^@]*@/i;

/** First lines of auto-replies (out of office, vacation, automatic acknowledgements). */
const AUTOREPLY_BODY = new RegExp(
  [
    'out of (the )?office',
    'i am (currently )?(away|on (annual )?leave|on vacation|on holiday|out)',
    'i will be (back|away|out)',
    'will (be back|return) on',
    'returning (on|to the office)',
    'limited access to (my )?e-?mail',
    'this is an automat(ed|ic) (response|reply|message)',
    'automated response to your message',
    'thank you for (your|you) (e-?mail|message)',
    'i will endeavou?r to (reply|respond)',
    'jag är (på semester|ledig|tjänstledig|föräldraledig|sjukskriven|borta|inte på kontoret)',
    'jag är åter',
    'tillbaka (den|på|igen)',
    'frånvarande',
    'detta är ett automatiskt',
    'ett automatiskt svar',
    'tack för ditt (mejl|mail|meddelande)',
    'nicht im büro',
    'bin (bis|ab) .{0,40}(abwesend|nicht erreichbar)',
    'er på ferie',
    'er fraværende',
    'olen lomalla',
    'ārpus biroja',
  ].join('|'),
  'i',
);

function autoreplyText(mail: ParsedMail): boolean {
  return AUTOREPLY_BODY.test(mail.text.slice(0, 800));
}

export function machineSignal(mail: ParsedMail): MachineSignal | null {
  const h = mail.headers;
  const reportType = mail.contentTypeParams['report-type'];
  const strong = (kind: MachineKind, reason: string): MachineSignal => ({ kind, reason, strength: 'strong' });
  const precedence = (h.get('precedence') ?? '').trim().toLowerCase();
  const subjectSaysAuto = AUTOREPLY_SUBJECT.test(mail.subject);
  const textSaysAuto = autoreplyText(mail);

  // --- bounces --------------------------------------------------------------------------
  // A challenge/response system ("your message has been waitlisted, verify yourself") may
  // dress its challenge as a DSN; it is an automatic reply, not a delivery failure.
  if (mail.contentType === 'multipart/report' && CHALLENGE_TEXT.test(mail.text.slice(0, 3000))) {
    return strong('autoreply', 'a challenge/response request (asks the sender to verify themselves)');
  }
  if (mail.contentType === 'multipart/report' && reportType === 'delivery-status') {
    return strong('bounce', 'delivery status notification (multipart/report; report-type=delivery-status, RFC 3464)');
  }
  if (mail.contentType === 'message/delivery-status') return strong('bounce', 'a bare delivery status (message/delivery-status, RFC 3464)');
  if (mail.from && BOUNCE_SENDER.test(mail.from.address)) return strong('bounce', `sender is ${mail.from.address.split('@')[0].toLowerCase()}`);
  if (BOUNCE_SUBJECT.test(mail.subject) && (mail.returnPath === '' || !mail.from || /daemon|postmaster|system|exchange/i.test(mail.from.address))) {
    return strong('bounce', 'delivery failure subject from a system sender');
  }
  // A null sender or an Auto-Submitted header with a bounce text (DSNs often carry
  // Auto-Submitted: auto-replied; this must be a bounce, not an out-of-office).
  if ((mail.returnPath === '' || h.has('auto-submitted')) && BOUNCE_TEXT.test(mail.text.slice(0, 2000)) && !subjectSaysAuto) {
    return strong('bounce', `${mail.returnPath === '' ? 'null return path' : 'Auto-Submitted'} with a delivery-failure text`);
  }

  // --- automatic replies ----------------------------------------------------------------
  if (mail.feedbackReport) return strong('autoreply', 'an abuse feedback report (ARF, RFC 5965), not a complaint to us');
  const autoSubmitted = h.get('auto-submitted');
  if (autoSubmitted !== undefined) {
    const value = autoSubmitted.split(';')[0].trim().toLowerCase();
    if (value !== 'no' && value !== '') return strong('autoreply', `Auto-Submitted: ${value} (RFC 3834)`);
  }
  // Not X-MS-Exchange-Inbox-Rules-Loop: Exchange adds it to mail an inbox rule forwarded, which
  // is how customer service mailboxes pass complaints on to us.
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-autogenerated', 'x-ms-exchange-generated-message-source']) {
    if (h.has(name)) return strong('autoreply', `${name} header present`);
  }
  if (/vacation/i.test(h.get('x-apple-action') ?? '')) return strong('autoreply', 'X-Apple-Action: VACATION (Apple Mail vacation reply)');
  if (precedence === 'auto_reply' || precedence === 'auto-reply') return strong('autoreply', `Precedence: ${precedence}`);
  if (mail.contentType === 'multipart/report') return strong('autoreply', `automatic report (multipart/report; report-type=${reportType ?? 'unknown'})`);
  const suppress = h.get('x-auto-response-suppress');
  if (suppress !== undefined && subjectSaysAuto) return strong('autoreply', 'X-Auto-Response-Suppress with an automatic-reply subject (Exchange)');
  // Vacation programs send with Precedence: bulk/junk or a null sender; what they say decides
  // between an auto-reply and a list mail or a bounce.
  if ((precedence === 'bulk' || precedence === 'junk' || precedence === 'list' || mail.returnPath === '') && (subjectSaysAuto || textSaysAuto)) {
    return strong(
      'autoreply',
      `${precedence ? `Precedence: ${precedence}` : 'null return path'} with an automatic-reply ${subjectSaysAuto ? 'subject' : 'text'}`,
    );
  }
  if ((subjectSaysAuto || AUTOREPLY_PHRASE_ANYWHERE.test(mail.subject)) && textSaysAuto) {
    return strong('autoreply', 'automatic-reply subject and an out-of-office text');
  }

  // --- bulk and list mail ---------------------------------------------------------------
  if (precedence === 'bulk' || precedence === 'list' || precedence === 'junk') return strong('bulk', `Precedence: ${precedence}`);
  for (const name of ['list-id', 'x-mailing-list', 'list-post']) {
    if (h.has(name)) return strong('bulk', `${name} header present (RFC 2369/2919)`);
  }

  // A null return path with nothing else: the MTA says this mail must never be answered.
  if (mail.returnPath === '') return strong('bounce', 'null return path (Return-Path: <>)');

  // --- weak evidence: filed as a complaint, not acknowledged ----------------------------
  if (subjectSaysAuto || AUTOREPLY_PHRASE_ANYWHERE.test(mail.subject)) return { kind: 'autoreply', reason: 'automatic-reply subject', strength: 'weak' };
  // Newsletters carry List-Unsubscribe, but so does mail from web-form and CRM services.
  if (h.has('list-unsubscribe')) return { kind: 'bulk', reason: 'List-Unsubscribe header present (RFC 2369)', strength: 'weak' };
  if (mail.returnPath && VERP_RETURN_PATH.test(mail.returnPath)) return { kind: 'bulk', reason: 'a mass-mailing return path (VERP)', strength: 'weak' };
  const fromName = mail.fromName ?? mail.from?.name ?? '';
  if (
    /newsletter|nyhetsbrev|nyhetsbrev|news ?letter/i.test(fromName) ||
    (mail.from && /^(newsletter|nyhetsbrev|news|marketing|kampanj)([+._-].*)?@/i.test(mail.from.address))
  ) {
    return { kind: 'bulk', reason: 'a newsletter sender', strength: 'weak' };
  }
  return null;
}

/** Local parts that say "do not answer me": the real customer is in Reply-To, if anywhere. */
const NO_REPLY_LOCAL =
  /^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|noreply|ne[-_.]?pas[-_.]?repondre|svara[-_.]?inte|inget[-_.]?svar|bounces?|notifications?|wordpress|forms?|webform|formular|formulär)([+._-].*)?$/i;

export function isNoReplyAddress(address: string): boolean {
  return NO_REPLY_LOCAL.test(address.split('@')[0]);
}
