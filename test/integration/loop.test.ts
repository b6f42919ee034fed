/**
 * Mail loops: the firm's pipeline facing another pipeline or an autoresponder, mail carried
 * between them by the test (pickup folder of one -> Maildir of the other) for many rounds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, complaintMail, deliverToMaildir } from '../support/world';
import { parseHeaders, decodeMimeWords } from '../support/smtp';

interface Sent {
  file: string;
  raw: Buffer;
  headers: Map<string, string>;
}

/** Mails a world wrote to its pickup folder since the last call. */
function takeOutgoing(w: World, seen: Set<string>): Sent[] {
  if (!fs.existsSync(w.pickup)) return [];
  const out: Sent[] = [];
  for (const f of fs.readdirSync(w.pickup).sort()) {
    if (!f.endsWith('.eml') || seen.has(f)) continue;
    seen.add(f);
    const raw = fs.readFileSync(path.join(w.pickup, f));
    out.push({ file: f, raw, headers: parseHeaders(raw) });
  }
  return out;
}

async function pass(w: World): Promise<void> {
  const r = await w.cli(['run', '--once']);
  expect(r.code).toBe(0);
}

describe('loops', () => {
  const worlds: World[] = [];
  afterEach(() => {
    for (const w of worlds.splice(0)) w.cleanup();
  });

  test('twoComplaintPipelinesAnswerEachOtherForever', async () => {
    const a = makeWorld();
    const b = makeWorld({ firm: { name: 'Annan Firma AB', complaintsAddress: 'klagomal@annanfirma.se', staffDomains: ['annanfirma.se'] } });
    worlds.push(a, b);
    // A person at B writes to A from B's shared complaints mailbox, as a person would (no auto headers).
    deliverToMaildir(a.maildir, complaintMail('b', { from: 'Annan Firma <klagomal@annanfirma.se>', subject: 'Fråga om er avgift' }));
    const seenA = new Set<string>();
    const seenB = new Set<string>();
    let fromA = 0;
    let fromB = 0;
    for (let round = 0; round < 6; round++) {
      await pass(a);
      for (const m of takeOutgoing(a, seenA)) {
        fromA++;
        if (m.headers.get('to') === 'klagomal@annanfirma.se') deliverToMaildir(b.maildir, m.raw);
      }
      await pass(b);
      for (const m of takeOutgoing(b, seenB)) {
        fromB++;
        if (m.headers.get('to') === 'klagomal@testfinans.se') deliverToMaildir(a.maildir, m.raw);
      }
    }
    expect(fromA).toBe(1); // the acknowledgement of the person's mail
    expect(fromB).toBe(0); // B recognises A's acknowledgement as automatic and does not answer it
    const kinds = JSON.parse((await b.cli(['mail', 'list', '--json'])).stdout) as Array<{ kind: string; reason: string }>;
    expect(kinds).toEqual([expect.objectContaining({ kind: 'autoreply', reason: expect.stringMatching(/Auto-Submitted: auto-replied/) })]);
  });

  test('autoresponderWithoutAutoSubmittedKeepsTheExchangeGoing', async () => {
    // A badly behaved autoresponder (no Auto-Submitted, no Precedence) that answers every mail
    // with "Re: <subject>" and In-Reply-To, like the ticket systems of LESSONS.md #13.
    const a = makeWorld();
    worlds.push(a);
    deliverToMaildir(a.maildir, complaintMail('r', { from: 'Kund <kund@robot.example>', subject: 'Felaktig avgift' }));
    const seen = new Set<string>();
    let ours = 0;
    let theirs = 0;
    for (let round = 0; round < 6; round++) {
      await pass(a);
      for (const m of takeOutgoing(a, seen)) {
        ours++;
        theirs++;
        deliverToMaildir(
          a.maildir,
          complaintMail(`reply${round}`, {
            from: 'Kund <kund@robot.example>',
            subject: `Re: ${decodeMimeWords(m.headers.get('subject') ?? '')}`,
            headers: [`In-Reply-To: ${m.headers.get('message-id')}`, `References: ${m.headers.get('message-id')}`],
            body: 'Tack för ditt mejl. Vi återkommer så snart vi kan.',
          }),
        );
      }
    }
    expect(ours).toBe(1);
    expect(theirs).toBe(1);
    const cases = JSON.parse((await a.cli(['cases', '--json'])).stdout) as unknown[];
    expect(cases).toHaveLength(1); // its answer is a follow-up on the case, not a new complaint
  });

  test('autoresponderWithFreshSubjectsAndNoThreadingGetsAnswersWithoutEnd', async () => {
    // The worst kind: no headers at all and a new subject every time. Each of its mails looks
    // like a new complaint from a person; the per-address cap is what ends the exchange.
    const a = makeWorld({ acknowledgement: { maxPerAddressPer24h: 3 } });
    worlds.push(a);
    deliverToMaildir(a.maildir, complaintMail('w', { from: 'Robot <noise@robot.example>', subject: 'Ärende 1' }));
    const seen = new Set<string>();
    let ours = 0;
    let n = 1;
    for (let round = 0; round < 8; round++) {
      await pass(a);
      for (const m of takeOutgoing(a, seen)) {
        void m;
        ours++;
        n++;
        deliverToMaildir(
          a.maildir,
          // Wording no rule recognises (a receipt's "Vi har registrerat ditt ärende" is recognised:
          // see perTicketAddressesOfOneHelpdeskAreCapped); here only the cap can end it.
          complaintMail(`w${n}`, { from: 'Robot <noise@robot.example>', subject: `Ärende ${n}`, body: `Information om ärende ${n} från systemet.` }),
        );
      }
    }
    expect(ours).toBe(3);
    const events = JSON.parse((await a.cli(['cases', '--json'])).stdout) as Array<{ number: string }>;
    expect(events.length).toBe(4); // every mail is still filed (nothing is lost), only the answers stop
    const last = JSON.parse((await a.cli(['case', 'show', events[3].number, '--json'])).stdout) as {
      events: Array<{ type: string; detail: { reason?: string } }>;
    };
    expect(last.events.find((e) => e.type === 'acknowledgement-suppressed')?.detail.reason).toMatch(/maxPerAddressPer24h = 3/);
  });

  /**
   * A ticket system that answers every acknowledgement from a fresh per-ticket address, with a
   * fresh subject and no RFC 3834 header (issue 17: 15 acknowledgements in 15 rounds). `from(n)`
   * is the helpdesk's address for ticket n, `text(n)` what it says. Returns our automatic mails
   * to the helpdesk and the cases filed.
   */
  async function helpdeskLoop(
    a: World,
    rounds: number,
    from: (n: number) => string,
    text: (n: number) => { subject: string; body: string },
  ): Promise<{ ours: number; cases: Array<{ number: string }> }> {
    deliverToMaildir(a.maildir, complaintMail('h1', { from: `Helpdesk <${from(1)}>`, ...text(1) }));
    const seen = new Set<string>();
    let ours = 0;
    let n = 1;
    for (let round = 0; round < rounds; round++) {
      await pass(a);
      for (const m of takeOutgoing(a, seen)) {
        if (!/helpdesk\.example/.test(m.headers.get('to') ?? '')) continue; // the contact person's notices stay here
        ours++;
        n++;
        deliverToMaildir(a.maildir, complaintMail(`h${n}`, { from: `Helpdesk <${from(n)}>`, ...text(n) }));
      }
    }
    const cases = JSON.parse((await a.cli(['cases', '--json'])).stdout) as Array<{ number: string }>;
    return { ours, cases };
  }

  /** What a helpdesk says that no rule can read as automatic: only the caps can end the loop. */
  const opaque = (n: number): { subject: string; body: string } => ({ subject: `Uppdatering ${n * 7}`, body: `Information om post ${n * 7} från systemet.` });

  test('perTicketAddressesOfOneHelpdeskAreCapped', async () => {
    // support+t17@, support+t18@, ...: one mailbox (RFC 5233 subaddresses), held to the per-address cap.
    const a = makeWorld({ acknowledgement: { maxPerAddressPer24h: 3 } });
    worlds.push(a);
    const tagged = await helpdeskLoop(a, 5, (n) => `support+t${16 + n}@helpdesk.example`, opaque);
    expect(tagged.ours).toBe(3);
    expect(tagged.cases).toHaveLength(4); // every mail is still filed; only the answers stop
    const last = JSON.parse((await a.cli(['case', 'show', tagged.cases[3].number, '--json'])).stdout) as {
      events: Array<{ type: string; detail: { reason?: string } }>;
    };
    expect(last.events.find((e) => e.type === 'acknowledgement-suppressed')?.detail.reason).toMatch(/maxPerAddressPer24h = 3/);
  }, 120_000);

  test('freshAddressesOfOneHelpdeskAreCappedPerDomain', async () => {
    // t17@, t18@, ...: a fresh address each time, held to the per-domain cap.
    const b = makeWorld({ loop: { maxPerDomainPer24h: 4 } });
    worlds.push(b);
    const fresh = await helpdeskLoop(b, 6, (n) => `t${16 + n}@helpdesk.example`, opaque);
    expect(fresh.ours).toBe(4);
    expect(fresh.cases).toHaveLength(5);
    const last = JSON.parse((await b.cli(['case', 'show', fresh.cases[4].number, '--json'])).stdout) as {
      events: Array<{ type: string; detail: { reason?: string } }>;
    };
    expect(last.events.find((e) => e.type === 'acknowledgement-suppressed')?.detail.reason).toMatch(/helpdesk\.example .*loop\.maxPerDomainPer24h = 4/);
  }, 120_000);

  test('hourlyCapCountedWrongWithinOneBatch', async () => {
    // Seven complaints from seven customers, filed in one batch (one transaction), which carries
    // the hourly count instead of asking the store per mail (issue 16): exactly the cap is
    // acknowledged, the rest say why; a second pass, a new transaction, asks the store again.
    const w = makeWorld({ loop: { maxAutomaticPerHour: 3 } });
    worlds.push(w);
    for (let i = 0; i < 7; i++)
      deliverToMaildir(w.maildir, complaintMail(i, { from: `Kund ${i} <kund${i}@example.com>`, messageId: `hourly-${i}@example.com` }));
    await pass(w);
    const acks = (): string[] => (fs.existsSync(w.pickup) ? fs.readdirSync(w.pickup).filter((f) => /-acknowledgement-/.test(f)) : []);
    expect(acks()).toHaveLength(3);
    deliverToMaildir(w.maildir, complaintMail(7, { from: 'Kund 7 <kund7@example.com>', messageId: 'hourly-7@example.com' }));
    await pass(w);
    expect(acks()).toHaveLength(3);
    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as Array<{ number: string }>;
    expect(cases).toHaveLength(8);
    const reasons: string[] = [];
    for (const c of cases) {
      const shown = JSON.parse((await w.cli(['case', 'show', c.number, '--json'])).stdout) as { events: Array<{ type: string; detail: { reason?: string } }> };
      for (const e of shown.events) if (e.type === 'acknowledgement-suppressed') reasons.push(e.detail.reason ?? '');
    }
    expect(reasons).toEqual(Array(5).fill('3 acknowledgements were queued in the last hour (loop.maxAutomaticPerHour = 3)'));
  }, 120_000);

  test('ticketSystemReceiptsEndTheLoopAtOnce', async () => {
    // The same helpdesk, saying what helpdesks say: its first receipt is recognised, never answered.
    const a = makeWorld();
    worlds.push(a);
    const receipt = (n: number): { subject: string; body: string } =>
      n === 1
        ? { subject: 'Fråga om avgift', body: 'Hej, vi vill veta varför avgiften på 60 kr togs ut. Mvh Helpdesk' }
        : { subject: `Ticket #${16 + n} opened`, body: 'We received your request and will get back to you shortly.' };
    const r = await helpdeskLoop(a, 6, (n) => `support+t${16 + n}@helpdesk.example`, receipt);
    expect(r.ours).toBe(1); // the acknowledgement of the first mail, nothing after
    expect(r.cases).toHaveLength(1);
    const kinds = JSON.parse((await a.cli(['mail', 'list', '--json'])).stdout) as Array<{ kind: string; reason: string }>;
    expect(kinds.filter((k) => k.kind === 'autoreply')).toEqual([expect.objectContaining({ reason: expect.stringMatching(/ticket system's receipt/) })]);
  });
});
