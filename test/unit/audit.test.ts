/**
 * The tamper-evident history (src/audit/, src/store/event-chain.ts, Store.appendEvent): every
 * event is chained to the previous event of its case, `audit verify` finds the first broken
 * link of each chain, and retention's anonymisation is the only change an event accepts.
 *
 * The history is built through the real pipeline (intake, parse, filing, officer commands) on
 * a real database. Tampering is done the way an attacker with access to the file would: a
 * second connection, the append-only triggers dropped, the rows changed with plain SQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Config } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import { parseMail } from '../../src/parse/parse';
import { FilingContext, FilingResult } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase, DB } from '../../src/store/db';
import { MIGRATIONS } from '../../src/store/migrations';
import { CaseRow, EventRow, Store } from '../../src/store/store';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';
import { ANONYMISED_DETAIL, detailHash, eventHash } from '../../src/store/event-hash';
import { anonymiseEventDetails, checkChain } from '../../src/audit/chain';
import { verifyAudit, formatVerification } from '../../src/audit/verify';
import { caseAudit, formatCaseAudit } from '../../src/audit/case-audit';
import { auditCommand } from '../../src/cli/audit';
import type { ChainedEventRow } from '../../src/store/event-chain';

const COMPLAINTS = 'klagomal@exempelfinans.se';
const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));
const KEY = Buffer.alloc(32, 3).toString('base64');
const PNR_WRITTEN = '870521-2382';
const PNR_NORMALISED = '198705212382';

interface World {
  dir: string;
  file: string;
  configFile: string;
  config: Config;
  store: Store;
  db: DB;
  ctx: FilingContext;
  close(): void;
}

let savedKey: string | undefined;
beforeAll(() => {
  savedKey = process.env.KLAGOMAL_PERSONNUMMER_KEY;
  process.env.KLAGOMAL_PERSONNUMMER_KEY = KEY;
});
afterAll(() => {
  if (savedKey === undefined) delete process.env.KLAGOMAL_PERSONNUMMER_KEY;
  else process.env.KLAGOMAL_PERSONNUMMER_KEY = savedKey;
});

function makeWorld(): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-audit-'));
  const json = {
    firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'] },
    sources: [{ type: 'maildir', path: 'maildir' }],
    dataDir: './data',
    templates: path.join(__dirname, '..', '..', 'templates'),
    officers: [{ name: 'Maja Chef', address: 'maja@exempelfinans.se', role: 'manager' }],
    deadlines: { escalation: { enabled: false } },
  };
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(json));
  const config = parseConfig(json, configFile);
  const file = path.join(dir, 'data', 'klagomal.db');
  const db = openDatabase(file);
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  const ctx: FilingContext = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };
  return {
    dir,
    file,
    configFile,
    config,
    store,
    db,
    ctx,
    close() {
      if (db.open) db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
function rawMail(o: { from?: string; subject?: string; body?: string; inReplyTo?: string } = {}): Buffer {
  return Buffer.from(
    [
      `From: ${o.from ?? 'Karin Kund <kund@example.com>'}`,
      `To: ${COMPLAINTS}`,
      `Subject: ${o.subject ?? 'Felaktig avgift på min faktura'}`,
      'Date: Mon, 02 Mar 2026 09:00:00 +0100',
      `Message-ID: <audit-${++seq}@example.com>`,
      ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      o.body ?? `Hej,\n\nni har tagit ut en avgift på 250 kr som jag inte känner igen. Mitt personnummer är ${PNR_WRITTEN}.\n\nKarin Kund`,
      '',
    ].join('\r\n'),
    'utf8',
  );
}

async function fileRaw(w: World, bytes: Buffer): Promise<FilingResult> {
  const [stored] = storeArrivals(
    w.store,
    w.config.dataDir,
    'klagomal',
    [{ raw: bytes, receivedAt: RECEIVED, mailbox: null, locator: null, sourceKey: null }],
    toInstant(RECEIVED),
  );
  const parsed = await parseMail(bytes, { dataDir: w.config.dataDir });
  return w.store.tx(() => processMail(w.ctx, w.store.inbound(stored.id)!, parsed, RECEIVED));
}

/** Two complaints from two customers and a follow-up on the first: three chains (two cases, no case). */
async function history(w: World): Promise<{ a: CaseRow; b: CaseRow }> {
  const ra = await fileRaw(w, rawMail());
  const rb = await fileRaw(
    w,
    rawMail({ from: 'Per Persson <per@example.com>', subject: 'Kortet spärrat utan anledning', body: 'Hej, mitt kort spärrades i går utan förklaring. Per' }),
  );
  const a = w.store.caseById(ra.caseId!)!;
  const follow = await fileRaw(w, rawMail({ subject: `Sv: [${a.number}] Felaktig avgift`, body: 'Jag har fortfarande inte fått svar.' }));
  expect(follow).toMatchObject({ kind: 'followup', caseId: a.id });
  return { a, b: w.store.caseById(rb.caseId!)! };
}

/** A second connection with the append-only triggers dropped: what someone with the file can do. */
function attacker(w: World): Database.Database {
  const db = new Database(w.file);
  db.exec('DROP TRIGGER IF EXISTS events_append_only_update; DROP TRIGGER IF EXISTS events_append_only_delete;');
  return db;
}

function allEvents(db: DB | Database.Database): EventRow[] {
  return db.prepare('SELECT * FROM events ORDER BY id').all() as EventRow[];
}

/** A retention run row, as the retention stage records one (migration 9 creates the table). */
function recordRetentionRun(db: DB): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retention_runs'").get();
  if (!exists) db.exec('CREATE TABLE retention_runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, trigger TEXT NOT NULL)');
  return Number(db.prepare("INSERT INTO retention_runs (started_at, trigger) VALUES ('2036-03-02T00:00:00.000Z', 'test')").run().lastInsertRowid);
}

async function runAudit(w: World, args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await auditCommand.run(
    { config: w.configFile, json: args.includes('--json') },
    args.filter((a) => a !== '--json'),
    {
      out: (t) => (out += t + '\n'),
      err: (t) => (out += t + '\n'),
    },
  );
  return { code, out };
}

describe('the chain as the pipeline builds it', () => {
  let w: World;
  beforeEach(() => (w = makeWorld()));
  afterEach(() => w.close());

  test('everyEventIsChainedToThePreviousEventOfItsCase', async () => {
    const { a, b } = await history(w);
    const events = allEvents(w.db);
    expect(events.length).toBeGreaterThan(10);
    for (const chain of [a.id, b.id, null]) {
      const rows = events.filter((e) => e.case_id === chain);
      expect(rows.length).toBeGreaterThan(0);
      let prev: string | null = null;
      for (const e of rows) {
        expect(e.prev_hash).toBe(prev);
        expect(e.detail_hash).toBe(detailHash(e.detail));
        expect(e.hash).toBe(eventHash(prev, e, e.detail_hash!));
        prev = e.hash;
      }
    }
    // Ids have no gaps: a deleted row shows.
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const v = verifyAudit(w.store);
    expect(v).toMatchObject({ ok: true, chains: 3, events: events.length, broken: [], missingIds: [], personnummerInClear: 0 });
    expect(v.head).toEqual({ id: events.length, hash: events[events.length - 1].hash });
  });

  test('appendEventOutsideATransactionStillExtendsTheChain', async () => {
    const { a } = await history(w);
    expect(w.db.inTransaction).toBe(false);
    w.store.appendEvent({ at: toInstant(new Date()), caseId: a.id, actor: 'operator', type: 'note-added', detail: { text: 'utanför transaktion' } });
    const rows = w.store.eventsOfCase(a.id);
    expect(rows[rows.length - 1].prev_hash).toBe(rows[rows.length - 2].hash);
    expect(verifyAudit(w.store).ok).toBe(true);
  });

  test('auditVerifyExitsZeroAndPrintsTheHeadWhenIntact', async () => {
    await history(w);
    const r = await runAudit(w, ['verify']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('OK: every chain verifies');
    expect(r.out).toMatch(/head: event #\d+ [0-9a-f]{64}/);
    const j = await runAudit(w, ['verify', '--json']);
    expect(JSON.parse(j.out)).toMatchObject({ ok: true, chains: 3 });
  });

  test('theApplicationCannotUpdateOrDeleteAnEvent', async () => {
    const { a } = await history(w);
    const e = w.store.eventsOfCase(a.id)[0];
    expect(() => w.db.prepare('UPDATE events SET actor = ? WHERE id = ?').run('operator', e.id)).toThrow(/append-only/);
    expect(() => w.db.prepare('UPDATE events SET detail = ? WHERE id = ?').run('{}', e.id)).toThrow(/append-only/);
    expect(() => w.db.prepare('UPDATE events SET hash = ? WHERE id = ?').run('0'.repeat(64), e.id)).toThrow(/append-only/);
    // Anonymising is only the exact change, and needs a run.
    expect(() => w.db.prepare('UPDATE events SET detail = ?, anonymised_at = ? WHERE id = ?').run(ANONYMISED_DETAIL, '2036-01-01T00:00:00.000Z', e.id)).toThrow(
      /append-only/,
    );
    expect(() =>
      w.db.prepare('UPDATE events SET detail = ?, anonymised_at = ?, anonymised_by_run = 1 WHERE id = ?').run('{"x":1}', '2036-01-01T00:00:00.000Z', e.id),
    ).toThrow(/append-only/);
    expect(() =>
      w.db
        .prepare('UPDATE events SET detail = ?, anonymised_at = ?, anonymised_by_run = 1, actor = ? WHERE id = ?')
        .run(ANONYMISED_DETAIL, '2036-01-01T00:00:00.000Z', 'operator', e.id),
    ).toThrow(/append-only/);
    expect(() => w.db.prepare('DELETE FROM events WHERE id = ?').run(e.id)).toThrow(/append-only/);
    expect(verifyAudit(w.store).ok).toBe(true);
  });
});

describe('audit verify finds tampering', () => {
  let w: World;
  let a: CaseRow;
  let b: CaseRow;
  beforeEach(async () => {
    w = makeWorld();
    ({ a, b } = await history(w));
  });
  afterEach(() => w.close());

  test('editedDetailIsReportedAtItsEvent', async () => {
    const target = w.store.eventsOfCase(a.id).find((e) => e.type === 'deadline-set')!;
    const x = attacker(w);
    x.prepare('UPDATE events SET detail = ? WHERE id = ?').run(target.detail.replace('"rule":"', '"rule":"99 '), target.id);
    x.close();
    const v = verifyAudit(w.store);
    expect(v.ok).toBe(false);
    expect(v.broken).toHaveLength(1);
    expect(v.broken[0]).toMatchObject({ caseNumber: a.number, firstBreak: { eventId: target.id, kind: 'detail' } });
    const r = await runAudit(w, ['verify']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(a.number);
    expect(r.out).toContain(`event #${target.id}: detail: the detail was edited`);
  });

  test('editedDetailWithItsDetailHashRecomputedIsStillFound', () => {
    const target = w.store.eventsOfCase(a.id)[1];
    const forged = JSON.stringify({ forged: true });
    const x = attacker(w);
    x.prepare('UPDATE events SET detail = ?, detail_hash = ? WHERE id = ?').run(forged, detailHash(forged), target.id);
    x.close();
    expect(verifyAudit(w.store).broken[0].firstBreak).toMatchObject({ eventId: target.id, kind: 'field' });
  });

  test.each([
    ['actor', "'officer:mallory@example.com'"],
    ['at', "'2020-01-01T00:00:00.000Z'"],
    ['type', "'outcome-set'"],
    ['to_state', "'closed'"],
  ])('editedField %s', (column, value) => {
    const target = w.store.eventsOfCase(b.id)[0];
    const x = attacker(w);
    x.exec(`UPDATE events SET ${column} = ${value} WHERE id = ${target.id}`);
    x.close();
    const v = verifyAudit(w.store);
    expect(v.broken).toEqual([expect.objectContaining({ caseNumber: b.number, firstBreak: expect.objectContaining({ eventId: target.id, kind: 'field' }) })]);
  });

  test('eventMovedToAnotherCaseBreaksBothChains', () => {
    const target = w.store.eventsOfCase(b.id)[1];
    const x = attacker(w);
    x.prepare('UPDATE events SET case_id = ? WHERE id = ?').run(a.id, target.id);
    x.close();
    const v = verifyAudit(w.store);
    const numbers = v.broken.map((c) => c.caseNumber).sort();
    expect(numbers).toEqual([a.number, b.number].sort());
  });

  test('deletedRowInTheMiddleBreaksTheNextLink', async () => {
    const rows = w.store.eventsOfCase(a.id);
    const victim = rows[2];
    const x = attacker(w);
    x.prepare('DELETE FROM events WHERE id = ?').run(victim.id);
    x.close();
    const v = verifyAudit(w.store);
    expect(v.ok).toBe(false);
    expect(v.broken[0]).toMatchObject({ caseNumber: a.number, firstBreak: { eventId: rows[3].id, kind: 'link' } });
    expect(v.broken[0].firstBreak.message).toContain(`previous event #${rows[1].id}`);
    expect(v.missingIds).toEqual([[victim.id, victim.id]]);
    const r = await runAudit(w, ['verify']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`event id #${victim.id} missing`);
  });

  test('deletedLastEventOfACaseShowsAsAMissingId', () => {
    // b's last event is not the last event of the database (a's follow-up came after).
    const rows = w.store.eventsOfCase(b.id);
    const last = rows[rows.length - 1];
    const x = attacker(w);
    x.prepare('DELETE FROM events WHERE id = ?').run(last.id);
    x.close();
    const v = verifyAudit(w.store);
    expect(v.broken).toEqual([]);
    expect(v.missingIds).toEqual([[last.id, last.id]]);
    expect(v.ok).toBe(false);
  });

  test('deletedFirstEventsOfTheDatabaseShowAsMissingIds', () => {
    const x = attacker(w);
    x.exec('DELETE FROM events WHERE id <= 2');
    x.close();
    const v = verifyAudit(w.store);
    expect(v.missingIds[0]).toEqual([1, 2]);
    expect(v.ok).toBe(false);
  });

  test('reorderedRowsBreakTheChain', () => {
    // Swap two events of a case by their ids (their content stays, with its hashes).
    const rows = w.store.eventsOfCase(a.id);
    const [p, q] = [rows[1], rows[2]];
    const x = attacker(w);
    x.transaction(() => {
      x.prepare('UPDATE events SET id = -1 WHERE id = ?').run(p.id);
      x.prepare('UPDATE events SET id = ? WHERE id = ?').run(p.id, q.id);
      x.prepare('UPDATE events SET id = ? WHERE id = -1').run(q.id);
    })();
    x.close();
    const v = verifyAudit(w.store);
    expect(v.broken[0]).toMatchObject({ caseNumber: a.number, firstBreak: { eventId: p.id, kind: 'link' } });
  });

  test('insertedRowIsFound', () => {
    const rows = w.store.eventsOfCase(a.id);
    const x = attacker(w);
    // A forged event written with plain SQL, without any hash.
    x.prepare(
      "INSERT INTO events (at, case_id, actor, type, detail) VALUES ('2026-03-05T10:00:00.000Z', ?, 'officer:maja@exempelfinans.se', 'outcome-set', '{}')",
    ).run(a.id);
    x.close();
    expect(verifyAudit(w.store).broken[0].firstBreak).toMatchObject({ kind: 'missing-hash', eventId: rows[rows.length - 1].id + 1 });
  });

  test('insertedRowGraftedOntoAnEarlierEventIsFound', () => {
    // Correctly hashed, but chained to an earlier event: the chain forks.
    const rows = w.store.eventsOfCase(a.id);
    const x = attacker(w);
    const id = (x.prepare('SELECT MAX(id) + 1 AS id FROM events').get() as { id: number }).id;
    const fields = {
      id,
      at: '2026-03-05T10:00:00.000Z',
      case_id: a.id,
      inbound_id: null,
      outbox_id: null,
      actor: 'officer:maja@exempelfinans.se',
      type: 'outcome-set',
      from_state: null,
      to_state: null,
    };
    const dh = detailHash('{"outcome":"rejected"}');
    x.prepare('INSERT INTO events (id, at, case_id, actor, type, detail, prev_hash, hash, detail_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      id,
      fields.at,
      a.id,
      fields.actor,
      fields.type,
      '{"outcome":"rejected"}',
      rows[1].hash,
      eventHash(rows[1].hash, fields, dh),
      dh,
    );
    x.close();
    expect(verifyAudit(w.store).broken[0]).toMatchObject({ caseNumber: a.number, firstBreak: { eventId: id, kind: 'link' } });
  });

  test('theWholeChainRewrittenIsCaughtOnlyAgainstAKeptHead', () => {
    // The limit of a chain without a secret: an attacker who recomputes every hash after an
    // edit leaves a chain that verifies, but the head changes. The head an auditor kept says so.
    const before = verifyAudit(w.store).head!;
    const x = attacker(w);
    const rows = allEvents(x);
    const last = new Map<number | null, string | null>();
    const upd = x.prepare('UPDATE events SET detail = ?, detail_hash = ?, prev_hash = ?, hash = ? WHERE id = ?');
    for (const r of rows) {
      const detail = r.id === 3 ? '{"rewritten":true}' : r.detail;
      const prev = last.get(r.case_id) ?? null;
      const dh = detailHash(detail);
      const h = eventHash(prev, r, dh);
      upd.run(detail, dh, prev, h, r.id);
      last.set(r.case_id, h);
    }
    x.close();
    const after = verifyAudit(w.store);
    expect(after.ok).toBe(true);
    expect(after.head!.id).toBe(before.id);
    expect(after.head!.hash).not.toBe(before.hash);
  });
});

describe('retention anonymises without breaking the chain', () => {
  let w: World;
  beforeEach(() => (w = makeWorld()));
  afterEach(() => w.close());

  test('anonymisedEventsVerifyWhenTheirRunIsRecorded', async () => {
    const { a, b } = await history(w);
    const run = recordRetentionRun(w.db);
    const at = '2036-03-02T00:00:00.000Z';
    const n = w.store.tx(() => anonymiseEventDetails(w.store, a.id, run, at));
    const rows = w.store.eventsOfCase(a.id);
    expect(n).toBe(rows.length);
    for (const e of rows) expect(e).toMatchObject({ detail: ANONYMISED_DETAIL, anonymised_at: at, anonymised_by_run: run });
    expect(w.store.eventsOfCase(b.id).every((e) => e.anonymised_at === null)).toBe(true);
    // Twice is a no-op; the trigger refuses a second anonymisation of the same row.
    expect(w.store.tx(() => anonymiseEventDetails(w.store, a.id, run, at))).toBe(0);
    expect(() => w.db.prepare('UPDATE events SET anonymised_at = ? WHERE id = ?').run('2037-01-01T00:00:00.000Z', rows[0].id)).toThrow(/append-only/);
    const v = verifyAudit(w.store);
    expect(v).toMatchObject({ ok: true, anonymised: rows.length });
    // Events appended after the anonymisation still chain on.
    w.store.appendEvent({ at, caseId: a.id, actor: 'system', type: 'note-added', detail: { text: 'efter gallring' } });
    expect(verifyAudit(w.store).ok).toBe(true);
    // The case audit view says so, and shows no detail.
    const view = formatCaseAudit(caseAudit(w.store, a));
    expect(view).toContain('hash chain verifies');
    expect(view).toContain('(detail anonymised by retention)');
  });

  test('anonymisedEventWithoutARecordedRunIsBroken', async () => {
    const { a } = await history(w);
    const target = w.store.eventsOfCase(a.id)[0];
    // Through the allowed path, but naming a run that does not exist.
    w.db
      .prepare('UPDATE events SET detail = ?, anonymised_at = ?, anonymised_by_run = ? WHERE id = ?')
      .run(ANONYMISED_DETAIL, '2036-01-01T00:00:00.000Z', 999, target.id);
    const v = verifyAudit(w.store);
    expect(v.broken[0]).toMatchObject({ caseNumber: a.number, firstBreak: { eventId: target.id, kind: 'anonymised' } });
    expect(v.broken[0].firstBreak.message).toContain('run 999, which is not a recorded retention run');
  });

  test('anonymisedEventsAreBrokenWhereNoRetentionRunsExist', () => {
    const row: ChainedEventRow = {
      id: 1,
      at: '2026-03-02T08:00:00.000Z',
      case_id: 1,
      inbound_id: null,
      outbox_id: null,
      actor: 'system',
      type: 'case-opened',
      from_state: null,
      to_state: 'new',
      detail: ANONYMISED_DETAIL,
      prev_hash: null,
      hash: null,
      detail_hash: detailHash('{"number":"KLG-2026-000001"}'),
      anonymised_at: '2036-01-01T00:00:00.000Z',
      anonymised_by_run: 1,
    };
    row.hash = eventHash(null, row, row.detail_hash!);
    expect(checkChain(1, [row], new Set([1])).ok).toBe(true);
    expect(checkChain(1, [row], null).firstBreak).toMatchObject({ kind: 'anonymised', message: expect.stringContaining('no retention runs') });
    expect(checkChain(1, [{ ...row, detail: '{"something":"else"}' }], new Set([1])).firstBreak?.kind).toBe('anonymised');
  });
});

describe('migration 8 chains the events already there', () => {
  test('anOldDatabaseIsChainedAndProtected', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-audit-mig-'));
    try {
      const file = path.join(dir, 'old.db');
      // A database at schema 7, with events from two cases and mails without a case.
      const old = new Database(file);
      old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of MIGRATIONS.filter((x) => x.version < 8)) {
        old.exec(m.sql);
        old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
      }
      old.exec(`INSERT INTO cases (number, status, language, received_at, filed_at, updated_at, personnummer)
                  VALUES ('KLG-2026-000001', 'new', 'sv', 'x', 'x', 'x', '${PNR_NORMALISED}'), ('KLG-2026-000002', 'new', 'sv', 'x', 'x', 'x', NULL)`);
      const ins = old.prepare('INSERT INTO events (at, case_id, actor, type, detail) VALUES (?, ?, ?, ?, ?)');
      for (let i = 0; i < 30; i++)
        ins.run(`2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`, i % 3 === 0 ? null : ((i % 3) as number), 'system', 'mail-filed', JSON.stringify({ i }));
      old.close();

      const db = openDatabase(file);
      const store = new Store(db);
      const events = allEvents(db);
      expect(events).toHaveLength(30);
      expect(events.every((e) => e.hash && e.detail_hash)).toBe(true);
      expect(events.filter((e) => e.case_id === 1)[0].prev_hash).toBeNull();
      const v = verifyAudit(store);
      expect(v).toMatchObject({ ok: true, chains: 3, events: 30, personnummerInClear: 1 });
      expect(formatVerification(v).join('\n')).toContain('1 case(s) hold a personnummer in clear');
      expect(() => db.prepare("UPDATE events SET actor = 'x' WHERE id = 1").run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM events WHERE id = 1').run()).toThrow(/append-only/);
      // New events continue the migrated chains.
      store.appendEvent({ at: '2026-01-02T00:00:00.000Z', caseId: 1, actor: 'system', type: 'note-added' });
      expect(verifyAudit(store).ok).toBe(true);
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('case show --audit', () => {
  let w: World;
  beforeEach(() => (w = makeWorld()));
  afterEach(() => w.close());

  test('showsMailsDeadlineInputsTemplateVersionsAndHashes', async () => {
    const { a } = await history(w);
    const view = caseAudit(w.store, w.store.caseById(a.id)!);
    expect(view.chain).toMatchObject({ ok: true, firstBreak: null });
    expect(view.case.personnummer).toEqual({ masked: '19870521-****', stored: 'encrypted' });
    expect(view.mailsIn).toHaveLength(2);
    expect(view.mailsIn[0]).toMatchObject({ kind: 'complaint', source: 'klagomal', rawStorage: 'database' });
    expect(view.mailsIn[0].rawSha256).toMatch(/^[0-9a-f]{64}$/);
    const final = view.deadlines.find((d) => d.milestone === 'finalAnswer')!;
    expect(final).toMatchObject({ computedFrom: RECEIVED.toISOString(), rule: { unit: 'calendarDays', amount: 14 }, policy: 'promise-24h-14d' });
    expect(final.configVersion).toBe(w.config.deadlines.version);
    expect(final.calendarVersion).toBeTruthy();
    expect(final.history.map((h) => h.type)).toContain('deadline-set');
    expect(view.mailsOut[0]).toMatchObject({ kind: 'acknowledgement', templateKept: true });
    expect(view.mailsOut[0].templateVersion).toMatch(/^[0-9a-f]+$/);
    // Every event of the case with its hash, each verifying; the mail's own event before the case.
    expect(view.events[0]).toMatchObject({ type: 'mail-stored', chain: 'mail', verifies: null });
    const own = view.events.filter((e) => e.chain === 'case');
    expect(own.length).toBe(w.store.eventsOfCase(a.id).length);
    expect(own.every((e) => e.verifies && /^[0-9a-f]{12}$/.test(e.hash))).toBe(true);
    // The personnummer is nowhere in clear.
    const text = formatCaseAudit(view);
    expect(JSON.stringify(view)).not.toContain(PNR_NORMALISED);
    expect(text).not.toContain(PNR_NORMALISED);
    expect(text).not.toContain(PNR_WRITTEN);
    expect(text).toContain('19870521-****; stored encrypted');
    expect(text).toContain('hash chain verifies');
    expect(text).toMatch(/template acknowledgement\/sv version [0-9a-f]+ \(text kept\)/);
    expect(text).toContain(`counted from ${RECEIVED.toISOString()}`);
  });

  test('showsWhereTheCaseChainBreaks', async () => {
    const { a } = await history(w);
    const target = w.store.eventsOfCase(a.id)[1];
    const x = attacker(w);
    x.prepare('UPDATE events SET detail = ? WHERE id = ?').run('{"edited":true}', target.id);
    x.close();
    const view = caseAudit(w.store, w.store.caseById(a.id)!);
    expect(view.chain.firstBreak).toMatchObject({ eventId: target.id, kind: 'detail' });
    expect(view.events.find((e) => e.id === target.id)).toMatchObject({ verifies: false });
    expect(formatCaseAudit(view)).toContain(`HASH CHAIN BROKEN at event #${target.id}`);
  });
});
