/**
 * A customer's reply on a closed case (issue 14: "not satisfied, I am going to ARN" was filed and
 * nobody was told). On a real database with the real templates, through the pipeline's own path
 * (store raw -> parse -> facts -> classify -> file -> act):
 *  - a follow-up on a closed case: the contact person (else the managers, else the admin) gets
 *    `officer-closed-case-reply` in their language, with the case tag, the customer's text, the
 *    outcome, when it was closed and how to `#reopen`; an event records it; the customer gets
 *    nothing automatic; the same mail acted on again notifies no one twice;
 *  - nobody is told of a follow-up on an open case, of old mail from `klagomal import`, of an
 *    auto-reply or a bounce on a closed case, or of the complaint forwarded again by staff.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import { parseMail } from '../../src/parse/parse';
import { maskMail } from '../../src/parse/mask-mail';
import { classify } from '../../src/classify/classify';
import { parseCommandMail, runOfficerCommands } from '../../src/officers/commands';
import { decideClosedCaseReply } from '../../src/officers/closed-case-reply';
import { FilingContext, FilingResult, fileMail, FiledMail } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { gatherFacts } from '../../src/pipeline/facts';
import { actOnMail } from '../../src/pipeline/act';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals, sha256 } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { CaseRow, EventRow, OutboxRow, Store } from '../../src/store/store';
import { caseDetail } from '../../src/cases/view';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';

const AUTHSERV = 'mx1.exempelfinans.se';
const COMPLAINTS = 'klagomal@exempelfinans.se';
const MAJA = 'maja@exempelfinans.se'; // manager
const OLLE = 'olle@exempelfinans.se'; // Swedish first
const JOHN = 'john@exempelfinans.se'; // English only
const CUSTOMER = 'kund@example.com';

const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const CLOSED = new Date('2026-03-10T15:00:00+01:00');
const REPLIED = new Date('2026-03-12T08:30:00+01:00');

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));

interface World {
  config: Config;
  store: Store;
  ctx: FilingContext;
  close(): void;
}

function makeWorld(officers: Array<Record<string, unknown>>, firm: Record<string, unknown> = {}): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-closed-reply-'));
  const config = parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'], authservIds: [AUTHSERV], ...firm },
      sources: [{ type: 'maildir', path: 'maildir' }],
      dataDir: './data',
      officers,
      deadlines: { escalation: { enabled: false } },
    },
    path.join(dir, 'config.json'),
  );
  const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  return {
    config,
    store,
    ctx: { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger },
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const OFFICERS = [
  { name: 'Maja Chef', address: MAJA, role: 'manager' },
  { name: 'Olle Handläggare', address: OLLE },
];

let seq = 0;

function rawMail(o: { from?: string; subject?: string; body?: string; date?: string; headers?: string[]; inReplyTo?: string }): Buffer {
  return Buffer.from(
    [
      ...(o.headers ?? []),
      `From: ${o.from ?? `Karin Kund <${CUSTOMER}>`}`,
      `To: ${COMPLAINTS}`,
      `Subject: ${o.subject ?? 'Felaktig avgift på min faktura'}`,
      `Date: ${o.date ?? 'Mon, 02 Mar 2026 09:00:00 +0100'}`,
      `Message-ID: <closed-reply-${++seq}@example.com>`,
      ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      o.body ??
        'Hej,\n\nni har tagit ut en avgift på 250 kr på min faktura för februari som jag inte känner igen. Jag vill ha tillbaka pengarna.\n\nKarin Kund',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** Store a raw mail as a source would (`source` "import" for `klagomal import`), then file and act on it. */
async function fileRaw(w: World, bytes: Buffer, at: Date, source = 'klagomal'): Promise<FilingResult> {
  const [stored] = storeArrivals(
    w.store,
    w.config.dataDir,
    source,
    [{ raw: bytes, receivedAt: at, mailbox: null, locator: null, sourceKey: null }],
    toInstant(at),
  );
  const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
  return w.store.tx(() => processMail(w.ctx, w.store.inbound(stored.id)!, parsed, at));
}

/** The processor's stages one by one, so that the act stage can be run again on the same filed mail. */
async function fileOnly(w: World, bytes: Buffer, at: Date): Promise<FiledMail> {
  const [stored] = storeArrivals(
    w.store,
    w.config.dataDir,
    'klagomal',
    [{ raw: bytes, receivedAt: at, mailbox: null, locator: null, sourceKey: null }],
    toInstant(at),
  );
  const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
  return w.store.tx(() => {
    const inbound = w.store.inbound(stored.id)!;
    const mail = maskMail(parsed, parsed.date ?? at);
    const facts = gatherFacts(w.store, inbound, mail, w.config, at);
    return fileMail(w.ctx, inbound, mail, parsed, classify(mail, facts, w.config.firm), facts, at);
  });
}

/** The contact person's command mail, run as handleOfficerMail runs it. */
function command(w: World, c: CaseRow, text: string, at: Date): void {
  const officer = c.contact_officer!;
  const bytes = Buffer.from(`From: ${officer}\r\nSubject: [${c.number}] command ${++seq}\r\n\r\n${text}`);
  const { id } = w.store.tx(() =>
    w.store.storeInbound(
      {
        source: 'test',
        mailbox: null,
        locator: null,
        sourceKey: null,
        uidvalidity: null,
        uid: null,
        receivedAt: toInstant(at),
        sha256: sha256(bytes),
        size: bytes.length,
        raw: { bytes },
      },
      toInstant(at),
    ),
  );
  const out = w.store.tx(() =>
    runOfficerCommands(
      w.ctx,
      w.store.caseById(c.id)!,
      { address: officer, name: null },
      parseCommandMail(text),
      { id, messageId: `cmd-${id}@exempelfinans.se` },
      at,
    ),
  );
  expect(out.errors).toEqual([]);
}

async function closedCase(w: World): Promise<CaseRow> {
  const r = await fileRaw(w, rawMail({}), RECEIVED);
  expect(r).toMatchObject({ kind: 'complaint', action: 'opened' });
  const c = w.store.caseById(r.caseId!)!;
  command(w, c, '#outcome upheld\n#status closed', CLOSED);
  expect(w.store.caseById(c.id)!.status).toBe('closed');
  return w.store.caseById(c.id)!;
}

const customerReply = (c: CaseRow, body = 'Jag är inte nöjd med ert svar. Jag tänker vända mig till ARN.'): Buffer =>
  rawMail({ subject: `SV: [${c.number}] Felaktig avgift på min faktura`, body, date: 'Thu, 12 Mar 2026 08:30:00 +0100' });

const notices = (w: World, c: CaseRow): OutboxRow[] => w.store.outboxOfCase(c.id).filter((o) => o.kind === 'officer-closed-case-reply');
const eventsOf = (w: World, c: CaseRow, type: string): EventRow[] => w.store.eventsOfCase(c.id).filter((e) => e.type === type);
const toCustomer = (w: World, c: CaseRow): OutboxRow[] => w.store.outboxOfCase(c.id).filter((o) => o.to_address === CUSTOMER);

describe('a customer reply on a closed case', () => {
  let w: World;
  afterEach(() => w.close());

  test('customerReplyOnClosedCaseNotifiesTheContactPerson', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    expect(c.contact_officer).toBe(OLLE);
    const before = toCustomer(w, c).length;

    const r = await fileRaw(w, customerReply(c), REPLIED);
    expect(r).toMatchObject({ kind: 'followup', caseId: c.id, acknowledgementQueued: false });

    const [notice, ...more] = notices(w, c);
    expect(more).toEqual([]);
    expect(notice).toMatchObject({ to_address: OLLE, language: 'sv', template: 'officer-closed-case-reply', status: 'queued' });
    // The case tag in the subject: a reply to the notice is a command mail on this case.
    expect(notice.subject).toBe(`[${c.number}] Kunden har skrivit i ett stängt ärende: Felaktig avgift på min faktura`);
    expect(notice.idempotency_key).toBe(`officer-closed-case-reply:${r.inboundId}:${OLLE}`);
    const text = notice.body_text!;
    expect(text).toContain('Jag är inte nöjd med ert svar. Jag tänker vända mig till ARN.');
    expect(text).toContain('Utfall:    upheld');
    expect(text).toContain('Stängt:    10 mars 2026 kl. 15:00');
    expect(text).toContain('#reopen');
    expect(text).toContain('förblir ärendet stängt');
    // The customer's mail is attached, as with a new case's notification.
    expect(notice.attach_inbound_id).toBe(r.inboundId);

    const [event] = eventsOf(w, c, 'closed-case-reply-notified');
    expect(event).toMatchObject({ inbound_id: r.inboundId, outbox_id: notice.id, actor: 'system' });
    expect(JSON.parse(event.detail)).toMatchObject({ officer: OLLE });

    // The case stays closed, and the customer gets nothing automatic.
    expect(w.store.caseById(c.id)!.status).toBe('closed');
    expect(toCustomer(w, c)).toHaveLength(before);

    // `case show` says so.
    const shown = caseDetail(w.store, w.store.caseById(c.id)!);
    expect(shown.closedAt).toBe(toInstant(CLOSED));
    expect(shown.customerMailSinceClosed).toEqual([{ at: toInstant(REPLIED), inboundId: r.inboundId, told: [OLLE] }]);
  });

  test('closedCaseReplyToAnEnglishOfficerIsInEnglish', async () => {
    w = makeWorld([{ name: 'John Officer', address: JOHN, languages: ['en'] }]);
    const c = await closedCase(w);
    await fileRaw(w, customerReply(c), REPLIED);
    const [notice] = notices(w, c);
    expect(notice).toMatchObject({ to_address: JOHN, language: 'en' });
    expect(notice.subject).toBe(`[${c.number}] The customer wrote on a closed case: Felaktig avgift på min faktura`);
    expect(notice.body_text).toContain('Closed:    10 March 2026 at 15:00');
    expect(notice.body_text).toContain('#reopen');
  });

  test('closedCaseReplyWithoutAContactPersonGoesToTheManagers', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    // The contact person left the firm: no longer among the officers.
    w.store.updateCase(c.id, { contactOfficer: 'gone@exempelfinans.se' }, toInstant(CLOSED));
    const r = await fileRaw(w, customerReply(c), REPLIED);
    const sent = notices(w, c);
    expect(sent.map((o) => o.to_address)).toEqual([MAJA]);
    expect(sent[0].body_text).toContain('som chef');
    expect(JSON.parse(eventsOf(w, c, 'closed-case-reply-notified')[0].detail)).toMatchObject({ officer: MAJA });
    expect(sent[0].idempotency_key).toBe(`officer-closed-case-reply:${r.inboundId}:${MAJA}`);
  });

  test('closedCaseReplyActedOnAgainNotifiesOnce', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    const filed = await fileOnly(w, customerReply(c), REPLIED);
    w.store.tx(() => actOnMail(w.ctx, filed, REPLIED));
    w.store.tx(() => actOnMail(w.ctx, filed, new Date(REPLIED.getTime() + 60_000)));
    expect(notices(w, c)).toHaveLength(1);
    expect(eventsOf(w, c, 'closed-case-reply-notified')).toHaveLength(1);
  });

  test('twoCustomerMailsOnAClosedCaseAreTwoNotifications', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    await fileRaw(w, customerReply(c, 'Första mejlet: jag är inte nöjd.'), REPLIED);
    await fileRaw(w, customerReply(c, 'Andra mejlet: nu har jag skickat det till ARN.'), new Date(REPLIED.getTime() + 3_600_000));
    const sent = notices(w, c);
    expect(sent).toHaveLength(2);
    expect(sent[1].body_text).toContain('Andra mejlet');
  });

  test('closedCaseReplyWithTemplatesLackingTheKindIsStillFiled (an old kept template set)', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    const errors: string[] = [];
    const ctx: FilingContext = {
      ...w.ctx,
      templates: {
        render: (kind, lang, data) => {
          if (kind === 'officer-closed-case-reply') throw new Error(`no template ${kind}/${lang}`);
          return TEMPLATES.render(kind, lang, data);
        },
        sources: (kind, lang) => TEMPLATES.sources(kind, lang),
      },
      log: { ...silentLogger, error: (msg: string) => void errors.push(msg) },
    };
    const bytes = customerReply(c);
    const [stored] = storeArrivals(
      w.store,
      w.config.dataDir,
      'klagomal',
      [{ raw: bytes, receivedAt: REPLIED, mailbox: null, locator: null, sourceKey: null }],
      toInstant(REPLIED),
    );
    const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
    const r = w.store.tx(() => processMail(ctx, w.store.inbound(stored.id)!, parsed, REPLIED));
    expect(r).toMatchObject({ kind: 'followup', caseId: c.id });
    expect(w.store.inbound(stored.id)!.state).toBe('filed');
    expect(notices(w, c)).toEqual([]);
    expect(errors).toEqual(['closed-case reply notification could not be rendered']);
  });

  test('hostile customer text in the notice: one-line subject, escaped HTML', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    await fileRaw(w, customerReply(c, '<script>alert(1)</script> {{case.number}}'), REPLIED);
    const [notice] = notices(w, c);
    expect(notice.body_html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(notice.body_html).not.toMatch(/<script/i);
    expect(notice.body_text).toContain('{{case.number}}');
  });
});

describe('nobody is told', () => {
  let w: World;
  afterEach(() => w.close());

  test('followUpOnAnOpenCaseNotifiesNobody', async () => {
    w = makeWorld(OFFICERS);
    const r = await fileRaw(w, rawMail({}), RECEIVED);
    const c = w.store.caseById(r.caseId!)!;
    command(w, c, '#status in-progress', CLOSED);
    const f = await fileRaw(w, customerReply(c), REPLIED);
    expect(f.kind).toBe('followup');
    expect(notices(w, c)).toEqual([]);
    expect(eventsOf(w, c, 'closed-case-reply-notified')).toEqual([]);
  });

  test('importedFollowUpOnAClosedCaseNotifiesNobody', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    const f = await fileRaw(w, customerReply(c), REPLIED, 'import');
    expect(f).toMatchObject({ kind: 'followup', caseId: c.id });
    expect(notices(w, c)).toEqual([]);
    expect(eventsOf(w, c, 'closed-case-reply-notified')).toEqual([]);
  });

  test('autoReplyOnAClosedCaseNotifiesNobody', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    const before = w.store.listOutbox().length;
    const auto = rawMail({
      subject: `Automatiskt svar: [${c.number}] Felaktig avgift på min faktura`,
      headers: ['Auto-Submitted: auto-replied'],
      body: 'Jag är på semester till och med 20 mars.',
      date: 'Thu, 12 Mar 2026 08:30:00 +0100',
    });
    const f = await fileRaw(w, auto, REPLIED);
    expect(f).toMatchObject({ kind: 'autoreply', caseId: c.id });
    expect(w.store.listOutbox()).toHaveLength(before);
    expect(eventsOf(w, c, 'closed-case-reply-notified')).toEqual([]);
  });

  test('bounceOnAClosedCaseNotifiesNobody', async () => {
    w = makeWorld(OFFICERS);
    const c = await closedCase(w);
    const before = w.store.listOutbox().length;
    const bounce = rawMail({
      from: 'Mail Delivery System <MAILER-DAEMON@mx.example.com>',
      subject: `Undelivered Mail Returned to Sender: [${c.number}] Felaktig avgift på min faktura`,
      body: 'This is the mail system at host mx.example.com. Your message could not be delivered.',
      date: 'Thu, 12 Mar 2026 08:30:00 +0100',
    });
    const f = await fileRaw(w, bounce, REPLIED);
    expect(f.kind).toBe('bounce');
    expect(w.store.listOutbox()).toHaveLength(before);
    expect(eventsOf(w, c, 'closed-case-reply-notified')).toEqual([]);
  });
});

describe('decideClosedCaseReply', () => {
  const config = parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'], authservIds: [AUTHSERV] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      officers: [...OFFICERS, { name: 'Mats Chef', address: 'mats@exempelfinans.se', role: 'manager', languages: ['en'] }],
    },
    '/tmp/config.json',
  );
  const followup = { kind: 'followup', reason: 'x', caseId: 1, senderDiffers: false } as const;
  const closed = { status: 'closed', contact_officer: OLLE } as const;

  test('the contact person, in their language', () => {
    expect(decideClosedCaseReply(config, { classification: followup, quietImport: false }, closed)).toEqual({
      notify: true,
      recipients: [{ address: OLLE, name: 'Olle Handläggare', language: 'sv', toManager: false }],
    });
  });

  test('no configured contact person: every manager, each in their language', () => {
    const d = decideClosedCaseReply(config, { classification: followup, quietImport: false }, { status: 'closed', contact_officer: null });
    expect(d).toEqual({
      notify: true,
      recipients: [
        { address: MAJA, name: 'Maja Chef', language: 'sv', toManager: true },
        { address: 'mats@exempelfinans.se', name: 'Mats Chef', language: 'en', toManager: true },
      ],
    });
  });

  test('no officers at all: the admin address; nobody configured: nobody, with the reason', () => {
    const admin = parseConfig(
      {
        firm: { name: 'X', complaintsAddress: COMPLAINTS, adminAddress: 'it@exempelfinans.se' },
        sources: [{ type: 'maildir', path: 'maildir' }],
        deadlines: { escalation: { enabled: false } },
      },
      '/tmp/config.json',
    );
    expect(decideClosedCaseReply(admin, { classification: followup, quietImport: false }, closed)).toMatchObject({
      notify: true,
      recipients: [{ address: 'it@exempelfinans.se', toManager: true }],
    });
    const none = parseConfig(
      { firm: { name: 'X', complaintsAddress: COMPLAINTS }, sources: [{ type: 'maildir', path: 'maildir' }], deadlines: { escalation: { enabled: false } } },
      '/tmp/config.json',
    );
    expect(decideClosedCaseReply(none, { classification: followup, quietImport: false }, closed)).toEqual({
      notify: false,
      why: 'no contact person, manager or admin address is configured',
    });
  });

  test('not told: an open case, old imported mail, the complaint forwarded again, machine mail', () => {
    const no = (d: ReturnType<typeof decideClosedCaseReply>): boolean => !d.notify;
    for (const status of ['new', 'in-progress', 'awaiting-customer', 'answered'] as const)
      expect(no(decideClosedCaseReply(config, { classification: followup, quietImport: false }, { status, contact_officer: OLLE }))).toBe(true);
    expect(no(decideClosedCaseReply(config, { classification: followup, quietImport: true }, closed))).toBe(true);
    expect(no(decideClosedCaseReply(config, { classification: { ...followup, forwardedAgain: true }, quietImport: false }, closed))).toBe(true);
    expect(no(decideClosedCaseReply(config, { classification: { kind: 'autoreply', reason: 'x', caseId: 1 }, quietImport: false }, closed))).toBe(true);
    expect(no(decideClosedCaseReply(config, { classification: { kind: 'bounce', reason: 'x', caseId: 1 }, quietImport: false }, closed))).toBe(true);
  });
});
