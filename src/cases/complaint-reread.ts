/**
 * A case's structured complaint read again when documents arrive after filing: OCR that
 * finished after the acknowledgement (src/pipeline/ocr-after-filing.ts), or a follow-up that
 * brings the form or letter the acknowledgement asked for. Read from the complaint's own text
 * and every document read on the case so far (src/documents/complaint-sources.ts), inside the
 * caller's transaction; the change is a `fields-updated` event with what was found and what
 * is still missing.
 *
 * What filing decided stays: the category (the case's deadlines and regime hang on it; a
 * different category the documents suggest is named in the event, for the officer's
 * #category), and the personnummer's mask when the re-read finds none (the stored text is
 * masked; the number itself was sealed on the case at filing).
 */
import type { Config } from '../config/config';
import type { ComplaintItem } from '../config/complaint-rules';
import type { Store } from '../store/store';
import type { ComplaintFields } from '../parse/complaint-fields';
import { publicFields } from '../parse/complaint-fields';
import type { AttachedDocument } from '../documents/complaint-sources';
import { readComplaintWithDocuments } from '../documents/complaint-sources';
import { maskPersonnummerIn } from '../util/personnummer';
import { toInstant } from '../util/clock';

export interface Reread {
  readonly fields: Record<string, unknown>;
  readonly found: readonly ComplaintItem[];
  readonly stillMissing: readonly ComplaintItem[];
  /** A category the documents point to, other than the case's (not applied). */
  readonly suggestedCategory: string | null;
  readonly changed: boolean;
}

export function rereadCaseFields(
  store: Store,
  config: Config,
  caseId: number,
  now: Date,
  cause: { readonly by: string; readonly attachment?: number; readonly inboundId?: number },
): Reread | null {
  const c = store.caseById(caseId);
  const first = c ? store.messagesOfCase(c.id)[0] : undefined;
  if (!c || !first || first.kind !== 'complaint') return null;
  const documents: AttachedDocument[] = store
    .attachmentReadingsOfCase(c.id)
    .filter((x) => x.state !== 'not-read')
    .map((x) => ({ file: x.filename?.trim() || `attachment ${x.attachment_id}`, pages: JSON.parse(x.pages), formFields: JSON.parse(x.form_fields) }));
  const read = readComplaintWithDocuments(
    {
      text: first.body_text ?? '',
      subject: first.subject ?? '',
      senderName: c.customer_name,
      senderAddress: c.customer_address,
      mailDate: new Date(first.date_header ?? c.received_at),
      personnummerAt: new Date(first.received_at),
    },
    documents,
    config.complaints,
  );
  const before = JSON.parse(c.fields) as ComplaintFields & Record<string, unknown>;
  const after = maskPersonnummerIn(publicFields(read), now);
  const fields: Record<string, unknown> = {
    ...before,
    ...after,
    category: before.category,
    personnummerMasked: after.personnummerMasked ?? before.personnummerMasked ?? null,
  };
  const found = (before.missing ?? []).filter((i) => !after.missing.includes(i));
  const suggestedCategory = after.categoryMatched && after.category !== before.category ? after.category : null;
  const changed = JSON.stringify(fields) !== JSON.stringify(before);
  if (changed) {
    const at = toInstant(now);
    store.setCaseFields(c.id, fields, at);
    store.appendEvent({
      at,
      caseId: c.id,
      inboundId: cause.inboundId ?? null,
      actor: 'system',
      type: 'fields-updated',
      detail: {
        by: cause.by,
        ...(cause.attachment !== undefined ? { attachment: cause.attachment } : {}),
        found,
        stillMissing: after.missing,
        ...(suggestedCategory ? { documentSuggestsCategory: suggestedCategory } : {}),
      },
    });
  }
  return { fields, found, stillMissing: after.missing, suggestedCategory, changed };
}
