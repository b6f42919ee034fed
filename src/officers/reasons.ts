/**
 * "Reasoned" is more than a word count (FFFS 2002:23 and the EU complaint guidelines: a
 * rejection explains the firm's position on the customer's complaint). The rule klagomal
 * enforces, beside the 15 words of the final answer: a rejection or a partly upheld complaint
 * needs either the officer's own summary of the reasons (`#reasons`), or a final answer that
 * names at least one of the complaint's own points: an amount or a reference number it gave,
 * or one of its own words (its subject and first text, six letters or more, compared by their
 * first five letters so that "avgiften" answers "avgift"; greetings and words every complaint
 * uses do not count). Pure, but for `pointsOfCase`, which reads the case.
 */
import type { CaseRow, Store } from '../store/store';
import { FINAL_MIN_WORDS, say } from './command-mail';
import type { Said } from './command-mail';

/** Words of six letters or more that any complaint or answer uses: no point of the customer's own. */
const COMMON = new Set(
  [
    'hälsningar',
    'vänliga',
    'vänligen',
    'klagomål',
    'klagomålet',
    'reklamation',
    'ärendet',
    'ärendenummer',
    'svaret',
    'kunden',
    'företaget',
    'eftersom',
    'skulle',
    'mycket',
    'sedan',
    'därför',
    'genom',
    'mellan',
    'tidigare',
    'senare',
    'endast',
    'ingenting',
    'någonting',
    'fortfarande',
    'angående',
    'gällande',
    'kontakta',
    'kontakt',
    'tillbaka',
    'complaint',
    'regards',
    'please',
    'because',
    'customer',
    'thanks',
    'before',
    'answer',
    'should',
    'contact',
    'concerning',
    'regarding',
    'sincerely',
    'received',
  ].map((w) => w.slice(0, 5)),
);

const stem = (w: string): string => w.toLowerCase().slice(0, 5);

/** The complaint's own points: amounts and references it gave, and the stems of its own words. */
export function complaintPoints(o: { subject: string | null; text: string; amountsSek?: readonly number[]; references?: readonly string[] }): {
  stems: Set<string>;
  amounts: number[];
  references: string[];
} {
  const source = `${o.subject ?? ''}\n${o.text.slice(0, 3000)}`;
  const stems = new Set<string>();
  for (const w of source.match(/\p{L}{6,}/gu) ?? []) {
    const s = stem(w);
    if (!COMMON.has(s)) stems.add(s);
  }
  return { stems, amounts: [...(o.amountsSek ?? [])], references: (o.references ?? []).filter((r) => r.length >= 4 && !/\*/.test(r)) };
}

/** The first of the complaint's points the answer names, or null. */
export function pointNamed(answer: string, points: ReturnType<typeof complaintPoints>): string | null {
  for (const r of points.references) if (answer.includes(r)) return r;
  const digits = answer.replace(/(\d)[\s\u00a0.](?=\d{3}\b)/g, '$1');
  for (const a of points.amounts) if (new RegExp(`(^|\\D)${String(a).replace('.', '[.,]')}(\\D|$)`).test(digits)) return `${a} kr`;
  for (const w of answer.match(/\p{L}{6,}/gu) ?? []) if (points.stems.has(stem(w))) return w.toLowerCase();
  return null;
}

/** The points of a case's complaint: its subject, its first mail's text, the amounts and references read from it. */
export function pointsOfCase(store: Store, c: CaseRow): ReturnType<typeof complaintPoints> {
  let fields: { amountsSek?: unknown; references?: unknown } = {};
  try {
    fields = JSON.parse(c.fields) as typeof fields;
  } catch {
    /* no fields: the words still count */
  }
  const first = store.messagesOfCase(c.id)[0];
  return complaintPoints({
    subject: c.subject,
    text: first?.body_text ?? '',
    amountsSek: Array.isArray(fields.amountsSek) ? fields.amountsSek.filter((x): x is number => typeof x === 'number') : [],
    references: Array.isArray(fields.references) ? (fields.references as Array<{ value?: unknown }>).map((r) => String(r.value ?? '')) : [],
  });
}

/** Does this mail's final answer, or the last one queued, name one of the complaint's own points (src/officers/reasons.ts)? */
export function answerNamesAPoint(store: Store, c: CaseRow, finalInMail: boolean, rest: string): boolean {
  if (finalInMail) return pointNamed(rest, pointsOfCase(store, c)) !== null;
  // The last final answer queued, or kept as a draft for approval (its own event says which points it names).
  const finals = store.eventsOfCase(c.id).filter((e) => e.type === 'final-answer-queued' || e.type === 'final-answer-drafted');
  const last = finals[finals.length - 1];
  if (!last) return false;
  const d = JSON.parse(last.detail) as { namesPoint?: string | null };
  // A final answer queued before this rule existed has no such record: it counts as it did then.
  return d.namesPoint === undefined || d.namesPoint !== null;
}

/**
 * A final answer queued or sent through #final, or one waiting for approval: the case has its
 * reasoned, written answer. With `approvedOnly`, the answer the customer has is the one that
 * counts: the most recent final answer not failed must be one an approver let through (or a
 * draft waits for them). An approval of an earlier answer does not carry over to a later one
 * that went out unapproved.
 */
export function hasReasonedAnswer(store: Store, caseId: number, approvedOnly = false): boolean {
  if (store.pendingDraftOfCase(caseId)) return true;
  const finals = store.outboxOfCase(caseId).filter((o) => o.kind === 'final-answer' && o.status !== 'failed');
  if (!approvedOnly) return finals.length > 0;
  const latest = finals.reduce<(typeof finals)[number] | undefined>((a, o) => (!a || o.id > a.id ? o : a), undefined);
  if (!latest) return false;
  return store.draftsOfCase(caseId).some((d) => d.state === 'approved' && d.outbox_id === latest.id);
}

/**
 * The final answer was given outside klagomal: its milestone met (`case met`), and no #final
 * reached the customer. A final answer whose send failed for good (an address that bounces) does
 * not count, nor does the approved draft it came from: the customer never got it, and a letter
 * is how the README says to answer them then. A draft waiting, or the last one returned by an
 * approver, still counts: an approver's word is not passed by.
 */
export function answeredOutside(store: Store, caseId: number): boolean {
  if (!store.deadline(caseId, 'finalAnswer')?.met_at) return false;
  if (store.outboxOfCase(caseId).some((o) => o.kind === 'final-answer' && o.status !== 'failed')) return false;
  const drafts = store.draftsOfCase(caseId);
  const last = drafts[drafts.length - 1];
  return !last || (last.state !== 'pending' && last.state !== 'returned');
}

/**
 * Why `#outcome rejected|partly-upheld` is refused, or null: no reasoned written answer (or, under
 * four eyes, none an approver let through); reasons that do not answer the customer's own points;
 * an answer given outside klagomal without `#reasons`. Other outcomes are never refused here.
 */
export function whyOutcomeRefused(store: Store, c: CaseRow, outcome: string, approvedOnly: boolean, finalInMail: boolean, rest: string): Said | null {
  if (outcome !== 'rejected' && outcome !== 'partly-upheld') return null;
  const env = { finalInMail, rest };
  // Under four eyes, the answer a rejection leans on must be one an approver let through.
  // A rejection answered outside klagomal (a letter; `case met ID finalAnswer`): klagomal never
  // saw its text, so the officer confirms its reasons with #reasons (src/officers/reasons.ts).
  const outside = (outcome === 'rejected' || outcome === 'partly-upheld') && !env.finalInMail && answeredOutside(store, c.id);
  if (outside && !c.reasons_summary)
    return say(
      `'${outcome}': the final answer was given outside klagomal (recorded as met, no #final): confirm its reasons in short with #reasons SUMMARY, in this mail or before`,
      `'${outcome}': det slutliga svaret gavs utanför klagomal (registrerat som lämnat, inget #final): bekräfta skälen kort med #reasons SAMMANFATTNING, i det här mejlet eller tidigare`,
    );
  if (!outside && (outcome === 'rejected' || outcome === 'partly-upheld') && !env.finalInMail && !hasReasonedAnswer(store, c.id, approvedOnly)) {
    if (approvedOnly && hasReasonedAnswer(store, c.id))
      return say(
        `'${outcome}' needs a final answer approved by a second person (approval.finalAnswer), and the last answer sent on this case was not: send #outcome ${outcome} together with a new #final, which goes for approval`,
        `'${outcome}' kräver ett slutligt svar som en andra person har godkänt (approval.finalAnswer), och det senaste svaret som skickades i ärendet har inte godkänts: skicka #outcome ${outcome} tillsammans med ett nytt #final, som går till godkännande`,
      );
    return say(
      `'${outcome}' needs a written, reasoned answer to the customer first: send it with #final followed by the answer (at least ${FINAL_MIN_WORDS} words), in this mail or before`,
      `'${outcome}' kräver först ett skriftligt, motiverat svar till kunden: skicka det med #final följt av svaret (minst ${FINAL_MIN_WORDS} ord), i det här mejlet eller tidigare`,
    );
  }
  if (!outside && (outcome === 'rejected' || outcome === 'partly-upheld') && !c.reasons_summary && !answerNamesAPoint(store, c, env.finalInMail, env.rest)) {
    return say(
      `'${outcome}' needs reasons that answer the customer's own points: let the final answer name what they complained of (an amount, a reference, what it concerned), or confirm the reasons in short with #reasons SUMMARY (in this mail or before)`,
      `'${outcome}' kräver skäl som bemöter kundens egna synpunkter: låt det slutliga svaret nämna det kunden klagade på (ett belopp, en referens, vad det gällde), eller bekräfta skälen kort med #reasons SAMMANFATTNING (i det här mejlet eller tidigare)`,
    );
  }
  return null;
}
