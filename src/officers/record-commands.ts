/**
 * The register of record by mail: what an auditor asks of every complaint (REGULATION.md §4 A;
 * EU complaint guidelines JC 2018 35, registration and internal follow-up; FFFS 2002:23), each
 * an officer's command with its event:
 *
 *   #customer consumer|business        the customer type (konsument|företag); a business gets no
 *                                      ARN paragraph (ARN hears consumers' disputes)
 *   #representative NAME <ADDRESS>     a lawyer or relative acting for the customer, recorded apart
 *                                      from the customer; `#representative none` removes it
 *   #product ID                        from complaints.products
 *   #inadmissible REASON               not a complaint under FFFS 2002:23 §2 (a general opinion, a
 *                                      question): closed as such, with who and why; still in the register
 *   #reasons TEXT                      the reasons for the decision in short, for the register
 *   #arn DNR STATE [YYYY-MM-DD]        ARN: received | upheld | partly-upheld | rejected | dismissed | withdrawn
 *   #court CASE STATE [YYYY-MM-DD]     court: filed | upheld | partly-upheld | rejected | dismissed | settled | withdrawn
 *   #cause CODE [TEXT]                 a root cause, from complaints.rootCauses (repeatable)
 *   #action [planned|done] TEXT        a corrective action (repeatable); `#action done N` marks action N done
 *   #paid YYYY-MM-DD                   the date the compensation was paid
 *   #first-contact YYYY-MM-DD          the customer's first contact about the matter (before the forward)
 *   #sent-by-post [YYYY-MM-DD]         the acknowledgement of a complaint registered with a postal
 *                                      address only (#register) was posted: meets its milestone
 *
 * Recording facts works on a closed case too (ARN comes after the final answer); #inadmissible
 * only on an open one. Texts are masked like every text; a date is a Stockholm date.
 */
import type { CaseRow } from '../store/store';
import type { EventType } from '../cases/lifecycle';
import { CHANNELS } from '../store/rows';
import { closeInadmissible } from '../cases/transitions';
import { maskPersonnummer } from '../util/personnummer';
import { parseIsoDate, isoDate, localDateOf, localTime } from '../util/stockholm-time';
import { toInstant } from '../util/clock';
import { meetMilestone } from '../cases/milestones';
import { CommandError, CommandLine, oneOf, RECORD_COMMANDS, Said, say, words } from './command-mail';
import type { CommandContext, RunEnv } from './commands';

export const RECORD_COMMAND_NAMES = RECORD_COMMANDS;
export type RecordCommandName = (typeof RECORD_COMMAND_NAMES)[number];

/** The record commands that a closed case still takes (the facts come later: ARN, causes, actions). */
export const RECORD_ON_CLOSED: readonly string[] = RECORD_COMMAND_NAMES.filter((n) => n !== 'inadmissible');

export const ARN_STATES = ['received', 'upheld', 'partly-upheld', 'rejected', 'dismissed', 'withdrawn'] as const;
export const COURT_STATES = ['filed', 'upheld', 'partly-upheld', 'rejected', 'dismissed', 'settled', 'withdrawn'] as const;

const CUSTOMER_WORDS: Record<string, 'consumer' | 'business'> = {
  consumer: 'consumer',
  konsument: 'consumer',
  privatperson: 'consumer',
  business: 'business',
  företag: 'business',
  foretag: 'business',
  company: 'business',
};

export { CHANNELS };

/** A date argument: YYYY-MM-DD, not after today (a payment or a referral is a fact that happened). */
function pastDate(text: string, env: RunEnv, what: Said): string {
  const d = parseIsoDate(text);
  const today = isoDate(localDateOf(env.now));
  if (!d) throw new CommandError(say(`${what.en}: a date YYYY-MM-DD is needed (got '${text}')`, `${what.sv}: ett datum ÅÅÅÅ-MM-DD behövs (fick '${text}')`));
  if (isoDate(d) > today) throw new CommandError(say(`${what.en}: ${isoDate(d)} is in the future`, `${what.sv}: ${isoDate(d)} ligger i framtiden`));
  return isoDate(d);
}

export function runRecordCommand(ctx: CommandContext, c: CaseRow, cmd: CommandLine, env: RunEnv): Said {
  const { store, config } = ctx;
  const mask = (s: string): string => maskPersonnummer(s.replace(/\s+/g, ' ').trim(), env.now);
  const event = (type: EventType, detail: Record<string, unknown>): void => {
    store.appendEvent({ at: env.at, caseId: c.id, inboundId: env.inbound.id, actor: env.actor, type, detail });
  };
  const name = cmd.name as RecordCommandName;
  switch (name) {
    case 'customer': {
      const word = cmd.args.trim().toLowerCase();
      const type = CUSTOMER_WORDS[word] ?? oneOf(word, ['consumer', 'business'] as const, { en: 'customer type', sv: 'kundtyp' });
      if (c.customer_type === type && !(c.customer_type_by ?? '').startsWith('detected'))
        return say(`customer type is already ${type}`, `kundtypen är redan ${type}`);
      store.setCaseRecord(c.id, { customerType: type, customerTypeBy: env.sender.address }, env.at);
      event('customer-type-set', { type, previous: c.customer_type, previousBy: c.customer_type_by });
      return say(
        `customer type: ${type}${type === 'business' ? ' (no ARN paragraph in the answers: ARN hears consumers)' : ''}`,
        `kundtyp: ${type === 'business' ? 'företag (inget ARN-stycke i svaren: ARN prövar konsumenters tvister)' : 'konsument'}`,
      );
    }
    case 'representative': {
      if (/^(none|ingen)$/i.test(cmd.args.trim())) {
        if (!c.representative_address && !c.representative_name) return say('no representative was recorded', 'inget ombud var registrerat');
        store.setCaseRecord(c.id, { representativeName: null, representativeAddress: null }, env.at);
        event('representative-removed', { previous: c.representative_address });
        return say('representative removed', 'ombudet borttaget');
      }
      // A plain ASCII address only: it goes into a Cc header and the envelope (never raw text).
      const m = /^(.*?)\s*<\s*([A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)\s*>\s*$/.exec(cmd.args);
      if (!m || !m[1].trim())
        throw new CommandError(
          say(
            'write #representative NAME <ADDRESS>, e.g. #representative Advokat Eva Ek <eva.ek@advokat.se> (or #representative none)',
            'skriv #representative NAMN <ADRESS>, t.ex. #representative Advokat Eva Ek <eva.ek@advokat.se> (eller #representative none)',
          ),
        );
      const repName = mask(m[1]).slice(0, 200);
      const address = m[2].toLowerCase();
      if (address === config.firm.complaintsAddress.toLowerCase())
        throw new CommandError(say('the representative cannot be our own address', 'ombudet kan inte vara vår egen adress'));
      store.setCaseRecord(c.id, { representativeName: repName, representativeAddress: address }, env.at);
      event('representative-set', { name: repName, address, previous: c.representative_address });
      return say(`representative: ${repName} <${address}> (copied on mail to the customer)`, `ombud: ${repName} <${address}> (får kopia av mejl till kunden)`);
    }
    case 'product': {
      const product = oneOf(cmd.args, config.complaints.products, { en: 'product', sv: 'produkt' });
      if (product === c.product) return say(`product is already ${product}`, `produkten är redan ${product}`);
      store.setCaseRecord(c.id, { product }, env.at);
      event('product-set', { product, previous: c.product });
      return say(`product: ${c.product ?? 'none'} -> ${product}`, `produkt: ${c.product ?? 'ingen'} -> ${product}`);
    }
    case 'inadmissible': {
      const reason = mask(cmd.args);
      if (reason.length < 5)
        throw new CommandError(
          say(
            '#inadmissible needs the reason on the same line, e.g. #inadmissible a general opinion on interest rates, not a complaint about our service',
            '#inadmissible behöver skälet på samma rad, t.ex. #inadmissible en allmän åsikt om räntor, inte ett klagomål på vår tjänst',
          ),
        );
      const r = closeInadmissible(store, c, reason, env.actor, env.at);
      if (!r.ok) throw new CommandError(say(r.reason.en, r.reason.sv));
      return say(
        `not a complaint (FFFS 2002:23 §2): ${reason}; closed, and kept in the register`,
        `inget klagomål (FFFS 2002:23 §2): ${reason}; stängt, och kvar i registret`,
      );
    }
    case 'reasons': {
      const text = mask(cmd.args);
      if (words(text) < 5)
        throw new CommandError(
          say(
            "#reasons needs a short summary of the reasons (at least 5 words) that answers the customer's own points",
            '#reasons behöver en kort sammanfattning av skälen (minst 5 ord) som bemöter kundens egna synpunkter',
          ),
        );
      store.setCaseRecord(c.id, { reasonsSummary: text.slice(0, 2000) }, env.at);
      event('reasons-recorded', { text: text.slice(0, 2000), previous: c.reasons_summary !== null });
      return say('reasons recorded for the register', 'skälen sparade i registret');
    }
    case 'arn':
    case 'court': {
      const states = name === 'arn' ? ARN_STATES : COURT_STATES;
      const parts = cmd.args.split(/\s+/).filter(Boolean);
      const dateText = parts.length >= 3 && /^\d{4}-\d{2}-\d{2}$/.test(parts[parts.length - 1]) ? parts.pop()! : null;
      const stateWord = parts.pop() ?? '';
      const reference = mask(parts.join(' ')).slice(0, 100);
      const example = name === 'arn' ? '#arn 2026-01234 received' : '#court T 1234-26 filed';
      if (!reference)
        throw new CommandError(
          say(
            `write #${name} ${name === 'arn' ? 'DNR' : 'CASE'} STATE [YYYY-MM-DD], e.g. ${example}; states: ${states.join(', ')}`,
            `skriv #${name} ${name === 'arn' ? 'DNR' : 'MÅLNR'} STATUS [ÅÅÅÅ-MM-DD], t.ex. ${example}; status: ${states.join(', ')}`,
          ),
        );
      const state = oneOf(stateWord, states, { en: `${name === 'arn' ? 'ARN' : 'court'} state`, sv: `${name === 'arn' ? 'ARN-' : 'domstols'}status` });
      const on = dateText ? pastDate(dateText, env, say('the date', 'datumet')) : env.at.slice(0, 10);
      store.addReferral({ case_id: c.id, body: name, reference, state, at: on, actor: env.actor });
      event(name === 'arn' ? 'arn-recorded' : 'court-recorded', { reference, state, on });
      const body = name === 'arn' ? 'ARN' : 'court';
      return say(`${body} ${reference}: ${state} (${on})`, `${name === 'arn' ? 'ARN' : 'domstol'} ${reference}: ${state} (${on})`);
    }
    case 'cause': {
      const [codeWord = '', ...rest] = cmd.args.split(/\s+/);
      const code = oneOf(codeWord, config.complaints.rootCauses, { en: 'root cause', sv: 'grundorsak' });
      const text = rest.length ? mask(rest.join(' ')).slice(0, 500) : null;
      store.addCause({ case_id: c.id, code, text, at: env.at, actor: env.actor });
      event('root-cause-recorded', { code, text });
      return say(`root cause: ${code}${text ? ` (${text})` : ''}`, `grundorsak: ${code}${text ? ` (${text})` : ''}`);
    }
    case 'action': {
      const done = /^(done|klar|klart)\s+#?(\d{1,9})\s*$/i.exec(cmd.args);
      if (done) {
        const n = Number(done[2]);
        const actions = store.actionsOfCase(c.id);
        const a = actions[n - 1];
        if (!a)
          throw new CommandError(say(`the case has no action ${n} (it has ${actions.length})`, `ärendet har ingen åtgärd ${n} (det har ${actions.length})`));
        if (!store.markActionDone(c.id, a.id, env.at)) return say(`action ${n} is already done`, `åtgärd ${n} är redan klar`);
        event('action-done', { action: n, text: a.text });
        return say(`action ${n} done: ${a.text}`, `åtgärd ${n} klar: ${a.text}`);
      }
      const m = /^(?:(planned|done|planerad|klar)\s+)?(.+)$/is.exec(cmd.args.trim());
      const text = m ? mask(m[2]).slice(0, 500) : '';
      if (words(text) < 2)
        throw new CommandError(
          say(
            'write #action [planned|done] TEXT, e.g. #action planned rewrite the fee page on the website; #action done N marks action N done',
            'skriv #action [planned|done] TEXT, t.ex. #action planned skriva om avgiftssidan på webben; #action done N markerar åtgärd N som klar',
          ),
        );
      const state = m && /^(done|klar)$/i.test(m[1] ?? '') ? 'done' : 'planned';
      store.addAction({ case_id: c.id, text, state, at: env.at, actor: env.actor });
      const n = store.actionsOfCase(c.id).length;
      event('action-recorded', { action: n, text, state });
      return say(`action ${n} (${state}): ${text}`, `åtgärd ${n} (${state === 'done' ? 'klar' : 'planerad'}): ${text}`);
    }
    case 'paid': {
      const on = pastDate(cmd.args.trim(), env, say('#paid', '#paid'));
      if (c.compensation_sek === null)
        throw new CommandError(
          say(
            'record the amount first with #compensation AMOUNT (in this mail or before)',
            'ange beloppet först med #compensation BELOPP (i det här mejlet eller tidigare)',
          ),
        );
      store.setCaseRecord(c.id, { compensationPaidAt: on }, env.at);
      event('compensation-paid', { on, sek: c.compensation_sek });
      return say(`compensation ${c.compensation_sek} kr paid on ${on}`, `ersättning ${c.compensation_sek} kr utbetald ${on}`);
    }
    case 'sent-by-post': {
      const on = cmd.args.trim() ? pastDate(cmd.args.trim(), env, say('#sent-by-post', '#sent-by-post')) : null;
      // Posted today: now; on an earlier day: noon that day (the letter went with that day's post).
      const when = on && on !== isoDate(localDateOf(env.now)) ? toInstant(localTime(parseIsoDate(on)!, 12, 0, 0)) : env.at;
      if (when < c.received_at)
        throw new CommandError(
          say('the acknowledgement cannot have been posted before the complaint arrived', 'kvittensen kan inte ha postats innan klagomålet kom in'),
        );
      if (!meetMilestone(store, c.id, 'acknowledgement', when, env.actor, { via: 'post', by: env.sender.address }))
        return say('the acknowledgement was already recorded as sent', 'kvittensen var redan registrerad som skickad');
      event('acknowledgement-posted', { on: when });
      return say(
        `acknowledgement posted (${when.slice(0, 10)}): the acknowledgement milestone is met`,
        `kvittensen postad (${when.slice(0, 10)}): kvittensen är registrerad som skickad`,
      );
    }
    case 'first-contact': {
      const on = pastDate(cmd.args.trim(), env, say('#first-contact', '#first-contact'));
      if (on > isoDate(localDateOf(new Date(c.received_at))))
        throw new CommandError(
          say('the first contact cannot be after the complaint arrived', 'den första kontakten kan inte vara efter att klagomålet kom in'),
        );
      store.setCaseRecord(c.id, { firstComplainedAt: on }, env.at);
      event('first-contact-recorded', { on, previous: c.first_complained_at });
      return say(`first contact: ${on}`, `första kontakt: ${on}`);
    }
  }
}
