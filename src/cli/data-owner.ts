/**
 * Admin commands run as the data folder's owner (the service user), never as another user.
 *
 * What went wrong: `klagomal import` run as root made `data/raw` and `data/attachments` root's
 * (0700, umask 077), and the service user then failed on every mail over 1 MiB and on every
 * attachment. So a command that writes into the data folder, run by any other user than the
 * folder's owner, refuses before it touches anything and prints the exact line to run instead
 * (`sudo -u OWNER ...`, keeping the secrets' variables). Root may pass `--as-owner`: the
 * command then drops to the owner's uid and gid before it opens anything, so that whatever it
 * makes is the owner's.
 *
 * Read-only commands (status, cases, quarantine list, report, the audits but `audit case`, ...)
 * run as anyone who can read the folder. `case show` and `audit case` write the access log
 * (who read personal data), so they are the owner's too.
 */
import fs from 'node:fs';
import type { Config } from '../config/config';

/** The command cannot run as this user: the lines to print (the first one the reason, the second the command to use). */
export class WrongUser extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
    this.name = 'WrongUser';
  }
}

export interface Invoker {
  readonly uid: number;
  readonly execPath: string;
  /** The klagomal script as it was started (process.argv[1]). */
  readonly script: string;
}

/** Whether `klagomal NAME POSITIONALS...` may write into the data folder (database, raw mail, attachments). */
export function writesDataFolder(name: string, positionals: readonly string[], values: Record<string, unknown>): boolean {
  const verb = positionals[0];
  switch (name) {
    case 'start':
    case 'run':
    case 'ingest':
    case 'import':
    case 'reconcile':
    case 'subject':
      return true;
    case 'escalate':
      return values['dry-run'] !== true;
    case 'retention':
      return verb === 'run' && values['dry-run'] !== true;
    case 'outbox':
    case 'quarantine':
      return verb === 'retry';
    case 'case':
      // `case show` too: reading a case's personal data is written to the access log.
      return verb !== undefined;
    case 'audit':
      // `audit case` logs its reading; the other audits only read.
      return verb === 'encrypt-personnummer' || verb === 'case';
    default:
      // status, cases, mail, report, templates, config, check, calendar: read only.
      return false;
  }
}

/** A user's name from /etc/passwd, else `#UID` (the form sudo takes for a uid without a name). */
export function userName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid) return name;
    }
  } catch {
    /* no passwd file: the uid form below */
  }
  return `#${uid}`;
}

/** One argument for a POSIX shell: as it is when it is plain, else in single quotes. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The environment variables holding the config's secrets that are set here (sudo clears the rest). */
function secretVariables(config: Config, env: NodeJS.ProcessEnv): string[] {
  const names = new Set<string>();
  if (config.personnummer?.store) names.add(config.personnummer.keyEnv);
  for (const s of config.sources ?? []) if (s.type === 'imap' && s.passwordEnv) names.add(s.passwordEnv);
  const t = config.transport as { passwordEnv?: string | null };
  if (t?.passwordEnv) names.add(t.passwordEnv);
  return [...names].filter((n) => env[n]);
}

/**
 * Refuse (WrongUser) when the data folder exists and belongs to another user than the one
 * running; with `asOwner` as root, become the owner instead. `argv` is the command line after
 * `klagomal` (without `--as-owner`), for the line to print.
 */
export function ensureDataFolderOwner(
  config: Config,
  argv: readonly string[],
  asOwner: boolean,
  me: Invoker = { uid: process.getuid?.() ?? -1, execPath: process.execPath, script: process.argv[1] ?? 'klagomal' },
  env: NodeJS.ProcessEnv = process.env,
): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(config.dataDir);
  } catch {
    return; // not made yet: the first command makes it, as its user
  }
  if (me.uid < 0 || st.uid === me.uid) return;
  if (asOwner && me.uid === 0) {
    // gid first: after setuid root's right to change it is gone.
    process.setgroups?.([st.gid]);
    process.setgid!(st.gid);
    process.setuid!(st.uid);
    return;
  }
  const owner = userName(st.uid);
  const vars = secretVariables(config, env);
  const command = [me.execPath, me.script, ...argv].map(shellQuote).join(' ');
  throw new WrongUser([
    `the data folder ${config.dataDir} belongs to ${owner}, and this command runs as ${userName(me.uid)}: files it made would be ${userName(me.uid)}'s and the service could not use them. Nothing was changed. Run it as ${owner}:`,
    `  sudo -u ${owner}${vars.length ? ` --preserve-env=${vars.join(',')}` : ''} ${command}`,
    ...(me.uid === 0 ? [`(or, as root, add --as-owner: klagomal then runs as ${owner})`] : []),
  ]);
}
