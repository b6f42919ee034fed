/**
 * All SQL of klagomal lives in src/store, one file per aggregate: inbound.ts (raw mail, inbound
 * rows, cursors, quarantine), cases.ts, messages.ts, deadlines.ts, outbox.ts (and meta),
 * events.ts (the hash-chained history), audit.ts (reading the chains), retention.ts (retention
 * and legal hold), subject.ts (the data subject export), register.ts (the register and the
 * statistics), status.ts (status, metrics, preflight), reconcile-runs.ts (reconciliation's runs
 * and lookups), source-status.ts (what each source records for `status`), audit-trail.ts (who read personal data, the
 * deadline configurations as first used, the audit rehearsals' reads), record.ts (the register of record: channel, customer
 * type, product, ARN and court, root causes, actions), approvals.ts (final
 * answers waiting for approval), backup.ts (backups and restores), documents.ts (what
 * attachments read as documents gave, and the OCR queue), monthly.ts (the monthly management pack's claims), and the queries of the
 * commands that read across them.
 * `Store` joins the aggregates into one object (the TypeScript handbook's mixin pattern), so
 * that a stage calls `store.x(...)` inside one `store.tx(...)` whatever table x touches.
 *
 * Values from mail are always bound as parameters, never put into SQL text.
 */
import { StoreBase } from './base';
import { InboundQueries } from './inbound';
import { CaseQueries } from './cases';
import { MessageQueries } from './messages';
import { DeadlineQueries } from './deadlines';
import { OutboxQueries } from './outbox';
import { EventQueries } from './events';
import { AuditQueries } from './audit';
import { RetentionQueries } from './retention';
import { SubjectQueries } from './subject';
import { RegisterQueries } from './register';
import { StatusQueries } from './status';
import { ReconcileQueries } from './reconcile-runs';
import { SourceStatusQueries } from './source-status';
import { AuditTrailQueries } from './audit-trail';
import { RecordQueries } from './record';
import { ApprovalQueries } from './approvals';
import { BackupQueries } from './backup';
import { DocumentQueries } from './documents';
import { MonthlyPackQueries } from './monthly';

export * from './rows';

export type { DraftState, FinalAnswerDraftRow, PendingDraftRow } from './approvals';
export type { AttachmentReadingRow, NewAttachmentReading, PendingOcrRow } from './documents';
export type { DraftWaitRow } from './monthly';

const PARTS = [
  InboundQueries,
  CaseQueries,
  MessageQueries,
  DeadlineQueries,
  OutboxQueries,
  EventQueries,
  AuditQueries,
  RetentionQueries,
  SubjectQueries,
  RegisterQueries,
  StatusQueries,
  ReconcileQueries,
  SourceStatusQueries,
  AuditTrailQueries,
  RecordQueries,
  ApprovalQueries,
  BackupQueries,
  DocumentQueries,
  MonthlyPackQueries,
];

export class Store extends StoreBase {}
// Declaration merging: Store has every aggregate's methods, copied onto its prototype below.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Store
  extends
    InboundQueries,
    CaseQueries,
    MessageQueries,
    DeadlineQueries,
    OutboxQueries,
    EventQueries,
    AuditQueries,
    RetentionQueries,
    SubjectQueries,
    RegisterQueries,
    StatusQueries,
    ReconcileQueries,
    SourceStatusQueries,
    AuditTrailQueries,
    RecordQueries,
    ApprovalQueries,
    BackupQueries,
    DocumentQueries,
    MonthlyPackQueries {}

for (const part of PARTS) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name === 'constructor') continue;
    if (Object.prototype.hasOwnProperty.call(Store.prototype, name)) throw new Error(`store: ${name} is defined by two aggregates`);
    Object.defineProperty(Store.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name)!);
  }
}
