/**
 * Officers steer a case by mail. A mail to the complaints address on a case thread (the case tag
 * in the subject; a reply to the notification will do) from an authenticated officer, not
 * addressed to the customer: the lines at the start of its new text that begin with `#` are
 * commands (carried out only for configured officers), the rest is an internal note (or, with
 * #final / #ask, the text for the customer).
 *
 *   #assign ADDRESS                 the contact person (a configured officer; notified)
 *   #status STATUS                  in-progress | awaiting-customer | answered | closed (closing needs an outcome)
 *   #outcome OUTCOME                upheld | partly-upheld | rejected | withdrawn
 *   #extend YYYY-MM-DD REASON       a new last day for the final answer; the customer gets a delay notice
 *   #holding YYYY-MM-DD REASON      PSD2 holding reply: the same, within the 35-business-day limit
 *   #category ID                    the complaint's category (deadlines of the new category apply when stricter)
 *   #compensation AMOUNT            compensation paid, in SEK
 *   #note TEXT                      an internal note
 *   #related KLG-2026-000017        relate another case (both ways)
 *   #assessment ITEM [yes|no]       the firm's checklist (ASSESSMENT_ITEMS)
 *   #final                          the rest of the mail is the final answer: sent to the customer in the
 *                                   final-answer frame, with the escalation paragraph (ARN, KB&F, court)
 *   #ask [YYYY-MM-DD]               the rest of the mail is a request for more information to the customer
 *   #hold REASON                    legal hold: retention leaves the case alone (src/retention/legal-hold.ts)
 *   #release                        lift the legal hold
 *   #customer, #representative, #product, #inadmissible, #reasons, #arn, #court, #cause,
 *   #action, #paid, #first-contact  the register of record: src/officers/record-commands.ts
 *   #approve [N]                    an approver approves the final answer waiting (draft N): it goes to the customer
 *   #return REASON                  an approver returns the waiting final answer to its author (src/officers/approval.ts)
 *
 * A reasoned answer (the firm must give one in writing when a complaint is judged unfounded):
 * `#outcome rejected` or `partly-upheld` is refused unless the case has a final answer sent or
 * queued through `#final` (at least FINAL_MIN_WORDS words), or the same mail carries one. The
 * frame adds the escalation paragraph, so the answer the customer gets always has it.
 *
 * A mail threaded on this case whose subject's tag names another case (classify.ts
 * otherCaseInSubject): which case its commands were meant for is in doubt, so every command but
 * #note (IN_DOUBT_COMMANDS) is refused: none changes the case's state or record, nothing goes
 * to a customer; the note is recorded here.
 *
 * Each command runs on its own (a savepoint): a wrong line is reported and the others still
 * run. The officer gets one confirmation listing what was done and every error with its line,
 * what was wrong and what is allowed, in the officer's language (officers[].languages, first
 * entry; the same as the template the confirmation is written in). Every command is an event
 * on the case with who sent it; the event keeps the English text (the audit trail's language).
 */
import type { Config, Language, Officer } from '../config/config';
import type { CaseRow, Regime, Store } from '../store/store';
import type { TemplateRenderer } from '../reply/templates';
import type { BusinessCalendar } from '../deadlines/calendar';
import type { Calendars } from '../deadlines/deadlines';
import { parseIsoDate } from '../util/stockholm-time';
import { policiesFor } from '../deadlines/deadlines';
import { applyPolicies, recountOnReopen, setRegime } from '../cases/regime';
import { formatStockholm } from '../util/stockholm-time';
import { CASE_OUTCOMES, CaseOutcome, CaseStatus } from '../cases/lifecycle';
import { makeTransition, reopen, SETTABLE_STATUSES, transitionTo } from '../cases/transitions';
import { extendDeadline, ExtensionRefused } from '../cases/extend';
import { caseTag } from '../classify/thread';
import { buildMail } from '../reply/mail';
import { maskPersonnummer } from '../util/personnummer';
import { toInstant, Instant } from '../util/clock';
import { buildOfficerNotification, officerByAddress, officerLanguage } from './notify';
import {
  allowed,
  ASSESSMENT_ITEMS,
  caseInDoubt,
  CommandError,
  CommandLine,
  CommandMail,
  CommandName,
  didYouMean,
  IN_DOUBT_COMMANDS,
  KNOWN_COMMANDS,
  LegalHoldCommandName,
  oneOf,
  parseSek,
  refusal,
  Said,
  say,
} from './command-mail';
import { queueToCustomer, whyNotToCustomer } from './to-customer';
import { RECORD_COMMAND_NAMES, RECORD_ON_CLOSED, runRecordCommand } from './record-commands';
import { whyOutcomeRefused } from './reasons';
export { hasReasonedAnswer } from './reasons';
import { approveCommand, approversFor, finalAnswerNeedsApproval, finalNeedsApproval, outcomeSupport, returnCommand } from './approval';

export { ASSESSMENT_ITEMS, COMMAND_NAMES, FINAL_MIN_WORDS, LEGAL_HOLD_COMMAND_NAMES, parseCommandMail, parseSek } from './command-mail';
export type { CommandLine, CommandMail, CommandName, LegalHoldCommandName, Said } from './command-mail';
import { holdCase, LegalHoldRefused, releaseCase } from '../retention/legal-hold';

export interface CommandContext {
  readonly store: Store;
  readonly config: Config;
  readonly templates: TemplateRenderer;
  readonly calendar: BusinessCalendar;
  readonly calendars: Calendars;
}

/** What the commands did, in English as the events record it (the officer's confirmation is in their language). */
export interface CommandOutcome {
  readonly done: ReadonlyArray<{ line: string; result: string }>;
  readonly errors: ReadonlyArray<{ lineNumber: number; line: string; problem: string }>;
  /** The internal note recorded (masked), if the rest of the mail was one. */
  readonly note: string | null;
}

/**
 * Carry out an officer's command mail on a case; queue the confirmation to the officer.
 * Call inside the filing transaction.
 */
export function runOfficerCommands(
  ctx: CommandContext,
  c: CaseRow,
  sender: { address: string; name: string | null },
  mail: CommandMail,
  inbound: { id: number; messageId: string | null; references?: readonly string[]; otherCaseInSubject?: string | null },
  now: Date,
): CommandOutcome {
  const { store, config } = ctx;
  const at = toInstant(now);
  const officer = officerByAddress(config, sender.address);
  // The confirmation's language: its template's, and that of every result and error in it.
  const lang: Language = officerLanguage(officer, config);
  const actor = `officer:${sender.address}` as const;
  const mask = (s: string): string => maskPersonnummer(s, now);
  // The outcome keeps the English (as the events do); the confirmation is in the officer's language.
  const done: Array<{ line: string; result: string }> = [];
  const errors: Array<{ lineNumber: number; line: string; problem: string }> = [];
  const toldDone: Array<{ line: string; result: string }> = [];
  const toldErrors: Array<{ lineNumber: number; line: string; problem: string }> = [];
  const rest = mask(mail.rest);
  const ask = mail.commands.find((x) => x.name === 'ask');
  const final = mail.commands.find((x) => x.name === 'final');
  // This mail's #final counts for #outcome only if it will be sent: checked as #final checks.
  // A rejection's #final that nobody but its author may approve is refused too (four eyes).
  // Every #outcome line counts, not only the first: "#outcome upheld / #outcome rejected" is a rejection.
  const outcomesInMail = mail.commands
    .filter((x) => x.name === 'outcome')
    .map((x) => x.args.trim().toLowerCase() as CaseOutcome)
    .filter((x) => CASE_OUTCOMES.includes(x));
  const noApprover = finalNeedsApproval(config, c, outcomesInMail) && approversFor(config, sender.address).length === 0;
  // Threaded on this case, its subject naming another: only a note is recorded (caseInDoubt).
  const inDoubt = inbound.otherCaseInSubject ?? null;
  const finalInMail = final !== undefined && ask === undefined && !noApprover && !inDoubt && whyNotToCustomer(store, c, 'final', rest, at) === null;

  // The mails to the customer go after the other commands, so that they carry this mail's
  // outcome and compensation; `#status` goes after them, so that "#final … #status closed" (or
  // the other way round) sends the answer and then closes: a case is never closed with the
  // final answer of the same mail refused for being closed.
  const toCustomer = final !== undefined || ask !== undefined;
  // #reasons before #outcome, so that "#outcome rejected / #reasons ..." in one mail counts the reasons.
  const rank = (n: string): number => (n === 'reasons' ? -1 : n === 'final' || n === 'ask' ? 1 : n === 'status' && toCustomer ? 2 : 0);
  const order = [...mail.commands].sort((a, b) => rank(a.name) - rank(b.name));
  const seen = new Set<string>();
  for (const cmd of order) {
    try {
      // Commands are for the configured officers, not for everyone with a staff address.
      if (!officer)
        throw new CommandError(
          say(
            `${sender.address} is not a configured officer (config "officers"): commands are not carried out`,
            `${sender.address} är inte en konfigurerad handläggare (config "officers"): kommandona utförs inte`,
          ),
        );
      if (inDoubt && KNOWN_COMMANDS.includes(cmd.name) && !IN_DOUBT_COMMANDS.includes(cmd.name))
        throw new CommandError(caseInDoubt(c.number, inDoubt, cmd.name));
      if ((cmd.name === 'final' || cmd.name === 'ask') && seen.has(cmd.name))
        throw new CommandError(say(`only one #${cmd.name} per mail`, `bara ett #${cmd.name} per mejl`));
      if ((cmd.name === 'final' && ask) || (cmd.name === 'ask' && final))
        throw new CommandError(
          say(
            '#final and #ask in one mail: send the answer and the questions separately',
            '#final och #ask i samma mejl: skicka svaret och frågorna var för sig',
          ),
        );
      seen.add(cmd.name);
      const result = store.tx(() => {
        const current = store.caseById(c.id)!;
        const r = runOne(ctx, current, cmd, { actor, sender, officer, rest, finalInMail, outcomesInMail, inbound, now, at });
        store.appendEvent({ at, caseId: c.id, inboundId: inbound.id, actor, type: 'officer-command', detail: { command: mask(cmd.line), result: r.en } });
        return r;
      });
      done.push({ line: mask(cmd.line), result: result.en });
      toldDone.push({ line: mask(cmd.line), result: result[lang] });
    } catch (err) {
      if (!(err instanceof CommandError || err instanceof ExtensionRefused || err instanceof LegalHoldRefused)) throw err;
      // A refusal may have revealed what must be on record even so (a PSD2 breach), outside the
      // refused command's rolled-back savepoint.
      if (err instanceof ExtensionRefused) err.persist?.();
      // The problem may repeat what the officer wrote: masked like the line itself.
      const said = refusal(err);
      const problem = mask(said.en);
      errors.push({ lineNumber: cmd.lineNumber, line: mask(cmd.line), problem });
      toldErrors.push({ lineNumber: cmd.lineNumber, line: mask(cmd.line), problem: mask(said[lang]) });
      store.appendEvent({
        at,
        caseId: c.id,
        inboundId: inbound.id,
        actor,
        type: 'officer-command-refused',
        detail: { command: mask(cmd.line), line: cmd.lineNumber, problem },
      });
    }
  }
  const note = !final && !ask && rest ? rest : null;
  if (note) store.appendEvent({ at, caseId: c.id, inboundId: inbound.id, actor, type: 'note-added', detail: { text: note } });

  if (mail.commands.length > 0) {
    store.enqueue(
      buildMail(
        {
          kind: 'officer-command-result',
          caseId: c.id,
          caseNumber: c.number,
          language: lang,
          to: sender.address,
          data: {
            firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
            case: { number: c.number, tag: caseTag(c.number) },
            recipient: { name: officer?.name ?? sender.name ?? sender.address },
            done: toldDone,
            errors: toldErrors,
            hasErrors: errors.length > 0,
            note,
          },
          idempotencyKey: `officer-command-result:${inbound.id}`,
          inReplyTo: inbound.messageId,
          now,
        },
        ctx.templates,
        config,
      ),
    );
  }
  return { done, errors, note };
}

export interface RunEnv {
  readonly actor: `officer:${string}`;
  readonly sender: { address: string; name: string | null };
  readonly officer: Officer | undefined;
  readonly rest: string;
  readonly finalInMail: boolean;
  /**
   * The outcomes this mail's #outcome lines name, each of them, even when a line was refused: a
   * #final written as a rejection needs approval whether or not its #outcome line went through
   * (finalNeedsApproval).
   */
  readonly outcomesInMail: readonly CaseOutcome[];
  /** The officer's mail; `references` its In-Reply-To and References (which approval request it answers). */
  readonly inbound: { id: number; messageId: string | null; references?: readonly string[] };
  readonly now: Date;
  readonly at: Instant;
}

function runOne(ctx: CommandContext, c: CaseRow, cmd: CommandLine, env: RunEnv): Said {
  const { store, config } = ctx;
  if (!KNOWN_COMMANDS.includes(cmd.name)) {
    const guess = didYouMean(cmd.name, KNOWN_COMMANDS, '#');
    const list = KNOWN_COMMANDS.map((n) => `#${n}`).join(', ');
    throw new CommandError(say(`unknown command '#${cmd.name}'${guess.en}; commands: ${list}`, `okänt kommando '#${cmd.name}'${guess.sv}; kommandon: ${list}`));
  }
  const name = cmd.name as CommandName | LegalHoldCommandName;
  if (c.status === 'closed' && !['status', 'note', 'related', 'assessment', 'hold', 'release', 'reopen', ...RECORD_ON_CLOSED].includes(name))
    throw new CommandError(
      say(`${c.number} is closed; reopen it first with #reopen and the reason`, `${c.number} är stängt; öppna det först med #reopen och skälet`),
    );

  // The register of record's facts (customer type, product, ARN, causes, ...): src/officers/record-commands.ts.
  if ((RECORD_COMMAND_NAMES as readonly string[]).includes(name)) return runRecordCommand(ctx, c, cmd, env);
  switch (name) {
    case 'assign': {
      const address = (/[^\s<>]+@[^\s<>]+/.exec(cmd.args)?.[0] ?? '').toLowerCase();
      const example = config.officers[0]?.address ?? 'anna@firma.se';
      if (!address)
        throw new CommandError(say(`an officer's address is needed, e.g. #assign ${example}`, `en handläggares adress behövs, t.ex. #assign ${example}`));
      const to = officerByAddress(config, address);
      if (!to) {
        const ok = allowed(config.officers.map((o) => o.address));
        throw new CommandError(say(`${address} is not a configured officer; ${ok.en}`, `${address} är inte en konfigurerad handläggare; ${ok.sv}`));
      }
      if (!to.available)
        throw new CommandError(say(`${to.name} is marked unavailable in the config`, `${to.name} är markerad som inte tillgänglig i konfigurationen`));
      if (c.contact_officer === to.address) return say(`${to.name} is already the contact person`, `${to.name} är redan kontaktperson`);
      store.updateCase(c.id, { contactOfficer: to.address }, env.at);
      store.appendEvent({
        at: env.at,
        caseId: c.id,
        actor: env.actor,
        type: 'contact-assigned',
        detail: { officer: to.address, name: to.name, rule: 'by officer', previous: c.contact_officer },
      });
      const id = store.enqueue(buildOfficerNotification(store, config, ctx.templates, store.caseById(c.id)!, to, `assigned-${env.inbound.id}`, env.now));
      if (id !== null)
        store.appendEvent({ at: env.at, caseId: c.id, outboxId: id, actor: 'system', type: 'officer-notified', detail: { officer: to.address } });
      return say(
        `contact person: ${c.contact_officer ?? 'none'} -> ${to.address} (notified)`,
        `kontaktperson: ${c.contact_officer ?? 'ingen'} -> ${to.address} (underrättad)`,
      );
    }
    case 'status': {
      // Only the states a named transition leads to (src/cases/transitions.ts): never `new`.
      const status = oneOf<CaseStatus>(cmd.args, SETTABLE_STATUSES, { en: 'status', sv: 'status' });
      // Closing: the outcome must still stand (a returned rejection draft leaves it without its answer).
      const r = makeTransition(store, c, transitionTo(status)!, env.actor, env.at, outcomeSupport(store, config));
      if (!r.ok) {
        if (r.code === 'same-state') return say(r.reason.en, r.reason.sv);
        throw new CommandError(say(r.reason.en, r.reason.sv));
      }
      return say(`status: ${r.from} -> ${r.to}`, `status: ${r.from} -> ${r.to}`);
    }
    case 'reopen': {
      const reason = maskPersonnummer(cmd.args.replace(/\s+/g, ' ').trim(), env.now);
      if (reason.length < 5)
        throw new CommandError(
          say(
            '#reopen needs the reason on the same line, e.g. #reopen the customer is not satisfied and has sent new documents',
            '#reopen behöver skälet på samma rad, t.ex. #reopen kunden är inte nöjd och har skickat nya underlag',
          ),
        );
      const r = reopen(store, c, reason, env.actor, env.at);
      if (!r.ok) throw new CommandError(say(r.reason.en, r.reason.sv));
      // The final answer is owed again: its deadline counted anew from now (src/cases/regime.ts).
      const recounted = recountOnReopen(ctx, store.caseById(c.id)!, env.actor, env.at);
      return say(
        `reopened: ${r.from} -> ${r.to} (${reason})${recounted.map((x) => `; ${x.en}`).join('')}`,
        `öppnat igen: ${r.from} -> ${r.to} (${reason})${recounted.map((x) => `; ${x.sv}`).join('')}`,
      );
    }
    case 'outcome': {
      const outcome = oneOf<CaseOutcome>(cmd.args, CASE_OUTCOMES, { en: 'outcome', sv: 'utfall', svNeuter: true });
      // A rejection needs its reasoned answer, approved where four eyes apply (src/officers/reasons.ts).
      const refused = whyOutcomeRefused(store, c, outcome, finalAnswerNeedsApproval(config, outcome), env.finalInMail, env.rest);
      if (refused) throw new CommandError(refused);
      store.updateCase(c.id, { outcome, decidedBy: env.sender.address }, env.at);
      store.appendEvent({ at: env.at, caseId: c.id, actor: env.actor, type: 'outcome-set', detail: { outcome, previous: c.outcome } });
      return say(`outcome: ${outcome}`, `utfall: ${outcome}`);
    }
    case 'extend':
    case 'holding': {
      const m = /^(\d{4}-\d{2}-\d{2})\s+(.+)$/s.exec(cmd.args);
      const date = m ? parseIsoDate(m[1]) : null;
      if (!m || !date)
        throw new CommandError(
          say(
            `write #${name} YYYY-MM-DD and the reason the customer is told, e.g. #${name} 2026-12-20 Vi väntar på underlag från banken`,
            `skriv #${name} ÅÅÅÅ-MM-DD och skälet som kunden får veta, t.ex. #${name} 2026-12-20 Vi väntar på underlag från banken`,
          ),
        );
      const r = extendDeadline(
        store,
        config,
        ctx.templates,
        ctx.calendar,
        {
          caseId: c.id,
          milestone: 'finalAnswer',
          newDate: date,
          reason: maskPersonnummer(m[2], env.now),
          actor: env.actor,
          holdingReply: name === 'holding',
          notifyCustomer: true,
        },
        env.now,
      );
      const moved = `${formatStockholm(r.from)} -> ${formatStockholm(r.to)}`;
      return say(
        `final answer due ${moved}${r.noticeQueued ? '; the customer gets a delay notice' : '; NO notice to the customer (see the case)'}${r.late ? '; recorded as LATE: the deadline had already passed' : ''}`,
        `slutligt svar senast ${moved}${r.noticeQueued ? '; kunden får ett förseningsbesked' : '; INGET besked till kunden (se ärendet)'}${r.late ? '; registrerat som FÖRSENAT: tidsfristen hade redan passerat' : ''}`,
      );
    }
    case 'category': {
      const ids = [...config.complaints.categories.map((x) => x.id), 'other'];
      const category = oneOf(cmd.args, ids, { en: 'category', sv: 'kategori' });
      if (category === c.category) return say(`category is already ${category}`, `kategorin är redan ${category}`);
      store.updateCase(c.id, { category }, env.at);
      store.appendEvent({ at: env.at, caseId: c.id, actor: env.actor, type: 'category-changed', detail: { from: c.category, to: category } });
      // Deadlines of the new category where stricter; PSD2 gained, never lost (src/cases/regime.ts).
      const tightened = applyPolicies(ctx, store.caseById(c.id)!, policiesFor(category, config.deadlines), `category ${category}`, env.actor, env.at);
      return say(
        `category: ${c.category ?? 'none'} -> ${category}${tightened.map((t) => `; ${t.en}`).join('')}`,
        `kategori: ${c.category ?? 'ingen'} -> ${category}${tightened.map((t) => `; ${t.sv}`).join('')}`,
      );
    }
    case 'regime': {
      const [word = '', ...rest] = cmd.args.split(/\s+/);
      const regime = oneOf<Regime>(word, ['psd2', 'none'], { en: 'regime', sv: 'regim' });
      const reason = maskPersonnummer(rest.join(' ').trim(), env.now);
      if (regime === c.regime) return say(`regime is already ${regime}`, `regimen är redan ${regime}`);
      if (reason.length < 5)
        throw new CommandError(
          say(
            `#regime ${regime} needs the reason on the same line, e.g. #regime ${regime === 'none' ? 'none the complaint concerns a loan, not a payment service' : 'psd2 the complaint concerns a card payment'}`,
            `#regime ${regime} behöver skälet på samma rad, t.ex. #regime ${regime === 'none' ? 'none klagomålet gäller ett lån, inte en betaltjänst' : 'psd2 klagomålet gäller en kortbetalning'}`,
          ),
        );
      const changed = setRegime(ctx, c, regime, reason, env.actor, env.at);
      return say(
        `regime: ${c.regime} -> ${regime}${changed.map((t) => `; ${t.en}`).join('')}`,
        `regim: ${c.regime} -> ${regime}${changed.map((t) => `; ${t.sv}`).join('')}`,
      );
    }
    case 'compensation': {
      const amount = parseSek(cmd.args);
      if (amount === null)
        throw new CommandError(
          say(
            'an amount in SEK is needed, e.g. #compensation 1250 or #compensation 1 250,50',
            'ett belopp i kronor behövs, t.ex. #compensation 1250 eller #compensation 1 250,50',
          ),
        );
      store.updateCase(c.id, { compensationSek: amount }, env.at);
      store.appendEvent({ at: env.at, caseId: c.id, actor: env.actor, type: 'compensation-set', detail: { sek: amount, previous: c.compensation_sek } });
      return say(`compensation: ${amount} kr`, `ersättning: ${amount} kr`);
    }
    case 'note': {
      if (!cmd.args) throw new CommandError(say('#note needs a text on the same line', '#note behöver en text på samma rad'));
      store.appendEvent({ at: env.at, caseId: c.id, actor: env.actor, type: 'note-added', detail: { text: maskPersonnummer(cmd.args, env.now) } });
      return say('note recorded', 'anteckning sparad');
    }
    case 'related': {
      const number = (/[A-Z][A-Z0-9]{0,9}-\d{4}-\d{6}/i.exec(cmd.args)?.[0] ?? '').toUpperCase();
      const example = `${config.cases.prefix}-2026-000017`;
      if (!number) throw new CommandError(say(`a case number is needed, e.g. #related ${example}`, `ett ärendenummer behövs, t.ex. #related ${example}`));
      const other = store.caseByNumber(number);
      if (!other) throw new CommandError(say(`no case ${number}`, `inget ärende ${number}`));
      if (other.id === c.id) throw new CommandError(say('a case cannot be related to itself', 'ett ärende kan inte relateras till sig självt'));
      if (!store.relateCases(c.id, other.id, env.at, env.actor)) return say(`already related to ${number}`, `redan relaterat till ${number}`);
      store.appendEvent({ at: env.at, caseId: c.id, actor: env.actor, type: 'case-related', detail: { related: number } });
      store.appendEvent({ at: env.at, caseId: other.id, actor: env.actor, type: 'case-related', detail: { related: c.number } });
      const state = `${other.status}${other.outcome ? `, ${other.outcome}` : ''}`;
      return say(`related to ${number} (${state})`, `relaterat till ${number} (${state})`);
    }
    case 'assessment': {
      const [itemText = '', valueText = 'yes'] = cmd.args.split(/\s+/);
      const item = oneOf(itemText, ASSESSMENT_ITEMS, { en: 'assessment item', sv: 'bedömningspunkt' });
      const v = valueText.toLowerCase();
      const value = ['yes', 'ja', 'true', 'y', 'j'].includes(v) ? true : ['no', 'nej', 'false', 'n'].includes(v) ? false : null;
      if (value === null) throw new CommandError(say(`'${valueText}' is not yes or no (ja/nej)`, `'${valueText}' är inte ja eller nej (yes/no)`));
      const assessment = { ...(JSON.parse(c.assessment) as Record<string, boolean>), [item]: value };
      store.updateCase(c.id, { assessment }, env.at);
      store.appendEvent({ at: env.at, caseId: c.id, actor: env.actor, type: 'assessment-set', detail: { item, value } });
      return say(`assessment: ${item} = ${value ? 'yes' : 'no'}`, `bedömning: ${item} = ${value ? 'ja' : 'nej'}`);
    }
    case 'final':
      return queueToCustomer(ctx, c, 'final', cmd, env);
    case 'approve':
      return approveCommand(ctx, c, cmd, env);
    case 'return':
      return returnCommand(ctx, c, cmd, env);
    case 'ask':
      return queueToCustomer(ctx, c, 'ask', cmd, env);
    case 'hold': {
      if (!cmd.args)
        throw new CommandError(
          say(
            '#hold needs a reason on the same line, e.g. #hold ARN 2026-01234: the customer has gone to ARN',
            '#hold behöver ett skäl på samma rad, t.ex. #hold ARN 2026-01234: kunden har vänt sig till ARN',
          ),
        );
      const reason = maskPersonnummer(cmd.args, env.now);
      const r = holdCase(store, c.id, { reason, actor: env.actor, at: env.at, inboundId: env.inbound.id });
      if (r.kind === 'unchanged')
        return say(`already on legal hold since ${r.hold.heldAt} (${r.hold.reason})`, `gallringsspärr redan sedan ${r.hold.heldAt} (${r.hold.reason})`);
      return r.kind === 'changed'
        ? say(`legal hold reason: ${r.previous} -> ${reason}`, `skäl för gallringsspärr: ${r.previous} -> ${reason}`)
        : say(
            `legal hold: ${reason}; retention leaves ${c.number} alone until #release`,
            `gallringsspärr: ${reason}; ${c.number} gallras inte förrän #release`,
          );
    }
    case 'release': {
      const hold = releaseCase(store, c.id, { actor: env.actor, at: env.at, inboundId: env.inbound.id });
      return hold
        ? say(
            `legal hold lifted (held since ${hold.heldAt}: ${hold.reason}); retention applies again`,
            `gallringsspärren hävd (sedan ${hold.heldAt}: ${hold.reason}); gallring gäller igen`,
          )
        : say(`${c.number} was not on legal hold`, `${c.number} hade ingen gallringsspärr`);
    }
  }
}
