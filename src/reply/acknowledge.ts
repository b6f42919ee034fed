/**
 * Queueing a new complaint's acknowledgement: the decision first (src/reply/acknowledgement.ts:
 * whom, or why not: the loop guards, a failing address, an imported old mail), then the mail,
 * the outbox row and the event that says which, in the caller's transaction. The outbox sender
 * sends it later (src/reply/outbox-sender.ts); the outbox's idempotency key keeps it to one per
 * case.
 */
import type { Config } from '../config/config';
import type { Store } from '../store/store';
import type { Logger } from '../util/log';
import type { TemplateRenderer } from './templates';
import type { FiledComplaint } from '../cases/filing';
import { AcknowledgementInput, buildAcknowledgement, decideAcknowledgement, domainIsCapped } from './acknowledgement';
import { newMessageId } from './mail';
import { headerText } from '../util/header-safe';
import { toInstant } from '../util/clock';
import { errorChain } from '../util/log';
import { mailboxOf } from '../util/mailbox';

export interface AcknowledgeDeps {
  readonly store: Store;
  readonly config: Config;
  readonly templates: TemplateRenderer;
  readonly log: Logger;
  /** The hourly count carried through a filing batch's transaction (null: asked of the store each time). */
  readonly hourlyAcknowledgements?: HourlyAcknowledgements | null;
}

/**
 * The hourly total of acknowledgements (loop.maxAutomaticPerHour) through one filing batch.
 * Counting it is a scan of up to the cap's number of outbox rows (10,000 by default), and a
 * backlog asked it once per mail: a twentieth of the service's time at 5,000 mails, growing with
 * every mail queued (issue 16). In one batch's transaction the count can be carried instead:
 * the transaction holds the write lock (no other process queues or fails a mail meanwhile), the
 * batch has one `now` and so one window, and only this module queues acknowledgements. So the
 * store is asked once, at the batch's first acknowledgement, and each acknowledgement queued
 * after it is added; after a mail whose savepoint rolled back the store is asked again.
 * The count equals what the store would answer at each point (tested in
 * test/integration/loop.test.ts, hourlyCapCountedWrongWithinOneBatch).
 */
export class HourlyAcknowledgements {
  private known: { since: string; atMost: number; n: number } | null = null;

  constructor(private readonly store: Store) {}

  /** Acknowledgements queued since `since` (not failed), counted up to `atMost`: the store's countAcknowledgementsSince. */
  count(since: string, atMost: number): number {
    if (!this.known || this.known.since !== since || this.known.atMost !== atMost) {
      this.known = { since, atMost, n: this.store.countAcknowledgementsSince(since, atMost) };
    }
    return Math.min(this.known.n, atMost);
  }

  /** An acknowledgement was queued, created now: inside the window. */
  queued(): void {
    if (this.known) this.known.n++;
  }

  /** A mail's savepoint rolled back, with whatever it queued: the store is asked again at the next count. */
  mailRolledBack(): void {
    this.known = null;
  }
}

/** What the acknowledgement of a filed complaint says, addressed to `to`. */
function acknowledgementInput(ctx: AcknowledgeDeps, c: FiledComplaint, to: string, name: string | null, now: Date): AcknowledgementInput {
  const { store, config } = ctx;
  return {
    caseId: c.caseId,
    caseNumber: c.caseNumber,
    language: c.language,
    to,
    customerName: name,
    contactName: config.acknowledgement.nameContactPerson
      ? (config.officers.find((o) => o.address === store.caseById(c.caseId)?.contact_officer)?.name ?? null)
      : null,
    customerSubject: c.subject,
    customerMessageId: c.messageId,
    customerReferences: c.references,
    receivedAt: c.receivedAt,
    answerDueAt: c.answerDue.dueAt,
    answerRule: c.answerDue.rule,
    fields: c.fields,
    now,
  };
}

/**
 * A complaint registered with a postal address only (#register): the acknowledgement is the
 * same text, rendered for the officer to print and post, with the customer's address on top;
 * the officer records the posting with `#sent-by-post`, which meets the acknowledgement
 * milestone. The letter to the officer is not the acknowledgement: it meets nothing itself.
 */
export function queueAcknowledgementLetter(
  ctx: AcknowledgeDeps,
  c: FiledComplaint,
  letter: { readonly officer: string; readonly name: string; readonly postal: string; readonly inReplyTo: string | null },
  now: Date,
): boolean {
  const { store, config } = ctx;
  const ack = buildAcknowledgement(acknowledgementInput(ctx, c, letter.officer, letter.name, now), ctx.templates, config);
  const sv = c.language !== 'en';
  const tag = `[${c.caseNumber}]`;
  const text = [
    sv
      ? `Klagomålet ${c.caseNumber} registrerades med enbart postadress. Skriv ut kvittensen nedan och skicka den med post till kunden.`
      : `Complaint ${c.caseNumber} was registered with a postal address only. Print the acknowledgement below and post it to the customer.`,
    sv
      ? 'När den är postad: svara på det här mejlet med #sent-by-post (eller #sent-by-post ÅÅÅÅ-MM-DD) på första raden; då är kvittensen registrerad som skickad.'
      : 'When it is posted: reply to this mail with #sent-by-post (or #sent-by-post YYYY-MM-DD) on the first line; the acknowledgement is then recorded as sent.',
    '',
    '------------------------------------------------------------',
    config.firm.name,
    '',
    letter.name,
    ...letter.postal.split(/\s*,\s*/),
    '',
    ack.bodyText,
  ].join('\n');
  const id = store.enqueue({
    ...ack,
    kind: 'acknowledgement-letter',
    template: ack.template,
    idempotencyKey: `acknowledgement-letter:${c.caseId}`,
    toAddress: letter.officer,
    subject: headerText(`${tag} ${sv ? 'Kvittens att skicka med post' : 'Acknowledgement to post'}: ${letter.name}`, 200),
    messageId: newMessageId(c.caseNumber, 'ackletter', config.firm.messageIdDomain),
    inReplyTo: letter.inReplyTo,
    references: letter.inReplyTo ? [letter.inReplyTo] : [],
    bodyText: text,
    bodyHtml: null,
  });
  if (id !== null)
    store.appendEvent({
      at: toInstant(now),
      caseId: c.caseId,
      outboxId: id,
      actor: 'system',
      type: 'acknowledgement-letter-queued',
      detail: { officer: letter.officer },
    });
  return id !== null;
}

/** Decide and queue the acknowledgement of a new complaint; true when one was queued. */
export function queueAcknowledgement(ctx: AcknowledgeDeps, c: FiledComplaint, quietImport: boolean, now: Date, afterRestore: string | null = null): boolean {
  const { store, config } = ctx;
  const at = toInstant(now);
  let acknowledgementQueued = false;
  const since = toInstant(new Date(now.getTime() - 24 * 3600_000));
  const hourAgo = toInstant(new Date(now.getTime() - 3600_000));
  const address = c.customer.address;
  // The loop guards count mailboxes, not spellings: support+t17@ and support+t18@ are one.
  const box = address ? mailboxOf(address) : null;
  const decision: ReturnType<typeof decideAcknowledgement> = quietImport
    ? { send: false, reason: 'imported old mail (received before import.acknowledgeAfter): not acknowledged' }
    : afterRestore
      ? { send: false, reason: `filed after a restore from a backup, not acknowledged (it may have been before): ${afterRestore}` }
      : decideAcknowledgement(
          c.customer,
          {
            toAddressLast24h: box ? store.countOutboxToMailbox(box.local, box.domain, since) : address ? store.countOutboxTo(address, since) : 0,
            domain: box?.domain ?? null,
            // A domain without a cap is not counted.
            toDomainLast24h:
              box && domainIsCapped(box.domain, config) ? store.countAcknowledgementsToDomain(box.domain, since, config.loop.maxPerDomainPer24h) : 0,
            acknowledgementsLastHour: ctx.hourlyAcknowledgements
              ? ctx.hourlyAcknowledgements.count(hourAgo, config.loop.maxAutomaticPerHour)
              : store.countAcknowledgementsSince(hourAgo, config.loop.maxAutomaticPerHour),
            forCaseLast24h: 0,
            failingUntil: address ? store.addressFailingUntil(address, at) : null,
          },
          config,
        );
  if (!decision.send && /loop\.maxAutomaticPerHour/.test(decision.reason)) {
    // Not one customer's matter: the whole desk stopped acknowledging. An operator must look.
    ctx.log.warn('hourly cap on acknowledgements reached (loop.maxAutomaticPerHour): this case is not acknowledged', { case: c.caseNumber });
  } else if (!decision.send && /loop\.maxPerDomainPer24h/.test(decision.reason) && box) {
    // A loop with a helpdesk, or a domain many customers share: the operator decides which.
    ctx.log.warn(
      'per-domain cap on acknowledgements reached (loop.maxPerDomainPer24h): this case is not acknowledged; if many customers use this domain, add it to loop.publicMailDomains',
      {
        case: c.caseNumber,
        domain: box.domain,
      },
    );
  }
  if (decision.send) {
    try {
      const outbox = buildAcknowledgement(acknowledgementInput(ctx, c, decision.to, decision.name, now), ctx.templates, config);
      const outboxId = store.enqueue(outbox);
      acknowledgementQueued = outboxId !== null;
      if (acknowledgementQueued) ctx.hourlyAcknowledgements?.queued();
      store.appendEvent({
        at,
        caseId: c.caseId,
        outboxId,
        actor: 'system',
        type: outboxId !== null ? 'acknowledgement-queued' : 'acknowledgement-suppressed',
        detail:
          outboxId !== null
            ? { messageId: outbox.messageId, language: c.language, template: 'acknowledgement', templateVersion: outbox.templateVersion }
            : { reason: 'an acknowledgement for this case exists already' },
      });
    } catch (err) {
      // A broken template must not lose the complaint: the case stays filed, the gap is on record.
      ctx.log.error('acknowledgement could not be rendered', { case: c.caseNumber, error: errorChain(err) });
      store.appendEvent({
        at,
        caseId: c.caseId,
        actor: 'system',
        type: 'acknowledgement-suppressed',
        detail: { reason: `template error: ${errorChain(err)}` },
      });
    }
  } else {
    store.appendEvent({ at, caseId: c.caseId, actor: 'system', type: 'acknowledgement-suppressed', detail: { reason: decision.reason } });
  }
  return acknowledgementQueued;
}
