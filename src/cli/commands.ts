/**
 * The subcommands of `klagomal`. Each takes its arguments, does its one job through the
 * stages' public functions and prints the result: a table for people, JSON for scripts.
 * Return value = exit code (0 ok, 1 failure). Usage mistakes throw UsageError (exit 2).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, Language } from '../config/config';
import { LANGUAGES } from '../config/config';
import { ConfigError, configFileFrom, loadConfig } from '../config/load';
import type { ConfigProblem } from '../config/reader';
import { missingSecrets } from '../config/missing-secrets';
import { Store } from '../store/store';
import { Service } from '../service';
import { storeArrivals } from '../ingest/intake';
import { LARGE_MAIL_BYTES, spoolRaw, SpooledRaw } from '../ingest/raw-files';
import { formatProblem, TEMPLATE_KINDS, TemplateSet } from '../reply/templates';
import { buildMail } from '../reply/mail';
import { caseFacts, previewData } from '../reply/template-preview';
import { CASE_STATUSES, CaseStatus, MAIL_KINDS, MailKind, TemplateKind } from '../cases/lifecycle';
import { caseDetail, caseSummary, outboxView } from '../cases/view';
import { caseAudit, formatCaseAudit } from '../audit/case-audit';
import { computeDue, DEADLINE_UNITS, DeadlineRule, DeadlineUnit } from '../deadlines/rules';
import { formatStockholm, isoDate, localTime, parseIsoDate, weekday } from '../util/stockholm-time';
import { BusinessCalendar, swedishHolidays } from '../deadlines/calendar';
import type { Milestone } from '../deadlines/policy';
import { extendDeadline, ExtensionRefused } from '../cases/extend';
import { meetMilestone } from '../cases/milestones';
import { errorChain, flushLogs, Logger } from '../util/log';
import { toInstant } from '../util/clock';
import { maskPersonnummer } from '../util/personnummer';
import { UsageError, wholeNumber } from './args';
import { Command, configOf, findCase, Io, json, logger, NotFound, requireFilingSecrets, withStore } from './shared';
import { table } from './table';
import { terminalLine } from '../util/terminal';
import { otherAddressInName } from '../util/header-safe';
import type { ProcessResult } from '../pipeline/processor';
import { importCommand } from './import';
import { reconcileCommand } from './reconcile';
import { statusCommand } from './status';
import { reportCommand } from './report';
import { auditCommand } from './audit';
import { checkCommand } from './check';
import { subjectCommand } from './subject';
import { caseHold, caseRelease, retentionCommand } from './retention';

export type { Command, Io };
export { NotFound };

// ---------------------------------------------------------------------------------------

/**
 * `klagomal start`: the long-running service (systemd: deploy/klagomal.service).
 *
 * Files it makes are private: umask 077, so the data folder is 0700 and the database, its
 * -wal/-shm, raw mails and attachments 0600 whoever made them first.
 *
 * Stopping (SIGTERM from systemd, SIGINT from a terminal): intake stops, the batch being filed
 * commits, the sends in flight report back, connections close, exit 0. That must happen within
 * `shutdown.graceSeconds`; past it the service logs what it abandoned and exits 1. Nothing is
 * lost either way: a mail not yet filed is filed at the next start, and a send that never
 * reported back is retried after its lease (the one documented repeat, README "Crash safety").
 * A second signal exits at once (128 + the signal's number), for an operator who cannot wait.
 */
const start: Command = {
  summary: 'run the service: watch the sources, file mail, send the outbox (until SIGTERM/SIGINT)',
  usage: 'klagomal start [--config FILE]',
  options: {},
  positionals: false,
  async run(values) {
    process.umask(0o077);
    const config = configOf(values);
    const log = logger();
    let service: Service;
    try {
      service = new Service(config, log);
    } catch (err) {
      flushLogs(); // the log lines before the one-line reason the dispatcher prints
      throw err;
    }
    const controller = new AbortController();
    const graceMs = config.shutdown.graceSeconds * 1000;
    let stoppingSince = 0;
    let bound: NodeJS.Timeout | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stoppingSince) {
        log.warn('second signal: exiting at once', { signal: sig, afterMs: Date.now() - stoppingSince });
        flushLogs();
        process.exit(128 + (os.constants.signals[sig] ?? 15));
      }
      stoppingSince = Date.now();
      log.info('stopping: finishing work in flight', { signal: sig, graceSeconds: config.shutdown.graceSeconds });
      controller.abort();
      // The bound. unref: a clean stop must not wait for it.
      bound = setTimeout(() => {
        abandon(service, log, Date.now() - stoppingSince);
        flushLogs();
        process.exit(1);
      }, graceMs).unref();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await service.start(controller.signal);
    } catch (err) {
      clearTimeout(bound);
      service.close();
      flushLogs();
      throw err;
    }
    clearTimeout(bound);
    service.close();
    if (stoppingSince) log.info('stopped', { tookMs: Date.now() - stoppingSince });
    flushLogs();
    // Everything is closed and committed; should a library still hold the event loop open, do
    // not let it hold up the stop.
    setTimeout(() => process.exit(0), 1000).unref();
    return 0;
  },
};

/** The work a stop past its bound leaves behind, for the operator (all of it is picked up at the next start). */
function abandon(service: Service, log: Logger, afterMs: number): void {
  try {
    const sending = service.store.listOutbox('sending');
    const cases = sending.flatMap((r) => (r.case_number ? [r.case_number] : [])).slice(0, 20);
    log.error('shutdown bound reached: exiting with work in flight', {
      afterMs,
      // Each is sent again when its lease ends (outbox.sendTimeoutSeconds after it began).
      sendsInFlight: sending.length,
      cases: cases.join(',') || undefined,
      mailsNotYetFiled: service.store.countPendingInbound(),
    });
  } catch (err) {
    log.error('shutdown bound reached: exiting with work in flight', { afterMs, error: errorChain(err) });
  }
}

const run: Command = {
  summary: 'one pass of everything (poll the sources, file, send the outbox) and exit; for cron and tests',
  usage: 'klagomal run --once [--config FILE] [--json]',
  options: { once: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: false,
  async run(values, _p, io) {
    if (!values.once) throw new UsageError("'run' needs --once (use 'klagomal start' for the long-running service)");
    process.umask(0o077); // private files, as under `start` (cron runs this as the service's user)
    const config = configOf(values);
    const service = new Service(config, logger());
    try {
      const summary = await service.runOnce();
      if (values.json) io.out(JSON.stringify(summary));
      else {
        for (const [name, s] of Object.entries(summary.sources)) {
          io.out('error' in s ? `source ${name}: FAILED: ${s.error}` : `source ${name}: ${s.stored} new mail(s) stored`);
        }
        io.out(
          `filed ${summary.filed}, quarantined ${summary.quarantined}; sent ${summary.sent.sent}, retrying ${summary.sent.retried}, failed ${summary.sent.failed}`,
        );
      }
      const sourceFailed = Object.values(summary.sources).some((s) => 'error' in s);
      return sourceFailed ? 1 : 0;
    } finally {
      service.close();
    }
  },
};

/** One `ingest --json` line: what happened to one file (or to one retried quarantined mail). */
function ingestLine(file: string, r: ProcessResult | undefined, store: Store, inboundId: number) {
  if (r && r.kind === 'quarantined') {
    return { file, inbound: inboundId, messageId: null, kind: 'quarantined', caseId: null, action: 'quarantined', reason: r.error, acknowledgement: null };
  }
  if (r) {
    return {
      file,
      inbound: inboundId,
      messageId: r.messageId,
      kind: r.kind,
      caseId: r.caseNumber,
      action: r.action,
      reason: r.reason,
      acknowledgement: r.kind === 'complaint' ? (r.acknowledgementQueued ? 'queued' : 'suppressed') : null,
    };
  }
  // Filed by another process (a running service) between our store and our processing: report
  // what the database says, in the same terms.
  const row = store.inbound(inboundId)!;
  const quarantined = row.state === 'quarantined';
  const kind = quarantined ? 'quarantined' : row.kind;
  const caseNumber = row.case_id ? (store.caseById(row.case_id)?.number ?? null) : null;
  const action = quarantined
    ? 'quarantined'
    : row.kind === 'duplicate'
      ? 'skipped'
      : row.kind === 'complaint'
        ? 'opened'
        : caseNumber
          ? 'attached'
          : 'recorded';
  return {
    file,
    inbound: inboundId,
    messageId: row.message_id,
    kind,
    caseId: caseNumber,
    action,
    reason: quarantined ? (store.quarantineEntry(inboundId)?.error ?? null) : row.reason,
    acknowledgement: null,
  };
}

const ingest: Command = {
  summary: 'file raw .eml files through the same path as the pollers (acknowledgements are queued, sent by start/run)',
  usage: 'klagomal ingest FILE... [--config FILE] [--json]',
  options: { json: { type: 'boolean' } },
  positionals: true,
  async run(values, files, io) {
    if (files.length === 0) throw new UsageError('ingest needs at least one FILE');
    const config = configOf(values);
    requireFilingSecrets(config);
    const service = new Service(config, logger());
    let failures = 0;
    try {
      const stored: Array<{ file: string; id: number }> = [];
      for (const file of files) {
        let raw: Buffer | SpooledRaw;
        let st: fs.Stats;
        try {
          st = fs.statSync(file);
          if (!st.isFile()) throw new Error('not a regular file');
          raw = st.size > LARGE_MAIL_BYTES ? await spoolRaw(config.dataDir, fs.createReadStream(file)) : fs.readFileSync(file);
        } catch (err) {
          failures++;
          const msg = errorChain(err);
          io.out(values.json ? JSON.stringify({ file, error: msg }) : `${file}: cannot read: ${msg}`);
          continue;
        }
        const [r] = storeArrivals(
          service.store,
          config.dataDir,
          'cli',
          [{ raw, receivedAt: st.mtime, mailbox: path.dirname(path.resolve(file)), locator: path.basename(file), sourceKey: null }],
          toInstant(new Date()),
        );
        stored.push({ file, id: r.id });
      }
      const results = await service.process({ only: new Set(stored.map((s) => s.id)) });
      const byId = new Map(results.map((r) => [r.inboundId, r]));
      for (const s of stored) {
        const line = ingestLine(s.file, byId.get(s.id), service.store, s.id);
        if (line.kind === 'quarantined') failures++;
        if (values.json) io.out(JSON.stringify(line));
        else io.out(`${s.file}: ${line.kind}${line.caseId ? ` ${line.caseId}` : ''} (${line.action})${line.kind === 'quarantined' ? `: ${line.reason}` : ''}`);
      }
    } finally {
      service.close();
    }
    return failures > 0 ? 1 : 0;
  },
};

const cases: Command = {
  summary: 'list cases (by status, by deadline, or those with a missed deadline)',
  usage: `klagomal cases [--status ${CASE_STATUSES.join('|')}] [--due-before ISO] [--breached [--now ISO]] [--json] [--config FILE]`,
  options: { status: { type: 'string' }, json: { type: 'boolean' }, 'due-before': { type: 'string' }, breached: { type: 'boolean' }, now: { type: 'string' } },
  positionals: false,
  async run(values, _p, io) {
    const status = values.status as string | undefined;
    if (status !== undefined && !CASE_STATUSES.includes(status as CaseStatus)) {
      throw new UsageError(`unknown status '${status}'; allowed: ${CASE_STATUSES.join(', ')}`);
    }
    const dueBefore = values['due-before'] !== undefined ? instantArg('--due-before', values['due-before'] as string) : undefined;
    const now = values.now !== undefined ? instantArg('--now', values.now as string) : new Date();
    const config = configOf(values);
    withStore(config, (store) => {
      const list = store
        .listCases({
          status: status as CaseStatus | undefined,
          dueBefore: dueBefore && toInstant(dueBefore),
          breachedAsOf: values.breached ? toInstant(now) : undefined,
        })
        .map((c) => caseSummary(store, c, now));
      if (values.json) io.out(json(list));
      else if (list.length === 0) io.out('no cases');
      else
        io.out(
          table(
            ['CASE', 'STATUS', 'RECEIVED', 'NEXT DEADLINE', 'ANSWER BY', 'MISSED', 'CUSTOMER', 'SUBJECT'],
            list.map((c) => [
              c.number,
              c.status,
              c.receivedLocal.slice(0, 16).replace('T', ' '),
              c.nextDeadline ? `${c.nextDeadline.milestone} ${c.nextDeadline.dueAt.slice(0, 16).replace('T', ' ')}` : '',
              c.answerDueAt?.slice(0, 10),
              c.breached.join(','),
              c.customer.address,
              c.subject,
            ]),
          ),
        );
    });
    return 0;
  },
};

const caseCommand: Command = {
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
  withStore(config, (store) => {
    if (values.audit) {
      const a = caseAudit(store, findCase(store, id));
      io.out(values.json ? json(a) : formatCaseAudit(a));
      return;
    }
    const d = caseDetail(store, findCase(store, id));
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
    const assessed = Object.entries(d.assessment);
    if (assessed.length) lines.push(`Assessment: ${assessed.map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')}`);
    for (const r of d.related) lines.push(`Related:   ${r.number} (${r.relation}; ${r.status}${r.outcome ? `, ${r.outcome}` : ''})`);
    lines.push('', 'Fields:');
    for (const [k, v] of Object.entries(d.fields)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
    lines.push('', 'Messages:');
    for (const m of d.messages) {
      if (m.direction === 'in') {
        lines.push(`  <- ${m.at}  ${m.kind}  from ${terminalLine(m.from.address ?? '?')}  "${terminalLine(m.subject)}"`);
        for (const a of m.attachments)
          lines.push(`       attachment ${terminalLine(a.filename ?? '(no name)')} ${terminalLine(a.contentType)} ${a.size} bytes -> ${a.path}`);
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
        holdingReply: Boolean(values['holding-reply']),
        notifyCustomer: !values['no-notice'],
      },
      new Date(),
    );
    io.out(
      `${c.number}: ${milestone} moved from ${formatStockholm(r.from)} to ${formatStockholm(r.to)}${r.noticeQueued ? '; delay notice queued to the customer' : ''}`,
    );
    return 0;
  } catch (err) {
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
    const met = store.tx(() => meetMilestone(store, c.id, milestone as Milestone, toInstant(new Date()), 'operator', note ? { note } : {}));
    if (!met) throw new NotFound(`${c.number} has no open ${milestone} deadline`);
    io.out(`${c.number}: ${milestone} met`);
    return 0;
  });
}

const outbox: Command = {
  summary: 'list queued and sent mail; `outbox retry ID` puts a failed mail back in the queue',
  usage: 'klagomal outbox [--status queued|sending|sent|failed] [--json] [--config FILE]\n       klagomal outbox retry ID',
  options: { status: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      if (positionals[0] !== 'retry' || positionals.length !== 2) throw new UsageError('usage: klagomal outbox retry ID');
      const id = wholeNumber('ID', positionals[1], 1);
      return withStore(configOf(values), (store) => {
        const at = toInstant(new Date());
        const ok = store.tx(() => {
          if (!store.requeueFailedOutbox(id, at)) return false;
          store.appendEvent({
            at,
            caseId: store.outboxRow(id)?.case_id ?? null,
            outboxId: id,
            actor: 'operator',
            type: 'mail-requeued',
            fromState: 'failed',
            toState: 'queued',
          });
          return true;
        });
        if (!ok) throw new NotFound(`outbox mail ${id} is not failed`);
        io.out(`outbox mail ${id} queued again; start or run --once sends it`);
        return 0;
      });
    }
    const status = values.status as string | undefined;
    const allowed = ['queued', 'sending', 'sent', 'failed'];
    if (status !== undefined && !allowed.includes(status)) throw new UsageError(`unknown status '${status}'; allowed: ${allowed.join(', ')}`);
    const config = configOf(values);
    withStore(config, (store) => {
      const rows = store.listOutbox(status as 'queued' | undefined).map(outboxView);
      if (values.json) io.out(json(rows));
      else if (rows.length === 0) io.out('outbox is empty');
      else
        io.out(
          table(
            ['ID', 'CASE', 'TO', 'SUBJECT', 'TEMPLATE', 'STATUS', 'TRIES', 'MESSAGE-ID', 'NOTE'],
            rows.map((r) => [
              r.id,
              r.case,
              r.to,
              r.subject,
              `${r.template}/${r.language}@${r.templateVersion}`,
              r.status,
              r.attempts,
              r.messageId,
              r.status === 'sent' ? r.sentAt : (r.lastError ?? (r.nextAttemptAt ? `next ${r.nextAttemptAt}` : '')),
            ]),
          ),
        );
    });
    return 0;
  },
};

const quarantine: Command = {
  summary: 'list mails that could not be processed; `quarantine retry ID` processes one again',
  usage: 'klagomal quarantine [--all] [--json] [--config FILE]\n       klagomal quarantine retry ID [--heap-mb N] [--seconds N] [--json] [--config FILE]',
  options: { json: { type: 'boolean' }, all: { type: 'boolean' }, 'heap-mb': { type: 'string' }, seconds: { type: 'string' } },
  positionals: true,
  async run(values, positionals, io) {
    const config = configOf(values);
    if (positionals.length === 0) {
      withStore(config, (store) => {
        const rows = store.quarantined(Boolean(values.all)).map((q) => ({
          id: q.inbound_id,
          source: q.source,
          mailbox: q.mailbox,
          locator: q.locator,
          receivedAt: q.received_at,
          size: q.size,
          sha256: q.sha256,
          stage: q.stage,
          error: q.error,
          attempts: q.attempts,
          firstAt: q.first_at,
          lastAt: q.last_at,
          releasedAt: q.released_at,
        }));
        if (values.json) io.out(json(rows));
        else if (rows.length === 0) io.out('quarantine is empty');
        else
          io.out(
            table(
              ['ID', 'RECEIVED', 'SOURCE', 'STAGE', 'TRIES', 'ERROR'],
              rows.map((r) => [r.id, r.receivedAt, r.source, r.stage, r.attempts, r.error]),
            ),
          );
      });
      return 0;
    }
    if (positionals[0] !== 'retry' || positionals.length !== 2) throw new UsageError('usage: klagomal quarantine retry ID');
    const id = wholeNumber('ID', positionals[1], 1);
    // The retry runs in an isolated child process (the mail may be one that killed a process),
    // with the config's limits unless raised here for this one retry.
    const limit = (name: 'heap-mb' | 'seconds', fallback: number, min: number, max: number): number =>
      values[name] === undefined ? fallback : wholeNumber(`--${name}`, values[name] as string | boolean, min, max);
    const limits = {
      heapMb: limit('heap-mb', config.processing.isolatedHeapMb, 32, 65536),
      seconds: limit('seconds', config.processing.isolatedSeconds, 1, 3600),
    };
    requireFilingSecrets(config);
    const service = new Service(config, logger());
    try {
      const store = service.store;
      const inQuarantine = store.tx(() => {
        if (store.inbound(id)?.state !== 'quarantined') return false;
        store.appendEvent({ at: toInstant(new Date()), inboundId: id, actor: 'operator', type: 'quarantine-retried', detail: limits });
        return true;
      });
      if (!inQuarantine) throw new NotFound(`mail ${id} is not in quarantine`);
      const r = (await service.processor.retryQuarantined(id, limits)) ?? undefined;
      const line = ingestLine(`inbound:${id}`, r, store, id);
      io.out(
        values.json
          ? JSON.stringify(line)
          : r?.kind === 'quarantined'
            ? `mail ${id}: still failing: ${r.error}`
            : `mail ${id}: ${line.kind}${line.caseId ? ` ${line.caseId}` : ''} (${line.action})`,
      );
      return r?.kind === 'quarantined' ? 1 : 0;
    } finally {
      service.close();
    }
  },
};

const configCheck: Command = {
  summary: 'validate the config (and the secrets and templates it names); print every problem at once',
  usage: 'klagomal config check [--config FILE]',
  options: {},
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] !== 'check' || positionals.length !== 1) throw new UsageError('usage: klagomal config check');
    const file = configFileFrom(values.config as string | undefined);
    const problems: ConfigProblem[] = [];
    let config: Config | null = null;
    try {
      config = loadConfig(file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
    if (config) {
      problems.push(...missingSecrets(config));
      const built = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase });
      for (const p of built.problems) problems.push({ key: 'templates', message: formatProblem(p) });
    }
    if (problems.length > 0) {
      for (const p of problems) io.err(`${file}: ${p.key ? p.key + ': ' : ''}${p.message}`);
      io.err(`${problems.length} problem(s)`);
      return 1;
    }
    const c = config!;
    io.out(`${file}: OK`);
    io.out(`  firm ${c.firm.name} <${c.firm.complaintsAddress}>, case prefix ${c.cases.prefix}, language ${c.language}`);
    for (const s of c.sources)
      io.out(
        `  source ${s.name}: ${s.type === 'maildir' ? `maildir ${s.path}` : `imap ${s.user}@${s.host}:${s.port}/${s.mailbox} (tls ${s.tls}, ${s.auth ? `oauth2 ${s.auth.provider}` : 'password'})`}`,
      );
    const t = c.transport;
    io.out(
      `  transport: ${
        t.type === 'pickup'
          ? `pickup ${t.path}`
          : t.type === 'graph'
            ? `graph ${t.endpoint} as ${t.user} (oauth2 microsoft)`
            : `smtp ${t.host}:${t.port} (tls ${t.tls}${t.user ? `, ${t.auth ? `oauth2 ${t.auth.provider}` : 'password'}` : ''})`
      }`,
    );
    io.out(`  database ${c.database}; templates ${c.templates}`);
    return 0;
  },
};

const calendar: Command = {
  summary: 'the Swedish business calendar: closed days of a year, and due instants of deadline rules',
  usage: [
    'klagomal calendar holidays YEAR [--json]',
    'klagomal calendar due --from ISO --unit hours|calendarDays|businessDays --amount N [--statutory]',
    'klagomal calendar due --stdin [--statutory]      lines RECEIVED<TAB>UNIT<TAB>N in, one due instant per line out',
  ].join('\n       '),
  options: {
    json: { type: 'boolean' },
    from: { type: 'string' },
    unit: { type: 'string' },
    amount: { type: 'string' },
    stdin: { type: 'boolean' },
    statutory: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, arg] = positionals;
    if (verb === 'holidays' && positionals.length === 2) {
      if (!/^\d{4}$/.test(arg)) throw new UsageError('YEAR: a four-digit year');
      const list = swedishHolidays(Number(arg)).map((h) => ({ date: isoDate(h.date), name: h.name, kind: h.kind }));
      const extra = values.statutory ? [] : closedDatesFromConfig(values).filter((d) => d.startsWith(`${arg}-`));
      const all = [...list, ...extra.map((d) => ({ date: d, name: 'firm closed (config)', kind: 'firm' }))].sort((a, b) => a.date.localeCompare(b.date));
      if (values.json) io.out(json(all));
      else
        io.out(
          table(
            ['DATE', 'DAY', 'NAME', 'KIND'],
            all.map((h) => [h.date, weekdayName(h.date), h.name, h.kind]),
          ),
        );
      return 0;
    }
    if (verb === 'due' && positionals.length === 1) {
      const cal = new BusinessCalendar(values.statutory ? [] : closedDatesFromConfig(values));
      if (values.stdin) {
        const text = fs.readFileSync(0, 'utf8');
        let failures = 0;
        for (const line of text.split(/\r?\n/)) {
          if (!line.trim()) continue;
          try {
            const [from, unit, amount] = line.split('\t');
            io.out(formatStockholm(computeDue(instantArg('RECEIVED', from), ruleArg(unit, amount), cal)));
          } catch (err) {
            failures++;
            io.out(`ERROR ${(err as Error).message}`);
          }
        }
        return failures > 0 ? 1 : 0;
      }
      if (!values.from || !values.unit || !values.amount) throw new UsageError('due needs --from ISO --unit U --amount N (or --stdin)');
      io.out(formatStockholm(computeDue(instantArg('--from', values.from as string), ruleArg(values.unit as string, values.amount as string), cal)));
      return 0;
    }
    throw new UsageError('usage: klagomal calendar holidays YEAR | calendar due --from ISO --unit U --amount N | calendar due --stdin');
  },
};

const escalate: Command = {
  summary: 'one escalation pass (warnings, breaches, the digest) as of now or --now ISO; --dry-run only shows what it would do',
  usage: 'klagomal escalate [--now ISO] [--dry-run] [--json] [--config FILE]',
  options: { now: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: false,
  async run(values, _p, io) {
    const now = values.now !== undefined ? instantArg('--now', values.now as string) : new Date();
    const service = new Service(configOf(values), logger());
    try {
      const r = service.escalate(now, { dryRun: Boolean(values['dry-run']) });
      if (values.json) io.out(JSON.stringify({ now: now.toISOString(), dryRun: Boolean(values['dry-run']), ...r }));
      else {
        io.out(
          `${values['dry-run'] ? 'would escalate' : 'escalated'} ${r.escalated} deadline level(s) as of ${formatStockholm(now)}: ${r.breaches} breach(es), ${r.skipped} superseded level(s) skipped, ${r.notices} notice(s) queued${r.digest ? (values['dry-run'] ? ', daily digest due' : ', daily digest queued') : ''}`,
        );
        for (const a of r.actions) io.out(`  ${a.case}  ${a.milestone.padEnd(15)} ${a.level.padEnd(12)} ${a.late ? 'LATE ' : ''}-> ${a.to.join(', ')}`);
      }
      return 0;
    } finally {
      service.close();
    }
  },
};

/** An instant from the command line: ISO 8601 with an offset or Z, or a date (midnight Stockholm). */
function instantArg(name: string, value: string): Date {
  const date = parseIsoDate(value);
  if (date) return localTime(date, 0, 0, 0);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    throw new UsageError(`${name}: expected an ISO 8601 instant with an offset, like 2026-12-17T10:00:00+01:00 (got "${value}")`);
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${name}: not a valid instant: "${value}"`);
  return d;
}

function ruleArg(unit: string | undefined, amount: string | undefined): DeadlineRule {
  if (!DEADLINE_UNITS.includes(unit as DeadlineUnit)) throw new UsageError(`unit: allowed ${DEADLINE_UNITS.join(', ')} (got "${unit ?? ''}")`);
  if (!/^\d{1,4}$/.test(amount ?? '') || Number(amount) < 1) throw new UsageError(`amount: a whole number from 1 (got "${amount ?? ''}")`);
  return { unit: unit as DeadlineUnit, amount: Number(amount) };
}

/** The firm's closed dates, when a config can be read; the calendar commands work without one too. */
function closedDatesFromConfig(values: Record<string, string | boolean | undefined>): string[] {
  try {
    return [...configOf(values).deadlines.extraClosedDates];
  } catch {
    return [];
  }
}

function weekdayName(iso: string): string {
  return ['sön', 'mån', 'tis', 'ons', 'tor', 'fre', 'lör'][weekday(parseIsoDate(iso)!)];
}

/** The most mails `mail list` prints at once. */
const MAIL_LIST_MAX = 1_000_000;

const mail: Command = {
  summary: 'every inbound mail, by kind: also those that opened no case (auto-replies, bounces, lists)',
  usage: `klagomal mail list [--kind ${MAIL_KINDS.join('|')}] [--limit N] [--json] [--config FILE]`,
  options: { kind: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] !== 'list' || positionals.length !== 1) throw new UsageError('usage: klagomal mail list [--kind K]');
    const kind = (values.kind as string | undefined) ?? null;
    if (kind !== null && !MAIL_KINDS.includes(kind as MailKind)) throw new UsageError(`unknown kind '${kind}'; allowed: ${MAIL_KINDS.join(', ')}`);
    const limit = values.limit !== undefined ? wholeNumber('--limit', values.limit, 1, MAIL_LIST_MAX) : 100;
    return withStore(configOf(values), (store) => {
      const rows = store.listMail(kind, limit).map((m) => ({
        inbound: m.inbound_id,
        kind: m.kind,
        case: m.case_number ?? m.duplicate_of_case,
        receivedAt: m.received_at,
        from: m.from_address,
        subject: m.subject,
        reason: m.reason,
        duplicateOf: m.duplicate_of,
      }));
      if (values.json) io.out(json(rows));
      else if (rows.length === 0) io.out('no mail');
      else
        io.out(
          table(
            ['ID', 'KIND', 'CASE', 'RECEIVED', 'FROM', 'SUBJECT', 'WHY'],
            rows.map((r) => [r.inbound, r.kind, r.case, r.receivedAt, r.from, r.subject, r.reason]),
          ),
        );
      return 0;
    });
  },
};

const templates: Command = {
  summary: 'the mail templates: check them, list the versions in use, preview a mail, show a stored version',
  usage: [
    'klagomal templates check [--config FILE]',
    'klagomal templates list [--json] [--config FILE]',
    `klagomal templates preview KIND [--lang ${LANGUAGES.join('|')}] [--case ID] [--html] [--config FILE]`,
    'klagomal templates show VERSION [--config FILE]      the template text a sent mail was made from',
  ].join('\n       '),
  options: { lang: { type: 'string' }, case: { type: 'string' }, html: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, arg] = positionals;
    if (verb === 'check' && positionals.length === 1) return templatesCheck(configOf(values), io);
    if (verb === 'list' && positionals.length === 1) return templatesList(configOf(values), values, io);
    if (verb === 'preview' && positionals.length === 2) return templatesPreview(configOf(values), arg, values, io);
    if (verb === 'show' && positionals.length === 2) return templatesShow(configOf(values), arg, io);
    throw new UsageError('usage: klagomal templates check | list | preview KIND [--lang L] [--case ID] [--html] | show VERSION');
  },
};

function templatesCheck(config: Config, io: Io): number {
  const { set, problems } = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase });
  if (!set) {
    for (const p of problems) io.err(formatProblem(p));
    io.err(`${problems.length} template problem(s) in ${config.templates}`);
    return 1;
  }
  const kinds = set.kinds();
  io.out(`${config.templates}: OK, ${kinds.length} templates (${TEMPLATE_KINDS.length} kinds in ${LANGUAGES.join(', ')}), set version ${set.setVersion}`);
  return 0;
}

function templatesList(config: Config, values: Record<string, string | boolean | undefined>, io: Io): number {
  const { set, problems } = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase });
  // What a running service uses: the files when they pass the check, else the last good set it kept.
  let inUse = set;
  let lastGood: string | null = null;
  if (fs.existsSync(config.database)) {
    withStore(config, (store) => {
      const good = store.lastGoodTemplateSet();
      lastGood = good?.setVersion ?? null;
      if (!inUse && good) inUse = TemplateSet.fromFiles(good.files, config.templates, { caseLinkBase: config.firm.caseLinkBase }).set;
    });
  }
  const rows = (inUse?.kinds() ?? [])
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.language.localeCompare(b.language))
    .map((k) => ({ kind: k.kind, language: k.language, version: k.version }));
  if (values.json) {
    io.out(json({ setVersion: inUse?.setVersion ?? null, filesPass: set !== null, lastGood, templates: rows, problems }));
    return set ? 0 : 1;
  }
  if (!inUse) {
    for (const p of problems) io.err(formatProblem(p));
    io.err('the template files have problems and no good set was ever kept: the service would not start');
    return 1;
  }
  io.out(
    table(
      ['KIND', 'LANG', 'VERSION'],
      rows.map((r) => [r.kind, r.language, r.version]),
    ),
  );
  if (set) io.out(`set ${set.setVersion}: the files in ${config.templates} pass the check and are in use`);
  else {
    io.err(`the files in ${config.templates} have ${problems.length} problem(s) (klagomal templates check); the last good set ${inUse.setVersion} is in use`);
    return 1;
  }
  return 0;
}

const STAFF_KINDS: readonly TemplateKind[] = ['officer-new-case', 'officer-command-result', 'escalation-warning', 'breach-notice', 'manager-digest'];

function templatesPreview(config: Config, kind: string, values: Record<string, string | boolean | undefined>, io: Io): number {
  if (!TEMPLATE_KINDS.includes(kind as TemplateKind)) throw new UsageError(`unknown kind '${kind}'; allowed: ${TEMPLATE_KINDS.join(', ')}`);
  const lang = values.lang as string | undefined;
  if (lang !== undefined && !LANGUAGES.includes(lang as Language)) throw new UsageError(`--lang: allowed ${LANGUAGES.join(', ')}`);
  const set = TemplateSet.load(config.templates, { caseLinkBase: config.firm.caseLinkBase });
  // The configured firm, also in sample data, so that the preview shows the firm's own signature.
  let facts: Record<string, unknown> = { firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress } };
  let fromCase = false;
  let language = (lang as Language | undefined) ?? config.language;
  let to = 'anna.svensson@example.com';
  let caseNumber: string | null = 'KLG-2026-000042';
  if (typeof values.case === 'string') {
    withStore(config, (store) => {
      const c = findCase(store, values.case as string);
      facts = caseFacts(store, config, c);
      fromCase = true;
      if (!lang && LANGUAGES.includes(c.language as Language)) language = c.language as Language;
      // Staff mails go to the contact person (or the admin), customer mails to the customer.
      to = (STAFF_KINDS.includes(kind as TemplateKind) ? (c.contact_officer ?? config.firm.adminAddress) : c.customer_address) ?? to;
      caseNumber = c.number;
    });
  }
  const mail = buildMail(
    {
      kind: kind as TemplateKind,
      caseId: null,
      caseNumber,
      language,
      to,
      data: previewData(kind as TemplateKind, facts),
      idempotencyKey: 'preview',
      now: new Date(),
    },
    set,
    config,
  );
  const lines = [
    `From: ${mail.fromName} <${mail.fromAddress}>`,
    `To: ${mail.toAddress}`,
    `Subject: ${mail.subject}`,
    `Message-ID: <${mail.messageId}>`,
    ...Object.entries(mail.headers).map(([k, v]) => `${k}: ${v}`),
    `X-Klagomal-Template: ${mail.template}/${mail.language}@${mail.templateVersion}${fromCase ? '' : ' (sample data)'}`,
    '',
    values.html ? (mail.bodyHtml ?? '') : mail.bodyText,
  ];
  io.out(lines.join('\n'));
  return 0;
}

function templatesShow(config: Config, version: string, io: Io): number {
  return withStore(config, (store) => {
    const rows = store.templateVersions(version);
    if (rows.length === 0) throw new NotFound(`no template version '${version}' was ever used for a mail`);
    for (const r of rows) {
      io.out(`# ${r.kind}/${r.language}@${r.version}, first used ${r.first_used_at}`);
      for (const [file, text] of Object.entries(JSON.parse(r.sources) as Record<string, string>)) {
        io.out(`\n## ${file}\n${text.replace(/\n$/, '')}`);
      }
    }
    return 0;
  });
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  start,
  run,
  ingest,
  cases,
  case: caseCommand,
  outbox,
  quarantine,
  config: configCheck,
  calendar,
  escalate,
  mail,
  templates,
  import: importCommand,
  reconcile: reconcileCommand,
  status: statusCommand,
  check: checkCommand,
  report: reportCommand,
  audit: auditCommand,
  retention: retentionCommand,
  subject: subjectCommand,
};
