/**
 * Issue 14, end to end through the real binary (Maildir in, the pickup folder out): a customer's
 * reply on a closed case ("not satisfied, I am going to ARN") used to be filed with nobody told.
 * Now the contact person gets a notification in their language with the case tag, and replying
 * to it with `#reopen REASON` reopens the case; the customer gets no automatic answer, and an
 * auto-reply on the closed case tells nobody.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser, type ParsedMail as MailparserMail } from 'mailparser';
import { makeWorld, World, complaintMail, deliverToMaildir } from '../support/world';

const DESK = 'klagomal@testfinans.se';
const OLLE = 'olle@testfinans.se';
const CUSTOMER = 'kund7@example.com';
const AUTH_PASS = `Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se header.s=mx2026; spf=pass smtp.mailfrom=${OLLE}; dmarc=pass header.from=testfinans.se`;

interface CaseJson {
  number: string;
  status: string;
  outcome: string | null;
  contactOfficer: string | null;
  closedAt: string | null;
  customerMailSinceClosed: Array<{ told: string[] }>;
  events: Array<{ type: string; detail: Record<string, unknown> }>;
}

function mail(o: { top?: string[]; from: string; subject: string; body: string; inReplyTo?: string; headers?: string[] }): string {
  return [
    ...(o.top ?? []),
    `From: ${o.from}`,
    `To: ${DESK}`,
    `Subject: ${o.subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@${o.from.includes('testfinans') ? 'testfinans.se' : 'example.com'}>`,
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`, `References: ${o.inReplyTo}`] : []),
    ...(o.headers ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...o.body.split('\n'),
    '',
  ].join('\r\n');
}

describe('a customer reply on a closed case, through the real binary', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld({
      officers: [
        { name: 'Olle Handläggare', address: OLLE, role: 'officer' },
        { name: 'Maja Chef', address: 'maja@testfinans.se', role: 'manager' },
      ],
    });
  });
  afterEach(() => w.cleanup());

  async function runOnce(): Promise<void> {
    const r = await w.cli(['run', '--once']);
    expect(r.code).toBe(0);
  }

  async function caseShow(number: string): Promise<CaseJson> {
    const r = await w.cli(['case', 'show', number, '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as CaseJson;
  }

  async function sent(): Promise<Array<{ file: string; m: MailparserMail }>> {
    const files = fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => f.endsWith('.eml')) : [];
    return Promise.all(files.map(async (file) => ({ file, m: await simpleParser(fs.readFileSync(path.join(w.pickup, file))) })));
  }
  const to = (m: MailparserMail): string => JSON.stringify(m.to ?? '');

  test('customerReplyOnClosedCaseNotifiesTheContactPerson', async () => {
    deliverToMaildir(w.maildir, complaintMail(7, { from: `Kund Sju <${CUSTOMER}>`, subject: 'Felaktig avgift' }));
    await runOnce();
    const [{ number }] = JSON.parse((await w.cli(['cases', '--json'])).stdout) as Array<{ number: string }>;
    expect((await caseShow(number)).contactOfficer).toBe(OLLE);

    // The officer decides and closes the case.
    deliverToMaildir(
      w.maildir,
      mail({ top: [AUTH_PASS], from: `Olle Handläggare <${OLLE}>`, subject: `Re: [${number}] Felaktig avgift`, body: '#outcome upheld\n#status closed' }),
    );
    await runOnce();
    expect(await caseShow(number)).toMatchObject({ status: 'closed', outcome: 'upheld' });
    const toCustomerBefore = (await sent()).filter((s) => to(s.m).includes(CUSTOMER)).length;

    // The customer is not satisfied.
    deliverToMaildir(
      w.maildir,
      mail({ from: `Kund Sju <${CUSTOMER}>`, subject: `SV: [${number}] Felaktig avgift`, body: 'Jag är inte nöjd med ert beslut. Jag tänker gå till ARN.' }),
    );
    // An out-of-office reply on the same thread tells nobody.
    deliverToMaildir(
      w.maildir,
      mail({
        from: `Kund Sju <${CUSTOMER}>`,
        subject: `Automatiskt svar: [${number}] Felaktig avgift`,
        body: 'Jag är ledig till och med måndag.',
        headers: ['Auto-Submitted: auto-replied'],
      }),
    );
    await runOnce();

    const all = await sent();
    const notices = all.filter((s) => to(s.m).includes(OLLE) && /stängt ärende/.test(s.m.subject ?? ''));
    expect(notices).toHaveLength(1);
    const notice = notices[0].m;
    expect(notice.subject).toBe(`[${number}] Kunden har skrivit i ett stängt ärende: Felaktig avgift`);
    expect(notice.text).toContain('Jag är inte nöjd med ert beslut. Jag tänker gå till ARN.');
    expect(notice.text).toContain('Utfall:    upheld');
    expect(notice.text).toMatch(/Stängt: {4}\d{1,2} \S+ \d{4} kl\. \d\d:\d\d/);
    expect(notice.text).toContain('#reopen');
    expect(notice.headers.get('auto-submitted')).toBe('auto-generated');
    // The customer's own mail rides along, to answer them from the mail client.
    expect(notice.attachments.some((a) => a.contentType === 'message/rfc822')).toBe(true);
    // The customer got nothing automatic, neither for the reply nor for the auto-reply.
    expect(all.filter((s) => to(s.m).includes(CUSTOMER))).toHaveLength(toCustomerBefore);

    const closed = await caseShow(number);
    expect(closed.status).toBe('closed');
    expect(closed.events.filter((e) => e.type === 'closed-case-reply-notified').map((e) => e.detail.officer)).toEqual([OLLE]);
    expect(closed.customerMailSinceClosed).toEqual([expect.objectContaining({ told: [OLLE] })]);
    const text = await w.cli(['case', 'show', number]);
    expect(text.stdout).toMatch(/Customer wrote after closing: .*told olle@testfinans\.se.*#reopen REASON/);

    // Olle replies to the notification from his mail client: the case is in progress again.
    const messageId = notice.messageId!;
    deliverToMaildir(
      w.maildir,
      mail({
        top: [AUTH_PASS],
        from: `Olle Handläggare <${OLLE}>`,
        subject: `SV: ${notice.subject}`,
        inReplyTo: messageId.startsWith('<') ? messageId : `<${messageId}>`,
        body: `#reopen kunden är inte nöjd och går till ARN\n\nDen ${new Date().toISOString().slice(0, 10)} skrev ${DESK}:\n> ${notice.text!.split('\n').slice(0, 3).join('\n> ')}`,
      }),
    );
    await runOnce();
    const reopened = await caseShow(number);
    expect(reopened.status).toBe('in-progress');
    expect(reopened.events.find((e) => e.type === 'case-reopened')?.detail).toMatchObject({
      reason: 'kunden är inte nöjd och går till ARN',
      previousOutcome: 'upheld',
    });
    // Another pass sends no second notification.
    await runOnce();
    expect((await sent()).filter((s) => /stängt ärende/.test(s.m.subject ?? ''))).toHaveLength(1);
  });
});
