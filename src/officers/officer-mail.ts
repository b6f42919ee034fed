/**
 * What an officer's mail on a case does, once filing has recorded it as kind `officer`:
 *  - addressed to the customer (To or Cc; a reply with the complaints address in Cc, or one
 *    found in the shared mailbox's Sent folder): the officer answered the customer. An event,
 *    and the first one meets the first-answer milestone (and the acknowledgement, if no
 *    acknowledgement was sent yet);
 *  - addressed to us only: a command mail (src/officers/commands.ts) or an internal note.
 * And what a forged staff From does: an event on the case, and a notice to the manager.
 */
import type { ParsedMail } from '../parse/parse';
import type { CaseRow, Store } from '../store/store';
import type { Config } from '../config/config';
import { milestonesForOfficerAnswer } from '../cases/milestones';
import { toInstant } from '../util/clock';
import { CommandContext, parseCommandMail, runOfficerCommands } from './commands';
import { buildOfficerNotification, buildSpoofingNotice } from './notify';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';

export interface OfficerMailResult {
  readonly answeredCustomer: boolean;
  readonly commands: number;
  readonly errors: number;
}

export function handleOfficerMail(
  ctx: CommandContext,
  c: CaseRow,
  mail: ParsedMail,
  newText: string,
  /** `otherCaseInSubject`: the subject's tag names another case than the threading (classify.ts). */
  inbound: { id: number; fromSentFolder: boolean; otherCaseInSubject?: string | null },
  now: Date,
): OfficerMailResult {
  const { store } = ctx;
  const at = toInstant(now);
  const sender = mail.from?.address ?? ctx.config.firm.complaintsAddress;
  const recipients = [...mail.to, ...mail.cc].map((a) => a.address);
  const toCustomer = c.customer_address !== null && recipients.includes(c.customer_address);
  if (toCustomer) {
    store.appendEvent({
      at,
      caseId: c.id,
      inboundId: inbound.id,
      actor: `officer:${sender}`,
      type: 'officer-replied',
      detail: { messageId: mail.messageId, via: inbound.fromSentFolder ? 'the Sent folder of the shared mailbox' : 'a copy to the complaints address' },
    });
    milestonesForOfficerAnswer(store, c.id, at, mail.messageId);
    return { answeredCustomer: true, commands: 0, errors: 0 };
  }
  // A mail in the Sent folder went somewhere else (a colleague, a bank): on the case, nothing more.
  if (inbound.fromSentFolder) return { answeredCustomer: false, commands: 0, errors: 0 };
  const parsed = parseCommandMail(newText);
  const r = runOfficerCommands(
    ctx,
    c,
    { address: sender, name: mail.from?.name || null },
    parsed,
    {
      id: inbound.id,
      messageId: mail.messageId,
      references: [...mail.references, ...(mail.inReplyTo ? [mail.inReplyTo] : [])],
      otherCaseInSubject: inbound.otherCaseInSubject ?? null,
    },
    now,
  );
  return { answeredCustomer: false, commands: parsed.commands.length, errors: r.errors.length };
}

/** A staff From the firm's server did not vouch for: on the case, and the manager is told. */
export function recordSuspectedSpoofing(
  store: Store,
  config: Config,
  c: CaseRow | null,
  mail: ParsedMail,
  newText: string,
  reason: string,
  inboundId: number,
  now: Date,
): void {
  const at = toInstant(now);
  const commands = parseCommandMail(newText).commands;
  const commandsIgnored = commands.length;
  store.appendEvent({
    at,
    caseId: c?.id ?? null,
    inboundId,
    actor: 'system',
    type: 'spoofing-suspected',
    detail: { claimedFrom: mail.from?.address ?? null, reason, commandsIgnored },
  });
  // An approval in an unauthenticated mail decides nothing: the draft keeps waiting, and the
  // case says why its #approve / #return was refused.
  const decision = commands.find((x) => x.name === 'approve' || x.name === 'return');
  const waiting = c && decision ? store.pendingDraftOfCase(c.id) : undefined;
  if (c && decision)
    store.appendEvent({
      at,
      caseId: c.id,
      inboundId,
      actor: 'system',
      type: 'approval-refused',
      detail: {
        command: `#${decision.name}`,
        claimedFrom: mail.from?.address ?? null,
        draft: waiting?.id ?? null,
        reason: `the sender was not authenticated: ${reason}`,
      },
    });
  const notice = buildSpoofingNotice(config, {
    caseNumber: c?.number ?? null,
    claimedFrom: mail.from?.address ?? '?',
    reason,
    inboundId,
    commandsIgnored,
    now,
  });
  if (notice) store.enqueue({ ...notice, caseId: c?.id ?? null });
}

/** The contact person's notification of a new case; a broken template must not lose the case. */
export function notifyContactOfNewCase(ctx: CommandContext & { log: Logger }, c: CaseRow, now: Date): void {
  const officer = ctx.config.officers.find((o) => o.address === c.contact_officer);
  if (!officer) return;
  try {
    const id = ctx.store.enqueue(buildOfficerNotification(ctx.store, ctx.config, ctx.templates, c, officer, 'new-case', now));
    if (id !== null)
      ctx.store.appendEvent({
        at: toInstant(now),
        caseId: c.id,
        outboxId: id,
        actor: 'system',
        type: 'officer-notified',
        detail: { officer: officer.address },
      });
  } catch (err) {
    ctx.log.error('officer notification could not be rendered', { case: c.number, error: errorChain(err) });
  }
}
