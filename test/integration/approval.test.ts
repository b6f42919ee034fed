/**
 * Four eyes on final answers, end to end: a real Dovecot INBOX watched by `klagomal start`, a
 * real SMTP receiver, and approvals written in a real mail client (mutt in batch mode, as in
 * officers.test.ts): the approver replies to the approval request the service mailed, and the
 * reply goes back through the firm's server (its Authentication-Results on top) into the inbox.
 *
 * Olle (officer) writes the answers; Karin (manager) is the approver by default; Petra
 * (officer) is no approver.
 */
import { simpleParser } from 'mailparser';
import type { ChildProcess } from 'node:child_process';
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { startSmtpReceiver, SmtpReceiver, ReceivedMail } from '../support/smtp';
import { makeWorld, World, complaintMail, waitFor, waitForAsync } from '../support/world';
import { muttAvailable, muttCompose } from '../support/mutt';
import type { Store } from '../../src/store/store';

const dovecot_ = dovecotAvailable();
if (!dovecot_.ok) console.warn(`Approval mail tests skipped: ${dovecot_.reason}`);
const mutt_ = muttAvailable();
if (dovecot_.ok && !mutt_.ok) console.warn(`Approval tests with a real mail client skipped: ${mutt_.reason}`);
const describeAll = dovecot_.ok && mutt_.ok ? describe : describe.skip;

const PASSWORD_ENV = 'KLAGOMAL_TEST_IMAP_PASSWORD';
const DESK = 'klagomal@testfinans.se';
const OLLE = 'olle@testfinans.se';
const KARIN = 'karin@testfinans.se';
const PETRA = 'petra@testfinans.se';

/** What the firm's receiving server writes on top of a mail from staff that it verified. */
const authPass = (from: string): string =>
  `Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se header.s=mx2026; spf=pass smtp.mailfrom=${from}; dmarc=pass header.from=testfinans.se`;

const CUSTOMERS = {
  agnes: { name: 'Agnes Kund', address: 'agnes.kund@example.com' }, // approved
  bo: { name: 'Bo Kund', address: 'bo.kund@example.com' }, // replaced draft, then returned
} as const;
type Who = keyof typeof CUSTOMERS;

const ANSWER = [
  'Hej,',
  '',
  'vi har gått igenom ditt klagomål om avgiften på 60 kr. Avgiften följer av den prislista som gällde när du tecknade avtalet,',
  'och den har tagits ut på rätt sätt. Vi kan därför inte betala tillbaka den.',
].join('\n');
const ANSWER_2 = [
  'Hej,',
  '',
  'vi har gått igenom ditt klagomål en gång till. Avgiften på 60 kr står i prislistan från januari 2026, punkt 4.2,',
  'som du godkände när du tecknade avtalet. Vi kan därför inte betala tillbaka den.',
].join('\n');

interface CaseJson {
  number: string;
  status: string;
  outcome: string | null;
  deadlines: Array<{ milestone: string; metAt: string | null }>;
  finalAnswerDrafts: Array<{
    draft: number;
    state: string;
    author: string;
    decidedBy: string | null;
    returnReason: string | null;
    replacedBy: number | null;
    sentAt: string | null;
  }>;
  events: Array<{ type: string; actor: string; detail: Record<string, unknown> }>;
}

function mail(o: { top?: string[]; from: string; subject: string; messageId: string; body: string }): string {
  return [
    ...(o.top ?? []),
    `From: ${o.from}`,
    `To: ${DESK}`,
    `Subject: ${o.subject}`,
    'Date: Fri, 20 Nov 2026 10:02:00 +0100',
    `Message-ID: <${o.messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...o.body.split('\n'),
    '',
  ].join('\r\n');
}

const delivered = (raw: string, ...top: string[]): string => [...top, raw.replace(/\r?\n/g, '\r\n')].join('\r\n');

describeAll('four eyes on final answers (Dovecot + SMTP + mutt)', () => {
  let dovecot: DovecotServer;
  let smtp: SmtpReceiver;
  let world: World;
  let service: ChildProcess & { output: () => string };
  let env: NodeJS.ProcessEnv;
  const cases = {} as Record<Who, string>;

  function db<T>(fn: (store: Store) => T): T {
    const { store, close } = world.store();
    try {
      return fn(store);
    } finally {
      close();
    }
  }
  async function caseShow(who: Who): Promise<CaseJson> {
    const r = await world.cli(['case', 'show', cases[who], '--json'], env);
    if (r.code !== 0) throw new Error(`case show ${cases[who]} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as CaseJson;
  }
  function filed(messageId: string): Promise<{ kind: string }> {
    return waitFor(
      `inbound <${messageId}> filed`,
      () => db((s) => s.db.prepare("SELECT kind FROM inbound WHERE message_id = ? AND state = 'filed'").get(messageId) as { kind: string } | undefined),
      10_000,
      100,
    );
  }
  const receivedBy = (to: string, match: (m: ReceivedMail) => boolean): ReceivedMail[] => smtp.messages.filter((m) => m.to.includes(to) && match(m));
  const received = (what: string, to: string, match: (m: ReceivedMail) => boolean): Promise<ReceivedMail> =>
    waitFor(what, () => receivedBy(to, match)[0], 10_000);
  const tagged = (who: Who) => (m: ReceivedMail) => (m.subject ?? '').includes(`[${cases[who]}]`);
  const eventsOf = (c: CaseJson, type: string) => c.events.filter((e) => e.type === type);
  const confirmationOf = (to: string, messageId: string): Promise<ReceivedMail> =>
    received(`the confirmation of ${messageId}`, to, (m) => m.headers.get('in-reply-to') === messageId);
  const textOf = async (m: ReceivedMail): Promise<string> => (await simpleParser(m.raw)).text ?? '';
  /** The first mail to `to` whose text contains `needle`. */
  const receivedSaying = (what: string, to: string, needle: string): Promise<ReceivedMail> =>
    waitForAsync(what, async () => {
      for (const m of receivedBy(to, () => true)) if ((await textOf(m)).includes(needle)) return m;
      return null;
    });

  /** The approver answers an approval request in mutt; the firm's server vouches for her. */
  async function approverReplies(request: ReceivedMail, who: { name: string; address: string }, text: string): Promise<string> {
    const run = await muttCompose({ raw: request.raw, from: who, keys: '<reply><send-message><quit>', edit: { text } });
    const composed = await simpleParser(Buffer.from(run.raw, 'utf8'));
    // A real client's reply: threaded on the request, to the desk, the request quoted below.
    expect(composed.inReplyTo).toBe(request.messageId);
    // As a prefix match that prints the text when it fails (it failed once in a loaded full run, not since).
    expect((composed.text ?? '').slice(0, text.length + 1)).toBe(`${text}\n`);
    expect(composed.text ?? '').toMatch(/\nOn .+ wrote:\n> /);
    await dovecot.append(delivered(run.raw, authPass(who.address)));
    const id = composed.messageId!;
    expect((await filed(id.replace(/^<|>$/g, ''))).kind).toBe('officer');
    return id;
  }

  beforeAll(async () => {
    dovecot = await startDovecot();
    smtp = await startSmtpReceiver();
    world = makeWorld({
      sources: [imapSourceOf(dovecot, PASSWORD_ENV, { mailbox: 'INBOX', processedFolder: 'Processed', idle: true, pollSeconds: 5 })],
      transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 3 },
      outbox: { retryBaseSeconds: 1, retryMaxSeconds: 2, sendTimeoutSeconds: 5 },
      firm: { name: 'Testfinans AB', complaintsAddress: DESK, staffDomains: ['testfinans.se'], authservIds: ['mx1.testfinans.se'] },
      officers: [
        { name: 'Karin Klagomålsansvarig', address: KARIN, role: 'manager' },
        { name: 'Olle Handläggare', address: OLLE, role: 'officer' },
        { name: 'Petra Handläggare', address: PETRA, role: 'officer', available: false },
      ],
      // approval: the default ("rejections", approved by the managers).
      deadlines: { escalation: { enabled: false } },
    });
    env = { [PASSWORD_ENV]: dovecot.password };
    service = world.start(env);
    await waitFor('the IMAP connection', () => /imap connected/.test(service.output()), 20_000);
    await dovecot.appendMany(
      (Object.keys(CUSTOMERS) as Who[]).map((who) =>
        complaintMail(who, {
          from: `${CUSTOMERS[who].name} <${CUSTOMERS[who].address}>`,
          subject: `Felaktig avgift (${CUSTOMERS[who].name})`,
          messageId: `complaint-${who}@example.com`,
        }),
      ),
    );
    await smtp.waitFor(2 * Object.keys(CUSTOMERS).length, 20_000);
    db((s) => {
      for (const who of Object.keys(CUSTOMERS) as Who[]) cases[who] = s.listCases({}).find((x) => x.customer_address === CUSTOMERS[who].address)!.number;
    });
  }, 60_000);

  afterAll(async () => {
    if (service && service.exitCode === null && service.signalCode === null) {
      let timer: NodeJS.Timeout | undefined;
      const exited = new Promise((r) => service.once('exit', r));
      service.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    }
    world?.cleanup();
    await smtp?.close();
    await dovecot?.cleanup();
  }, 30_000);

  test('approvalByMailClient: a rejection waits for Karin; her #approve in mutt sends exactly what she was shown; the register names both', async () => {
    await dovecot.append(
      mail({
        top: [authPass(OLLE)],
        from: `Olle Handläggare <${OLLE}>`,
        subject: `[${cases.agnes}] slutligt svar`,
        messageId: 'olle-final-agnes@testfinans.se',
        body: ['#outcome rejected', '#final', '', ANSWER].join('\n'),
      }),
    );
    await filed('olle-final-agnes@testfinans.se');
    const request = await received('the approval request', KARIN, tagged('agnes'));
    expect(request.subject).toMatch(new RegExp(`^\\[${cases.agnes}\\] Slutligt svar att godkänna \\(utkast \\d+\\): Felaktig avgift \\(Agnes Kund\\)$`));
    const shown = await textOf(request);
    expect(shown).toContain('Avgiften följer av den prislista som gällde när du tecknade avtalet');
    expect(shown).toContain('Allmänna reklamationsnämnden'); // the frame's escalation paragraph, as the customer gets it
    expect(shown).toContain('Utfall:          rejected');
    expect(shown).toMatch(/Slutligt svar senast: \d+ \S+ 2026 kl\. 23:59/);
    const olleConfirmation = await confirmationOf(OLLE, '<olle-final-agnes@testfinans.se>');
    expect(await textOf(olleConfirmation)).toContain('sparat som utkast');
    // Nothing to the customer but the acknowledgement; the milestone is open.
    await new Promise((r) => setTimeout(r, 700));
    expect(receivedBy(CUSTOMERS.agnes.address, () => true)).toHaveLength(1);
    let c = await caseShow('agnes');
    expect(c.status).toBe('new');
    expect(c.deadlines.find((d) => d.milestone === 'finalAnswer')!.metAt).toBeNull();
    expect(c.finalAnswerDrafts.map((d) => d.state)).toEqual(['pending']);

    // Olle cannot approve his own answer (he replies to his confirmation: same thread, same case).
    await dovecot.append(
      mail({
        top: [authPass(OLLE)],
        from: `Olle Handläggare <${OLLE}>`,
        subject: `Re: [${cases.agnes}] Utfört`,
        messageId: 'olle-approve-agnes@testfinans.se',
        body: '#approve',
      }),
    );
    expect(await textOf(await confirmationOf(OLLE, '<olle-approve-agnes@testfinans.se>'))).toMatch(
      /du skrev utkast \d+: ett slutligt svar godkänns av en annan person \(fyra ögon\)/,
    );
    // Nor can Petra, who is no approver.
    await dovecot.append(
      mail({
        top: [authPass(PETRA)],
        from: `Petra Handläggare <${PETRA}>`,
        subject: `Re: [${cases.agnes}] Slutligt svar att godkänna`,
        messageId: 'petra-approve-agnes@testfinans.se',
        body: '#approve',
      }),
    );
    expect(await textOf(await confirmationOf(PETRA, '<petra-approve-agnes@testfinans.se>'))).toContain(
      `${PETRA} är inte godkännare (approval.approvers: ${KARIN})`,
    );
    // Nor a mail in Karin's name that the firm's server did not vouch for.
    await dovecot.append(
      mail({
        from: `Karin Klagomålsansvarig <${KARIN}>`,
        subject: `Re: [${cases.agnes}] Slutligt svar att godkänna`,
        messageId: 'forged-approve-agnes@attacker.example',
        body: '#approve',
      }),
    );
    await filed('forged-approve-agnes@attacker.example');
    c = await caseShow('agnes');
    expect(eventsOf(c, 'approval-refused').map((e) => e.detail)).toEqual([
      expect.objectContaining({ command: '#approve', claimedFrom: KARIN, reason: expect.stringMatching(/^the sender was not authenticated: /) }),
    ]);
    expect(receivedBy(CUSTOMERS.agnes.address, () => true)).toHaveLength(1);

    const approval = await approverReplies(request, { name: 'Karin Klagomålsansvarig', address: KARIN }, '#approve');
    const final = await received('the final answer', CUSTOMERS.agnes.address, (m) => /Vårt svar/.test(m.subject ?? ''));
    expect(final.subject).toBe(`[${cases.agnes}] Vårt svar på ditt klagomål`);
    const sent = await textOf(final);
    // Exactly the answer Karin saw, between the request's rulers.
    const between = shown.split(/^-{72}$/m)[1].trim();
    expect(sent.trim()).toBe(between);
    expect(await textOf(await confirmationOf(KARIN, approval))).toMatch(/av olle@testfinans.se godkänt: det slutliga svaret är köat till kunden/);
    await receivedSaying('the author told', OLLE, 'har godkänts av karin@testfinans.se och är köat till kunden');

    c = await waitForAsync('the final answer sent and its milestone met', async () => {
      const x = await caseShow('agnes');
      return x.deadlines.find((d) => d.milestone === 'finalAnswer')!.metAt ? x : null;
    });
    expect(c.status).toBe('answered');
    expect(c.finalAnswerDrafts).toEqual([expect.objectContaining({ state: 'approved', author: OLLE, decidedBy: KARIN, sentAt: expect.any(String) })]);
    expect(eventsOf(c, 'final-answer-approved')[0].actor).toBe(`officer:${KARIN}`);

    // The register: author, approver, drafted, approved and sent.
    const r = await world.cli(['report', '--from', '2020-01-01', '--to', '2030-12-31', '--format', 'json'], env);
    expect(r.code).toBe(0);
    const row = (
      JSON.parse(r.stdout) as { register: Array<{ caseNumber: string; approval: Record<string, string> | null; finalAnswerSentAt: string }> }
    ).register.find((x) => x.caseNumber === cases.agnes)!;
    expect(row.approval).toMatchObject({ author: OLLE, approver: KARIN, sentAt: row.finalAnswerSentAt });
    expect(row.approval!.draftedAt < row.approval!.approvedAt).toBe(true);
    const csv = await world.cli(['report', '--from', '2020-01-01', '--to', '2030-12-31', '--format', 'csv'], env);
    const [header, ...lines] = csv.stdout.replace(/^\uFEFF/, '').split('\r\n');
    const cols = header.split(',');
    const line = lines.find((l) => l.startsWith(`${cases.agnes},`))!.split(',');
    // The approval columns are the last ones: counted from the end (earlier cells may hold quoted commas).
    const cell = (name: string): string => line[line.length - (cols.length - cols.indexOf(name))];
    expect(cell('final_answer_author')).toBe(OLLE);
    expect(cell('final_answer_approver')).toBe(KARIN);
    expect(cell('final_answer_approved_sent_utc')).toBe(row.finalAnswerSentAt);
  }, 90_000);

  test('replacedDraftApprovedByMailClient: a second #final replaces the draft; Karin approving the old request is refused; #return goes back to Olle', async () => {
    const final = (n: number, answer: string): string =>
      mail({
        top: [authPass(OLLE)],
        from: `Olle Handläggare <${OLLE}>`,
        subject: `[${cases.bo}] slutligt svar ${n}`,
        messageId: `olle-final-bo-${n}@testfinans.se`,
        body: ['#outcome rejected', '#final', '', answer].join('\n'),
      });
    await dovecot.append(final(1, ANSWER));
    const first = await received('the first approval request', KARIN, tagged('bo'));
    await dovecot.append(final(2, ANSWER_2));
    const second = await received('the second approval request', KARIN, (m) => tagged('bo')(m) && m.messageId !== first.messageId);
    expect(await textOf(second)).toMatch(/Utkastet ersätter utkast \d+, som inte längre kan godkännas/);

    const stale = await approverReplies(first, { name: 'Karin Klagomålsansvarig', address: KARIN }, '#approve');
    expect(await textOf(await confirmationOf(KARIN, stale))).toMatch(
      /utkast \d+ har ersatts av utkast \d+: svara på godkännandebegäran för det nyare utkastet/,
    );
    expect(receivedBy(CUSTOMERS.bo.address, () => true)).toHaveLength(1); // the acknowledgement only

    const back = await approverReplies(second, { name: 'Karin Klagomålsansvarig', address: KARIN }, '#return Skriv vilken punkt i prislistan som gäller');
    expect(await textOf(await confirmationOf(KARIN, back))).toMatch(/tillbaka till olle@testfinans.se: Skriv vilken punkt i prislistan som gäller/);
    const told = await receivedSaying('the returned draft', OLLE, 'Skriv vilken punkt i prislistan som gäller');
    expect(await textOf(told)).toContain('Inget har skickats till kunden; skriv ett nytt #final');

    const c = await caseShow('bo');
    expect(c.finalAnswerDrafts.map((d) => [d.state, d.decidedBy])).toEqual([
      ['replaced', OLLE],
      ['returned', KARIN],
    ]);
    expect(c.finalAnswerDrafts[1].returnReason).toBe('Skriv vilken punkt i prislistan som gäller');
    expect(c.status).toBe('new');
    await new Promise((r) => setTimeout(r, 500));
    expect(receivedBy(CUSTOMERS.bo.address, () => true)).toHaveLength(1);
  }, 90_000);
});
