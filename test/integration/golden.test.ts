/**
 * Golden mails (test/fixtures/golden, see its README): Swedish and English mails written the
 * way real clients write them, each with what a correct complaints desk must conclude. Every
 * scenario folder is a fresh world; its mails go through the real `klagomal ingest` one by one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World } from '../support/world';

const ROOT = path.join(__dirname, '..', 'fixtures', 'golden');

interface Expected {
  kind: string;
  acknowledgement?: 'queued' | 'suppressed';
  case?: string | null;
  refersTo?: string;
  receivedAt?: string;
  language?: string;
  subject?: string;
  fields?: Record<string, unknown>;
  textContains?: string[];
  textNotContains?: string[];
  newTextContains?: string[];
  newTextNotContains?: string[];
  reasonMatches?: string;
  /** A permanent bounce of our mail: this address is marked failing, with the event on the case. */
  addressFailing?: string;
}

interface IngestLine {
  inbound: number;
  kind: string;
  caseId: string | null;
  reason: string | null;
  acknowledgement: string | null;
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const scenarios = fs.existsSync(ROOT)
  ? fs
      .readdirSync(ROOT)
      .filter((d) => fs.statSync(path.join(ROOT, d)).isDirectory())
      .sort()
  : [];

describe('golden mails', () => {
  test('thereAreEnoughGoldenMails', () => {
    const count = scenarios.reduce((n, d) => n + fs.readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith('.eml')).length, 0);
    expect(count).toBeGreaterThanOrEqual(40);
  });

  describe.each(scenarios)('%s', (scenario) => {
    let w: World;
    const dir = path.join(ROOT, scenario);
    const mails = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort();
    const cases = new Map<string, string>(); // NN -> case number
    const acks = new Map<string, string>(); // NN -> acknowledgement Message-ID
    const results = new Map<string, IngestLine>();

    beforeAll(async () => {
      w = makeWorld();
      let minute = 0;
      for (const file of mails) {
        const nn = file.slice(0, 2);
        const expected = JSON.parse(fs.readFileSync(path.join(dir, file.replace(/\.eml$/, '.expected.json')), 'utf8')) as Expected;
        let raw = fs.readFileSync(path.join(dir, file)).toString('latin1');
        raw = raw.replace(/\{\{case:(\d\d)\}\}/g, (_m, ref: string) => cases.get(ref) ?? `{{case:${ref}}}`);
        raw = raw.replace(/\{\{ack-message-id:(\d\d)\}\}/g, (_m, ref: string) => (acks.has(ref) ? `<${acks.get(ref)}>` : `{{ack-message-id:${ref}}}`));
        const target = path.join(w.dir, file);
        fs.writeFileSync(target, Buffer.from(raw, 'latin1'));
        const t = expected.receivedAt ? new Date(expected.receivedAt) : new Date(Date.parse('2026-11-16T09:00:00+01:00') + minute++ * 60_000);
        fs.utimesSync(target, t, t);
        const r = await w.cli(['ingest', '--json', target]);
        const line = JSON.parse(r.stdout.trim().split('\n')[0]) as IngestLine;
        results.set(nn, line);
        if (line.kind === 'complaint' && line.caseId) cases.set(nn, line.caseId);
        const { store, close } = w.store();
        try {
          const ack = store.db
            .prepare("SELECT o.message_id FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.kind = 'acknowledgement' AND c.number = ?")
            .get(line.caseId) as { message_id: string } | undefined;
          if (ack && line.kind === 'complaint') acks.set(nn, ack.message_id);
        } finally {
          close();
        }
      }
    }, 120_000);
    afterAll(() => w.cleanup());

    test.each(mails)('%s', async (file) => {
      const nn = file.slice(0, 2);
      const expected = JSON.parse(fs.readFileSync(path.join(dir, file.replace(/\.eml$/, '.expected.json')), 'utf8')) as Expected;
      const got = results.get(nn)!;
      expect({ file, kind: got.kind, reason: got.reason }).toMatchObject({ file, kind: expected.kind });
      if (expected.reasonMatches) expect(got.reason).toMatch(new RegExp(expected.reasonMatches, 'i'));
      if (expected.acknowledgement) expect(got.acknowledgement).toBe(expected.acknowledgement);
      if (expected.case !== undefined) {
        if (expected.case === null) expect(got.caseId).toBeNull();
        else if (expected.case === 'new') {
          expect(got.kind).toBe('complaint');
          expect(got.caseId).toMatch(/^KLG-/);
        } else expect(got.caseId).toBe(cases.get(expected.case));
      }

      const { store, close } = w.store();
      try {
        const msg = store.db.prepare('SELECT * FROM messages WHERE inbound_id = ?').get(got.inbound) as
          { subject: string | null; body_text: string | null; new_text: string | null; language: string | null; case_id: number | null } | undefined;
        const c = got.caseId ? store.caseByNumber(got.caseId) : undefined;
        if (expected.refersTo) expect(c?.refers_to_case_id ? store.caseById(c.refers_to_case_id)?.number : null).toBe(cases.get(expected.refersTo));
        if (expected.subject !== undefined) expect(msg?.subject ?? '').toBe(expected.subject);
        if (expected.language) expect(got.kind === 'complaint' ? c?.language : msg?.language).toBe(expected.language);
        for (const s of asList(expected.textContains)) expect(msg?.body_text ?? '').toContain(s);
        for (const s of asList(expected.textNotContains)) expect(msg?.body_text ?? '').not.toContain(s);
        const newText = msg?.new_text ?? msg?.body_text ?? '';
        for (const s of asList(expected.newTextContains)) expect(newText).toContain(s);
        for (const s of asList(expected.newTextNotContains)) expect(newText).not.toContain(s);
        if (expected.addressFailing) {
          expect(store.addressFailingUntil(expected.addressFailing, new Date().toISOString() as never)).not.toBeNull();
          const marked = store.db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'address-failing' AND inbound_id = ?").get(got.inbound) as {
            n: number;
          };
          expect(marked.n).toBe(1);
        }
        if (expected.fields) {
          expect(c).toBeDefined();
          const fields = JSON.parse(c!.fields) as Record<string, unknown>;
          for (const [key, value] of Object.entries(expected.fields)) {
            const actual = key === 'compensationAsked' ? fields[key] === true : fields[key];
            expect({ field: key, value: actual }).toEqual({ field: key, value });
          }
        }
      } finally {
        close();
      }
    });
  });
});
