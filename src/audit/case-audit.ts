/**
 * `klagomal case show ID --audit`: one case from its first mail to its last event, as an
 * auditor asks for it (REGULATION.md §4 D.1, "show complaint X from the inbound mail to the
 * final answer, with the deadline calculation"):
 *  - every mail in: where it came from (source, folder, UID or file), when it arrived and was
 *    stored, the sha256 and storage of its raw bytes, its Message-ID, kind and why;
 *  - every deadline with the inputs of its computation: the instant counted from, the rule
 *    (unit and amount), the policy and its legal source, the config and calendar versions,
 *    and every later change (extensions, met, breached) from the events;
 *  - every mail out: template, language and template version (and whether that version's
 *    text is kept), recipient, Message-ID, each send attempt, and the sha256 of the body sent;
 *  - every event in order, with its hash (short) and whether it verifies; and whether the
 *    case's chain as a whole verifies.
 * The personnummer is shown masked, with how it is stored; never decrypted here.
 */
import type { CaseRow, EventRow, Store } from '../store/store';
import { caseSummary } from '../cases/view';
import { personnummerStorage, PersonnummerStorage } from '../cases/personnummer-store';
import { formatStockholm } from '../util/stockholm-time';
import { ChainChecker, ChainCheck } from './chain';
import { sha256Hex, shortHash } from '../store/event-hash';
import { terminalLine } from '../util/terminal';

export interface AuditEvent {
  id: number;
  at: string;
  type: string;
  actor: string;
  from: string | null;
  to: string | null;
  detail: unknown;
  /** 'case': on the case's chain; 'mail': an event of one of its mails before it had a case (the chain without a case). */
  chain: 'case' | 'mail';
  hash: string;
  prevHash: string;
  /** For events of the case's chain: whether this event verifies; null for the other chain (verified by `audit verify`). */
  verifies: boolean | null;
  problem: string | null;
  anonymised: boolean;
}

export interface CaseAudit {
  case: ReturnType<typeof caseSummary> & {
    filedAt: string;
    personnummer: { masked: string | null; stored: PersonnummerStorage };
  };
  chain: Omit<ChainCheck, 'caseId' | 'brokenEvents'> & { brokenEvents: number[] };
  mailsIn: Array<{
    inboundId: number;
    kind: string;
    reason: string | null;
    source: string;
    mailbox: string | null;
    locator: string | null;
    uidvalidity: string | null;
    uid: number | null;
    receivedAt: string;
    receivedLocal: string;
    storedAt: string;
    filedAt: string | null;
    rawSha256: string;
    size: number;
    rawStorage: 'database' | 'file' | 'removed' | 'missing';
    messageId: string | null;
    from: string | null;
    subject: string | null;
    dateHeader: string | null;
    attachments: Array<{ filename: string | null; size: number; sha256: string }>;
  }>;
  deadlines: Array<{
    milestone: string;
    dueAt: string;
    dueLocal: string;
    computedFrom: string;
    computedFromLocal: string;
    rule: unknown;
    policy: string | null;
    source: string | null;
    configVersion: string | null;
    calendarVersion: string | null;
    metAt: string | null;
    breachedAt: string | null;
    /** Why the deadline does not apply ('imported': an old complaint filed quietly), or null. */
    notApplicable: string | null;
    history: Array<{ eventId: number; at: string; type: string; detail: unknown }>;
  }>;
  mailsOut: Array<{
    outboxId: number;
    kind: string;
    template: string;
    language: string;
    templateVersion: string;
    /** The template text of that version is kept in the database (template_versions). */
    templateKept: boolean;
    to: string;
    subject: string;
    messageId: string;
    createdAt: string;
    status: string;
    sentAt: string | null;
    bodySha256: string;
    attempts: Array<{ attempt: number; startedAt: string; finishedAt: string | null; outcome: string | null; response: string | null }>;
  }>;
  events: AuditEvent[];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const DEADLINE_EVENTS = new Set(['deadline-set', 'deadline-extended', 'milestone-met', 'deadline-escalated', 'deadline-breached']);

export function caseAudit(store: Store, c: CaseRow, now: Date = new Date()): CaseAudit {
  // The case's chain, checked event by event.
  const checker = new ChainChecker(c.id, store.retentionRunIds());
  const problems = new Map<number, string | null>();
  for (const row of store.eventsOfChain(c.id)) {
    const p = checker.add(row);
    problems.set(row.id, p ? `${p.kind}: ${p.message}` : null);
  }
  const chain = checker.result();

  const messages = store.messagesOfCase(c.id);
  const inboundIds = new Set(messages.map((m) => m.inbound_id));
  const mailsIn = messages.map((m) => {
    const i = store.inbound(m.inbound_id)!;
    const raw = store.rawMail(i.sha256);
    const rawStorage: CaseAudit['mailsIn'][number]['rawStorage'] = !raw
      ? store.rawMailRemoved(i.sha256)
        ? 'removed'
        : 'missing'
      : 'path' in raw
        ? 'file'
        : raw.bytes.length === 0 && i.size > 0
          ? 'removed'
          : 'database';
    return {
      inboundId: i.id,
      kind: m.kind,
      reason: i.reason,
      source: i.source,
      mailbox: i.mailbox,
      locator: i.locator,
      uidvalidity: i.uidvalidity,
      uid: i.uid,
      receivedAt: i.received_at,
      receivedLocal: formatStockholm(new Date(i.received_at)),
      storedAt: i.stored_at,
      filedAt: i.processed_at,
      rawSha256: i.sha256,
      size: i.size,
      rawStorage,
      messageId: m.message_id,
      from: m.from_address,
      subject: m.subject,
      dateHeader: m.date_header,
      attachments: store.attachmentsOfMessage(m.id).map((a) => ({ filename: a.filename, size: a.size, sha256: a.sha256 })),
    };
  });

  // Events: the case's chain, and the events of its mails recorded before they had a case.
  const caseEvents = store.eventsOfCase(c.id);
  const mailEvents: EventRow[] = [];
  for (const id of inboundIds) for (const e of store.eventsOfInbound(id)) if (e.case_id === null) mailEvents.push(e);
  const events: AuditEvent[] = [...caseEvents.map((e) => ({ e, chain: 'case' as const })), ...mailEvents.map((e) => ({ e, chain: 'mail' as const }))]
    .sort((a, b) => a.e.at.localeCompare(b.e.at) || a.e.id - b.e.id)
    .map(({ e, chain: which }) => ({
      id: e.id,
      at: e.at,
      type: e.type,
      actor: e.actor,
      from: e.from_state,
      to: e.to_state,
      detail: parseJson(e.detail),
      chain: which,
      hash: shortHash(e.hash),
      prevHash: shortHash(e.prev_hash),
      verifies: which === 'case' ? problems.get(e.id) === null : null,
      problem: which === 'case' ? (problems.get(e.id) ?? null) : null,
      anonymised: e.anonymised_at !== null,
    }));

  const deadlines = store.deadlinesOfCase(c.id).map((d) => ({
    milestone: d.milestone,
    dueAt: d.due_at,
    dueLocal: formatStockholm(new Date(d.due_at)),
    computedFrom: d.computed_from,
    computedFromLocal: formatStockholm(new Date(d.computed_from)),
    rule: parseJson(d.rule),
    policy: d.policy,
    source: d.source,
    configVersion: d.config_version,
    calendarVersion: d.calendar_version,
    metAt: d.met_at,
    breachedAt: d.breached_at,
    notApplicable: d.not_applicable,
    history: caseEvents
      .filter((e) => DEADLINE_EVENTS.has(e.type))
      .filter((e) => (parseJson(e.detail) as { milestone?: unknown } | null)?.milestone === d.milestone)
      .map((e) => ({ eventId: e.id, at: e.at, type: e.type, detail: parseJson(e.detail) })),
  }));

  const kept = new Map<string, boolean>();
  const mailsOut = store.outboxOfCase(c.id).map((o) => {
    const k = `${o.template_version}\u0000${o.template}\u0000${o.language}`;
    if (!kept.has(k))
      kept.set(
        k,
        store.templateVersions(o.template_version).some((t) => t.kind === o.template && t.language === o.language),
      );
    return {
      outboxId: o.id,
      kind: o.kind,
      template: o.template,
      language: o.language,
      templateVersion: o.template_version,
      templateKept: kept.get(k)!,
      to: o.to_address,
      subject: o.subject,
      messageId: o.message_id,
      createdAt: o.created_at,
      status: o.status,
      sentAt: o.sent_at,
      bodySha256: sha256Hex(o.body_text),
      attempts: store.outboxAttempts(o.id).map((a) => ({
        attempt: a.attempt,
        startedAt: a.started_at,
        finishedAt: a.finished_at,
        outcome: a.outcome,
        response: a.response,
      })),
    };
  });

  const fields = parseJson(c.fields) as { personnummerMasked?: string | null } | null;
  return {
    case: {
      ...caseSummary(store, c, now),
      filedAt: c.filed_at,
      personnummer: { masked: fields?.personnummerMasked ?? null, stored: personnummerStorage(c) },
    },
    chain: {
      events: chain.events,
      anonymised: chain.anonymised,
      head: chain.head,
      ok: chain.ok,
      firstBreak: chain.firstBreak,
      brokenEvents: [...chain.brokenEvents],
    },
    mailsIn,
    deadlines,
    mailsOut,
    events,
  };
}

/** The audit view as text for people. */
export function formatCaseAudit(a: CaseAudit): string {
  const c = a.case;
  const lines: string[] = [];
  lines.push(`${c.number}  [${c.status}]  audit view`);
  // Customer text one safe line each (src/util/terminal.ts).
  lines.push(`Customer:     ${terminalLine(c.customer.name)} <${terminalLine(c.customer.address ?? 'no address')}>`);
  const pnrStored = { none: 'not stored', encrypted: 'stored encrypted (AES-256-GCM)', clear: 'STORED IN CLEAR (run klagomal audit encrypt-personnummer)' }[
    c.personnummer.stored
  ];
  lines.push(`Personnummer: ${c.personnummer.masked ?? 'none found'}; ${pnrStored}`);
  lines.push(`Received:     ${c.receivedAt} (${c.receivedLocal} Stockholm)   filed ${c.filedAt}`);
  if (c.outcome)
    lines.push(`Outcome:      ${c.outcome} (by ${c.decidedBy ?? '?'})${c.compensationSek !== null ? `, compensation ${c.compensationSek} kr` : ''}`);
  lines.push(
    a.chain.ok
      ? `History:      ${a.chain.events} event(s), hash chain verifies; head ${shortHash(a.chain.head)}${a.chain.anonymised ? `; ${a.chain.anonymised} anonymised by retention` : ''}`
      : `History:      ${a.chain.events} event(s), HASH CHAIN BROKEN at event #${a.chain.firstBreak!.eventId}: ${a.chain.firstBreak!.kind}: ${a.chain.firstBreak!.message}`,
  );

  lines.push('', 'Mails in:');
  for (const m of a.mailsIn) {
    const where = [m.source, m.mailbox, m.uid !== null ? `UIDVALIDITY ${m.uidvalidity} UID ${m.uid}` : m.locator].filter(Boolean).join(' ');
    lines.push(
      `  <- #${m.inboundId} ${m.kind}${m.reason ? ` (${terminalLine(m.reason)})` : ''}  from ${terminalLine(m.from ?? '?')}  "${terminalLine(m.subject)}"`,
    );
    lines.push(`       received ${m.receivedAt} (${m.receivedLocal}), stored ${m.storedAt}, filed ${m.filedAt ?? '-'}; via ${where}`);
    lines.push(
      `       raw sha256 ${m.rawSha256}, ${m.size} bytes, kept in ${m.rawStorage}; Message-ID ${m.messageId ?? '(none)'}; Date: ${m.dateHeader ?? '(none)'}`,
    );
    for (const att of m.attachments) lines.push(`       attachment ${terminalLine(att.filename ?? '(no name)')} ${att.size} bytes sha256 ${att.sha256}`);
  }

  lines.push('', 'Deadlines (inputs of each computation):');
  for (const d of a.deadlines) {
    const rule = d.rule as { amount?: unknown; unit?: unknown } | null;
    lines.push(`  ${d.milestone}: due ${d.dueAt} (${d.dueLocal})`);
    lines.push(
      `       counted from ${d.computedFrom} (${d.computedFromLocal}); rule ${rule?.amount ?? '?'} ${rule?.unit ?? '?'}; policy ${d.policy ?? '?'} (${d.source ?? 'no source'}); config ${d.configVersion ?? '?'}, calendar ${d.calendarVersion ?? '?'}`,
    );
    if (d.metAt || d.breachedAt) lines.push(`       ${d.metAt ? `met ${d.metAt}` : 'not met'}${d.breachedAt ? `; breached ${d.breachedAt}` : ''}`);
    if (d.notApplicable) lines.push(`       not applicable (${d.notApplicable}): kept as history, never escalated or counted`);
    for (const h of d.history) lines.push(`       #${h.eventId} ${h.at} ${h.type} ${JSON.stringify(h.detail)}`);
  }

  lines.push('', 'Mails out:');
  for (const o of a.mailsOut) {
    lines.push(`  -> #${o.outboxId} ${o.kind} to ${terminalLine(o.to)}  "${terminalLine(o.subject)}"  [${o.status}${o.sentAt ? ` ${o.sentAt}` : ''}]`);
    lines.push(
      `       template ${o.template}/${o.language} version ${o.templateVersion}${o.templateKept ? ' (text kept)' : ' (TEXT NOT KEPT)'}; Message-ID ${o.messageId}; queued ${o.createdAt}; body sha256 ${o.bodySha256}`,
    );
    for (const t of o.attempts)
      lines.push(`       attempt ${t.attempt}: ${t.startedAt} -> ${t.finishedAt ?? '(no result)'} ${t.outcome ?? ''} ${t.response ?? ''}`.trimEnd());
  }

  lines.push('', 'Events (id, time, type, actor, states, hash, chain check):');
  for (const e of a.events) {
    const states = e.from || e.to ? ` ${e.from ?? ''}->${e.to ?? ''}` : '';
    const check = e.verifies === null ? '(chain without a case: audit verify)' : e.verifies ? 'ok' : `BROKEN (${e.problem})`;
    lines.push(`  #${String(e.id).padEnd(5)} ${e.at}  ${e.type}${states}  ${e.actor}  ${e.hash}  ${check}`);
    lines.push(`         ${e.anonymised ? '(detail anonymised by retention)' : JSON.stringify(e.detail)}`);
  }
  return lines.join('\n');
}
