/**
 * `klagomal case VERB ID`: one case. `show` prints it (or its audit view with --audit);
 * `extend` moves a deadline and queues the delay notice (src/cases/extend.ts); `met` marks a
 * milestone met (src/cases/milestones.ts); `hold` and `release` are the legal hold
 * (src/cli/retention.ts).
 */
import { caseDetail } from '../cases/view';
import { caseAudit, formatCaseAudit } from '../audit/case-audit';
import { formatStockholm } from '../util/stockholm-time';
import { parseIsoDate } from '../util/stockholm-time';
import type { Milestone } from '../deadlines/policy';
import { extendDeadline, ExtensionRefused } from '../cases/extend';
import { meetMilestone } from '../cases/milestones';
import { Service } from '../service';
import { toInstant } from '../util/clock';
import { maskPersonnummer } from '../util/personnummer';
import { terminalLine } from '../util/terminal';
import { otherAddressInName } from '../util/header-safe';
import { UsageError } from './args';
import { Command, configOf, findCase, Io, json, logger, NotFound, operatorName, withStore } from './shared';
import { caseHold, caseRelease } from './retention';

export const caseCommand: Command = {
  summary: 'one case: show it; extend a deadline (the customer gets a delay notice); mark a milestone met; legal hold',
  usage: [
    'klagomal case show ID [--json] [--audit]           ID = a case number like KLG-2026-000042, or the numeric id',
    'klagomal case extend ID --to YYYY-MM-DD --reason TEXT [--milestone finalAnswer] [--holding-reply] [--no-notice]',
    'klagomal case met ID MILESTONE [--note TEXT]        MILESTONE = acknowledgement | firstAnswer | finalAnswer',
    'klagomal case hold ID --reason TEXT                legal hold: retention leaves the case alone (an ARN or court case)',
    'klagomal case release ID                           lift the legal hold',
  ].join('\n       '),
  options: {
    json: { type: 'boolean' },
    // show --audit: from the first mail to the last event, deadline inputs, template versions, hashes (src/audit/case-audit.ts)
    audit: { type: 'boolean' },
    to: { type: 'string' },
    reason: { type: 'string' },
    milestone: { type: 'string' },
    'holding-reply': { type: 'boolean' },
    'no-notice': { type: 'boolean' },
    note: { type: 'string' },
  },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, id, arg] = positionals;
    if (verb === 'show' && positionals.length === 2) return showCase(values, id, io);
    if (verb === 'extend' && positionals.length === 2) return extendCase(values, id, io);
    if (verb === 'met' && positionals.length === 3) return caseMet(values, id, arg, io);
    if (verb === 'hold' && positionals.length === 2) return caseHold(values, id, io);
    if (verb === 'release' && positionals.length === 2) return caseRelease(values, id, io);
    throw new UsageError(
      'usage: klagomal case show ID | case extend ID --to DATE --reason TEXT | case met ID MILESTONE | case hold ID --reason TEXT | case release ID',
    );
  },
};

async function showCase(values: Record<string, string | boolean | undefined>, id: string, io: Io): Promise<number> {
  const config = configOf(values);
  const by = operatorName(values);
  withStore(config, (store) => {
    const c = findCase(store, id);
    // Who read the case's personal data, and when (REGULATION.md §4 B; `klagomal audit access`).
    store.tx(() =>
      store.recordAccess({
        at: toInstant(new Date()),
        actor: by,
        action: values.audit ? 'audit-case' : 'case-show',
        caseId: c.id,
        detail: { personnummer: c.personnummer !== null },
      }),
    );
    if (values.audit) {
      const a = caseAudit(store, c);
      io.out(values.json ? json(a) : formatCaseAudit(a));
      return;
    }
    const d = caseDetail(store, c);
    if (values.json) {
      io.out(json(d));
      return;
    }
    const lines: string[] = [];
    lines.push(`${d.number}  [${d.status}]`);
    // Customer text one safe line each (src/util/terminal.ts); a name holding another address never reads as that address.
    const other = otherAddressInName(d.customer.name, d.customer.address);
    lines.push(
      other
        ? `Customer:  <${terminalLine(d.customer.address)}> "${terminalLine(d.customer.name)}" (the display name holds another address: ${terminalLine(other)})`
        : `Customer:  ${terminalLine(d.customer.name)} <${terminalLine(d.customer.address ?? 'no address')}>`,
    );
    lines.push(`Subject:   ${terminalLine(d.subject)}`);
    lines.push(`Received:  ${d.receivedLocal}   filed ${formatStockholm(new Date(d.filedAt))}   language ${d.language}`);
    if (d.refersTo) lines.push(`Refers to: ${d.refersTo}`);
    lines.push('', 'Deadlines:');
    for (const dl of d.deadlines) {
      lines.push(
        `  ${dl.milestone.padEnd(16)} due ${dl.dueAt}  (${dl.rule.amount} ${dl.rule.unit}, ${dl.policy})${dl.metAt ? `  met ${dl.metAt}` : ''}${dl.breachedAt ? '  BREACHED' : ''}${dl.notApplicable ? `  not applicable (${dl.notApplicable})` : ''}`,
      );
    }
    if (d.contactOfficer) lines.push(`Contact person: ${d.contactOfficer}`);
    if (d.outcome)
      lines.push(`Outcome:   ${d.outcome} (by ${d.decidedBy ?? '?'})${d.compensationSek !== null ? `, compensation ${d.compensationSek} kr` : ''}`);
    else if (d.compensationSek !== null) lines.push(`Compensation: ${d.compensationSek} kr`);
    if (d.closedAt) lines.push(`Closed:    ${formatStockholm(new Date(d.closedAt))}`);
    for (const x of d.finalAnswerDrafts)
      lines.push(
        `Final answer draft ${x.draft}: ${x.state}, by ${terminalLine(x.author)} ${formatStockholm(new Date(x.draftedAt))}` +
          (x.state === 'pending' ? `, waiting for ${x.approvers.map((a) => terminalLine(a)).join(' or ')}` : '') +
          (x.decidedBy && x.state !== 'replaced' ? `, ${x.state} by ${terminalLine(x.decidedBy)} ${formatStockholm(new Date(x.decidedAt!))}` : '') +
          (x.returnReason ? ` (${terminalLine(x.returnReason)})` : '') +
          (x.replacedBy ? `, replaced by draft ${x.replacedBy}` : '') +
          (x.sentAt ? `, sent ${formatStockholm(new Date(x.sentAt))}` : ''),
      );
    for (const m of d.customerMailSinceClosed)
      lines.push(
        `Customer wrote after closing: ${formatStockholm(new Date(m.at))} (inbound #${m.inboundId ?? '?'}; told ${m.told.map((a) => terminalLine(a)).join(', ')}); reopen by mail with #reopen REASON`,
      );
    const assessed = Object.entries(d.assessment);
    if (assessed.length) lines.push(`Assessment: ${assessed.map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')}`);
    for (const r of d.related) lines.push(`Related:   ${r.number} (${r.relation}; ${r.status}${r.outcome ? `, ${r.outcome}` : ''})`);
    lines.push('', 'Fields:');
    for (const [k, v] of Object.entries(d.fields)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
    lines.push('', 'Messages:');
    for (const m of d.messages) {
      if (m.direction === 'in') {
        lines.push(`  <- ${m.at}  ${m.kind}  from ${terminalLine(m.from.address ?? '?')}  "${terminalLine(m.subject)}"`);
        for (const a of m.attachments) {
          lines.push(`       attachment ${terminalLine(a.filename ?? '(no name)')} ${terminalLine(a.contentType)} ${a.size} bytes -> ${a.path}`);
          // What the document said (src/documents/): read, not read and why, or OCR still to come.
          const r = a.reading;
          if (!r) continue;
          const state = r.state === 'read' ? 'read' : r.state === 'ocr-pending' ? 'OCR pending' : 'not read';
          lines.push(
            `         ${state}${r.note ? `: ${terminalLine(r.note)}` : ''} (${r.kind}${r.pageCount !== null ? `, ${r.pageCount} page(s)` : ''}${r.ocrPages ? `, ${r.ocrPages} by OCR` : ''})`,
          );
          for (const f of r.formFields) lines.push(`         field ${terminalLine(f.name)}: ${terminalLine(f.value)}`);
          for (const p of r.pages) {
            const head = p.page !== null ? `page ${p.page}${p.via === 'ocr' ? ' (OCR)' : ''}` : p.via === 'ocr' ? 'OCR' : 'text';
            const text = p.text
              .trim()
              .split('\n')
              .filter((l) => l.trim() !== '');
            lines.push(`         ${head}:`);
            for (const t of text.slice(0, 40)) lines.push(`         | ${terminalLine(t)}`);
            if (text.length > 40) lines.push(`         | ... ${text.length - 40} more line(s): case show --json`);
          }
        }
        // What the reading noticed, among it a text cut at a bound (the raw mail is complete).
        for (const p of m.problems) lines.push(`       problem: ${terminalLine(p)}`);
        const text = (m.text ?? '').trim().split('\n').slice(0, 12);
        for (const t of text) lines.push(`     | ${t}`);
      } else {
        lines.push(
          `  -> ${m.at}  ${m.kind}  to ${terminalLine(m.to)}  "${terminalLine(m.subject)}"  [${m.status}, ${m.attempts} attempt(s), template ${m.template}/${m.language}@${m.templateVersion}]`,
        );
        if (m.lastError) lines.push(`     last error: ${terminalLine(m.lastError)}`);
        // What the customer received, as rendered then (the template may have changed since).
        for (const t of (m.text ?? '').trim().split('\n').slice(0, 12)) lines.push(`     | ${t}`);
      }
    }
    lines.push('', 'Events:');
    for (const e of d.events) lines.push(`  ${e.at}  ${e.type.padEnd(26)} ${e.actor.padEnd(16)} ${JSON.stringify(e.detail)}`);
    io.out(lines.join('\n'));
  });
  return 0;
}

async function extendCase(values: Record<string, string | boolean | undefined>, id: string, io: Io): Promise<number> {
  const to = parseIsoDate(String(values.to ?? ''));
  if (!to) throw new UsageError('--to YYYY-MM-DD is required: the new last day for the answer');
  if (typeof values.reason !== 'string' || !values.reason.trim()) throw new UsageError('--reason TEXT is required: the customer is told why');
  const milestone = (values.milestone as string | undefined) ?? 'finalAnswer';
  if (!(['acknowledgement', 'firstAnswer', 'finalAnswer'] as string[]).includes(milestone))
    throw new UsageError(`--milestone: allowed acknowledgement, firstAnswer, finalAnswer`);
  const service = new Service(configOf(values), logger());
  try {
    const c = findCase(service.store, id);
    const r = extendDeadline(
      service.store,
      service.config,
      service.templates,
      service.calendar,
      {
        caseId: c.id,
        milestone: milestone as Milestone,
        newDate: to,
        reason: values.reason,
        actor: 'operator',
        user: operatorName(values),
        holdingReply: Boolean(values['holding-reply']),
        notifyCustomer: !values['no-notice'],
      },
      new Date(),
    );
    io.out(
      `${c.number}: ${milestone} moved from ${formatStockholm(r.from)} to ${formatStockholm(r.to)}${r.noticeQueued ? '; delay notice queued to the customer' : ''}${r.late ? '; recorded as late: the deadline had already passed' : ''}`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ExtensionRefused && err.persist) service.store.tx(err.persist);
    if (err instanceof ExtensionRefused) throw new NotFound(err.message);
    throw err;
  } finally {
    service.close();
  }
}

async function caseMet(values: Record<string, string | boolean | undefined>, id: string, milestone: string, io: Io): Promise<number> {
  if (!(['acknowledgement', 'firstAnswer', 'finalAnswer'] as string[]).includes(milestone))
    throw new UsageError('MILESTONE: allowed acknowledgement, firstAnswer, finalAnswer');
  const config = configOf(values);
  return withStore(config, (store) => {
    const c = findCase(store, id);
    const note = typeof values.note === 'string' ? maskPersonnummer(values.note) : null;
    const met = store.tx(() =>
      meetMilestone(store, c.id, milestone as Milestone, toInstant(new Date()), 'operator', { ...(note ? { note } : {}), user: operatorName(values) }),
    );
    if (!met) throw new NotFound(`${c.number} has no open ${milestone} deadline`);
    io.out(`${c.number}: ${milestone} met`);
    return 0;
  });
}
