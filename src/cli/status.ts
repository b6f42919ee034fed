/**
 * `klagomal status [--json]`: the state of an install at a glance, for a person (like
 * `postfix status` or `doveadm who`) or for a monitoring check.
 *
 * Exit codes: 0 nothing needs a person; 1 something does (the reasons are printed, in the
 * text and under `needsAttention` in the JSON), or the database cannot be read; 2 usage.
 *
 * Reads the database without writing to it: the service, in another process, records what
 * its sources do (src/ingest/source-status.ts); this only reads (src/ops/status.ts). The one
 * exception is a database older than this program: it is migrated first, as `start` would,
 * because the report reads columns the migrations add.
 */
import fs from 'node:fs';
import type { Config } from '../config/config';
import { openDatabase, schemaVersion, DB } from '../store/db';
import { Store } from '../store/store';
import { AuthReport, gatherStatus, LATEST_SCHEMA, SourceReport, StatusReport, FAILED_MAIL_ATTENTION_DAYS } from '../ops/status';
import { formatStockholm } from '../util/stockholm-time';
import { Command, configOf, Io, json, NotFound } from './shared';

export const statusCommand: Command = {
  summary: 'sources, outbox, quarantine, deadlines, templates, database; exit 1 when something needs a person',
  usage: 'klagomal status [--json] [--config FILE]',
  options: { json: { type: 'boolean' } },
  positionals: false,
  async run(values, _positionals, io) {
    const config = configOf(values);
    const db = openForStatus(config);
    let report: StatusReport;
    try {
      report = gatherStatus(config, new Store(db), new Date(), { checkTemplateFiles: true });
    } finally {
      db.close();
    }
    if (values.json) io.out(json(report));
    else printStatus(report, io);
    return report.ok ? 0 : 1;
  },
};

function openForStatus(config: Config): DB {
  if (!fs.existsSync(config.database)) {
    throw new NotFound(`the database ${config.database} does not exist: klagomal has not run with this config (start it with 'klagomal start')`);
  }
  const db = openDatabase(config.database, { readonly: true });
  if (schemaVersion(db) >= LATEST_SCHEMA) return db;
  db.close();
  return openDatabase(config.database); // migrates, as the service's next start would
}

// ---- text --------------------------------------------------------------------------------

const local = (i: string | null): string => (i ? formatStockholm(new Date(i)) : '-');

function ago(i: string | null, now: Date): string {
  if (!i) return 'never';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(i)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

function stateText(s: SourceReport, now: Date): string {
  switch (s.state) {
    case 'connected':
      return `connected since ${local(s.since)}`;
    case 'reconnecting':
      return `DOWN since ${local(s.downSince)} (${s.downMinutes} min), retrying`;
    case 'stopped':
      return `not watched since ${local(s.stoppedAt)} (stopped cleanly, or only 'run --once')`;
    case 'not-running':
      return `NOT WATCHED: no heartbeat since ${local(s.heartbeatAt)} (${ago(s.heartbeatAt, now)})`;
    case 'never-seen':
      return 'NEVER WATCHED';
  }
}

/** "auth oauth2 microsoft, token valid until 2026-11-19 10:14 (in 54 min); last token error ..." */
function authText(a: AuthReport, now: Date): string {
  const parts = [`auth ${a.kind}`];
  if (a.kind !== 'password') {
    if (a.tokenExpiresAt) {
      const left = Date.parse(a.tokenExpiresAt) - now.getTime();
      parts.push(
        left > 0 ? `token valid until ${local(a.tokenExpiresAt)} (in ${Math.ceil(left / 60_000)} min)` : `token EXPIRED at ${local(a.tokenExpiresAt)}`,
      );
    } else parts.push('no token yet');
    if (a.lastTokenError) parts.push(`last token error ${local(a.lastTokenErrorAt)}: ${a.lastTokenError}`);
  }
  return parts.join('; ');
}

function serviceText(r: StatusReport, now: Date): string {
  if (r.service.running) return `running (last heartbeat ${ago(r.service.lastHeartbeatAt, now)})`;
  if (r.sources.some((s) => s.state === 'not-running')) return `NOT RUNNING: no heartbeat since ${local(r.service.lastHeartbeatAt)} and no clean stop`;
  return `not running${r.service.lastHeartbeatAt ? ` (last seen ${ago(r.service.lastHeartbeatAt, now)})` : ''}`;
}

/** The last backup, the last good one, and a restore (src/backup/summary.ts). */
function backupLines(r: StatusReport, now: Date): string[] {
  const b = r.backup;
  const last = b.last;
  const good = b.lastGood;
  const lines = [
    `Backup      ${
      !last
        ? `none taken${b.dir ? ` (to ${b.dir}${b.schedule ? `, schedule "${b.schedule}"` : ', no schedule'})` : ' (no backup.dir)'}`
        : `${last.ok ? 'last' : 'last attempt FAILED'} ${local(last.finishedAt)} (${ago(last.finishedAt, now)}) to ${last.dir}${last.manifest ? `: ${last.manifest}` : ''}${!last.ok && last.error ? `: ${last.error}` : ''}`
    }`,
  ];
  if (last && !last.ok) lines.push(`  last good ${good ? `${local(good.finishedAt)} (${ago(good.finishedAt, now)}): ${good.manifest}` : 'never'}`);
  const rs = b.restore;
  if (rs)
    lines.push(
      `  restored from ${rs.manifest} (taken ${local(rs.backupAt)}) at ${local(rs.restoredAt)}; ${rs.reconciledAt ? `reconciled ${local(rs.reconciledAt)}` : 'NOT YET RECONCILED'}; ${rs.quietCases.length} case(s) opened since without an acknowledgement${rs.quietCases.length ? `: ${rs.quietCases.slice(0, 5).join(', ')}${rs.quietCases.length > 5 ? ', ...' : ''}` : ''}`,
    );
  return lines;
}

function printStatus(r: StatusReport, io: Io): void {
  const now = new Date(r.generatedAt);
  const lines: string[] = [];
  lines.push(
    `klagomal status at ${local(r.generatedAt)}: ${r.ok ? 'OK, nothing needs attention' : `${r.needsAttention.length} thing(s) need attention`}`,
    '',
    `Service     ${serviceText(r, now)}`,
    '',
    'Sources',
  );
  // One line per watched folder (doveadm style), the error on its own line below.
  const width = Math.max(...r.sources.map((s) => s.name.length));
  const boxWidth = Math.max(...r.sources.map((s) => (s.role === 'sent' ? `${s.mailbox} (sent)` : s.mailbox).length));
  for (const s of r.sources) {
    const box = s.role === 'sent' ? `${s.mailbox} (sent)` : s.mailbox;
    const facts = [
      stateText(s, now),
      `last poll ${ago(s.lastPollAt, now)}`,
      ...(s.cursor ? [`cursor ${s.cursor.uidvalidity}:${s.cursor.lastUid}`] : []),
      ...(s.waiting !== null ? [`waiting ${s.waiting}`] : s.folderMessages !== null ? [`${s.folderMessages} in folder`] : []),
    ];
    lines.push(`  ${s.name.padEnd(width)}  ${s.type.padEnd(7)}  ${box.padEnd(boxWidth)}  ${facts.join('; ')}`);
    if (s.lastError) lines.push(`  ${''.padEnd(width)}  error: ${s.lastError}${s.failingSince ? ` (failing since ${local(s.failingSince)})` : ''}`);
    if (s.auth && s.role === 'inbox') lines.push(`  ${''.padEnd(width)}  ${authText(s.auth, now)}`);
  }
  lines.push('');
  lines.push(`Transport   ${r.transport.type}${r.transport.auth ? `; ${authText(r.transport.auth, now)}` : ''}`);
  const o = r.outbox;
  lines.push(
    `Outbox      ${o.queued} queued, ${o.retrying} retrying, ${o.sending} sending, ${o.failed} failed (${o.failedRecently} in the last ${FAILED_MAIL_ATTENTION_DAYS} days), ${o.sent} sent`,
  );
  for (const m of o.retryingMails)
    lines.push(`  retrying  #${m.id} ${m.case ?? '-'} ${m.kind}, ${m.attempts} attempt(s), next ${local(m.at)}: ${m.lastError ?? ''}`);
  for (const m of o.failedMails) lines.push(`  failed    #${m.id} ${m.case ?? '-'} ${m.kind}, at ${local(m.at)}: ${m.lastError ?? ''}`);
  lines.push(`Quarantine  ${r.quarantine.count}${r.quarantine.oldestAt ? ` (oldest ${local(r.quarantine.oldestAt)})` : ''}`);
  lines.push(`Inbound     ${r.inbound.pending} stored, not yet filed${r.inbound.oldestPendingAt ? ` (oldest ${ago(r.inbound.oldestPendingAt, now)})` : ''}`);
  const statuses = Object.entries(r.cases.byStatus)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  lines.push(
    `Cases       ${r.cases.open} open${statuses ? ` (${statuses})` : ''}; deadlines ${r.cases.deadlinesOverdue} overdue, ${r.cases.deadlinesDueWithin24h} due within 24 h`,
  );
  for (const d of r.cases.nearestDeadlines) lines.push(`  ${d.overdue ? 'OVERDUE' : 'next   '}   ${d.case}  ${d.milestone.padEnd(15)}  ${local(d.dueAt)}`);
  const t = r.templates;
  const filesText = !t.files
    ? ''
    : t.files.problems > 0
      ? `; the files have ${t.files.problems} problem(s)`
      : t.files.version === t.inUse
        ? '; the files pass the check'
        : `; the files pass the check as ${t.files.version} (taken into use within seconds by a running service)`;
  lines.push(`Templates   ${t.inUse ? `set ${t.inUse} in use (checked ${local(t.checkedAt)})` : 'no set kept yet'}${filesText}`);
  lines.push(`Database    ${r.database.path}: ${bytes(r.database.bytes)}, WAL ${bytes(r.database.walBytes)}, schema ${r.database.schemaVersion}`);
  const rc = r.reconcile;
  lines.push(
    `Reconcile   ${
      !rc
        ? 'never run'
        : !rc.finishedAt
          ? `started ${local(rc.startedAt)} (${rc.trigger}), not finished`
          : `last ${local(rc.finishedAt)} (${rc.trigger}): ${rc.ok ? 'everything matched' : `found ${rc.found} never filed (filed now ${rc.filedNow}), raw ${rc.rawMissing} missing / ${rc.rawMismatched} mismatched of ${rc.rawChecked}, ${rc.errors} folder(s) not compared`}`
    }`,
  );
  lines.push(...backupLines(r, now));
  if (!r.ok) {
    lines.push('', 'Needs attention:');
    for (const reason of r.needsAttention) lines.push(`  - ${reason}`);
  }
  io.out(lines.join('\n'));
}
