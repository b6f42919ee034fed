/**
 * Retention (src/retention/retention.ts): a closed case past its period loses exactly its
 * personal data (names, addresses, phone numbers, personnummer, mail text, attachments, raw
 * mails) and keeps what statistics need (category, dates, deadlines, outcome, amounts); a case
 * on legal hold, an open case and a case closed too recently are not touched; every run is on
 * record without personal data; a second run changes nothing; raw mails can go earlier.
 *
 * Cases are filed the pipeline's way (stored, parsed, filed) and closed by officers' command
 * mails; ten years pass by giving the run a later `now`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { flushPendingFiles, KEPT_FIELDS, runRetention, RetentionResult, startRetentionSchedule, yearsBefore } from '../../src/retention/retention';
import { silentLogger } from '../../src/util/log';
import { verifyAudit } from '../../src/audit/verify';
import { storeArrivals } from '../../src/ingest/intake';
import { toInstant } from '../../src/util/clock';
import { closeCase, command, complaint, deliver, filesUnder, Firm, makeFirm, OLLE, rawMail, rows, runCommand } from '../support/personal-data';
import type { CaseRow } from '../../src/store/store';
import { outboxCommand } from '../../src/cli/outbox';
import { OutboxSender } from '../../src/reply/outbox-sender';
import type { Transport } from '../../src/reply/transport';
import type { Logger } from '../../src/util/log';

const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const CLOSED = new Date('2026-03-10T10:00:00+01:00');
/** Ten years and a day after CLOSED. */
const NOW = new Date('2036-03-11T10:00:00+01:00');

const KARIN = 'karin.kund@example.com';
const NILS = 'nils@example.net';
const PNR_KARIN = '19850412-1230';
const STANDARD_FORM = Buffer.from('%PDF-1.4\n% the firm’s standard complaint form, sent back by many customers\n');
const STATEMENT = Buffer.from('%PDF-1.4\n% Karin Kund, kontoutdrag februari, konto 1234-5678\n');

const KARIN_BODY = [
  'Hej,',
  '',
  'ni har tagit ut en avgift på 250 kr på min faktura för februari som jag inte känner igen. Jag vill att ni betalar tillbaka avgiften.',
  '',
  `Mitt personnummer är ${PNR_KARIN}. Ring mig på 070-123 45 67.`,
  '',
  'Med vänlig hälsning',
  'Karin Kund',
  'Storgatan 1, 123 45 Småstad',
].join('\n');

/** Everything stored about a case, for before/after comparisons. */
function snapshot(f: Firm, caseId: number): Record<string, unknown> {
  const inbound = rows(f, 'SELECT * FROM inbound WHERE case_id = ? ORDER BY id', caseId);
  const ids = inbound.map((r) => r.id as number);
  const list = ids.length ? ids.join(',') : '0';
  return {
    case: rows(f, 'SELECT * FROM cases WHERE id = ?', caseId),
    deadlines: rows(f, 'SELECT * FROM deadlines WHERE case_id = ? ORDER BY milestone', caseId),
    inbound,
    raw: rows(
      f,
      `SELECT sha256, size, bytes, path, removed_at FROM raw_mail WHERE sha256 IN (SELECT sha256 FROM inbound WHERE id IN (${list})) ORDER BY sha256`,
    ),
    messages: rows(f, 'SELECT * FROM messages WHERE case_id = ? ORDER BY id', caseId),
    attachments: rows(f, `SELECT * FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE case_id = ?) ORDER BY id`, caseId),
    outbox: rows(f, 'SELECT * FROM outbox WHERE case_id = ? ORDER BY id', caseId),
    events: rows(f, 'SELECT * FROM events WHERE case_id = ? ORDER BY id', caseId),
  };
}

const attachmentPath = (content: Buffer): string => {
  const sha = require('node:crypto').createHash('sha256').update(content).digest('hex') as string;
  return path.join('attachments', sha.slice(0, 2), sha);
};

describe('yearsBefore', () => {
  test('whole years back; 29 February falls back to 28 February', () => {
    expect(toInstant(yearsBefore(new Date('2036-03-11T09:00:00Z'), 10))).toBe('2026-03-11T09:00:00.000Z');
    expect(toInstant(yearsBefore(new Date('2028-02-29T12:00:00Z'), 1))).toBe('2027-02-28T12:00:00.000Z');
  });
});

describe('retention of closed cases', () => {
  let f: Firm;
  let a: CaseRow; // Karin: closed ten years ago, with a large raw mail and two attachments
  let b: CaseRow; // Nils: closed ten years ago, on legal hold, shares the standard form with Karin
  let c: CaseRow; // open
  let d: CaseRow; // closed four years ago
  let followupInbound: number;

  beforeEach(async () => {
    f = makeFirm();
    a = await complaint(
      f,
      { from: `Karin Kund <${KARIN}>`, body: KARIN_BODY, attachment: { filename: 'kontoutdrag februari.pdf', content: STATEMENT } },
      RECEIVED,
    );
    // Karin's follow-up with the standard form, large enough to be kept as a file under data/raw.
    const big = `Här kommer blanketten.\n\n${'Bilaga och förklaring. '.repeat(60_000)}`;
    const fu = await deliver(
      f,
      rawMail({
        from: `Karin Kund <${KARIN}>`,
        subject: `Sv: [${a.number}] Felaktig avgift`,
        body: big,
        attachment: { filename: 'blankett.pdf', content: STANDARD_FORM },
      }),
      new Date(RECEIVED.getTime() + 86_400_000),
      { asFile: true },
    );
    expect(fu).toMatchObject({ kind: 'followup', caseId: a.id });
    followupInbound = fu.inboundId;
    b = await complaint(f, { from: `Nils Nilsson <${NILS}>`, subject: 'Avgift', attachment: { filename: 'blankett.pdf', content: STANDARD_FORM } }, RECEIVED);
    c = await complaint(f, { from: 'Ola Öppen <ola@example.org>', subject: 'Ränta' }, RECEIVED);
    d = await complaint(f, { from: 'Dora Dahl <dora@example.org>', subject: 'Kort' }, RECEIVED);
    closeCase(f, a.id, CLOSED);
    closeCase(f, b.id, CLOSED);
    expect(command(f, b.id, '#hold ARN 2026-01234: kunden har gått till ARN', CLOSED).out.errors).toEqual([]);
    closeCase(f, d.id, new Date('2032-01-15T10:00:00+01:00'));
    // What was queued went out long ago (there is no sender in these tests).
    f.store.db.prepare("UPDATE outbox SET status = 'sent', sent_at = created_at, transport_response = '250 2.0.0 Ok: queued as 4F3A'").run();
  });
  afterEach(() => f.close());

  test('the filed cases hold the personal data retention must remove', () => {
    const row = f.store.caseById(a.id)!;
    expect(row).toMatchObject({ customer_address: KARIN, customer_name: 'Karin Kund', status: 'closed', outcome: 'upheld', compensation_sek: 250 });
    expect(row.personnummer).toMatch(/^v1:/); // sealed (src/cases/personnummer-store.ts)
    const fields = JSON.parse(row.fields) as Record<string, unknown>;
    expect(fields.personnummerMasked).toBe('19850412-****');
    expect(fields.phones).toEqual(['070-123 45 67']);
    expect(rows(f, 'SELECT path FROM raw_mail WHERE sha256 = (SELECT sha256 FROM inbound WHERE id = ?)', followupInbound)[0].path).toMatch(/^raw\//);
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STATEMENT)))).toBe(true);
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STANDARD_FORM)))).toBe(true);
  });

  test('a closed case past its period: personal data removed, statistics kept, exactly', async () => {
    const before = snapshot(f, a.id);
    const beforeCase = (before.case as CaseRow[])[0];
    const others = [b, c, d].map((x) => snapshot(f, x.id));
    const rawFile = rows(f, 'SELECT path FROM raw_mail WHERE sha256 = (SELECT sha256 FROM inbound WHERE id = ?)', followupInbound)[0].path as string;

    const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });

    expect(r.anonymised.map((x) => x.number)).toEqual([a.number]);
    expect(r.skippedHeld).toEqual([{ number: b.number, closedAt: toInstant(CLOSED), heldAt: toInstant(CLOSED) }]);
    expect(r.failed).toEqual([]);
    const at = toInstant(NOW);

    // The case: who and what about gone; category, dates, outcome, amounts kept.
    const after = f.store.caseById(a.id)! as CaseRow & { anonymised_at: string; anonymised_by_run: number };
    expect(after).toEqual({
      ...beforeCase,
      customer_address: null,
      customer_name: null,
      subject: null,
      subject_key: null,
      personnummer: null,
      fields: after.fields,
      anonymised_at: at,
      anonymised_by_run: r.runId,
    });
    const oldFields = JSON.parse(beforeCase.fields) as Record<string, unknown>;
    const fields = JSON.parse(after.fields) as Record<string, unknown>;
    expect(Object.keys(fields).every((k) => KEPT_FIELDS.includes(k) || k === 'references')).toBe(true);
    for (const k of ['category', 'incidentDate', 'amountsSek', 'compensationAsked', 'descriptionWords', 'missing']) expect(fields[k]).toEqual(oldFields[k]);
    for (const k of ['contactName', 'email', 'phones', 'postalAddress', 'personnummerMasked', 'incidentDateText', 'compensationReason'])
      expect(fields).not.toHaveProperty(k);
    expect(f.store.deadlinesOfCase(a.id)).toEqual(before.deadlines);

    // The mails: rows kept (kind, dates, ids), text and addresses blank.
    const messages = f.store.messagesOfCase(a.id);
    expect(messages.length).toBe((before.messages as unknown[]).length);
    for (const [i, m] of messages.entries()) {
      const was = (before.messages as Array<Record<string, unknown>>)[i];
      expect(m).toEqual({
        ...was,
        from_address: null,
        from_name: null,
        reply_to: null,
        to_addresses: '[]',
        cc_addresses: '[]',
        subject: null,
        body_text: null,
        new_text: null,
        quoted_text: null,
        problems: '[]',
      });
    }
    expect(rows(f, 'SELECT COUNT(*) AS n FROM attachments WHERE message_row IN (SELECT id FROM messages WHERE case_id = ?)', a.id)[0].n).toBe(0);

    // Raw mails: bytes and file gone; sha256 and size stay for the register and reconciliation.
    const raws = rows(f, 'SELECT r.* FROM raw_mail r WHERE r.sha256 IN (SELECT sha256 FROM inbound WHERE case_id = ?)', a.id);
    expect(raws.length).toBe((before.raw as unknown[]).length);
    for (const raw of raws) expect(raw).toMatchObject({ bytes: Buffer.alloc(0), path: null, removed_at: at });
    expect(raws.map((x) => [x.sha256, x.size])).toEqual((before.raw as Array<Record<string, unknown>>).map((x) => [x.sha256, x.size]));
    for (const i of rows(f, 'SELECT * FROM inbound WHERE case_id = ?', a.id)) expect(i).toMatchObject({ anonymised_at: at, raw_removed_at: at });
    expect(fs.existsSync(path.join(f.config.dataDir, rawFile))).toBe(false);
    expect(f.store.rawMail((before.inbound as Array<{ sha256: string }>)[0].sha256)).toBeUndefined();

    // Attachment files: Karin's statement gone; the standard form stays, Nils's case (on hold) has it too.
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STATEMENT)))).toBe(false);
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STANDARD_FORM)))).toBe(true);
    expect(r.filesRemoved).toBe(2); // the statement and the large raw mail
    expect(rows(f, 'SELECT COUNT(*) AS n FROM retention_pending_files')).toEqual([{ n: 0 }]);

    // What we sent: kept as a record, text gone; an officer's address stays, the customer's goes.
    const outbox = f.store.outboxOfCase(a.id);
    expect(outbox.length).toBe((before.outbox as unknown[]).length);
    for (const o of outbox) expect(o).toMatchObject({ subject: '', body_text: '', body_html: null, transport_response: null });
    expect(outbox.find((o) => o.kind === 'acknowledgement')!.to_address).toBe('');
    expect(outbox.find((o) => o.kind === 'officer-new-case')!.to_address).toBe(OLLE);
    expect(outbox.map((o) => [o.kind, o.template_version, o.created_at, o.status])).toEqual(
      (before.outbox as Array<Record<string, unknown>>).map((o) => [o.kind, o.template_version, o.created_at, o.status]),
    );

    // Events: every detail blanked through the chain, then one record of the run; the chain verifies.
    const events = f.store.eventsOfCase(a.id);
    const last = events[events.length - 1];
    expect(events.slice(0, -1).map((e) => e.detail)).toEqual((before.events as unknown[]).map(() => '{"anonymised":true}'));
    expect(events.slice(0, -1).map((e) => [e.type, e.at, e.actor, e.from_state, e.to_state])).toEqual(
      (before.events as Array<Record<string, unknown>>).map((e) => [e.type, e.at, e.actor, e.from_state, e.to_state]),
    );
    expect(last).toMatchObject({ type: 'retention-anonymised', actor: 'retention', at });
    // Mails: the complaint and the follow-up (parsed); raw mails: those two and the officer's closing mail.
    expect(JSON.parse(last.detail)).toEqual({
      run: r.runId,
      mails: 2,
      attachments: 2,
      rawRemoved: 3,
      outbox: outbox.length,
      events: (before.events as unknown[]).length,
    });
    expect(verifyAudit(f.store)).toMatchObject({ ok: true, broken: [] });

    // Nothing of Karin is left anywhere in the case's rows.
    const dump = JSON.stringify(snapshot(f, a.id), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
    for (const s of ['Karin', 'karin', '850412', '1230', '070-123', 'Storgatan', 'kontoutdrag']) expect(dump).not.toContain(s);

    // The held case, the open case and the recent one: not a byte changed.
    expect([b, c, d].map((x) => snapshot(f, x.id))).toEqual(others);
  });

  test('the run is on record, with case numbers and counts and no personal data', async () => {
    const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'schedule' });
    const [run] = rows(f, 'SELECT * FROM retention_runs');
    expect(run).toMatchObject({ id: r.runId, started_at: toInstant(NOW), trigger: 'schedule', dry_run: 0, cases_anonymised: 1, raw_removed: 3 });
    expect(run.finished_at).not.toBeNull();
    const result = JSON.parse(run.result as string) as RetentionResult;
    expect(result).toMatchObject({
      closedCaseYears: 10,
      rawMailDays: null,
      closedBefore: toInstant(yearsBefore(NOW, 10)),
      anonymised: [{ number: a.number, closedAt: toInstant(CLOSED), mails: 2, attachments: 2, rawRemoved: 3 }],
      skippedHeld: [{ number: b.number }],
    });
    for (const s of ['Karin', 'karin', 'nils', 'Nils', '850412', 'example', 'ARN 2026']) expect(run.result).not.toContain(s);
  });

  test('a second run anonymises nothing and changes nothing', async () => {
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    const all = [a, b, c, d].map((x) => snapshot(f, x.id));
    const files = filesUnder(f.config.dataDir).filter((p) => !p.startsWith('klagomal.db'));
    const again = await runRetention({ store: f.store, config: f.config }, { now: new Date(NOW.getTime() + 86_400_000), trigger: 'command' });
    expect(again).toMatchObject({ anonymised: [], rawOnly: [], rawRemoved: 0, filesRemoved: 0, failed: [] });
    expect(again.skippedHeld.map((x) => x.number)).toEqual([b.number]);
    expect([a, b, c, d].map((x) => snapshot(f, x.id))).toEqual(all);
    expect(filesUnder(f.config.dataDir).filter((p) => !p.startsWith('klagomal.db'))).toEqual(files);
    expect(rows(f, 'SELECT cases_anonymised, raw_removed FROM retention_runs ORDER BY id')).toEqual([
      { cases_anonymised: 1, raw_removed: 3 },
      { cases_anonymised: 0, raw_removed: 0 },
    ]);
  });

  test('a dry run says what would go and changes nothing', async () => {
    const all = [a, b, c, d].map((x) => snapshot(f, x.id));
    const files = filesUnder(f.config.dataDir).filter((p) => !p.startsWith('klagomal.db'));
    const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, dryRun: true, trigger: 'command' });
    expect(r.dryRun).toBe(true);
    expect(r.anonymised).toEqual([expect.objectContaining({ number: a.number, mails: 2, attachments: 2, rawRemoved: 3 })]);
    expect([a, b, c, d].map((x) => snapshot(f, x.id))).toEqual(all);
    expect(filesUnder(f.config.dataDir).filter((p) => !p.startsWith('klagomal.db'))).toEqual(files);
    expect(rows(f, 'SELECT dry_run, cases_anonymised FROM retention_runs')).toEqual([{ dry_run: 1, cases_anonymised: 1 }]);
    // A dry run names no events: audit verify accepts only real runs' anonymisations.
    expect(verifyAudit(f.store).ok).toBe(true);
  });

  test('one day short of the period: nothing is due', async () => {
    const r = await runRetention({ store: f.store, config: f.config }, { now: new Date(NOW.getTime() - 2 * 86_400_000), trigger: 'command' });
    expect(r.anonymised).toEqual([]);
    expect(r.skippedHeld).toEqual([]);
  });

  test('a reopened and closed again case counts from its last closing', async () => {
    const reopened = new Date('2030-05-01T10:00:00+02:00');
    expect(command(f, a.id, '#reopen kunden är inte nöjd med svaret', reopened).out.errors).toEqual([]);
    closeCase(f, a.id, new Date(reopened.getTime() + 86_400_000));
    const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(r.anonymised).toEqual([]);
    const later = await runRetention({ store: f.store, config: f.config }, { now: new Date('2040-05-03T10:00:00+02:00'), trigger: 'command' });
    expect(later.anonymised.map((x) => x.number)).toEqual([a.number]);
  });

  test('after #release the held case goes too, and then the shared attachment file with it', async () => {
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(command(f, b.id, '#release', NOW).out.errors).toEqual([]);
    const r = await runRetention({ store: f.store, config: f.config }, { now: new Date(NOW.getTime() + 60_000), trigger: 'command' });
    expect(r.anonymised.map((x) => x.number)).toEqual([b.number]);
    expect(r.skippedHeld).toEqual([]);
    expect(f.store.caseById(b.id)).toMatchObject({ customer_address: null, customer_name: null });
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STANDARD_FORM)))).toBe(false);
    expect(verifyAudit(f.store).ok).toBe(true);
  });

  test('files are deleted only while no mail waits to be filed; a file left behind goes on the next run', async () => {
    // A mail stored and not yet filed: its parse may have found one of the files in place.
    storeArrivals(
      f.store,
      f.config.dataDir,
      'klagomal',
      [{ raw: rawMail({ from: 'x@example.org' }), receivedAt: NOW, mailbox: null, locator: null, sourceKey: 'waiting' }],
      toInstant(NOW),
    );
    const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(r.anonymised.map((x) => x.number)).toEqual([a.number]);
    // The statement, the large raw mail, and the standard form (kept anyway: Nils's case has it).
    expect(r).toMatchObject({ filesRemoved: 0, filesDeferred: 3 });
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STATEMENT)))).toBe(true);
    // Filed (as whatever it is), the next run deletes them.
    f.store.db.prepare("UPDATE inbound SET state = 'filed' WHERE source_key = 'waiting'").run();
    expect(flushPendingFiles(f.store, f.config.dataDir)).toEqual({ removed: 2, deferred: 0 });
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STATEMENT)))).toBe(false);
  });

  test('mails on no case go when their receipt is past the period, unless a case kept in full needs them', async () => {
    const away = await deliver(
      f,
      rawMail({ from: `Karin Kund <${KARIN}>`, subject: 'Frånvaro', body: 'Jag är bortrest.', headers: ['Auto-Submitted: auto-replied'] }),
      RECEIVED,
    );
    const recent = await deliver(
      f,
      rawMail({ from: `Karin Kund <${KARIN}>`, subject: 'Frånvaro', body: 'Bortrest igen.', headers: ['Auto-Submitted: auto-replied'] }),
      new Date('2030-01-01T10:00:00Z'),
    );
    // A second copy of Nils's complaint (same Message-ID): the original is on a held case.
    const nilsMail = f.store.messagesOfCase(b.id)[0];
    // A true copy: the same mail by a second route (one more Received line); the same Message-ID
    // on other content would be another mail (src/parse/content-key.ts).
    const original = f.store.rawMail(f.store.inbound(nilsMail.inbound_id)!.sha256)!;
    const copy = await deliver(
      f,
      Buffer.concat([
        Buffer.from('Received: from relay2.example.net by mx2.example.se; Tue, 1 Jan 2030 10:00:00 +0000\r\n'),
        'bytes' in original ? original.bytes : Buffer.alloc(0),
      ]),
      RECEIVED,
    );
    expect([away.kind, recent.kind, copy.kind]).toEqual(['autoreply', 'autoreply', 'duplicate']);
    const keptBefore = rows(f, `SELECT * FROM messages WHERE inbound_id IN (${recent.inboundId}, ${copy.inboundId}) ORDER BY id`);

    const dry = await runRetention({ store: f.store, config: f.config }, { now: NOW, dryRun: true, trigger: 'command' });
    expect(dry.mailsOnNoCase).toBe(1);
    const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(r.mailsOnNoCase).toBe(1);
    expect(rows(f, 'SELECT from_address, subject, body_text FROM messages WHERE inbound_id = ?', away.inboundId)).toEqual([
      { from_address: null, subject: null, body_text: null },
    ]);
    expect(f.store.inbound(away.inboundId)).toMatchObject({ anonymised_at: toInstant(NOW), raw_removed_at: toInstant(NOW) });
    expect(rows(f, `SELECT * FROM messages WHERE inbound_id IN (${recent.inboundId}, ${copy.inboundId}) ORDER BY id`)).toEqual(keptBefore);
    expect(f.store.inbound(copy.inboundId)).toMatchObject({ anonymised_at: null, raw_removed_at: null });
    const again = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(again.mailsOnNoCase).toBe(0);
  });

  test('looseMailRetentionLeftEventDetails: the sender named in the event of an auto-reply on no case', async () => {
    // The Google Groups "via" pattern: the display name holds another address, recorded as a
    // problem in the mail's event; retention blanked the message's problems but not the event.
    const away = await deliver(
      f,
      rawMail({
        from: '"anna.svensson@gmail.com" <autosvar@example.org>',
        subject: 'Frånvaro',
        body: 'Jag är bortrest.',
        headers: ['Auto-Submitted: auto-replied'],
      }),
      RECEIVED,
    );
    const detailsOf = (): string[] =>
      rows(f, 'SELECT detail FROM events WHERE inbound_id = ? AND case_id IS NULL', away.inboundId).map((r) => String(r.detail));
    expect(detailsOf().join('\n')).toContain('anna.svensson@gmail.com');
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(detailsOf().length).toBeGreaterThan(0);
    expect(detailsOf().join('\n')).not.toContain('anna.svensson');
    expect(verifyAudit(f.store)).toMatchObject({ ok: true, broken: [] }); // the chain still verifies
  });

  test('anonymisedCaseKeptItsRepresentativeInOutboxHeaders: the Cc of a final answer', async () => {
    const [mail] = f.store.outboxOfCase(a.id);
    f.store.db
      .prepare('UPDATE outbox SET headers = ?, copies_accepted = ? WHERE id = ?')
      .run(JSON.stringify({ 'Auto-Submitted': 'auto-generated', Cc: 'eva.ek@advokat.se' }), JSON.stringify(['eva.ek@advokat.se']), mail.id);
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    const headers = String(rows(f, 'SELECT headers FROM outbox WHERE id = ?', mail.id)[0].headers);
    expect(headers).not.toContain('eva.ek');
    expect(JSON.parse(headers)).toEqual({ 'Auto-Submitted': 'auto-generated' });
    expect(f.store.outboxRow(mail.id)!.copies_accepted).toBeNull(); // the copy the server took before the customer (migration 17)
  });

  test('a mail of ours still queued when its case is anonymised is failed, not sent blank', async () => {
    const [ack] = f.store.outboxOfCase(a.id);
    f.store.db.prepare("UPDATE outbox SET status = 'queued', sent_at = NULL WHERE id = ?").run(ack.id);
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(f.store.outboxRow(ack.id)).toMatchObject({ status: 'failed', last_error: 'removed by retention before it was sent', body_text: '', to_address: '' });
  });

  test('a file whose content is referenced again is kept', async () => {
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    // The same statement arrives again and is filed; then a stale pending row names its file.
    const again = await complaint(f, { from: 'Karin Kund <ny@example.com>', subject: 'Igen', attachment: { filename: 'k.pdf', content: STATEMENT } }, NOW);
    expect(again.id).toBeGreaterThan(0);
    f.store.db
      .prepare("INSERT INTO retention_pending_files (path, kind, sha256, run_id, queued_at) VALUES (?, 'attachment', 'x', 1, ?)")
      .run(attachmentPath(STATEMENT), toInstant(NOW));
    expect(flushPendingFiles(f.store, f.config.dataDir)).toEqual({ removed: 0, deferred: 0 });
    expect(fs.existsSync(path.join(f.config.dataDir, attachmentPath(STATEMENT)))).toBe(true);
  });

  test('the same raw mail arriving again after its removal gets its bytes back', async () => {
    const bytes = rawMail({ from: `Karin Kund <${KARIN}>`, messageId: 'again@example.com', subject: 'Gammal' });
    const first = await deliver(f, bytes, RECEIVED, { sourceKey: 'first' });
    closeCase(f, first.caseId!, CLOSED);
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    const sha = f.store.inbound(first.inboundId)!.sha256;
    expect(rows(f, 'SELECT removed_at FROM raw_mail WHERE sha256 = ?', sha)[0].removed_at).toBe(toInstant(NOW));
    // A UIDVALIDITY change re-reads the folder: the same bytes, a new inbound row.
    storeArrivals(f.store, f.config.dataDir, 'klagomal', [{ raw: bytes, receivedAt: NOW, mailbox: null, locator: null, sourceKey: 'second' }], toInstant(NOW));
    expect(rows(f, 'SELECT bytes, path, removed_at FROM raw_mail WHERE sha256 = ?', sha)).toEqual([{ bytes, path: null, removed_at: null }]);
  });
});

describe('retention of raw mails only (retention.rawMailDays)', () => {
  let f: Firm;
  let a: CaseRow;
  let b: CaseRow;

  beforeEach(async () => {
    f = makeFirm({ retention: { rawMailDays: 30 } });
    a = await complaint(f, { from: `Karin Kund <${KARIN}>`, body: KARIN_BODY, attachment: { filename: 'kontoutdrag.pdf', content: STATEMENT } }, RECEIVED);
    b = await complaint(f, { from: `Nils Nilsson <${NILS}>`, subject: 'Avgift' }, RECEIVED);
    closeCase(f, a.id, CLOSED);
    closeCase(f, b.id, CLOSED);
    command(f, b.id, '#hold tvist i tingsrätten', CLOSED);
  });
  afterEach(() => f.close());

  test('raw bytes go after rawMailDays; the filed text, attachments and case stay; held cases are skipped', async () => {
    const before = snapshot(f, a.id);
    const heldBefore = snapshot(f, b.id);
    const now = new Date(CLOSED.getTime() + 31 * 86_400_000);
    const r = await runRetention({ store: f.store, config: f.config }, { now, trigger: 'command' });
    expect(r.anonymised).toEqual([]);
    expect(r.rawOnly).toEqual([{ number: a.number, closedAt: toInstant(CLOSED), mails: 2, rawRemoved: 2 }]); // the complaint and the officer's mail
    expect(r.skippedHeld.map((x) => x.number)).toEqual([b.number]);
    const at = toInstant(now);
    const after = snapshot(f, a.id);
    expect(after.case).toEqual(before.case);
    expect(after.messages).toEqual(before.messages);
    expect(after.attachments).toEqual(before.attachments);
    expect(after.outbox).toEqual(before.outbox);
    for (const raw of after.raw as Array<Record<string, unknown>>) expect(raw).toMatchObject({ bytes: Buffer.alloc(0), path: null, removed_at: at });
    for (const i of after.inbound as Array<Record<string, unknown>>) expect(i).toMatchObject({ raw_removed_at: at, anonymised_at: null });
    const events = f.store.eventsOfCase(a.id);
    expect(events.slice(0, -1)).toEqual(before.events);
    expect(events[events.length - 1]).toMatchObject({ type: 'retention-raw-removed', actor: 'retention' });
    expect(JSON.parse(events[events.length - 1].detail)).toEqual({ run: r.runId, mails: 2, rawRemoved: 2 });
    expect(snapshot(f, b.id)).toEqual(heldBefore);
    expect(rows(f, 'SELECT cases_anonymised, raw_removed FROM retention_runs')).toEqual([{ cases_anonymised: 0, raw_removed: 2 }]);

    // Again: nothing left to do.
    const again = await runRetention({ store: f.store, config: f.config }, { now, trigger: 'command' });
    expect(again).toMatchObject({ rawOnly: [], rawRemoved: 0 });
    expect(snapshot(f, a.id)).toEqual(after);

    // Ten years on, the rest goes; the raw mails are already gone.
    const full = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(full.anonymised).toEqual([expect.objectContaining({ number: a.number, rawRemoved: 0, attachments: 1 })]);
    expect(verifyAudit(f.store).ok).toBe(true);
  });

  test('before rawMailDays nothing happens', async () => {
    const r = await runRetention({ store: f.store, config: f.config }, { now: new Date(CLOSED.getTime() + 29 * 86_400_000), trigger: 'command' });
    expect(r).toMatchObject({ anonymised: [], rawOnly: [], skippedHeld: [] });
  });
});

describe('a failed officer notification retried after retention', () => {
  let f: Firm;
  afterEach(() => f.close());

  test('retriedNotificationAfterRetentionSendsEmptyOriginal', async () => {
    f = makeFirm({ retention: { rawMailDays: 30 } });
    const a = await complaint(f, { from: `Karin Kund <${KARIN}>`, body: KARIN_BODY }, RECEIVED);
    const note = f.store.outboxOfCase(a.id).find((o) => o.kind === 'officer-new-case' && o.attach_inbound_id !== null)!;
    expect(note).toBeDefined();
    const sha = f.store.inbound(note.attach_inbound_id!)!.sha256;
    closeCase(f, a.id, CLOSED);
    // The officers' server refused the notification for good; the rest went out.
    f.store.db.prepare("UPDATE outbox SET status = 'sent', sent_at = created_at WHERE id != ?").run(note.id);
    f.store.db.prepare("UPDATE outbox SET status = 'failed', last_error = '550 5.7.1 refused' WHERE id = ?").run(note.id);

    // retention.rawMailDays: the complaint's raw mail goes, the case and the notification stay.
    const later = new Date(CLOSED.getTime() + 31 * 86_400_000);
    expect((await runRetention({ store: f.store, config: f.config }, { now: later, trigger: 'command' })).rawRemoved).toBeGreaterThan(0);
    // Removed is gone, not an empty mail.
    expect(f.store.rawMail(sha)).toBeUndefined();

    // Retried: the notification goes without the original (and says why in the log), never
    // with an empty original.eml.
    expect(await runCommand(f, outboxCommand, ['retry', String(note.id)])).toMatchObject({ code: 0 });
    const originals: Array<Buffer | null | undefined> = [];
    const transport: Transport = {
      name: 'capture',
      async verify() {},
      close() {},
      async send(_row, original) {
        originals.push(original);
        return { response: '250 2.0.0 Ok' };
      },
    };
    const errors: string[] = [];
    const log: Logger = { debug() {}, info() {}, warn() {}, fatal() {}, error: (m) => errors.push(m), child: () => log };
    // The sender's clock is the wall clock: `outbox retry` queued the mail for now.
    expect(await new OutboxSender(f.store, transport, f.config, () => new Date(), log).sendDue()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(f.store.outboxRow(note.id)!.status).toBe('sent');
    expect(originals).toEqual([null]);
    expect(errors).toEqual(['the mail to attach is removed by retention; sending without it']);

    // Failed again, then the case is anonymised: its mails' text is gone, and `outbox retry`
    // refuses to send the blank notification.
    f.store.db.prepare("UPDATE outbox SET status = 'failed', last_error = '550 5.7.1 refused' WHERE id = ?").run(note.id);
    await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
    expect(f.store.outboxRow(note.id)).toMatchObject({ status: 'failed', subject: '', body_text: '' });
    const refused = await runCommand(f, outboxCommand, ['retry', String(note.id)]);
    expect(refused).toMatchObject({ code: 1, err: expect.stringMatching(/emptied by retention: .*nothing left to send/) });
    expect(f.store.outboxRow(note.id)!.status).toBe('failed');
  });
});

describe('startRetentionSchedule', () => {
  test('no schedule: no task; a schedule: a task that runs retention and stops with the service', async () => {
    const off = makeFirm({ retention: { schedule: null } });
    const on = makeFirm({ retention: { schedule: '* * * * * *' } }); // every second, for the test
    try {
      const stop = new AbortController();
      expect(startRetentionSchedule({ store: off.store, config: off.config, log: silentLogger, clock: () => NOW }, stop.signal)).toBeNull();
      const task = startRetentionSchedule({ store: on.store, config: on.config, log: silentLogger, clock: () => NOW }, stop.signal)!;
      expect(task).not.toBeNull();
      const deadline = Date.now() + 5000;
      while (rows(on, 'SELECT * FROM retention_runs').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      stop.abort();
      await task.stop();
      expect(rows(on, 'SELECT trigger, dry_run, started_at FROM retention_runs')[0]).toEqual({ trigger: 'schedule', dry_run: 0, started_at: toInstant(NOW) });
    } finally {
      off.close();
      on.close();
    }
  });
});
