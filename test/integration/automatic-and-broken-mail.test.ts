/**
 * Issue 17, end to end through the real binary: where automatic mail must not go (item 4: a
 * Reply-To that is ourselves or a colleague), broken mail that must still be read right (item 8:
 * CR-only line endings, impossible dates), and the manager's digest (item 8: imported old
 * complaints are not breaches, no digest of nothing, `run --once` sends before it counts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { makeWorld, World, complaintMail, deliverToMaildir } from '../support/world';

interface IngestLine {
  kind: string;
  caseId: string | null;
  action: string;
  acknowledgement: string;
}

interface CaseJson {
  number: string;
  customer: { name: string | null; address: string | null };
  fields: Record<string, unknown>;
  deadlines: Array<{ milestone: string; metAt: string | null; notApplicable: string | null }>;
  messages: Array<{ direction: string; kind?: string; dateHeader?: string | null; problems?: string[] }>;
  events: Array<{ type: string; detail: Record<string, unknown> }>;
}

async function ingest(w: World, raw: string | Buffer, name = 'mail.eml'): Promise<IngestLine> {
  const file = path.join(w.dir, `${Math.random().toString(36).slice(2)}-${name}`);
  fs.writeFileSync(file, raw);
  const r = await w.cli(['ingest', '--json', file]);
  expect(r.stderr).not.toMatch(/"level":"error"/);
  return JSON.parse(r.stdout.trim().split('\n')[0]) as IngestLine;
}

async function caseShow(w: World, number: string): Promise<CaseJson> {
  const r = await w.cli(['case', 'show', number, '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as CaseJson;
}

async function outbox(w: World): Promise<Array<{ kind: string; to: string; subject: string }>> {
  const r = await w.cli(['outbox', '--json']);
  return (JSON.parse(r.stdout) as Array<{ kind: string; toAddress?: string; to?: string; to_address?: string; subject: string }>).map((o) => ({
    kind: o.kind,
    to: o.toAddress ?? o.to ?? o.to_address ?? '',
    subject: o.subject,
  }));
}

function pickup(w: World): string[] {
  return fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => f.endsWith('.eml')) : [];
}

/** A web form's mail: a no-reply sender, the customer (supposedly) in Reply-To. */
function formMail(replyTo: string, n: string): string {
  return [
    'From: Webbformulär <noreply@formular.example>',
    `Reply-To: ${replyTo}`,
    'To: klagomal@testfinans.se',
    `Subject: Klagomål via formuläret ${n}`,
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    `Message-ID: <form-${n}-${Math.random().toString(36).slice(2)}@formular.example>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Namn: Karin Kund',
    'Ärendet gäller: avgift',
    'Beskrivning: Ni har tagit ut en avgift på 60 kr som jag inte känner igen, jag vill ha pengarna tillbaka.',
    '',
  ].join('\r\n');
}

describe('where automatic mail must not go', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('replyToOurAddressWithTrailingDotIsNotAcknowledged', async () => {
    w = makeWorld();
    // However our address is written: the DNS root's dot, capitals, a subaddress.
    for (const [i, replyTo] of ['klagomal@testfinans.se.', 'Klagomal@Testfinans.SE.', 'klagomal+svar@testfinans.se', '"klagomal"@testfinans.se'].entries()) {
      const r = await ingest(w, formMail(replyTo, `us${i}`));
      expect(r).toMatchObject({ kind: 'complaint', action: 'opened', acknowledgement: 'suppressed' });
      const c = await caseShow(w, r.caseId!);
      const suppressed = c.events.find((e) => e.type === 'acknowledgement-suppressed');
      expect(String(suppressed?.detail.reason)).toMatch(/our own complaints address|staff address/);
    }
    expect((await outbox(w)).filter((o) => o.kind === 'acknowledgement')).toEqual([]);
  });

  test('replyToStaffAddressIsNotAcknowledged', async () => {
    w = makeWorld({
      firm: {
        name: 'Testfinans AB',
        complaintsAddress: 'klagomal@testfinans.se',
        staffDomains: ['testfinans.se'],
        staffAddresses: ['jurist@advokatbyra.example'],
        authservIds: ['mx1.testfinans.se'],
      },
      officers: [{ name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' }],
    });
    for (const [i, replyTo] of ['Olle <olle@testfinans.se>', 'olle@testfinans.se.', 'olle+kund@testfinans.se', 'jurist@advokatbyra.example'].entries()) {
      const r = await ingest(w, formMail(replyTo, `staff${i}`));
      expect(r).toMatchObject({ kind: 'complaint', action: 'opened', acknowledgement: 'suppressed' });
      const c = await caseShow(w, r.caseId!);
      expect(String(c.events.find((e) => e.type === 'acknowledgement-suppressed')?.detail.reason)).toMatch(/staff address/);
    }
    // The officer hears of the cases as contact person, but never gets a customer's acknowledgement.
    expect((await outbox(w)).filter((o) => o.kind === 'acknowledgement')).toEqual([]);
    // A real customer in Reply-To is still acknowledged.
    expect(await ingest(w, formMail('Karin Kund <karin@example.com>', 'real'))).toMatchObject({ kind: 'complaint', acknowledgement: 'queued' });
  });
});

describe('broken mail is read right', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('crOnlyLineEndingsKeepTheSender', async () => {
    w = makeWorld();
    const lines = [
      'From: Anna Kund <anna.kund@example.com>',
      'To: klagomal@testfinans.se',
      'Subject: Felaktig avgift',
      'Date: Thu, 19 Nov 2026 09:14:02 +0100',
      'Message-ID: <cr-only.4711@mail.angripare.example>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hej,',
      'ni har tagit ut en avgift på 60 kr den 3 november 2026.',
      'Jag vill ha pengarna tillbaka.',
      '',
      'Anna Kund',
      '',
    ];
    // CR only (old Mac clients, some forms), CR CR LF (a doubled conversion), and a mix.
    const variants: Array<[string, string]> = [
      ['cr', lines.join('\r')],
      ['crcrlf', lines.join('\r\r\n')],
      ['mixed', lines.slice(0, 3).join('\r') + '\r' + lines.slice(3).join('\r\n')],
    ];
    for (const [name, raw] of variants) {
      const r = await ingest(w, raw.replace('cr-only.4711', `cr-only-${name}.4711`), `${name}.eml`);
      expect(r).toMatchObject({ kind: 'complaint', action: 'opened', acknowledgement: 'queued' });
      const c = await caseShow(w, r.caseId!);
      expect(c.customer.address).toBe('anna.kund@example.com');
      const text = JSON.stringify(c.messages);
      expect(text).toContain('Felaktig avgift');
      expect(text).toContain('bare CR line endings read as CRLF');
    }
    const acks = (await outbox(w)).filter((o) => o.kind === 'acknowledgement');
    expect(acks.map((a) => a.to)).toEqual(['anna.kund@example.com', 'anna.kund@example.com', 'anna.kund@example.com']);
    // Never the address-like text inside the Message-ID.
    expect(JSON.stringify(await outbox(w))).not.toMatch(/angripare/);
  });

  test('implausibleDateIsNotAnIncidentDate', async () => {
    w = makeWorld();
    const cases: Array<[string, string]> = [
      ['year 275000', 'Mon, 13 Nov 275000 10:00:00 +0100'],
      ['year 1970', 'Thu, 01 Jan 1970 00:00:00 +0000'],
      ['far in the future', 'Fri, 03 Nov 2045 10:00:00 +0100'],
    ];
    for (const [i, [, date]] of cases.entries()) {
      const raw = complaintMail(`date${i}`, {
        body: 'Hej, igår drogs en avgift på 60 kr den 3 nov som jag inte känner igen. Jag vill ha pengarna tillbaka.',
      }).replace('Date: Thu, 19 Nov 2026 09:14:02 +0100', `Date: ${date}`);
      const r = await ingest(w, raw);
      expect(r).toMatchObject({ kind: 'complaint', action: 'opened' });
      const c = await caseShow(w, r.caseId!);
      const incident = c.fields.incidentDate as string | null;
      // Read against the arrival (now), never against the impossible Date header.
      expect(incident).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const year = Number(incident!.slice(0, 4));
      const thisYear = new Date().getUTCFullYear();
      expect(year === thisYear || year === thisYear - 1).toBe(true);
      expect(new Date(incident!).getTime()).toBeLessThanOrEqual(Date.now() + 86_400_000);
      const inbound = c.messages.find((m) => m.direction === 'in')!;
      expect(JSON.stringify(inbound)).toContain('implausible Date header');
      expect(JSON.stringify(c)).not.toMatch(/275000|\+0*275/);
    }
  });
});

// ---- the manager's digest ------------------------------------------------------------------------

const MANAGER = 'maja@testfinans.se';

/** A world with a manager and the daily digest due at any time of day. */
function digestWorld(extra: Record<string, unknown> = {}): World {
  return makeWorld({
    officers: [
      { name: 'Maja Chef', address: MANAGER, role: 'manager' },
      { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
    ],
    deadlines: { escalation: { enabled: true, digestTime: '00:00' } },
    ...extra,
  });
}

async function digests(w: World): Promise<string[]> {
  const out: string[] = [];
  for (const f of pickup(w)) {
    const raw = fs.readFileSync(path.join(w.pickup, f));
    const m = await simpleParser(raw);
    if (/^Klagomål \d/.test(m.subject ?? '') && m.to && JSON.stringify(m.to).includes(MANAGER)) out.push(m.text ?? '');
  }
  return out;
}

function oldComplaint(n: number): string {
  return [
    `From: Gammal Kund ${n} <gammal.${n}@example.com>`,
    'To: klagomal@testfinans.se',
    `Subject: Fel avgift ${n}`,
    `Date: Tue, 0${n} Jun 2021 10:00:00 +0200`,
    `Message-ID: <old-${n}@example.com>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hej, jag vill klaga på en avgift på ${50 + n} kr. Jag vill ha pengarna tillbaka.`,
    '',
  ].join('\r\n');
}

describe("the manager's digest", () => {
  let w: World;
  afterEach(() => w?.cleanup());

  test('importedOldComplaintsAreNotBreachedInTheDigest', async () => {
    w = digestWorld();
    const folder = path.join(w.dir, 'old');
    fs.mkdirSync(folder);
    for (let n = 1; n <= 3; n++) fs.writeFileSync(path.join(folder, `old-${n}.eml`), oldComplaint(n));
    const imported = await w.cli(['import', folder, '--json']);
    expect(imported.code).toBe(0);
    // One live complaint, so that there is a digest to read.
    deliverToMaildir(w.maildir, complaintMail('live'));
    expect((await w.cli(['run', '--once'])).code).toBe(0);

    const [digest] = await digests(w);
    expect(digest).toBeDefined();
    expect(digest).toContain('Överskridna tidsfrister (0)');
    expect(digest).toContain('Öppna ärenden: 1');

    // The same rule everywhere: `cases --breached`, escalation, the case, the statistics.
    const breached = JSON.parse((await w.cli(['cases', '--breached', '--json'])).stdout) as unknown[];
    expect(breached).toEqual([]);
    const escalated = JSON.parse((await w.cli(['escalate', '--json'])).stdout) as { breaches: number };
    expect(escalated.breaches).toBe(0);
    const all = JSON.parse((await w.cli(['cases', '--json'])).stdout) as Array<{ number: string; receivedAt: string; status: string }>;
    const old = all.filter((c) => c.receivedAt.startsWith('2021'));
    expect(old).toHaveLength(3);
    for (const c of old) {
      expect(c.status).toBe('new'); // still open, for an officer to close
      const shown = await caseShow(w, c.number);
      expect(shown.deadlines.length).toBeGreaterThan(0);
      for (const d of shown.deadlines) expect(d.notApplicable).toBe('imported');
    }
    // Through tomorrow's UTC date: the live case's Stockholm date may already be tomorrow's.
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const report = JSON.parse((await w.cli(['report', '--from', '2021-01-01', '--to', to, '--format', 'json'])).stdout) as {
      statistics: { breaches: unknown[]; deadlines: Array<{ total: number }> };
      register: Array<{ caseNumber: string; deadlines: Array<{ result: string }> }>;
    };
    expect(report.statistics.breaches).toEqual([]);
    // Only the live case's deadlines are counted.
    const live = report.register.find((r) => !old.some((c) => c.number === r.caseNumber))!;
    const counted = report.statistics.deadlines.reduce((n, d) => n + d.total, 0);
    expect(counted).toBe(live.deadlines.length);
    for (const r of report.register.filter((x) => old.some((c) => c.number === x.caseNumber))) {
      expect(r.deadlines.every((d) => d.result === 'not-applicable')).toBe(true);
    }
  });

  test('firstStartSendsNoEmptyDigest', async () => {
    w = digestWorld();
    const first = await w.cli(['run', '--once', '--json']);
    expect(first.code).toBe(0);
    expect(pickup(w)).toEqual([]); // nothing to report: no mail at all
    // With something open, the next day's digest is sent.
    deliverToMaildir(w.maildir, complaintMail('first'));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    expect(await digests(w)).toEqual([]); // today was claimed without a mail: one digest a day at most
    // A later Stockholm day, whatever the time of day now (30 hours on is never still today).
    const later = new Date(Date.now() + 30 * 3600_000);
    const next = JSON.parse((await w.cli(['escalate', '--now', later.toISOString(), '--json'])).stdout) as { digest: boolean };
    expect(next.digest).toBe(true);
  });

  test('runOnceDigestCountsThisPassAcknowledgementsAsSent', async () => {
    w = digestWorld();
    deliverToMaildir(w.maildir, complaintMail('ack1', { subject: 'Avgift ett' }));
    deliverToMaildir(w.maildir, complaintMail('ack2', { subject: 'Avgift två' }));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    // Both acknowledgements went out in this pass...
    const sent = (await outbox(w)).filter((o) => o.kind === 'acknowledgement');
    expect(sent).toHaveLength(2);
    // ...and the digest of the same pass knows: no acknowledgement is listed as due.
    const [digest] = await digests(w);
    expect(digest).toBeDefined();
    expect(digest).not.toContain('bekräftelse senast');
    expect(digest).toContain('slutligt svar senast');
    const files = pickup(w);
    expect(files.length).toBe(2 + 1 + 2); // two acknowledgements, one digest, two contact-person notices
  });
});
