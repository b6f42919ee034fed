/**
 * The personnummer at rest, through the real `klagomal` binary: a complaint that gives one is
 * filed, and the database file (with its WAL) holds the number only encrypted; the one place
 * the customer's own writing of it survives is the raw mail, the evidence. Without the key the
 * service refuses to start; with personnummer storage off it starts and keeps only the mask.
 *
 * And in every text that is stored or sent, however the number was written and wherever in the
 * mail it stood (the sender's name, the subject, an attachment's name, the body): the
 * acknowledgement, the officer's notification, `cases --json`, `case show`, `mail list`, the
 * register as CSV and JSON, and every column of the database.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { makeWorld, World, deliverToMaildir, complaintMail, TEST_PERSONNUMMER_KEY } from '../support/world';
import { decryptPersonnummer } from '../../src/cases/personnummer-store';
import { parseConfig } from '../../src/config/load';
import { findPersonnummer } from '../../src/util/personnummer';

const WRITTEN = '870521-2382';
const NORMALISED = '198705212382';
const BODY = `Hej, jag vill klaga på en avgift på 60 kr som togs ut den 3 november 2026. Mitt personnummer är ${WRITTEN}. Jag vill ha pengarna tillbaka.`;

/** The bytes of the database and of its WAL and shared-memory files, as they are on disk. */
function databaseBytes(w: World): Buffer {
  const file = path.join(w.dataDir, 'klagomal.db');
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
}

/** Tables and columns (other than raw_mail, the evidence) whose text contains `needle`. */
function columnsContaining(w: World, needle: string): string[] {
  const { store, close } = w.store();
  try {
    const db = store.db;
    const out: string[] = [];
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'raw_mail'").all() as Array<{
      name: string;
    }>;
    for (const { name } of tables) {
      for (const { name: column } of db.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string }>) {
        const row = db.prepare(`SELECT COUNT(*) AS n FROM "${name}" WHERE instr(CAST("${column}" AS TEXT), ?) > 0`).get(needle) as { n: number };
        if (row.n > 0) out.push(`${name}.${column}`);
      }
    }
    return out;
  } finally {
    close();
  }
}

describe('personnummer at rest', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('personnummerInTheDatabaseFileInClearText', async () => {
    w = makeWorld();
    deliverToMaildir(w.maildir, complaintMail(1, { body: BODY }));
    const r = await w.cli(['run', '--once', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1 });

    // The twelve digits the case used to hold in clear are nowhere in the file or its WAL, while
    // the raw mail's text is (the control: the search sees what the database stores).
    const bytes = databaseBytes(w);
    expect(bytes.includes(Buffer.from(NORMALISED))).toBe(false);
    expect(bytes.includes(Buffer.from(WRITTEN))).toBe(true);
    // The customer's own writing of it is only in the raw mail (kept as evidence), not in any derived text.
    expect(columnsContaining(w, WRITTEN)).toEqual([]);
    expect(columnsContaining(w, NORMALISED)).toEqual([]);

    const { store, close } = w.store();
    try {
      const [c] = store.listCases({});
      expect(c.personnummer).toMatch(/^v1:/);
      expect(JSON.parse(c.fields)).toMatchObject({ personnummerMasked: '19870521-****' });
      // Readable with the key, for the one who needs it (subject access export).
      const config = parseConfig(JSON.parse(fs.readFileSync(w.configFile, 'utf8')), w.configFile);
      expect(decryptPersonnummer(config, c, { KLAGOMAL_PERSONNUMMER_KEY: TEST_PERSONNUMMER_KEY })).toBe(NORMALISED);
    } finally {
      close();
    }

    // Shown masked: the case view, its JSON and its audit view.
    for (const args of [
      ['case', 'show', '1'],
      ['case', 'show', '1', '--json'],
      ['case', 'show', '1', '--audit'],
    ]) {
      const shown = await w.cli(args);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain('19870521-****');
      expect(shown.stdout).not.toContain(NORMALISED);
      expect(shown.stdout).not.toContain(WRITTEN);
    }
  });

  test('personnummerLeftInClearByTheSendersDateHeader: a phone with its clock reset to 2000', async () => {
    // A personnummer is one only if its birth date is not after the reference date; read against
    // the Date header, every 12-digit number of someone born since 2000 stayed in clear.
    w = makeWorld();
    const written = '20050607-1232';
    const mail = complaintMail(1, { subject: `Klagomål, pnr ${written}`, body: `Hej, mitt personnummer är ${written}. Jag vill klaga på en avgift.` }).replace(
      'Date: Thu, 19 Nov 2026 09:14:02 +0100',
      'Date: Sat, 01 Jan 2000 00:00:00 +0100',
    );
    deliverToMaildir(w.maildir, mail);
    const r = await w.cli(['run', '--once', '--json']);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1 });
    expect(columnsContaining(w, written)).toEqual([]);
    expect(columnsContaining(w, '200506071232')).toEqual([]);
    const { store, close } = w.store();
    try {
      const [c] = store.listCases({});
      expect(c.personnummer).toMatch(/^v1:/); // sealed, not lost
      expect(JSON.parse(c.fields)).toMatchObject({ personnummerMasked: '20050607-****' });
    } finally {
      close();
    }
  });

  test('serviceStartsWithoutTheKey', async () => {
    w = makeWorld();
    const child = w.start({ KLAGOMAL_PERSONNUMMER_KEY: '' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(child.output()).toContain('personnummer.keyEnv');
    expect(child.output()).toContain('KLAGOMAL_PERSONNUMMER_KEY');

    const check = await w.cli(['config', 'check'], { KLAGOMAL_PERSONNUMMER_KEY: 'inte-en-nyckel' });
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('personnummer.keyEnv: names KLAGOMAL_PERSONNUMMER_KEY, whose value is not a 32-byte key');
    expect(check.stderr).not.toContain('inte-en-nyckel');
  });

  test.each([
    ['ingest', (file: string) => ['ingest', file]],
    ['import', (file: string) => ['import', path.dirname(file)]],
    ['reconcile', () => ['reconcile']],
    ['quarantine retry', () => ['quarantine', 'retry', '1']],
  ])('commandsThatFileMailRunWithoutTheKey: %s refuses before filing anything', async (_name, args) => {
    w = makeWorld();
    const dir = path.join(w.dir, 'eml');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'klagomal.eml');
    fs.writeFileSync(file, complaintMail(1));
    const r = await w.cli(args(file), { KLAGOMAL_PERSONNUMMER_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('personnummer.keyEnv: names KLAGOMAL_PERSONNUMMER_KEY, which is not set');
    // Refused up front: nothing stored, so nothing waits in quarantine for the key.
    if (fs.existsSync(path.join(w.dataDir, 'klagomal.db'))) {
      const { store, close } = w.store();
      try {
        expect((store.db.prepare('SELECT COUNT(*) AS n FROM inbound').get() as { n: number }).n).toBe(0);
      } finally {
        close();
      }
    }
  });

  test('storageOffKeepsTheNumber', async () => {
    w = makeWorld({ personnummer: { store: false } });
    deliverToMaildir(w.maildir, complaintMail(1, { body: BODY }));
    const r = await w.cli(['run', '--once', '--json'], { KLAGOMAL_PERSONNUMMER_KEY: '' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1 });
    const { store, close } = w.store();
    try {
      const [c] = store.listCases({});
      expect(c.personnummer).toBeNull();
      expect(JSON.parse(c.fields)).toMatchObject({ personnummerMasked: '19870521-****' });
    } finally {
      close();
    }
    expect(databaseBytes(w).includes(Buffer.from(NORMALISED))).toBe(false);
  });
});

/** A header value as an RFC 2047 encoded word (UTF-8, base64): what a mail client sends for non-ASCII text. */
const encoded = (text: string): string => `=?utf-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

const OFFICERS = {
  officers: [
    { name: 'Maja Chef', address: 'maja@testfinans.se', role: 'manager' },
    { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
  ],
};

/** One person's number written six ways, each in another part of the mail. */
const PNR = '198112189876';
/** The register's period: from long ago to tomorrow (cases are received when the test runs). */
const PERIOD = ['--from', '2000-01-01', '--to', new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)];
const MASK = '19811218-****';
const FORMS = {
  name: '19811218-9876', // the issue's sample: From: Anna 19811218-9876 <...>
  subject: '811218\u20139876', // en dash
  attachment: '198112189876', // no separator
  zeroWidth: '811218\u200b9876', // zero-width space
  fullWidth: '\uff11\uff19\uff18\uff11\uff11\uff12\uff11\uff18\uff0d\uff19\uff18\uff17\uff16',
  minus: '811218\u22129876', // minus sign
};

function hostileComplaint(o: { from?: string; subject?: string; messageId?: string; inReplyTo?: string } = {}): string {
  const pdf = Buffer.from('%PDF-1.4\n% kontoutdrag\n').toString('base64');
  return [
    `From: ${o.from ?? `Anna ${FORMS.name} <anna@example.com>`}`,
    'To: klagomal@testfinans.se',
    `Subject: ${o.subject ?? encoded(`Avgift på mitt konto, pnr ${FORMS.subject}`)}`,
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    `Message-ID: <${o.messageId ?? `pnr-${Math.random().toString(36).slice(2)}@example.com`}>`,
    ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Hej, jag vill klaga på en avgift på 60 kr som togs ut den 3 november 2026. Mitt personnummer är ${FORMS.zeroWidth}`,
    `(${FORMS.fullWidth} om ni behöver det igen, eller ${FORMS.minus}). Jag vill ha pengarna tillbaka.`,
    '--b',
    `Content-Type: application/pdf; name="${encoded(`kontoutdrag ${FORMS.attachment}.pdf`)}"`,
    `Content-Disposition: attachment; filename*=UTF-8''${encodeURIComponent(`kontoutdrag ${FORMS.attachment}.pdf`)}`,
    'Content-Transfer-Encoding: base64',
    '',
    pdf,
    '--b--',
    '',
  ].join('\r\n');
}

/**
 * Where a text still holds Anna's number: in any written form the recogniser knows (only hers:
 * a hash in an audit view may by chance look like another), or one of the forms above.
 */
function leaks(text: string): string[] {
  const found = findPersonnummer(text, new Date('2026-11-19'))
    .filter((p) => p.normalised === PNR)
    .map((p) => p.written);
  const written = Object.values(FORMS).filter((w) => text.includes(w));
  return [...found, ...written, ...(text.includes(PNR) ? [PNR] : []), ...(text.includes('8112189876') ? ['8112189876'] : [])];
}

/** Every mail in the pickup folder, parsed; `original.eml` attachments apart (the customer's raw mail, kept as evidence). */
async function pickedUp(w: World): Promise<Array<{ to: string; subject: string; text: string; html: string; headers: string; original: boolean }>> {
  const out = [];
  for (const name of fs.readdirSync(w.pickup).filter((n) => n.endsWith('.eml'))) {
    const raw = fs.readFileSync(path.join(w.pickup, name));
    const m = await simpleParser(raw);
    const head = raw.toString('utf8', 0, raw.indexOf('\r\n\r\n'));
    out.push({
      to: m.to && !Array.isArray(m.to) ? m.to.text : '',
      subject: m.subject ?? '',
      text: m.text ?? '',
      html: typeof m.html === 'string' ? m.html : '',
      headers: head,
      original: m.attachments.some((a) => a.contentType === 'message/rfc822'),
    });
  }
  return out;
}

describe('personnummer in every stored and sent text', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('personnummerInDisplayNameIsMasked: and in the subject, an attachment name and the body, in any written form, end to end', async () => {
    w = makeWorld(OFFICERS);
    deliverToMaildir(w.maildir, hostileComplaint());
    const r = await w.cli(['run', '--once', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1 });

    // The acknowledgement and the officer's notification, headers and both parts.
    const mails = await pickedUp(w);
    const ack = mails.find((m) => m.to.includes('anna@example.com'))!;
    const note = mails.find((m) => m.to.includes('testfinans.se'))!;
    expect(ack).toBeDefined();
    expect(note).toBeDefined();
    for (const m of [ack, note]) {
      expect(leaks(m.subject)).toEqual([]);
      expect(leaks(m.text)).toEqual([]);
      expect(leaks(m.html)).toEqual([]);
      expect(leaks(m.headers)).toEqual([]);
    }
    expect(ack.text).toContain(`Anna ${MASK}`); // the greeting
    expect(note.text).toContain(`Anna ${MASK} <anna@example.com>`);
    expect(note.text).toContain(`Avgift på mitt konto, pnr ${MASK}`);
    // The notification attaches the complaint as received: the evidence keeps what Anna wrote.
    expect(note.original).toBe(true);

    // What an operator sees, and the register.
    for (const args of [
      ['cases', '--json'],
      ['cases'],
      ['case', 'show', '1'],
      ['case', 'show', '1', '--json'],
      ['case', 'show', '1', '--audit', '--json'],
      ['mail', 'list', '--json'],
      ['outbox', '--json'],
      ['report', ...PERIOD, '--format', 'csv'],
      ['report', ...PERIOD, '--format', 'json'],
    ]) {
      const shown = await w.cli(args);
      expect({ args, code: shown.code }).toEqual({ args, code: 0 });
      expect({ args, leaks: leaks(shown.stdout) }).toEqual({ args, leaks: [] });
    }
    const [c] = JSON.parse((await w.cli(['cases', '--json'])).stdout) as Array<{ customer: { name: string }; subject: string }>;
    expect(c.customer.name).toBe(`Anna ${MASK}`);
    expect(c.subject).toBe(`Avgift på mitt konto, pnr ${MASK}`);
    const csv = (await w.cli(['report', ...PERIOD, '--format', 'csv'])).stdout;
    expect(csv).toContain(`Anna ${MASK}`);
    expect(csv).toContain('\r\n'); // the CSV's own line ends reach stdout as they are

    // Every column of the database but the raw mail: no form of the number, in any table.
    for (const written of [...Object.values(FORMS), PNR, '8112189876'])
      expect({ written, columns: columnsContaining(w, written) }).toEqual({ written, columns: [] });
    const { store, close } = w.store();
    try {
      const [row] = store.listCases({});
      expect(row.customer_name).toBe(`Anna ${MASK}`);
      expect(row.subject_key).toBe(`avgift på mitt konto, pnr ${MASK.toLowerCase()}`);
      const [m] = store.messagesOfCase(row.id);
      expect(m.from_name).toBe(`Anna ${MASK}`);
      expect(leaks(m.body_text ?? '')).toEqual([]);
      // The number itself was found (in the body, written with a zero-width space) and sealed.
      expect(row.personnummer).toMatch(/^v1:/);
      expect(JSON.parse(row.fields)).toMatchObject({ personnummerMasked: MASK });
    } finally {
      close();
    }
  });

  test('attachmentNameWithPersonnummerIsMasked', async () => {
    w = makeWorld();
    deliverToMaildir(w.maildir, hostileComplaint());
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const shown = JSON.parse((await w.cli(['case', 'show', '1', '--json'])).stdout) as { messages: Array<{ attachments?: Array<{ filename: string }> }> };
    expect(shown.messages[0].attachments).toMatchObject([{ filename: `kontoutdrag ${MASK}.pdf` }]);
    expect(columnsContaining(w, `kontoutdrag ${FORMS.attachment}`)).toEqual([]);
    expect(columnsContaining(w, `kontoutdrag ${MASK}.pdf`)).toEqual(['attachments.filename']);
  });

  test('subjectKeyNeverHoldsPersonnummer: with personnummer.store false, and a reply without threading headers still finds its case', async () => {
    w = makeWorld({ ...OFFICERS, personnummer: { store: false } });
    const env = { KLAGOMAL_PERSONNUMMER_KEY: '' };
    deliverToMaildir(w.maildir, complaintMail(1, { from: 'Anna <anna@example.com>', subject: 'Klagomål 811218-9876 avgift' }));
    expect((await w.cli(['run', '--once'], env)).code).toBe(0);
    // Outlook's reply: the subject with a prefix, the number written another way, no In-Reply-To.
    deliverToMaildir(
      w.maildir,
      complaintMail(2, { from: 'Anna <anna@example.com>', subject: 'SV: Klagomål 8112189876 avgift', body: 'Har ni tittat på det?' }),
    );
    expect((await w.cli(['run', '--once'], env)).code).toBe(0);
    const { store, close } = w.store();
    try {
      const cases = store.listCases({});
      expect(cases).toHaveLength(1);
      expect(cases[0].subject_key).toBe('klagomål 19811218-**** avgift');
      expect(cases[0].personnummer).toBeNull();
      expect(store.messagesOfCase(cases[0].id).map((m) => m.kind)).toEqual(['complaint', 'followup']);
    } finally {
      close();
    }
    for (const written of ['811218-9876', '8112189876', PNR]) expect(columnsContaining(w, written)).toEqual([]);
  });
});
