/**
 * Four eyes on final answers (approval.finalAnswer). A final answer is the firm's legal position
 * towards the customer, and a rejection is what ends up at ARN or in court: an officer's
 * `#final` that needs approval is kept as a draft, rendered exactly as the customer would get
 * it, and nothing goes to the customer. Every approver other than the author gets an
 * `approval-request` mail with that answer, the case's facts, the outcome and the deadline. An
 * approver answers it with `#approve` (that very mail is queued; the case takes `answered`) or
 * `#return REASON` (back to the author); a new `#final` replaces a waiting draft.
 *
 * Which draft an approver decides on is read from the reply's threading headers (the approval
 * request it answers), else from `#approve N`, else the case's waiting draft: so a reply to the
 * request of a replaced draft is refused, never taken for the newer one.
 *
 * The draft's states are transitions of src/cases/transitions.ts, each with its event.
 */
import { answeredOutside, pointNamed, pointsOfCase, whyOutcomeRefused } from './reasons';
import type { Config, Language, Officer } from '../config/config';
import type { CaseOutcome } from '../cases/lifecycle';
import type { CaseRow, FinalAnswerDraftRow, NewOutbox, Store } from '../store/store';
import type { CommandContext, RunEnv } from './commands';
import type { TemplateRenderer } from '../reply/templates';
import { approveDraft, checkDraftDecision, replaceDraft, returnDraft, submitDraft } from '../cases/transitions';
import type { OutcomeSupport } from '../cases/transitions';
import { buildMail } from '../reply/mail';
import { caseTag } from '../classify/thread';
import { maskPersonnummer } from '../util/personnummer';
import { CommandError, CommandLine, Said, say, words } from './command-mail';
import { fieldLines, officerByAddress, officerLanguage, staffCaseData } from './notify';
import { whyNotToAddress } from './customer-address';

/** Whether a final answer on a case with this outcome needs approval (pure). */
export function finalAnswerNeedsApproval(config: Config, outcome: CaseOutcome | null): boolean {
  const scope = config.approval.finalAnswer;
  if (scope === 'all') return true;
  if (scope === 'rejections') return outcome === 'rejected' || outcome === 'partly-upheld';
  return false;
}

/**
 * Whether a mail's `#final` needs approval (pure), strictly: by the case's outcome as it stands
 * when `#final` runs (after the mail's other commands), and by every outcome the mail's
 * `#outcome` lines name, refused or not. "#outcome upheld / #outcome rejected / #final" and
 * "#outcome rejected / #outcome upheld / #final" both need it.
 */
export function finalNeedsApproval(config: Config, c: Pick<CaseRow, 'outcome'>, outcomesInMail: readonly CaseOutcome[]): boolean {
  return finalAnswerNeedsApproval(config, c.outcome) || outcomesInMail.some((o) => finalAnswerNeedsApproval(config, o));
}

/**
 * The rule a case's outcome must still meet when it is closed (OutcomeSupport of
 * src/cases/transitions.ts), for an outcome whose final answer needs approval: what can have
 * changed since `#outcome` accepted it. The case still has its reasoned, written answer (the
 * rule of `#outcome` without its approval part, src/officers/reasons.ts: an answer sent and not
 * failed, or one given outside klagomal with #reasons), and no approver returned a draft after
 * the last answer sent: after a returned rejection the customer has no approved answer, and the
 * case is not closed as rejected. Approval itself is not asked again: an answer sent before four
 * eyes applied (approval.finalAnswer "none", or no manager yet) still stands; `#outcome` keeps
 * asking for it when a rejection is set.
 */
export function outcomeSupport(store: Store, config: Config): OutcomeSupport {
  return (c) => {
    if (!c.outcome || !finalAnswerNeedsApproval(config, c.outcome)) return null;
    if (c.outcome !== 'rejected' && c.outcome !== 'partly-upheld') return null;
    const unanswered = whyOutcomeRefused(store, c, c.outcome, false, false, '');
    const why = unanswered ?? whyReturned(store, c);
    if (!why) return null;
    // The answer failed for good (an address that bounces): say how the case is answered and closed then.
    const failed =
      unanswered && !answeredOutside(store, c.id) ? store.outboxOfCase(c.id).find((o) => o.kind === 'final-answer' && o.status === 'failed') : undefined;
    const letter = failed
      ? say(
          `; the final answer of outbox ${failed.id} failed to send: answer the customer another way (a letter), record it with klagomal case met ${c.number} finalAnswer, confirm its reasons with #reasons SUMMARY, then close`,
          `; det slutliga svaret i utkorgen ${failed.id} kunde inte skickas: svara kunden på annat sätt (brev), registrera det med klagomal case met ${c.number} finalAnswer, bekräfta skälen med #reasons SAMMANFATTNING och stäng sedan`,
        )
      : say('', '');
    return {
      en: `${c.number} cannot be closed as '${c.outcome}': ${why.en}${letter.en}`,
      sv: `${c.number} kan inte stängas med utfallet '${c.outcome}': ${why.sv}${letter.sv}`,
    };
  };
}

/**
 * Why a rejection's outcome no longer stands because an approver returned its answer: the
 * case's latest draft was returned after the last final answer sent (not failed), or none was
 * sent. The order is the events': a draft and an answer of one minute are told apart.
 */
function whyReturned(store: Store, c: CaseRow): Said | null {
  const drafts = store.draftsOfCase(c.id);
  const last = drafts[drafts.length - 1];
  if (!last || last.state !== 'returned') return null;
  const sent = new Set(store.outboxOfCase(c.id).flatMap((o) => (o.kind === 'final-answer' && o.status !== 'failed' ? [o.id] : [])));
  const events = store.eventsOfCase(c.id);
  const lastSent = events.filter((e) => e.type === 'final-answer-queued' && e.outbox_id !== null && sent.has(e.outbox_id)).pop();
  const drafted = events.find((e) => e.type === 'final-answer-drafted' && draftOfEvent(e.detail) === last.id);
  // A draft whose event lost its detail (retention) is taken as the newer: refused rather than passed.
  if (lastSent && drafted && drafted.id < lastSent.id) return null;
  return say(
    `${last.decided_by ?? 'an approver'} returned the final answer of draft ${last.id}, written after the last answer sent to the customer: write a new #final, which goes for approval`,
    `${last.decided_by ?? 'en godkännare'} skickade tillbaka det slutliga svaret i utkast ${last.id}, skrivet efter det senaste svaret till kunden: skriv ett nytt #final, som går till godkännande`,
  );
}

function draftOfEvent(detail: string): number | null {
  try {
    const d = (JSON.parse(detail) as { draft?: unknown }).draft;
    return typeof d === 'number' ? d : null;
  } catch {
    return null;
  }
}

/** The approvers who may decide on `author`'s answer: never the author. */
export function approversFor(config: Config, author: string): string[] {
  return config.approval.approvers.filter((a) => a !== author);
}

/**
 * Keep a rendered final answer as a draft and ask the approvers: called by `#final` instead of
 * queueing `answer` when finalAnswerNeedsApproval. Refused when nobody but the author may approve.
 */
export function draftForApproval(ctx: CommandContext, c: CaseRow, answer: NewOutbox, text: string, env: RunEnv): Said {
  const { store, config } = ctx;
  const author = env.sender.address;
  const approvers = approversFor(config, author);
  if (approvers.length === 0)
    throw new CommandError(
      say(
        `this final answer needs approval (approval.finalAnswer "${config.approval.finalAnswer}") and nobody but you may approve it (approval.approvers: ${config.approval.approvers.join(', ')}): ask the admin to add an approver`,
        `det här slutliga svaret behöver godkännas (approval.finalAnswer "${config.approval.finalAnswer}") och ingen annan än du får godkänna det (approval.approvers: ${config.approval.approvers.join(', ')}): be administratören lägga till en godkännare`,
      ),
    );
  const n = words(text);
  const namesPoint = pointNamed(text, pointsOfCase(store, c));
  const { id, replaced } = submitDraft(store, c, { author, inboundId: env.inbound.id, words: n, mail: answer, approvers, namesPoint }, env.actor, env.at);
  const draft = store.draftById(id)!;
  for (const address of approvers) {
    const officer = officerByAddress(config, address);
    const outboxId = store.enqueue(approvalRequest(store, config, ctx.templates, c, draft, answer, officer, address, replaced, env.now));
    if (outboxId !== null)
      store.appendEvent({ at: env.at, caseId: c.id, outboxId, actor: 'system', type: 'approval-requested', detail: { draft: id, approver: address } });
  }
  return say(
    `final answer kept as draft ${id} for approval (${n} words): sent to ${approvers.join(', ')}; nothing goes to the customer until one of them approves it${replaced ? `; replaces draft ${replaced}` : ''}`,
    `slutligt svar sparat som utkast ${id} för godkännande (${n} ord): skickat till ${approvers.join(', ')}; inget går till kunden förrän någon av dem godkänner det${replaced ? `; ersätter utkast ${replaced}` : ''}`,
  );
}

/** A `#final` that needs no approval is sent; a draft still waiting on the case is replaced by it. */
export function replaceWaitingDraft(store: Store, c: CaseRow, env: RunEnv): number | null {
  const waiting = store.pendingDraftOfCase(c.id);
  if (!waiting) return null;
  replaceDraft(store, c, waiting, env.sender.address, env.actor, env.at);
  return waiting.id;
}

function approvalRequest(
  store: Store,
  config: Config,
  templates: TemplateRenderer,
  c: CaseRow,
  draft: FinalAnswerDraftRow,
  answer: NewOutbox,
  officer: Officer | undefined,
  address: string,
  replaced: number | null,
  now: Date,
): NewOutbox {
  const lang: Language = officerLanguage(officer, config);
  const due = store.deadline(c.id, 'finalAnswer');
  const author = officerByAddress(config, draft.author);
  return buildMail(
    {
      kind: 'approval-request',
      caseId: c.id,
      caseNumber: c.number,
      language: lang,
      to: address,
      data: {
        firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
        case: staffCaseData(c),
        recipient: { name: officer?.name ?? null },
        draft: {
          id: draft.id,
          author: draft.author,
          authorName: author?.name ?? draft.author,
          draftedAt: new Date(draft.drafted_at),
          words: draft.words,
          replaces: replaced,
        },
        outcome: c.outcome ?? '',
        compensationSek: c.compensation_sek ?? 0,
        finalAnswerDueAt: due && !due.not_applicable ? new Date(due.due_at) : null,
        fields: fieldLines(c.fields, lang),
        // Exactly the mail the customer would get: its rendered subject and text part.
        answer: { to: answer.toAddress, subject: answer.subject, text: answer.bodyText },
      },
      idempotencyKey: `approval-request:${draft.id}:${address}`,
      now,
    },
    templates,
    config,
  );
}

/**
 * The draft an approver's `#approve` / `#return` is about: the approval request the mail
 * answers (threading headers), else `#approve N`, else the case's waiting draft.
 */
function draftMeant(store: Store, c: CaseRow, cmd: CommandLine, env: RunEnv): FinalAnswerDraftRow {
  const byThread = store.draftOfApprovalRequest(c.id, env.inbound.references ?? []);
  if (byThread) return byThread;
  const n = cmd.name === 'approve' ? /^(\d+)\b/.exec(cmd.args)?.[1] : undefined;
  if (n) {
    const d = store.draftById(Number(n));
    if (!d || d.case_id !== c.id) throw new CommandError(say(`${c.number} has no draft ${n}`, `${c.number} har inget utkast ${n}`));
    return d;
  }
  const waiting = store.pendingDraftOfCase(c.id);
  if (!waiting) throw new CommandError(say(`no final answer waits for approval on ${c.number}`, `inget slutligt svar väntar på godkännande i ${c.number}`));
  return waiting;
}

/** `#approve`: the draft's very mail goes to the customer; the case takes `answered`. */
export function approveCommand(ctx: CommandContext, c: CaseRow, cmd: CommandLine, env: RunEnv): Said {
  const { store, config } = ctx;
  const d = draftMeant(store, c, cmd, env);
  const by = env.sender.address;
  const check = checkDraftDecision(d, by, config.approval.approvers);
  if (!check.ok) throw new CommandError(say(check.reason.en, check.reason.sv));
  // The customer's address may have started bouncing since the draft was written.
  const why = whyNotToAddress(store, c, env.at);
  if (why) throw new CommandError(why);
  // Dated when it goes, otherwise exactly what the approver saw.
  const mail = { ...(JSON.parse(d.mail) as NewOutbox), dateHeader: env.at, createdAt: env.at };
  const outboxId = store.enqueue(mail);
  if (outboxId === null) throw new CommandError(say(`draft ${d.id} was queued already`, `utkast ${d.id} är redan köat`));
  const r = approveDraft(store, c, d, by, config.approval.approvers, outboxId, env.actor, env.at);
  if (!r.ok) throw new CommandError(say(r.reason.en, r.reason.sv));
  store.appendEvent({
    at: env.at,
    caseId: c.id,
    outboxId,
    actor: env.actor,
    type: 'final-answer-queued',
    detail: { messageId: mail.messageId, words: d.words, draft: d.id, author: d.author },
  });
  tellAuthor(
    ctx,
    c,
    d,
    env,
    say(
      `your final answer (draft ${d.id}) was approved by ${by} and is queued to the customer`,
      `ditt slutliga svar (utkast ${d.id}) har godkänts av ${by} och är köat till kunden`,
    ),
    cmd,
  );
  return say(
    `draft ${d.id} by ${d.author} approved: the final answer is queued to the customer; status answered`,
    `utkast ${d.id} av ${d.author} godkänt: det slutliga svaret är köat till kunden; status answered`,
  );
}

/** `#return REASON`: back to the author with the reason; the draft stays in the history. */
export function returnCommand(ctx: CommandContext, c: CaseRow, cmd: CommandLine, env: RunEnv): Said {
  const { store, config } = ctx;
  const reason = maskPersonnummer(cmd.args.replace(/\s+/g, ' ').trim(), env.now);
  if (reason.length < 5)
    throw new CommandError(
      say(
        '#return needs the reason on the same line, e.g. #return the answer must say which price list applied',
        '#return behöver skälet på samma rad, t.ex. #return svaret måste säga vilken prislista som gällde',
      ),
    );
  const d = draftMeant(store, c, cmd, env);
  const by = env.sender.address;
  const r = returnDraft(store, c, d, by, config.approval.approvers, reason, env.actor, env.at);
  if (!r.ok) throw new CommandError(say(r.reason.en, r.reason.sv));
  tellAuthor(
    ctx,
    c,
    d,
    env,
    say(
      `your final answer (draft ${d.id}) was returned by ${by}: ${reason}. Nothing was sent to the customer; write a new #final`,
      `ditt slutliga svar (utkast ${d.id}) har skickats tillbaka av ${by}: ${reason}. Inget har skickats till kunden; skriv ett nytt #final`,
    ),
    cmd,
  );
  return say(`draft ${d.id} returned to ${d.author}: ${reason}`, `utkast ${d.id} tillbaka till ${d.author}: ${reason}`);
}

/** The author learns what became of their draft (the command-result kind, in their language). */
function tellAuthor(ctx: CommandContext, c: CaseRow, d: FinalAnswerDraftRow, env: RunEnv, what: Said, cmd: CommandLine): void {
  const officer = officerByAddress(ctx.config, d.author);
  const lang = officerLanguage(officer, ctx.config);
  ctx.store.enqueue(
    buildMail(
      {
        kind: 'officer-command-result',
        caseId: c.id,
        caseNumber: c.number,
        language: lang,
        to: d.author,
        data: {
          firm: { name: ctx.config.firm.name, complaintsAddress: ctx.config.firm.complaintsAddress },
          case: { number: c.number, tag: caseTag(c.number) },
          recipient: { name: officer?.name ?? d.author },
          done: [{ line: maskPersonnummer(cmd.line, env.now), result: what[lang] }],
          errors: [],
          hasErrors: false,
          note: null,
        },
        idempotencyKey: `approval-decision:${d.id}:${env.inbound.id}`,
        now: env.now,
      },
      ctx.templates,
      ctx.config,
    ),
  );
}
