/**
 * The register of `klagomal report` against cases made by the real pipeline: complaints
 * delivered into the watched Maildir and filed by `klagomal run --once` (the real binary), an
 * officer steering a case by authenticated command mails (#extend, #compensation, #assessment,
 * #related, #outcome, then #final, then #status closed), the acknowledgement, the delay notice
 * and the final answer sent through the pickup transport. Every field an auditor asks for is
 * checked against what happened, and the personnummer in the complaint never comes out whole.
 *
 * `report` is run in-process through its command (reportCommand), with the world's config.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, deliverToMaildir } from '../support/world';
import { reportCommand } from '../../src/cli/report';
import { UsageError } from '../../src/cli/args';
import { addDays, isoDate, localDateOf } from '../../src/util/stockholm-time';
import { formatStockholm } from '../../src/util/stockholm-time';
import type { RegisterRow } from '../../src/report/register';
import { CSV_HEADERS } from '../../src/report/csv';
import { parseCsv } from '../support/csv';
import type { Statistics } from '../../src/report/statistics';

const DESK = 'klagomal@testfinans.se';
const OLLE = 'olle@testfinans.se';
const AUTH_PASS = `Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se header.s=mx2026; spf=pass smtp.mailfrom=${OLLE}; dmarc=pass header.from=testfinans.se`;
/** A valid personnummer (Luhn), the Tax Agency's well-known test number. */
const PNR = '19121212-1212';
const SV_MONTHS = ['januari', 'februari', 'mars', 'april', 'maj', 'juni', 'juli', 'augusti', 'september', 'oktober', 'november', 'december'];
const ANSWER = 'Vi har gått igenom ditt klagomål om avgiften. Avgiften togs ut av misstag, och vi betalar tillbaka den till ditt konto inom fem bankdagar.';

function mail(o: { top?: string[]; from: string; subject: string; messageId: string; body: string }): string {
  return [
    ...(o.top ?? []),
    `From: ${o.from}`,
    `To: ${DESK}`,
    `Subject: ${o.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${o.messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    o.body,
    '',
  ].join('\r\n');
}

async function report(w: World, args: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await reportCommand.run({ config: w.configFile, ...args }, [], { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

describe('klagomal report: the register of cases made by the real pipeline', () => {
  let w: World;
  let a: RegisterRow;
  let b: RegisterRow;
  let stats: Statistics;
  let jsonText: string;
  const rawA = { text: '', messageId: `report-a-${crypto.randomBytes(4).toString('hex')}@example.com` };
  const today = localDateOf(new Date());
  const from = isoDate(addDays(today, -1));
  const to = isoDate(addDays(today, 1));
  const incident = addDays(today, -12);
  const extendTo = isoDate(addDays(today, 20));
  let initialFinalDue = '';

  async function run(): Promise<void> {
    const r = await w.cli(['run', '--once', '--json']);
    if (r.code !== 0) throw new Error(`run --once failed: ${r.stderr}`);
  }

  function officer(caseNumber: string, body: string): void {
    deliverToMaildir(
      w.maildir,
      mail({
        top: [AUTH_PASS],
        from: `Olle Handläggare <${OLLE}>`,
        subject: `[${caseNumber}] kommandon`,
        messageId: `olle-${crypto.randomBytes(4).toString('hex')}@testfinans.se`,
        body,
      }),
    );
  }

  beforeAll(async () => {
    w = makeWorld({
      officers: [
        { name: 'Karin Klagomålsansvarig', address: 'karin@testfinans.se', role: 'manager' },
        { name: 'Olle Handläggare', address: OLLE, role: 'officer' },
      ],
    });
    rawA.text = mail({
      from: 'Anna Kund <anna.kund@example.com>',
      subject: 'Felaktig avgift på min faktura',
      messageId: rawA.messageId,
      body: [
        `Hej, ni tog ut en avgift på 60 kr den ${incident.d} ${SV_MONTHS[incident.m - 1]} ${incident.y} som jag inte känner igen.`,
        `Fakturanummer 55512345. Mitt personnummer är ${PNR}.`,
        'Jag vill att ni betalar tillbaka avgiften.',
        'Anna Kund',
      ].join('\n'),
    });
    deliverToMaildir(w.maildir, rawA.text);
    deliverToMaildir(
      w.maildir,
      mail({
        from: 'Bo Kund <bo.kund@example.com>',
        subject: 'Räntan',
        messageId: 'report-b@example.com',
        body: 'Hej, räntan på mitt lån höjdes utan besked.',
      }),
    );
    await run(); // files both, sends both acknowledgements

    const numbers = (() => {
      const { store, close } = w.store();
      try {
        const rows = store.db.prepare('SELECT number, customer_address FROM cases ORDER BY id').all() as Array<{ number: string; customer_address: string }>;
        const caseA = store.caseByNumber(rows.find((r) => r.customer_address === 'anna.kund@example.com')!.number)!;
        initialFinalDue = store.deadline(caseA.id, 'finalAnswer')!.due_at;
        return {
          a: rows.find((r) => r.customer_address === 'anna.kund@example.com')!.number,
          b: rows.find((r) => r.customer_address === 'bo.kund@example.com')!.number,
        };
      } finally {
        close();
      }
    })();

    officer(
      numbers.a,
      [
        `#extend ${extendTo} Vi väntar på underlag från vår leverantör`,
        '#compensation 1 250',
        '#assessment changed-routines yes',
        '#assessment training no',
        `#related ${numbers.b}`,
        '#outcome upheld',
      ].join('\n'),
    );
    await run(); // the delay notice goes out
    officer(numbers.a, `#final\n\n${ANSWER}`);
    await run(); // the final answer goes out: the milestone is met
    officer(numbers.a, '#status closed');
    await run();

    const r = await report(w, { from, to, format: 'json' });
    expect(r.code).toBe(0);
    jsonText = r.out;
    const json = JSON.parse(r.out) as { statistics: Statistics; register: RegisterRow[] };
    stats = json.statistics;
    a = json.register.find((x) => x.caseNumber === numbers.a)!;
    b = json.register.find((x) => x.caseNumber === numbers.b)!;
  }, 120_000);
  afterAll(() => w?.cleanup());

  test('identity: received (UTC and Stockholm), channel, source and mailbox, Message-ID and the raw mail sha256', () => {
    const { store, close } = w.store();
    try {
      const inbound = store.db.prepare('SELECT source, mailbox, received_at, sha256 FROM inbound WHERE message_id = ?').get(rawA.messageId) as {
        source: string;
        mailbox: string;
        received_at: string;
        sha256: string;
      };
      expect(a).toMatchObject({
        status: 'closed',
        receivedAt: inbound.received_at,
        receivedLocal: formatStockholm(new Date(inbound.received_at)),
        channel: 'email',
        source: 'klagomal',
        mailbox: inbound.mailbox,
        messageId: rawA.messageId,
        forwardedBy: null,
      });
      // The hash is of the bytes as they arrived: the register row leads back to the stored raw mail.
      expect(a.rawSha256).toBe(crypto.createHash('sha256').update(Buffer.from(rawA.text, 'utf8')).digest('hex'));
      expect(a.rawSha256).toBe(inbound.sha256);
    } finally {
      close();
    }
  });

  test('complainant and substance: customer type, category, reference numbers, incident date, compensation asked and paid, contact person', () => {
    expect(a).toMatchObject({
      customerType: 'consumer',
      customerTypeSource: 'default',
      customerName: 'Anna Kund',
      customerAddress: 'anna.kund@example.com',
      personnummerMasked: '19121212-****',
      category: 'fees',
      references: [{ type: 'invoice', value: '55512345' }],
      incidentDate: isoDate(incident),
      compensationAsked: true,
      amountsSek: [60],
      compensationPaidSek: 1250,
      contactPerson: OLLE,
      language: 'sv',
    });
  });

  test('deadlines with the policy that set them and when they were met; the delay notice with its reason', () => {
    expect(a.acknowledgementSentAt).not.toBeNull();
    expect(a.finalAnswerSentAt).not.toBeNull();
    const ack = a.deadlines.find((d) => d.milestone === 'acknowledgement')!;
    expect(ack).toMatchObject({ policy: 'promise-24h-14d', rule: '24 hours', result: 'in-time', metAt: a.acknowledgementSentAt, computedFrom: a.receivedAt });
    expect(ack.source).toContain("firm's promise");
    expect(ack.configVersion).toMatch(/^[0-9a-f]{12}$/);
    expect(ack.calendarVersion).toBeTruthy();
    const final = a.deadlines.find((d) => d.milestone === 'finalAnswer')!;
    expect(final).toMatchObject({
      policy: 'promise-24h-14d',
      rule: '14 calendar days',
      originalDueAt: initialFinalDue,
      dueLocal: `${extendTo}T23:59:59${final.dueLocal.slice(19)}`,
      metAt: a.finalAnswerSentAt,
      result: 'in-time',
      breachCause: null,
    });
    expect(a.delays).toEqual([
      expect.objectContaining({
        milestone: 'finalAnswer',
        kind: 'delay-notice',
        fromDue: initialFinalDue,
        toDue: final.dueAt,
        reason: 'Vi väntar på underlag från vår leverantör',
        by: `officer:${OLLE}`,
        notice: 'sent',
      }),
    ]);
    expect(a.delays[0].noticeSentAt).not.toBeNull();
  });

  test('outcome, who decided it, closing, related cases, the assessment checklist', () => {
    expect(a).toMatchObject({ outcome: 'upheld', decidedBy: OLLE, relatedCases: [b.caseNumber], refersTo: null, informationRequests: 0 });
    expect(a.closedAt).not.toBeNull();
    expect(a.closedLocal).toBe(formatStockholm(new Date(a.closedAt!)));
    expect(a.decidedAt! <= a.closedAt!).toBe(true);
    expect(a.assessment).toEqual({
      'more-information': null,
      'external-advice': null,
      'other-complaints': null,
      'changed-routines': true,
      training: false,
      'staff-consequences': null,
    });
    expect(b).toMatchObject({ status: 'new', outcome: null, decidedBy: null, closedAt: null, relatedCases: [a.caseNumber], category: 'interest' });
  });

  test('the personnummer never appears whole, in any form', () => {
    for (const form of ['19121212-1212', '191212121212', '121212-1212', '1212121212']) expect(jsonText).not.toContain(form);
  });

  test('the statistics of the same run agree with the register', () => {
    expect(stats.received).toBe(2);
    expect(stats.closed).toBe(1);
    expect(stats.backlog.total).toBe(1);
    expect(stats.byOutcome).toEqual([
      { outcome: 'upheld', count: 1 },
      { outcome: 'undecided', count: 1 },
    ]);
    expect(stats.compensation).toEqual({ totalPaidSek: 1250, casesPaid: 1, casesAsked: 1 });
    expect(stats.delayNotices).toBe(1);
    expect(stats.holdingReplies).toBe(0);
    expect(stats.timeToAcknowledgementHours.count).toBe(2);
    expect(stats.timeToFinalAnswerDays.count).toBe(1);
    expect(stats.breaches).toEqual([]);
  });

  test('CSV: BOM, CRLF, one row per case with the same facts; written 0600 with --out', async () => {
    const file = path.join(w.dir, 'out', 'register.csv');
    const r = await report(w, { from, to, format: 'csv', out: file });
    expect(r.code).toBe(0);
    expect(r.out).toContain('written to');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    const rows = parseCsv(text.slice(1));
    expect(rows[0]).toEqual([...CSV_HEADERS]);
    expect(rows).toHaveLength(3);
    const row = Object.fromEntries(CSV_HEADERS.map((h, i) => [h, rows.find((x) => x[0] === a.caseNumber)![i]]));
    expect(row).toMatchObject({
      case_number: a.caseNumber,
      received_utc: a.receivedAt,
      received_local: a.receivedLocal,
      raw_sha256: a.rawSha256!,
      customer_type: 'consumer',
      personnummer_masked: '19121212-****',
      category: 'fees',
      references: 'invoice:55512345',
      incident_date: isoDate(incident),
      compensation_asked: 'yes',
      compensation_paid_sek: '1250',
      contact_person: OLLE,
      acknowledgement_result: 'in-time',
      finalAnswer_policy: 'promise-24h-14d',
      finalAnswer_result: 'in-time',
      delay_notices: '1',
      holding_replies: '0',
      outcome: 'upheld',
      decided_by: OLLE,
      closed_utc: a.closedAt!,
      related_cases: b.caseNumber,
      assessment_changed_routines: 'yes',
      assessment_training: 'no',
      assessment_more_information: '',
    });
    expect(row.delays).toContain('Vi väntar på underlag från vår leverantör');
    expect(text).not.toContain('1212-1212');
  });

  test('usage mistakes are refused with the way to write it', async () => {
    await expect(report(w, { from, to })).rejects.toThrow(UsageError);
    await expect(report(w, { from, to, format: 'pdf' })).rejects.toThrow(/unknown --format 'pdf'; allowed: csv, json, html/);
    await expect(report(w, { from: '2026-13-01', to, format: 'json' })).rejects.toThrow(/--from '2026-13-01' is not a date; write YYYY-MM-DD/);
    await expect(report(w, { from: to, to: from, format: 'json' })).rejects.toThrow(/is after --to/);
    await expect(report(w, { from, to, format: 'json', now: 'yesterday' })).rejects.toThrow(/--now 'yesterday' is not an instant/);
  });
});
