/**
 * The rows of the tables and the inputs of inserts: the types every aggregate of the store and
 * its callers share.
 */
import type { Actor, CaseOutcome, CaseStatus, EventType, MailKind, OutboundKind, OutboxStatus } from '../cases/lifecycle';
import type { Instant } from '../util/clock';
/** One line of `klagomal mail list`. */
export interface MailListRow {
  inbound_id: number;
  kind: string;
  reason: string | null;
  received_at: string;
  duplicate_of: number | null;
  from_address: string | null;
  subject: string | null;
  case_number: string | null;
  /** For a duplicate: the case of the mail it duplicates. */
  duplicate_of_case: string | null;
}

export interface InboundRow {
  id: number;
  source: string;
  mailbox: string | null;
  locator: string | null;
  source_key: string | null;
  uidvalidity: string | null;
  uid: number | null;
  sha256: string;
  size: number;
  received_at: Instant;
  stored_at: Instant;
  state: 'stored' | 'filed' | 'quarantined';
  kind: MailKind | null;
  reason: string | null;
  message_id: string | null;
  duplicate_of: number | null;
  case_id: number | null;
  processed_at: Instant | null;
  server_marked_at: Instant | null;
  attempts: number;
}

export interface NewInbound {
  source: string;
  mailbox: string | null;
  locator: string | null;
  sourceKey: string | null;
  uidvalidity: string | null;
  uid: number | null;
  receivedAt: Instant;
  sha256: string;
  size: number;
  /** The bytes of a small mail, or the path (relative to the data folder) of a large one's file. */
  raw: { bytes: Buffer } | { path: string };
}

export interface CaseRow {
  id: number;
  number: string;
  status: CaseStatus;
  customer_address: string | null;
  customer_name: string | null;
  subject: string | null;
  language: string;
  received_at: Instant;
  filed_at: Instant;
  fields: string;
  refers_to_case_id: number | null;
  updated_at: Instant;
  contact_officer: string | null;
  category: string | null;
  /** Encrypted ("v1:...", src/cases/personnummer-store.ts), in clear before schema 8, or null. */
  personnummer: string | null;
  subject_key: string | null;
  outcome: CaseOutcome | null;
  decided_by: string | null;
  compensation_sek: number | null;
  assessment: string;
  /** The statutory regime the case is handled under (migration 11; src/deadlines/regime.ts). */
  regime: Regime;
  /** The register of record (migration 13; src/officers/record-commands.ts). */
  channel: Channel;
  postal_address: string | null;
  customer_type: 'consumer' | 'business' | null;
  customer_type_by: string | null;
  representative_name: string | null;
  representative_address: string | null;
  product: string | null;
  inadmissible_reason: string | null;
  inadmissible_by: string | null;
  reasons_summary: string | null;
  compensation_paid_at: string | null;
  first_complained_at: string | null;
}

/** How the complaint reached the firm (an officer registers the others by mail: #register). */
export type Channel = 'email' | 'letter' | 'phone' | 'chat' | 'in-person';
export const CHANNELS: readonly Channel[] = ['email', 'letter', 'phone', 'chat', 'in-person'];

/** 'psd2': the complaint concerns a payment service (PSD2 art. 101); 'none': no statutory answer time. */
export type Regime = 'none' | 'psd2';

/** One policy's deadline for one milestone, as computed from receipt and never moved (migration 11). */
export interface PolicyDeadlineRow {
  case_id: number;
  milestone: string;
  policy: string;
  source: string;
  statutory: 0 | 1;
  /** The statutory regime the rule belongs to ('psd2', 'ecsp'), or null for the firm's own promise. */
  regime: 'psd2' | 'ecsp' | null;
  due_at: Instant;
  rule: string;
  computed_from: Instant;
  config_version: string;
  calendar_version: string;
  not_applicable: string | null;
}

export type NewPolicyDeadline = Omit<PolicyDeadlineRow, 'rule' | 'not_applicable'> & { rule: Record<string, unknown>; not_applicable?: string | null };

export interface MessageRow {
  id: number;
  inbound_id: number;
  case_id: number | null;
  kind: MailKind;
  message_id: string | null;
  in_reply_to: string | null;
  refs: string;
  from_address: string | null;
  from_name: string | null;
  reply_to: string | null;
  to_addresses: string;
  cc_addresses: string;
  subject: string | null;
  date_header: Instant | null;
  received_at: Instant;
  body_text: string | null;
  language: string | null;
  problems: string;
  created_at: Instant;
  new_text: string | null;
  quoted_text: string | null;
}

export interface AttachmentRow {
  id: number;
  message_row: number;
  filename: string | null;
  content_type: string | null;
  size: number;
  sha256: string;
  path: string;
}

export interface OutboxRow {
  id: number;
  case_id: number | null;
  kind: OutboundKind;
  idempotency_key: string;
  template: string;
  language: string;
  template_version: string;
  from_address: string;
  from_name: string;
  to_address: string;
  subject: string;
  message_id: string;
  in_reply_to: string | null;
  refs: string;
  headers: string;
  body_text: string;
  body_html: string | null;
  date_header: Instant;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Instant;
  last_error: string | null;
  created_at: Instant;
  sent_at: Instant | null;
  transport_response: string | null;
  retry_from: Instant | null;
  attach_inbound_id: number | null;
  /** JSON array of the copies (Cc) a server took in an attempt that failed for the customer (migration 17), or null. */
  copies_accepted: string | null;
}

export interface EventRow {
  id: number;
  at: Instant;
  case_id: number | null;
  inbound_id: number | null;
  outbox_id: number | null;
  actor: string;
  type: EventType;
  from_state: string | null;
  to_state: string | null;
  detail: string;
  /** The hash chain (migration 8, src/store/event-hash.ts): the previous event's hash in this case's chain, ... */
  prev_hash: string | null;
  /** ... this event's hash over prev_hash and its fields, ... */
  hash: string | null;
  /** ... and sha256(detail) as first written (kept when retention blanks the detail). */
  detail_hash: string | null;
  /** Set when retention replaced the detail with {"anonymised":true}, by run anonymised_by_run. */
  anonymised_at: Instant | null;
  anonymised_by_run: number | null;
}

export interface DeadlineRow {
  case_id: number;
  milestone: string;
  due_at: Instant;
  rule: string;
  computed_from: Instant;
  met_at: Instant | null;
  policy: string | null;
  source: string | null;
  config_version: string | null;
  calendar_version: string | null;
  breached_at: Instant | null;
  next_escalation_at: Instant | null;
  /** Why the deadline does not apply ('imported'), or null when it does (migration 10). */
  not_applicable: string | null;
}

export interface NewDeadline {
  caseId: number;
  milestone: string;
  dueAt: Instant;
  rule: Record<string, unknown>;
  computedFrom: Instant;
  policy: string;
  source: string;
  configVersion: string;
  calendarVersion: string;
  nextEscalationAt: Instant | null;
  /** Why the deadline does not apply ('imported': an old complaint filed quietly); it is kept as history only. */
  notApplicable?: string | null;
}

/** An open deadline with what the escalation pass needs of its case. */
export interface OpenDeadlineRow extends DeadlineRow {
  number: string;
  status: CaseStatus;
  contact_officer: string | null;
  customer_name: string | null;
  customer_address: string | null;
  subject: string | null;
  language: string;
  received_at: Instant;
}

export interface QuarantineRow {
  inbound_id: number;
  stage: string;
  error: string;
  first_at: Instant;
  last_at: Instant;
  attempts: number;
  released_at: Instant | null;
}

export interface NewEvent {
  at: Instant;
  caseId?: number | null;
  inboundId?: number | null;
  outboxId?: number | null;
  actor: Actor;
  type: EventType;
  fromState?: string | null;
  toState?: string | null;
  detail?: Record<string, unknown>;
}

export interface NewMessage {
  inboundId: number;
  caseId: number | null;
  kind: MailKind;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  fromAddress: string | null;
  fromName: string | null;
  replyTo: string | null;
  to: string[];
  cc: string[];
  subject: string | null;
  dateHeader: Instant | null;
  receivedAt: Instant;
  bodyText: string;
  newText: string | null;
  quotedText: string | null;
  language: string | null;
  problems: string[];
  createdAt: Instant;
}

export interface NewAttachment {
  filename: string | null;
  contentType: string | null;
  size: number;
  sha256: string;
  path: string;
}

export interface NewCase {
  number: string;
  category: string | null;
  contactOfficer: string | null;
  /** Already encrypted by the caller (sealPersonnummer), or null. */
  personnummer: string | null;
  subjectKey: string | null;
  customerAddress: string | null;
  customerName: string | null;
  subject: string | null;
  language: string;
  receivedAt: Instant;
  filedAt: Instant;
  fields: Record<string, unknown>;
  refersToCaseId: number | null;
  /** The statutory regime (default 'none'). */
  regime?: Regime;
}

export interface NewOutbox {
  caseId: number | null;
  kind: OutboundKind;
  idempotencyKey: string;
  template: string;
  language: string;
  templateVersion: string;
  fromAddress: string;
  fromName: string;
  toAddress: string;
  subject: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  bodyText: string;
  bodyHtml: string | null;
  dateHeader: Instant;
  createdAt: Instant;
  /** The files the template version was made of; kept once per version (template_versions). */
  templateSources?: Readonly<Record<string, string>>;
  /** An inbound mail to attach as message/rfc822. */
  attachInboundId?: number | null;
  /** Files the mail carries (outbox_attachments, migration 16): inline images (cid) and attachments. */
  attachments?: readonly OutboxAttachment[];
}

/**
 * A file a queued mail carries. With a `cid` it is an inline part (RFC 2392: the HTML refers to
 * it as `cid:<cid>`), else an attachment.
 */
export interface OutboxAttachment {
  filename: string;
  contentType: string;
  cid: string | null;
  content: Buffer;
}

/** An outbox attachment as stored: content null once the mail was sent (kept: size and hash). */
export interface OutboxAttachmentRow {
  outbox_id: number;
  position: number;
  filename: string;
  content_type: string;
  cid: string | null;
  size: number;
  sha256: string;
  content: Buffer | null;
}
