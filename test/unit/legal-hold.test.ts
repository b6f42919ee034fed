/**
 * Legal hold (src/retention/legal-hold.ts): an officer's `#hold REASON` / `#release` by mail
 * (src/officers/commands.ts), and `klagomal case hold ID --reason TEXT` / `case release ID`.
 * A hold needs a reason, is an event with who and why, works on closed cases (where it
 * matters), is only for configured officers, and cannot be set on a case already anonymised.
 */
import { runRetention } from '../../src/retention/retention';
import { legalHoldOf } from '../../src/retention/legal-hold';
import { retentionCommand } from '../../src/cli/retention';
import { LEGAL_HOLD_COMMAND_NAMES } from '../../src/officers/commands';
import { toInstant } from '../../src/util/clock';
import type { CaseRow, EventRow } from '../../src/store/store';
import { cli, closeCase, command, complaint, Firm, MAJA, makeFirm, OLLE, rows, runCommand } from '../support/personal-data';

const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const NOW = new Date('2026-03-03T10:00:00+01:00');
const LATER = new Date('2026-04-01T10:00:00+02:00');

const eventsOf = (f: Firm, caseId: number, type: string): EventRow[] => f.store.eventsOfCase(caseId).filter((e) => e.type === type);
const detail = (e: EventRow): Record<string, unknown> => JSON.parse(e.detail) as Record<string, unknown>;
const holdColumns = (f: Firm, id: number): Record<string, unknown> => rows(f, 'SELECT hold_reason, held_at, held_by FROM cases WHERE id = ?', id)[0];

describe('#hold and #release by mail', () => {
  let f: Firm;
  let c: CaseRow;

  beforeEach(async () => {
    f = makeFirm();
    c = await complaint(f, { from: 'Karin Kund <karin@example.com>' }, RECEIVED);
  });
  afterEach(() => f.close());

  test('the command names', () => {
    expect([...LEGAL_HOLD_COMMAND_NAMES]).toEqual(['hold', 'release']);
  });

  test('#hold REASON: the case is held, with an event naming the officer and the mail', () => {
    const { out, inboundId } = command(f, c.id, '#hold ARN 2026-01234: kunden har anmält ärendet till ARN', NOW);
    expect(out.errors).toEqual([]);
    expect(out.done).toEqual([
      {
        line: '#hold ARN 2026-01234: kunden har anmält ärendet till ARN',
        result: `legal hold: ARN 2026-01234: kunden har anmält ärendet till ARN; retention leaves ${c.number} alone until #release`,
      },
    ]);
    expect(holdColumns(f, c.id)).toEqual({
      hold_reason: 'ARN 2026-01234: kunden har anmält ärendet till ARN',
      held_at: toInstant(NOW),
      held_by: `officer:${OLLE}`,
    });
    expect(legalHoldOf(f.store, c.id)).toEqual({
      reason: 'ARN 2026-01234: kunden har anmält ärendet till ARN',
      heldAt: toInstant(NOW),
      heldBy: `officer:${OLLE}`,
    });
    const [set] = eventsOf(f, c.id, 'legal-hold-set');
    expect(set).toMatchObject({ actor: `officer:${OLLE}`, inbound_id: inboundId, at: toInstant(NOW) });
    expect(detail(set)).toEqual({ reason: 'ARN 2026-01234: kunden har anmält ärendet till ARN' });
    // The officer's confirmation says so, in the officer's language (Swedish, Olle's first).
    const confirmation = f.store.listOutbox().find((o) => o.idempotency_key === `officer-command-result:${inboundId}`)!;
    expect(confirmation.to_address).toBe(OLLE);
    expect(confirmation.body_text).toContain('gallringsspärr: ARN 2026-01234');
  });

  test('#hold without a reason is refused, with what to write', () => {
    const { out } = command(f, c.id, '#hold', NOW);
    expect(out.done).toEqual([]);
    expect(out.errors).toEqual([
      { lineNumber: 1, line: '#hold', problem: '#hold needs a reason on the same line, e.g. #hold ARN 2026-01234: the customer has gone to ARN' },
    ]);
    expect(holdColumns(f, c.id).hold_reason).toBeNull();
    expect(eventsOf(f, c.id, 'officer-command-refused')).toHaveLength(1);
  });

  test('the same reason again changes nothing; a new reason keeps the start of the hold', () => {
    command(f, c.id, '#hold ARN 2026-01234', NOW);
    expect(command(f, c.id, '#hold ARN 2026-01234', LATER).out.done[0].result).toBe(`already on legal hold since ${toInstant(NOW)} (ARN 2026-01234)`);
    expect(eventsOf(f, c.id, 'legal-hold-set')).toHaveLength(1);
    expect(command(f, c.id, '#hold Stockholms tingsrätt T 1234-26', LATER, MAJA).out.done[0].result).toBe(
      'legal hold reason: ARN 2026-01234 -> Stockholms tingsrätt T 1234-26',
    );
    expect(holdColumns(f, c.id)).toEqual({ hold_reason: 'Stockholms tingsrätt T 1234-26', held_at: toInstant(NOW), held_by: `officer:${OLLE}` });
    const changed = eventsOf(f, c.id, 'legal-hold-set')[1];
    expect(changed.actor).toBe(`officer:${MAJA}`);
    expect(detail(changed)).toEqual({ reason: 'Stockholms tingsrätt T 1234-26', previous: 'ARN 2026-01234', heldSince: toInstant(NOW) });
  });

  test('#release lifts it, with the hold on record; a second #release says there is none', () => {
    command(f, c.id, '#hold ARN 2026-01234', NOW);
    const { out } = command(f, c.id, '#release', LATER);
    expect(out.done[0].result).toBe(`legal hold lifted (held since ${toInstant(NOW)}: ARN 2026-01234); retention applies again`);
    expect(holdColumns(f, c.id)).toEqual({ hold_reason: null, held_at: null, held_by: null });
    const [released] = eventsOf(f, c.id, 'legal-hold-released');
    expect(released).toMatchObject({ actor: `officer:${OLLE}`, at: toInstant(LATER) });
    expect(detail(released)).toEqual({ reason: 'ARN 2026-01234', heldSince: toInstant(NOW), heldBy: `officer:${OLLE}` });
    expect(command(f, c.id, '#release', LATER).out.done[0].result).toBe(`${c.number} was not on legal hold`);
    expect(eventsOf(f, c.id, 'legal-hold-released')).toHaveLength(1);
  });

  test('works on a closed case (other commands there are refused)', () => {
    closeCase(f, c.id, NOW);
    const { out } = command(f, c.id, '#hold ARN 2026-01234\n#compensation 100\n#release\n#hold tvist', LATER);
    expect(out.done.map((d) => d.line)).toEqual(['#hold ARN 2026-01234', '#release', '#hold tvist']);
    expect(out.errors.map((e) => e.problem)).toEqual([`${c.number} is closed; reopen it first with #reopen and the reason`]);
    expect(holdColumns(f, c.id).hold_reason).toBe('tvist');
  });

  test('only configured officers: a staff address that is not one cannot hold or release', () => {
    const { out } = command(f, c.id, '#hold ARN 2026-01234', NOW, 'reception@exempelfinans.se');
    expect(out.done).toEqual([]);
    expect(out.errors[0].problem).toBe('reception@exempelfinans.se is not a configured officer (config "officers"): commands are not carried out');
    expect(holdColumns(f, c.id).hold_reason).toBeNull();
  });

  test('a personnummer in the reason is masked', () => {
    command(f, c.id, '#hold ARN-anmälan från 19850412-1230', NOW);
    expect(holdColumns(f, c.id).hold_reason).toBe('ARN-anmälan från 19850412-****');
    expect(
      f.store
        .eventsOfCase(c.id)
        .map((e) => e.detail)
        .join('\n'),
    ).not.toContain('1230');
  });

  test('a mistyped command is suggested', () => {
    const { out } = command(f, c.id, '#hodl ARN', NOW);
    expect(out.errors[0].problem).toMatch(/^unknown command '#hodl' — did you mean '#hold'\?; commands: .*#hold, #release$/);
  });

  test('a case anonymised by retention cannot be held', async () => {
    closeCase(f, c.id, NOW);
    await runRetention({ store: f.store, config: f.config }, { now: new Date('2036-03-04T10:00:00+01:00'), trigger: 'command' });
    const { out } = command(f, c.id, '#hold ARN 2026-01234', new Date('2036-03-05T10:00:00+01:00'));
    expect(out.errors[0].problem).toMatch(new RegExp(`^${c.number} was anonymised by retention on 2036-03-04T09:00:00.000Z: its personal data is gone`));
  });
});

describe('klagomal case hold / release', () => {
  let f: Firm;
  let c: CaseRow;

  beforeEach(async () => {
    f = makeFirm();
    c = await complaint(f, { from: 'Karin Kund <karin@example.com>' }, RECEIVED);
  });
  afterEach(() => f.close());

  test('hold with --reason, release; events by the operator with the login name', async () => {
    const held = await cli(f, ['case', 'hold', c.number, '--reason', 'Begärt av FI, dnr 24-1234']);
    expect(held).toMatchObject({ code: 0, err: '' });
    expect(held.out).toContain(`${c.number} is on legal hold`);
    expect(holdColumns(f, c.id)).toMatchObject({ hold_reason: 'Begärt av FI, dnr 24-1234', held_by: 'operator' });
    const [set] = eventsOf(f, c.id, 'legal-hold-set');
    expect(set.actor).toBe('operator');
    expect(detail(set)).toMatchObject({ reason: 'Begärt av FI, dnr 24-1234', user: expect.any(String) });

    const released = await cli(f, ['case', 'release', String(c.id)]);
    expect(released).toMatchObject({ code: 0, err: '' });
    expect(released.out).toContain('legal hold lifted');
    expect(holdColumns(f, c.id).hold_reason).toBeNull();
    expect(eventsOf(f, c.id, 'legal-hold-released')[0].actor).toBe('operator');
  });

  test('usage mistakes and nothing to release', async () => {
    expect(await cli(f, ['case', 'hold', c.number])).toMatchObject({ code: 2 });
    const none = await cli(f, ['case', 'release', c.number]);
    expect(none.code).toBe(1);
    expect(none.err).toContain(`${c.number} is not on legal hold`);
    expect((await cli(f, ['case', 'hold', 'KLG-2026-999999', '--reason', 'x'])).code).toBe(1);
  });

  test('`klagomal retention run` and `retention runs`: the runs on record', async () => {
    const dry = await runCommand(f, retentionCommand, ['run', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, trigger: 'command', anonymised: [], closedCaseYears: 10 });
    const real = await runCommand(f, retentionCommand, ['run']);
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/^retention run 2: cases closed before .* \(10 years\) are anonymised\n {2}anonymised: 0 case\(s\)/);
    const list = await runCommand(f, retentionCommand, ['runs', '--json']);
    expect(JSON.parse(list.out)).toMatchObject([
      { id: 2, trigger: 'command', dry_run: false, cases_anonymised: 0 },
      { id: 1, trigger: 'command', dry_run: true },
    ]);
    expect((await runCommand(f, retentionCommand, ['runs'])).out).toMatch(/^run +started/);
    expect((await runCommand(f, retentionCommand, ['purge'])).code).toBe(2);
  });
});
