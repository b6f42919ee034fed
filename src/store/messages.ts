/**
 * Messages (every mail in, as filed) and their attachments.
 */
import type { MessageRow, AttachmentRow, NewMessage, NewAttachment } from './rows';
import { StoreBase } from './base';

export class MessageQueries extends StoreBase {
  // ---- messages and attachments --------------------------------------------------------

  insertMessage(m: NewMessage): number {
    const info = this.q(
      `INSERT INTO messages (inbound_id, case_id, kind, message_id, in_reply_to, refs, from_address, from_name, reply_to, to_addresses, cc_addresses,
           subject, date_header, received_at, body_text, language, problems, created_at, new_text, quoted_text)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      m.inboundId,
      m.caseId,
      m.kind,
      m.messageId,
      m.inReplyTo,
      JSON.stringify(m.references),
      m.fromAddress,
      m.fromName,
      m.replyTo,
      JSON.stringify(m.to),
      JSON.stringify(m.cc),
      m.subject,
      m.dateHeader,
      m.receivedAt,
      m.bodyText,
      m.language,
      JSON.stringify(m.problems),
      m.createdAt,
      m.newText,
      m.quotedText,
    );
    return Number(info.lastInsertRowid);
  }

  insertAttachment(messageRow: number, a: NewAttachment): number {
    const info = this.q('INSERT INTO attachments (message_row, filename, content_type, size, sha256, path) VALUES (?, ?, ?, ?, ?, ?)').run(
      messageRow,
      a.filename,
      a.contentType,
      a.size,
      a.sha256,
      a.path,
    );
    return Number(info.lastInsertRowid);
  }

  messagesOfCase(caseId: number): MessageRow[] {
    return this.q('SELECT * FROM messages WHERE case_id = ? ORDER BY received_at, id').all(caseId) as MessageRow[];
  }

  attachmentsOfMessage(messageRow: number): AttachmentRow[] {
    return this.q('SELECT * FROM attachments WHERE message_row = ? ORDER BY id').all(messageRow) as AttachmentRow[];
  }
}
