/**
 * The data subject access export (src/retention/subject-export.ts, `klagomal subject export`):
 * everything held about one person (cases, mails as received and as filed, attachments, what
 * we sent them, events), and nothing of anyone else: not another customer's case that names
 * them, not a third party's mail where they are only in Cc.
 */
import fs from 'node:fs';
import path from 'node:path';
import { exportSubject, parseSubjectQuery, safeFileName, senderAddressesOfRaw, SubjectExportError } from '../../src/retention/subject-export';
import { runRetention } from '../../src/retention/retention';
import { subjectCommand } from '../../src/cli/subject';
import { storeArrivals } from '../../src/ingest/intake';
import { toInstant } from '../../src/util/clock';
import type { CaseRow } from '../../src/store/store';
import { closeCase, command, complaint, deliver, filesUnder, Firm, makeFirm, rawMail, runCommand } from '../support/personal-data';

const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const NOW = new Date('2026-03-20T10:00:00+01:00');
const KARIN = 'karin@example.com';
const KARIN_WORK = 'karin.kund@jobbet.example';
const NILS = 'nils@example.net';
const THIRD = 'tredje@example.org';
const PNR_KARIN = '19850412-1230';
const PNR_NILS = '19790101-9872';
const STATEMENT = Buffer.from('%PDF-1.4\n% Karins kontoutdrag\n');
const NILS_FILE = Buffer.from('%PDF-1.4\n% Nils egna papper\n');

describe('parseSubjectQuery and the small pure parts', () => {
  test('an address (lower-cased) or a personnummer (normalised, Luhn-checked)', () => {
    expect(parseSubjectQuery(' Karin@Example.COM ')).toEqual({ kind: 'address', address: KARIN });
    expect(parseSubjectQuery('850412-1230', NOW)).toEqual({ kind: 'personnummer', normalised: '198504121230', masked: '19850412-****' });
    expect(parseSubjectQuery('198504121230', NOW)).toMatchObject({ normalised: '198504121230' });
    expect(() => parseSubjectQuery('19850412-1231')).toThrow(SubjectExportError); // wrong check digit
    expect(() => parseSubjectQuery('karin')).toThrow(/not an e-mail address or a valid personnummer/);
    expect(() => parseSubjectQuery('a@b@c')).toThrow(SubjectExportError);
  });

  test('safe file names: no folders, no control characters, no hidden files, bounded', () => {
    expect(safeFileName('../../etc/passwd', 'x')).toBe('_.._etc_passwd');
    expect(safeFileName('..\\..\\boot.ini', 'x')).toBe('_.._boot.ini');
    expect(safeFileName('.bashrc', 'x')).toBe('bashrc');
    expect(safeFileName('a\u0000b\nc.pdf', 'x')).toBe('a_b_c.pdf');
    expect(safeFileName('   ', 'bilaga-1')).toBe('bilaga-1');
    expect(safeFileName(null, 'bilaga-1')).toBe('bilaga-1');
    // Bounded in bytes of UTF-8 (what file systems count), not in characters.
    const long = safeFileName(`${'å'.repeat(300)}.pdf`, 'x');
    expect(Buffer.byteLength(long)).toBe(100);
    expect(long).toBe(`${'å'.repeat(48)}.pdf`);
  });

  test('sender addresses of a raw mail, folded headers included', () => {
    const raw = Buffer.from(
      'Subject: x\r\nFrom: "Kund, Karin"\r\n <Karin@Example.com>\r\nReply-To: other@example.org\r\nCc: cc@example.org\r\n\r\nFrom: body@example.org\r\n',
    );
    expect(senderAddressesOfRaw(raw)).toEqual([KARIN, 'other@example.org']);
  });
});

describe('exportSubject', () => {
  let f: Firm;
  let karin: CaseRow; // by her private address
  let karinWork: CaseRow; // from her work address, with her personnummer
  let nils: CaseRow; // another customer, whose mail names Karin
  let out: string;

  beforeEach(async () => {
    f = makeFirm();
    out = path.join(f.dir, 'export');
    karin = await complaint(
      f,
      {
        from: `Karin Kund <${KARIN}>`,
        body: `Hej, ni tog ut en avgift på 250 kr den 3 februari 2026 som jag vill ha tillbaka. Personnummer ${PNR_KARIN}.`,
        attachment: { filename: '../kontoutdrag februari.pdf', content: STATEMENT },
      },
      RECEIVED,
    );
    await deliver(f, rawMail({ from: `Karin Kund <${KARIN}>`, subject: `Sv: [${karin.number}] Felaktig avgift`, body: 'Har ni tittat på mitt ärende?' }), NOW);
    command(f, karin.id, '#note Ringde kunden, hon var nöjd med förklaringen.', NOW);
    karinWork = await complaint(
      f,
      { from: `Karin Kund <${KARIN_WORK}>`, subject: 'Räntan på mitt lån', body: `Jag anser att räntan är fel. Mitt personnummer: ${PNR_KARIN}` },
      RECEIVED,
    );
    nils = await complaint(
      f,
      {
        from: `Nils Nilsson <${NILS}>`,
        cc: KARIN,
        subject: 'Avgift för mig och min granne',
        body: `Både jag (${PNR_NILS}) och min granne Karin Kund, ${KARIN}, har fått samma avgift. Nils hemliga detalj.`,
        attachment: { filename: 'nils.pdf', content: NILS_FILE },
      },
      RECEIVED,
    );
    // A third party's newsletter with Karin in Cc: on no case, and not hers.
    const bulk = await deliver(
      f,
      rawMail({
        from: `Tredje Part <${THIRD}>`,
        cc: KARIN,
        subject: 'Nyhetsbrev',
        body: 'Tredje partens nyhetsbrev.',
        headers: ['List-Id: <news.example.org>'],
      }),
      NOW,
    );
    expect(bulk).toMatchObject({ kind: 'bulk', caseId: null });
    // Karin's own out-of-office reply (on no case) and a mail of hers that could not be read (quarantined).
    const away = await deliver(
      f,
      rawMail({ from: `Karin Kund <${KARIN}>`, subject: 'Frånvaro', body: 'Jag är bortrest.', headers: ['Auto-Submitted: auto-replied'] }),
      NOW,
    );
    expect(away).toMatchObject({ kind: 'autoreply', caseId: null });
    const [broken] = storeArrivals(
      f.store,
      f.config.dataDir,
      'klagomal',
      [
        {
          raw: Buffer.from(`From: ${KARIN}\r\nSubject: trasig\r\nContent-Type: multipart/mixed\r\n\r\n\u0000\u0000`),
          receivedAt: NOW,
          mailbox: null,
          locator: null,
          sourceKey: 'q1',
        },
      ],
      toInstant(NOW),
    );
    f.store.quarantine(broken.id, 'parse', 'not a readable mail', toInstant(NOW));
  });
  afterEach(() => f.close());

  /** Every file of the export as text (attachments and raw mails included). */
  const everything = (): string =>
    filesUnder(out)
      .map((p) => `${p}\n${fs.readFileSync(path.join(out, p), 'latin1')}\n${fs.readFileSync(path.join(out, p), 'utf8')}`)
      .join('\n');

  test('by address: her case, her mails on no case, what we sent her; the layout', () => {
    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW, 'dpo');
    expect(r).toMatchObject({ query: { kind: 'address', value: KARIN }, cases: [karin.number], mailsNotOnCase: 2, attachments: 1 });
    const folder = `cases/${karin.number}`;
    expect(filesUnder(out)).toEqual(
      [
        `${folder}/case.json`,
        `${folder}/mails/01-attachments/01-_kontoutdrag februari.pdf`,
        `${folder}/mails/01-complaint.eml`,
        `${folder}/mails/01-complaint.txt`,
        `${folder}/mails/02-followup.eml`,
        `${folder}/mails/02-followup.txt`,
        `${folder}/mails/03-officer.eml`,
        `${folder}/sent/01-acknowledgement.html`,
        `${folder}/sent/01-acknowledgement.txt`,
        'index.json',
        'mails/01-autoreply.eml',
        'mails/01-autoreply.txt',
        'mails/02-quarantined.eml',
      ].sort(),
    );
    // The attachment as received, the raw mail byte for byte.
    expect(fs.readFileSync(path.join(out, `${folder}/mails/01-attachments/01-_kontoutdrag februari.pdf`))).toEqual(STATEMENT);
    const complaintInbound = f.store.messagesOfCase(karin.id)[0].inbound_id;
    const raw = f.store.rawMail(f.store.inbound(complaintInbound)!.sha256) as { bytes: Buffer };
    expect(fs.readFileSync(path.join(out, `${folder}/mails/01-complaint.eml`))).toEqual(raw.bytes);
    expect(fs.readFileSync(path.join(out, `${folder}/mails/01-complaint.txt`), 'utf8')).toMatch(
      /^From: Karin Kund <karin@example\.com>\nTo: klagomal@exempelfinans\.se\n/,
    );

    const kase = JSON.parse(fs.readFileSync(path.join(out, `${folder}/case.json`), 'utf8'));
    expect(kase.case).toMatchObject({ number: karin.number, customer: { name: 'Karin Kund', address: KARIN }, personnummer: '198504121230', legalHold: null });
    expect(kase.deadlines.map((d: { milestone: string }) => d.milestone)).toContain('finalAnswer');
    expect(kase.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['case-opened', 'mail-filed', 'note-added', 'acknowledgement-queued']),
    );
    expect(kase.sent).toEqual([expect.objectContaining({ kind: 'acknowledgement', to: KARIN })]);
    expect(kase.mails[0]).toMatchObject({
      kind: 'complaint',
      raw: `${folder}/mails/01-complaint.eml`,
      attachments: [{ filename: '../kontoutdrag februari.pdf', sha256: expect.any(String) }],
    });

    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(index).toMatchObject({
      createdAt: toInstant(NOW),
      createdBy: 'dpo',
      query: { kind: 'address', value: KARIN },
      cases: [{ number: karin.number, folder }],
      mailsNotOnCase: [{ kind: 'autoreply' }, { state: 'quarantined' }],
    });
    // Reading her data in full is on record.
    expect(f.store.eventsOfCase(karin.id).filter((e) => e.type === 'subject-access-exported')).toEqual([
      expect.objectContaining({ actor: 'operator', at: toInstant(NOW), detail: JSON.stringify({ query: 'address', user: 'dpo' }) }),
    ]);
    // Private: the folder 0700, the files 0600.
    expect(fs.statSync(out).mode & 0o777).toBe(0o700);
    for (const p of filesUnder(out)) expect(fs.statSync(path.join(out, p)).mode & 0o777).toBe(0o600);
  });

  test('by address: nothing of another person', () => {
    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW, 'dpo');
    const all = everything();
    // Nils's case names Karin and Cc's her; the newsletter Cc's her: neither is hers.
    for (const s of [nils.number, NILS, 'Nils', '790101', 'hemliga', 'nils.pdf', THIRD, 'Tredje', 'Nyhetsbrev'])
      expect({ s, found: all.includes(s) }).toEqual({ s, found: false });
    expect(all).not.toContain(NILS_FILE.toString('latin1'));
    // Her work address is another address: found by personnummer, not here.
    expect(all).not.toContain(KARIN_WORK);
    expect(r.warnings.join('\n')).not.toContain(NILS);
  });

  test('by personnummer: both of her cases, whatever the address; nothing else', () => {
    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(PNR_KARIN, NOW), out, NOW, 'dpo');
    expect(r).toMatchObject({ query: { kind: 'personnummer', value: '19850412-****' }, cases: [karin.number, karinWork.number], mailsNotOnCase: 0 });
    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
    expect(index.query).toEqual({ kind: 'personnummer', value: '19850412-****' });
    expect(fs.readFileSync(path.join(out, 'index.json'), 'utf8')).not.toContain('1230');
    const work = JSON.parse(fs.readFileSync(path.join(out, `cases/${karinWork.number}/case.json`), 'utf8'));
    expect(work.case).toMatchObject({ customer: { address: KARIN_WORK }, personnummer: '198504121230' });
    const all = everything();
    for (const s of [nils.number, NILS, 'Nils', 'hemliga', THIRD, 'Frånvaro']) expect({ s, found: all.includes(s) }).toEqual({ s, found: false });
  });

  test('by personnummer without the key: refused, saying why, nothing written', () => {
    expect(() => exportSubject({ store: f.store, config: f.config, env: {} }, parseSubjectQuery(PNR_KARIN, NOW), out, NOW, 'dpo')).toThrow(
      /KLAGOMAL_PERSONNUMMER_KEY is not set.*search by the person's e-mail address/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a folder with something in it is refused; an empty one is used', () => {
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'old.txt'), 'an earlier export');
    expect(() => exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW)).toThrow(/is not empty/);
    expect(fs.readdirSync(out)).toEqual(['old.txt']);
    const empty = path.join(f.dir, 'empty');
    fs.mkdirSync(empty, { mode: 0o755 });
    exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), empty, NOW);
    expect(fs.statSync(empty).mode & 0o777).toBe(0o700);
  });

  test('someone we hold nothing about: an index that says so', () => {
    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery('nobody@example.com'), out, NOW);
    expect(r).toMatchObject({ cases: [], mailsNotOnCase: 0, mails: 0 });
    expect(filesUnder(out)).toEqual(['index.json']);
  });

  test('after retention her case holds nothing about her, and is not found', async () => {
    closeCase(f, karin.id, NOW);
    await runRetention({ store: f.store, config: f.config }, { now: new Date('2036-03-21T10:00:00+01:00'), trigger: 'command' });
    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW);
    expect(r.cases).toEqual([]);
    // Her out-of-office reply on no case went too (received over ten years ago); the quarantined
    // mail waits for an operator, and is still hers.
    expect(r.mailsNotOnCase).toBe(1);
  });

  test('klagomal subject export', async () => {
    const r = await runCommand(f, subjectCommand, ['export', KARIN, '--out', out]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain(`1 case(s) (${karin.number}), 2 mail(s) on no case`);
    const again = await runCommand(f, subjectCommand, ['export', KARIN, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('is not empty');
    expect((await runCommand(f, subjectCommand, ['export', 'karin', '--out', path.join(f.dir, 'x')])).code).toBe(2);
    expect((await runCommand(f, subjectCommand, ['export', KARIN])).code).toBe(2);
    const json = await runCommand(f, subjectCommand, ['export', PNR_KARIN, '--out', path.join(f.dir, 'pnr'), '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ cases: [karin.number, karinWork.number] });
  });
});

/**
 * A person's access request must not be blockable by what someone else mails from (or as) their
 * address: file names the file system refuses, or a failure half-way, which used to leave a
 * half-written folder that could pass for a whole export.
 */
describe('hostile attachments and failures', () => {
  let f: Firm;
  let out: string;
  beforeEach(() => {
    f = makeFirm();
    out = path.join(f.dir, 'export');
  });
  afterEach(() => f.close());

  /** What is beside the export folder (a temporary folder left behind would show here). */
  const besideOut = (): string[] => fs.readdirSync(f.dir).filter((n) => n !== 'data' && n !== 'config.json');

  test('subjectExportSurvivesLongCjkAttachmentName', async () => {
    // 100 CJK characters: 100 UTF-16 units, 300 bytes of UTF-8 (the file system's limit is 255).
    const cjk = `${'漢字'.repeat(50)}.pdf`;
    const c = await complaint(f, { from: `Karin Kund <${KARIN}>`, attachment: { filename: cjk, content: STATEMENT } }, RECEIVED);
    const [att] = f.store.attachmentsOfMessage(f.store.messagesOfCase(c.id)[0].id);
    expect(att.filename).toBe(cjk);

    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW);
    expect(r).toMatchObject({ cases: [c.number], attachments: 1 });
    const files = filesUnder(out).filter((p) => p.includes('-attachments/'));
    expect(files).toHaveLength(1);
    const name = path.basename(files[0]);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toMatch(/^01-(漢字)+\.pdf$/);
    expect(fs.readFileSync(path.join(out, files[0]))).toEqual(STATEMENT);
    // The index keeps the name as the sender gave it.
    expect(fs.readFileSync(path.join(out, 'cases', c.number, 'case.json'), 'utf8')).toContain(cjk);
    expect(besideOut()).toEqual(['export']);
  });

  test.each([
    ['a new folder', false],
    ['an empty folder', true],
  ])('failedSubjectExportLeavesNoHalfWrittenFolder: %s', async (_what, existing) => {
    const c = await complaint(f, { from: `Karin Kund <${KARIN}>`, attachment: { filename: 'kontoutdrag.pdf', content: STATEMENT } }, RECEIVED);
    await deliver(f, rawMail({ from: `Karin Kund <${KARIN}>`, subject: `Sv: [${c.number}] Felaktig avgift`, body: 'Har ni tittat på mitt ärende?' }), NOW);
    // The attachment's file cannot be read (here: a folder in its place), after the first mail,
    // the case folder and its raw mail were written.
    const [att] = f.store.attachmentsOfMessage(f.store.messagesOfCase(c.id)[0].id);
    const stored = path.join(f.config.dataDir, att.path);
    fs.rmSync(stored);
    fs.mkdirSync(stored);
    if (existing) fs.mkdirSync(out);

    expect(() => exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW)).toThrow(/EISDIR/);
    // DIR as it was, and nothing half-written beside it.
    if (existing) expect(fs.readdirSync(out)).toEqual([]);
    else expect(fs.existsSync(out)).toBe(false);
    expect(besideOut()).toEqual(existing ? ['export'] : []);
    // Not on record as exported: nothing was handed out.
    expect(f.store.eventsOfCase(c.id).map((e) => e.type)).not.toContain('subject-access-exported');

    // With the file back, the same folder takes the whole export.
    fs.rmdirSync(stored);
    fs.writeFileSync(stored, STATEMENT);
    const r = exportSubject({ store: f.store, config: f.config }, parseSubjectQuery(KARIN), out, NOW);
    expect(r).toMatchObject({ cases: [c.number], mails: 2, attachments: 1 });
    expect(fs.statSync(out).mode & 0o777).toBe(0o700);
    expect(besideOut()).toEqual(['export']);
  });
});
