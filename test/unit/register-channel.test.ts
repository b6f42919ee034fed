/**
 * Issue 14, "every channel": a complaint that came by letter, phone, chat or at a branch is
 * registered by an authenticated officer with `#register CHANNEL` (src/parse/registration.ts).
 * Failure found from outside: a typed-in letter got the officer as the customer and the typing
 * day as its received time, and the register's channel was always "email".
 */
import { parseMail } from '../../src/parse/parse';
import { processMail } from '../../src/pipeline/processor';
import { readRegistration } from '../../src/parse/registration';
import { readCaseFacts } from '../../src/report/facts';
import { registerRow } from '../../src/report/register';
import { storeArrivals } from '../../src/ingest/intake';
import { toInstant } from '../../src/util/clock';
import type { CaseRow } from '../../src/store/store';
import { cet, COMPLAINTS, DOMAIN, makeReportWorld, OLLE, ReportWorld } from '../support/report-fixture';

let w: ReportWorld;
beforeEach(() => {
  w = makeReportWorld();
});
afterEach(() => w.close());

let seq = 0;

/** A raw mail through intake and the processor's stages, as a source delivers it. */
async function fileRaw(bytes: Buffer, at: Date): Promise<{ caseId: number | null; reason: string }> {
  const [stored] = storeArrivals(
    w.store,
    w.config.dataDir,
    'klagomal',
    [{ raw: bytes, receivedAt: at, mailbox: 'INBOX', locator: null, sourceKey: null }],
    toInstant(at),
  );
  const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
  const r = w.store.tx(() => processMail(w.ctx, w.store.inbound(stored.id)!, parsed, at));
  return { caseId: r.caseId, reason: r.reason };
}
/** An officer's mail to the complaints address, authenticated by the firm's own server. */
async function officerMail(
  text: string,
  at: Date,
  opts: { authenticated?: boolean; subject?: string } = {},
): Promise<{ caseId: number | null; reason: string }> {
  const n = ++seq;
  const bytes = Buffer.from(
    [
      ...(opts.authenticated === false ? [] : [`Authentication-Results: mx1.${DOMAIN}; dmarc=pass header.from=${DOMAIN}`]),
      `From: Olle Handläggare <${OLLE}>`,
      `To: ${COMPLAINTS}`,
      `Subject: ${opts.subject ?? 'Klagomål per brev'}`,
      `Date: ${at.toUTCString()}`,
      `Message-ID: <register-${n}@${DOMAIN}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      text,
      '',
    ].join('\r\n'),
  );
  return fileRaw(bytes, at);
}

const LETTER = [
  '#register letter',
  'Namn: Anna Andersson',
  'Adress: Storgatan 1, 123 45 Stockholm',
  'Kundtyp: konsument',
  'Mottaget: 2026-03-02',
  '',
  'Kunden skriver att avgiften på 250 kr på fakturan 2026-02-15 är fel och vill ha tillbaka den.',
].join('\n');

const row = (c: CaseRow) =>
  registerRow(
    readCaseFacts(w.store, '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z').find((x) => x.c.id === c.id)!,
    cet('2026-03-30T12:00:00'),
    10,
  );

test('typedInLetterGotTheOfficerAsCustomerAndTheTypingDay', async () => {
  const r = await officerMail(LETTER, cet('2026-03-04T10:00:00'));
  const c = w.store.caseById(r.caseId!)!;
  expect(c).toMatchObject({ customer_name: 'Anna Andersson', customer_address: null, channel: 'letter', postal_address: 'Storgatan 1, 123 45 Stockholm' });
  expect(c.customer_type).toBe('consumer');
  // Deadlines count from the day the letter reached the firm, not from the typing.
  expect(c.received_at).toBe(cet('2026-03-02T00:00:00').toISOString());
  const reg = row(c);
  expect(reg).toMatchObject({ channel: 'letter', customerName: 'Anna Andersson', forwardedBy: OLLE });
  // No e-mail address: no acknowledgement by mail; the officer gets it as a letter to post.
  const out = w.store.outboxOfCase(c.id);
  expect(out.filter((o) => o.kind === 'acknowledgement')).toEqual([]);
  const letter = out.find((o) => o.kind === 'acknowledgement-letter')!;
  expect(letter).toMatchObject({ to_address: OLLE });
  expect(letter.subject).toContain(`[${c.number}]`);
  expect(letter.body_text).toMatch(/Storgatan 1\n123 45 Stockholm/);
  expect(letter.body_text).toMatch(/#sent-by-post/);
  expect(w.store.deadlinesOfCase(c.id).find((d) => d.milestone === 'acknowledgement')!.met_at).toBeNull();
  // Posted: the acknowledgement milestone is met, with the posting day.
  w.command(c.id, '#sent-by-post 2026-03-04', cet('2026-03-05T09:00:00'));
  expect(w.store.deadlinesOfCase(c.id).find((d) => d.milestone === 'acknowledgement')!.met_at).toBe(cet('2026-03-04T12:00:00').toISOString());
});

test('registeredWithAnEmailAddressIsAcknowledgedByMail', async () => {
  const text = LETTER.replace('#register letter', '#register phone').replace('Adress: Storgatan 1, 123 45 Stockholm', 'E-post: Anna.A@example.com');
  const r = await officerMail(text, cet('2026-03-04T10:00:00'));
  const c = w.store.caseById(r.caseId!)!;
  expect(c).toMatchObject({ customer_address: 'anna.a@example.com', channel: 'phone' });
  const ack = w.store.outboxOfCase(c.id).find((o) => o.kind === 'acknowledgement')!;
  expect(ack.to_address).toBe('anna.a@example.com');
});

test('registrationFromUnauthenticatedStaffIsNotBelieved', async () => {
  const r = await officerMail(LETTER, cet('2026-03-04T10:00:00'), { authenticated: false });
  const c = w.store.caseById(r.caseId!)!;
  expect(c.channel).toBe('email');
  expect(c.customer_name).not.toBe('Anna Andersson');
  expect(w.store.outboxOfCase(c.id).filter((o) => o.kind === 'acknowledgement-letter')).toEqual([]);
});

test('unreadableRegistrationIsKeptAndTheOfficerTold', async () => {
  const r = await officerMail('#register letter\nNamn: Anna Andersson\n\nAvgiften är fel.', cet('2026-03-04T10:00:00'));
  expect(r.reason).toMatch(/#register not read/);
  const told = w.store.outboxOfCase(r.caseId!).find((o) => o.kind === 'officer-command-result')!;
  expect(told.to_address).toBe(OLLE);
  expect(told.body_text).toMatch(/Received:/);
  expect(told.body_text).toMatch(/Email or Address/);
});

describe('readRegistration', () => {
  const now = cet('2026-03-04T10:00:00');
  test('everyProblemAtOnce', () => {
    const r = readRegistration('#register fax\nKundtyp: kanske\nMottaget: 2026-13-01\n', now);
    expect(r.ok).toBe(false);
    const problems = (r as { problems: readonly string[] }).problems.join('\n');
    expect(problems).toMatch(/channel: letter, phone, chat or in-person/);
    expect(problems).toMatch(/Name:/);
    expect(problems).toMatch(/Customer: consumer or business/);
    expect(problems).toMatch(/Received: a date/);
    expect(problems).toMatch(/complaint itself is missing/);
  });
  test('aDateInTheFutureIsRefused', () => {
    const r = readRegistration('#register chat\nName: A B\nEmail: a@b.se\nReceived: 2026-03-05\n\ntext', now);
    expect(r).toEqual({ ok: false, problems: [expect.stringMatching(/in the future/)] });
  });
  test('aTimeOfDayIsTaken', () => {
    const r = readRegistration('#register in-person\nName: A B\nEmail: a@b.se\nReceived: 2026-03-03 14:30\n\ntext', now);
    expect(r.ok && r.registration.receivedAt.toISOString()).toBe(cet('2026-03-03T14:30:00').toISOString());
  });
});

test('notAComplaintCouldNotBeSampledForReview', async () => {
  // Ten auto-replies and one complaint: the sample holds only auto-replies, at most --n of them.
  for (let i = 0; i < 10; i++) {
    const at = cet(`2026-03-0${(i % 9) + 1}T10:00:00`);
    const bytes = Buffer.from(
      [
        `From: Kund ${i} <kund${i}@example.com>`,
        `To: ${COMPLAINTS}`,
        'Subject: Autosvar: frånvarande',
        'Auto-Submitted: auto-replied',
        `Message-ID: <auto-${i}@example.com>`,
        `Date: ${at.toUTCString()}`,
        '',
        'Jag är borta.',
        '',
      ].join('\r\n'),
    );
    await fileRaw(bytes, at);
  }
  await w.complaint({
    from: 'riktig@example.com',
    body: 'Hej, avgiften på min faktura är fel och jag vill ha tillbaka den.',
    receivedAt: cet('2026-03-03T10:00:00'),
  });
  const sample = w.store.sampleMail('autoreply', 4, null);
  expect(sample).toHaveLength(4);
  expect(sample.every((m) => m.kind === 'autoreply' && /Auto-Submitted/i.test(m.reason ?? ''))).toBe(true);
  expect(new Set(sample.map((m) => m.inbound_id)).size).toBe(4);
  let out = '';
  const { main } = await import('../../src/cli');
  const code = await main(['mail', 'sample', '--kind', 'autoreply', '--n', '3', '--config', w.configFile], {
    out: (t) => (out += t + '\n'),
    err: () => undefined,
  });
  expect(code).toBe(0);
  expect(out).toMatch(/random sample of 3 mail\(s\) filed as autoreply/);
});
