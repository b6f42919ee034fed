/**
 * Retention's work on one case (or one batch of mails on no case): what it removes, field by
 * field, and the files it deletes after the commit. The run that calls it, the periods and the
 * schedule are in ./retention.ts; the SQL is in src/store/retention.ts.
 *
 * What goes and what stays, field by field (statistics and the register must still hold):
 *
 *   cases       customer_address, customer_name, subject, subject_key, personnummer,
 *               postal_address, representative_name and _address -> NULL; reasons_summary and
 *               inadmissible_reason -> "(anonymised)" (that there were some stays); a detected
 *               customer type keeps "detected" without its why; root causes keep their code,
 *               corrective actions their state, ARN and court referrals their number and states
 *               fields: kept category, categoryMatched, incidentDate, descriptionWords,
 *               compensationAsked, amountsSek, fromForm, missing, customerAddressSource,
 *               fromStaff; references keep their type and lose their value (an account or
 *               invoice number points at a person); everything else (contactName, email,
 *               phones, postalAddress, incidentDateText, compensationReason,
 *               personnummerMasked, and any key added later) is dropped: an allow-list, so a
 *               new field is removed until someone decides to keep it.
 *               kept: number, status, category, language, dates, outcome, decided_by,
 *               compensation_sek, assessment, contact_officer, relations, deadlines, escalations
 *   messages    addresses, names, subject, text, quoted text, problems -> blank; kept: kind,
 *               dates, language, Message-ID and threading ids (dedupe and threading need them)
 *   attachments rows deleted; the file deleted when no remaining row points at it
 *   raw mail    bytes (or the file of a large mail) removed once every inbound row that points
 *               at them is done with them (raw_removed_at); the row keeps sha256 and size, and
 *               gets removed_at, so the register and reconciliation know the mail existed
 *   inbound     kept (source, folder, UID, received, sha256, size, kind); anonymised_at set
 *   outbox      subject, text, html, transport responses -> blank; to_address blank unless it
 *               is a configured officer; kept: kind, template and version, dates, status
 *   events      details replaced by {"anonymised":true} through the hash chain
 *               (src/audit/chain.ts), so `audit verify` still passes; then one
 *               `retention-anonymised` event with the run and the counts
 *   quarantine  the error text of the case's mails -> a fixed text
 *   address_status  the customer's row, when no case kept in full has that address
 *
 * Which mails are the case's (Store.mailsOfCase): inbound rows filed on the case, rows without
 * a case that the case's events name (a bounce of its acknowledgement) unless a case kept in
 * full names them too, and duplicates of those without a case. Mails on no case at all
 * (auto-replies, lists, bounces of nothing) are anonymised the same way once their receipt is
 * older than the case period, unless a case kept in full names them (Store.looseMailsDue);
 * quarantined mail waits for an operator.
 *
 * Every function that changes something runs inside the caller's transaction, one per case;
 * files are recorded in `retention_pending_files` in that transaction and deleted after it
 * (flushPendingFiles), so a crash never leaves an unreferenced personal file behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import type { Store } from '../store/store';
import type { Instant } from '../util/clock';
import { anonymiseEventDetails, anonymiseMailEventDetails } from '../audit/chain';

/** The keys of a case's fields that hold no personal data (see the header). */
export const KEPT_FIELDS: readonly string[] = [
  'category',
  'categoryMatched',
  'incidentDate',
  'descriptionWords',
  'compensationAsked',
  'amountsSek',
  'fromForm',
  'missing',
  'customerAddressSource',
  'fromStaff',
];

/** The error text left in quarantine rows of an anonymised case's mails. */
const QUARANTINE_REMOVED = '(removed by retention)';

/** Pure: a case's fields with only what statistics need (see the header). */
export function anonymisedFields(fieldsJson: string): Record<string, unknown> {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(fieldsJson) as Record<string, unknown>;
  } catch {
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const k of KEPT_FIELDS) if (k in fields) out[k] = fields[k];
  if (Array.isArray(fields.references))
    out.references = fields.references.map((r) => ({ type: typeof (r as { type?: unknown })?.type === 'string' ? (r as { type: string }).type : 'unknown' }));
  return out;
}

/**
 * Mark the given inbound mails as done with their raw bytes, and remove the bytes of every raw
 * mail no other inbound row still needs. Returns the number removed. Inside a transaction.
 */
function removeRaw(store: Store, inboundIds: readonly number[], runId: number, at: Instant): number {
  if (inboundIds.length === 0) return 0;
  store.markRawRemoved(inboundIds, at);
  const shas = store.rawMailsOfInbound(inboundIds);
  let removed = 0;
  for (const sha of shas) {
    if (store.rawMailStillNeeded(sha)) continue; // still needed elsewhere
    const raw = store.rawMailNotRemoved(sha);
    if (!raw) continue;
    store.blankRawMail(sha, at);
    if (raw.path) store.queueRetentionFile(raw.path, 'raw', sha, runId, at);
    removed++;
  }
  return removed;
}

/**
 * Delete the files whose rows retention removed, if nothing references them again. Runs in
 * one transaction, which holds the write lock: no mail can be stored meanwhile. While a stored
 * mail waits to be filed (its parse may already have found one of these files in place, being
 * the same content, and will point at it when it is filed) nothing is deleted: the files stay
 * listed for the next run.
 */
export function flushPendingFiles(store: Store, dataDir: string): { removed: number; deferred: number } {
  return store.tx(() => {
    const pending = store.retentionPendingFiles();
    if (pending.length === 0) return { removed: 0, deferred: 0 };
    if (store.mailWaitingToBeFiled()) return { removed: 0, deferred: pending.length };
    const root = path.resolve(dataDir);
    let removed = 0;
    for (const f of pending) {
      const referenced = f.kind === 'attachment' ? store.attachmentFileInUse(f.path) : store.rawMailKept(f.sha256);
      const abs = path.resolve(root, f.path);
      // Only files inside the data folder, whatever a row says.
      if (!referenced && abs.startsWith(root + path.sep) && fs.existsSync(abs)) {
        fs.rmSync(abs, { force: true });
        removed++;
      }
      store.forgetRetentionFile(f.path);
    }
    return { removed, deferred: 0 };
  });
}

export interface CaseWork {
  mails: number;
  attachments: number;
  rawRemoved: number;
  outbox: number;
  events: number;
}

/** Count what anonymising a case would change (dry run). */
export function planCase(store: Store, caseId: number): CaseWork {
  const inbound = store.mailsOfCase(caseId);
  return {
    mails: inbound.length ? store.countMessagesOfInbound(inbound) : 0,
    attachments: inbound.length ? store.countAttachmentsOfInbound(inbound) : 0,
    rawRemoved: store.countRawRemovable(inbound),
    outbox: store.countOutboxMailsOfCase(caseId),
    events: store.countEventsOfCase(caseId),
  };
}

/**
 * Blank the parsed text and addresses of inbound mails, delete their attachment rows (files
 * queued), and remove their raw bytes where no other mail needs them. Inside a transaction.
 */
export function anonymiseMails(
  store: Store,
  inbound: readonly number[],
  runId: number,
  at: Instant,
): { mails: number; attachments: number; rawRemoved: number } {
  if (inbound.length === 0) return { mails: 0, attachments: 0, rawRemoved: 0 };
  const files = store.attachmentFilesOfInbound(inbound);
  const attachments = store.deleteAttachmentsOfInbound(inbound);
  for (const f of files) store.queueRetentionFile(f.path, 'attachment', f.sha256, runId, at);
  const mails = store.blankMessagesOfInbound(inbound);
  store.markInboundAnonymised(inbound, at);
  store.setQuarantineErrorOfInbound(inbound, QUARANTINE_REMOVED);
  // Their events on no case: the details name the sender, as the blanked problems did.
  anonymiseMailEventDetails(store, inbound, runId, at);
  return { mails, attachments, rawRemoved: removeRaw(store, inbound, runId, at) };
}

/** Anonymise one case (see the header). Inside a transaction; null when the case is no longer due. */
export function anonymiseCase(store: Store, config: Config, caseId: number, runId: number, at: Instant): CaseWork | null {
  const c = store.caseDueForAnonymisation(caseId);
  if (!c) return null;
  const inbound = store.mailsOfCase(caseId);

  store.anonymiseCaseRow(caseId, JSON.stringify(anonymisedFields(c.fields)), at, runId);

  const { mails, attachments, rawRemoved } = anonymiseMails(store, inbound, runId, at);

  // Mail we sent: the text goes; that it was sent, when, from which template version, stays.
  // Officers' addresses stay (who was told is the firm's record, not the customer's data).
  const officers = config.officers.map((o) => o.address.toLowerCase());
  const outboxIds = store.outboxIdsOfCase(caseId);
  if (outboxIds.length) {
    store.blankOutboxMails(outboxIds, officers);
    store.blankOutboxAttemptResponses(outboxIds);
  }
  // Final answers kept for approval hold the answer as the customer would get it: it goes too.
  store.blankDraftsOfCase(caseId);
  if (c.customer_address) store.forgetAddressStatusOfAnonymised(c.customer_address);

  const events = anonymiseEventDetails(store, caseId, runId, at);
  const work: CaseWork = { mails, attachments, rawRemoved, outbox: outboxIds.length, events };
  store.appendEvent({ at, caseId, actor: 'retention', type: 'retention-anonymised', detail: { run: runId, ...work } });
  return work;
}

/** Remove only the raw mails of a case (the raw-only period). Inside a transaction; null when not due or nothing left. */
export function removeCaseRaw(store: Store, caseId: number, runId: number, at: Instant): { mails: number; rawRemoved: number } | null {
  if (!store.caseDueForAnonymisation(caseId)) return null;
  const inbound = store.mailsOfCase(caseId);
  if (inbound.length === 0) return null;
  const left = store.inboundWithRawKept(inbound);
  if (left.length === 0) return null;
  const rawRemoved = removeRaw(store, left, runId, at);
  store.appendEvent({ at, caseId, actor: 'retention', type: 'retention-raw-removed', detail: { run: runId, mails: left.length, rawRemoved } });
  return { mails: left.length, rawRemoved };
}

/** Raw mails of the case not yet marked done (dry run of removeCaseRaw). */
export function planCaseRaw(store: Store, caseId: number): { mails: number; rawRemoved: number } | null {
  const inbound = store.mailsOfCase(caseId);
  if (inbound.length === 0) return null;
  const left = store.inboundWithRawKept(inbound);
  return left.length ? { mails: left.length, rawRemoved: store.countRawRemovable(left) } : null;
}
