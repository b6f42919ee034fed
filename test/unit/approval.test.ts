/**
 * Four eyes on final answers (src/officers/approval.ts, the draft transitions of
 * src/cases/transitions.ts): on a real database with the real templates, through the
 * pipeline's filing and the officers' command runner. End to end with Dovecot, SMTP and mutt:
 * test/integration/approval.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { ConfigError, parseConfig } from '../../src/config/load';
import { CommandOutcome, parseCommandMail, runOfficerCommands } from '../../src/officers/commands';
import { FilingContext, FilingResult } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals, sha256 } from '../../src/ingest/intake';
import { parseMail } from '../../src/parse/parse';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { CaseRow, EventRow, OutboxRow, Store } from '../../src/store/store';
import { EscalationPass } from '../../src/escalation/pass';
import { approveDraft, checkDraftDecision } from '../../src/cases/transitions';
import { Instant, toInstant } from '../../src/util/clock';
import { meetMilestone } from '../../src/cases/milestones';
import { silentLogger } from '../../src/util/log';
import { runRetention } from '../../src/retention/retention';

const COMPLAINTS = 'klagomal@exempelfinans.se';
const MAJA = 'maja@exempelfinans.se'; // manager: the default approver
const MATS = 'mats@exempelfinans.se'; // a second manager
const OLLE = 'olle@exempelfinans.se'; // officer, the contact person
const PETRA = 'petra@exempelfinans.se'; // officer
const CUSTOMER = 'kund@example.com';
/** Mon 2 Mar 2026: finalAnswer (14 calendar days) is due Mon 16 Mar 23:59:59. */
const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const NOW = new Date('2026-03-03T10:00:00+01:00');
const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));
const ANSWER = 'Vi har gått igenom ditt ärende och kontrollerat avgiften på fakturan. Avgiften följer prislistan som gällde när du tecknade avtalet med oss.';
const ANSWER_2 = 'Vi har gått igenom ditt ärende en gång till. Avgiften på 250 kr följer av prislistan från 2025, som du godkände när du tecknade avtalet.';

interface World {
  config: Config;
  store: Store;
  ctx: FilingContext;
  close(): void;
}

/** The test firm's config, parsed as if it stood in `dir`. */
function configIn(dir: string, extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'], trustStaffFrom: true },
      sources: [{ type: 'maildir', path: 'maildir' }],
      dataDir: './data',
      officers: [
        { name: 'Maja Chef', address: MAJA, role: 'manager' },
        { name: 'Olle Handläggare', address: OLLE, categories: ['fees'] },
        { name: 'Petra Handläggare', address: PETRA, categories: ['interest'] },
      ],
      deadlines: { escalation: { enabled: false } },
      ...extra,
    },
    path.join(dir, 'config.json'),
  );
}

function makeWorld(extra: Record<string, unknown> = {}): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-approval-'));
  const config = configIn(dir, extra);
  const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  const ctx: FilingContext = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };
  return {
    config,
    store,
    ctx,
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;

async function fileComplaint(w: World): Promise<CaseRow> {
  const bytes = Buffer.from(
    [
      `From: Karin Kund <${CUSTOMER}>`,
      `To: ${COMPLAINTS}`,
      'Subject: Felaktig avgift på min faktura',
      'Date: Mon, 02 Mar 2026 09:00:00 +0100',
      `Message-ID: <c${++seq}@example.com>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hej,\n\nni har tagit ut en avgift på 250 kr på min faktura för februari som jag inte känner igen. Jag vill att ni betalar tillbaka avgiften.\n\nMed vänlig hälsning\nKarin Kund',
      '',
    ].join('\r\n'),
  );
  const [stored] = storeArrivals(
    w.store,
    w.config.dataDir,
    'klagomal',
    [{ raw: bytes, receivedAt: RECEIVED, mailbox: null, locator: null, sourceKey: null }],
    toInstant(RECEIVED),
  );
  const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
  const r: FilingResult = w.store.tx(() => processMail(w.ctx, w.store.inbound(stored.id)!, parsed, RECEIVED));
  return w.store.caseById(r.caseId!)!;
}

/** An officer's command mail, run as handleOfficerMail runs it; `replyTo` the Message-ID it answers. */
function command(w: World, caseId: number, text: string, o: { from?: string; now?: Date; replyTo?: string } = {}): { out: CommandOutcome; inboundId: number } {
  const now = o.now ?? NOW;
  const bytes = Buffer.from(`From: ${o.from ?? OLLE}\r\nSubject: command ${++seq}\r\n\r\n${text}`);
  const { id } = w.store.tx(() =>
    w.store.storeInbound(
      {
        source: 'test',
        mailbox: null,
        locator: null,
        sourceKey: null,
        uidvalidity: null,
        uid: null,
        receivedAt: toInstant(now),
        sha256: sha256(bytes),
        size: bytes.length,
        raw: { bytes },
      },
      toInstant(now),
    ),
  );
  const out = w.store.tx(() =>
    runOfficerCommands(
      w.ctx,
      w.store.caseById(caseId)!,
      { address: o.from ?? OLLE, name: null },
      parseCommandMail(text),
      { id, messageId: `cmd-${id}@exempelfinans.se`, references: o.replyTo ? [o.replyTo] : [] },
      now,
    ),
  );
  return { out, inboundId: id };
}

const outboxOf = (w: World, caseId: number, kind: string): OutboxRow[] => w.store.outboxOfCase(caseId).filter((o) => o.kind === kind);
const eventsOf = (w: World, caseId: number, type: string): EventRow[] => w.store.eventsOfCase(caseId).filter((e) => e.type === type);
const detail = (e: EventRow): Record<string, unknown> => JSON.parse(e.detail) as Record<string, unknown>;
const requestTo = (w: World, caseId: number, to: string): OutboxRow[] => outboxOf(w, caseId, 'approval-request').filter((o) => o.to_address === to);

describe('four eyes on final answers (approval.finalAnswer "rejections", the default)', () => {
  let w: World;
  let c: CaseRow;
  beforeEach(async () => {
    w = makeWorld();
    c = await fileComplaint(w);
  });
  afterEach(() => w.close());

  test('rejectedFinalAnswerWentStraightToTheCustomer: it is a draft, and the approver gets the answer as the customer would', () => {
    expect(w.config.approval).toEqual({ finalAnswer: 'rejections', approvers: [MAJA] });
    const { out } = command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    expect(out.errors).toEqual([]);
    expect(out.done[1].result).toMatch(
      /^final answer kept as draft \d+ for approval \(\d+ words\): sent to maja@exempelfinans.se; nothing goes to the customer/,
    );
    // Nothing to the customer; the case keeps its state; the milestone is not met.
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(w.store.caseById(c.id)).toMatchObject({ status: 'new', outcome: 'rejected' });
    expect(w.store.deadline(c.id, 'finalAnswer')!.met_at).toBeNull();
    const [draft] = w.store.draftsOfCase(c.id);
    expect(draft).toMatchObject({ state: 'pending', author: OLLE, outcome: 'rejected' });
    expect(detail(eventsOf(w, c.id, 'final-answer-drafted')[0])).toMatchObject({ draft: draft.id, author: OLLE, approvers: [MAJA], replaces: null });

    const [request] = requestTo(w, c.id, MAJA);
    const customerMail = JSON.parse(draft.mail) as { subject: string; bodyText: string; toAddress: string };
    expect(request.subject).toBe(`[${c.number}] Slutligt svar att godkänna (utkast ${draft.id}): Felaktig avgift på min faktura`);
    // The whole answer as the customer gets it: the frame, the officer's text, the ARN paragraph.
    expect(request.body_text).toContain(customerMail.bodyText);
    expect(customerMail.bodyText).toContain(ANSWER);
    expect(customerMail.bodyText).toContain('Allmänna reklamationsnämnden (ARN)');
    expect(request.body_text).toContain(`Ämne:   ${customerMail.subject}`);
    expect(request.body_text).toContain(`Till:   ${CUSTOMER}`);
    expect(request.body_text).toContain('Utfall:          rejected');
    expect(request.body_text).toContain('Slutligt svar senast: 16 mars 2026 kl. 23:59');
    expect(request.body_text).toContain('Karin Kund <kund@example.com>');
    expect(request.body_html).toContain('Allmänna reklamationsnämnden (ARN)');
    expect(eventsOf(w, c.id, 'approval-requested').map((e) => detail(e).approver)).toEqual([MAJA]);
  });

  test('approvedAnswerDiffersFromTheDraft: #approve queues exactly the mail the approver saw; answered; the register of it on the case', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const [draft] = w.store.draftsOfCase(c.id);
    const [request] = requestTo(w, c.id, MAJA);
    const later = new Date('2026-03-04T09:30:00+01:00');
    const { out } = command(w, c.id, '#approve', { from: MAJA, replyTo: request.message_id, now: later });
    expect(out.errors).toEqual([]);
    const [final] = outboxOf(w, c.id, 'final-answer');
    const saw = JSON.parse(draft.mail) as { subject: string; bodyText: string; bodyHtml: string; messageId: string };
    expect(final).toMatchObject({
      to_address: CUSTOMER,
      subject: saw.subject,
      body_text: saw.bodyText,
      body_html: saw.bodyHtml,
      message_id: saw.messageId,
      status: 'queued',
    });
    expect(final.date_header).toBe(toInstant(later));
    expect(w.store.caseById(c.id)!.status).toBe('answered');
    expect(w.store.draftById(draft.id)).toMatchObject({ state: 'approved', decided_by: MAJA, decided_at: toInstant(later), outbox_id: final.id });
    expect(detail(eventsOf(w, c.id, 'final-answer-approved')[0])).toEqual({ draft: draft.id, author: OLLE, approver: MAJA, draftedAt: draft.drafted_at });
    expect(eventsOf(w, c.id, 'status-changed').map((e) => [e.from_state, e.to_state, e.actor])).toEqual([['new', 'answered', `officer:${MAJA}`]]);
    // The author is told.
    const told = w.store.listOutbox().filter((o) => o.kind === 'officer-command-result' && o.to_address === OLLE);
    expect(told.map((o) => o.body_text).join('\n')).toContain(`har godkänts av ${MAJA}`);
    // A second #approve of the same draft is refused with the reason.
    const again = command(w, c.id, '#approve', { from: MAJA, replyTo: request.message_id }).out;
    expect(again.errors.map((e) => e.problem)).toEqual([`draft ${draft.id} was already approved by ${MAJA}`]);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
  });

  test('authorApprovedOwnAnswer: the author is refused, even when an approver; a sole approver cannot send a rejection alone', async () => {
    w.close();
    w = makeWorld({ approval: { approvers: [MAJA, OLLE] } });
    c = await fileComplaint(w);
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const [draft] = w.store.draftsOfCase(c.id);
    expect(requestTo(w, c.id, OLLE)).toEqual([]); // never asked to approve their own answer
    const { out } = command(w, c.id, '#approve');
    expect(out.errors.map((e) => e.problem)).toEqual([`you wrote draft ${draft.id}: a final answer is approved by another person (four eyes)`]);
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(w.store.draftById(draft.id)!.state).toBe('pending');
    // Maja is the only approver (the default): her own rejection has nobody to approve it, and is refused.
    const w2 = makeWorld();
    try {
      const c2 = await fileComplaint(w2);
      const own = command(w2, c2.id, `#outcome rejected\n#final\n\n${ANSWER}`, { from: MAJA }).out;
      expect(own.errors.find((e) => e.line === '#final')!.problem).toContain('nobody but you may approve it');
      expect(outboxOf(w2, c2.id, 'final-answer')).toEqual([]);
      expect(w2.store.draftsOfCase(c2.id)).toEqual([]);
      // ... and so is the rejection that leaned on it.
      expect(w2.store.caseById(c2.id)!.outcome).toBeNull();
    } finally {
      w2.close();
    }
  });

  test('nonApproverApproved: an officer who is not an approver is refused with the reason', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const { out } = command(w, c.id, '#approve', { from: PETRA });
    expect(out.errors.map((e) => e.problem)).toEqual([`${PETRA} is not an approver (approval.approvers: ${MAJA})`]);
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(eventsOf(w, c.id, 'officer-command-refused').map((e) => detail(e).command)).toEqual(['#approve']);
  });

  test('returnedDraftLost: #return goes back to the author with the reason, the draft stays in the history, a new #final makes a new draft', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const [first] = w.store.draftsOfCase(c.id);
    const short = command(w, c.id, '#return nej', { from: MAJA }).out;
    expect(short.errors[0].problem).toContain('#return needs the reason on the same line');
    const { out } = command(w, c.id, '#return Svaret måste säga vilken prislista som gällde', { from: MAJA, replyTo: requestTo(w, c.id, MAJA)[0].message_id });
    expect(out.errors).toEqual([]);
    expect(w.store.draftById(first.id)).toMatchObject({ state: 'returned', decided_by: MAJA, return_reason: 'Svaret måste säga vilken prislista som gällde' });
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    const told = w.store.listOutbox().filter((o) => o.kind === 'officer-command-result' && o.to_address === OLLE);
    expect(told.map((o) => o.body_text).join('\n')).toContain('Svaret måste säga vilken prislista som gällde');
    expect(detail(eventsOf(w, c.id, 'final-answer-returned')[0])).toMatchObject({
      draft: first.id,
      approver: MAJA,
      reason: 'Svaret måste säga vilken prislista som gällde',
    });
    // Returned: it cannot be approved any more.
    expect(command(w, c.id, `#approve ${first.id}`, { from: MAJA }).out.errors[0].problem).toBe(`draft ${first.id} was returned to its author by ${MAJA}`);
    command(w, c.id, `#final\n\n${ANSWER_2}`);
    const drafts = w.store.draftsOfCase(c.id);
    expect(drafts.map((d) => d.state)).toEqual(['returned', 'pending']);
    // The answer the case has was returned: only the new one waits.
    expect(w.store.caseById(c.id)!.status).toBe('new');
  });

  test('replacedDraftApproved: a second #final replaces the waiting draft, and an approval of the old one is refused', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const oldRequest = requestTo(w, c.id, MAJA)[0];
    const second = command(w, c.id, `#final\n\n${ANSWER_2}`).out;
    expect(second.errors).toEqual([]);
    const [d1, d2] = w.store.draftsOfCase(c.id);
    expect(d1).toMatchObject({ state: 'replaced', replaced_by: d2.id });
    expect(d2.state).toBe('pending');
    expect(detail(eventsOf(w, c.id, 'final-answer-replaced')[0])).toEqual({ draft: d1.id, by: d2.id });
    const newRequest = requestTo(w, c.id, MAJA).find((o) => o.id !== oldRequest.id)!;
    expect(newRequest.body_text).toContain(`ersätter utkast ${d1.id}`);
    // Maja answers the old request: refused, nothing sent, the new draft still waits.
    const stale = command(w, c.id, '#approve', { from: MAJA, replyTo: oldRequest.message_id }).out;
    expect(stale.errors.map((e) => e.problem)).toEqual([`draft ${d1.id} was replaced by draft ${d2.id}: answer the approval request of the newer draft`]);
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    // The new one goes out with the new text.
    expect(command(w, c.id, '#approve', { from: MAJA, replyTo: newRequest.message_id }).out.errors).toEqual([]);
    const [final] = outboxOf(w, c.id, 'final-answer');
    expect(final.body_text).toContain(ANSWER_2);
    expect(final.body_text).not.toContain(ANSWER);
  });

  test('draftWaitingCaseClosed: closing or marking answered while a draft waits is refused', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const { out } = command(w, c.id, '#status closed\n#status answered');
    expect(out.errors.map((e) => e.problem)).toEqual([
      expect.stringMatching(/^a final answer waits for approval \(draft \d+\)/),
      expect.stringMatching(/^a final answer waits for approval \(draft \d+\)/),
    ]);
    expect(w.store.caseById(c.id)!.status).toBe('new');
  });

  test('inadmissibleRefusedWhileDraftPending: #inadmissible does not close a case whose final answer waits for approval', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const draft = w.store.pendingDraftOfCase(c.id)!;
    const { out } = command(w, c.id, '#inadmissible registration error, not a complaint');
    expect(out.errors.map((e) => e.problem)).toEqual([
      `a final answer waits for approval (draft ${draft.id}): an approver answers it with #approve or #return, or a new #final replaces it`,
    ]);
    // Nothing written: not closed, not recorded as inadmissible, the draft still waits.
    expect(w.store.caseById(c.id)).toMatchObject({ status: 'new', inadmissible_reason: null, inadmissible_by: null });
    expect(eventsOf(w, c.id, 'case-inadmissible')).toEqual([]);
    expect(eventsOf(w, c.id, 'status-changed')).toEqual([]);
    expect(w.store.draftById(draft.id)!.state).toBe('pending');
    // Once the draft is decided, it may be closed as not a complaint.
    command(w, c.id, '#return Det här är en felregistrering, inget klagomål', { from: MAJA });
    expect(command(w, c.id, '#inadmissible registration error, not a complaint').out.errors).toEqual([]);
    expect(w.store.caseById(c.id)!.status).toBe('closed');
  });

  test('closeRefusedAfterRejectionDraftReturned: the approver returns the rejection, and the author cannot close the case as rejected with nothing sent', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    expect(command(w, c.id, '#return Svaret måste säga vilken prislista som gällde', { from: MAJA }).out.errors).toEqual([]);
    const { out } = command(w, c.id, '#status closed');
    expect(out.errors.map((e) => e.problem)).toEqual([
      expect.stringMatching(new RegExp(`^${c.number} cannot be closed as 'rejected': 'rejected' needs a written, reasoned answer to the customer first`)),
    ]);
    expect(w.store.caseById(c.id)!.status).toBe('new');
    expect(eventsOf(w, c.id, 'status-changed')).toEqual([]);
    // In Swedish for a Swedish-speaking officer: the confirmation says what to do.
    const told = outboxOf(w, c.id, 'officer-command-result').filter((o) => o.to_address === OLLE);
    expect(told[told.length - 1].body_text).toContain(`${c.number} kan inte stängas med utfallet 'rejected'`);
    // A new answer, approved and queued: now it closes.
    command(w, c.id, `#final\n\n${ANSWER_2}`);
    expect(command(w, c.id, '#approve', { from: MAJA }).out.errors).toEqual([]);
    expect(command(w, c.id, '#status closed').out.errors).toEqual([]);
    expect(w.store.caseById(c.id)!.status).toBe('closed');
  });

  test('rejectionAfterAnUnapprovedAnswer: an upheld answer goes straight out, but a rejection cannot lean on it later', () => {
    const sent = command(w, c.id, `#final\n\n${ANSWER}`).out;
    expect(sent.errors).toEqual([]);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
    const { out } = command(w, c.id, '#outcome rejected');
    expect(out.errors[0].problem).toContain("'rejected' needs a final answer approved by a second person");
    expect(w.store.caseById(c.id)!.outcome).toBeNull();
    // With a new #final in the same mail it goes for approval.
    expect(command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER_2}`).out.errors).toEqual([]);
    expect(w.store.pendingDraftOfCase(c.id)).toBeDefined();
  });

  test('rejectionAfterUnapprovedLaterAnswerRefused: an approved rejection, then an upheld answer sent without approval: a rejection cannot lean on the old approval', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    expect(command(w, c.id, '#approve', { from: MAJA }).out.errors).toEqual([]);
    // The officer changes the outcome and sends a new answer: it needs no approval and goes out.
    expect(command(w, c.id, `#outcome upheld\n#final\n\n${ANSWER_2}`).out.errors).toEqual([]);
    const finals = outboxOf(w, c.id, 'final-answer');
    expect(finals).toHaveLength(2);
    expect(w.store.draftsOfCase(c.id).map((d) => d.outbox_id)).toEqual([finals[0].id]);
    // The answer the customer has last is the unapproved one: a rejection is refused.
    const { out } = command(w, c.id, '#outcome rejected');
    expect(out.errors.map((e) => e.problem)).toEqual([expect.stringContaining("'rejected' needs a final answer approved by a second person")]);
    expect(w.store.caseById(c.id)!.outcome).toBe('upheld');
    // The latest answer failed for good: the approved one before it is the customer's answer again.
    w.store.db.prepare("UPDATE outbox SET status = 'failed' WHERE id = ?").run(finals[1].id);
    expect(command(w, c.id, '#outcome rejected').out.errors).toEqual([]);
  });

  test('rejectionWhoseApprovedAnswerFailedCannotBeClosed: the approved answer bounced for good; answered by letter, the case closes', () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    expect(command(w, c.id, '#approve', { from: MAJA }).out.errors).toEqual([]);
    const [sent] = outboxOf(w, c.id, 'final-answer');
    // The customer's server refuses the answer for good: the mail failed, the address bounces.
    w.store.db.prepare("UPDATE outbox SET status = 'failed' WHERE id = ?").run(sent.id);
    w.store.markAddressFailing(CUSTOMER, toInstant(NOW), '2026-04-02T10:00:00.000Z' as Instant, '550 5.1.1 no such user', null);
    // Not closed on an answer the customer never got; the refusal says what to do.
    const refused = command(w, c.id, '#status closed').out.errors.map((e) => e.problem);
    expect(refused).toEqual([expect.stringContaining(`the final answer of outbox ${sent.id} failed to send: answer the customer another way (a letter)`)]);
    expect(command(w, c.id, `#final\n\n${ANSWER_2}`).out.errors[0].problem).toContain(`mail to ${CUSTOMER} bounces`);
    // Answered by letter, recorded as met (`klagomal case met`), its reasons confirmed: the case closes as rejected.
    expect(meetMilestone(w.store, c.id, 'finalAnswer', toInstant(NOW), 'operator', { note: 'brev' })).toBe(true);
    expect(command(w, c.id, '#status closed').out.errors.map((e) => e.problem)).toEqual([
      expect.stringContaining('confirm its reasons in short with #reasons'),
    ]);
    expect(command(w, c.id, '#reasons avgiften följer prislistan som kunden godkände vid avtalet\n#status closed').out.errors).toEqual([]);
    expect(w.store.caseById(c.id)).toMatchObject({ status: 'closed', outcome: 'rejected' });
  });

  test('draftTextOutlivedRetention: anonymising a closed case blanks its drafts, keeping who and when', async () => {
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    command(w, c.id, '#return Skriv vilken prislista som gällde, Karin Kund vill veta', { from: MAJA });
    command(w, c.id, `#final\n\n${ANSWER_2}`);
    command(w, c.id, '#approve', { from: MAJA });
    expect(command(w, c.id, '#status closed').out.errors).toEqual([]);
    const r = await runRetention({ store: w.store, config: w.config }, { now: new Date('2037-01-01T12:00:00+01:00'), trigger: 'command' });
    expect(r.anonymised.map((x) => x.number)).toEqual([c.number]);
    const drafts = w.store.draftsOfCase(c.id);
    expect(drafts.map((d) => [d.state, d.mail, d.return_reason, d.author, d.decided_by])).toEqual([
      ['returned', '{}', null, OLLE, MAJA],
      ['approved', '{}', null, OLLE, MAJA],
    ]);
  });

  test('twoOutcomeLinesStillNeedApprovalForRejection: "#outcome upheld / #outcome rejected / #final" is a draft, not a mail to the customer', async () => {
    const { out } = command(w, c.id, `#outcome upheld\n#outcome rejected\n#final\n\n${ANSWER}`);
    expect(out.errors).toEqual([]);
    expect(w.store.caseById(c.id)!.outcome).toBe('rejected');
    // The answer of a rejection goes to the approver, never straight to the customer.
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(w.store.draftsOfCase(c.id)).toMatchObject([{ state: 'pending', outcome: 'rejected' }]);
    expect(requestTo(w, c.id, MAJA)).toHaveLength(1);
    // Strict: a rejection named in the mail needs approval even when a later line names another outcome.
    const w2 = makeWorld();
    try {
      const c2 = await fileComplaint(w2);
      expect(command(w2, c2.id, `#outcome rejected\n#outcome upheld\n#final\n\n${ANSWER}`).out.errors).toEqual([]);
      expect(outboxOf(w2, c2.id, 'final-answer')).toEqual([]);
      expect(w2.store.pendingDraftOfCase(c2.id)).toBeDefined();
    } finally {
      w2.close();
    }
  });

  test('upheld and withdrawn answers need no approval under "rejections"', () => {
    const { out } = command(w, c.id, `#outcome upheld\n#compensation 250\n#final\n\n${ANSWER}`);
    expect(out.errors).toEqual([]);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
    expect(w.store.draftsOfCase(c.id)).toEqual([]);
  });
});

describe('approval.finalAnswer scopes and approvers', () => {
  const worlds: World[] = [];
  afterEach(() => worlds.splice(0).forEach((x) => x.close()));
  const world = (extra: Record<string, unknown>): World => {
    const x = makeWorld(extra);
    worlds.push(x);
    return x;
  };

  test('"all": every final answer waits for approval; each approver but the author is asked', async () => {
    const w = world({
      approval: { finalAnswer: 'all', approvers: [MAJA, MATS, OLLE] },
      officers: [
        { name: 'Maja Chef', address: MAJA, role: 'manager' },
        { name: 'Mats Chef', address: MATS, role: 'manager', languages: ['en'] },
        { name: 'Olle Handläggare', address: OLLE },
      ],
    });
    const c = await fileComplaint(w);
    command(w, c.id, `#outcome upheld\n#final\n\n${ANSWER}`);
    expect(outboxOf(w, c.id, 'final-answer')).toEqual([]);
    expect(outboxOf(w, c.id, 'approval-request').map((o) => [o.to_address, o.language])).toEqual([
      [MAJA, 'sv'],
      [MATS, 'en'],
    ]);
    expect(requestTo(w, c.id, MATS)[0].subject).toMatch(/Final answer to approve \(draft \d+\)/);
    // Mats approves from a client that lost the threading headers: the waiting draft is meant.
    expect(command(w, c.id, '#approve', { from: MATS }).out.errors).toEqual([]);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
  });

  test('"none": as before approval existed', async () => {
    const w = world({ approval: { finalAnswer: 'none' } });
    const c = await fileComplaint(w);
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
    expect(w.store.caseById(c.id)!.status).toBe('answered');
  });

  test('rejectionAnsweredBeforeFourEyesCannotBeClosed: a rejection answered before a manager was configured closes once four eyes apply', async () => {
    const w = world({ officers: [{ name: 'Olle Handläggare', address: OLLE }] });
    expect(w.config.approval.finalAnswer).toBe('none');
    const c = await fileComplaint(w);
    expect(command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`).out.errors).toEqual([]);
    expect(outboxOf(w, c.id, 'final-answer')).toHaveLength(1);
    // The firm configures its manager (a config reload): four eyes on rejections from now on.
    Object.assign(w.ctx, { config: configIn(path.dirname(w.config.dataDir)) });
    expect(w.ctx.config.approval.finalAnswer).toBe('rejections');
    // The answer the customer got before four eyes applied still stands: the case closes.
    expect(command(w, c.id, '#status closed').out.errors).toEqual([]);
    expect(w.store.caseById(c.id)!.status).toBe('closed');
    // Reopened, a new rejection's answer goes for approval; returned, the case is not closed on the old one.
    expect(command(w, c.id, '#reopen kunden skickade nya uppgifter om avgiften').out.errors).toEqual([]);
    expect(command(w, c.id, `#final\n\n${ANSWER_2}`).out.errors).toEqual([]);
    const draft = w.store.pendingDraftOfCase(c.id)!;
    expect(command(w, c.id, '#return Svaret måste säga vilken prislista som gällde', { from: MAJA }).out.errors).toEqual([]);
    expect(command(w, c.id, '#status closed').out.errors.map((e) => e.problem)).toEqual([
      `${c.number} cannot be closed as 'rejected': ${MAJA} returned the final answer of draft ${draft.id}, written after the last answer sent to the customer: write a new #final, which goes for approval`,
    ]);
    expect(w.store.caseById(c.id)!.status).toBe('in-progress');
  });

  test('without a manager the default is "none"; an approver must be a configured officer; a scope needs approvers', () => {
    const noManager = world({ officers: [{ name: 'Olle', address: OLLE }] });
    expect(noManager.config.approval).toEqual({ finalAnswer: 'none', approvers: [] });
    const problems = (extra: Record<string, unknown>): string[] => {
      try {
        makeWorld(extra).close();
        return [];
      } catch (e) {
        return (e as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
      }
    };
    expect(problems({ approval: { approvers: ['vd@exempelfinans.se'] } })).toEqual([
      expect.stringMatching(/^approval\.approvers\[0\]: vd@exempelfinans.se is not a configured officer/),
    ]);
    expect(problems({ officers: [{ name: 'Olle', address: OLLE }], approval: { finalAnswer: 'all' } })).toEqual([
      expect.stringMatching(/^approval\.approvers: approval.finalAnswer "all" needs at least one approver/),
    ]);
    expect(problems({ approval: { finalAnswer: 'some' } })).toEqual([expect.stringMatching(/^approval\.finalAnswer: /)]);
  });

  test('approvedTwiceByTwoApprovers: a draft decided meanwhile (another process) is not approved again; one pending draft per case', async () => {
    const w = world({ approval: { approvers: [MAJA, PETRA] } });
    const c = await fileComplaint(w);
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const stale = w.store.pendingDraftOfCase(c.id)!;
    expect(command(w, c.id, '#approve', { from: PETRA }).out.errors).toEqual([]);
    // Maja's process read the draft before Petra's approval committed: the guarded update refuses.
    const r = w.store.tx(() => approveDraft(w.store, w.store.caseById(c.id)!, stale, MAJA, [MAJA, PETRA], 999, `officer:${MAJA}`, toInstant(NOW)));
    expect(r).toMatchObject({ ok: false, code: 'changed-meanwhile' });
    expect(w.store.draftById(stale.id)).toMatchObject({ state: 'approved', decided_by: PETRA });
    expect(eventsOf(w, c.id, 'final-answer-approved')).toHaveLength(1);
    // The schema holds at most one waiting draft per case.
    command(w, c.id, `#final\n\n${ANSWER_2}`);
    const mail = w.store.pendingDraftOfCase(c.id)!.mail;
    expect(() =>
      w.store.insertDraft({
        caseId: c.id,
        author: OLLE,
        inboundId: null,
        outcome: null,
        words: 1,
        mail: JSON.parse(mail),
        approvers: [MAJA],
        at: toInstant(NOW),
      }),
    ).toThrow(/UNIQUE/);
  });

  test('checkDraftDecision: the refusals, pure', () => {
    const d = { id: 3, state: 'pending' as const, author: OLLE, replaced_by: null, decided_by: null };
    expect(checkDraftDecision(d, MAJA, [MAJA])).toEqual({ ok: true });
    expect(checkDraftDecision(d, OLLE, [MAJA, OLLE])).toMatchObject({ ok: false, code: 'author' });
    expect(checkDraftDecision(d, PETRA, [MAJA])).toMatchObject({ ok: false, code: 'not-approver' });
    expect(checkDraftDecision({ ...d, state: 'replaced', replaced_by: 4 }, MAJA, [MAJA])).toMatchObject({ ok: false, code: 'not-pending' });
  });
});

describe('deadlines while a draft waits', () => {
  let w: World;
  afterEach(() => w.close());

  test('draftNotEscalatedToApprovers: the final answer warnings go to the approvers too, and the digest lists the draft', async () => {
    w = makeWorld({
      approval: { approvers: [PETRA] },
      deadlines: { escalation: { enabled: true, digestTime: '07:30' } },
    });
    const c = await fileComplaint(w);
    command(w, c.id, `#outcome rejected\n#final\n\n${ANSWER}`);
    const pass = new EscalationPass(w.store, w.config, TEMPLATES, w.ctx.calendar, silentLogger);
    // Fri 13 Mar 08:00: 1 business day before Mon 16 Mar (warn-2bd, warn-1bd and manager-1bd due).
    const r = pass.run(new Date('2026-03-13T08:00:00+01:00'));
    const finals = r.actions.filter((a) => a.milestone === 'finalAnswer');
    expect(finals.length).toBeGreaterThan(0);
    for (const a of finals.filter((x) => x.level !== 'manager-1bd')) expect(a.to).toEqual(expect.arrayContaining([OLLE, PETRA]));
    const warnings = w.store.listOutbox().filter((o) => o.kind === 'escalation-warning' && o.to_address === PETRA);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0].body_text).toContain('Ett slutligt svar väntar på godkännande sedan');
    expect(warnings[0].body_text).toContain('#approve');
    const toOlle = w.store.listOutbox().find((o) => o.kind === 'escalation-warning' && o.to_address === OLLE)!;
    expect(toOlle.body_text).toContain('Ett slutligt svar väntar på godkännande');
    expect(toOlle.body_text).not.toContain('#approve');
    const digest = w.store.listOutbox().find((o) => o.kind === 'manager-digest')!;
    expect(digest.body_text).toMatch(
      new RegExp(
        `Slutliga svar som väntar på godkännande \\(1\\):\\n  - ${c.number}  utkast av ${OLLE} sedan 3 mars 2026 kl\\. 10:00, slutligt svar senast 16 mars 2026 kl\\. 23:59`,
      ),
    );
    // The milestone is still open: a draft is not an answer.
    expect(w.store.deadline(c.id, 'finalAnswer')!.met_at).toBeNull();
  });
});
