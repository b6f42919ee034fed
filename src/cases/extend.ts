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
import { buildMail } from '../reply/mail';
import { caseTag } from '../classify/thread';
import { toInstant } from '../util/clock';
import { maskPersonnummer } from '../util/personnummer';

/** A refused extension; `sv` says the same in Swedish, for an officer's confirmation (src/officers/commands.ts). */
export class ExtensionRefused extends Error {
  constructor(
    message: string,
    readonly sv: string = message,
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
  /** A PSD2 holding reply: the customer is told the 35-business-day limit. */
  readonly holdingReply: boolean;
  /** Queue the delay notice to the customer (default true). */
  readonly notifyCustomer: boolean;
}

export interface ExtensionResult {
  readonly from: Date;
  readonly to: Date;
  readonly noticeQueued: boolean;
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
    if (req.holdingReply && !max)
      throw new ExtensionRefused(
        `a holding reply is for payment-service complaints under PSD2; ${c.number} has no PSD2 limit`,
        `ett preliminärt svar (holding reply) gäller klagomål på betaltjänster enligt PSD2; ${c.number} har ingen PSD2-gräns`,
      );

    const at = toInstant(now);
    const levels = escalationLevels(to, 'calendarDays', config.deadlines.escalation, calendar);
    store.moveDeadline(c.id, req.milestone, toInstant(to), { ...JSON.parse(d.rule), extendedTo: isoDate(req.newDate), reason }, toInstant(levels[0].at));
    store.appendEvent({
      at,
      caseId: c.id,
      actor: req.actor,
      type: 'deadline-extended',
      detail: { milestone: req.milestone, from: d.due_at, to: toInstant(to), reason, holdingReply: req.holdingReply },
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
              customer: { name: c.customer_name, type: 'consumer' },
              reason,
              previousDueAt: from,
              newDueAt: to,
              holdingReply: req.holdingReply,
            },
            idempotencyKey: `delay-notice:${c.id}:${req.milestone}:${toInstant(to)}`,
            now,
          },
          templates,
          config,
        ),
      );
      noticeQueued = id !== null;
      if (noticeQueued)
        store.appendEvent({ at, caseId: c.id, outboxId: id, actor: req.actor, type: 'delay-notice-queued', detail: { to: toInstant(to), language } });
    }
    return { from, to, noticeQueued };
  });
}
