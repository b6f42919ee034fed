/**
 * Escalation, a stage of its own: it reads the stored deadlines and sends mail (warnings,
 * breach notices, the manager's digest), while src/deadlines/ stays the pure calendar and rules
 * it decides with. It may import deadlines, store, reply, config and util; nothing but the
 * service and the CLI imports it.
 *
 * The escalation pass: run by node-cron in `klagomal start` (deadlines.escalation.schedule),
 * once per `klagomal run --once`, and by `klagomal escalate --now ISO`.
 *
 * For every open deadline whose next step is due (read through an index on
 * deadlines.next_escalation_at, so a pass costs what it has to do, not the register's size),
 * the pure rules in src/deadlines/escalation.ts decide; then, in one transaction per deadline:
 *  - each level acted on or skipped is claimed in `escalations` (primary key: case, milestone,
 *    level, due instant); a claim that fails means another pass did it, and nothing is sent;
 *  - the notices are queued in the outbox (idempotency key per level and recipient);
 *  - a breach is recorded on the deadline and as an event on the case;
 *  - the deadline's next step is stored.
 * Restarts, overlapping passes and several processes therefore never send a warning twice; a
 * pass after downtime catches up, and its notices say they are late.
 *
 * The manager's daily digest is claimed per local day in `digests` the same way; a day with no
 * open deadline is claimed without a mail (nothing to report). It lists the final answers
 * waiting for approval; the final answer's warnings go to the approvers too while one waits.
 */
import type { Config, Officer } from '../config/config';
import type { FinalAnswerDraftRow, OpenDeadlineRow, Store } from '../store/store';
import type { TemplateRenderer } from '../reply/templates';
import type { BusinessCalendar } from '../deadlines/calendar';
import { addDays, isoDate, localDateOf, localTime } from '../util/stockholm-time';
import type { Logger } from '../util/log';
import { addressForLog, errorChain } from '../util/log';
import { toInstant } from '../util/clock';
import { buildMail } from '../reply/mail';
import { customerNameForStaff } from '../util/header-safe';
import { caseTag } from '../classify/thread';
import { decideEscalation, escalationLevels, EscalationLevel, Recipient } from '../deadlines/escalation';
import { describeRule, DeadlineRule } from '../deadlines/rules';

export interface EscalationPassResult {
  /** Levels acted on (each may send several notices). */
  readonly escalated: number;
  readonly skipped: number;
  readonly breaches: number;
  readonly notices: number;
  readonly digest: boolean;
  readonly actions: ReadonlyArray<{ case: string; milestone: string; level: string; late: boolean; to: string[] }>;
}

const BATCH = 500;

export class EscalationPass {
  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly templates: TemplateRenderer,
    private readonly calendar: BusinessCalendar,
    private readonly log: Logger,
  ) {}

  private managers(): Officer[] {
    return this.config.officers.filter((o) => o.role === 'manager');
  }

  /** A final answer waiting for approval on this deadline's case (only the final answer's deadline). */
  private waitingDraft(row: OpenDeadlineRow): FinalAnswerDraftRow | undefined {
    return row.milestone === 'finalAnswer' || row.milestone === 'finalAnswerMax' ? this.store.pendingDraftOfCase(row.case_id) : undefined;
  }

  private recipients(
    row: OpenDeadlineRow,
    to: readonly Recipient[],
    draft?: FinalAnswerDraftRow,
  ): Array<{ address: string; name: string | null; role: Recipient | 'approver' }> {
    const out: Array<{ address: string; name: string | null; role: Recipient | 'approver' }> = [];
    const add = (address: string, name: string | null, role: Recipient | 'approver'): void => {
      if (!out.some((r) => r.address === address)) out.push({ address, name, role });
    };
    if (to.includes('contact')) {
      const contact = row.contact_officer ? this.config.officers.find((o) => o.address === row.contact_officer) : undefined;
      if (row.contact_officer) add(row.contact_officer, contact?.name ?? null, 'contact');
      else for (const m of this.managers()) add(m.address, m.name, 'manager'); // no contact person: the manager must know
    }
    if (to.includes('manager')) for (const m of this.managers()) add(m.address, m.name, 'manager');
    // A final answer waits for approval near its deadline: the approvers (never its author) are
    // warned as well as the contact person, since the answer is in their hands now.
    if (draft)
      for (const a of (JSON.parse(draft.approvers) as string[]).filter((x) => x !== draft.author)) {
        const officer = this.config.officers.find((o) => o.address === a);
        if (officer) add(a, officer.name, 'approver');
      }
    return out;
  }

  /** One pass as of `now`. With `dryRun`, decide and report but change nothing. */
  run(now: Date, opts: { dryRun?: boolean } = {}): EscalationPassResult {
    const cfg = this.config.deadlines.escalation;
    const result = {
      escalated: 0,
      skipped: 0,
      breaches: 0,
      notices: 0,
      digest: false,
      actions: [] as Array<{ case: string; milestone: string; level: string; late: boolean; to: string[] }>,
    };
    const at = toInstant(now);
    const seen = new Set<string>();
    for (;;) {
      const rows = this.store.deadlinesDueForEscalation(at, BATCH).filter((r) => !seen.has(`${r.case_id}/${r.milestone}`));
      if (rows.length === 0) break;
      // One transaction (one fsync) per batch, one savepoint per deadline: a deadline that
      // throws is rolled back alone and tried again on the next pass.
      const batch = (): void => {
        for (const row of rows) {
          seen.add(`${row.case_id}/${row.milestone}`);
          try {
            this.escalateOne(row, now, cfg.lateAfterMinutes, result, opts.dryRun ?? false);
          } catch (err) {
            this.log.error('escalation failed', { case: row.number, milestone: row.milestone, error: errorChain(err) });
          }
        }
      };
      if (opts.dryRun) batch();
      else this.store.tx(batch);
      if (opts.dryRun || rows.length < BATCH) break;
    }
    if (cfg.digestTime) result.digest = this.digest(now, opts.dryRun ?? false);
    return result;
  }

  private escalateOne(
    row: OpenDeadlineRow,
    now: Date,
    lateAfterMinutes: number,
    result: { escalated: number; skipped: number; breaches: number; notices: number; actions: unknown[] },
    dryRun: boolean,
  ): void {
    const rule = JSON.parse(row.rule) as DeadlineRule;
    const dueAt = new Date(row.due_at);
    const levels = escalationLevels(dueAt, rule.unit, this.config.deadlines.escalation, this.calendar);
    const apply = (): void => {
      const done = this.store.escalationLevelsDone(row.case_id, row.milestone, row.due_at);
      const decision = decideEscalation(levels, done, now, lateAfterMinutes);
      const at = toInstant(now);
      for (const s of decision.skip) {
        if (!dryRun && this.store.claimEscalation(row.case_id, row.milestone, s.level, row.due_at, toInstant(s.at), at, 'skipped')) result.skipped++;
        else if (dryRun) result.skipped++;
      }
      for (const level of decision.act) {
        if (
          !dryRun &&
          !this.store.claimEscalation(row.case_id, row.milestone, level.level, row.due_at, toInstant(level.at), at, decision.late ? 'late' : 'sent')
        )
          continue;
        const draft = this.waitingDraft(row);
        const to = this.recipients(row, level.to, draft);
        result.escalated++;
        result.actions.push({ case: row.number, milestone: row.milestone, level: level.level, late: decision.late, to: to.map((r) => r.address) });
        if (dryRun) continue;
        const breach = level.level === 'breach';
        if (breach && this.store.markBreached(row.case_id, row.milestone, at)) {
          result.breaches++;
          this.store.appendEvent({
            at,
            caseId: row.case_id,
            actor: 'escalation',
            type: 'deadline-breached',
            detail: { milestone: row.milestone, dueAt: row.due_at, policy: row.policy, late: decision.late },
          });
        }
        for (const r of to) {
          this.queueNotice(row, level, r, decision.late, now, draft);
          result.notices++;
        }
        this.store.appendEvent({
          at,
          caseId: row.case_id,
          actor: 'escalation',
          type: 'deadline-escalated',
          detail: {
            milestone: row.milestone,
            level: level.level,
            dueAt: row.due_at,
            plannedAt: toInstant(level.at),
            late: decision.late,
            to: to.map((r) => addressForLog(r.address)),
          },
        });
      }
      if (!dryRun) this.store.setNextEscalation(row.case_id, row.milestone, decision.next ? toInstant(decision.next) : null);
    };
    if (dryRun) apply();
    else this.store.tx(apply);
  }

  private delayNoticeOwed(caseId: number, milestone: string): boolean {
    if (milestone !== 'finalAnswer') return false;
    return !this.store
      .eventsOfCase(caseId)
      .some((e) => e.type === 'deadline-extended' && (JSON.parse(e.detail) as { milestone?: string }).milestone === 'finalAnswer');
  }

  private queueNotice(
    row: OpenDeadlineRow,
    level: EscalationLevel,
    r: { address: string; name: string | null; role: Recipient | 'approver' },
    late: boolean,
    now: Date,
    draft?: FinalAnswerDraftRow,
  ): void {
    const kind = level.level === 'breach' ? 'breach-notice' : 'escalation-warning';
    const rule = JSON.parse(row.rule) as DeadlineRule;
    const data = {
      firm: { name: this.config.firm.name, complaintsAddress: this.config.firm.complaintsAddress },
      case: {
        number: row.number,
        tag: caseTag(row.number),
        subject: row.subject ?? '',
        ...customerNameForStaff(row.customer_name, row.customer_address),
        customerAddress: row.customer_address ?? '',
        receivedAt: new Date(row.received_at),
        contact: row.contact_officer,
      },
      recipient: { name: r.name },
      milestone: row.milestone,
      dueAt: new Date(row.due_at),
      plannedAt: level.at,
      level: level.level,
      rule: describeRule(rule),
      policySource: row.source ?? row.policy ?? '',
      late,
      toManager: r.role === 'manager',
      delayNoticeOwed: this.delayNoticeOwed(row.case_id, row.milestone),
      draftWaiting: draft !== undefined,
      draftedAt: draft ? new Date(draft.drafted_at) : null,
      toApprover: draft !== undefined && (JSON.parse(draft.approvers) as string[]).includes(r.address),
    };
    const id = this.store.enqueue(
      buildMail(
        {
          kind,
          caseId: row.case_id,
          caseNumber: row.number,
          language: this.config.language,
          to: r.address,
          data,
          idempotencyKey: `escalation:${row.case_id}:${row.milestone}:${level.level}:${row.due_at}:${r.address}`,
          now,
        },
        this.templates,
        this.config,
      ),
    );
    // Not a problem: the database made this notice happen once (an earlier pass queued it).
    if (id === null) this.log.info('escalation notice already queued', { case: row.number, escalationLevel: level.level });
  }

  /** The manager's daily digest, once per local day, from the configured time on. */
  private digest(now: Date, dryRun: boolean): boolean {
    const cfg = this.config.deadlines.escalation;
    const [h, m] = cfg.digestTime!.split(':').map(Number);
    const today = localDateOf(now);
    const planned = localTime(today, h, m, 0);
    if (now.getTime() < planned.getTime()) return false;
    const managers = this.managers();
    if (managers.length === 0) return false;
    const late = now.getTime() - planned.getTime() > cfg.lateAfterMinutes * 60_000;
    if (dryRun) return !this.store.digestClaimed(isoDate(today));
    return this.store.tx(() => {
      if (!this.store.claimDigest(isoDate(today), toInstant(now), late)) return false;
      const open = this.store.openDeadlines(null, 100_000);
      // A digest of nothing (an empty install's first start, a desk with nothing open, only
      // imported old cases whose deadlines do not apply) is noise: the day is claimed, no mail.
      if (open.length === 0) {
        this.log.info('daily digest not sent: no open deadlines', { day: isoDate(today) });
        return false;
      }
      const endToday = localTime(addDays(today, 1), 0, 0, 0).getTime();
      const endTomorrow = localTime(addDays(today, 2), 0, 0, 0).getTime();
      const item = (d: OpenDeadlineRow) => ({
        number: d.number,
        subject: d.subject ?? '',
        milestone: d.milestone,
        dueAt: new Date(d.due_at),
        contact: d.contact_officer,
      });
      const t = (d: OpenDeadlineRow): number => new Date(d.due_at).getTime();
      const data = {
        firm: { name: this.config.firm.name, complaintsAddress: this.config.firm.complaintsAddress },
        day: planned,
        late,
        openCount: new Set(open.map((d) => d.case_id)).size,
        breached: open.filter((d) => t(d) < now.getTime()).map(item),
        dueToday: open.filter((d) => t(d) >= now.getTime() && t(d) < endToday).map(item),
        dueTomorrow: open.filter((d) => t(d) >= endToday && t(d) < endTomorrow).map(item),
        nearest: open
          .filter((d) => t(d) >= now.getTime())
          .slice(0, 20)
          .map(item),
        // Longest waiting first (pendingDrafts orders by drafting time).
        drafts: this.store.pendingDrafts().map((d) => ({
          number: d.number,
          subject: d.subject ?? '',
          author: d.author,
          draftedAt: new Date(d.drafted_at),
          dueAt: d.final_due_at ? new Date(d.final_due_at) : null,
        })),
      };
      for (const mgr of managers) {
        this.store.enqueue(
          buildMail(
            {
              kind: 'manager-digest',
              caseId: null,
              caseNumber: null,
              language: this.config.language,
              to: mgr.address,
              data,
              idempotencyKey: `digest:${isoDate(today)}:${mgr.address}`,
              now,
            },
            this.templates,
            this.config,
          ),
        );
      }
      this.log.info('daily digest queued', { day: isoDate(today), managers: managers.length, late });
      return true;
    });
  }
}
