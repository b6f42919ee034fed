/**
 * A complaint that reached customer service and was forwarded by staff to the complaints
 * mailbox, through the real binary: filed as the customer's complaint, with the customer's
 * address and the time their mail reached the firm (the deadline runs from then), the
 * forwarder on record, and the acknowledgement going to the customer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, deliverToMaildir } from '../support/world';
import { parseHeaders } from '../support/smtp';

const AUTH_PASS =
  'Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se; spf=pass smtp.mailfrom=erik@testfinans.se; dmarc=pass header.from=testfinans.se';
const CUSTOMER_TEXT =
  'Hej, jag har fått en påminnelseavgift på 60 kr för lån 12345 trots att jag betalade i tid den 28 oktober. Jag vill ha avgiften återbetald.';

function forwardMail(body: string, opts: { auth?: boolean; contentType?: string; messageId?: string } = {}): string {
  return [
    ...(opts.auth === false ? [] : [AUTH_PASS]),
    'From: Erik Kundtjänst <erik@testfinans.se>',
    'To: klagomal@testfinans.se',
    'Subject: VB: Felaktig påminnelseavgift',
    'Date: Thu, 19 Nov 2026 14:00:00 +0100',
    `Message-ID: <${opts.messageId ?? `fwd-${Math.random().toString(36).slice(2)}`}@testfinans.se>`,
    'MIME-Version: 1.0',
    `Content-Type: ${opts.contentType ?? 'text/plain; charset=utf-8'}`,
    'Content-Transfer-Encoding: 8bit',
    '',
    body,
    '',
  ].join('\r\n');
}

const OUTLOOK_SV = `Hej, detta kom till kundtjänst.\n\nFrån: Anna Svensson <anna.svensson@example.com>\nSkickat: den 2 november 2026 09:15\nTill: Kundtjänst <kundtjanst@testfinans.se>\nÄmne: Felaktig påminnelseavgift\n\n${CUSTOMER_TEXT}\n`;

function attachedOriginal(): string {
  const inner = [
    'From: Bo Nilsson <bo.nilsson@example.org>',
    'To: kundtjanst@testfinans.se',
    'Date: Tue, 03 Nov 2026 16:40:00 +0100',
    'Subject: Klagomal pa ranta',
    'Message-ID: <bo-original-1@example.org>',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Räntan på mitt lån höjdes utan besked. Jag vill ha skillnaden tillbaka.',
    '',
  ].join('\r\n');
  return forwardMail(
    [
      '--fw',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Se bifogat.',
      '--fw',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment',
      '',
      inner,
      '--fw--',
    ].join('\r\n'),
    {
      contentType: 'multipart/mixed; boundary="fw"',
    },
  );
}

interface CaseJson {
  number: string;
  customer: { address: string; name: string | null };
  receivedAt: string;
  subject: string | null;
}

describe('complaints forwarded by staff', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.cleanup());

  function pickup(): Buffer[] {
    return fs.existsSync(w.pickup)
      ? fs
          .readdirSync(w.pickup)
          .filter((f) => f.endsWith('.eml'))
          .map((f) => fs.readFileSync(path.join(w.pickup, f)))
      : [];
  }

  test('an Outlook forward (quoted text) is the customer\u2019s complaint from the original date', async () => {
    deliverToMaildir(w.maildir, forwardMail(OUTLOOK_SV));
    const r = await w.cli(['run', '--once', '--json']);
    expect(r.code).toBe(0);

    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as CaseJson[];
    expect(cases).toHaveLength(1);
    expect(cases[0].customer).toMatchObject({ address: 'anna.svensson@example.com', name: 'Anna Svensson' });

    const { store, close } = w.store();
    try {
      const c = store.caseByNumber(cases[0].number)!;
      // 09:15 Stockholm time on 2 November (CET) is 08:15 UTC: the customer's mail, not the forward of 19 November.
      expect(c.received_at).toBe('2026-11-02T08:15:00.000Z');
      expect(c.subject).toBe('Felaktig påminnelseavgift');
      // Every deadline was computed from the original's arrival.
      const deadlines = store.deadlinesOfCase(c.id);
      expect(deadlines.length).toBeGreaterThan(0);
      for (const d of deadlines) expect(d.computed_from).toBe('2026-11-02T08:15:00.000Z');
      const opened = store.db.prepare("SELECT detail FROM events WHERE case_id = ? AND type = 'case-opened'").get(c.id) as { detail: string };
      expect(JSON.parse(opened.detail)).toMatchObject({
        forwardedBy: 'erik@testfinans.se',
        originalAs: 'inline',
        originalDate: 'den 2 november 2026 09:15',
        customerAddressSource: 'forwarded',
      });
    } finally {
      close();
    }

    // The acknowledgement goes to the customer, not to the colleague who forwarded it.
    const sent = pickup();
    const acks = sent.filter((m) => parseHeaders(m).get('auto-submitted') === 'auto-replied');
    expect(acks).toHaveLength(1);
    expect(parseHeaders(acks[0]).get('to')).toBe('anna.svensson@example.com');
  });

  test('a forward with the original attached uses its sender, date and Message-ID; forwarding it again adds no case', async () => {
    deliverToMaildir(w.maildir, attachedOriginal());
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    deliverToMaildir(w.maildir, attachedOriginal()); // a colleague forwards the same mail again
    expect((await w.cli(['run', '--once'])).code).toBe(0);

    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as CaseJson[];
    expect(cases).toHaveLength(1);
    expect(cases[0].customer.address).toBe('bo.nilsson@example.org');
    const { store, close } = w.store();
    try {
      const c = store.caseByNumber(cases[0].number)!;
      expect(c.received_at).toBe('2026-11-03T15:40:00.000Z');
      // The customer's words are in the stored text of the case's first mail, not only in the attachment.
      const body = store.db.prepare('SELECT body_text FROM messages WHERE case_id = ? ORDER BY id LIMIT 1').get(c.id) as { body_text: string };
      expect(body.body_text).toContain('Räntan på mitt lån höjdes utan besked.');
      const kinds = store.db.prepare('SELECT kind FROM inbound ORDER BY id').all() as Array<{ kind: string }>;
      expect(kinds.map((k) => k.kind)).toEqual(['complaint', 'followup']);
    } finally {
      close();
    }
    const acks = pickup().filter((m) => parseHeaders(m).get('auto-submitted') === 'auto-replied');
    expect(acks).toHaveLength(1);
    expect(parseHeaders(acks[0]).get('in-reply-to')).toBe('<bo-original-1@example.org>');
  });

  test('without authentication the forward is not believed: no case in the customer\u2019s name, no backdating', async () => {
    deliverToMaildir(w.maildir, forwardMail(OUTLOOK_SV, { auth: false }));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const cases = JSON.parse((await w.cli(['cases', '--json'])).stdout) as CaseJson[];
    expect(cases).toHaveLength(1);
    expect(cases[0].customer.address).toBe('erik@testfinans.se');
    const { store, close } = w.store();
    try {
      expect(store.caseByNumber(cases[0].number)!.received_at).not.toBe('2026-11-02T08:15:00.000Z');
    } finally {
      close();
    }
    // Nothing automatic goes to anyone on an unauthenticated staff From.
    expect(pickup().filter((m) => parseHeaders(m).get('to') === 'anna.svensson@example.com')).toHaveLength(0);
  });
});
