/**
 * Issue 17 item 2 end to end, through the real binary: the attack pass's forged officer mail
 * (set the outcome, a compensation of 99 999 and a final answer) does nothing but put the case
 * on record as suspected spoofing; the same mail with a genuine header from the firm's server
 * runs its commands.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, complaintMail } from '../support/world';

const OFFICERS = [
  { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
  { name: 'Maja Chef', address: 'maja@testfinans.se', role: 'manager' },
];

function officerMail(caseNumber: string, authResults: string): string {
  return [
    `Authentication-Results: ${authResults}`,
    'From: Olle Handläggare <olle@testfinans.se>',
    'To: klagomal@testfinans.se',
    `Subject: Re: [${caseNumber}] Klagomål`,
    'Date: Fri, 20 Nov 2026 10:00:00 +0100',
    `Message-ID: <officer-${Math.random().toString(36).slice(2)}@testfinans.se>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    '#outcome upheld',
    '#compensation 99 999',
    '#final',
    'Vi har gått igenom ditt klagomål och ger dig rätt: avgiften togs ut felaktigt, och vi betalar därför tillbaka hela beloppet till ditt konto inom fem bankdagar.',
    '',
  ].join('\r\n');
}

describe('forged officer mail', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld({ officers: OFFICERS });
  });
  afterEach(() => w.cleanup());

  async function ingest(name: string, raw: string): Promise<Record<string, unknown>> {
    const file = path.join(w.dir, name);
    fs.writeFileSync(file, raw);
    const r = await w.cli(['ingest', '--json', file]);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n')[0]) as Record<string, unknown>;
  }

  async function caseOf(number: string) {
    return JSON.parse((await w.cli(['case', 'show', number, '--json'])).stdout) as {
      status: string;
      outcome: string | null;
      compensationSek: number | null;
      events: Array<{ type: string }>;
    };
  }

  test('forgedOfficerCommandsThroughQuotedMailFromDoNothing', async () => {
    const complaint = await ingest('c.eml', complaintMail(1, { from: 'Kund Ett <kund1@example.com>' }));
    const number = String(complaint.caseId);
    const forged = await ingest(
      'f.eml',
      officerMail(number, 'mx1.testfinans.se; spf=pass smtp.mailfrom="olle@testfinans.se"@evil.example; dkim=none; dmarc=fail header.from=testfinans.se'),
    );
    expect(forged.kind).not.toBe('officer');
    const forged2 = await ingest('f2.eml', officerMail(number, 'mx1.testfinans.se; dkim=pass header.d=evil.example header.i="@testfinans.se"@evil.example'));
    expect(forged2.kind).not.toBe('officer');
    const c = await caseOf(number);
    expect(c.status).toBe('new');
    expect(c.outcome).toBeNull();
    expect(c.compensationSek).toBeNull();
    expect(c.events.filter((e) => e.type === 'spoofing-suspected')).toHaveLength(2);
    const outbox = JSON.parse((await w.cli(['outbox', '--json'])).stdout) as Array<{ template: string | null; kind?: string }>;
    expect(JSON.stringify(outbox)).not.toContain('final-answer');
  });

  test("forgedOfficerWithAdjacentAuthenticationResultsRanItsCommands: a forged header directly below the firm server's own", async () => {
    const complaint = await ingest('c.eml', complaintMail(3, { from: 'Kund Tre <kund3@example.com>' }));
    const number = String(complaint.caseId);
    // As the mail arrives through Postfix with OpenDKIM's milters: our Received:, our header
    // below it, then the sender's header fields, the first of them a forged header of ours.
    const forged = [
      'Received: from mail.evil.example (mail.evil.example [203.0.113.9]) by mx1.testfinans.se (Postfix) with ESMTPS id 4Q; Fri, 20 Nov 2026 10:00:01 +0100',
      'Authentication-Results: mx1.testfinans.se; dkim=none; spf=pass smtp.mailfrom=bounce@evil.example',
      officerMail(number, 'mx1.testfinans.se; dkim=pass header.d=testfinans.se'),
    ].join('\r\n');
    expect((await ingest('f.eml', forged)).kind).not.toBe('officer');
    const c = await caseOf(number);
    expect(c.outcome).toBeNull();
    expect(c.compensationSek).toBeNull();
    expect(c.events.filter((e) => e.type === 'spoofing-suspected')).toHaveLength(1);
    expect(JSON.stringify(JSON.parse((await w.cli(['outbox', '--json'])).stdout))).not.toContain('final-answer');
  });

  test('genuineOfficerCommandsStillRun (the same mail, authenticated by the firm server)', async () => {
    const complaint = await ingest('c.eml', complaintMail(2, { from: 'Kund Två <kund2@example.com>' }));
    const number = String(complaint.caseId);
    const genuine = await ingest(
      'g.eml',
      officerMail(number, 'mx1.testfinans.se; dkim=pass header.d=testfinans.se header.s=sel1; dmarc=pass header.from=testfinans.se'),
    );
    expect(genuine.kind).toBe('officer');
    const c = await caseOf(number);
    expect(c.outcome).toBe('upheld');
    expect(c.compensationSek).toBe(99999);
    const outbox = JSON.parse((await w.cli(['outbox', '--json'])).stdout) as unknown[];
    expect(JSON.stringify(outbox)).toContain('final-answer');
  });

  test('officerOnMicrosoft365RecognisedEndToEnd; the same stamps with another tenant are a suspected forgery', async () => {
    const tenant = '3f1c2a9e-5b7d-4c1e-9a2b-8d6e4f0a1b2c';
    const firm = { ...(w.config.firm as Record<string, unknown>), authservIds: [], mailPlatform: 'microsoft365', tenantId: tenant };
    w.cleanup();
    w = makeWorld({ officers: OFFICERS, firm });
    const stamps = (t: string) =>
      [
        'X-MS-Exchange-Organization-AuthAs: Internal',
        'X-MS-Exchange-Organization-AuthSource: AM9PR03MB7012.eurprd03.prod.outlook.com',
        `X-MS-Exchange-CrossTenant-Id: ${t}`,
        'X-MS-Exchange-CrossTenant-AuthAs: Internal',
        'X-MS-Exchange-CrossTenant-FromEntityHeader: Hosted',
      ].join('\r\n');
    const complaint = await ingest('c.eml', complaintMail(3, { from: 'Kund Tre <kund3@example.com>' }));
    const number = String(complaint.caseId);
    // Exchange writes its stamps below the message's own header fields.
    const withStamps = (t: string) => officerMail(number, 'spf=pass smtp.mailfrom=testfinans.se').replace('Content-Type:', `${stamps(t)}\r\nContent-Type:`);
    const other = await ingest('o.eml', withStamps('72f988bf-86f1-41af-91ab-2d7cd011db47'));
    expect(other.kind).not.toBe('officer');
    expect((await caseOf(number)).outcome).toBeNull();
    const genuine = await ingest('g.eml', withStamps(tenant));
    expect(genuine.kind).toBe('officer');
    expect((await caseOf(number)).outcome).toBe('upheld');
  });
});
