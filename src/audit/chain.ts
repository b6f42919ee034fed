/**
 * The event hash chain: what other stages may do to the history, and how one chain is checked.
 *
 * Events are never updated or deleted by the application. The one exception is retention
 * (src/retention/), which blanks the details of a case's events with `anonymiseEventDetails`:
 * the detail becomes {"anonymised":true}, the run that did it is recorded on the event, and
 * hash and detail_hash stay as they were, so the chain still verifies. The database trigger
 * (EVENTS_UPDATE_TRIGGER_V8 in src/store/migrations.ts) refuses any other change, and DELETE.
 *
 * `checkChain` walks one chain in id order and reports its first broken link; `klagomal audit
 * verify` (src/audit/verify.ts) runs it over every chain, `case show --audit` over one case.
 */
import type { Store } from '../store/store';
import type { ChainedEventRow } from '../store/event-chain';
import { ANONYMISED_DETAIL, detailHash, eventHash, shortHash } from '../store/event-hash';

/**
 * Blank the detail of every event of a case (retention). Call inside the retention run's
 * transaction; `runId` must be the retention_runs row of that run (verify accepts an
 * anonymised event only when its run is recorded). Events already anonymised are left alone.
 * Returns the number of events changed.
 */
export function anonymiseEventDetails(store: Store, caseId: number, runId: number, at: string): number {
  return store.anonymiseCaseEventDetails(caseId, runId, at);
}

/** As anonymiseEventDetails, for the events on no case of the mails `inboundIds` (retention of loose mail). */
export function anonymiseMailEventDetails(store: Store, inboundIds: readonly number[], runId: number, at: string): number {
  return store.anonymiseLooseMailEventDetails(inboundIds, runId, at);
}

export type ChainBreakKind =
  /** The row has no hash: written outside klagomal. */
  | 'missing-hash'
  /** prev_hash is not the previous row's hash: a row deleted, inserted or moved. */
  | 'link'
  /** sha256(detail) differs from detail_hash: the detail was edited. */
  | 'detail'
  /** The hash does not match the fields: a field (or detail_hash) was edited. */
  | 'field'
  /** Marked anonymised without a recorded retention run, or with another detail. */
  | 'anonymised';

export interface ChainBreak {
  readonly eventId: number;
  readonly kind: ChainBreakKind;
  readonly message: string;
}

export interface ChainCheck {
  readonly caseId: number | null;
  readonly events: number;
  readonly anonymised: number;
  /** The hash of the chain's last event (as stored). */
  readonly head: string | null;
  readonly ok: boolean;
  /** The first broken link, in id order. */
  readonly firstBreak: ChainBreak | null;
  /** Every event that failed a check (an edit breaks one; a deletion breaks the next link). */
  readonly brokenEvents: readonly number[];
}

/**
 * Checks one chain, event by event in id order. `retentionRuns`: ids of recorded retention
 * runs, or null when the database has none (then no anonymised event is accepted).
 */
export class ChainChecker {
  private prevHash: string | null = null;
  private prevId: number | null = null;
  private events = 0;
  private anonymised = 0;
  private first: ChainBreak | null = null;
  private readonly broken: number[] = [];

  constructor(
    readonly caseId: number | null,
    private readonly retentionRuns: ReadonlySet<number> | null,
  ) {}

  /** Check the next event of the chain; returns its problem, if any. */
  add(row: ChainedEventRow): ChainBreak | null {
    const problem = this.check(row);
    this.events++;
    if (row.anonymised_at !== null) this.anonymised++;
    if (problem) {
      this.broken.push(row.id);
      this.first ??= problem;
    }
    this.prevHash = row.hash;
    this.prevId = row.id;
    return problem;
  }

  result(): ChainCheck {
    return {
      caseId: this.caseId,
      events: this.events,
      anonymised: this.anonymised,
      head: this.prevHash,
      ok: this.first === null,
      firstBreak: this.first,
      brokenEvents: this.broken,
    };
  }

  private check(row: ChainedEventRow): ChainBreak | null {
    const at = (kind: ChainBreakKind, message: string): ChainBreak => ({ eventId: row.id, kind, message });
    if (row.hash === null || row.detail_hash === null) return at('missing-hash', 'the event has no hash: it was written outside klagomal');
    if (row.prev_hash !== this.prevHash) {
      if (this.prevId === null)
        return at(
          'link',
          `the first event of the chain names a previous hash (${shortHash(row.prev_hash)}): events before it were deleted, or it was moved here`,
        );
      return at(
        'link',
        `prev_hash ${shortHash(row.prev_hash)} is not the hash of the previous event #${this.prevId} (${shortHash(this.prevHash)}): ` +
          `a row was deleted, inserted or moved between them, or #${this.prevId} was rewritten with a new hash`,
      );
    }
    if (row.anonymised_at === null) {
      if (detailHash(row.detail) !== row.detail_hash) return at('detail', 'the detail was edited: its sha256 differs from detail_hash');
    } else {
      if (row.detail !== ANONYMISED_DETAIL) return at('anonymised', `marked anonymised, but the detail is not ${ANONYMISED_DETAIL}: it was edited`);
      if (this.retentionRuns === null)
        return at('anonymised', 'marked anonymised, but the database records no retention runs: the detail was removed outside retention');
      if (row.anonymised_by_run === null || !this.retentionRuns.has(row.anonymised_by_run))
        return at('anonymised', `marked anonymised by retention run ${row.anonymised_by_run ?? '(none)'}, which is not a recorded retention run`);
    }
    if (eventHash(row.prev_hash, row, row.detail_hash) !== row.hash)
      return at('field', 'a field was edited: the hash does not match id, time, case, mail, outbox, actor, type, states or detail_hash');
    return null;
  }
}

/** Check one chain given as rows in id order. */
export function checkChain(caseId: number | null, rows: Iterable<ChainedEventRow>, retentionRuns: ReadonlySet<number> | null): ChainCheck {
  const checker = new ChainChecker(caseId, retentionRuns);
  for (const row of rows) checker.add(row);
  return checker.result();
}
