/**
 * The embedded default end to end, through the real `klagomal` binary: Maildir in, pickup
 * folder out, SQLite in the data folder. Each test gets a fresh world.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, deliverToMaildir, complaintMail, mailWithAttachment, waitFor, REPO } from '../support/world';
import { parseHeaders } from '../support/smtp';
import { storeArrivals } from '../../src/ingest/intake';

const EXAMPLES = path.join(REPO, 'examples');

function pickupFiles(w: World): string[] {
  return fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => f.endsWith('.eml')) : [];
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('embedded default (Maildir in, pickup out)', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.cleanup());

  test('newComplaintInMaildirBecomesCaseAndAcknowledgementInOnePass', async () => {
    const raw = fs.readFileSync(path.join(EXAMPLES, 'klagomal-paminnelseavgift.eml'));
    const name = deliverToMaildir(w.maildir, raw);
    const r = await w.cli(['run', '--once', '--json']);
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim()) as { filed: number; sent: { sent: number } };
    expect(summary.filed).toBe(1);
    expect(summary.sent.sent).toBe(1);

    // The mail is taken from new/ and kept in cur/ with the Seen flag.
    expect(fs.readdirSync(path.join(w.maildir, 'new'))).toEqual([]);
    expect(fs.readdirSync(path.join(w.maildir, 'cur'))).toEqual([`${name}:2,S`]);

    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as Array<{ number: string; customer: { address: string }; status: string }>;
    expect(cases).toHaveLength(1);
    expect(cases[0].number).toMatch(/^KLG-20\d\d-000001$/);
    expect(cases[0].customer.address).toBe('anna.svensson@example.com');
    expect(cases[0].status).toBe('new');

    const files = pickupFiles(w);
    expect(files).toHaveLength(1);
    const ack = fs.readFileSync(path.join(w.pickup, files[0]));
    const h = parseHeaders(ack);
    expect(h.get('auto-submitted')).toBe('auto-replied');
    expect(h.get('x-auto-response-suppress')).toBe('All');
    expect(h.get('in-reply-to')).toBe('<CAF3x9-anna-0001@mail.example.com>');
    expect(h.get('references')).toContain('<CAF3x9-anna-0001@mail.example.com>');
    expect(h.get('to')).toBe('anna.svensson@example.com');
    expect(h.get('message-id')).toMatch(/^<klg-20\d\d-000001\.ack\.[A-Za-z0-9_-]+@testfinans\.se>$/);
    const text = ack.toString('utf8');
    expect(text).toContain(cases[0].number);
  });

  test('secondPassNeverSendsTheSameAcknowledgementAgain', async () => {
    deliverToMaildir(w.maildir, complaintMail(1));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    expect(pickupFiles(w)).toHaveLength(1);
    const outbox = JSON.parse((await w.cli(['outbox', '--json'])).stdout) as Array<{
      status: string;
      attempts: number;
      template: string;
      templateVersion: string;
    }>;
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ status: 'sent', attempts: 1, template: 'acknowledgement' });
    expect(outbox[0].templateVersion).toMatch(/^[0-9a-f]{12}$/);
  });

  test('noAcknowledgementToAutoReplyBulkOrBounce', async () => {
    const bounce = [
      'From: MAILER-DAEMON@mx.example.com',
      'To: klagomal@testfinans.se',
      'Subject: Undelivered Mail Returned to Sender',
      'Message-ID: <bounce-1@mx.example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'This is the mail system. Delivery failed.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.com',
      '',
      'Final-Recipient: rfc822; nobody@example.com',
      'Action: failed',
      'Status: 5.1.1',
      '--b--',
      '',
    ].join('\r\n');
    const bounceFile = path.join(w.dir, 'bounce.eml');
    fs.writeFileSync(bounceFile, bounce);
    const r = await w.cli(['ingest', '--json', path.join(EXAMPLES, 'autosvar-franvaro.eml'), path.join(EXAMPLES, 'nyhetsbrev.eml'), bounceFile]);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.kind)).toEqual(['autoreply', 'bulk', 'bounce']);
    for (const l of lines) {
      expect(l.caseId).toBeNull();
      expect(l.action).toBe('recorded');
    }
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    expect(pickupFiles(w)).toHaveLength(0);
    expect(JSON.parse((await w.cli(['cases', '--json'])).stdout)).toEqual([]);
  });

  test('sameMessageIdTwiceIsFiledOnceAndRecordedAsDuplicate', async () => {
    const file = path.join(EXAMPLES, 'complaint-english.eml');
    const first = jsonLines((await w.cli(['ingest', '--json', file])).stdout)[0];
    const second = jsonLines((await w.cli(['ingest', '--json', file])).stdout)[0];
    expect(first).toMatchObject({ kind: 'complaint', action: 'opened', messageId: '20261120164011.john.0042@example.org' });
    expect(second).toMatchObject({ kind: 'duplicate', action: 'skipped', caseId: null });
    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as unknown[];
    expect(cases).toHaveLength(1);
  });

  test('mailWithoutMessageIdIsDeduplicatedByItsBytes', async () => {
    const file = path.join(w.dir, 'no-id.eml');
    fs.writeFileSync(file, complaintMail('noid', { messageId: null }));
    const a = jsonLines((await w.cli(['ingest', '--json', file])).stdout)[0];
    const b = jsonLines((await w.cli(['ingest', '--json', file])).stdout)[0];
    expect(a.kind).toBe('complaint');
    expect(b.kind).toBe('duplicate');
  });

  test('malformedMailIsQuarantinedWithItsBytesAndTheNextMailIsFiled', async () => {
    // A header block over mailparser's limit makes the parser throw: a real unreadable mail.
    const broken = `From: x@example.com\r\nSubject: ${'x'.repeat(3 * 1024 * 1024)}\r\n\r\nbody\r\n`;
    deliverToMaildir(w.maildir, broken, '1000.broken.test');
    deliverToMaildir(w.maildir, complaintMail(2), '1001.good.test');
    const r = await w.cli(['run', '--once', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1, quarantined: 1 });
    expect(r.stderr).toMatch(/mail quarantined/);

    const q = JSON.parse((await w.cli(['quarantine', '--json'])).stdout) as Array<{ id: number; stage: string; error: string; size: number }>;
    expect(q).toHaveLength(1);
    expect(q[0].stage).toBe('parse');
    expect(q[0].error).toMatch(/header size/i);
    expect(q[0].size).toBe(Buffer.byteLength(broken));
    const { store, close } = w.store();
    try {
      const row = store.inbound(q[0].id)!;
      const raw = store.rawMail(row.sha256)!;
      expect('path' in raw).toBe(true); // 3 MB: kept as a file, not a database row
      const bytes = 'bytes' in raw ? raw.bytes : fs.readFileSync(path.join(w.dataDir, raw.path));
      expect(bytes.equals(Buffer.from(broken))).toBe(true);
    } finally {
      close();
    }
    // Both files left new/: the broken one is kept in the database, not lost and not retried forever.
    expect(fs.readdirSync(path.join(w.maildir, 'new'))).toEqual([]);

    const retry = await w.cli(['quarantine', 'retry', String(q[0].id)]);
    expect(retry.code).toBe(1);
    expect(retry.stdout).toMatch(/still failing/);
    const again = JSON.parse((await w.cli(['quarantine', '--json'])).stdout) as Array<{ attempts: number }>;
    expect(again[0].attempts).toBe(2);
  });

  test('mailThatKeepsKillingTheProcessBlocksTheQueueOrTakesInnocentMailWithIt', async () => {
    // Three mails stored; the process "died" while processing two of them: once for the first
    // (caught in flight), four times for the second (a poison mail).
    const { store, close } = w.store();
    let ids: number[];
    try {
      ids = storeArrivals(
        store,
        w.dataDir,
        'test',
        [1, 2, 3].map((n) => ({ raw: Buffer.from(complaintMail(`poison${n}`)), receivedAt: new Date(), mailbox: null, locator: null, sourceKey: null })),
        new Date().toISOString(),
      ).map((r) => r.id);
      store.db.prepare('UPDATE inbound SET attempts = 1 WHERE id = ?').run(ids[0]);
      store.db.prepare('UPDATE inbound SET attempts = 4 WHERE id = ?').run(ids[1]);
    } finally {
      close();
    }
    const r = await w.cli(['run', '--once', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ filed: 2, quarantined: 1 });
    const q = JSON.parse((await w.cli(['quarantine', '--json'])).stdout) as Array<{ id: number; stage: string; error: string }>;
    expect(q).toEqual([expect.objectContaining({ id: ids[1], stage: 'process', error: expect.stringMatching(/started 4 times and never finished/) })]);
    // The fresh mail was filed before the one caught in flight (deferred, tried alone).
    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as Array<{ customer: { address: string } }>;
    expect(cases.map((c) => c.customer.address)).toEqual(['kundpoison3@example.com', 'kundpoison1@example.com']);
  });

  test('largeMailIsKeptAsAFileAndItsAttachmentUnderAGeneratedName', async () => {
    const pdf = crypto.randomBytes(3 * 1024 * 1024);
    const raw = mailWithAttachment({ attachment: pdf, filename: '../../../etc/passwd', messageId: 'large-1@example.com' });
    deliverToMaildir(w.maildir, raw);
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const shown = JSON.parse((await w.cli(['case', 'show', 'KLG-' + new Date().getFullYear() + '-000001', '--json'])).stdout) as {
      messages: Array<{ direction: string; attachments?: Array<{ filename: string; size: number; sha256: string; path: string }> }>;
    };
    const att = shown.messages.find((m) => m.direction === 'in')!.attachments![0];
    const sha = crypto.createHash('sha256').update(pdf).digest('hex');
    expect(att).toMatchObject({ filename: '../../../etc/passwd', size: pdf.length, sha256: sha, path: path.join('attachments', sha.slice(0, 2), sha) });
    expect(fs.readFileSync(path.join(w.dataDir, att.path)).equals(pdf)).toBe(true);
    const rawSha = crypto.createHash('sha256').update(raw).digest('hex');
    expect(fs.readFileSync(path.join(w.dataDir, 'raw', rawSha.slice(0, 2), `${rawSha}.eml`)).toString()).toBe(raw);
    expect(fs.readdirSync(path.join(w.dataDir, 'raw', 'tmp'))).toEqual([]);
  });

  test('customerReplyWithCaseTagIsFollowupButThirdPartyTagOpensNewCase', async () => {
    const opened = jsonLines((await w.cli(['ingest', '--json', path.join(EXAMPLES, 'klagomal-paminnelseavgift.eml')])).stdout)[0];
    const number = opened.caseId as string;
    const reply = path.join(w.dir, 'reply.eml');
    fs.writeFileSync(
      reply,
      complaintMail('r', {
        from: 'Anna Svensson <Anna.Svensson@EXAMPLE.com>',
        subject: `SV: [${number}] Vi har tagit emot ditt klagomål`,
        body: 'Här kommer kontoutdraget.',
      }),
    );
    const stranger = path.join(w.dir, 'stranger.eml');
    fs.writeFileSync(
      stranger,
      complaintMail('s', { from: 'Okänd <someone@elsewhere.example>', subject: `Re: [${number}] hej`, body: 'Jag skriver i någon annans ärende.' }),
    );
    const [f, s] = jsonLines((await w.cli(['ingest', '--json', reply, stranger])).stdout);
    expect(f).toMatchObject({ kind: 'followup', caseId: number, action: 'attached' });
    expect(s).toMatchObject({ kind: 'complaint', action: 'opened' });
    expect(s.caseId).not.toBe(number);

    const shown = JSON.parse((await w.cli(['case', 'show', s.caseId as string, '--json'])).stdout) as { refersTo: string };
    expect(shown.refersTo).toBe(number);
    const original = JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as { messages: Array<{ direction: string; kind: string }> };
    expect(original.messages.filter((m) => m.direction === 'in').map((m) => m.kind)).toEqual(['complaint', 'followup']);
  });

  test('replyToOurAcknowledgementWithoutTagIsFollowup', async () => {
    deliverToMaildir(w.maildir, complaintMail(3, { from: 'Kund <kund3@example.com>' }));
    await w.cli(['run', '--once']);
    const ack = parseHeaders(fs.readFileSync(path.join(w.pickup, pickupFiles(w)[0])));
    const ackId = ack.get('message-id')!;
    // Outlook-style: no tag in the subject, only In-Reply-To.
    deliverToMaildir(
      w.maildir,
      complaintMail('3b', { from: 'Kund <kund3@example.com>', subject: 'Svar', headers: [`In-Reply-To: ${ackId}`, `References: ${ackId}`], body: 'Tack.' }),
    );
    await w.cli(['run', '--once']);
    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as unknown[];
    expect(cases).toHaveLength(1);
    expect(pickupFiles(w)).toHaveLength(1);
  });

  test('caseShowPrintsMessagesInAndOutAndTheEventHistory', async () => {
    deliverToMaildir(w.maildir, fs.readFileSync(path.join(EXAMPLES, 'kort-klagomal-html.eml')));
    await w.cli(['run', '--once']);
    const shown = JSON.parse((await w.cli(['case', 'show', 'KLG-' + new Date().getFullYear() + '-000001', '--json'])).stdout) as {
      messages: Array<{ direction: string; text: string; status?: string }>;
      events: Array<{ type: string }>;
      deadlines: Array<{ milestone: string; dueAt: string; metAt: string | null }>;
    };
    const inbound = shown.messages.find((m) => m.direction === 'in')!;
    // HTML-only mail: converted to text, scripts and styles gone.
    expect(inbound.text).toContain('mycket missnöjd');
    expect(inbound.text).not.toMatch(/alert|color: red/);
    expect(shown.messages.find((m) => m.direction === 'out')).toMatchObject({ status: 'sent' });
    expect(shown.events.map((e) => e.type)).toEqual([
      'case-opened',
      'deadline-set', // acknowledgement: 24 hours (the default policy promise-24h-14d)
      'deadline-set', // finalAnswer: 14 calendar days
      'mail-filed',
      'acknowledgement-queued',
      'mail-sent',
      'milestone-met', // the acknowledgement milestone, met by sending it
    ]);
    expect(shown.deadlines.map((d) => [d.milestone, d.metAt !== null])).toEqual([
      ['acknowledgement', true],
      ['finalAnswer', false],
    ]);
    const human = await w.cli(['case', 'show', 'KLG-' + new Date().getFullYear() + '-000001']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Events:/);
    expect(human.stdout).toMatch(/acknowledgement-queued/);
  });

  test('startPicksUpAMailCopiedIntoNewWithinSecondsAndStopsCleanlyOnSigterm', async () => {
    const child = w.start();
    await waitFor('service start', () => /klagomal started/.test(child.output()), 15_000);
    // A person copying a file straight into new/ (not via tmp/): the settle check must still take it.
    fs.copyFileSync(path.join(EXAMPLES, 'complaint-english.eml'), path.join(w.maildir, 'new', 'copied.eml'));
    const t0 = Date.now();
    await waitFor('acknowledgement in the pickup folder', () => pickupFiles(w).length === 1, 10_000);
    const latency = Date.now() - t0;
    expect(latency).toBeLessThan(5000);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 10_000)))]);
    clearTimeout(timer);
    expect(code).toBe(0);
    expect(child.output()).toMatch(/stopped cleanly/);
  });

  test('unknownCaseAndBadArgumentsGiveOneLineReasonsAndNonZeroExit', async () => {
    const missing = await w.cli(['case', 'show', 'KLG-2026-999999']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/no case 'KLG-2026-999999'/);
    const bad = await w.cli(['cases', '--status', 'bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/allowed: new, in-progress/);
    const help = await w.cli(['outbox', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/klagomal outbox/);
  });
});

describe('config check', () => {
  test('reportsEveryProblemAtOnceWithKeyAndFile', async () => {
    const w = makeWorld({
      firm: { name: 'X', complaintsAddress: 'not-an-address' },
      cases: { prefix: 'klg' },
      sources: [{ type: 'imap', name: 'box', host: 'imap.example.com', user: 'u', passwordEnv: 'KLAGOMAL_TEST_UNSET_PASSWORD', port: 99999 }],
      transport: { type: 'smpt' },
      langauge: 'sv',
    });
    try {
      const r = await w.cli(['config', 'check']);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(r.stderr).toContain(w.configFile);
      expect(r.stderr).toMatch(/firm\.complaintsAddress: expected an e-mail address/);
      expect(r.stderr).toMatch(/cases\.prefix: expected 1-10 capital letters/);
      expect(r.stderr).toMatch(/sources\[0\]\.port: expected a whole number from 1 to 65535/);
      expect(r.stderr).toMatch(/transport\.type: got "smpt"; allowed: "pickup", "smtp", "graph" \(did you mean "smtp"\?\)/);
      expect(r.stderr).toMatch(/langauge: unknown key \(did you mean "language"\?\)/);
      expect(lines.length).toBeGreaterThanOrEqual(6);
      // Other commands refuse to run on it, with a one-line reason.
      const cases = await w.cli(['cases']);
      expect(cases.code).toBe(1);
      expect(cases.stderr.trim().split('\n')).toHaveLength(1);
      expect(cases.stderr).toMatch(/run 'klagomal config check'/);
    } finally {
      w.cleanup();
    }
  });

  test('theShippedConfigsPass', async () => {
    const w = makeWorld();
    try {
      const r = await w.cli(['config', 'check']);
      expect(r.stdout).toMatch(/OK/);
      expect(r.code).toBe(0);
    } finally {
      w.cleanup();
    }
  });
});
