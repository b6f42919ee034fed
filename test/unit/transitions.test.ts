/**
 * Issue 13: the case lifecycle as a transition table. Every (from, to) pair is decided by the
 * table, a refusal writes nothing and says why, and the guarded UPDATE loses to a writer that
 * moved the case first.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import type { CaseRow } from '../../src/store/rows';
import { CASE_STATUSES, CaseStatus } from '../../src/cases/lifecycle';
import { checkTransition, close, makeTransition, openCase, reopen, startWork, TRANSITIONS, transitionTo } from '../../src/cases/transitions';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-transitions-'));
  store = new Store(openDatabase(path.join(dir, 'k.db')));
});
afterEach(() => {
  store.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const AT = '2026-12-01T10:00:00.000Z';

function newCase(n = 1): CaseRow {
  const id = store.tx(() =>
    openCase(
      store,
      {
        number: `KLG-2026-00000${n}`,
        category: 'fees',
        contactOfficer: null,
        personnummer: null,
        subjectKey: null,
        customerAddress: 'kund@example.com',
        customerName: 'Kund',
        subject: 'Avgift',
        language: 'sv',
        receivedAt: AT,
        filedAt: AT,
        fields: {},
        refersToCaseId: null,
      },
      { inboundId: null, detail: { number: `KLG-2026-00000${n}` } },
      AT,
    ),
  );
  return store.caseById(id)!;
}

const inState = (status: CaseStatus, outcome: CaseRow['outcome'] = null): Pick<CaseRow, 'status' | 'outcome' | 'number'> => ({
  status,
  outcome,
  number: 'KLG-2026-000001',
});

describe('the transition table', () => {
  // What the table allows, written out: a change to the table must change this test.
  const ALLOWED: Record<CaseStatus, CaseStatus[]> = {
    new: ['in-progress', 'awaiting-customer', 'answered', 'closed'],
    'in-progress': ['awaiting-customer', 'answered', 'closed'],
    'awaiting-customer': ['in-progress', 'answered', 'closed'],
    answered: ['in-progress', 'awaiting-customer', 'closed'],
    closed: [],
  };
  for (const from of CASE_STATUSES)
    for (const to of CASE_STATUSES) {
      test(`${from} -> ${to} by #status: ${ALLOWED[from].includes(to) ? 'allowed' : 'refused'}`, () => {
        const name = transitionTo(to);
        if (to === 'new') {
          expect(name).toBeNull(); // statusNewIsRefused: no transition leads back to new
          return;
        }
        const r = checkTransition(inState(from, 'upheld'), name!);
        expect(r.ok).toBe(ALLOWED[from].includes(to));
        if (!r.ok) expect(r.reason.en).not.toBe('');
      });
    }

  test('closing needs an outcome', () => {
    const r = checkTransition(inState('in-progress'), 'close');
    expect(r).toMatchObject({ ok: false, code: 'needs-outcome' });
  });

  test('closedCaseIsNotReopenedByStatus: only reopen leaves closed', () => {
    for (const name of ['startWork', 'awaitCustomer', 'markAnswered'] as const)
      expect(checkTransition(inState('closed', 'upheld'), name)).toMatchObject({ ok: false, code: 'not-allowed' });
    expect(checkTransition(inState('closed', 'upheld'), 'reopen')).toEqual({ ok: true, from: 'closed', to: 'in-progress' });
    expect(checkTransition(inState('answered'), 'reopen')).toMatchObject({ ok: false, code: 'not-allowed' });
    expect(TRANSITIONS.reopen.from).toEqual(['closed']);
  });
});

describe('making a transition', () => {
  test('openCase sets new with its case-opened event', () => {
    const c = newCase();
    expect(c.status).toBe('new');
    expect(store.eventsOfCase(c.id).map((e) => [e.type, e.to_state])).toEqual([['case-opened', 'new']]);
  });

  test('a transition makes the guarded UPDATE and appends status-changed; a refusal writes nothing', () => {
    const c = newCase();
    expect(store.tx(() => startWork(store, c, 'officer:olle@firma.se', AT))).toEqual({ ok: true, from: 'new', to: 'in-progress' });
    const after = store.caseById(c.id)!;
    expect(after.status).toBe('in-progress');
    const refused = store.tx(() => close(store, after, 'officer:olle@firma.se', AT));
    expect(refused).toMatchObject({ ok: false, code: 'needs-outcome' });
    expect(store.caseById(c.id)!.status).toBe('in-progress');
    expect(store.eventsOfCase(c.id).map((e) => e.type)).toEqual(['case-opened', 'status-changed']);
  });

  test('transitionLosesToAWriterThatMovedTheCaseFirst (the UPDATE is guarded by the state read)', () => {
    const c = newCase();
    const stale = store.caseById(c.id)!; // read as new
    store.tx(() => startWork(store, c, 'officer:a@firma.se', AT));
    const r = store.tx(() => makeTransition(store, stale, 'markAnswered', 'officer:b@firma.se', AT));
    expect(r).toMatchObject({ ok: false, code: 'changed-meanwhile' });
    expect(store.caseById(c.id)!.status).toBe('in-progress');
    expect(store.eventsOfCase(c.id).filter((e) => e.type === 'status-changed')).toHaveLength(1);
  });

  test('reopen records its reason before the state change', () => {
    const c = newCase();
    store.updateCase(c.id, { outcome: 'upheld' }, AT);
    store.tx(() => close(store, store.caseById(c.id)!, 'officer:a@firma.se', AT));
    const r = store.tx(() => reopen(store, store.caseById(c.id)!, 'kunden har nya underlag', 'officer:a@firma.se', AT));
    expect(r).toEqual({ ok: true, from: 'closed', to: 'in-progress' });
    expect(store.eventsOfCase(c.id).map((e) => e.type)).toEqual(['case-opened', 'status-changed', 'case-reopened', 'status-changed']);
  });
});
