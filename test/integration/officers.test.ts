/**
 * Officers work cases from their mail clients, end to end: a real Dovecot (INBOX and the shared
 * mailbox's Sent folder, both watched by `klagomal start`), a real SMTP receiver, and mutt in
 * batch mode composing replies as a person's client does.
 *
 * One service and one mailbox serve every scenario (each on its own case); the complaints all
 * arrive in beforeAll. The firm's receiving server is mx1.testfinans.se: an officer's mail counts
 * as staff only with its Authentication-Results header on top.
 */
import { simpleParser, type ParsedMail as MailparserMail } from 'mailparser';
import type { ChildProcess } from 'node:child_process';
import { dovecotAvailable, imapSourceOf, startDovecot, DovecotServer } from '../support/dovecot';
import { startSmtpReceiver, SmtpReceiver, ReceivedMail } from '../support/smtp';
import { makeWorld, World, complaintMail, waitFor, waitForAsync } from '../support/world';
import { muttAvailable, muttCompose } from '../support/mutt';
import type { Store } from '../../src/store/store';

const dovecot_ = dovecotAvailable();
if (!dovecot_.ok) console.warn(`Officer mail tests skipped: ${dovecot_.reason}`);
const describeImap = dovecot_.ok ? describe : describe.skip;
const mutt_ = muttAvailable();
if (dovecot_.ok && !mutt_.ok) console.warn(`Officer tests with a real mail client skipped: ${mutt_.reason}`);
const testMutt = dovecot_.ok && mutt_.ok ? test : test.skip;

const PASSWORD_ENV = 'KLAGOMAL_TEST_IMAP_PASSWORD';
const DESK = 'klagomal@testfinans.se';
const OLLE = 'olle@testfinans.se';
const KARIN = 'karin@testfinans.se';

/** What the firm's receiving server writes on top of a mail from staff that it verified. */
const AUTH_PASS = `Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se header.s=mx2026; spf=pass smtp.mailfrom=${OLLE}; dmarc=pass header.from=testfinans.se`;

/** One customer per scenario, so that every scenario has its own case. */
const CUSTOMERS = {
  anna: { name: 'Anna Kund', address: 'anna.kund@example.com' }, // 1 and 2: new case, officer reply with Cc
  bertil: { name: 'Bertil Kund', address: 'bertil.kund@example.com' }, // 3: reply from the Sent folder
  cecilia: { name: 'Cecilia Kund', address: 'cecilia.kund@example.com' }, // 4: command mail
  david: { name: 'David Kund', address: 'david.kund@example.com' }, // 5: forged staff From
  eva: { name: 'Eva Kund', address: 'eva.kund@example.com' }, // 6: mutt
  fredrik: { name: 'Fredrik Kund', address: 'fredrik.kund@example.com' }, // 7: #final
  gustav: { name: 'Gustav Kund', address: 'gustav.kund@example.com' }, // 8: shared-mailbox reply with a copy to itself
} as const;
type Who = keyof typeof CUSTOMERS;

const complaintId = (who: Who): string => `complaint-${who}@example.com`;

interface CaseJson {
  number: string;
  status: string;
  outcome: string | null;
  decidedBy: string | null;
  contactOfficer: string | null;
  customer: { name: string | null; address: string | null };
  deadlines: Array<{ milestone: string; metAt: string | null }>;
  messages: Array<{ direction: 'in' | 'out'; kind: string; messageId: string | null; from?: { address: string | null }; status?: string }>;
  events: Array<{ type: string; actor: string; from: string | null; to: string | null; detail: Record<string, unknown> }>;
}

/** A hand-written mail (CRLF), with optional header lines on top (Authentication-Results). */
function mail(o: {
  top?: string[];
  from: string;
  to: string;
  cc?: string;
  subject: string;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  body: string;
}): string {
  return [
    ...(o.top ?? []),
    `From: ${o.from}`,
    `To: ${o.to}`,
    ...(o.cc ? [`Cc: ${o.cc}`] : []),
    `Subject: ${o.subject}`,
    'Date: Fri, 20 Nov 2026 10:02:00 +0100',
    `Message-ID: <${o.messageId}>`,
    ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
    ...(o.references?.length ? [`References: ${o.references.map((r) => `<${r}>`).join(' ')}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...o.body.split('\n'),
    '',
  ].join('\r\n');
}

/** Prepend a header line to a mail as a receiving server does (and make its line ends CRLF for APPEND). */
function delivered(raw: string, ...top: string[]): string {
  return [...top, raw.replace(/\r?\n/g, '\r\n')].join('\r\n');
}

describeImap('officers work cases from their mail clients (Dovecot + SMTP + mutt)', () => {
  let dovecot: DovecotServer;
  let smtp: SmtpReceiver;
  let world: World;
  let service: ChildProcess & { output: () => string };
  let env: NodeJS.ProcessEnv;
  /** Case number per customer. */
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

  /** The inbound mail with this Message-ID once the processor has filed it. */
  function filed(messageId: string, timeoutMs = 10_000): Promise<{ kind: string; case_id: number | null; mailbox: string }> {
    return waitFor(
      `inbound <${messageId}> filed`,
      () =>
        db(
          (s) =>
            s.db.prepare("SELECT kind, case_id, mailbox FROM inbound WHERE message_id = ? AND state = 'filed'").get(messageId) as
              { kind: string; case_id: number | null; mailbox: string } | undefined,
        ),
      timeoutMs,
      100,
    );
  }

  /** The first mail the SMTP receiver got for `to` that matches. */
  function received(what: string, to: string, match: (m: ReceivedMail) => boolean, timeoutMs = 10_000): Promise<ReceivedMail> {
    return waitFor(what, () => smtp.messages.find((m) => m.to.includes(to) && match(m)), timeoutMs);
  }

  const receivedBy = (to: string, match: (m: ReceivedMail) => boolean): ReceivedMail[] => smtp.messages.filter((m) => m.to.includes(to) && match(m));
  const tagged = (who: Who) => (m: ReceivedMail) => (m.subject ?? '').includes(`[${cases[who]}]`);
  const eventsOf = (c: CaseJson, type: string) => c.events.filter((e) => e.type === type);
  const metAt = (c: CaseJson, milestone: string) => c.deadlines.find((d) => d.milestone === milestone)?.metAt ?? null;

  beforeAll(async () => {
    dovecot = await startDovecot();
    smtp = await startSmtpReceiver();
    // Sent mail from before the service first looked: history, never imported.
    await dovecot.append(
      mail({
        from: `Testfinans AB <${DESK}>`,
        to: 'Gammal Kund <gammal@example.com>',
        subject: 'Re: Ett gammalt ärende från i fjol',
        messageId: 'old-sent-reply@testfinans.se',
        body: 'Hej, här är vårt svar från i fjol.',
      }),
      'Sent',
    );
    world = makeWorld({
      sources: [imapSourceOf(dovecot, PASSWORD_ENV, { mailbox: 'INBOX', processedFolder: 'Processed', sentFolder: 'Sent', idle: true, pollSeconds: 5 })],
      transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 3 },
      outbox: { retryBaseSeconds: 1, retryMaxSeconds: 2, sendTimeoutSeconds: 5 },
      firm: { name: 'Testfinans AB', complaintsAddress: DESK, staffDomains: ['testfinans.se'], authservIds: ['mx1.testfinans.se'] },
      officers: [
        { name: 'Karin Klagomålsansvarig', address: KARIN, role: 'manager' },
        { name: 'Olle Handläggare', address: OLLE, role: 'officer' },
      ],
      // The desk's own policy adds a first answer (met by an officer's mail to the customer).
      deadlines: {
        policies: ['desk'],
        custom: { desk: { preset: 'promise-24h-14d', firstAnswer: { unit: 'businessDays', amount: 3 } } },
        escalation: { enabled: false },
      },
    });
    env = { [PASSWORD_ENV]: dovecot.password };
    service = world.start(env);
    await waitFor(
      'both IMAP connections, and the first look at the Sent folder',
      () => (service.output().match(/imap connected/g) ?? []).length >= 2 && /watching the Sent folder from its current end/.test(service.output()),
      20_000,
    );
    await dovecot.appendMany(
      (Object.keys(CUSTOMERS) as Who[]).map((who) =>
        complaintMail(who, {
          from: `${CUSTOMERS[who].name} <${CUSTOMERS[who].address}>`,
          subject: `Felaktig avgift (${CUSTOMERS[who].name})`,
          messageId: complaintId(who),
        }),
      ),
    );
    // An acknowledgement to each customer and a notification to Olle for each case.
    await smtp.waitFor(2 * Object.keys(CUSTOMERS).length, 20_000);
    db((s) => {
      for (const who of Object.keys(CUSTOMERS) as Who[]) {
        const c = s.listCases({}).find((x) => x.customer_address === CUSTOMERS[who].address);
        if (!c) throw new Error(`no case for ${who}`);
        cases[who] = c.number;
      }
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
    world?.cleanup(); // SIGKILLs the service if it is still running
    await smtp?.close();
    await dovecot?.cleanup();
  }, 30_000);

  test('1 a complaint opens a case, the customer is acknowledged and Olle is notified with the original attached', async () => {
    const c = await caseShow('anna');
    expect(c.status).toBe('new');
    expect(c.contactOfficer).toBe(OLLE);
    expect(c.customer.address).toBe(CUSTOMERS.anna.address);
    expect(eventsOf(c, 'officer-notified')).toHaveLength(1);

    const ack = await received('the acknowledgement', CUSTOMERS.anna.address, tagged('anna'));
    expect(ack.headers.get('in-reply-to')).toBe(`<${complaintId('anna')}>`);
    expect(receivedBy(CUSTOMERS.anna.address, () => true)).toHaveLength(1);

    const note = await received('the notification', OLLE, tagged('anna'));
    expect(note.subject).toBe(`[${cases.anna}] Nytt klagomål till dig: Felaktig avgift (Anna Kund)`);
    expect(note.from).toBe(DESK);
    const parsed = await simpleParser(note.raw);
    expect(parsed.text).toContain(cases.anna);
    expect(parsed.text).toContain(CUSTOMERS.anna.address);
    const original = parsed.attachments.filter((a) => a.contentType === 'message/rfc822');
    expect(original).toHaveLength(1);
    expect(original[0].filename).toBe('original.eml');
    expect(original[0].content.toString('utf8')).toContain(`Message-ID: <${complaintId('anna')}>`);
    // Exactly the stored inbound mail: the complaint as it came.
    const inner = await simpleParser(original[0].content);
    expect(inner.from?.value[0].address).toBe(CUSTOMERS.anna.address);
    expect(inner.subject).toBe('Felaktig avgift (Anna Kund)');
    // Only the contact person is notified: nothing to the manager.
    expect(receivedBy(KARIN, () => true)).toHaveLength(0);
  });

  test('2 an officer reply to the customer with the desk in Cc is recorded and meets the first answer', async () => {
    const before = smtp.messages.length;
    await dovecot.append(
      mail({
        top: [AUTH_PASS],
        from: `Olle Handläggare <${OLLE}>`,
        to: `Anna Kund <${CUSTOMERS.anna.address}>`,
        cc: DESK,
        subject: 'SV: Felaktig avgift (Anna Kund)',
        messageId: 'olle-reply-anna@testfinans.se',
        inReplyTo: complaintId('anna'),
        references: [complaintId('anna')],
        body: [
          'Hej Anna,',
          '',
          'tack för ditt mejl. Vi undersöker avgiften på 60 kr och återkommer inom kort.',
          '',
          'Olle',
          '',
          `Den 19 nov. 2026 kl. 09:14 skrev Anna Kund <${CUSTOMERS.anna.address}>:`,
          '> Hej, jag vill klaga på en avgift på 60 kr.',
        ].join('\n'),
      }),
    );
    const inbound = await filed('olle-reply-anna@testfinans.se');
    expect(inbound.kind).toBe('officer');
    expect(inbound.mailbox).toBe('INBOX');

    const c = await caseShow('anna');
    expect(c.messages.filter((m) => m.direction === 'in').map((m) => [m.kind, m.messageId])).toEqual([
      ['complaint', complaintId('anna')],
      ['officer', 'olle-reply-anna@testfinans.se'],
    ]);
    const replied = eventsOf(c, 'officer-replied');
    expect(replied).toHaveLength(1);
    expect(replied[0].actor).toBe(`officer:${OLLE}`);
    expect(replied[0].detail).toMatchObject({ messageId: 'olle-reply-anna@testfinans.se', via: 'a copy to the complaints address' });
    expect(metAt(c, 'firstAnswer')).not.toBeNull();
    expect(eventsOf(c, 'milestone-met').map((e) => e.detail.milestone)).toContain('firstAnswer');
    expect(eventsOf(c, 'spoofing-suspected')).toHaveLength(0);
    expect(c.status).toBe('new'); // a reply is not a command
    // No confirmation (it was no command mail) and no mail to the customer from us.
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.messages.slice(before)).toHaveLength(0);
  });

  test('3 a reply saved in the Sent folder is recorded as the officer answer; mail already there before is not imported', async () => {
    await dovecot.append(
      mail({
        from: `Testfinans AB <${DESK}>`,
        to: `Bertil Kund <${CUSTOMERS.bertil.address}>`,
        subject: 'Re: Felaktig avgift (Bertil Kund)',
        messageId: 'sent-reply-bertil@testfinans.se',
        inReplyTo: complaintId('bertil'),
        references: [complaintId('bertil')],
        body: 'Hej Bertil,\n\nvi har tagit emot ditt klagomål och utreder avgiften.\n\nKarin',
      }),
      'Sent',
    );
    const inbound = await filed('sent-reply-bertil@testfinans.se');
    expect(inbound).toMatchObject({ kind: 'officer', mailbox: 'Sent' });

    const c = await caseShow('bertil');
    const officerMessages = c.messages.filter((m) => m.kind === 'officer');
    expect(officerMessages.map((m) => [m.messageId, m.from?.address])).toEqual([['sent-reply-bertil@testfinans.se', DESK]]);
    const replied = eventsOf(c, 'officer-replied');
    expect(replied).toHaveLength(1);
    expect(replied[0].actor).toBe(`officer:${DESK}`);
    expect(replied[0].detail.via).toBe('the Sent folder of the shared mailbox');
    expect(metAt(c, 'firstAnswer')).not.toBeNull();

    // What was in Sent before the service first looked stays history.
    const fromSent = db((s) => s.db.prepare("SELECT message_id FROM inbound WHERE mailbox = 'Sent' ORDER BY id").all() as Array<{ message_id: string }>);
    expect(fromSent.map((r) => r.message_id)).toEqual(['sent-reply-bertil@testfinans.se']);
    const list = JSON.parse((await world.cli(['mail', 'list', '--json'], env)).stdout) as Array<{ kind: string; case: string | null; subject: string }>;
    expect(list.some((m) => /gammalt ärende/i.test(m.subject ?? ''))).toBe(false);
    expect(list.find((m) => m.subject === 'Re: Felaktig avgift (Bertil Kund)')).toMatchObject({ kind: 'officer', case: cases.bertil });
    // The Sent folder is read, never flagged or moved.
    const sent = await dovecot.list('Sent');
    expect(sent.map((m) => m.messageId)).toEqual(['<old-sent-reply@testfinans.se>', '<sent-reply-bertil@testfinans.se>']);
    for (const m of sent) expect(m.flags).not.toContain('\\Seen');
  });

  test('8 a reply from the shared mailbox with a copy to itself: the inbox copy is held as a loop, the Sent copy is the officer answer', async () => {
    const reply = mail({
      from: `Testfinans AB <${DESK}>`,
      to: `Gustav Kund <${CUSTOMERS.gustav.address}>`,
      cc: DESK,
      subject: 'Re: Felaktig avgift (Gustav Kund)',
      messageId: 'shared-reply-gustav@testfinans.se',
      inReplyTo: complaintId('gustav'),
      references: [complaintId('gustav')],
      body: 'Hej Gustav,\n\nvi utreder avgiften och återkommer inom två veckor.\n\nKarin',
    });
    // Internal mail carries no Authentication-Results: nothing vouches for the inbox copy.
    await dovecot.append(reply, 'INBOX');
    expect(await filed('shared-reply-gustav@testfinans.se')).toMatchObject({ kind: 'autoreply' });
    await dovecot.append(reply, 'Sent');
    const fromSent = await waitFor('the Sent copy filed', () =>
      db(
        (s) =>
          s.db.prepare("SELECT kind FROM inbound WHERE message_id = ? AND mailbox = 'Sent' AND state = 'filed'").get('shared-reply-gustav@testfinans.se') as
            { kind: string } | undefined,
      ),
    );
    expect(fromSent.kind).toBe('officer');
    const c = await caseShow('gustav');
    expect(eventsOf(c, 'officer-replied').map((e) => e.detail.via)).toEqual(['the Sent folder of the shared mailbox']);
    expect(metAt(c, 'firstAnswer')).not.toBeNull();
    // Nothing was sent because of it: no confirmation, no acknowledgement of our own mail.
    expect(receivedBy(DESK, () => true)).toEqual([]);
  });

  test('4 a command mail changes the status, records a note and refuses a typo; Olle gets one confirmation', async () => {
    await dovecot.append(
      mail({
        top: [AUTH_PASS],
        from: `Olle Handläggare <${OLLE}>`,
        to: DESK,
        subject: `[${cases.cecilia}] kommandon`,
        messageId: 'olle-commands-cecilia@testfinans.se',
        body: ['#status in-progress', '#stat closed', '#note Kunden ringde och bekräftade avgiften på 60 kr.', '', 'Olle'].join('\n'),
      }),
    );
    expect((await filed('olle-commands-cecilia@testfinans.se')).kind).toBe('officer');
    const confirmation = await received('the confirmation', OLLE, (m) => tagged('cecilia')(m) && !/Nytt klagomål/.test(m.subject ?? ''));
    expect(confirmation.subject).toBe(`[${cases.cecilia}] Fel i kommandon`);
    expect(confirmation.headers.get('in-reply-to')).toBe('<olle-commands-cecilia@testfinans.se>');
    const text = (await simpleParser(confirmation.raw)).text ?? '';
    expect(text).toContain('#status in-progress  ->  status: new -> in-progress');
    // In Olle's language (Swedish, his first), the errors too; the events keep the English.
    expect(text).toContain('#note Kunden ringde och bekräftade avgiften på 60 kr.  ->  anteckning sparad');
    expect(text).toContain('rad 2: #stat closed');
    expect(text).toContain("okänt kommando '#stat' — menade du '#status'?");
    expect(text).not.toMatch(/unknown command|did you mean/);

    const c = await caseShow('cecilia');
    expect(c.status).toBe('in-progress');
    expect(eventsOf(c, 'status-changed').map((e) => [e.from, e.to, e.actor])).toEqual([['new', 'in-progress', `officer:${OLLE}`]]);
    expect(eventsOf(c, 'officer-command').map((e) => e.detail.command)).toEqual([
      '#status in-progress',
      '#note Kunden ringde och bekräftade avgiften på 60 kr.',
    ]);
    const refused = eventsOf(c, 'officer-command-refused');
    expect(refused).toHaveLength(1);
    expect(refused[0].detail).toMatchObject({ command: '#stat closed', line: 2 });
    expect(refused[0].detail.problem).toMatch(/^unknown command '#stat' — did you mean '#status'\?/);
    const notes = eventsOf(c, 'note-added').map((e) => e.detail.text);
    expect(notes).toContain('Kunden ringde och bekräftade avgiften på 60 kr.');
    // The signature after the commands is a note too (the rest of the mail).
    expect(notes).toContain('Olle');

    await new Promise((r) => setTimeout(r, 500));
    expect(receivedBy(OLLE, (m) => tagged('cecilia')(m) && !/Nytt klagomål/.test(m.subject ?? ''))).toHaveLength(1);
    expect(receivedBy(CUSTOMERS.cecilia.address, () => true)).toHaveLength(1); // the acknowledgement only
  });

  test('5 a forged staff From carries no commands: a flagged follow-up, and the manager is told', async () => {
    // Commands that would close the case if they were believed (withdrawn needs no reasoned answer).
    const body = ['#outcome withdrawn', '#status closed', '', 'Stäng ärendet.'].join('\n');
    const forged = [
      {
        id: 'forged-fail-david@attacker.example',
        // The firm's server recorded a failure on top; the sender's own "pass" below it does not count.
        top: [
          'Authentication-Results: mx1.testfinans.se; dkim=fail header.d=testfinans.se; spf=fail smtp.mailfrom=olle@testfinans.se; dmarc=fail header.from=testfinans.se',
          // The firm's server's own Received: what the sender wrote stands below it.
          'Received: from mail.attacker.example (mail.attacker.example [203.0.113.9]) by mx1.testfinans.se (Postfix) with ESMTPS; Fri, 20 Nov 2026 10:00:00 +0100',
          'Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se; dmarc=pass header.from=testfinans.se',
        ],
        reason: /mx1\.testfinans\.se recorded dkim=fail, spf=fail, dmarc=fail: none passed for testfinans\.se/,
      },
      { id: 'forged-none-david@attacker.example', top: [], reason: /no Authentication-Results header from mx1\.testfinans\.se/ },
      {
        id: 'forged-other-server-david@attacker.example',
        top: ['Authentication-Results: mx.attacker.example; dkim=pass header.d=testfinans.se; dmarc=pass header.from=testfinans.se'],
        reason: /no Authentication-Results header from mx1\.testfinans\.se/,
      },
    ];
    for (const f of forged) {
      await dovecot.append(mail({ top: f.top, from: `Olle Handläggare <${OLLE}>`, to: DESK, subject: `[${cases.david}] stäng`, messageId: f.id, body }));
    }
    for (const f of forged) expect((await filed(f.id)).kind).toBe('followup');

    const notices = await waitFor(
      'three notices to the manager',
      () => {
        const n = receivedBy(KARIN, (m) => (m.subject ?? '').includes(cases.david));
        return n.length >= 3 ? n : null;
      },
      10_000,
    );
    for (const n of notices) {
      expect(n.subject).toBe(`Misstänkt förfalskad avsändare / Suspected forged staff sender (ärende ${cases.david} / case ${cases.david})`);
      const text = (await simpleParser(n.raw)).text ?? '';
      expect(text).toContain(`A mail from ${OLLE} reached ${DESK}`);
      expect(text).toContain('no commands were carried out (2)');
    }

    const c = await caseShow('david');
    expect(c.status).toBe('new');
    expect(c.outcome).toBeNull();
    expect(c.messages.filter((m) => m.direction === 'in').map((m) => m.kind)).toEqual(['complaint', 'followup', 'followup', 'followup']);
    const suspected = eventsOf(c, 'spoofing-suspected');
    expect(suspected).toHaveLength(3);
    forged.forEach((f, i) => {
      expect(suspected[i].detail).toMatchObject({ claimedFrom: OLLE, commandsIgnored: 2 });
      expect(suspected[i].detail.reason).toMatch(f.reason);
    });
    expect(eventsOf(c, 'officer-command')).toHaveLength(0);
    expect(eventsOf(c, 'officer-command-refused')).toHaveLength(0);
    expect(eventsOf(c, 'status-changed')).toHaveLength(0);
    const adminNotices = c.messages.filter((m) => m.direction === 'out' && m.kind === 'admin-notice');
    expect(adminNotices).toHaveLength(3);

    // No confirmation to the (real) Olle: only his notification of the new case.
    await new Promise((r) => setTimeout(r, 500));
    expect(receivedBy(OLLE, tagged('david')).map((m) => m.subject)).toEqual([`[${cases.david}] Nytt klagomål till dig: Felaktig avgift (David Kund)`]);
    expect(db((s) => s.outboxOfCase(s.caseByNumber(cases.david)!.id).filter((o) => o.kind === 'officer-command-result'))).toHaveLength(0);
  });

  testMutt('6a mutt: Olle replies to the notification with a command; the client threads it and the command is carried out', async () => {
    const notification = await received('the notification', OLLE, tagged('eva'));
    const run = await muttCompose({
      raw: notification.raw,
      from: { name: 'Olle Handläggare', address: OLLE },
      keys: '<reply><send-message><quit>',
      edit: { text: '#status in-progress' },
    });
    const composed = await simpleParser(Buffer.from(run.raw, 'utf8'));
    // What a real client did with the notification's headers.
    expect(composed.inReplyTo).toBe(notification.messageId);
    const refs = ([] as string[]).concat(composed.references ?? []);
    expect(refs[refs.length - 1]).toBe(notification.messageId);
    expect(composed.subject).toBe(`Re: ${notification.subject}`);
    expect(composed.from?.value[0]).toMatchObject({ address: OLLE, name: 'Olle Handläggare' });
    expect(composed.to && !Array.isArray(composed.to) ? composed.to.value.map((a) => a.address) : []).toEqual([DESK]);
    expect(run.sendmailArgs.slice(-1)).toEqual([DESK]);
    // The command on top, then mutt's attribution and the quoted notification.
    const body = composed.text ?? '';
    expect(body.startsWith('#status in-progress\n')).toBe(true);
    expect(body).toMatch(/\nOn .+ wrote:\n> Hej Olle Handläggare,/);
    expect(run.draft).toMatch(/^In-Reply-To: <.+>$/m);

    await dovecot.append(delivered(run.raw, AUTH_PASS));
    expect((await filed(composed.messageId!.replace(/^<|>$/g, ''))).kind).toBe('officer');
    const confirmation = await received('the confirmation', OLLE, (m) => m.headers.get('in-reply-to') === composed.messageId);
    expect(confirmation.subject).toBe(`[${cases.eva}] Utfört`);
    expect((await simpleParser(confirmation.raw)).text).toContain('#status in-progress  ->  status: new -> in-progress');

    const c = await caseShow('eva');
    expect(c.status).toBe('in-progress');
    expect(eventsOf(c, 'officer-command').map((e) => [e.actor, e.detail.command])).toEqual([[`officer:${OLLE}`, '#status in-progress']]);
    // The quoted notification is history, not a note.
    expect(eventsOf(c, 'note-added')).toHaveLength(0);
  });

  testMutt('6b mutt: Olle opens the attached original, replies to the customer with the desk in Cc; recorded as the first answer', async () => {
    const notification = await received('the notification', OLLE, tagged('eva'));
    const run = await muttCompose({
      raw: notification.raw,
      from: { name: 'Olle Handläggare', address: OLLE },
      // The attachment menu, the message/rfc822 part, Reply: as the notification tells officers to do.
      keys: '<view-attachments><search>message/rfc822<enter><reply><send-message><exit><quit>',
      edit: { headers: { Cc: DESK }, text: 'Hej Eva,\n\nvi har tagit emot ditt klagomål om avgiften och utreder det nu.\n\nOlle' },
    });
    const composed = await simpleParser(Buffer.from(run.raw, 'utf8'));
    const addresses = (v: MailparserMail['to']): string[] =>
      (v ? ([] as Array<{ value: Array<{ address?: string }> }>).concat(v) : []).flatMap((a) => a.value.map((x) => x.address ?? ''));
    // mutt answered the customer's mail, not the notification.
    expect(composed.inReplyTo).toBe(`<${complaintId('eva')}>`);
    expect(([] as string[]).concat(composed.references ?? [])).toEqual([`<${complaintId('eva')}>`]);
    expect(composed.subject).toBe('Re: Felaktig avgift (Eva Kund)');
    expect(addresses(composed.to)).toEqual([CUSTOMERS.eva.address]);
    expect(addresses(composed.cc)).toEqual([DESK]);
    expect(run.sendmailArgs).toEqual(expect.arrayContaining([CUSTOMERS.eva.address, DESK]));
    expect(composed.text ?? '').toMatch(/^Hej Eva,\n[\s\S]*\nOn .+, Eva Kund wrote:\n> Hej, jag vill klaga/);

    await dovecot.append(delivered(run.raw, AUTH_PASS));
    const id = composed.messageId!.replace(/^<|>$/g, '');
    expect((await filed(id)).kind).toBe('officer');
    const c = await caseShow('eva');
    const replied = eventsOf(c, 'officer-replied');
    expect(replied).toHaveLength(1);
    expect(replied[0].actor).toBe(`officer:${OLLE}`);
    expect(replied[0].detail).toMatchObject({ messageId: id, via: 'a copy to the complaints address' });
    expect(metAt(c, 'firstAnswer')).not.toBeNull();
    // A reply to the customer is not a command mail: no confirmation for it.
    await new Promise((r) => setTimeout(r, 500));
    expect(receivedBy(OLLE, (m) => m.headers.get('in-reply-to') === composed.messageId)).toHaveLength(0);
  });

  test('7 #final with a reasoned answer and #outcome rejected: the customer gets the answer with the ARN paragraph; the milestone is met once it is sent', async () => {
    const answer = [
      'Hej Fredrik,',
      '',
      'vi har gått igenom ditt klagomål om avgiften på 60 kr. Avgiften följer av den prislista som gällde när du tecknade avtalet,',
      'och den har tagits ut på rätt sätt. Vi kan därför inte betala tillbaka den.',
    ].join('\n');
    await dovecot.append(
      mail({
        top: [AUTH_PASS],
        from: `Olle Handläggare <${OLLE}>`,
        to: DESK,
        subject: `[${cases.fredrik}] slutligt svar`,
        messageId: 'olle-final-fredrik@testfinans.se',
        body: ['#outcome rejected', '#final', '', answer].join('\n'),
      }),
    );
    expect((await filed('olle-final-fredrik@testfinans.se')).kind).toBe('officer');
    const final = await received('the final answer', CUSTOMERS.fredrik.address, (m) => /Vårt svar/.test(m.subject ?? ''));
    expect(final.subject).toBe(`[${cases.fredrik}] Vårt svar på ditt klagomål`);
    expect(final.headers.get('in-reply-to')).toBe(`<${complaintId('fredrik')}>`);
    const text = (await simpleParser(final.raw)).text ?? '';
    expect(text).toContain('Avgiften följer av den prislista som gällde när du tecknade avtalet');
    expect(text).toContain('Allmänna reklamationsnämnden');
    expect(text).toContain(cases.fredrik);

    const confirmation = await received('the confirmation', OLLE, (m) => m.headers.get('in-reply-to') === '<olle-final-fredrik@testfinans.se>');
    expect(confirmation.subject).toBe(`[${cases.fredrik}] Utfört`);

    // The milestone is met by the sending, which the service records just after the SMTP reply.
    const c = await waitForAsync('finalAnswer met', async () => {
      const x = await caseShow('fredrik');
      return metAt(x, 'finalAnswer') ? x : null;
    });
    expect(c.outcome).toBe('rejected');
    expect(c.decidedBy).toBe(OLLE);
    expect(c.status).toBe('answered');
    expect(eventsOf(c, 'officer-command-refused')).toHaveLength(0);
    expect(eventsOf(c, 'officer-command').map((e) => e.detail.command)).toEqual(['#outcome rejected', '#final']);
    const queued = eventsOf(c, 'final-answer-queued');
    expect(queued).toHaveLength(1);
    expect(queued[0].detail.words).toBeGreaterThanOrEqual(15);
    const sentAt = eventsOf(c, 'mail-sent').find((e) => e.detail.kind === 'final-answer')!;
    const met = eventsOf(c, 'milestone-met').find((e) => e.detail.milestone === 'finalAnswer')!;
    expect(met.actor).toBe('sender');
    expect(met.detail.messageId).toBe(final.messageId!.replace(/^<|>$/g, ''));
    expect(c.events.indexOf(met)).toBeGreaterThan(c.events.indexOf(sentAt));
    // The answer is on the case as sent.
    expect(c.messages.find((m) => m.kind === 'final-answer')).toMatchObject({ direction: 'out', status: 'sent' });
  });
});
