/**
 * The register of record's fields of one case (REGULATION.md §4 A; migration 13): customer type
 * and where it came from, representative, product, inadmissible, reasons, payment date, first
 * contact, reopenings, ARN and court, root causes and actions, when retention is due, and who
 * drafted and who approved the final answer (four eyes).
 * Texts officers wrote are masked again on the way out.
 */
import { addYears } from '../util/clock';
import type { CaseFacts } from './facts';
import type { RegisterRow } from './register';

type RecordFields = Pick<
  RegisterRow,
  | 'customerType'
  | 'customerTypeSource'
  | 'customerTypeBy'
  | 'representative'
  | 'product'
  | 'inadmissible'
  | 'reasonsSummary'
  | 'compensationPaidAt'
  | 'firstComplainedAt'
  | 'reopened'
  | 'arn'
  | 'court'
  | 'rootCauses'
  | 'actions'
  | 'retentionUntil'
>;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function customerTypeOf(f: CaseFacts, fields: Record<string, unknown>): { type: 'consumer' | 'business'; source: 'recorded' | 'detected' | 'default' } {
  const recorded = f.c.customer_type ?? str(fields.customerType);
  if (recorded === 'business' || recorded === 'consumer')
    return { type: recorded, source: (f.c.customer_type_by ?? '').startsWith('detected') ? 'detected' : 'recorded' };
  return { type: 'consumer', source: 'default' };
}

export function recordFields(
  f: CaseFacts,
  closedAt: string | null,
  retentionYears: number | null,
  fields: Record<string, unknown>,
  mask: (s: string | null) => string | null,
): RecordFields {
  const type = customerTypeOf(f, fields);
  return {
    customerType: type.type,
    customerTypeSource: type.source,
    customerTypeBy: mask(f.c.customer_type_by),
    representative: f.c.representative_address || f.c.representative_name ? { name: mask(f.c.representative_name), address: f.c.representative_address } : null,
    product: f.c.product,
    inadmissible: f.c.inadmissible_reason
      ? { reason: mask(f.c.inadmissible_reason)!, by: f.c.inadmissible_by, at: f.events.filter((e) => e.type === 'case-inadmissible').pop()?.at ?? null }
      : null,
    reasonsSummary: mask(f.c.reasons_summary),
    compensationPaidAt: f.c.compensation_paid_at,
    firstComplainedAt: f.c.first_complained_at,
    reopened: f.events.filter((e) => e.type === 'case-reopened').length,
    arn: f.referrals.filter((r) => r.body === 'arn').map((r) => ({ reference: r.reference, state: r.state, on: r.at })),
    court: f.referrals.filter((r) => r.body === 'court').map((r) => ({ reference: r.reference, state: r.state, on: r.at })),
    rootCauses: f.causes.map((x) => ({ code: x.code, text: mask(x.text) })),
    actions: f.actions.map((x) => ({ text: mask(x.text)!, state: x.state, doneAt: x.done_at })),
    retentionUntil: closedAt && !f.c.hold_reason && retentionYears !== null ? addYears(new Date(closedAt), retentionYears).toISOString() : null,
  };
}

/** The latest approved final answer of a case, from its events, with when its mail was sent. */
export function approvalOf(f: CaseFacts): RegisterRow['approval'] {
  const approved = f.events.filter((e) => e.type === 'final-answer-approved');
  const last = approved[approved.length - 1];
  if (!last) return null;
  let d: Record<string, unknown> = {};
  try {
    d = JSON.parse(last.detail) as Record<string, unknown>;
  } catch {
    /* an unreadable detail: who and when stay empty */
  }
  const mail = f.outbox.find((o) => o.id === last.outbox_id);
  return {
    author: str(d.author) ?? '',
    approver: str(d.approver) ?? '',
    draftedAt: str(d.draftedAt) ?? '',
    approvedAt: last.at,
    sentAt: mail?.sent_at ?? null,
  };
}

/**
 * The case's facts with each extension event that retention anonymised given back its facts
 * (milestone, from, to, holding reply, late; never the reason) from deadline_extensions, so
 * that the register and the statistics of the past do not change when personal data goes.
 */
export function withExtensionFacts(f: CaseFacts): CaseFacts {
  if (f.extensions.length === 0) return f;
  const unused = [...f.extensions];
  const events = f.events.map((e) => {
    if (e.type !== 'deadline-extended' || !/"anonymised"\s*:\s*true/.test(e.detail)) return e;
    const i = unused.findIndex((x) => x.at === e.at);
    if (i < 0) return e;
    const [x] = unused.splice(i, 1);
    return {
      ...e,
      detail: JSON.stringify({
        milestone: x.milestone,
        from: x.from_due,
        to: x.to_due,
        holdingReply: x.holding_reply === 1,
        ...(x.late ? { late: true } : {}),
        reason: '(anonymised)',
      }),
    };
  });
  return { ...f, events };
}
