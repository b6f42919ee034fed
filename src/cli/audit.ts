/**
 * `klagomal audit`: the history's integrity, and the auditor's five requests of
 * REGULATION.md §4 D as one command each (src/audit/rehearsals.ts).
 *
 *   klagomal audit verify [--json]       recompute every event hash chain (src/audit/verify.ts);
 *                                        exit 0 when every chain verifies and no event is
 *                                        missing, 1 when something is broken (the first broken
 *                                        link of each chain is printed)
 *   klagomal audit case ID [--eml]       one complaint from raw mail to final answer, with each
 *                                        deadline's computation and the raw mail's hash; --eml
 *                                        writes the raw mail (the first, or --mail N) to stdout
 *   klagomal audit late [--regime psd2] [--from DATE] [--to DATE] [--promise]
 *                                        every complaint answered after the statutory deadline,
 *                                        with its holding replies and their business days
 *   klagomal audit rejections [--from DATE] [--to DATE]
 *                                        each rejection: who decided, the answer sent, whether
 *                                        it named ARN and the other ways further
 *   klagomal audit policy                the deadline policy versions: when in effect, who approved
 *   klagomal audit retention             what was anonymised when, what is due when
 *   klagomal audit access [--case ID] [--since DATE]
 *                                        who read personal data (case show, raw mail, exports)
 *   klagomal audit encrypt-personnummer  encrypt the personnummer stored in clear by versions
 *                                        before schema 8 (needs the key; with
 *                                        personnummer.store false they are removed instead)
 *
 * Reading a case or a raw mail is itself recorded in the access log (who, when, what).
 */
import { verifyAudit, formatVerification } from '../audit/verify';
import { caseAudit, formatCaseAudit } from '../audit/case-audit';
import { auditAccess, auditLate, auditPolicy, auditRejections, auditRetention } from '../audit/rehearsals';
import { encryptClearPersonnummer } from '../cases/personnummer-store';
import { readStoredRaw } from '../ingest/raw-files';
import { toInstant } from '../util/clock';
import { formatStockholm } from '../util/stockholm-time';
import { terminalLine } from '../util/terminal';
import { instantArg, UsageError, wholeNumber } from './args';
import type { Command, Io } from './shared';
import { configOf, findCase, json, NotFound, operatorName, withStore } from './shared';
import { table } from './table';

type Values = Record<string, string | boolean | undefined>;

const USAGE = [
  'klagomal audit verify [--json]',
  'klagomal audit case ID [--json] [--eml [--mail N]]',
  'klagomal audit late [--regime psd2|ecsp|none] [--from DATE] [--to DATE] [--promise] [--json]',
  'klagomal audit rejections [--from DATE] [--to DATE] [--json]',
  'klagomal audit policy [--json]',
  'klagomal audit retention [--json]',
  'klagomal audit access [--case ID] [--since DATE] [--json]',
  'klagomal audit encrypt-personnummer',
];

export const auditCommand: Command = {
  summary: "the auditor's requests: verify the history; one case end to end; late answers; rejections; policy versions; retention; who read personal data",
  usage: USAGE.map((u) => `${u} [--config FILE]`).join('\n       '),
  options: {
    json: { type: 'boolean' },
    eml: { type: 'boolean' },
    mail: { type: 'string' },
    regime: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    since: { type: 'string' },
    case: { type: 'string' },
    promise: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, arg] = positionals;
    const n = positionals.length;
    if (verb === 'verify' && n === 1) return verify(values, io);
    if (verb === 'case' && n === 2) return auditCase(values, arg, io);
    if (verb === 'late' && n === 1) return late(values, io);
    if (verb === 'rejections' && n === 1) return rejections(values, io);
    if (verb === 'policy' && n === 1) return policy(values, io);
    if (verb === 'retention' && n === 1) return retention(values, io);
    if (verb === 'access' && n === 1) return access(values, io);
    if (verb === 'encrypt-personnummer' && n === 1) return encrypt(values, io);
    throw new UsageError(`usage: ${USAGE.join(' | ')}`);
  },
};

function verify(values: Values, io: Io): number {
  const config = configOf(values);
  return withStore(config, (store) => {
    const v = verifyAudit(store);
    if (values.json) io.out(json(v));
    else io.out(formatVerification(v).join('\n'));
    return v.ok ? 0 : 1;
  });
}

function encrypt(values: Values, io: Io): number {
  const config = configOf(values);
  return withStore(config, (store) => {
    const r = encryptClearPersonnummer(store, config);
    if (values.json) io.out(json(r));
    else if (r.encrypted + r.removed === 0) io.out('no personnummer is stored in clear');
    else if (r.encrypted) io.out(`${r.encrypted} personnummer encrypted`);
    else io.out(`${r.removed} personnummer removed (personnummer.store is false: only the mask is kept)`);
    return 0;
  });
}

/** An optional date or instant option, as an instant (a date is midnight Stockholm). */
function when(values: Values, name: string): string | null {
  const v = values[name];
  if (v === undefined) return null;
  if (typeof v !== 'string') throw new UsageError(`--${name}: a date YYYY-MM-DD or an ISO 8601 instant`);
  return toInstant(instantArg(`--${name}`, v));
}

function auditCase(values: Values, id: string, io: Io): number {
  const config = configOf(values);
  const by = operatorName(values);
  return withStore(config, (store) => {
    const c = findCase(store, id);
    const a = caseAudit(store, c);
    const at = toInstant(new Date());
    if (values.eml) {
      const index = values.mail === undefined ? 1 : wholeNumber('--mail', values.mail, 1, a.mailsIn.length || 1);
      const m = a.mailsIn[index - 1];
      if (!m) throw new NotFound(`${c.number} has no mail ${index} (it has ${a.mailsIn.length})`);
      const raw = readStoredRaw(store, config.dataDir, m.rawSha256);
      if (!raw || (raw.length === 0 && m.size > 0)) throw new NotFound(`${c.number}: the raw mail ${index} is not stored any more (${m.rawStorage})`);
      if (!io.raw) throw new UsageError('--eml writes bytes; this output takes text only');
      io.raw(raw);
      store.tx(() => store.recordAccess({ at, actor: by, action: 'raw-mail', caseId: c.id, inboundId: m.inboundId, detail: { sha256: m.rawSha256 } }));
      return 0;
    }
    store.tx(() => store.recordAccess({ at, actor: by, action: 'audit-case', caseId: c.id, detail: { personnummer: c.personnummer !== null } }));
    io.out(values.json ? json(a) : formatCaseAudit(a));
    return 0;
  });
}

function late(values: Values, io: Io): number {
  const config = configOf(values);
  const regime = typeof values.regime === 'string' ? values.regime : null;
  if (regime !== null && !['psd2', 'ecsp', 'none'].includes(regime)) throw new UsageError('--regime: psd2, ecsp or none');
  const from = when(values, 'from');
  const to = when(values, 'to');
  return withStore(config, (store) => {
    const r = auditLate(store, { regime, from, to, now: new Date(), promise: Boolean(values.promise) });
    if (values.json) {
      io.out(json(r));
      return 0;
    }
    io.out(
      `Complaints answered after the statutory deadline${values.promise ? " or the firm's own promise" : ''}${regime ? ` (regime ${regime})` : ''}${from ? ` received from ${formatStockholm(new Date(from))}` : ''}${to ? ` before ${formatStockholm(new Date(to))}` : ''}: ${r.cases.length} of ${r.examined} examined`,
    );
    io.out('Rule: PSD2 art. 101 (Lag 2010:751 ch. 8): 15 business days, or 35 when a holding reply reached the customer within the 15.');
    if (r.cases.length === 0) return 0;
    const rows = r.cases.map((c) => [
      c.number,
      c.regime,
      formatStockholm(new Date(c.receivedAt)),
      c.answeredAt ? formatStockholm(new Date(c.answeredAt)) : 'unanswered',
      c.businessDaysToAnswer,
      c.holdingReplies.length ? c.holdingReplies.map((h) => `day ${h.businessDay}${h.withinStatute === false ? ' (late)' : ''}`).join(', ') : '-',
      c.why,
    ]);
    io.out(table(['case', 'regime', 'received', 'answered', 'business days', 'holding replies', 'why'], rows));
    return 0;
  });
}

function rejections(values: Values, io: Io): number {
  const config = configOf(values);
  const from = when(values, 'from');
  const to = when(values, 'to');
  return withStore(config, (store) => {
    const r = auditRejections(store, { from, to });
    if (values.json) {
      io.out(json(r));
      return 0;
    }
    io.out(`Rejections and partly upheld complaints: ${r.length}`);
    for (const x of r) {
      io.out(
        `${x.number}  ${x.outcome}  decided by ${terminalLine(x.decidedBy ?? '?')}  received ${formatStockholm(new Date(x.receivedAt))}  regime ${x.regime}`,
      );
      if (x.finalAnswer) {
        io.out(
          `  final answer ${x.finalAnswer.status}${x.finalAnswer.sentAt ? ` ${formatStockholm(new Date(x.finalAnswer.sentAt))}` : ''} (${x.finalAnswer.words} words, template ${x.finalAnswer.template}); escalation paragraph (ARN, court): ${x.finalAnswer.escalationParagraph ? 'yes' : 'NO'}`,
        );
        io.out(`  reasons as sent: ${terminalLine(x.finalAnswer.summary)}`);
      }
      if (x.problem) io.out(`  PROBLEM: ${x.problem}`);
    }
    return r.some((x) => x.problem) ? 1 : 0;
  });
}

function policy(values: Values, io: Io): number {
  const config = configOf(values);
  return withStore(config, (store) => {
    const r = auditPolicy(store, config);
    if (values.json) {
      io.out(json(r));
      return 0;
    }
    const rows = r.map((v) => [
      v.kind,
      v.version,
      formatStockholm(new Date(v.inEffectFrom)),
      v.inEffectUntil ? formatStockholm(new Date(v.inEffectUntil)) : v.current ? 'now' : '-',
      v.deadlines,
      v.approvedBy ? `${terminalLine(v.approvedBy)} ${v.approvedAt ?? ''}`.trim() : v.kind === 'calendar' ? '(law)' : 'NOT RECORDED',
      v.textKept ? 'kept' : 'not kept (before schema 12)',
    ]);
    io.out(table(['kind', 'version', 'in effect from', 'until', 'deadlines', 'approved by', 'text'], rows));
    io.out(
      `Current deadline policy: ${config.deadlines.version}${config.deadlines.approvedBy ? '' : ' (deadlines.approvedBy and deadlines.approvedAt not set in the config)'}; print one with: klagomal config show VERSION`,
    );
    return 0;
  });
}

function retention(values: Values, io: Io): number {
  const config = configOf(values);
  return withStore(config, (store) => {
    const r = auditRetention(store, config, new Date());
    if (values.json) {
      io.out(json(r));
      return 0;
    }
    io.out(
      `Retention: closed cases are anonymised ${r.closedCaseYears} years after closing${r.rawMailDays !== null ? `; raw mail of closed cases removed after ${r.rawMailDays} days` : ''}.`,
    );
    io.out(`\nRuns (${r.runs.length}, newest first):`);
    if (r.runs.length)
      io.out(
        table(
          ['started', 'trigger', 'dry run', 'cases anonymised', 'raw mails removed'],
          r.runs.map((x) => [formatStockholm(new Date(x.startedAt)), x.trigger, x.dryRun ? 'yes' : 'no', x.casesAnonymised, x.rawRemoved]),
        ),
      );
    io.out(`\nDue (${r.due.length} closed case(s) not yet anonymised):`);
    if (r.due.length)
      io.out(
        table(
          ['case', 'closed', 'due', 'legal hold'],
          r.due.map((x) => [
            x.number,
            formatStockholm(new Date(x.closedAt)),
            `${formatStockholm(new Date(x.dueAt))}${x.overdue ? ' (overdue: runs at the next retention pass)' : ''}`,
            x.heldSince ? `since ${formatStockholm(new Date(x.heldSince))}: ${terminalLine(x.holdReason ?? '')}` : '-',
          ]),
        ),
      );
    return 0;
  });
}

function access(values: Values, io: Io): number {
  const config = configOf(values);
  const since = when(values, 'since');
  return withStore(config, (store) => {
    const caseId = typeof values.case === 'string' ? findCase(store, values.case).id : undefined;
    const rows = auditAccess(store, { caseId, since: since ?? undefined });
    if (values.json) {
      io.out(json(rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as unknown) : null }))));
      return 0;
    }
    io.out(`Reads of personal data: ${rows.length}`);
    if (rows.length)
      io.out(
        table(
          ['at', 'who', 'what', 'case', 'mail'],
          rows.map((r) => [formatStockholm(new Date(r.at)), terminalLine(r.actor), r.action, r.case_number ?? '-', r.inbound_id ?? '-']),
        ),
      );
    return 0;
  });
}
