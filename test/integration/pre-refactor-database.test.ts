/**
 * Issue 13 changed where the code lives, not what it records: a database made by the code
 * before the change (test/fixtures/pre-issue-13.db: made by commit 565e6b9 from the examples,
 * an officer's command mail and one `run --once`) still verifies with `audit verify`, reads
 * with `case show`, and takes new events on the same chains.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World } from '../support/world';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'pre-issue-13.db');
const OFFICERS = [
  { name: 'Olle Handläggare', address: 'olle@testfinans.se', role: 'officer' },
  { name: 'Maja Chef', address: 'maja@testfinans.se', role: 'manager' },
];

describe('a database made before the architecture change', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld({ officers: OFFICERS, personnummer: { store: false } });
    fs.mkdirSync(w.dataDir, { recursive: true, mode: 0o700 });
    fs.copyFileSync(FIXTURE, path.join(w.dataDir, 'klagomal.db'));
    fs.chmodSync(path.join(w.dataDir, 'klagomal.db'), 0o600);
  });
  afterEach(() => w.cleanup());

  test('preRefactorDatabaseStillVerifiesAndTakesNewEvents', async () => {
    const before = await w.cli(['audit', 'verify', '--json']);
    expect(before.code).toBe(0);
    const head = JSON.parse(before.stdout) as { ok: boolean; events: number };
    expect(head).toMatchObject({ ok: true, events: 49 });

    const show = JSON.parse((await w.cli(['case', 'show', 'KLG-2026-000001', '--json'])).stdout) as {
      status: string;
      outcome: string;
      events: Array<{ type: string }>;
    };
    expect(show).toMatchObject({ status: 'in-progress', outcome: 'upheld' });
    expect(show.events.map((e) => e.type)).toEqual(expect.arrayContaining(['case-opened', 'status-changed', 'outcome-set', 'compensation-set']));

    // New code on the old chains: an officer closes the case, and every chain still verifies.
    const mail = [
      'Authentication-Results: mx1.testfinans.se; dkim=pass header.d=testfinans.se',
      'From: Olle Handläggare <olle@testfinans.se>',
      'To: klagomal@testfinans.se',
      'Subject: Re: [KLG-2026-000001] Klagomål',
      'Date: Sat, 21 Nov 2026 10:00:00 +0100',
      'Message-ID: <officer-after-refactor@testfinans.se>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      '#status closed',
      '',
    ].join('\r\n');
    const file = path.join(w.dir, 'close.eml');
    fs.writeFileSync(file, mail);
    expect((await w.cli(['ingest', file])).code).toBe(0);
    const after = await w.cli(['audit', 'verify', '--json']);
    expect(after.code).toBe(0);
    expect((JSON.parse(after.stdout) as { events: number }).events).toBeGreaterThan(49);
    const closed = JSON.parse((await w.cli(['case', 'show', 'KLG-2026-000001', '--json'])).stdout) as { status: string };
    expect(closed.status).toBe('closed');
  });
});
