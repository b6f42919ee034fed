/**
 * `klagomal import` end to end, through the real binary (issue 8, "Backfills"): an old mailbox
 * is filed like live mail, exactly once however often it is imported, and old mail is never
 * answered; mail after `import.acknowledgeAfter` is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World } from '../support/world';
import { mboxOf } from '../support/mutt';
import type { ImportSummary } from '../../src/cli/import';
import { sha256, storeArrivals } from '../../src/ingest/intake';

/** A distinct complaint: its own sender, subject and Message-ID, no thread headers. */
function oldComplaint(n: number, date: Date): string {
  return [
    `From: Kund Nummer${n} <kund.${n}@exempel${n % 97}.se>`,
    'To: klagomal@testfinans.se',
    `Subject: Fel avgift på konto ${100000 + n}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <old-${n}@exempel${n % 97}.se>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Hej, jag vill klaga på en avgift på ${50 + (n % 400)} kr som drogs från mitt konto ${100000 + n}.`,
    // A body line starting "From " tests the mboxrd quoting on the way in and out.
    'From min sida är det fel, jag vill ha pengarna tillbaka.',
    '',
    'Med vänlig hälsning',
    `Kund Nummer${n}`,
    '',
  ].join('\r\n');
}

function pickupFiles(w: World): string[] {
  return fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => !f.startsWith('.')) : [];
}

function summaryOf(stdout: string): ImportSummary {
  return JSON.parse(stdout.trim()) as ImportSummary;
}

function count(w: World, sql: string, ...params: unknown[]): number {
  const { store, close } = w.store();
  try {
    return (store.db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    close();
  }
}

describe('klagomal import', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('importOf2000MailMboxTwiceFiles2000CasesAndSendsNothing', async () => {
    w = makeWorld();
    // 2,000 complaints over 2025, six hours apart (dates all in the past: believed as given).
    const start = Date.UTC(2025, 0, 1, 8, 0, 0);
    const expected = new Map<string, string>(); // customer address -> received_at
    const parts: string[] = [];
    for (let n = 1; n <= 2000; n++) {
      const date = new Date(start + n * 6 * 3600_000);
      expected.set(`kund.${n}@exempel${n % 97}.se`, date.toISOString());
      parts.push(mboxOf(oldComplaint(n, date), `kund.${n}@exempel${n % 97}.se`));
    }
    const mbox = path.join(w.dir, 'gamla-klagomal.mbox');
    fs.writeFileSync(mbox, parts.join(''));

    const t0 = Date.now();
    const first = await w.cli(['import', mbox, '--json']);
    const firstMs = Date.now() - t0;
    expect(first.stderr).not.toMatch(/"level":"(error|warn)"/);
    expect(first.code).toBe(0);
    const s1 = summaryOf(first.stdout);
    expect(s1).toMatchObject({ kind: 'mbox', read: 2000, stored: 2000, alreadyImported: 0, quarantined: 0, acknowledgementsQueued: 0, interrupted: false });
    expect(s1.filed.complaint).toBe(2000);
    expect(s1.receivedFrom).toEqual({ 'date-header': 2000, envelope: 0, 'file-time': 0 });
    // Not a terminal: no progress redrawn in place.
    expect(first.stderr).not.toContain('\r');

    const t1 = Date.now();
    const second = await w.cli(['import', mbox, '--json']);
    const secondMs = Date.now() - t1;
    expect(second.code).toBe(0);
    const s2 = summaryOf(second.stdout);
    expect(s2).toMatchObject({ read: 2000, stored: 0, alreadyImported: 2000, quarantined: 0, acknowledgementsQueued: 0 });
    expect(Object.values(s2.filed).reduce((a, b) => a + b, 0)).toBe(0);
    process.stdout.write(`import of 2,000 mails: first run ${firstMs} ms (${s1.mailsPerSecond} mails/s by its own clock), second run ${secondMs} ms\n`);

    expect(count(w, 'SELECT COUNT(*) AS n FROM cases')).toBe(2000);
    expect(count(w, "SELECT COUNT(*) AS n FROM inbound WHERE source = 'import' AND state = 'filed' AND kind = 'complaint'")).toBe(2000);
    expect(count(w, 'SELECT COUNT(*) AS n FROM inbound')).toBe(2000);
    // Quiet: nothing queued, nothing to escalate, and the reason on every case.
    expect(count(w, 'SELECT COUNT(*) AS n FROM outbox')).toBe(0);
    expect(count(w, 'SELECT COUNT(*) AS n FROM deadlines WHERE next_escalation_at IS NOT NULL')).toBe(0);
    expect(count(w, "SELECT COUNT(*) AS n FROM events WHERE type = 'acknowledgement-suppressed' AND detail LIKE '%imported old mail%'")).toBe(2000);

    // Each case was received when its mail's Date header says, and its body came through unquoted.
    {
      const { store, close } = w.store();
      try {
        const rows = store.db.prepare('SELECT customer_address AS a, received_at AS r FROM cases').all() as Array<{ a: string; r: string }>;
        expect(rows).toHaveLength(2000);
        const wrong = rows.filter((row) => expected.get(row.a) !== row.r);
        expect(wrong).toEqual([]);
        const body = store.db.prepare("SELECT body_text AS b FROM messages WHERE message_id = 'old-7@exempel7.se'").get() as { b: string } | undefined;
        expect(body?.b).toContain('\nFrom min sida är det fel');
        expect(body?.b).not.toContain('>From');
      } finally {
        close();
      }
    }

    // A run of the service afterwards sends nothing either.
    const run = await w.cli(['run', '--once', '--json']);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout.trim()) as { sent: { sent: number } }).sent.sent).toBe(0);
    expect(count(w, 'SELECT COUNT(*) AS n FROM outbox')).toBe(0);
    expect(pickupFiles(w)).toEqual([]);
  }, 180_000);

  test('acknowledgeAfterCutOffAcknowledgesOnlyMailFromThatStockholmDayOn', async () => {
    // With a contact officer, to see that old mail does not notify one either.
    w = makeWorld({ import: { acknowledgeAfter: '2026-06-01' }, officers: [{ name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' }] });
    const mails: Array<[string, Date]> = [
      ['old-1', new Date('2026-05-10T10:00:00Z')],
      // 23:30 on 31 May in Stockholm (summer time, UTC+2): still before the cut-off day.
      ['old-2', new Date('2026-05-31T21:30:00Z')],
      // 00:30 on 1 June in Stockholm, though still 31 May in UTC: on the cut-off day.
      ['new-1', new Date('2026-05-31T22:30:00Z')],
      ['new-2', new Date('2026-09-15T08:00:00Z')],
    ];
    const mbox = path.join(w.dir, 'blandat.mbox');
    fs.writeFileSync(mbox, mails.map(([id, date], i) => mboxOf(oldComplaint(i + 1, date).replace(/<old-\d+@/, `<${id}@`))).join(''));

    const dry = await w.cli(['import', mbox, '--json', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(summaryOf(dry.stdout)).toMatchObject({ dryRun: true, read: 4, stored: 4, alreadyImported: 0 });

    const r = await w.cli(['import', mbox]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/filed as new complaints\s+4/);
    expect(r.stdout).toMatch(/acknowledgements queued\s+2\s+\(mail received before 2026-06-01 is filed without one/);

    const { store, close } = w.store();
    try {
      const queued = store.db
        .prepare('SELECT o.kind AS kind, m.message_id AS id FROM outbox o JOIN messages m ON m.case_id = o.case_id ORDER BY o.kind, m.message_id')
        .all() as Array<{ kind: string; id: string }>;
      expect(queued).toEqual([
        { kind: 'acknowledgement', id: 'new-1@exempel3.se' },
        { kind: 'acknowledgement', id: 'new-2@exempel4.se' },
        { kind: 'officer-new-case', id: 'new-1@exempel3.se' },
        { kind: 'officer-new-case', id: 'new-2@exempel4.se' },
      ]);
      // Only the new mail's deadlines are chased.
      const chased = store.db
        .prepare(
          'SELECT DISTINCT m.message_id AS id FROM deadlines d JOIN messages m ON m.case_id = d.case_id WHERE d.next_escalation_at IS NOT NULL ORDER BY 1',
        )
        .all() as Array<{ id: string }>;
      expect(chased.map((c) => c.id)).toEqual(['new-1@exempel3.se', 'new-2@exempel4.se']);
    } finally {
      close();
    }

    const run = await w.cli(['run', '--once', '--json']);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout.trim()) as { sent: { sent: number } }).sent.sent).toBe(4);
    const sentTo = pickupFiles(w)
      .map((f) => /^To: (?:.*<)?([^<>\s]+@[^<>\s]+)>?\s*$/m.exec(fs.readFileSync(path.join(w.pickup, f), 'utf8'))?.[1])
      .sort();
    expect(sentTo).toEqual(['kund.3@exempel3.se', 'kund.4@exempel4.se', 'olle@testfinans.se', 'olle@testfinans.se']);

    // A dry run now finds everything imported.
    const again = await w.cli(['import', mbox, '--json', '--dry-run']);
    expect(summaryOf(again.stdout)).toMatchObject({ read: 4, stored: 0, alreadyImported: 4 });
  }, 60_000);

  test('oldOfficerCommandsAndForgeriesAreRecordedNotActedOn', async () => {
    // An old mailbox holds officers' answers too: a #final from 2025 must not reach the customer today.
    w = makeWorld({ officers: [{ name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'manager' }] });
    const complaint = oldComplaint(1, new Date('2025-03-03T09:00:00Z'));
    const officerMail = (command: string, id: string, auth: boolean): string =>
      [
        ...(auth
          ? [
              'Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se; spf=pass smtp.mailfrom=olle@testfinans.se; dmarc=pass header.from=testfinans.se',
            ]
          : []),
        'From: Olle Handläggare <olle@testfinans.se>',
        'To: klagomal@testfinans.se',
        'Subject: Re: Fel avgift på konto 100001',
        'Date: Tue, 04 Mar 2025 10:00:00 +0100',
        `Message-ID: <${id}@testfinans.se>`,
        'In-Reply-To: <old-1@exempel1.se>',
        'References: <old-1@exempel1.se>',
        'Content-Type: text/plain; charset=utf-8',
        '',
        command,
        'Hej, vi har gått igenom ditt ärende och betalar tillbaka avgiften.',
        '',
      ].join('\r\n');
    const mbox = path.join(w.dir, 'med-svar.mbox');
    fs.writeFileSync(
      mbox,
      [complaint, officerMail('#ask', 'ask-1', true), officerMail('#final', 'final-1', true), officerMail('#status closed', 'forged-1', false)]
        .map((m) => mboxOf(m))
        .join(''),
    );
    const r = await w.cli(['import', mbox, '--json']);
    expect(r.code).toBe(0);
    expect(count(w, "SELECT COUNT(*) AS n FROM inbound WHERE kind IS NOT NULL AND kind <> 'quarantined'")).toBe(4);
    // All four on the one case, nothing queued for anyone, no command carried out.
    expect(count(w, 'SELECT COUNT(*) AS n FROM cases')).toBe(1);
    expect(count(w, 'SELECT COUNT(*) AS n FROM messages WHERE case_id IS NOT NULL')).toBe(4);
    expect(count(w, 'SELECT COUNT(*) AS n FROM outbox')).toBe(0);
    expect(
      count(
        w,
        "SELECT COUNT(*) AS n FROM events WHERE type IN ('officer-command', 'final-answer-queued', 'information-requested', 'spoofing-suspected', 'status-changed')",
      ),
    ).toBe(0);
    expect(count(w, "SELECT COUNT(*) AS n FROM cases WHERE status = 'new'")).toBe(1);
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    expect(pickupFiles(w)).toEqual([]);
  }, 60_000);

  test('crashBetweenStoreAndFilingIsFiledByTheNextImport', async () => {
    w = makeWorld();
    const first = oldComplaint(1, new Date('2024-03-01T09:00:00Z'));
    const mbox = path.join(w.dir, 'avbruten.mbox');
    fs.writeFileSync(mbox, mboxOf(first) + mboxOf(oldComplaint(2, new Date('2024-03-02T09:00:00Z'))));
    // An earlier import stored the first mail and died before filing it (the bytes as read from the mbox: LF line ends).
    const bytes = Buffer.from(first.replace(/\r\n/g, '\n'));
    {
      const { store, close } = w.store();
      storeArrivals(
        store,
        w.dataDir,
        'import',
        [{ raw: bytes, receivedAt: new Date('2024-03-01T09:00:00Z'), mailbox: null, locator: 'avbruten.mbox#1', sourceKey: `import:${sha256(bytes)}` }],
        new Date().toISOString(),
      );
      close();
    }
    const r = await w.cli(['import', mbox, '--json']);
    expect(r.code).toBe(0);
    const s = summaryOf(r.stdout);
    expect(s).toMatchObject({ read: 2, stored: 1, alreadyImported: 1 });
    expect(s.filed.complaint).toBe(2);
    expect(count(w, 'SELECT COUNT(*) AS n FROM cases')).toBe(2);
    expect(count(w, "SELECT COUNT(*) AS n FROM inbound WHERE state = 'stored'")).toBe(0);
  });

  test('maildirWithAnUnreadableMailQuarantinesItAndGoesOn', async () => {
    w = makeWorld();
    const md = path.join(w.dir, 'gammal-maildir');
    for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(md, sub), { recursive: true });
    fs.writeFileSync(path.join(md, 'cur', '1700000001.M1.old:2,S'), oldComplaint(1, new Date('2024-02-01T10:00:00Z')));
    fs.writeFileSync(path.join(md, 'cur', '1700000002.M1.old:2,S'), 'X-Garbage: yes\r\n\r\n'); // no sender, no text
    fs.mkdirSync(path.join(md, '.Sent', 'cur'), { recursive: true });
    fs.writeFileSync(path.join(md, '.Sent', 'cur', '1700000003.M1.old:2,S'), oldComplaint(3, new Date('2024-02-02T10:00:00Z')));
    fs.writeFileSync(path.join(md, 'new', '1700000004.M1.old'), oldComplaint(4, new Date('2024-02-03T10:00:00Z')));

    const r = await w.cli(['import', md, '--json']);
    expect(r.code).toBe(0);
    const s = summaryOf(r.stdout);
    expect(s).toMatchObject({ kind: 'maildir', read: 3, stored: 3, quarantined: 1, skippedFolders: ['.Sent'] });
    expect(s.filed.complaint).toBe(2);
    expect(count(w, "SELECT COUNT(*) AS n FROM inbound WHERE state = 'quarantined' AND locator = 'cur/1700000002.M1.old:2,S'")).toBe(1);
    // The log names no customer.
    expect(r.stderr).not.toMatch(/kund\.|exempel/);
  });

  test('maildirImportNamesTheFoldersItDidNotReadInItsSummaryAndJson', async () => {
    // An export folder of .eml files that also holds an empty new/: taken for a Maildir, it read
    // nothing, said nothing of its .eml files and exited 0.
    w = makeWorld();
    const exp = path.join(w.dir, 'export');
    fs.mkdirSync(path.join(exp, 'new'), { recursive: true });
    fs.mkdirSync(path.join(exp, '2024'), { recursive: true });
    fs.writeFileSync(path.join(exp, '2024', 'a.eml'), oldComplaint(1, new Date('2024-02-01T10:00:00Z')));
    fs.writeFileSync(path.join(exp, 'b.eml'), oldComplaint(2, new Date('2024-02-02T10:00:00Z')));
    const json = await w.cli(['import', exp, '--dry-run', '--json']);
    expect(summaryOf(json.stdout)).toMatchObject({ kind: 'maildir', read: 0, notRead: ['2024', 'b.eml'] });
    const text = await w.cli(['import', exp, '--dry-run']);
    expect(text.stdout).toMatch(/not read +2 +\(not in a Maildir folder: 2024, b\.eml; a folder of \.eml files is imported on its own\)/);
  });

  test('pathThatIsNoMailboxFailsNamingIt', async () => {
    w = makeWorld();
    const notes = path.join(w.dir, 'anteckningar.txt');
    fs.writeFileSync(notes, 'inte ett mbox\n');
    const r = await w.cli(['import', notes]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${notes}: not an mbox file`);
    const missing = await w.cli(['import', path.join(w.dir, 'finns-inte')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('finns-inte: cannot be read');
    expect((await w.cli(['import'])).code).toBe(2);
  });
});
