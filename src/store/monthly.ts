/**
 * The monthly management pack (issue 15, src/monthly/): each month's pack claimed once in
 * `monthly_packs` (migration 16), and the drafts of final answers that waited for approval in a
 * period, for the pack's "waited longest" list.
 */
import type { Instant } from '../util/clock';
import { StoreBase } from './base';

/** A draft that waited for approval at some time in a period, with its case number. */
export interface DraftWaitRow {
  number: string;
  state: 'pending' | 'approved' | 'returned' | 'replaced';
  author: string;
  drafted_at: Instant;
  decided_by: string | null;
  decided_at: Instant | null;
}

export class MonthlyPackQueries extends StoreBase {
  /** Claim the pack of `month` ("YYYY-MM"). False when it was claimed before: then nothing may be sent. */
  claimMonthlyPack(month: string, at: Instant, late: boolean, managers: number): boolean {
    return (
      this.q('INSERT OR IGNORE INTO monthly_packs (month, claimed_at, late, managers) VALUES (?, ?, ?, ?)').run(month, at, late ? 1 : 0, managers).changes === 1
    );
  }

  monthlyPackClaimed(month: string): boolean {
    return this.q('SELECT 1 FROM monthly_packs WHERE month = ?').get(month) !== undefined;
  }

  /** Drafts waiting at some instant of [start, end): drafted before its end, not decided before its start. */
  draftsWaitingBetween(start: Instant, end: Instant): DraftWaitRow[] {
    return this.q(
      `SELECT c.number, d.state, d.author, d.drafted_at, d.decided_by, d.decided_at
         FROM final_answer_drafts d JOIN cases c ON c.id = d.case_id
        WHERE d.drafted_at < ? AND (d.decided_at IS NULL OR d.decided_at >= ?)
        ORDER BY d.drafted_at, d.id`,
    ).all(end, start) as DraftWaitRow[];
  }
}
