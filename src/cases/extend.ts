/**
 * Extending a deadline ("we cannot answer in time: here is why, and when"). The firm's promise
 * and the EU guidelines require that the customer is told the reason and the new date; PSD2
 * art. 101(2) allows a holding reply only up to 35 business days after receipt.
 *
 * One transaction: the deadline moves (its escalation restarts for the new date), an event
 * records the old and new instant, who and why, and the delay notice to the customer is queued.
 */
import type { Config, Language } from '../config/config';
import type { Store } from '../store/store';
import type { TemplateRenderer } from '../reply/templates';
import type { BusinessCalendar } from '../deadlines/calendar';
import type { LocalDate } from '../util/stockholm-time';
import { isoDate, localTime, formatStockholm } from '../util/stockholm-time';
import type { Milestone } from '../deadlines/policy';
import type { Actor } from './lifecycle';
import { escalationLevels } from '../deadlines/escalation';
import { calendarsFor } from '../deadlines/deadlines';
import { PRESETS } from '../deadlines/policy';
import { computeDue } from '../deadlines/rules';
import { buildMail } from '../reply/mail';
import { caseTag } from '../classify/thread';
import { toInstant } from '../util/clock';
import { maskPersonnummer } from '../util/personnummer';

/** A refused extension; `sv` says the same in Swedish, for an officer's confirmation (src/officers/commands.ts). */
export class ExtensionRefused extends Error {
  constructor(
    message: string,
    readonly sv: string = message,
    /**
     * What the refusal revealed and must be recorded even so (a breach), run by the caller after
     * the refused extension is rolled back.
     */
    readonly persist?: () => void,
  ) {
    super(message);
  }
}

export interface ExtensionRequest {
  readonly caseId: number;
  readonly milestone: Milestone;
  /** The new last day (Stockholm); the deadline becomes 23:59:59 that day. */
  readonly newDate: LocalDate;
  readonly reason: string;
  readonly actor: Actor;
  /** Who ran the command, for an operator's extension (the OS user, or --as NAME): on the event. */
  readonly user?: string;
  /** A PSD2 holding reply: the customer is told the 35-business-day limit. */
  readonly holdingReply: boolean;
  /** Queue the delay notice to the customer (default true). */
  readonly notifyCustomer: boolean;
}

export interface ExtensionResult {
  readonly from: Date;
  readonly to: Date;
  readonly noticeQueued: boolean;
  /** Extended after the deadline it extends had passed: the breach is recorded and stays. */
  readonly late: boolean;
}

/**
 * PSD2's day 15 for a case (art. 101(1)): the stored PSD2 policy deadline, or for a case filed
 * before those were stored, computed again from receipt in the statutory calendar.
 */
export function psd2Day15(store: Store, config: Config, caseId: number, receivedAt: string): Date {
  const row = store.policyDeadlinesOfCase(caseId).find((p) => p.regime === 'psd2' && p.milestone === 'finalAnswer');
  if (row) return new Date(row.due_at);
  // The statute's day 15, never a firm's shortened rule.
  return computeDue(new Date(receivedAt), PRESETS.psd2.rules.finalAnswer!, calendarsFor(config.deadlines).statutory);
}

/** Record a missed deadline on the case (once; a breach recorded before stays as it was). */
function recordBreach(
  store: Store,
  caseId: number,
  milestone: string,
  dueAt: string,
  policy: string | null,
  recordedBy: string,
  actor: Actor,
  at: string,
): void {
  if (!store.markBreached(caseId, milestone, at)) return;
  store.appendEvent({ at, caseId, actor, type: 'deadline-breached', detail: { milestone, dueAt, policy, recordedBy } });
}

export function extendDeadline(
  store: Store,
  config: Config,
  templates: TemplateRenderer,
  calendar: BusinessCalendar,
  req: ExtensionRequest,
  now: Date,
): ExtensionResult {
  return store.tx(() => {
    const c = store.caseById(req.caseId);
    if (!c) throw new ExtensionRefused(`no case ${req.caseId}`, `inget ärende ${req.caseId}`);
    if (c.status === 'closed') throw new ExtensionRefused(`${c.number} is closed`, `${c.number} är stängt`);
    // The reason is stored and sent to the customer: masked whoever gave it (an officer's #extend, the CLI).
    const reason = maskPersonnummer(req.reason.replace(/\s+/g, ' ').trim(), now);
    if (reason.length < 5)
      throw new ExtensionRefused(
        'a reason is required: the customer must be told why the answer is delayed',
        'ett skäl krävs: kunden måste få veta varför svaret dröjer',
      );
    const d = store.deadline(c.id, req.milestone);
    if (!d) throw new ExtensionRefused(`${c.number} has no ${req.milestone} deadline`, `${c.number} har ingen tidsfrist för ${req.milestone}`);
    if (d.met_at)
      throw new ExtensionRefused(`the ${req.milestone} of ${c.number} was met at ${d.met_at}`, `${req.milestone} i ${c.number} uppfylldes ${d.met_at}`);
    const to = localTime(req.newDate, 23, 59, 59);
    const from = new Date(d.due_at);
    if (to.getTime() <= from.getTime())
      throw new ExtensionRefused(
        `${isoDate(req.newDate)} is not later than the current deadline ${formatStockholm(from)}`,
        `${isoDate(req.newDate)} är inte senare än nuvarande tidsfrist ${formatStockholm(from)}`,
      );
    if (to.getTime() <= now.getTime()) throw new ExtensionRefused(`${isoDate(req.newDate)} has already passed`, `${isoDate(req.newDate)} har redan passerat`);
    const max = req.milestone === 'finalAnswer' ? store.deadline(c.id, 'finalAnswerMax') : undefined;
    if (max && to.getTime() > new Date(max.due_at).getTime()) {
      throw new ExtensionRefused(
        `${max.source ?? 'the statutory limit'}: the final answer may be moved to ${formatStockholm(new Date(max.due_at))} at the latest`,
        `${max.source ?? 'den lagstadgade gränsen'}: det slutliga svaret får flyttas till senast ${formatStockholm(new Date(max.due_at))}`,
      );
    }
    if (req.holdingReply && (!max || c.regime !== 'psd2'))
      throw new ExtensionRefused(
        `a holding reply is for payment-service complaints under PSD2; ${c.number} has no PSD2 limit (#regime psd2 makes it a PSD2 case)`,
        `ett preliminärt svar (holding reply) gäller klagomål på betaltjänster enligt PSD2; ${c.number} har ingen PSD2-gräns (#regime psd2 gör det till ett PSD2-ärende)`,
      );
    const at = toInstant(now);
    if (req.holdingReply) {
      // PSD2 art. 101(2): the holding reply itself must reach the customer within the 15
      // business days. After day 15 the final answer is late whatever is sent now: refused, and
      // the breach recorded (by the caller, after this refusal is rolled back).
      const day15 = psd2Day15(store, config, c.id, c.received_at);
      if (now.getTime() > day15.getTime())
        throw new ExtensionRefused(
          `PSD2: a holding reply must reach the customer within 15 business days of receipt, by ${formatStockholm(day15)}; that has passed, so the final answer is late: send it as soon as possible (#final); the breach is recorded`,
          `PSD2: ett preliminärt svar måste nå kunden inom 15 bankdagar från mottagandet, senast ${formatStockholm(day15)}; det har passerat, så det slutliga svaret är försenat: skicka det så snart som möjligt (#final); överträdelsen är registrerad`,
          () => recordBreach(store, c.id, 'finalAnswer', toInstant(day15), 'psd2', 'a holding reply after PSD2 business day 15', req.actor, at),
        );
    }
    // An extension after the deadline it extends: allowed (the firm's own promise), but the
    // deadline was missed, and that stays on the case, the register and the statistics.
    const late = now.getTime() > from.getTime() || d.breached_at !== null;
    if (late) recordBreach(store, c.id, req.milestone, d.due_at, d.policy, 'extended after its deadline', req.actor, at);

    const levels = escalationLevels(to, 'calendarDays', config.deadlines.escalation, calendar);
    store.moveDeadline(c.id, req.milestone, toInstant(to), { ...JSON.parse(d.rule), extendedTo: isoDate(req.newDate), reason }, toInstant(levels[0].at));
    store.appendEvent({
      at,
      caseId: c.id,
      actor: req.actor,
      type: 'deadline-extended',
      detail: {
        milestone: req.milestone,
        from: d.due_at,
        to: toInstant(to),
        reason,
        holdingReply: req.holdingReply,
        ...(late ? { late: true } : {}),
        ...(req.user ? { user: req.user } : {}),
      },
    });
    // The same facts without the reason: they outlive retention's anonymising of the event.
    store.recordExtension({
      case_id: c.id,
      milestone: req.milestone,
      at,
      from_due: d.due_at,
      to_due: toInstant(to),
      holding_reply: req.holdingReply ? 1 : 0,
      late: late ? 1 : 0,
    });

    let noticeQueued = false;
    const failingUntil = c.customer_address ? store.addressFailingUntil(c.customer_address, at) : null;
    if (req.notifyCustomer && c.customer_address && failingUntil) {
      store.appendEvent({
        at,
        caseId: c.id,
        actor: req.actor,
        type: 'delay-notice-suppressed',
        detail: { reason: `the customer's address bounces (failing until ${failingUntil}): tell the customer another way` },
      });
    } else if (req.notifyCustomer && c.customer_address) {
      const language = (c.language === 'en' ? 'en' : 'sv') as Language;
      const id = store.enqueue(
        buildMail(
          {
            kind: 'delay-notice',
            caseId: c.id,
            caseNumber: c.number,
            language,
            to: c.customer_address,
            data: {
              firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
              case: { number: c.number, tag: caseTag(c.number), receivedAt: new Date(c.received_at) },
              customer: { name: c.customer_name, type: c.customer_type === 'business' ? 'business' : 'consumer' },
              reason,
              previousDueAt: from,
              newDueAt: to,
              holdingReply: req.holdingReply,
            },
            idempotencyKey: `delay-notice:${c.id}:${req.milestone}:${toInstant(to)}`,
            now,
            cc: c.representative_address,
          },
          templates,
          config,
        ),
      );
      noticeQueued = id !== null;
      if (noticeQueued)
        store.appendEvent({ at, caseId: c.id, outboxId: id, actor: req.actor, type: 'delay-notice-queued', detail: { to: toInstant(to), language } });
    }
    return { from, to, noticeQueued, late };
  });
}
