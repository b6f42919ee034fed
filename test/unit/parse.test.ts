/**
 * parseMail (src/parse/parse.ts) and detectLanguage (src/parse/language.ts).
 *
 * Hostile input first: an attachment named ../../etc/passwd must land under the data folder
 * by content hash; HTML-only mail must lose its scripts and styles; old mail systems' charsets
 * and RFC 2047 encoded words must decode; a null Return-Path must be seen as the null sender.
 */
import crypto from 'node:crypto';
import { splitReply } from '../../src/parse/quote';
import { htmlToPlainText } from '../../src/parse/html';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMail } from '../../src/parse/parse';
import { detectLanguage } from '../../src/parse/language';

let root: string;
let dataDir: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-parse-'));
  // Nested, so that "../../x" from dataDir/attachments would still land inside `root`, where we look.
  dataDir = path.join(root, 'a', 'b', 'data');
  fs.mkdirSync(dataDir, { recursive: true });
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function eml(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(path.relative(root, p));
  }
  return out.sort();
}

const HEADERS = [
  'Return-Path: <kund@example.com>',
  'From: Karin Kund <Karin.Kund@Example.COM>',
  'To: klagomal@exempelfinans.se',
  'Date: Tue, 03 Nov 2026 10:00:00 +0100',
  'Message-ID: <abc123@mail.example.com>',
  'MIME-Version: 1.0',
];

describe('parseMail: attachments', () => {
  test('attachmentFilenameUsedAsPath', async () => {
    const content = Buffer.from('root:x:0:0:root:/root:/bin/bash\n'.repeat(40));
    const raw = eml([
      ...HEADERS,
      'Subject: Bifogar kontoutdrag',
      'Content-Type: multipart/mixed; boundary="XYZ"',
      '',
      '--XYZ',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hej, se bifogad fil.',
      '--XYZ',
      'Content-Type: application/octet-stream; name="../../etc/passwd"',
      'Content-Disposition: attachment; filename="../../etc/passwd"',
      'Content-Transfer-Encoding: base64',
      '',
      ...content.toString('base64').match(/.{1,76}/g)!,
      '--XYZ--',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.attachments).toHaveLength(1);
    const a = m.attachments[0];
    const sha = crypto.createHash('sha256').update(content).digest('hex');
    expect(a.sha256).toBe(sha);
    expect(a.size).toBe(content.length);
    expect(a.path).toBe(path.join('attachments', sha.slice(0, 2), sha));
    expect(a.filename).toBe('../../etc/passwd'); // kept as data, for display only
    expect(a.contentType).toBe('application/octet-stream');
    expect(fs.readFileSync(path.join(dataDir, a.path)).equals(content)).toBe(true);
    // Nothing anywhere else: no file named passwd, no leftover temp file.
    expect(filesUnder(root)).toEqual([path.join('a', 'b', 'data', 'attachments', sha.slice(0, 2), sha)]);
    expect(m.text).toContain('se bifogad fil');
    expect(m.problems).toEqual([]);
  });

  test('sameAttachmentTwiceWritesTwoFiles', async () => {
    const part = (name: string) => [
      '--B',
      `Content-Type: text/plain; name="${name}"`,
      `Content-Disposition: attachment; filename="${name}"`,
      '',
      'samma innehåll',
    ];
    const raw = eml([
      ...HEADERS,
      'Subject: x',
      'Content-Type: multipart/mixed; boundary="B"',
      '',
      '--B',
      'Content-Type: text/plain',
      '',
      'Hej',
      ...part('a.txt'),
      ...part('b.txt'),
      '--B--',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.attachments).toHaveLength(2);
    expect(m.attachments[0].sha256).toBe(m.attachments[1].sha256);
    expect(new Set(m.attachments.map((a) => a.filename))).toEqual(new Set(['a.txt', 'b.txt']));
    expect(filesUnder(root)).toHaveLength(1);
    // Parsing the same mail again (after a crash) is harmless.
    await parseMail(raw, { dataDir });
    expect(filesUnder(root)).toHaveLength(1);
  });
});

describe('parseMail: bodies', () => {
  test('scriptOrStyleSurvivesHtmlConversion', async () => {
    const raw = eml([
      ...HEADERS,
      'Subject: HTML only',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><head><title>Sidtitel</title><style>body { color: red; } .x{display:none}</style>',
      '<script>alert(1); document.cookie</script></head>',
      '<body><p>Hej, avgiften på <b>1 250 kr</b> är fel.</p><script type="text/javascript">alert("x")</script>',
      '<noscript>aktivera javascript</noscript><img src="https://track.example/p.gif" alt="spårpixel">',
      '<p>Vänliga hälsningar<br>Karin</p></body></html>',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.textFromHtml).toBe(true);
    expect(m.text).toContain('Hej, avgiften på 1 250 kr är fel.');
    expect(m.text).toContain('Karin');
    expect(m.text).not.toContain('alert(');
    expect(m.text).not.toContain('document.cookie');
    expect(m.text).not.toContain('color');
    expect(m.text).not.toContain('{');
    expect(m.text).not.toContain('Sidtitel');
    expect(m.text).not.toContain('aktivera javascript');
    expect(m.text).not.toContain('spårpixel');
    expect(m.text).not.toContain('track.example');
  });

  test('htmlPreferredOverPlainText', async () => {
    const raw = eml([
      ...HEADERS,
      'Subject: both',
      'Content-Type: multipart/alternative; boundary="ALT"',
      '',
      '--ALT',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Texten',
      '--ALT',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>HTML-texten</p>',
      '--ALT--',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.text.trim()).toBe('Texten');
    expect(m.textFromHtml).toBe(false);
  });

  test('latin1BodyOrEncodedSubjectGarbled', async () => {
    const head = [
      'Return-Path: <kund@example.com>',
      'From: =?ISO-8859-1?Q?K=E5re_=D6berg?= <kare@example.com>',
      'To: klagomal@exempelfinans.se',
      'Message-ID: <latin1@example.com>',
      'Subject: =?ISO-8859-1?Q?Klagom=E5l_p=E5_r=E4ntan?= =?UTF-8?B?w6XDpMO2?=',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=ISO-8859-1',
      'Content-Transfer-Encoding: 8bit',
      '',
      '',
    ].join('\r\n');
    const body = Buffer.from('Räntan på mitt lån höjdes. Åtgärda!\r\n', 'latin1');
    const m = await parseMail(Buffer.concat([Buffer.from(head, 'ascii'), body]), { dataDir });
    expect(m.subject).toBe('Klagomål på räntanåäö');
    expect(m.text.trim()).toBe('Räntan på mitt lån höjdes. Åtgärda!');
    expect(m.from).toEqual({ address: 'kare@example.com', name: 'Kåre Öberg' });
  });

  test('quotedPrintableLatin1Garbled', async () => {
    const raw = eml([
      ...HEADERS,
      'Subject: qp',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'F=F6rs=E4kring och =E5terbetalning',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.text.trim()).toBe('Försäkring och återbetalning');
  });
});

describe('parseMail: headers', () => {
  test('missingMessageIdNotReported', async () => {
    const raw = eml(['From: kund@example.com', 'To: klagomal@exempelfinans.se', 'Subject: utan id', '', 'Hej', '']);
    const m = await parseMail(raw, { dataDir });
    expect(m.messageId).toBeNull();
    expect(m.problems).toContain('no Message-ID header');
  });

  test('unusableMessageIdNotReported', async () => {
    const raw = eml(['From: kund@example.com', 'Message-ID: <has space@example.com>', 'Subject: x', '', 'Hej', '']);
    const m = await parseMail(raw, { dataDir });
    expect(m.messageId).toBeNull();
    expect(m.problems).toContain('unusable Message-ID header');
  });

  test('unreadableDateNotReported', async () => {
    const raw = eml(['From: kund@example.com', 'Message-ID: <d@example.com>', 'Date: någon gång i november', 'Subject: x', '', 'Hej', '']);
    const m = await parseMail(raw, { dataDir });
    expect(m.date).toBeNull();
    expect(m.problems).toContain('unreadable Date header');
  });

  test('referencesMisread', async () => {
    const raw = eml([
      ...HEADERS,
      'Subject: Sv: [KLG-2026-000042] Vi har tagit emot ditt klagomål',
      'In-Reply-To: <klg-2026-000042.ack.AbC@exempelfinans.se>',
      'References: <first@mail.example.com>',
      ' <klg-2026-000042.ack.AbC@exempelfinans.se>',
      '\t<third@mail.example.com>',
      '',
      'Tack!',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.references).toEqual(['first@mail.example.com', 'klg-2026-000042.ack.AbC@exempelfinans.se', 'third@mail.example.com']);
    expect(m.inReplyTo).toBe('klg-2026-000042.ack.AbC@exempelfinans.se');
    expect(m.messageId).toBe('abc123@mail.example.com');
    expect(m.headers.all('references')).toHaveLength(1); // one header, unfolded
    expect(m.headers.get('References')).not.toMatch(/[\r\n]/);
  });

  test('nullReturnPathNotSeen', async () => {
    const raw = eml(['Return-Path: <>', 'From: MAILER-DAEMON@mx.example.com', 'Message-ID: <dsn@mx.example.com>', 'Subject: Undelivered Mail', '', 'x', '']);
    const m = await parseMail(raw, { dataDir });
    expect(m.returnPath).toBe('');
  });

  test('returnPathAbsentTakenForNullSender', async () => {
    const raw = eml(['From: kund@example.com', 'Message-ID: <x@example.com>', 'Subject: x', '', 'x', '']);
    expect((await parseMail(raw, { dataDir })).returnPath).toBeNull();
    const withRp = eml(['Return-Path: <Kund@Example.com>', 'From: kund@example.com', 'Subject: x', '', 'x', '']);
    expect((await parseMail(withRp, { dataDir })).returnPath).toBe('kund@example.com');
  });

  test('addressesNotNormalised', async () => {
    const raw = eml([...HEADERS, 'Reply-To: "Karin" <karin@jobbet.example>', 'Cc: a@x.se, Grupp: b@y.se, c@z.se;', 'Subject: x', '', 'x', '']);
    const m = await parseMail(raw, { dataDir });
    expect(m.from).toEqual({ address: 'karin.kund@example.com', name: 'Karin Kund' });
    expect(m.replyTo).toEqual({ address: 'karin@jobbet.example', name: 'Karin' });
    expect(m.to.map((a) => a.address)).toEqual(['klagomal@exempelfinans.se']);
    expect(m.cc.map((a) => a.address)).toEqual(['a@x.se', 'b@y.se', 'c@z.se']);
  });

  test('dsnContentTypeLost', async () => {
    const raw = eml([
      'Return-Path: <>',
      'From: Mail Delivery System <MAILER-DAEMON@mx.example.com>',
      'Message-ID: <dsn2@mx.example.com>',
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="R"',
      '',
      '--R',
      'Content-Type: text/plain',
      '',
      'Your message could not be delivered.',
      '--R',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.com',
      '',
      'Final-Recipient: rfc822; kund@example.com',
      'Action: failed',
      'Status: 5.1.1',
      '--R--',
      '',
    ]);
    const m = await parseMail(raw, { dataDir });
    expect(m.contentType).toBe('multipart/report');
    expect(m.contentTypeParams['report-type']).toBe('delivery-status');
    expect(m.from?.address).toBe('mailer-daemon@mx.example.com');
  });

  test('encodedHeaderInjectionBecomesHeader', async () => {
    // An encoded CR LF in the subject decodes to text; parse keeps it, headerText removes it on the way out.
    const raw = eml([...HEADERS, 'Subject: =?UTF-8?B?' + Buffer.from('Evil\r\nBcc: victim@example.com').toString('base64') + '?=', '', 'x', '']);
    const m = await parseMail(raw, { dataDir });
    expect(m.subject).toContain('Evil');
    expect(m.subject).toContain('Bcc: victim@example.com');
    expect(m.headers.has('bcc')).toBe(false);
  });
});

describe('detectLanguage', () => {
  test.each<[string, string, string, 'sv' | 'en']>([
    ['Swedish', 'Hej! Jag vill klaga på en avgift som ni har tagit ut.', 'Klagomål', 'sv'],
    ['Swedish without åäö', 'Hej, jag har en fraga om min faktura och vill ha svar', '', 'sv'],
    ['English', 'Dear Sir, I would like to complain about the fee you have charged on my loan.', 'Complaint', 'en'],
    ['English with a Swedish name', 'Hello, my name is Åsa Öberg and I have a complaint about the invoice.', '', 'en'],
    ['Swedish with English words', 'Hej, jag har fått en invoice och en fee som jag inte förstår.', '', 'sv'],
  ])('complaintAnsweredInWrongLanguage: %s', (_label, text, subject, expected) => {
    expect(detectLanguage(text, subject, 'sv')).toBe(expected);
    expect(detectLanguage(text, subject, 'en')).toBe(expected);
  });

  test.each<[string, string]>([
    ['empty', ''],
    ['numbers only', '070-123 45 67 1 250'],
    ['German', 'Sehr geehrte Damen und Herren, die Gebühr ist falsch.'],
    ['one English word', 'Thanks'],
  ])('unclearLanguageIgnoresFallback: %s', (_label, text) => {
    expect(detectLanguage(text, '', 'sv')).toBe('sv');
    expect(detectLanguage(text, '', 'en')).toBe('en');
  });
});

describe('a reply and its quoted history (src/parse/quote.ts)', () => {
  test('webFormTableRowsTakenForAQuotedMail: one row a line, "Från: / Datum:" of a contact form', () => {
    const html =
      '<p>Nytt meddelande via kontaktformuläret på testfinans.se</p><table><tr><td>Från:</td><td>Anna Svensson &lt;anna@example.com&gt;</td></tr>' +
      '<tr><td>Datum:</td><td>2026-11-03 10:12</td></tr><tr><td>Ämne:</td><td>Klagomål</td></tr>' +
      '<tr><td>Meddelande:</td><td>Jag vill klaga på avgiften på 60 kr som drogs i oktober.</td></tr></table>';
    const split = splitReply(htmlToPlainText(html));
    expect(split.quoted).toBe('');
    expect(split.newText).toContain('Meddelande: Jag vill klaga på avgiften');
  });

  test("quotedHeaderBlockWithoutItsRecipientLeftInTheNewText: Bcc only, and Gmail's and Apple's forwards", () => {
    const bcc = 'Se nedan.\n\nFrån: Anna <anna@example.com>\nSkickat: den 19 november 2026 09:20\nÄmne: Avgift\n\nJag vill klaga.';
    expect(splitReply(bcc)).toEqual({ newText: 'Se nedan.', quoted: expect.stringMatching(/^Från: Anna/) });
    const gmail =
      'FYI\n\n---------- Forwarded message ---------\nFrom: Anna <anna@example.com>\nDate: Thu, 19 Nov 2026 at 09:20\nSubject: Avgift\n\nJag vill klaga.';
    expect(splitReply(gmail).newText).toBe('FYI');
    const apple = 'Se nedan\n\nBörjan på vidarebefordrat meddelande:\n\nFrån: Anna <anna@example.com>\nÄmne: Avgift\n\nJag vill klaga.';
    expect(splitReply(apple).newText).toBe('Se nedan');
  });

  test('an Outlook reply header still starts the quote', () => {
    const text =
      'Tack, jag väntar.\n\nFrån: Klagomål Testfinans <klagomal@testfinans.se>\nSkickat: den 19 november 2026 09:20\nTill: Anna <anna@example.com>\nÄmne: [KLG-2026-000001] Kvittens\n\nHej Anna, vi har tagit emot ditt klagomål.';
    expect(splitReply(text)).toEqual({ newText: 'Tack, jag väntar.', quoted: expect.stringMatching(/^Från: Klagomål Testfinans/) });
  });
});
