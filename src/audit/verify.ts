/**
 * `klagomal audit verify`: recompute every event chain and report the first broken link of
 * each, plus the event ids missing from the sequence (deleted rows), and the head of the
 * history (the last event and its hash) for an auditor to keep outside the database.
 *
 * Reads the events once, chain by chain (ORDER BY case_id, id on the events_case index),
 * without holding them all in memory.
 */
import type { Store } from '../store/store';
import { ChainBreak, ChainChecker, ChainCheck } from './chain';

export interface BrokenChain {
  readonly caseId: number | null;
  /** The case number, or null for the chain of events without a case. */
  readonly caseNumber: string | null;
  readonly events: number;
  readonly firstBreak: ChainBreak;
  readonly brokenEvents: number;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly events: number;
  readonly chains: number;
  /** Events whose detail retention blanked (accepted when their run is recorded). */
  readonly anonymised: number;
  readonly broken: readonly BrokenChain[];
  /** Ranges of event ids that are missing: deleted rows. */
  readonly missingIds: ReadonlyArray<readonly [number, number]>;
  /** The last event: its id and hash. Kept outside the database, it dates the history. */
  readonly head: { readonly id: number; readonly hash: string | null } | null;
  /** Cases that still hold a personnummer in clear (from before schema 8); not a chain break. */
  readonly personnummerInClear: number;
}

export function verifyAudit(store: Store): AuditVerification {
  const runs = store.retentionRunIds();
  const numbers = store.caseNumbers();
  const broken: BrokenChain[] = [];
  let events = 0;
  let chains = 0;
  let anonymised = 0;
  let head: { id: number; hash: string | null } | null = null;
  let checker: ChainChecker | null = null;

  const close = (c: ChainCheck): void => {
    chains++;
    events += c.events;
    anonymised += c.anonymised;
    if (c.firstBreak)
      broken.push({
        caseId: c.caseId,
        caseNumber: c.caseId === null ? null : (numbers.get(c.caseId) ?? `case #${c.caseId}`),
        events: c.events,
        firstBreak: c.firstBreak,
        brokenEvents: c.brokenEvents.length,
      });
  };

  for (const row of store.eventsInChainOrder()) {
    if (!checker || checker.caseId !== row.case_id) {
      if (checker) close(checker.result());
      checker = new ChainChecker(row.case_id, runs);
    }
    checker.add(row);
    if (!head || row.id > head.id) head = { id: row.id, hash: row.hash };
  }
  if (checker) close(checker.result());

  const missingIds = store.eventIdGaps();
  return {
    ok: broken.length === 0 && missingIds.length === 0,
    events,
    chains,
    anonymised,
    broken,
    missingIds,
    head,
    personnummerInClear: store.countClearPersonnummer(),
  };
}

/** The verification as lines for people. */
export function formatVerification(v: AuditVerification): string[] {
  const lines: string[] = [];
  lines.push(
    `${v.events} event(s) in ${v.chains} chain(s) (one per case, one for events without a case)` +
      (v.anonymised ? `; ${v.anonymised} anonymised by retention` : ''),
  );
  if (v.head) lines.push(`head: event #${v.head.id} ${v.head.hash ?? '(no hash)'}`);
  if (v.ok) lines.push('OK: every chain verifies, no event is missing');
  else {
    lines.push(`BROKEN: ${v.broken.length} chain(s) broken${v.missingIds.length ? `, event ids missing` : ''}`);
    for (const b of v.broken) {
      const more = b.brokenEvents > 1 ? ` (${b.brokenEvents} events fail in this chain)` : '';
      lines.push(`  ${(b.caseNumber ?? '(no case)').padEnd(18)} event #${b.firstBreak.eventId}: ${b.firstBreak.kind}: ${b.firstBreak.message}${more}`);
    }
    for (const [from, to] of v.missingIds)
      lines.push(`  event id${from === to ? ` #${from}` : `s #${from}-#${to}`} missing: deleted from the history (the store hands out ids without gaps)`);
  }
  if (v.personnummerInClear > 0)
    lines.push(`warning: ${v.personnummerInClear} case(s) hold a personnummer in clear (stored before schema 8); run \`klagomal audit encrypt-personnummer\``);
  return lines;
}
