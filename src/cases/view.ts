/**
 * Read models of a case for `klagomal case show`, `cases` and `outbox`: plain objects built
 * from the store, the same for --json and for the text view.
 */
import type { CaseRow, EventRow, OutboxRow, Store } from '../store/store';
import { formatStockholm } from '../util/stockholm-time';

/** When the case was last closed (null while it is open: a reopened case is open). */
export function lastClosedAt(c: Pick<CaseRow, 'status' | 'updated_at'>, events: readonly EventRow[]): string | null {
  if (c.status !== 'closed') return null;
  const closes = events.filter((e) => e.type === 'status-changed' && e.to_state === 'closed');
  // Closed without a recorded transition (not done by klagomal today): its last change.
  return closes.length ? closes[closes.length - 1].at : c.updated_at;
}

export interface CaseSummary {
  id: number;
  number: string;
  status: string;
  receivedAt: string;
  receivedLocal: string;
  customer: { name: string | null; address: string | null };
  subject: string | null;
  language: string;
  category: string | null;
  contactOfficer: string | null;
  /** The final answer's deadline (what the customer was promised). */
  answerDueAt: string | null;
  /** The nearest open deadline. */
  nextDeadline: { milestone: string; dueAt: string } | null;
  /** Milestones whose deadline has passed unmet, or was met late. */
  breached: string[];
  refersTo: string | null;
  /** What the firm decided (#outcome), by whom, and compensation paid (#compensation). */
  outcome: string | null;
  decidedBy: string | null;
  compensationSek: number | null;
}

function local(instant: string | null | undefined): string | null {
  return instant ? formatStockholm(new Date(instant)) : null;
}

/** `now` decides which deadlines count as missed (default: the real clock). */
export function caseSummary(store: Store, c: CaseRow, now: Date = new Date()): CaseSummary {
  const deadlines = store.deadlinesOfCase(c.id).filter((d) => d.milestone !== 'finalAnswerMax');
  const answer = deadlines.find((d) => d.milestone === 'finalAnswer');
  // An imported old complaint's deadlines do not apply: never next, never breached.
  const applicable = deadlines.filter((d) => !d.not_applicable);
  const next = applicable.filter((d) => !d.met_at).sort((a, b) => a.due_at.localeCompare(b.due_at))[0];
  const at = now.toISOString();
  return {
    id: c.id,
    number: c.number,
    status: c.status,
    receivedAt: c.received_at,
    receivedLocal: formatStockholm(new Date(c.received_at)),
    customer: { name: c.customer_name, address: c.customer_address },
    subject: c.subject,
    language: c.language,
    category: c.category,
    contactOfficer: c.contact_officer,
    answerDueAt: local(answer?.due_at),
    nextDeadline: next ? { milestone: next.milestone, dueAt: local(next.due_at)! } : null,
    breached: applicable.filter((d) => (d.met_at ? d.met_at > d.due_at : d.due_at < at)).map((d) => d.milestone),
    refersTo: c.refers_to_case_id ? (store.caseById(c.refers_to_case_id)?.number ?? null) : null,
    outcome: c.outcome,
    decidedBy: c.decided_by,
    compensationSek: c.compensation_sek,
  };
}

export function outboxView(row: OutboxRow & { case_number?: string | null }) {
  return {
    id: row.id,
    case: row.case_number ?? null,
    kind: row.kind,
    to: row.to_address,
    subject: row.subject,
    template: row.template,
    language: row.language,
    templateVersion: row.template_version,
    status: row.status,
    attempts: row.attempts,
    messageId: row.message_id,
    createdAt: row.created_at,
    nextAttemptAt: row.status === 'queued' || row.status === 'sending' ? row.next_attempt_at : null,
    sentAt: row.sent_at,
    lastError: row.last_error,
    transportResponse: row.transport_response,
  };
}

/** What reading an attachment as a document gave (src/documents/), personnummer masked; null when it is no document. */
function readingView(store: Store, attachmentId: number) {
  const r = store.attachmentReading(attachmentId);
  if (!r) return null;
  return {
    kind: r.kind,
    state: r.state,
    note: r.note,
    pageCount: r.page_count,
    ocrPages: r.ocr_pages,
    pages: JSON.parse(r.pages) as Array<{ page: number | null; text: string; via: string }>,
    formFields: (JSON.parse(r.form_fields) as Array<{ name: string; value: string }>).filter((f) => f.value.trim() !== ''),
    readAt: r.read_at,
  };
}

export function caseDetail(store: Store, c: CaseRow) {
  const messages = store.messagesOfCase(c.id).map((m) => ({
    direction: 'in' as const,
    kind: m.kind,
    at: m.received_at,
    messageId: m.message_id,
    inReplyTo: m.in_reply_to,
    from: { name: m.from_name, address: m.from_address },
    replyTo: m.reply_to,
    to: JSON.parse(m.to_addresses) as string[],
    cc: JSON.parse(m.cc_addresses) as string[],
    subject: m.subject,
    dateHeader: m.date_header,
    language: m.language,
    text: m.body_text,
    problems: JSON.parse(m.problems) as string[],
    attachments: store
      .attachmentsOfMessage(m.id)
      .map((a) => ({ filename: a.filename, contentType: a.content_type, size: a.size, sha256: a.sha256, path: a.path, reading: readingView(store, a.id) })),
  }));
  const outgoing = store.outboxOfCase(c.id).map((o) => ({
    direction: 'out' as const,
    ...outboxView(o),
    at: o.sent_at ?? o.created_at,
    text: o.body_text,
    attemptsLog: store.outboxAttempts(o.id),
  }));
  const events = store.eventsOfCase(c.id);
  const closedAt = lastClosedAt(c, events);
  // The customer's mails on the case since it was closed, and who was told of each (#reopen is theirs to decide).
  const told = new Map<number | null, { at: string; inboundId: number | null; told: string[] }>();
  for (const e of events) {
    if (e.type !== 'closed-case-reply-notified' || !closedAt || e.at < closedAt) continue;
    const officer = String((JSON.parse(e.detail) as { officer?: unknown }).officer ?? '?');
    const entry = told.get(e.inbound_id);
    if (entry) entry.told.push(officer);
    else told.set(e.inbound_id, { at: e.at, inboundId: e.inbound_id, told: [officer] });
  }
  return {
    ...caseSummary(store, c),
    closedAt,
    customerMailSinceClosed: [...told.values()],
    // Four eyes on final answers: every draft, its state, author and who decided, when.
    finalAnswerDrafts: store.draftsOfCase(c.id).map((d) => ({
      draft: d.id,
      state: d.state,
      author: d.author,
      draftedAt: d.drafted_at,
      approvers: JSON.parse(d.approvers) as string[],
      decidedBy: d.decided_by,
      decidedAt: d.decided_at,
      returnReason: d.return_reason,
      replacedBy: d.replaced_by,
      sentAt: d.outbox_id !== null ? (store.outboxOfCase(c.id).find((o) => o.id === d.outbox_id)?.sent_at ?? null) : null,
    })),
    filedAt: c.filed_at,
    fields: JSON.parse(c.fields) as Record<string, unknown>,
    assessment: JSON.parse(c.assessment) as Record<string, boolean>,
    related: store.relatedCases(c, 0).map((r) => ({ number: r.number, relation: r.relation, status: r.status, outcome: r.outcome })),
    deadlines: store.deadlinesOfCase(c.id).map((d) => ({
      milestone: d.milestone,
      dueAt: local(d.due_at),
      rule: JSON.parse(d.rule) as Record<string, unknown>,
      policy: d.policy,
      source: d.source,
      computedFrom: d.computed_from,
      configVersion: d.config_version,
      calendarVersion: d.calendar_version,
      metAt: d.met_at,
      breachedAt: d.breached_at,
      notApplicable: d.not_applicable,
    })),
    messages: [...messages, ...outgoing].sort((a, b) => a.at.localeCompare(b.at)),
    events: events.map((e) => ({
      at: e.at,
      type: e.type,
      actor: e.actor,
      from: e.from_state,
      to: e.to_state,
      detail: JSON.parse(e.detail) as Record<string, unknown>,
    })),
  };
}
