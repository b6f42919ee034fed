/**
 * The data subject access export's reads (src/retention/subject-export.ts, GDPR art. 15): a
 * person's cases by address or personnummer, their mails on no case, and what of each mail and
 * case the export writes. Read-only; the export's event is appended by the caller.
 */
import type { CaseRow, MessageRow } from './rows';
import { StoreBase } from './base';

/** An inbound mail as the export lists it. */
export interface InboundFacts {
  id: number;
  sha256: string;
  size: number;
  received_at: string;
  state: string;
  kind: string | null;
  case_id: number | null;
  raw_removed_at: string | null;
}

export class SubjectQueries extends StoreBase {
  /** Every case whose customer address is `address` (given in lower case), case-insensitively. */
  casesOfCustomerAddress(address: string): CaseRow[] {
    return this.q('SELECT * FROM cases WHERE lower(customer_address) = ? ORDER BY id').all(address) as CaseRow[];
  }

  /** Every case that holds a personnummer (encrypted or not), whole rows: the export decrypts and compares each. */
  caseRowsWithPersonnummer(): CaseRow[] {
    return this.q("SELECT * FROM cases WHERE personnummer IS NOT NULL AND personnummer != '' ORDER BY id").all() as CaseRow[];
  }

  /** Cases that keep only the mask of a personnummer (storage off), with this mask. */
  countCasesWithOnlyMaskedPersonnummer(masked: string): number {
    return (
      this.q("SELECT COUNT(*) AS n FROM cases WHERE (personnummer IS NULL OR personnummer = '') AND json_extract(fields, '$.personnummerMasked') = ?").get(
        masked,
      ) as { n: number }
    ).n;
  }

  /** Filed mails on no case whose From or Reply-To is `address` (lower case). */
  mailsOnNoCaseFromAddress(address: string): InboundFacts[] {
    return this.q(
      `SELECT i.id, i.sha256, i.size, i.received_at, i.state, i.kind, i.case_id, i.raw_removed_at FROM messages m JOIN inbound i ON i.id = m.inbound_id
         WHERE m.case_id IS NULL AND (lower(m.from_address) = ? OR lower(m.reply_to) = ?) ORDER BY i.id`,
    ).all(address, address) as InboundFacts[];
  }

  /** Quarantined mails that were never parsed (their sender is only in the raw headers). */
  quarantinedMailsNotParsed(): InboundFacts[] {
    return this.q(
      `SELECT i.id, i.sha256, i.size, i.received_at, i.state, i.kind, i.case_id, i.raw_removed_at FROM inbound i
         WHERE i.state = 'quarantined' AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.inbound_id = i.id) ORDER BY i.id`,
    ).all() as InboundFacts[];
  }

  /** Mails from `address` (lower case) on cases of another customer address. */
  countMailsFromAddressOnOthersCases(address: string): number {
    return (
      this.q(
        `SELECT COUNT(*) AS n FROM messages m JOIN cases c ON c.id = m.case_id
           WHERE (lower(m.from_address) = ? OR lower(m.reply_to) = ?) AND lower(COALESCE(c.customer_address, '')) != ?`,
      ).get(address, address, address) as { n: number }
    ).n;
  }

  /** A raw mail's row whether or not retention removed its bytes (removed_at says). */
  rawMailRow(sha256: string): { bytes: Buffer | null; path: string | null; removed_at: string | null } | undefined {
    return this.q('SELECT bytes, path, removed_at FROM raw_mail WHERE sha256 = ?').get(sha256) as
      { bytes: Buffer | null; path: string | null; removed_at: string | null } | undefined;
  }

  /** The parsed message of an inbound mail, if it was parsed. */
  messageOfInbound(inboundId: number): MessageRow | undefined {
    return this.q('SELECT * FROM messages WHERE inbound_id = ?').get(inboundId) as MessageRow | undefined;
  }

  inboundFacts(inboundId: number): InboundFacts | undefined {
    return this.q('SELECT id, sha256, size, received_at, state, kind, case_id, raw_removed_at FROM inbound WHERE id = ?').get(inboundId) as
      InboundFacts | undefined;
  }

  /** A case's legal hold columns (hold_reason null: not held). */
  legalHoldOfCase(caseId: number): { hold_reason: string | null; held_at: string | null; held_by: string | null } | undefined {
    return this.q('SELECT hold_reason, held_at, held_by FROM cases WHERE id = ?').get(caseId) as
      { hold_reason: string | null; held_at: string | null; held_by: string | null } | undefined;
  }
}
