/**
 * The readers of `klagomal import` (src/ingest/import.ts): mbox (mboxrd/mboxo quoting, LF and
 * CRLF, "From " in a body), Maildir (cur/, new/, Maildir++ folders), folders of .eml files, and
 * where each mail's receipt time comes from.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { dateHeader, envelopeDate, ImportedMail, ImportItem, ImportPathError, parseMailDate, planImport, readMbox, ReadOptions } from '../../src/ingest/import';
import type { SpooledRaw } from '../../src/ingest/raw-files';
import { mboxOf } from '../support/mutt';
import { duration, Progress } from '../../src/cli/import';

const NOW = new Date('2027-06-01T12:00:00Z');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-import-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function all(gen: AsyncGenerator<ImportItem>): Promise<ImportItem[]> {
  const out: ImportItem[] = [];
  for await (const m of gen) out.push(m);
  return out;
}

async function readPath(p: string, opts: Partial<ReadOptions> = {}): Promise<ImportedMail[]> {
  const items = await all(planImport(p).mails({ now: NOW, ...opts }));
  for (const i of items) if ('error' in i) throw new Error(`unreadable ${i.locator}: ${i.error}`);
  return items as ImportedMail[];
}

function bytes(m: ImportedMail): Buffer {
  if (!Buffer.isBuffer(m.raw)) throw new Error('expected the mail in memory');
  return m.raw;
}

function write(rel: string, content: string | Buffer, mtime?: Date): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  if (mtime) fs.utimesSync(file, mtime, mtime);
  return file;
}

function mail(n: number, opts: { date?: string | null; body?: string; eol?: string } = {}): string {
  const eol = opts.eol ?? '\n';
  return [
    `From: Kund ${n} <kund${n}@example.com>`,
    'To: klagomal@testfinans.se',
    `Subject: Klagomal ${n}`,
    ...(opts.date === null ? [] : [`Date: ${opts.date ?? 'Thu, 19 Nov 2026 09:14:02 +0100'}`]),
    `Message-ID: <m${n}@example.com>`,
    '',
    opts.body ?? `Hej, klagomal nummer ${n}.`,
    '',
  ].join(eol);
}

describe('mbox', () => {
  test('quotedFromLinesAreUnquotedAndBytesKeptExactly', async () => {
    // mboxOf writes mboxrd: every (>*)From at a line start gets one more '>'.
    const raw = mail(1, { body: 'Hej,\n\nFrom the start I was charged.\n>From a quote\n>>From deeper\nFromage is not quoted\n' });
    const file = write('old.mbox', mboxOf(raw) + mboxOf(mail(2)));
    expect(fs.readFileSync(file, 'utf8')).toContain('\n>From the start');
    const mails = await readPath(file);
    expect(mails).toHaveLength(2);
    expect(bytes(mails[0]).toString('utf8')).toBe(raw);
    expect(bytes(mails[1]).toString('utf8')).toBe(mail(2));
    expect(mails.map((m) => m.locator)).toEqual(['old.mbox#1', 'old.mbox#2']);
    expect(mails[0].sha256).toBe(crypto.createHash('sha256').update(raw).digest('hex'));
  });

  test('crlfMboxKeepsCrlfAndDropsTheSeparatorBlankLine', async () => {
    const a = mail(1, { eol: '\r\n' });
    const b = mail(2, { eol: '\r\n', body: 'Tva rader\r\n\r\nmed tom rad emellan' });
    const mbox = `From a@example.com Thu Nov 19 09:14:02 2026\r\n${a}\r\nFrom b@example.com Thu Nov 19 10:00:00 2026\r\n${b}\r\n`;
    const mails = await readPath(write('crlf.mbox', mbox));
    expect(mails.map((m) => bytes(m).toString('latin1'))).toEqual([a, b]);
  });

  test('fromLineInBodyIsNotASeparatorUnlessItReadsAsAnEnvelopeAfterABlankLine', async () => {
    // A careless (mboxo) writer left body lines unquoted: a paragraph starting "From ", and an
    // envelope-looking line that does not follow a blank line.
    const body = 'Hej,\n\nFrom what I can see the fee is wrong.\nFrom x@y.se Thu Nov 19 09:14:02 2026\nMvh';
    const first = mail(1, { body });
    const mbox = `From MAILER-DAEMON Thu Nov 19 09:14:02 2026\n${first}\nFrom MAILER-DAEMON Fri Nov 20 09:14:02 2026\n${mail(2)}\n`;
    const mails = await readPath(write('mboxo.mbox', mbox));
    expect(mails).toHaveLength(2);
    expect(bytes(mails[0]).toString()).toBe(first);
  });

  test('lastMailWithoutFinalNewlineAndBlankLinesInsideMailsAreKept', async () => {
    const a = mail(1, { body: 'Stycke ett.\n\n\nStycke tva efter tva tomma rader.' });
    const b = 'From: x@example.com\nSubject: utan radslut\n\nsista raden';
    const mbox = `From - Thu Nov 19 09:14:02 2026\n${a}\nFrom - Thu Nov 19 09:15:02 2026\n${b}`;
    const file = write('x.mbox', mbox);
    const mails = await readPath(file);
    expect(mails.map((m) => bytes(m).toString())).toEqual([a, b]);
    // Progress is in bytes of the file and ends at its size.
    expect(mails[0].progress).toBeLessThan(mails[1].progress);
    expect(mails[1].progress).toBe(fs.statSync(file).size);
    expect(planImport(file)).toMatchObject({ kind: 'mbox', unit: 'bytes', total: fs.statSync(file).size });
  });

  test('non-UTF-8 bytes and long lines across read chunks are kept exactly', async () => {
    const latin1 = Buffer.concat([Buffer.from('From: a@example.com\nSubject: avgift\n\nKlagom'), Buffer.from([0xe5, 0x6c]), Buffer.from('\n')]);
    const long = Buffer.from(`From: b@example.com\n\n${'x'.repeat(3 * 1024 * 1024)}\nslut\n`);
    const mbox = Buffer.concat([
      Buffer.from('From - Thu Nov 19 09:14:02 2026\n'),
      latin1,
      Buffer.from('\nFrom - Thu Nov 19 09:14:03 2026\n'),
      long,
      Buffer.from('\n'),
    ]);
    const mails = await readPath(write('bin.mbox', mbox));
    expect(bytes(mails[0]).equals(latin1)).toBe(true);
    expect(bytes(mails[1]).equals(long)).toBe(true);
  });

  test('a large mail is streamed into the spool, not returned in memory', async () => {
    const big = mail(1, { body: 'y'.repeat(50_000) });
    const spooled = new Map<string, Buffer>();
    const spool = async (src: Readable): Promise<SpooledRaw> => {
      const parts: Buffer[] = [];
      for await (const c of src as AsyncIterable<Buffer>) parts.push(c);
      const all = Buffer.concat(parts);
      const sha256 = crypto.createHash('sha256').update(all).digest('hex');
      spooled.set(sha256, all);
      return { tmpPath: '/nowhere', sha256, size: all.length };
    };
    const mails = await all(readMbox(write('big.mbox', mboxOf(big) + mboxOf(mail(2))), { now: NOW, largeMailBytes: 10_000, spool }));
    const [m1, m2] = mails as ImportedMail[];
    expect(Buffer.isBuffer(m1.raw)).toBe(false);
    expect(spooled.get(m1.sha256)?.toString()).toBe(big);
    expect(m1.size).toBe(Buffer.byteLength(big));
    expect(Buffer.isBuffer(m2.raw)).toBe(true);
    expect(m1.receivedFrom).toBe('date-header');
  });

  test('receiptTimeFallsBackFromDateHeaderToEnvelopeToFileTime', async () => {
    const mtime = new Date('2024-01-02T03:04:05Z');
    const mbox =
      `From a@example.com Mon Mar  4 10:00:00 2024\n${mail(1, { date: 'Tue, 5 Mar 2024 08:00:00 +0100 (CET)' })}\n` +
      `From b@example.com Mon Mar  4 10:00:00 2024\n${mail(2, { date: null })}\n` + // no Date: envelope, Stockholm time
      `From c@example.com Mon Mar  4 10:00:00 +0000 2024\n${mail(3, { date: 'nonsense' })}\n` + // envelope with a zone
      `From d@example.com Mon Mar  4 10:00:00 2024\n${mail(4, { date: 'Fri, 1 Jan 2100 00:00:00 +0000' })}\n`; // from the future: not believed
    const mails = await readPath(write('dates.mbox', mbox, mtime));
    expect(mails.map((m) => [m.receivedAt.toISOString(), m.receivedFrom])).toEqual([
      ['2024-03-05T07:00:00.000Z', 'date-header'],
      ['2024-03-04T09:00:00.000Z', 'envelope'],
      ['2024-03-04T10:00:00.000Z', 'envelope'],
      ['2024-03-04T09:00:00.000Z', 'envelope'],
    ]);
    // Neither a Date header nor a dated envelope (only the first separator may lack a date): the file's time.
    const [undated] = await readPath(write('undated.mbox', `From e\n${mail(5, { date: null })}\n`, mtime));
    expect([undated.receivedAt.toISOString(), undated.receivedFrom]).toEqual([mtime.toISOString(), 'file-time']);
  });
});

describe('dates', () => {
  test.each([
    ['Thu, 19 Nov 2026 09:14:02 +0100', '2026-11-19T08:14:02.000Z'],
    ['19 Nov 2026 09:14 +0100', '2026-11-19T08:14:00.000Z'],
    ['Thu, 19 Nov 2026 09:14:02 +0100 (CET)', '2026-11-19T08:14:02.000Z'],
    ['Thu,  5 Feb 98 23:59:59 GMT', '1998-02-05T23:59:59.000Z'],
    ['Mon, 3 Jan 05 10:00:00 EST', '2005-01-03T15:00:00.000Z'],
    ['Tue, 3 Okt 2023 10:00:00 CEST', '2023-10-03T08:00:00.000Z'],
    ['Tue, 3 Oct 2023 10:00:00', '2023-10-03T08:00:00.000Z'], // no zone: Stockholm (summer time)
    ['Tue, 3 Jan 2023 10:00:00', '2023-01-03T09:00:00.000Z'], // no zone: Stockholm (winter)
    ['Thu, 19 Nov 2026 09:14:02 -0000', '2026-11-19T09:14:02.000Z'],
    ['2026-11-19T09:14:02+01:00', '2026-11-19T08:14:02.000Z'],
  ])('parseMailDate(%j)', (text, iso) => {
    expect(parseMailDate(text)?.toISOString()).toBe(iso);
  });

  test.each(['', 'yesterday', 'Thu, 31 Feb 2026 10:00:00 +0100', '19.11.2026 09:14', 'Thu, 19 Nov 2026 25:00:00 +0100'])(
    'unreadable date %j is null',
    (text) => {
      expect(parseMailDate(text)).toBeNull();
    },
  );

  test('dateHeaderUnfoldsAndTakesTheFirst', () => {
    const head = Buffer.from('Subject: x\r\nDate: Thu, 19 Nov 2026\r\n 09:14:02 +0100\r\nDate: Fri, 20 Nov 2026 00:00:00 +0000\r\n');
    expect(dateHeader(head)?.toISOString()).toBe('2026-11-19T08:14:02.000Z');
    expect(dateHeader(Buffer.from('Subject: Date: Thu, 19 Nov 2026 09:14:02 +0100\n'))).toBeNull();
  });

  test('envelopeDateReadsTheCommonEnvelopeForms', () => {
    expect(envelopeDate('From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n')?.toISOString()).toBe('2025-12-31T23:00:00.000Z');
    expect(envelopeDate('From 1234567890@xxx Wed Nov 03 19:26:12 +0000 2021\r\n')?.toISOString()).toBe('2021-11-03T19:26:12.000Z');
    expect(envelopeDate('From - Mon Jan 02 15:04:05 2006')?.toISOString()).toBe('2006-01-02T14:04:05.000Z');
    expect(envelopeDate('From the start, I was charged twice\n')).toBeNull();
    expect(envelopeDate('From 10:00 to 12:00 nobody answered\n')).toBeNull();
  });
});

describe('Maildir', () => {
  test('readsCurNewAndMaildirPlusPlusFoldersInReceiptOrderAndLeavesOutSentAndTrash', async () => {
    const md = path.join(dir, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(md, sub), { recursive: true });
    write('Maildir/cur/1700000003.M1.host:2,S', mail(3, { date: 'Wed, 3 Jan 2024 10:00:00 +0100' }));
    write('Maildir/new/1700000001.M1.host', mail(1, { date: 'Mon, 1 Jan 2024 10:00:00 +0100' }));
    write('Maildir/tmp/1700000009.M1.host', mail(9)); // a delivery not finished
    write('Maildir/.Behandlade/cur/1700000002.M1.host:2,S', mail(2, { date: 'Tue, 2 Jan 2024 10:00:00 +0100' }));
    write('Maildir/.Sent/cur/1700000004.M1.host:2,S', mail(4));
    write('Maildir/.Deleted Items/new/1700000005.M1.host', mail(5));
    write('Maildir/.Archive.Trash/new/1700000006.M1.host', mail(6));
    const plan = planImport(md);
    expect(plan).toMatchObject({ kind: 'maildir', unit: 'files', total: 3 });
    expect([...plan.skippedFolders].sort()).toEqual(['.Archive.Trash', '.Deleted Items', '.Sent']);
    const mails = await readPath(md);
    expect(mails.map((m) => m.locator)).toEqual(['new/1700000001.M1.host', '.Behandlade/cur/1700000002.M1.host:2,S', 'cur/1700000003.M1.host:2,S']);
    expect(mails.map((m) => m.progress)).toEqual([1, 2, 3]);
    expect(bytes(mails[1]).toString()).toBe(mail(2, { date: 'Tue, 2 Jan 2024 10:00:00 +0100' }));
  });

  test('maildirWithOtherSubfoldersReadsOrNamesThem', async () => {
    // Once only cur/, new/ and dot-folders were read, and every other folder passed over unseen:
    // an import could exit 0 having read none of Arkiv/ or export/.
    const md = path.join(dir, 'Maildir');
    write('Maildir/cur/1:2,S', mail(1, { date: 'Mon, 1 Jan 2024 10:00:00 +0100' }));
    write('Maildir/dovecot-uidlist', '3 V1 N2\n'); // the server's bookkeeping, not mail
    // Dovecot LAYOUT=fs: folders without the leading dot, a container without cur/ or new/.
    write('Maildir/Arkiv/cur/2:2,S', mail(2, { date: 'Tue, 2 Jan 2024 10:00:00 +0100' }));
    write('Maildir/Kunder/Reklamationer/new/3', mail(3, { date: 'Wed, 3 Jan 2024 10:00:00 +0100' }));
    write('Maildir/Sent/cur/4:2,S', mail(4));
    write('Maildir/Arkiv/courierimapkeywords/:list', '');
    // Not a Maildir: a folder of .eml files, and an .eml file beside cur/.
    write('Maildir/export/2023/a.eml', mail(5));
    write('Maildir/c.eml', mail(6));
    const plan = planImport(md);
    expect(plan).toMatchObject({ kind: 'maildir', total: 3, skippedFolders: ['Sent'] });
    expect([...plan.notRead].sort()).toEqual(['c.eml', 'export/2023']);
    const mails = await readPath(md);
    expect(mails.map((m) => m.locator)).toEqual(['cur/1:2,S', 'Arkiv/cur/2:2,S', 'Kunder/Reklamationer/new/3']);
  });

  test('maildirPlusPlusJunkFolderNamedInModifiedUtf7IsLeftOut', async () => {
    // Dovecot keeps "Skräppost" as ".Skr&AOQ-ppost" (IMAP modified UTF-7, RFC 3501 §5.1.3).
    const md = path.join(dir, 'Maildir');
    write('Maildir/cur/1:2,S', mail(1));
    write('Maildir/.Skr&AOQ-ppost/cur/2:2,S', mail(2));
    write('Maildir/.Borttagna objekt/cur/3:2,S', mail(3));
    write('Maildir/.Kunder&AOQ-rende/cur/4:2,S', mail(4)); // "Kunderärende": read
    const plan = planImport(md);
    expect([...plan.skippedFolders].sort()).toEqual(['.Borttagna objekt', '.Skr&AOQ-ppost']);
    expect((await readPath(md)).map((m) => m.locator).sort()).toEqual(['.Kunder&AOQ-rende/cur/4:2,S', 'cur/1:2,S']);
  });

  test('a mail file without a Date header gets its modification time', async () => {
    const mtime = new Date('2023-05-06T07:08:09Z');
    write('Maildir/new/a', mail(1, { date: null }), mtime);
    const [m] = await readPath(path.join(dir, 'Maildir'));
    expect(m.receivedAt.toISOString()).toBe(mtime.toISOString());
    expect(m.receivedFrom).toBe('file-time');
  });
});

describe('folder of .eml files', () => {
  test('recursiveSortedByDateThenPathOtherFilesLeftOut', async () => {
    write('export/2024/b.eml', mail(2, { date: 'Mon, 1 Jan 2024 10:00:00 +0100' }));
    write('export/2024/a.EML', mail(1, { date: 'Mon, 1 Jan 2024 10:00:00 +0100' }));
    write('export/2023/z.eml', mail(0, { date: 'Sun, 1 Jan 2023 10:00:00 +0100' }));
    write('export/notes.txt', 'not a mail');
    write('export/.hidden.eml', mail(9));
    const root = path.join(dir, 'export');
    const plan = planImport(root);
    expect(plan).toMatchObject({ kind: 'eml', total: 3, ignoredFiles: 1 });
    const mails = await readPath(root);
    expect(mails.map((m) => m.locator)).toEqual(['2023/z.eml', '2024/a.EML', '2024/b.eml']);
  });

  test('an unreadable file is reported and the others are read', async () => {
    write('export/a.eml', mail(1));
    const b = write('export/b.eml', mail(2));
    fs.rmSync(b);
    fs.symlinkSync(path.join(dir, 'missing.eml'), b); // a dangling link: cannot be read
    const items = await all(planImport(path.join(dir, 'export')).mails({ now: NOW }));
    expect(items).toHaveLength(2);
    expect(items.filter((i) => 'error' in i).map((i) => i.locator)).toEqual(['b.eml']);
  });
});

describe('what PATH is', () => {
  test('errors name the path and say what is accepted', () => {
    const missing = path.join(dir, 'nothing-here');
    expect(() => planImport(missing)).toThrow(ImportPathError);
    expect(() => planImport(missing)).toThrow(missing);
    const text = write('notes.txt', 'Hello\nFrom x\n');
    expect(() => planImport(text)).toThrow(/notes\.txt: not an mbox file .*Maildir.*\.eml/);
    fs.mkdirSync(path.join(dir, 'empty'));
    expect(() => planImport(path.join(dir, 'empty'))).toThrow(/empty: not an mbox file.*no cur\/ or new\/ and no \.eml file/);
  });

  test('a single .eml file and an empty mbox are accepted', async () => {
    const one = write('one.eml', mail(1));
    expect((await readPath(one)).map((m) => m.locator)).toEqual(['one.eml']);
    const empty = write('empty.mbox', '');
    expect(await readPath(empty)).toEqual([]);
  });
});

describe('progress', () => {
  afterEach(() => jest.useRealTimers());

  test('onATerminalRedrawsInPlaceAtMostFourTimesASecondWithRateAndTimeLeft', () => {
    jest.useFakeTimers({ now: new Date('2026-11-22T10:00:00Z') });
    const out: string[] = [];
    const p = new Progress({ unit: 'bytes', total: 1000 }, true, (t) => out.push(t));
    p.update({ read: 1, done: 10, filed: 0, settled: 0 });
    jest.advanceTimersByTime(100);
    p.update({ read: 2, done: 20, filed: 0, settled: 0 }); // too soon: not drawn
    expect(out).toEqual(['\r\x1b[K1 mail read, 0 filed, 0 %']); // nothing filed yet: 0 %
    jest.advanceTimersByTime(9900);
    // Half the bytes read, all of it filed, after 10 s: 10 s left.
    p.update({ read: 400, done: 500, filed: 400, settled: 400 });
    expect(out[1]).toBe('\r\x1b[K400 mails read, 400 filed, 50 %, 40 mails/s, about 10 s left');
    jest.advanceTimersByTime(300);
    // Read ahead of filing: the share counts only what is filed too.
    p.update({ read: 800, done: 1000, filed: 400, settled: 400 });
    expect(out[2]).toMatch(/^\r\x1b\[K800 mails read, 400 filed, 50 %, 39 mails\/s, about 10 s left$/);
    // A log line in between: the progress line is erased first and drawn again after.
    p.around(() => out.push('LOG\n'));
    expect(out.slice(3)).toEqual(['\r\x1b[K', 'LOG\n', out[2]]);
    p.clear();
    expect(out[out.length - 1]).toBe('\r\x1b[K');
  });

  test('withoutATerminalOnlyAnOccasionalLineForLongImports', () => {
    jest.useFakeTimers({ now: new Date('2026-11-22T10:00:00Z') });
    const out: string[] = [];
    const p = new Progress({ unit: 'files', total: 5000 }, false, (t) => out.push(t));
    for (let n = 1; n <= 900; n++) p.update({ read: n, done: n, filed: n, settled: n });
    jest.advanceTimersByTime(20_000);
    p.update({ read: 999, done: 999, filed: 999, settled: 999 });
    expect(out).toEqual([]); // fewer than 1000 mails since the start
    p.update({ read: 1000, done: 1000, filed: 1000, settled: 1000 });
    expect(out).toEqual(['klagomal import: 1000 mails read, 1000 filed, 20 %, 50 mails/s, about 1:20 min left\n']);
    p.update({ read: 2500, done: 2500, filed: 2500, settled: 2500 }); // 1000 more, but not 10 s later
    expect(out).toHaveLength(1);
  });

  test('durations', () => {
    expect([duration(2.34), duration(42.4), duration(65), duration(3725)]).toEqual(['2.3 s', '42 s', '1:05 min', '1:02:05']);
  });
});
