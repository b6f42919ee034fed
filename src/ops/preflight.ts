/**
 * Preflight: everything `klagomal start` needs, checked before the loop starts (and on demand
 * by `klagomal check`), each with what was found and, when it failed, how to fix it.
 *
 *   config        the secrets the config names are in the environment
 *   data folder   exists (or can be made), writable, not readable by others (0700)
 *   database      opens, its schema is one this program knows (migrations applied or pending),
 *                 the file and its -wal/-shm are 0600
 *   imap <name>   per IMAP source: (OAuth2) get a token, connect, log in, open the watched
 *                 folder, the processed and Sent folders exist
 *   maildir <name> per Maildir source: the folder exists (or can be made) and is writable
 *   transport     (OAuth2) get a token; nodemailer's `verify()` (SMTP greeting, TLS, login),
 *                 Graph's token and its Mail.Send permission, or the pickup folder
 *
 * OAuth2 failures name the step that failed, in the words of the Microsoft 365 or Google
 * Workspace admin who must fix it: the token endpoint refused (tenant, client, secret, an
 * expired secret), Google refused the delegation (the scope in domain-wide delegation), the
 * token lacks the permission (IMAP.AccessAsApp, SMTP.SendAsApp, Mail.Send), the IMAP server
 * refused the token (no rights on the mailbox), SMTP refused it (SMTP AUTH off).
 *   templates     every template passes the checker
 *   monthly pack charts  (reports.monthly) resvg loads and draws text with a system font
 *
 * Two modes. `repair: false` (`klagomal check`, maybe run as root) changes nothing on disk:
 * a folder that does not exist yet is reported as "created at start", the database is opened
 * read-only. `repair: true` (the service, as its own user) tightens modes that are too open
 * and says so.
 *
 * `fatal` tells the service what to do with a failure: config, data folder, database, the
 * pickup folder and templates stop the start; an SMTP server that does not answer does not
 * (the outbox retries); a failing source never does: the others must keep
 * being served and that source retries with backoff, and even with every mailbox refusing,
 * queued acknowledgements must still go out and deadline warnings still be sent (a service
 * that refuses to start does neither). The failure is logged with its fix and `klagomal
 * status` turns red once the source has been down for `status.sourceDownMinutes`.
 *
 * Fix hints are classified once, here, from the error's code (maddy's rule): authentication,
 * the network (host/port), TLS, a missing folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { connectMailbox, loginRefused, mailboxConnection } from '../ingest/imap';
import { describeError } from '../ingest/source-status';
import { credentialsFor, Login, MailboxCredentials } from '../auth/credentials';
import { TokenError } from '../auth/token';
import { tokenRoles } from '../auth/roles';
import type { Config, ImapSourceConfig, MaildirSourceConfig } from '../config/config';
import { missingSecrets } from '../config/missing-secrets';
import { openDatabase, DB } from '../store/db';
import { MIGRATIONS } from '../store/migrations';
import { Store } from '../store/store';
import { createTransport, Transport } from '../reply/transport';
import { formatProblem, TemplateSet } from '../reply/templates';
import { CHECKED_KEY } from '../reply/template-manager';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { imapFix, isMissingFolder, tokenFix, transportFix } from './preflight-fixes';
import { checkChartDrawing } from '../monthly/png';

export { imapFix, imapOAuth2Fix, tokenFix, transportFix } from './preflight-fixes';

export type PreflightCheck =
  'config' | 'data folder' | 'database' | `imap ${string}` | `maildir ${string}` | 'transport' | 'templates' | 'backup folder' | 'monthly pack charts';

export interface PreflightResult {
  readonly check: PreflightCheck;
  readonly ok: boolean;
  /** What was found: "schema version 7", "logged in as klagomal@firm.se, INBOX has 12 mails". */
  readonly detail: string;
  /** How to fix a failure, naming the key, variable or command. */
  readonly fix?: string;
  /** A failure here stops `start` (a source's does not; see the header). */
  readonly fatal: boolean;
}

export interface PreflightOptions {
  /** Tighten modes that are too open (the service); default false (report only). */
  readonly repair?: boolean;
  /** The service's open database; without it the file is opened read-only. */
  readonly db?: DB;
  /** The service's transport, to verify the same pool it will send with. */
  readonly transport?: Transport;
  /** Seconds to wait for each IMAP server (default 20). */
  readonly imapTimeoutSeconds?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** The service's credentials per IMAP source (sharing its cached tokens); default: made from the config. */
  readonly credentialsOf?: (s: ImapSourceConfig) => MailboxCredentials;
}

/** Run every check; the IMAP sources in parallel. Never throws: a check that throws is a failure. */
export async function preflight(config: Config, log: Logger, opts: PreflightOptions = {}): Promise<PreflightResult[]> {
  const results: PreflightResult[] = [checkConfig(config, opts.env ?? process.env)];
  results.push(guard('data folder', true, () => checkDataFolder(config.dataDir, opts.repair ?? false, log)));
  results.push(guard('database', true, () => checkDatabase(config, opts, log)));
  const sources = await Promise.all(
    config.sources.map((s, i) =>
      s.type === 'imap'
        ? checkImap(s, i, opts.credentialsOf ? opts.credentialsOf(s) : credentialsFor(s, opts.env ?? process.env), (opts.imapTimeoutSeconds ?? 20) * 1000)
        : Promise.resolve(guard(`maildir ${s.name}`, false, () => checkMaildir(s, i))),
    ),
  );
  results.push(...sources);
  results.push(await checkTransport(config, opts.transport));
  results.push(guard('templates', true, () => checkTemplates(config, opts.db)));
  // Not fatal: without its backup disk the service still files mail; `status` goes red when the
  // last good backup grows old (backup.maxAgeHours).
  if (config.backup.dir !== null) results.push(guard('backup folder', false, () => checkBackupFolder(config.backup.dir!, config.dataDir)));
  // Not fatal: the pack is monthly; without its renderer or a font the service still files mail.
  if (config.reports.monthly) results.push(guard('monthly pack charts', false, () => checkChartDrawing()));
  return results;
}

type Found = Omit<PreflightResult, 'check' | 'fatal'> & { fatal?: boolean };

function guard(check: PreflightCheck, fatal: boolean, fn: () => Found): PreflightResult {
  try {
    return { check, fatal, ...fn() };
  } catch (err) {
    return { check, fatal, ok: false, detail: errorChain(err), fix: fixForFileError(err) };
  }
}

function fixForFileError(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'give the service user (klagomal) ownership: chown -R klagomal: on the folder, or run as that user';
  if (code === 'EROFS') return 'the file system is read-only here; under systemd the data folder must be in ReadWritePaths=';
  if (code === 'ENOSPC') return 'the disk is full: free space on it';
  return undefined;
}

// ---------------------------------------------------------------------------------------

function checkConfig(config: Config, env: NodeJS.ProcessEnv): PreflightResult {
  const missing = missingSecrets(config, env);
  if (missing.length === 0) return { check: 'config', ok: true, fatal: true, detail: `${config.file}: valid, every secret it names is set` };
  return {
    check: 'config',
    ok: false,
    fatal: true,
    detail: `${config.file}: ${missing.map((p) => `${p.key} ${p.message}`).join('; ')}`,
    fix: `set ${missing.map((p) => /names (\S+),/.exec(p.message)?.[1] ?? p.key).join(', ')} in the service's EnvironmentFile (/etc/klagomal/klagomal.env, mode 0600) or the environment`,
  };
}

/** The permission bits of `file` when it exists. */
function modeOf(file: string): number | null {
  try {
    return fs.statSync(file).mode & 0o777;
  } catch {
    return null;
  }
}

function nearestExisting(dir: string): string {
  let d = path.resolve(dir);
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/**
 * backup.dir: it must exist (a folder on a backup disk that is not mounted would otherwise be
 * made on the root disk, and the backup written where nobody looks), be a writable folder, and
 * should not be on the data folder's disk (one dead disk would take both).
 */
function checkBackupFolder(dir: string, dataDir: string): Found {
  if (!fs.existsSync(dir))
    return {
      ok: false,
      detail: `backup.dir ${dir} does not exist`,
      fix: `mount the backup disk, or create the folder for the service user (mkdir -p ${dir}; chown klagomal: ${dir}); under systemd add it to ReadWritePaths=`,
    };
  if (!fs.statSync(dir).isDirectory()) return { ok: false, detail: `backup.dir ${dir} is not a folder`, fix: 'point backup.dir at a folder' };
  fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  const sameDisk = fs.statSync(dir).dev === fs.statSync(nearestExisting(dataDir)).dev;
  return {
    ok: true,
    detail: `${dir}: writable${sameDisk ? '; on the same disk as the data folder: ship the backups off the machine (restic, borg, rsync), a dead disk takes both' : ''}`,
  };
}

function checkDataFolder(dir: string, repair: boolean, log: Logger): Found {
  const mode = modeOf(dir);
  if (mode === null) {
    const parent = nearestExisting(dir);
    fs.accessSync(parent, fs.constants.W_OK);
    return { ok: true, detail: `${dir} does not exist yet; it is created (0700) at start, in ${parent}` };
  }
  if (!fs.statSync(dir).isDirectory()) return { ok: false, detail: `${dir} is not a folder`, fix: 'point dataDir at a folder' };
  fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  if ((mode & 0o077) !== 0) {
    if (repair) {
      fs.chmodSync(dir, 0o700);
      log.warn('the data folder was readable by others; its mode is now 0700', { folder: dir, was: mode.toString(8) });
      return { ok: true, detail: `${dir}: writable; mode was 0${mode.toString(8)}, now 0700` };
    }
    return { ok: false, detail: `${dir}: mode 0${mode.toString(8)}: other users can read the complaints`, fix: `chmod 700 ${dir}` };
  }
  return { ok: true, detail: `${dir}: writable, mode 0${mode.toString(8)}` };
}

function checkDatabase(config: Config, opts: PreflightOptions, log: Logger): Found {
  const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
  const file = config.database;
  if (!opts.db && !fs.existsSync(file)) return { ok: true, detail: `${file} does not exist yet; it is created (0600, schema version ${latest}) at start` };
  const db = opts.db ?? openDatabase(file, { readonly: true });
  let version: number;
  try {
    version = new Store(db).readonlySchemaVersion();
  } finally {
    if (!opts.db) db.close();
  }
  if (version > latest)
    return {
      ok: false,
      detail: `${file}: schema version ${version}, newer than this program knows (${latest})`,
      fix: 'install the klagomal version that wrote it, or newer',
    };
  // The database and its companions: SQLite gives -wal and -shm the mode the database had when they were made.
  const open: string[] = [];
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    const mode = modeOf(f);
    if (mode === null || (mode & 0o077) === 0) continue;
    if (opts.repair) {
      fs.chmodSync(f, 0o600);
      log.warn('a database file was readable by others; its mode is now 0600', { file: f, was: mode.toString(8) });
    } else open.push(`${path.basename(f)} is 0${mode.toString(8)}`);
  }
  const pending = latest - version;
  const detail = `${file}: schema version ${version}${pending > 0 ? ` (${pending} migration(s) pending, applied at start)` : ''}`;
  if (open.length > 0) return { ok: false, detail: `${detail}; ${open.join(', ')}`, fix: `chmod 600 ${file}*` };
  return { ok: true, detail };
}

function checkMaildir(s: MaildirSourceConfig, i: number): Found {
  if (!fs.existsSync(s.path)) {
    const parent = nearestExisting(s.path);
    fs.accessSync(parent, fs.constants.W_OK);
    return { ok: true, detail: `${s.path} does not exist yet; created at start` };
  }
  for (const sub of ['new', 'cur', 'tmp']) {
    const d = path.join(s.path, sub);
    if (fs.existsSync(d)) fs.accessSync(d, fs.constants.W_OK | fs.constants.R_OK);
  }
  return { ok: true, detail: `${s.path}: readable and writable (sources[${i}])` };
}

// ---------------------------------------------------------------------------------------

async function checkImap(s: ImapSourceConfig, index: number, credentials: MailboxCredentials, timeoutMs: number): Promise<PreflightResult> {
  const check: PreflightCheck = `imap ${s.name}`;
  const at = `sources[${index}]`;
  const make = (login: Login): ImapFlow => {
    const c = new ImapFlow({
      ...mailboxConnection(s, login),
      disableAutoIdle: true,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs * 2,
    });
    c.on('error', () => undefined); // the awaited call below reports it
    return c;
  };
  // OAuth2: the token first, so that a refusal names the token service, not the mail server.
  let via = '';
  if (credentials.tokens) {
    let login: Login;
    try {
      login = await credentials.login();
    } catch (err) {
      const e = err instanceof TokenError ? err : new TokenError(errorChain(err), 'token endpoint', true);
      return { check, fatal: false, ok: false, detail: `token (${credentials.kind}) for ${s.user}: ${e.message}`, fix: tokenFix(e, `${at}.auth`) };
    }
    const roles = s.auth?.provider === 'microsoft' ? tokenRoles(login.accessToken ?? '') : null;
    if (roles !== null && !roles.includes('IMAP.AccessAsApp') && !roles.includes('IMAP.AccessAsUser.All'))
      return {
        check,
        fatal: false,
        ok: false,
        detail: `token (${credentials.kind}) obtained, but it has no IMAP.AccessAsApp permission (roles: ${roles.join(', ') || 'none'})`,
        fix: 'in the app registration add the API permission "Office 365 Exchange Online" → Application permissions → IMAP.AccessAsApp, and grant admin consent',
      };
    via = ` with OAuth2 (${credentials.kind}; token valid until ${new Date(login.expiresAt ?? 0).toISOString().replace(/\.\d{3}Z$/, 'Z')})`;
  }
  let client: ImapFlow | null = null;
  let step = 'connect';
  try {
    client = (await connectMailbox(credentials, make)).client;
    step = 'open';
    let opened: { exists: number };
    try {
      opened = await client.mailboxOpen(s.mailbox, { readOnly: true });
    } catch (err) {
      if (isMissingFolder(err))
        return {
          check,
          fatal: false,
          ok: false,
          detail: `logged in, but the folder "${s.mailbox}" does not exist`,
          fix: `create "${s.mailbox}" on the server or fix ${at}.mailbox`,
        };
      throw err;
    }
    const notes: string[] = [`logged in to ${s.host}:${s.port} as ${s.user}${via}, ${s.mailbox} has ${opened.exists} mail(s)`];
    for (const [key, folder] of [
      ['sentFolder', s.sentFolder],
      ['processedFolder', s.processedFolder],
    ] as const) {
      if (!folder) continue;
      step = key;
      // STATUS throws NotFound for a missing folder and answers false when it cannot tell.
      const exists = await client
        .status(folder, { messages: true })
        .then((st) => (st === false ? null : true))
        .catch((err: unknown) => {
          if (isMissingFolder(err)) return false;
          throw err;
        });
      if (exists === null) notes.push(`${key} "${folder}" could not be looked at (STATUS refused)`);
      else if (exists) notes.push(`${key} "${folder}" exists`);
      else if (key === 'processedFolder') notes.push(`processedFolder "${folder}" does not exist yet; it is created at start`);
      else
        return {
          check,
          fatal: false,
          ok: false,
          detail: `${notes[0]}; but the Sent folder "${folder}" does not exist`,
          fix: `fix ${at}.sentFolder (the folder's exact name on the server) or remove it`,
        };
    }
    return { check, fatal: false, ok: true, detail: notes.join('; ') };
  } catch (err) {
    const what =
      step === 'connect'
        ? credentials.tokens && loginRefused(err)
          ? `the IMAP server ${s.host}:${s.port} refused the token for ${s.user} (also a fresh one)`
          : `cannot connect or log in to ${s.host}:${s.port}`
        : `after login (${step})`;
    // describeError: the server's reason (AUTHENTICATIONFAILED ...) besides imapflow's "Command failed".
    return { check, fatal: false, ok: false, detail: `${what}: ${describeError(err)}`, fix: imapFix(err, s, index) };
  } finally {
    const c = client as ImapFlow | null;
    if (c) await c.logout().catch(() => c.close());
  }
}

// ---------------------------------------------------------------------------------------

async function checkTransport(config: Config, given: Transport | undefined): Promise<PreflightResult> {
  const t = config.transport;
  if (t.type === 'graph') return checkGraph(config, given);
  // An SMTP server that does not answer is not a reason to stop: intake, filing and deadline
  // warnings go on, the outbox keeps what is due and retries with backoff (outbox.giveUpAfterHours),
  // and a refused start would leave systemd giving up after a few restarts. A pickup folder that
  // cannot be written is this machine's own setup: that stops the start.
  const base = { check: 'transport' as const, fatal: t.type !== 'smtp' };
  if (t.type === 'pickup' && !given) {
    // Report only: `klagomal check` (perhaps as root) must not create folders the service cannot own.
    return { ...base, ...guardPickup(t.path) };
  }
  const transport = given ?? createTransport(t);
  try {
    // OAuth2: the token first, so that a refusal names the token service, not the SMTP server.
    const credentials = (transport as { credentials?: MailboxCredentials | null }).credentials;
    if (t.type === 'smtp' && t.auth && credentials?.tokens) {
      try {
        const login = await credentials.login();
        const roles = t.auth.provider === 'microsoft' ? tokenRoles(login.accessToken ?? '') : null;
        if (roles !== null && !roles.includes('SMTP.SendAsApp') && !roles.includes('SMTP.Send'))
          return {
            ...base,
            ok: false,
            detail: `token (${credentials.kind}) obtained, but it has no SMTP.SendAsApp permission (roles: ${roles.join(', ') || 'none'})`,
            fix: 'in the app registration add the API permission "Office 365 Exchange Online" → Application permissions → SMTP.SendAsApp, and grant admin consent',
          };
      } catch (err) {
        const e = err instanceof TokenError ? err : new TokenError(errorChain(err), 'token endpoint', true);
        return { ...base, ok: false, detail: `token (${credentials.kind}) for ${t.user}: ${e.message}`, fix: tokenFix(e, 'transport.auth') };
      }
    }
    await transport.verify();
    return {
      ...base,
      ok: true,
      detail:
        t.type === 'smtp'
          ? `SMTP ${t.host}:${t.port} (tls ${t.tls}) answered${t.user ? `, logged in as ${t.user}${t.auth ? ` with OAuth2 (oauth2 ${t.auth.provider})` : ''}` : ''}`
          : `pickup folder ${t.path} writable`,
    };
  } catch (err) {
    const message = errorChain(err);
    return {
      ...base,
      ok: false,
      detail: `${t.type === 'smtp' ? `SMTP ${t.host}:${t.port}` : `pickup folder ${t.path}`}: ${message}`,
      fix: transportFix(config, message),
    };
  } finally {
    if (!given) transport.close();
  }
}

/** Graph: a token with Mail.Send (nothing is sent: Graph has no way to check a send without one). */
async function checkGraph(config: Config, given: Transport | undefined): Promise<PreflightResult> {
  const t = config.transport;
  if (t.type !== 'graph') throw new Error('not a graph transport');
  const transport = given ?? createTransport(t);
  try {
    await transport.verify();
    return {
      check: 'transport',
      fatal: false,
      ok: true,
      detail: `Microsoft Graph ${t.endpoint}: token for ${t.user} obtained (${t.auth.clientSecretEnv ? 'client secret' : 'certificate'}), with Mail.Send`,
    };
  } catch (err) {
    const message = errorChain(err);
    return { check: 'transport', fatal: false, ok: false, detail: `Microsoft Graph ${t.endpoint}: ${message}`, fix: transportFix(config, message) };
  } finally {
    if (!given) transport.close();
  }
}

function guardPickup(dir: string): Found {
  try {
    if (fs.existsSync(dir)) {
      fs.accessSync(dir, fs.constants.W_OK);
      return { ok: true, detail: `pickup folder ${dir} writable` };
    }
    const parent = nearestExisting(dir);
    fs.accessSync(parent, fs.constants.W_OK);
    return { ok: true, detail: `pickup folder ${dir} does not exist yet; created at start` };
  } catch (err) {
    return { ok: false, detail: `pickup folder ${dir}: ${errorChain(err)}`, fix: fixForFileError(err) ?? `make ${dir} writable for the service user` };
  }
}

function checkTemplates(config: Config, db: DB | undefined): Found {
  // The service's start: a set that passed the whole check before, unchanged since (the same
  // key as the service's own build, src/reply/template-manager.ts), is not checked a second
  // time (~0.1 s of every start). `klagomal check` has no database open: it checks in full.
  const checkedBefore = db ? (new Store(db).meta(CHECKED_KEY) ?? null) : null;
  const { set, problems } = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase, checkedBefore });
  if (set) return { ok: true, detail: `${config.templates}: every template passes, set version ${set.setVersion}` };
  const first = `${problems.length} problem(s), the first: ${formatProblem(problems[0])}`;
  // With a good set kept in the database the service still runs on it (and tells the admin).
  let lastGood: string | null = null;
  try {
    if (db) lastGood = new Store(db).lastGoodTemplateSet()?.setVersion ?? null;
    else if (fs.existsSync(config.database)) {
      const ro = openDatabase(config.database, { readonly: true });
      try {
        lastGood = new Store(ro).lastGoodTemplateSet()?.setVersion ?? null;
      } finally {
        ro.close();
      }
    }
  } catch {
    /* no database yet, or an older schema: no good set to fall back on */
  }
  return {
    ok: false,
    // The service runs on the last good set; without one it cannot start.
    fatal: lastGood === null,
    detail: `${config.templates}: ${first}${lastGood ? `; the last good set ${lastGood} stays in use` : '; no good set was ever kept, so the service cannot start'}`,
    fix: `fix the templates ('klagomal templates check' lists every problem with file and line)`,
  };
}

/** One line per check, for `klagomal check` and the start's error. */
export function formatResult(r: PreflightResult): string {
  return `${r.check}: ${r.ok ? 'ok' : 'FAILED'}: ${r.detail}${!r.ok && r.fix ? `\n    fix: ${r.fix}` : ''}`;
}

/** The start refused: the checks that failed and must be fixed first. */
export class PreflightError extends Error {
  constructor(readonly failed: readonly PreflightResult[]) {
    const first = failed[0];
    super(
      `${first.check} check failed: ${first.detail}${first.fix ? ` — fix: ${first.fix}` : ''}` +
        (failed.length > 1
          ? ` (and ${failed.length - 1} more failed check(s): ${failed
              .slice(1)
              .map((r) => r.check)
              .join(', ')}; run 'klagomal check')`
          : ''),
    );
    this.name = 'PreflightError';
  }
}

/** The checks that stop a start: the fatal failures (never a source's; see above). */
export function blockingFailures(results: readonly PreflightResult[]): PreflightResult[] {
  return results.filter((r) => !r.ok && r.fatal);
}
