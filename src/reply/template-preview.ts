/**
 * Data for `klagomal templates preview`: the kind's sample data, or, with `--case ID`, the
 * sample data with everything a real case knows put in its place (number, customer, subject,
 * dates, contact person, deadlines). Values a case cannot know (the reason of a delay, the
 * answer text) stay the sample's, so the preview shows the wording around real case facts.
 */
import type { Config } from '../config/config';
import type { CaseRow, Store } from '../store/store';
import type { TemplateKind } from '../cases/lifecycle';
import { caseTag } from '../classify/thread';
import { TEMPLATE_SAMPLES } from './template-schema';
import { describeRule, DeadlineRule } from '../deadlines/rules';
import { customerNameForStaff } from '../util/header-safe';

type Data = Record<string, unknown>;

function isPlainObject(v: unknown): v is Data {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** `over` put onto `base`, key by key, keeping only the keys `base` has (the kind's schema). */
export function overlay(base: Data, over: Data): Data {
  const out: Data = {};
  for (const [k, v] of Object.entries(base)) {
    if (!(k in over)) out[k] = v;
    else if (isPlainObject(v) && isPlainObject(over[k])) out[k] = overlay(v, over[k] as Data);
    else if (Array.isArray(v) && Array.isArray(over[k])) out[k] = over[k];
    else if (!isPlainObject(v) && !Array.isArray(v)) out[k] = over[k];
    else out[k] = v;
  }
  return out;
}

/** What a stored case tells about itself, under the names the templates use. */
export function caseFacts(store: Store, config: Config, c: CaseRow): Data {
  const deadlines = store.deadlinesOfCase(c.id);
  const final = deadlines.find((d) => d.milestone === 'finalAnswer');
  const contact = config.officers.find((o) => o.address === c.contact_officer);
  // The deadline a warning or breach notice would be about: the nearest one still open.
  const next = deadlines.filter((d) => !d.met_at && d.milestone !== 'finalAnswerMax').sort((a, b) => a.due_at.localeCompare(b.due_at))[0];
  const fields = Object.entries(JSON.parse(c.fields) as Record<string, unknown>)
    .filter(([, v]) => (typeof v === 'string' && v.trim() !== '') || typeof v === 'number')
    .map(([label, value]) => ({ label, value: String(value) }));
  const firstText = store.messagesOfCase(c.id)[0]?.body_text ?? '';
  const customer = { name: c.customer_name, type: 'consumer' };
  const staffCase = {
    number: c.number,
    tag: caseTag(c.number),
    receivedAt: new Date(c.received_at),
    subject: c.subject,
    ...customerNameForStaff(c.customer_name, c.customer_address),
    customerAddress: c.customer_address,
    contact: c.contact_officer,
    category: c.category,
    outcome: c.outcome,
    // When it was last closed (src/cases/view.ts lastClosedAt; cases is not imported from here).
    closedAt:
      c.status === 'closed'
        ? new Date(
            store
              .eventsOfCase(c.id)
              .filter((e) => e.type === 'status-changed' && e.to_state === 'closed')
              .pop()?.at ?? c.updated_at,
          )
        : null,
    ...(final ? { answerDueAt: new Date(final.due_at) } : {}),
  };
  return {
    firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
    case: staffCase,
    customer,
    complaint: { subject: c.subject },
    contact: { name: contact?.name ?? null },
    officer: { name: contact?.name ?? null },
    recipient: { name: contact?.name ?? null },
    fields,
    related: [],
    excerpt: firstText.length > 400 ? `${firstText.slice(0, 400)} ...` : firstText,
    ...(next ? { milestone: next.milestone, dueAt: new Date(next.due_at) } : {}),
    deadlines: deadlines.map((d) => ({ milestone: d.milestone, dueAt: new Date(d.due_at), rule: describeRule(JSON.parse(d.rule) as DeadlineRule) })),
  };
}

export function previewData(kind: TemplateKind, facts: Data | null): Data {
  const sample = TEMPLATE_SAMPLES[kind];
  return facts ? overlay(sample, facts) : sample;
}
