/**
 * Issue 14, "the fields an auditor asks for" (REGULATION.md §4 A and C), each set by mail and
 * shown by the register (csv/json) and the statistics. Failures found from outside that these
 * name: an AB counted as a consumer and told to go to ARN; a lawyer acting for the customer
 * not recorded and not copied; "not a complaint" closed as "withdrawn"; ARN numbers only in a
 * legal hold's free text; no root causes or corrective actions; no product; the register not
 * filterable.
 */
import { registerRow } from '../../src/report/register';
import { readCaseFacts } from '../../src/report/facts';
import { registerCsv, CSV_HEADERS } from '../../src/report/csv';
import { computeStatistics, readReportInput } from '../../src/report/statistics';
import { makePeriod } from '../../src/report/period';
import { mailOptions } from '../../src/reply/transport';
import { detectBusiness } from '../../src/parse/customer-type';
import { parseIsoDate } from '../../src/util/stockholm-time';
import type { CaseRow } from '../../src/store/store';
import { parseCsv } from '../support/csv';
import { cet, FEES_PLAIN, makeReportWorld, OLLE, PAYMENTS, ReportWorld } from '../support/report-fixture';
import { runRetention } from '../../src/retention/retention';

const ANSWER =
  'Hej, vi har gått igenom ditt klagomål om avgiften. Avgiften följer den prislista som gällde när avtalet tecknades, och den framgick av fakturan. Vi kan därför inte betala tillbaka den.';

let w: ReportWorld;
beforeEach(() => {
  w = makeReportWorld();
});
afterEach(() => w.close());

const row = (c: CaseRow, now = cet('2026-03-30T12:00:00')) => {
  const f = readCaseFacts(w.store, '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z').find((x) => x.c.id === c.id)!;
  return registerRow(f, now, 10);
};
const complaint = (o: { from?: string; name?: string; body?: string; at?: string } = {}): Promise<CaseRow> =>
  w.complaint({ from: o.from ?? 'kund@example.com', name: o.name, body: o.body ?? FEES_PLAIN, receivedAt: cet(o.at ?? '2026-03-02T09:00:00') });

describe('customer type', () => {
  test('businessCustomerWasToldToGoToArn', async () => {
    const c = await complaint();
    expect(row(c)).toMatchObject({ customerType: 'consumer', customerTypeSource: 'default' });
    w.command(c.id, `#customer business\n#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
    const r = row(c);
    expect(r).toMatchObject({ customerType: 'business', customerTypeSource: 'recorded', customerTypeBy: OLLE });
    const final = w.store.outboxOfCase(c.id).find((o) => o.kind === 'final-answer')!;
    // ARN hears consumers' disputes: a business is pointed to the courts only.
    expect(final.body_text).not.toMatch(/Allmänna reklamationsnämnden|ARN/);
    expect(final.body_text).toMatch(/allmän domstol/);
  });

  test('consumerStillToldOfArn', async () => {
    const c = await complaint();
    w.command(c.id, `#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
    expect(w.store.outboxOfCase(c.id).find((o) => o.kind === 'final-answer')!.body_text).toMatch(/Allmänna reklamationsnämnden/);
  });

  test('companyNameOfTheSenderDetectedAtFiling', async () => {
    const c = await complaint({ from: 'info@byggfirman.se', name: 'Byggfirman Ek AB' });
    expect(row(c)).toMatchObject({ customerType: 'business', customerTypeSource: 'detected' });
    expect(row(c).customerTypeBy).toMatch(/^detected: the sender's name ends in "AB"/);
  });

  test.each([
    ['a signature under the closing', 'Hej,\navgiften är fel.\n\nMed vänliga hälsningar\nPer Ek\nEk & Son Bygg AB\n', /signature line names a company/],
    ['an organisationsnummer', 'Hej, vi (org.nr 556036-0793) klagar på avgiften.\n', /organisationsnummer/],
  ])('businessDetectedFrom %s', (_what, text, why) => {
    expect(detectBusiness({ senderName: 'Per Ek', text, firmName: 'Exempelfinans AB' })).toMatch(why);
  });

  test.each([
    ['the firm named in the complaint', 'Hej,\njag har ett lån hos Exempelfinans AB och avgiften är fel.\n\nHälsningar\nAnna\n'],
    ['a company named in a sentence', 'Hej,\nJag köpte en soffa från Möbler AB och betalade med kortet.\n'],
    ['a personnummer (third digit 0 or 1)', 'Mitt personnummer är 811218-9876, org.nr saknas.\n'],
    ['an organisationsnummer failing Luhn', 'org.nr 556036-0794\n'],
  ])('consumerNotTakenForABusiness: %s', (_what, text) => {
    expect(detectBusiness({ senderName: 'Anna Andersson', text, firmName: 'Exempelfinans AB' })).toBeNull();
  });
});

test('representativeWasNotCopied', async () => {
  const c = await complaint();
  w.command(c.id, '#representative Advokat Eva Ek <Eva.Ek@advokatbyra.se>', cet('2026-03-03T10:00:00'));
  w.command(c.id, `#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
  const final = w.store.outboxOfCase(c.id).find((o) => o.kind === 'final-answer')!;
  const full = w.store.db.prepare('SELECT * FROM outbox WHERE id = ?').get(final.id) as Parameters<typeof mailOptions>[0];
  const opts = mailOptions(full);
  expect(opts.cc).toBe('eva.ek@advokatbyra.se');
  expect(opts.envelope).toEqual({ from: expect.any(String), to: ['kund@example.com', 'eva.ek@advokatbyra.se'] });
  expect(opts.headers).not.toHaveProperty('Cc');
  expect(row(c).representative).toEqual({ name: 'Advokat Eva Ek', address: 'eva.ek@advokatbyra.se' });
  // Anything but a plain address is refused: it would go into a header.
  for (const bad of ['X <a@b.se> Bcc: x@evil.example', 'X <a@b.se\u0085Bcc: x@evil.example>', 'X <"a b"@b.se>', 'X a@b.se'])
    expect(() => w.command(c.id, `#representative ${bad}`, cet('2026-03-06T10:00:00'))).toThrow(/representative NAME <ADDRESS>/);
});

test('notAComplaintHadToBeClosedAsWithdrawn', async () => {
  const c = await complaint();
  w.command(c.id, '#inadmissible en allmän åsikt om räntenivåer, inget klagomål på vår tjänst', cet('2026-03-03T10:00:00'));
  const closed = w.store.caseById(c.id)!;
  expect(closed).toMatchObject({ status: 'closed', outcome: null, inadmissible_by: OLLE });
  const r = row(c);
  expect(r.inadmissible).toMatchObject({ reason: 'en allmän åsikt om räntenivåer, inget klagomål på vår tjänst', by: OLLE });
  expect(r.closedAt).not.toBeNull();
  const stats = computeStatistics(readReportInput(w.store, makePeriod(parseIsoDate('2026-03-01')!, parseIsoDate('2026-03-31')!), cet('2026-03-30T12:00:00')));
  expect(stats.byOutcome).toContainEqual({ outcome: 'not-a-complaint', count: 1 });
  // Reopened, it is a complaint again, and the register counts the reopening.
  w.command(c.id, '#reopen kunden förtydligar att det gäller hennes eget lån', cet('2026-03-04T10:00:00'));
  expect(w.store.caseById(c.id)).toMatchObject({ status: 'in-progress', inadmissible_reason: null });
  expect(row(c)).toMatchObject({ inadmissible: null, reopened: 1 });
});

test('arnReferralOnlyInFreeText', async () => {
  const c = await complaint();
  w.command(c.id, `#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
  w.command(c.id, '#status closed', cet('2026-03-05T11:00:00'));
  // After closing: ARN comes later, and the register takes it on the closed case.
  w.command(c.id, '#arn 2026-01234 received 2026-03-20', cet('2026-03-21T10:00:00'));
  w.command(c.id, '#arn 2026-01234 rejected', cet('2026-09-01T10:00:00'));
  const r = row(c, cet('2026-09-02T10:00:00'));
  expect(r.arn).toEqual([
    { reference: '2026-01234', state: 'received', on: '2026-03-20' },
    { reference: '2026-01234', state: 'rejected', on: '2026-09-01' },
  ]);
  const stats = computeStatistics(readReportInput(w.store, makePeriod(parseIsoDate('2026-03-01')!, parseIsoDate('2026-03-31')!), cet('2026-09-02T10:00:00')));
  expect(stats.arn).toEqual({ referred: 1, byState: [{ state: 'rejected', count: 1 }] });
  expect(() => w.command(c.id, '#arn 2026-01234 won', cet('2026-09-03T10:00:00'))).toThrow(/unknown ARN state 'won'/);
  expect(() => w.command(c.id, '#arn 2026-01234 received 2099-01-01', cet('2026-09-03T10:00:00'))).toThrow(/in the future/);
});

test('rootCausesAndCorrectiveActionsNotRecorded', async () => {
  const c = await complaint();
  w.command(c.id, '#cause fees-and-pricing avgiften syns inte på webben\n#action planned skriv om avgiftssidan', cet('2026-03-03T10:00:00'));
  w.command(c.id, '#action done 1', cet('2026-03-10T10:00:00'));
  const r = row(c);
  expect(r.rootCauses).toEqual([{ code: 'fees-and-pricing', text: 'avgiften syns inte på webben' }]);
  expect(r.actions).toEqual([{ text: 'skriv om avgiftssidan', state: 'done', doneAt: expect.stringMatching(/^2026-03-10/) }]);
  const stats = computeStatistics(readReportInput(w.store, makePeriod(parseIsoDate('2026-03-01')!, parseIsoDate('2026-03-31')!), cet('2026-03-30T12:00:00')));
  expect(stats.rootCauses).toEqual([{ code: 'fees-and-pricing', count: 1, actionsPlanned: 0, actionsDone: 1 }]);
  expect(() => w.command(c.id, '#cause bad-weather', cet('2026-03-11T10:00:00'))).toThrow(/unknown root cause 'bad-weather'.*allowed/s);
});

test('productReasonsPaymentDateAndFirstContactInTheCsv', async () => {
  const c = await complaint();
  w.command(
    c.id,
    '#product card\n#first-contact 2026-02-20\n#compensation 250\n#paid 2026-03-04\n#reasons avgiften följer prislistan som kunden godkände vid avtalet',
    cet('2026-03-04T12:00:00'),
  );
  const [, values] = parseCsv(registerCsv([row(c)]).replace(/^\uFEFF/, ''));
  const cells = Object.fromEntries(CSV_HEADERS.map((h, i) => [h, values[i]]));
  expect(cells).toMatchObject({
    product: 'card',
    first_complained_date: '2026-02-20',
    compensation_paid_date: '2026-03-04',
    reasons_summary: 'avgiften följer prislistan som kunden godkände vid avtalet',
  });
  expect(() => w.command(c.id, '#product bolån', cet('2026-03-05T10:00:00'))).toThrow(/unknown product/);
  expect(() => w.command(c.id, '#first-contact 2026-03-10', cet('2026-03-11T10:00:00'))).toThrow(/after the complaint arrived/);
});

test('registerFilteredByProductAndCustomerType', async () => {
  const a = await complaint({ from: 'a@example.com' });
  const b = await complaint({ from: 'b@example.com', at: '2026-03-03T09:00:00' });
  await complaint({ from: 'c@example.com', at: '2026-03-04T09:00:00' });
  w.command(a.id, '#product card', cet('2026-03-05T10:00:00'));
  w.command(b.id, '#product card\n#customer business', cet('2026-03-05T10:00:00'));
  const period = makePeriod(parseIsoDate('2026-03-01')!, parseIsoDate('2026-03-31')!);
  const cards = readReportInput(w.store, period, cet('2026-03-30T12:00:00'), null, { product: 'card' });
  expect(cards.rows.map((r) => r.caseNumber).sort()).toEqual([a.number, b.number].sort());
  const stats = computeStatistics(cards);
  expect(stats.received).toBe(2);
  expect(stats.filters).toEqual({ product: 'card' });
  const business = readReportInput(w.store, period, cet('2026-03-30T12:00:00'), null, { product: 'card', customerType: 'business' });
  expect(business.rows.map((r) => r.caseNumber)).toEqual([b.number]);
});

test('retentionUntilInTheRegister', async () => {
  const c = await complaint();
  w.command(c.id, '#outcome withdrawn\n#status closed', cet('2026-03-05T10:00:00'));
  expect(row(c).retentionUntil).toMatch(/^2036-03-05/);
});

describe('a reasoned rejection answers the customer’s own points', () => {
  const GENERIC =
    'Hej, vi har nu gått igenom ärendet noggrant och kommit fram till att vi inte kan tillmötesgå dig i detta. Vi beklagar att beskedet inte blev det du hoppades på.';

  test('rejectionWithAGenericAnswerWasAccepted', async () => {
    const c = await complaint();
    expect(() => w.command(c.id, `#outcome rejected\n#final\n\n${GENERIC}`, cet('2026-03-05T10:00:00'))).toThrow(
      /reasons that answer the customer's own points/,
    );
    expect(w.store.caseById(c.id)!.outcome).toBeNull();
  });

  test('anAnswerNamingTheComplaintsPointIsReasoned', async () => {
    const c = await complaint();
    // FEES_PLAIN: "avgiften på min faktura är för hög": the answer speaks of "avgiften".
    w.command(c.id, `#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
    expect(w.store.caseById(c.id)!.outcome).toBe('rejected');
  });

  test('reasonsConfirmedByTheOfficerCountInTheSameMail', async () => {
    const c = await complaint();
    w.command(
      c.id,
      `#outcome partly-upheld\n#reasons avgiften återbetalas inte men räntan justeras enligt avtalet\n#final\n\n${GENERIC}`,
      cet('2026-03-05T10:00:00'),
    );
    expect(w.store.caseById(c.id)).toMatchObject({ outcome: 'partly-upheld', reasons_summary: 'avgiften återbetalas inte men räntan justeras enligt avtalet' });
  });

  test('anEarlierFinalAnswerIsJudgedByWhatItSaid', async () => {
    const c = await complaint();
    w.command(c.id, `#final\n\n${GENERIC}`, cet('2026-03-05T10:00:00'));
    expect(() => w.command(c.id, '#outcome rejected', cet('2026-03-06T10:00:00'))).toThrow(/#reasons/);
    const d = await complaint({ from: 'd@example.com' });
    w.command(d.id, `#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
    w.command(d.id, '#outcome rejected', cet('2026-03-06T10:00:00'));
    expect(w.store.caseById(d.id)!.outcome).toBe('rejected');
  });
});

test('retentionChangedTheStatisticsOfThePast', async () => {
  // A payment complaint with a holding reply, answered and closed; ten years later retention
  // anonymises it. The period's holding replies, delays and deadlines stay as they were.
  const c = await w.complaint({ from: 'betalning@example.com', body: PAYMENTS, receivedAt: cet('2026-03-02T09:00:00') });
  w.command(c.id, '#holding 2026-04-10 Banken har inte skickat underlaget', cet('2026-03-05T10:00:00'));
  w.command(c.id, '#extend 2026-04-15 Vi väntar fortfarande på banken', cet('2026-03-06T10:00:00'));
  w.command(c.id, `#outcome upheld\n#compensation 500\n#final\n\n${ANSWER}`, cet('2026-04-01T10:00:00'));
  w.command(c.id, '#status closed', cet('2026-04-02T10:00:00'));
  const period = makePeriod(parseIsoDate('2026-03-01')!, parseIsoDate('2026-03-31')!);
  const stats = () => computeStatistics(readReportInput(w.store, period, cet('2026-04-03T10:00:00')));
  const before = stats();
  expect(before.holdingReplies).toBe(1);
  expect(before.delayNotices).toBe(1);
  const r = await runRetention({ store: w.store, config: w.config }, { now: new Date('2037-06-01T00:00:00Z'), trigger: 'command' });
  expect(r.anonymised.map((x) => x.number)).toContain(c.number);
  const after = stats();
  expect(after.holdingReplies).toBe(before.holdingReplies);
  expect(after.delayNotices).toBe(before.delayNotices);
  expect(after.byRule).toEqual(before.byRule);
  expect(after.deadlines).toEqual(before.deadlines);
  // The reasons are gone; the facts stay.
  expect(row(c).delays.map((d) => [d.kind, d.reason])).toEqual([
    ['holding-reply', '(anonymised)'],
    ['delay-notice', '(anonymised)'],
  ]);
});

test('reopenedCaseKeptItsOldAnsweredDeadline', async () => {
  const c = await complaint();
  w.command(c.id, `#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-05T10:00:00'));
  w.met(c.id, 'finalAnswer', cet('2026-03-05T11:00:00'));
  w.command(c.id, '#status closed', cet('2026-03-06T10:00:00'));
  const out = w.command(c.id, '#reopen kunden har skickat nya underlag om avgiften', cet('2026-03-20T10:00:00'));
  expect(out.done[0].result).toMatch(/final answer due again/);
  const d = w.store.deadline(c.id, 'finalAnswer')!;
  // Counted anew from the reopening (the firm's 14 days), not met.
  expect(d.met_at).toBeNull();
  expect(d.computed_from).toBe(cet('2026-03-20T10:00:00').toISOString());
  expect(new Date(d.due_at).getTime()).toBeGreaterThan(cet('2026-04-02T00:00:00').getTime());
  const set = w.store.eventsOfCase(c.id).filter((e) => e.type === 'deadline-set' && JSON.parse(e.detail).reason === 'reopened');
  expect(JSON.parse(set[0].detail)).toMatchObject({ milestone: 'finalAnswer', previousMet: cet('2026-03-05T11:00:00').toISOString() });
  expect(row(c, cet('2026-03-21T10:00:00')).reopened).toBe(1);
});

test('rejectionAnsweredByLetterCouldNotBeRecorded', async () => {
  const c = await complaint();
  // The answer went out by letter: recorded as met on the command line, no #final.
  w.met(c.id, 'finalAnswer', cet('2026-03-05T10:00:00'));
  expect(() => w.command(c.id, '#outcome rejected', cet('2026-03-06T10:00:00'))).toThrow(/given outside klagomal.*#reasons/);
  w.command(c.id, '#outcome rejected\n#reasons avgiften följer prislistan som gällde vid avtalet, brev skickat 5 mars', cet('2026-03-06T10:00:00'));
  expect(w.store.caseById(c.id)).toMatchObject({ outcome: 'rejected', reasons_summary: expect.stringContaining('brev skickat') });
});
