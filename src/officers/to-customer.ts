/**
 * `#final` and `#ask`: the rest of the officer's mail goes to the customer, as the final answer
 * (in the final-answer frame, with the escalation paragraph) or as a request for more
 * information. Checked first (an address that works, enough words, a state the case can take),
 * then queued in the outbox, then the case takes its state (answered / awaiting-customer)
 * through its named transition. A final answer that needs approval (approval.finalAnswer) is
 * kept as a draft for the approvers instead (src/officers/approval.ts): nothing is queued to
 * the customer and the case keeps its state.
 */
import { pointNamed, pointsOfCase } from './reasons';
import type { Language } from '../config/config';
import type { CaseRow, Store } from '../store/store';
import type { CaseStatus } from '../cases/lifecycle';
import type { CommandContext, RunEnv } from './commands';
import { isoDate, parseIsoDate } from '../util/stockholm-time';
import { checkTransition, makeTransition, TRANSITIONS } from '../cases/transitions';
import { caseTag } from '../classify/thread';
import { buildMail } from '../reply/mail';
import { toInstant, Instant } from '../util/clock';
import { CommandError, CommandLine, FINAL_MIN_WORDS, Said, say, words } from './command-mail';
import { draftForApproval, finalNeedsApproval, replaceWaitingDraft } from './approval';
import { whyNotToAddress } from './customer-address';

/** Why the rest of this mail cannot go to the customer as `what`, or null when it can. */
export function whyNotToCustomer(store: Store, c: CaseRow, what: 'final' | 'ask', text: string, at: Instant): Said | null {
  const noAddress = whyNotToAddress(store, c, at);
  if (noAddress) return noAddress;
  if (what === 'final' && words(text) < FINAL_MIN_WORDS)
    return say(
      `the final answer is the text after the command lines; it needs at least ${FINAL_MIN_WORDS} words giving the reasons`,
      `det slutliga svaret är texten efter kommandoraderna; det behöver minst ${FINAL_MIN_WORDS} ord med skälen`,
    );
  if (what === 'ask' && words(text) === 0)
    return say('write the questions for the customer after the command lines', 'skriv frågorna till kunden efter kommandoraderna');
  return null;
}

/** The final answer or a request for more information, to the customer, from the rest of the mail. */
export function queueToCustomer(ctx: CommandContext, c: CaseRow, what: 'final' | 'ask', cmd: CommandLine, env: RunEnv): Said {
  const { store, config } = ctx;
  const why = whyNotToCustomer(store, c, what, env.rest, env.at);
  if (why) throw new CommandError(why);
  // Decided before anything is queued: the case must be able to take the state that follows.
  const transition = what === 'final' ? 'markAnswered' : 'awaitCustomer';
  const allowed = checkTransition(c, transition);
  if (!allowed.ok && allowed.code !== 'same-state') throw new CommandError(say(allowed.reason.en, allowed.reason.sv));
  const text = env.rest;
  let answerBy: Date | null = null;
  if (what === 'ask') {
    const date = cmd.args ? parseIsoDate(cmd.args) : null;
    if (cmd.args && !date)
      throw new CommandError(
        say(
          `'${cmd.args}' is not a date; write #ask or #ask YYYY-MM-DD (when the customer should answer by)`,
          `'${cmd.args}' är inget datum; skriv #ask eller #ask ÅÅÅÅ-MM-DD (när kunden senast ska svara)`,
        ),
      );
    answerBy = date ? new Date(`${isoDate(date)}T12:00:00Z`) : new Date(env.now.getTime() + 10 * 86_400_000);
    if (answerBy.getTime() <= env.now.getTime())
      throw new CommandError(
        say(
          `${cmd.args} has already passed: give a later date for the customer's answer`,
          `${cmd.args} har redan passerat: ange ett senare datum för kundens svar`,
        ),
      );
  }
  const language: Language = c.language === 'en' ? 'en' : 'sv';
  const customerMail = store.messagesOfCase(c.id)[0];
  const firm = { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress };
  const theCase = { number: c.number, tag: caseTag(c.number), receivedAt: new Date(c.received_at) };
  // ARN hears consumers' disputes: a business customer's answer names the courts only.
  const consumer = c.customer_type !== 'business';
  const customer = { name: c.customer_name, type: consumer ? 'consumer' : 'business' };
  const officer = { name: env.officer?.name ?? env.sender.name ?? '' };
  const outbox = buildMail(
    {
      kind: what === 'final' ? 'final-answer' : 'information-request',
      caseId: c.id,
      caseNumber: c.number,
      language,
      to: c.customer_address!, // whyNotToCustomer refused a case without one
      data:
        what === 'final'
          ? { firm, case: theCase, customer, answer: text, outcome: c.outcome ?? '', compensationSek: c.compensation_sek ?? 0, officer, consumer }
          : { firm, case: theCase, customer, questions: text, answerBy, officer },
      idempotencyKey: `${what === 'final' ? 'final-answer' : 'information-request'}:${c.id}:${env.inbound.id}`,
      inReplyTo: customerMail?.message_id ?? null,
      references: customerMail ? (JSON.parse(customerMail.refs) as string[]) : [],
      now: env.now,
      cc: c.representative_address,
    },
    ctx.templates,
    config,
  );
  if (what === 'final') {
    // Four eyes (approval.finalAnswer): a draft for the approvers instead of a mail to the customer.
    // `c` is the case as this mail's earlier commands left it; any outcome the mail names counts too.
    if (finalNeedsApproval(config, c, env.outcomesInMail)) {
      if (store.draftsOfCase(c.id).some((d) => d.inbound_id === env.inbound.id))
        throw new CommandError(say("this mail's final answer was kept as a draft already", 'det här mejlets slutliga svar är redan sparat som utkast'));
      return draftForApproval(ctx, c, outbox, text, env);
    }
    replaceWaitingDraft(store, c, env);
  }
  const id = store.enqueue(outbox);
  if (id === null)
    throw new CommandError(
      what === 'final'
        ? say("this mail's final answer was queued already", 'det här mejlets slutliga svar är redan köat')
        : say("this mail's questions were queued already", 'det här mejlets frågor är redan köade'),
    );
  const status: CaseStatus = TRANSITIONS[transition].to;
  store.appendEvent({
    at: env.at,
    caseId: c.id,
    outboxId: id,
    actor: env.actor,
    type: what === 'final' ? 'final-answer-queued' : 'information-requested',
    detail: {
      messageId: outbox.messageId,
      words: words(text),
      ...(answerBy ? { answerBy: toInstant(answerBy) } : {}),
      // Which of the complaint's own points the answer names (src/officers/reasons.ts), for #outcome's rule.
      ...(what === 'final' ? { namesPoint: pointNamed(text, pointsOfCase(store, c)) } : {}),
    },
  });
  if (c.status !== status) makeTransition(store, c, transition, env.actor, env.at);
  return what === 'final'
    ? say(
        `final answer queued to the customer (${words(text)} words, with the escalation paragraph); status ${status}`,
        `slutligt svar köat till kunden (${words(text)} ord, med stycket om var kunden kan få sin sak prövad); status ${status}`,
      )
    : say(`questions queued to the customer; status ${status}`, `frågor köade till kunden; status ${status}`);
}
