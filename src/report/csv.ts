/**
 * The register as CSV for a spreadsheet (`klagomal report --format csv`): one row per case,
 * one column per fact (RFC 4180; formula injection neutralised).
 */
import { formatStockholm } from '../util/stockholm-time';
import { ASSESSMENT_ITEMS } from '../officers/commands';
import type { RegisterDeadline, RegisterPolicyDeadline, RegisterRow } from './register';

const local = (instant: string | null): string | null => (instant ? formatStockholm(new Date(instant)) : null);

/**
 * A cell for a spreadsheet. RFC 4180: a field with a comma, quote, CR or LF is quoted and its
 * quotes doubled. Formula injection (OWASP "CSV Injection"): a text that starts with = + - @,
 * a tab or a CR would be run as a formula by Excel or LibreOffice; it gets a leading ' so it
 * stays text. Numbers we computed are written as numbers.
 */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The milestones that get their own columns, in order. */
const CSV_MILESTONES = ['acknowledgement', 'firstAnswer', 'finalAnswer', 'finalAnswerMax'] as const;

type CsvColumn = readonly [header: string, value: (r: RegisterRow) => string | number | boolean | null];

const deadlineOf = (r: RegisterRow, m: string): RegisterDeadline | undefined => r.deadlines.find((d) => d.milestone === m);
const policyDeadlineOf = (r: RegisterRow, regime: 'psd2' | 'ecsp', m: string): RegisterPolicyDeadline | undefined =>
  r.policyDeadlines.find((p) => p.regime === regime && p.milestone === m);

const CSV_COLUMNS: readonly CsvColumn[] = [
  ['case_number', (r) => r.caseNumber],
  ['status', (r) => r.status],
  ['received_utc', (r) => r.receivedAt],
  ['received_local', (r) => r.receivedLocal],
  ['filed_utc', (r) => r.filedAt],
  ['channel', (r) => r.channel],
  ['source', (r) => r.source],
  ['mailbox', (r) => r.mailbox],
  ['forwarded_by', (r) => r.forwardedBy],
  ['message_id', (r) => r.messageId],
  ['raw_sha256', (r) => r.rawSha256],
  ['customer_type', (r) => r.customerType],
  ['customer_type_source', (r) => r.customerTypeSource],
  ['customer_name', (r) => r.customerName],
  ['customer_address', (r) => r.customerAddress],
  ['personnummer_masked', (r) => r.personnummerMasked],
  ['language', (r) => r.language],
  ['subject', (r) => r.subject],
  ['category', (r) => r.category],
  ['regime', (r) => r.regime],
  ['references', (r) => r.references.map((x) => `${x.type}:${x.value}`).join('; ')],
  ['incident_date', (r) => r.incidentDate],
  ['compensation_asked', (r) => r.compensationAsked],
  ['amounts_mentioned_sek', (r) => r.amountsSek.join('; ')],
  ['compensation_reason', (r) => r.compensationReason],
  ['compensation_paid_sek', (r) => r.compensationPaidSek],
  ['contact_person', (r) => r.contactPerson],
  ['acknowledgement_sent_utc', (r) => r.acknowledgementSentAt],
  ['acknowledgement_suppressed', (r) => r.acknowledgementSuppressed],
  ['information_requests', (r) => r.informationRequests],
  ['final_answer_sent_utc', (r) => r.finalAnswerSentAt],
  ...CSV_MILESTONES.flatMap((m): CsvColumn[] => [
    [`${m}_policy`, (r) => deadlineOf(r, m)?.policy ?? null],
    [`${m}_rule`, (r) => deadlineOf(r, m)?.rule ?? null],
    [`${m}_policy_source`, (r) => deadlineOf(r, m)?.source ?? null],
    [`${m}_original_due_local`, (r) => local(deadlineOf(r, m)?.originalDueAt ?? null)],
    [`${m}_due_local`, (r) => deadlineOf(r, m)?.dueLocal ?? null],
    [`${m}_met_local`, (r) => deadlineOf(r, m)?.metLocal ?? null],
    [`${m}_result`, (r) => deadlineOf(r, m)?.result ?? null],
    [`${m}_breach_cause`, (r) => deadlineOf(r, m)?.breachDetail ?? null],
  ]),
  ['holding_replies', (r) => r.delays.filter((d) => d.kind === 'holding-reply').length],
  ['delay_notices', (r) => r.delays.filter((d) => d.kind === 'delay-notice').length],
  [
    'delays',
    (r) =>
      r.delays
        .map(
          (d) =>
            `${d.at} ${d.kind} ${d.milestone} to ${d.toDueLocal} by ${d.by}: ${d.reason} (notice ${d.notice}${d.noticeSentAt ? ` ${d.noticeSentAt}` : ''})`,
        )
        .join(' | '),
  ],
  ['outcome', (r) => r.outcome],
  ['decided_by', (r) => r.decidedBy],
  ['decided_utc', (r) => r.decidedAt],
  ['closed_utc', (r) => r.closedAt],
  ['closed_local', (r) => r.closedLocal],
  ['related_cases', (r) => r.relatedCases.join(' ')],
  ['refers_to', (r) => r.refersTo],
  ...ASSESSMENT_ITEMS.map((item): CsvColumn => [`assessment_${item.replace(/-/g, '_')}`, (r) => r.assessment[item] ?? null]),
  ['legal_hold', (r) => r.legalHold],
  ['anonymised_utc', (r) => r.anonymisedAt],
  // Each statutory limit and the firm's promise measured apart (policy deadlines, never moved).
  ['psd2_15_due_utc', (r) => policyDeadlineOf(r, 'psd2', 'finalAnswer')?.dueAt ?? null],
  ['psd2_15_result', (r) => policyDeadlineOf(r, 'psd2', 'finalAnswer')?.result ?? null],
  ['psd2_35_due_utc', (r) => policyDeadlineOf(r, 'psd2', 'finalAnswerMax')?.dueAt ?? null],
  ['psd2_35_result', (r) => policyDeadlineOf(r, 'psd2', 'finalAnswerMax')?.result ?? null],
  ['ecsp_10_result', (r) => policyDeadlineOf(r, 'ecsp', 'acknowledgement')?.result ?? null],
  ['promise_final_answer_result', (r) => r.policyDeadlines.find((p) => !p.statutory && p.milestone === 'finalAnswer')?.result ?? null],
  // The register of record (REGULATION.md §4 A): set by officers by mail (src/officers/record-commands.ts).
  ['customer_type_by', (r) => r.customerTypeBy],
  ['representative', (r) => (r.representative ? `${r.representative.name ?? ''} <${r.representative.address ?? ''}>`.trim() : null)],
  ['product', (r) => r.product],
  ['first_complained_date', (r) => r.firstComplainedAt],
  ['inadmissible_reason', (r) => r.inadmissible?.reason ?? null],
  ['inadmissible_by', (r) => r.inadmissible?.by ?? null],
  ['reasons_summary', (r) => r.reasonsSummary],
  ['compensation_paid_date', (r) => r.compensationPaidAt],
  ['reopened', (r) => r.reopened],
  ['arn', (r) => r.arn.map((x) => `${x.reference} ${x.state} ${x.on}`).join('; ')],
  ['arn_result', (r) => r.arn[r.arn.length - 1]?.state ?? null],
  ['court', (r) => r.court.map((x) => `${x.reference} ${x.state} ${x.on}`).join('; ')],
  ['root_causes', (r) => r.rootCauses.map((x) => (x.text ? `${x.code}: ${x.text}` : x.code)).join('; ')],
  ['actions', (r) => r.actions.map((x, i) => `${i + 1}. [${x.state}${x.doneAt ? ` ${x.doneAt.slice(0, 10)}` : ''}] ${x.text}`).join('; ')],
  ['retention_until_utc', (r) => r.retentionUntil],
  // Four eyes on the final answer (approval.finalAnswer); empty when it went out without approval.
  ['final_answer_author', (r) => r.approval?.author ?? null],
  ['final_answer_approver', (r) => r.approval?.approver ?? null],
  ['final_answer_drafted_utc', (r) => r.approval?.draftedAt ?? null],
  ['final_answer_approved_utc', (r) => r.approval?.approvedAt ?? null],
  ['final_answer_approved_sent_utc', (r) => r.approval?.sentAt ?? null],
];

export const CSV_HEADERS: readonly string[] = CSV_COLUMNS.map((c) => c[0]);

/** The register as CSV: UTF-8 with a byte order mark (Excel reads UTF-8 only with one), CRLF line ends (RFC 4180). */
export function registerCsv(rows: readonly RegisterRow[]): string {
  const lines = [CSV_HEADERS.map(csvCell).join(','), ...rows.map((r) => CSV_COLUMNS.map(([, v]) => csvCell(v(r))).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
