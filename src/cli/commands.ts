/**
 * The registry of `klagomal`'s subcommands: each name and the module that implements it, in the
 * order `klagomal --help` lists them (src/cli.ts prints this table and dispatches through it).
 *
 * src/cli/ is the command line's folder (see its README.md): one file per command, each of
 * which parses its arguments, calls a stage or the store, and prints (a table for people,
 * JSON for scripts). A command returns its exit code (0 ok, 1 failure); a usage mistake throws
 * UsageError (exit 2). A command may import any stage; nothing imports src/cli/ but src/cli.ts.
 */
import type { Command } from './shared';
import { startCommand } from './start';
import { runCommand } from './run';
import { ingestCommand } from './ingest';
import { casesCommand } from './cases';
import { caseCommand } from './case';
import { outboxCommand } from './outbox';
import { quarantineCommand } from './quarantine';
import { configCommand } from './config';
import { calendarCommand } from './calendar';
import { escalateCommand } from './escalate';
import { mailCommand } from './mail';
import { templatesCommand } from './templates';
import { importCommand } from './import';
import { reconcileCommand } from './reconcile';
import { statusCommand } from './status';
import { checkCommand } from './check';
import { reportCommand } from './report';
import { auditCommand } from './audit';
import { retentionCommand } from './retention';
import { subjectCommand } from './subject';
import { backupCommand } from './backup';
import { restoreCommand } from './restore';
import { formCommand } from './form';

export const COMMANDS: Readonly<Record<string, Command>> = {
  start: startCommand,
  run: runCommand,
  ingest: ingestCommand,
  cases: casesCommand,
  case: caseCommand,
  outbox: outboxCommand,
  quarantine: quarantineCommand,
  config: configCommand,
  calendar: calendarCommand,
  escalate: escalateCommand,
  mail: mailCommand,
  templates: templatesCommand,
  import: importCommand,
  reconcile: reconcileCommand,
  status: statusCommand,
  check: checkCommand,
  report: reportCommand,
  audit: auditCommand,
  retention: retentionCommand,
  subject: subjectCommand,
  backup: backupCommand,
  restore: restoreCommand,
  form: formCommand,
};
