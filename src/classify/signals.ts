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
import { splitReply } from '../parse/quote';
import { hasReplyPrefix } from './thread';

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

// --- challenge/response filters ---------------------------------------------------------------
// Bluebottle, Mailinblack, SpamArrest, Boxbe, ChoiceMail, Sendio and the like hold a mail
// until its sender proves to be a person ("please click to confirm you are a real sender").
// Their challenge is machine mail with no RFC 3834 header; answering it would confirm our
// address to a machine and start a loop. A complaint may well talk about "confirming" or a
// "verification link" (a customer locked out of the firm's own login), so the ask alone never
// decides: it needs the vendor's name, or a link together with words about *the sender's
// message* being held or delivered.

/** Sentences that ask the reader to prove they are a person, or to put themselves on a list. */
const CHALLENGE_ASK = new RegExp(
  [
    "(confirm|verify|prove|validate)( that)? you('re| are)( a)? (real|human|legitimate|genuine|not a (robot|spammer|machine))",
    '(confirm|verify|validate) your e-?mail address',
    'authenticate yourself',
    'add yourself to my',
    '(guest|approved|allowed) ?list',
    'list of approved senders',
    'approved senders',
    'has been waitlisted',
    'sender verification',
    'challenge[- ]response',
    'bekräfta att du är en (riktig|verklig|äkta) (avsändare|person|människa)',
    'verifiera att du (är en (riktig|verklig|äkta) (avsändare|person|människa)|inte är en robot)',
    'vous authentifier',
    "confirmer que vous (êtes|n'êtes pas)",
    'bestätigen sie,? dass sie (ein )?(mensch|echter absender)',
  ].join('|'),
  'i',
);

/** The sender's own message held back until they act: what only a challenge says. */
const CHALLENGE_HELD = new RegExp(
  [
    '(your|the) (message|e-?mail|mail|e-?mail message)( to \\S+)?( (about|regarding|with the subject) .{0,120}?)? (has been|was|is|is being|will be|is now|cannot be) (held|waitlisted|quarantined|placed on hold|put on hold|pending|delivered|kept|blocked)',
    '(to|in order to|so that) (have |get |ensure )?your (message|e-?mail|mail)s? (is |are |will be |can be )?(delivered|released|through)',
    '(future|further) (messages|e-?mails) (will be|are) delivered',
    'protected by',
    'ditt (meddelande|mejl|mail) (har )?(hållits kvar|väntar|ska levereras|levereras|kommer fram)',
    'skyddad av',
    'votre (message|e-?mail|courriel) (est|a été) (en attente|bloqué|retenu|mis en attente)',
    '(afin|pour) que votre (message|e-?mail|courriel) (me )?soit (délivré|remis|distribué)',
    'protégée? par',
    'ihre (nachricht|e-?mail) (wurde|wird) (zurückgehalten|zugestellt)',
  ].join('|'),
  'i',
);
// Not "verify your identity" or "confirm your account": that is what phishing says, and a
// customer's fraud complaint quotes it together with the link.

/** An amount of money in kronor. */
const MONEY = /\d[\d\u00a0 .]*(,\d{1,2})?\s*(kr|kronor|sek|:-)(?![\p{L}])/iu;

/** Challenge/response products; their name in a mail that asks the reader to prove themselves. */
const CHALLENGE_VENDOR = /(bluebottle|mailinblack|spam ?arrest|boxbe|choicemail|sendio|mailsentry|spam ?blocker|mail ?sentinel)/i;

/** A challenge/response filter asking us to prove we are a person; the reason, or null. */
export function challengeResponse(mail: ParsedMail): string | null {
  const head = `${mail.subject}\n${mail.text.slice(0, 4000)}`;
  const ask = CHALLENGE_ASK.exec(head);
  if (!ask) return null;
  const vendor = CHALLENGE_VENDOR.exec(head);
  if (vendor) return `a challenge/response request from ${vendor[0]} (asks the sender to prove they are a person)`;
  // Without the vendor's name: a link and the held message, and no amount of money (a challenge
  // never names one; a customer's fraud complaint quoting a fake "verify" mail nearly always does).
  if (/https?:\/\//i.test(head) && CHALLENGE_HELD.test(head) && !MONEY.test(head))
    return 'a challenge/response request (asks the sender to click a link so that their mail is delivered)';
  return null;
}

// --- ticket-system receipts -------------------------------------------------------------------
// Helpdesks (Zendesk, Freshdesk, osTicket, Zammad, RT, ServiceNow and the Swedish firms' own)
// confirm every mail with a receipt, often without RFC 3834 headers, from a fresh per-ticket
// address and with a fresh subject: "Ticket #17 opened", "Your request (#4711) has been
// received", "Ärendet har registrerats". Answering it opens the next round of a loop.
// A customer may quote such a receipt ("I got 'your case has been registered' and then
// nothing"), so a receipt phrase counts only at the start of a sentence near the top of the
// new text, never in a forward, and never in text written in the first person (a receipt
// speaks as "we" to "you"; a complaint says "I" and "my"); a receipt's subject counts only
// when it is fresh (a reply keeps the subject of what it answers: ours, for instance).

/** What receipts say first, in sv, en, no/da and de; matched at the start of a sentence. */
const RECEIPT_TEXT = wordsRegExp(
  [
    // en
    '(your|this) (support )?(request|ticket|case|inquiry|enquiry|message|e-?mail|query|question|complaint|issue)( \\(?[^()\\n]{0,40}\\)?)? (has been|was|is|have been) (successfully )?(received|created|opened|logged|registered|submitted|recorded|forwarded to our)',
    "we('ve| have)? (successfully |now )?(received|registered|logged|recorded) your (support )?(request|message|e-?mail|mail|inquiry|enquiry|ticket|case|query|question|complaint)",
    'we would like to (acknowledge|confirm) (that )?we( have)? received your',
    'a (new )?(support )?(ticket|case|request|incident)( (for support|number|with (the )?(id|number)))?( \\S+){0,2} (has been|was) (created|opened|logged|registered|raised)',
    'this (message|e-?mail|mail) (has been|was|is) (automatically generated|generated automatically|sent automatically) in response',
    '(your|the) (ticket|case|request|reference) (number|no\\.?|id) (is|:)',
    // sv
    '(ditt|ert|din|er) (ärende|meddelande|mejl|mail|e-?post|e-?postmeddelande|förfrågan|fråga|klagomål|reklamation)( \\S+){0,4} (har )?(registrerats|skapats|tagits emot|mottagits|inkommit|kommit in|kommit fram|lagts upp)',
    'ärendet (har )?(registrerats|skapats|tagits emot|mottagits|lagts upp)',
    'vi har (nu )?(tagit emot|mottagit|registrerat|fått in) (ditt|ert|din|er) (ärende|meddelande|mejl|mail|e-?post|e-?postmeddelande|förfrågan|fråga|klagomål|reklamation)',
    '(ditt|ert) ärendenummer (är|:)',
    '(ditt|ert) ärende har fått (nummer|ärendenummer|numret|id)',
    // no / da
    'vi har (nå )?(mottatt|mottaget|modtaget) (din|deres|jeres|di) (henvendelse|forespørsel|forespørgsel|melding|e-?post|mail|sak)',
    '(din|deres) (henvendelse|sak) (er|har blitt|er blevet) (registrert|registreret|mottatt|modtaget)',
    // de
    '(ihre|deine) (anfrage|nachricht|e-?mail|ticket)( \\S+){0,3} (ist|wurde) (bei uns )?(eingegangen|erstellt|registriert|angelegt)',
    'wir haben (ihre|deine) (anfrage|nachricht|e-?mail) erhalten',
  ],
  'giu',
);

/** Subjects of receipts. */
const RECEIPT_SUBJECT = wordsRegExp(
  [
    '(ticket|case|request|incident|ärende|ärendet|ärendenummer|sak|henvendelse)\\s*(#|nr\\.?|no\\.?|id)?\\s*[:#]?\\s*\\[?[\\w#.-]*\\d[\\w.-]*\\]?\\s+(has been |was |har )?(opened|created|received|registered|logged|submitted|registrerats|registrerat|skapats|skapat|mottagits|mottaget|öppnats|öppnat|registrert|oprettet)',
    '(support )?(ticket|case|request|inquiry|enquiry) (opened|created|received|registered|logged|submitted|confirmation)',
    "we('ve| have) received your (request|message|e-?mail|inquiry|enquiry|ticket|case|complaint)",
    'your (request|ticket|case|inquiry|enquiry|message|complaint) (has been|was) (received|opened|created|registered|logged)',
    '^\\s*thank(s| you) for (your (inquiry|enquiry|request)|contacting)',
    '(ditt|ert) (ärende|meddelande|klagomål) (har )?(registrerats|skapats|tagits emot|mottagits)',
    'ärendet har (registrerats|skapats|tagits emot|mottagits)',
    'vi har (tagit emot|mottagit|registrerat) (ditt|ert|din|er) ',
    'mottagningsbekräftelse',
    '(bekräftelse|kvittens) på (mottaget|inkommet|ditt|ert) (ärende|meddelande|mejl|mail)',
    'vi har (mottatt|modtaget) (din|deres) henvendelse',
  ],
  'iu',
);

/** A ticket number: "#4711", "[#t17]", "Ticket#20261234", "ärendenummer 12345", "INC0012345". */
const TICKET_REF = wordsRegExp(
  [
    '#\\s?[a-z]{0,4}\\d{2,}',
    '\\[[^\\]\\n]{0,30}#\\s?[\\w-]*\\d+\\]',
    '(ticket|case|request|incident|ärende|ärendenummer|ärendenr|ärende-?id|saksnummer|sagsnummer|referens(nummer)?|reference( number)?|diarienummer|dnr)\\s*(#|no\\.?|nr\\.?|number|id|nummer)?\\s*[:#]?\\s*\\(?[a-z]{0,6}[-#]?\\d[\\d-]{2,}',
    '(INC|REQ|RITM|CS|SR|TKT)\\d{4,}',
  ],
  'iu',
);

/** Headers ticket systems put on their mail; corroboration only (agents write from them too). */
const TICKET_SYSTEM_HEADERS = [
  'x-loop',
  'x-otrs-loop',
  'x-rt-loop-prevention',
  'rt-ticket',
  'x-zendesk-from-account-id',
  'x-servicenow-generated',
  'x-jira-fingerprint',
];

/** First-person singular words: a person writing about themselves, not a helpdesk. */
const FIRST_PERSON = /(?<![\p{L}\d'])([Jj]ag|[Mm]ig|[Mm]itt|[Mm]ina|[Mm]in|I|I'm|I've|I'd|[Mm]e|[Mm]y|[Mm]ine)(?![\p{L}\d'])/gu;

/** Alternatives that must start at a word's beginning ("case" is not the end of "showcase"). */
function wordsRegExp(alternatives: readonly string[], flags: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\d])(?:${alternatives.join('|')})`, flags);
}

/** A greeting that may come before a receipt's first sentence on the same line ("Hej Anna, vi har ..."). */
const GREETING_LEAD = /^\s*(hej|hejsan|hi|hello|dear|hallo|hei|god (morgon|dag|eftermiddag)|good (morning|afternoon))(?![\p{L}])[^\n.!?]{0,40}[,!]\s*$/iu;

/**
 * What a complainant says and a receipt never does (the noun "klagomål" is not here: a receipt
 * may say "we have received your complaint").
 */
const DISSATISFACTION = wordsRegExp(
  [
    'vill klaga',
    'klagar',
    'missnöjd',
    'besviken',
    'orimlig',
    'felaktig',
    'kräver',
    'vill ha (tillbaka|ersättning|pengarna|svar)',
    'ersättning',
    'återbetalning',
    'pengarna tillbaka',
    'inget (svar|har hänt)',
    'ingen har',
    'refund',
    'compensat',
    'unacceptable',
    'disappointed',
    'dissatisfied',
    'not happy',
    'money back',
    'still (no|not)',
    'nobody has',
  ],
  'iu',
);

/** Where a receipt phrase may stand: the start of the text, a line or a sentence. */
function atSentenceStart(text: string, index: number): boolean {
  const before = text.slice(0, index).replace(/[ \t]+$/, '');
  if (before === '' || /[\n.!?]$/.test(before)) return true;
  return GREETING_LEAD.test(before.slice(before.lastIndexOf('\n') + 1));
}

/**
 * A ticket system's receipt: 'strong' when its receipt sentence is corroborated (a receipt
 * subject, a ticket number, a ticket system's header), 'weak' on a receipt subject or sentence
 * alone (filed, not answered). Null when it is not one, or when it reads like a person's mail.
 */
export function ticketReceipt(mail: ParsedMail): { strength: 'strong' | 'weak'; reason: string } | null {
  // A forward carries someone else's receipt as the thing being complained about.
  if (mail.forwarded || /^\s*(fwd?|vb|vs|wg|tr|enc|doorst)\s*:/i.test(mail.subject)) return null;
  const text = splitReply(mail.text)
    .newText.replace(/^.*(type your reply above this line|skriv ditt svar ovanför).*$/gim, '')
    .trim()
    .slice(0, 1500);
  if ((text.match(FIRST_PERSON) ?? []).length >= 2) return null;
  const top = text.slice(0, 600);
  let sentence: string | null = null;
  for (const m of top.matchAll(RECEIPT_TEXT)) {
    if (atSentenceStart(top, m.index!)) {
      sentence = m[0];
      break;
    }
  }
  // A reply's subject is the subject of the mail it answers: a customer answering our
  // acknowledgement keeps "Sv: [KLG-...] Vi har tagit emot ditt klagomål". Only a fresh subject
  // can be a receipt's own.
  const fresh = !hasReplyPrefix(mail.subject);
  const subject = fresh ? (RECEIPT_SUBJECT.exec(mail.subject)?.[0] ?? null) : null;
  if (!sentence && !subject) return null;
  // A complaint that uses a receipt's words: the dissatisfaction around them gives it away.
  if (DISSATISFACTION.test(`${fresh ? mail.subject : ''}\n${top.slice(0, 400)}`)) return null;
  const ref = TICKET_REF.exec(mail.subject) ?? TICKET_REF.exec(top);
  const header = TICKET_SYSTEM_HEADERS.find((h) => mail.headers.has(h)) ?? null;
  if (sentence && (subject || ref || header)) {
    const why = subject ? `subject "${subject.trim()}"` : ref ? `ticket number ${ref[0].trim()}` : `${header} header`;
    return { strength: 'strong', reason: `a ticket system's receipt ("${sentence.trim()}", ${why})` };
  }
  if (subject && header) return { strength: 'strong', reason: `a ticket system's receipt (subject "${subject.trim()}", ${header} header)` };
  // A receipt sentence alone, in a short mail: held for a person to judge.
  if (sentence && text.length <= 1000) return { strength: 'weak', reason: `a ticket system's receipt text ("${sentence.trim()}")` };
  if (subject) return { strength: 'weak', reason: `a ticket system's receipt subject ("${subject.trim()}")` };
  return null;
}

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

/** An out-of-office text in the mail's own words (not in what it quotes), from a sender who is not unhappy. */
function autoreplyInNewText(mail: ParsedMail): boolean {
  const newText = splitReply(mail.text).newText;
  return AUTOREPLY_BODY.test(newText.slice(0, 800)) && !DISSATISFACTION.test(newText);
}

export function machineSignal(mail: ParsedMail, opts: { readonly fromStaff?: boolean } = {}): MachineSignal | null {
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
  const challenge = challengeResponse(mail);
  if (challenge) return strong('autoreply', challenge);
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
  // Not from a customer who forwards or answers an automatic reply, or complains about them
  // ("Klagomål – jag får bara automatiskt svar ... jag är missnöjd"): such a mail was thrown
  // away as an auto-reply, with no case. Those fall to the weak rule below: filed, not answered.
  if (
    (subjectSaysAuto || AUTOREPLY_PHRASE_ANYWHERE.test(mail.subject)) &&
    textSaysAuto &&
    !mail.forwarded &&
    !/^\s*(re|sv|aw|vs|fwd?|vb|wg|tr|enc|doorst)\s*(\[\d+\])?\s*:/i.test(mail.subject) &&
    autoreplyInNewText(mail)
  ) {
    return strong('autoreply', 'automatic-reply subject and an out-of-office text');
  }
  // Not for the firm's own people: an officer's answer starts like a receipt.
  const receipt = opts.fromStaff ? null : ticketReceipt(mail);
  if (receipt?.strength === 'strong') return strong('autoreply', receipt.reason);

  // --- bulk and list mail ---------------------------------------------------------------
  if (precedence === 'bulk' || precedence === 'list' || precedence === 'junk') return strong('bulk', `Precedence: ${precedence}`);
  for (const name of ['list-id', 'x-mailing-list', 'list-post']) {
    if (h.has(name)) return strong('bulk', `${name} header present (RFC 2369/2919)`);
  }

  // A null return path with nothing else: the MTA says this mail must never be answered.
  if (mail.returnPath === '') return strong('bounce', 'null return path (Return-Path: <>)');

  // --- weak evidence: filed as a complaint, not acknowledged ----------------------------
  if (subjectSaysAuto || AUTOREPLY_PHRASE_ANYWHERE.test(mail.subject)) return { kind: 'autoreply', reason: 'automatic-reply subject', strength: 'weak' };
  if (receipt) return { kind: 'autoreply', reason: receipt.reason, strength: 'weak' };
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
