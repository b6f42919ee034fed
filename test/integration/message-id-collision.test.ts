/**
 * Issue 17 item 1, end to end through the real binary: a complaint whose Message-ID was already
 * used by another mail is filed and acknowledged, never skipped as a "duplicate"; a true copy
 * still is; replies thread to the right mail of a colliding pair; `mail list` shows duplicates.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, complaintMail } from '../support/world';

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('Message-ID collisions (a web form with one constant Message-ID, or a forged one)', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.cleanup());

  async function ingest(name: string, raw: string): Promise<Record<string, unknown>> {
    const file = path.join(w.dir, name);
    fs.writeFileSync(file, raw);
    const r = await w.cli(['ingest', '--json', file]);
    expect(r.code).toBe(0);
    return jsonLines(r.stdout)[0];
  }

  test('complaintWithCollidingMessageIdIsFiledAndAcknowledged', async () => {
    const id = 'form-submission@webform.example';
    const first = await ingest(
      'a.eml',
      complaintMail('a', { messageId: id, from: 'Mallory <mallory@evil.example>', body: 'Första texten, från en annan avsändare.' }),
    );
    const second = await ingest('b.eml', complaintMail('b', { messageId: id, from: 'Anna Svensson <anna@example.com>' }));
    expect(first).toMatchObject({ kind: 'complaint', action: 'opened' });
    expect(second).toMatchObject({ kind: 'complaint', action: 'opened', acknowledgement: 'queued' });
    expect(second.caseId).not.toBe(first.caseId);

    // The same Message-ID from the same sender but with other text (a form that reuses its id) is a new mail too.
    const third = await ingest(
      'c.eml',
      complaintMail('c', { messageId: id, from: 'Anna Svensson <anna@example.com>', subject: 'Ett annat klagomål', body: 'Nu gäller det räntan.' }),
    );
    expect(third).toMatchObject({ kind: 'complaint', action: 'opened' });

    const show = JSON.parse((await w.cli(['case', 'show', String(second.caseId), '--json'])).stdout) as {
      events: Array<{ type: string; detail: Record<string, unknown> }>;
    };
    const collision = show.events.find((e) => e.type === 'message-id-collision');
    expect(collision?.detail).toMatchObject({ messageId: id, earlierInbound: first.inbound, earlierCase: first.caseId });

    const run = await w.cli(['run', '--once', '--json']);
    expect(run.code).toBe(0);
    const sentTo = fs.readdirSync(w.pickup).map((f) => /^To: (.*)$/m.exec(fs.readFileSync(path.join(w.pickup, f), 'utf8'))?.[1]);
    expect(sentTo).toContain('anna@example.com');
    expect(sentTo.filter((t) => t === 'anna@example.com')).toHaveLength(2);
  });

  test('sameMailDeliveredTwiceWithOtherTraceHeadersIsStillADuplicate', async () => {
    const raw = complaintMail('copy', { messageId: 'copy-1@example.com' });
    const first = await ingest('a.eml', raw);
    // The same mail by a second route: more Received lines, Delivered-To, LF line endings.
    const relayed = ['Received: from relay2.example.net by mx2.testfinans.se; Thu, 19 Nov 2026 09:14:09 +0100', 'Delivered-To: klagomal@testfinans.se', raw]
      .join('\r\n')
      .replace(/\r\n/g, '\n');
    const second = await ingest('b.eml', relayed);
    expect(first).toMatchObject({ kind: 'complaint', action: 'opened' });
    expect(second).toMatchObject({ kind: 'duplicate', action: 'skipped', caseId: null });
    expect(String(second.reason)).toContain(`#${String(first.inbound)}`);
  });

  test('replyToCollidingMessageIdThreadsToTheSameSendersCase', async () => {
    const id = 'shared-id@crm.example';
    const mallory = await ingest('m.eml', complaintMail('m', { messageId: id, from: 'Mallory <mallory@evil.example>', subject: 'Hej', body: 'Skräp.' }));
    const anna = await ingest('a.eml', complaintMail('a', { messageId: id, from: 'Anna Svensson <anna@example.com>', subject: 'Avgift' }));
    const reply = (from: string, subject: string) =>
      complaintMail(`r-${from}`, { from, subject, headers: [`In-Reply-To: <${id}>`, `References: <${id}>`], body: 'Här är kvittot ni bad om.' });
    const annasReply = await ingest('ra.eml', reply('Anna Svensson <anna@example.com>', 'Re: Avgift'));
    expect(annasReply).toMatchObject({ kind: 'followup', caseId: anna.caseId });
    const mallorysReply = await ingest('rm.eml', reply('Mallory <mallory@evil.example>', 'Re: Hej'));
    expect(mallorysReply).toMatchObject({ kind: 'followup', caseId: mallory.caseId });
  });

  test('mailListShowsDuplicatesWithWhatTheyDuplicate', async () => {
    const raw = complaintMail('dup', { messageId: 'dup-1@example.com' });
    const first = await ingest('a.eml', raw);
    const second = await ingest('b.eml', `Received: from x by y; Thu, 19 Nov 2026 09:14:09 +0100\r\n${raw}`);
    expect(second.kind).toBe('duplicate');
    const list = await w.cli(['mail', 'list', '--kind', 'duplicate', '--json']);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ inbound: second.inbound, kind: 'duplicate', duplicateOf: first.inbound, case: first.caseId, from: 'kunddup@example.com' });
    const text = await w.cli(['mail', 'list', '--kind', 'duplicate']);
    expect(text.stdout).not.toContain('no mail');
    expect(text.stdout).toContain(`#${String(first.inbound)}`);
  });
});
