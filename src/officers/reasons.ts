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
 * reasoned, written answer. With `approvedOnly`, only an answer an approver let through counts
 * (or one waiting for them).
 */
export function hasReasonedAnswer(store: Store, caseId: number, approvedOnly = false): boolean {
  if (store.pendingDraftOfCase(caseId)) return true;
  const approved = new Set(store.draftsOfCase(caseId).flatMap((d) => (d.state === 'approved' && d.outbox_id !== null ? [d.outbox_id] : [])));
  return store.outboxOfCase(caseId).some((o) => o.kind === 'final-answer' && o.status !== 'failed' && (!approvedOnly || approved.has(o.id)));
}
