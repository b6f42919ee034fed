/**
 * Private Dovecot IMAP server for integration tests.
 *
 * Every instance lives in its own temp dir (config, base_dir, state_dir, log, the user's home
 * and Maildir) and listens on 127.0.0.1 on an ephemeral port. Nothing outside that dir is
 * touched; /etc/dovecot is never read because the config is passed with `-c` and has no
 * !include lines.
 *
 * The config is written for Dovecot 2.3 (Debian 12 ships 2.3.19). Dovecot 2.4 changed the
 * config format, so dovecotAvailable() reports 2.4+ as unavailable instead of failing later.
 *
 * Process model: the master is started in the foreground (`dovecot -F -c CONF`) as a
 * detached child of this Node process rather than daemonised (`dovecot -c CONF`). Reasons:
 *  - Node reaps it and we get an 'exit' event. A daemonised master is reparented to PID 1;
 *    where PID 1 reaps lazily (this VM's init) it lingers as a zombie, and kill(pid, 0)
 *    still says "alive".
 *  - We get its stderr (config/bind errors are printed before the log process runs). Note:
 *    `execFile('dovecot', ['-c', CONF])` with piped stdio never completes, because the
 *    daemon keeps the inherited stdout/stderr pipes open.
 *  - detached = own process group (pgid = master pid) containing exactly this instance's
 *    processes. stop() signals the group: signalling only the master leaves imap processes
 *    with recently active clients running (and serving!) for ~10 s after the master exits.
 * Stop therefore = SIGTERM to the group (SIGKILL after 10 s), then wait until the master
 * has exited, no live group member is left and the port refuses connections (~15 ms).
 *
 * Safety nets against leaked instances (all only ever signal PIDs this module started):
 *  1. An 'exit' listener on the *real* process object (see realProcess(): under jest,
 *     the global `process` is a sandbox copy whose 'exit' listeners never fire) that
 *     SIGTERMs each running instance's process group synchronously.
 *  2. A tiny detached `sh` watchdog per running instance that SIGTERMs the group when this
 *     Node process disappears (covers SIGKILL of a jest worker and Ctrl-C, where no JS
 *     runs; the detached group does not get the terminal's SIGINT itself). It polls every
 *     0.5 s, ends by itself when the master is gone, and stop() kills it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';

export interface DovecotServer {
  host: string;
  port: number;
  user: string;
  password: string;
  baseDir: string;
  maildirRoot: string;
  /** uid/gid that owns the mail files (5000 as root, the calling user otherwise) */
  mailUid: number;
  mailGid: number;
  /** (re)start after stop(); same port, same data; resolves when the port greets with `* OK` */
  start(): Promise<void>;
  /** stop the instance; resolves once the master has exited and the port refuses connections */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** IMAP APPEND (own short-lived connection); returns the UID from APPENDUID */
  append(raw: Buffer | string, mailbox?: string, flags?: string[]): Promise<number | undefined>;
  /** one connection, many APPENDs */
  appendMany(raws: Array<Buffer | string>, mailbox?: string): Promise<void>;
  /** write straight into <mailbox>/new (tmp -> rename), chowned to the mail uid */
  deliverToMaildir(raws: Array<Buffer | string>, mailbox?: string): void;
  /** UIDs, flags (sorted, without \Recent) and Message-ID of every message, via EXAMINE */
  list(mailbox?: string): Promise<Array<{ uid: number; flags: string[]; messageId?: string }>>;
  status(mailbox?: string): Promise<{ messages: number; uidValidity: bigint; uidNext: number }>;
  /** stop, delete the folder's dovecot-uidlist + index files and the mailbox list index, start */
  resetUidValidity(mailbox?: string): Promise<void>;
  cleanup(): Promise<void>;
  logTail(lines?: number): string;
  /** options for `new ImapFlow(...)` against this server (logger off, no TLS) */
  clientOptions(extra?: Partial<ImapFlowOptions>): ImapFlowOptions;
  /** on-disk Maildir++ directory of a mailbox (INBOX = maildirRoot) */
  mailboxDir(mailbox?: string): string;
  /** end every IMAP session of the user now (`doveadm kick`), as a server does when a session's token expired */
  kick(): void;
  /** true while the master process is running */
  readonly running: boolean;
}

const HOST = '127.0.0.1';
const ROOT_MAIL_ID = 5000;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------
// availability

interface Identity {
  mailUid: number;
  mailGid: number;
  internalUser: string;
  loginUser: string;
  internalGroup?: string; // only set for non-root
  nonRoot: boolean;
}

let binaryCache: string | undefined;

function findDovecotBinary(): string | undefined {
  if (binaryCache) return binaryCache;
  // DOVECOT_BIN, when set, is the only candidate (DOVECOT_BIN=/nonexistent disables Dovecot tests)
  const candidates: string[] = [];
  if (process.env.DOVECOT_BIN) {
    candidates.push(process.env.DOVECOT_BIN);
  } else {
    candidates.push('/usr/sbin/dovecot', '/usr/local/sbin/dovecot');
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (dir) candidates.push(path.join(dir, 'dovecot'));
    }
  }
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      binaryCache = c;
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function lookupName(file: string, id: number): string | undefined {
  try {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const parts = line.split(':');
      if (parts.length >= 3 && Number(parts[2]) === id) return parts[0];
    }
  } catch {
    /* no such file */
  }
  return undefined;
}

function userExists(name: string): boolean {
  try {
    return fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((l) => l.split(':')[0] === name);
  } catch {
    return false;
  }
}

function getuid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

function resolveIdentity(): Identity | string {
  const uid = getuid();
  if (uid < 0) return 'no POSIX uid (not a Unix platform)';
  if (uid === 0) {
    // the mail user must not be uid 0 (logins fail with a bare AUTHENTICATIONFAILED)
    for (const u of ['dovecot', 'dovenull']) {
      if (!userExists(u)) return `running as root but system user '${u}' is missing (install dovecot-core)`;
    }
    return { mailUid: ROOT_MAIL_ID, mailGid: ROOT_MAIL_ID, internalUser: 'dovecot', loginUser: 'dovenull', nonRoot: false };
  }
  const gid = process.getgid ? process.getgid() : uid;
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    return `uid ${uid} has no /etc/passwd entry; Dovecot needs a user name for default_internal_user`;
  }
  const group = lookupName('/etc/group', gid);
  if (!group) return `gid ${gid} has no /etc/group entry; Dovecot needs a group name for default_internal_group`;
  return { mailUid: uid, mailGid: gid, internalUser: name, loginUser: name, internalGroup: group, nonRoot: true };
}

let availableCache: { ok: true } | { ok: false; reason: string } | undefined;

export function dovecotAvailable(): { ok: true } | { ok: false; reason: string } {
  if (availableCache) return availableCache;
  availableCache = computeAvailable();
  return availableCache;
}

function computeAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.platform === 'win32') return { ok: false, reason: 'Dovecot does not run on Windows' };
  const bin = findDovecotBinary();
  if (!bin) {
    return {
      ok: false,
      reason: process.env.DOVECOT_BIN
        ? `DOVECOT_BIN=${process.env.DOVECOT_BIN} is not an executable`
        : 'dovecot binary not found (apt-get install dovecot-imapd, or set DOVECOT_BIN)',
    };
  }
  let version: string;
  try {
    version = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return { ok: false, reason: `'${bin} --version' failed: ${(e as Error).message}` };
  }
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m || Number(m[1]) !== 2 || Number(m[2]) !== 3) {
    return { ok: false, reason: `Dovecot ${version} found; this harness writes a Dovecot 2.3 config` };
  }
  const id = resolveIdentity();
  if (typeof id === 'string') return { ok: false, reason: id };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------
// exit safety net

/**
 * Under jest the global `process` is a copy (jest-util createProcessObject, which drops
 * `_events`), so `process.on('exit')` in a test file registers on an object that never emits.
 * Functions from core modules belong to the outer realm; their Function constructor
 * evaluates code there, which gives us the real global and the real process.
 */
function realProcess(): NodeJS.Process {
  try {
    const OuterFunction = fs.readFileSync.constructor as FunctionConstructor;
    const g = new OuterFunction('return globalThis')() as { process?: NodeJS.Process };
    if (g.process && typeof g.process.on === 'function') return g.process;
  } catch {
    /* fall back */
  }
  return process;
}

const liveInstances = new Set<DovecotInstance>();
let exitHookInstalled = false;
const exitHook = (): void => stopAllDovecotsSync();

/** SIGTERM every Dovecot master this module started and that is still running. Synchronous. */
export function stopAllDovecotsSync(): void {
  for (const inst of liveInstances) inst.killSync();
}

function track(inst: DovecotInstance): void {
  liveInstances.add(inst);
  if (!exitHookInstalled) {
    realProcess().on('exit', exitHook);
    exitHookInstalled = true;
  }
}

function untrack(inst: DovecotInstance): void {
  liveInstances.delete(inst);
  if (liveInstances.size === 0 && exitHookInstalled) {
    realProcess().removeListener('exit', exitHook);
    exitHookInstalled = false;
  }
}

// ---------------------------------------------------------------------------------------
// helpers

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

/** 'greeting' if an IMAP `* OK` greeting arrived, 'refused' if nothing listens, 'other' otherwise */
function probe(port: number, timeoutMs = 1000): Promise<'greeting' | 'refused' | 'other'> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const sock = net.connect({ host: HOST, port });
    const finish = (r: 'greeting' | 'refused' | 'other'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish('other'), timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\n')) finish(buf.startsWith('* OK') ? 'greeting' : 'other');
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'other'));
    sock.on('close', () => finish('other'));
  });
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* ESRCH: group already empty */
  }
}

/**
 * Does process group `pgid` still have a live (non-zombie) member? kill(-pgid, 0) alone is not
 * enough: members reparented to an init that reaps slowly stay zombies for a while.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true; // no /proc: trust kill(0)
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ..." -- comm may contain spaces and parens
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

function configString(s: string): string {
  if (/["\\\r\n]/.test(s)) throw new Error(`unsupported character in Dovecot config value: ${JSON.stringify(s)}`);
  return `"${s}"`;
}

function isInbox(mailbox: string): boolean {
  return mailbox.toUpperCase() === 'INBOX';
}

let deliverCounter = 0;

// ---------------------------------------------------------------------------------------
// instance

interface Layout {
  baseDir: string;
  confPath: string;
  passwdPath: string;
  runDir: string;
  stateDir: string;
  logPath: string;
  homeDir: string;
  maildirRoot: string;
}

class DovecotInstance implements DovecotServer {
  readonly host = HOST;
  readonly baseDir: string;
  readonly maildirRoot: string;
  readonly mailUid: number;
  readonly mailGid: number;
  private child: ChildProcess | undefined;
  private childExit: Promise<void> | undefined;
  private watchdog: ChildProcess | undefined;
  private stderrTail = '';
  private cleanedUp = false;

  constructor(
    readonly port: number,
    readonly user: string,
    readonly password: string,
    private readonly layout: Layout,
    id: Identity,
    private readonly bin: string,
    private readonly harnessToken?: string,
  ) {
    this.baseDir = layout.baseDir;
    this.maildirRoot = layout.maildirRoot;
    this.mailUid = id.mailUid;
    this.mailGid = id.mailGid;
  }

  get running(): boolean {
    const c = this.child;
    // pid is undefined when spawn itself failed (ENOENT, EACCES)
    return c !== undefined && c.pid !== undefined && c.exitCode === null && c.signalCode === null;
  }

  clientOptions(extra: Partial<ImapFlowOptions> = {}): ImapFlowOptions {
    return {
      host: this.host,
      port: this.port,
      secure: false,
      doSTARTTLS: false,
      // With the oauth2 passdb the harness logs in with a token its introspection endpoint always accepts.
      auth: this.harnessToken ? { user: this.user, accessToken: this.harnessToken } : { user: this.user, pass: this.password },
      logger: false,
      ...extra,
    };
  }

  kick(): void {
    const doveadm = path.join(path.dirname(this.bin), 'doveadm');
    execFileSync(fs.existsSync(doveadm) ? doveadm : 'doveadm', ['-c', this.layout.confPath, 'kick', this.user], { stdio: 'ignore', timeout: 10_000 });
  }

  mailboxDir(mailbox = 'INBOX'): string {
    if (isInbox(mailbox)) return this.maildirRoot;
    // Maildir++ layout, '.' hierarchy separator, names stored as UTF-8 (mail_location ...:UTF-8)
    return path.join(this.maildirRoot, `.${mailbox}`);
  }

  logTail(lines = 40): string {
    let log = '';
    try {
      log = fs.readFileSync(this.layout.logPath, 'utf8');
    } catch {
      log = '(no dovecot log yet)';
    }
    const all = log.split('\n');
    if (all[all.length - 1] === '') all.pop();
    let out = all.slice(-lines).join('\n');
    if (this.stderrTail.trim()) out += `\n--- dovecot stderr ---\n${this.stderrTail.trim()}`;
    return out;
  }

  async start(): Promise<void> {
    if (this.cleanedUp) throw new Error('DovecotServer.start(): instance was cleaned up');
    if (this.running) return;
    this.stderrTail = '';
    // -F: stay in the foreground as our child (we reap it, see the header comment).
    // detached: own process group (pgid = master pid) holding only this instance's processes,
    // so stop() can signal all of them, including imap processes that outlive the master.
    const child = spawn(this.bin, ['-F', '-c', this.layout.confPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: this.baseDir,
      detached: true,
    });
    this.child = child;
    this.childExit = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err: Error) => {
        this.stderrTail += `spawn error: ${err.message}\n`;
        resolve();
      });
    });
    const collect = (d: Buffer): void => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // do not keep the test process alive just because Dovecot runs; the exit hook stops it
    child.unref();
    (child.stdout as net.Socket | null)?.unref?.();
    (child.stderr as net.Socket | null)?.unref?.();
    track(this);

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!this.running) {
        await this.childExit;
        if (child.pid) signalGroup(child.pid, 'SIGTERM');
        this.child = undefined;
        untrack(this);
        throw new Error(`Dovecot exited during startup (code ${String(child.exitCode)}, signal ${String(child.signalCode)}).\n${this.logTail()}`);
      }
      const r = await probe(this.port, 1000);
      if (r === 'greeting') break;
      if (Date.now() > deadline) {
        await this.stop().catch(() => undefined);
        throw new Error(`Dovecot did not accept IMAP connections on ${HOST}:${this.port} within ${START_TIMEOUT_MS} ms.\n${this.logTail()}`);
      }
      await sleep(25);
    }
    this.startWatchdog();
  }

  /**
   * Detached shell loop: when this Node process is gone (even by SIGKILL), SIGTERM the group.
   * It ends by itself as soon as the master is gone; stop() also kills it.
   */
  private startWatchdog(): void {
    const masterPid = this.child?.pid;
    if (!masterPid || !fs.existsSync('/proc')) return;
    const script = [
      `P=${process.pid}; M=${masterPid}`,
      `alive() { [ -r /proc/$1/stat ] && ! sed 's/.*) //' /proc/$1/stat | grep -q '^[ZX]'; }`,
      `while alive $M; do`,
      // dash: `kill -TERM -PGID` (its kill builtin rejects `--`)
      `  if ! alive $P; then kill -TERM -$M 2>/dev/null; exit 0; fi`,
      `  sleep 0.5`,
      `done`,
    ].join('\n');
    try {
      const w = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
      w.on('error', () => undefined);
      w.unref();
      this.watchdog = w;
    } catch {
      /* best effort */
    }
  }

  private stopWatchdog(): void {
    const w = this.watchdog;
    this.watchdog = undefined;
    if (w && w.pid && w.exitCode === null && w.signalCode === null) {
      try {
        process.kill(w.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }

  /**
   * SIGTERM to the whole process group. Signalling only the master is not enough: the master
   * exits after ~1.1 s, but an imap process with a recently active client keeps serving it for
   * up to ~10 s more (Dovecot lets busy clients finish), so clients would not notice a restart.
   * With the group signal everything is gone in ~15 ms and clients see the connection close.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopWatchdog();
    const pgid = child.pid;
    if (pgid) {
      signalGroup(pgid, 'SIGTERM');
      if (!(await waitFor(() => !this.running && !groupAlive(pgid), STOP_TIMEOUT_MS))) {
        signalGroup(pgid, 'SIGKILL');
        if (!(await waitFor(() => !this.running && !groupAlive(pgid), 3000))) {
          throw new Error(`Dovecot process group ${pgid} did not exit after SIGKILL.\n${this.logTail()}`);
        }
      }
    }
    await this.childExit;
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while ((await probe(this.port, 500)) !== 'refused') {
      if (Date.now() > deadline) {
        throw new Error(`Dovecot stopped but ${HOST}:${this.port} still accepts connections.\n${this.logTail()}`);
      }
      await sleep(25);
    }
    this.child = undefined;
    this.childExit = undefined;
    untrack(this);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** used by the exit hook: no awaiting possible */
  killSync(): void {
    this.stopWatchdog();
    const pgid = this.child?.pid;
    if (pgid && (this.running || groupAlive(pgid))) signalGroup(pgid, 'SIGTERM');
  }

  private async withClient<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
    const c = new ImapFlow(this.clientOptions({ disableAutoIdle: true }));
    // errors surface through the awaited command; an unhandled 'error' event would crash jest
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (e) {
      throw new Error(`IMAP connect/login to ${HOST}:${this.port} as ${this.user} failed: ${(e as Error).message}\n${this.logTail()}`);
    }
    try {
      return await fn(c);
    } finally {
      await c.logout().catch(() => c.close());
    }
  }

  async append(raw: Buffer | string, mailbox = 'INBOX', flags: string[] = []): Promise<number | undefined> {
    return this.withClient(async (c) => {
      const res = await c.append(mailbox, raw, flags);
      if (!res) throw new Error(`APPEND to ${mailbox} failed`);
      return res.uid;
    });
  }

  async appendMany(raws: Array<Buffer | string>, mailbox = 'INBOX'): Promise<void> {
    if (raws.length === 0) return;
    await this.withClient(async (c) => {
      for (const raw of raws) {
        const res = await c.append(mailbox, raw);
        if (!res) throw new Error(`APPEND to ${mailbox} failed`);
      }
    });
  }

  deliverToMaildir(raws: Array<Buffer | string>, mailbox = 'INBOX'): void {
    const dir = this.mailboxDir(mailbox);
    this.ensureMaildir(dir, !isInbox(mailbox));
    const host = os.hostname().replace(/[/:,]/g, '_') || 'localhost';
    const asRoot = getuid() === 0;
    for (const raw of raws) {
      const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      const now = Date.now();
      deliverCounter += 1;
      // Dovecot-style unique name; S= must be the exact file size or Dovecot logs corruption
      const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${deliverCounter}.${host},S=${buf.length}`;
      const tmpPath = path.join(dir, 'tmp', name);
      fs.writeFileSync(tmpPath, buf, { mode: 0o600 });
      if (asRoot) fs.chownSync(tmpPath, this.mailUid, this.mailGid);
      fs.renameSync(tmpPath, path.join(dir, 'new', name));
    }
  }

  /** create dir with new/cur/tmp (and the maildirfolder marker for sub-folders), owned by the mail uid */
  ensureMaildir(dir: string, isFolder: boolean): void {
    const asRoot = getuid() === 0;
    const mk = (p: string): void => {
      if (!fs.existsSync(p)) {
        fs.mkdirSync(p, { mode: 0o700 });
        if (asRoot) fs.chownSync(p, this.mailUid, this.mailGid);
      }
    };
    mk(this.maildirRoot);
    mk(dir);
    for (const sub of ['new', 'cur', 'tmp']) mk(path.join(dir, sub));
    if (isFolder) {
      const marker = path.join(dir, 'maildirfolder');
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, '', { mode: 0o600 });
        if (asRoot) fs.chownSync(marker, this.mailUid, this.mailGid);
      }
    }
  }

  async list(mailbox = 'INBOX'): Promise<Array<{ uid: number; flags: string[]; messageId?: string }>> {
    return this.withClient(async (c) => {
      const mb = await c.mailboxOpen(mailbox, { readOnly: true });
      if (mb.exists === 0) return [];
      const msgs = await c.fetchAll('1:*', { uid: true, flags: true, envelope: true });
      return msgs
        .map((m) => {
          const item: { uid: number; flags: string[]; messageId?: string } = {
            uid: m.uid,
            flags: [...(m.flags ?? new Set<string>())].filter((f) => f !== '\\Recent').sort(),
          };
          if (m.envelope?.messageId) item.messageId = m.envelope.messageId;
          return item;
        })
        .sort((a, b) => a.uid - b.uid);
    });
  }

  async status(mailbox = 'INBOX'): Promise<{ messages: number; uidValidity: bigint; uidNext: number }> {
    return this.withClient(async (c) => {
      const st = await c.status(mailbox, { messages: true, uidNext: true, uidValidity: true });
      if (!st || st.messages === undefined || st.uidNext === undefined || st.uidValidity === undefined) {
        throw new Error(`STATUS ${mailbox} returned incomplete data: ${JSON.stringify(st, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
      }
      return { messages: st.messages, uidValidity: st.uidValidity, uidNext: st.uidNext };
    });
  }

  /**
   * Forces a new UIDVALIDITY the way a server-side index rebuild does:
   *  1. stop Dovecot (no imap process may hold the files open; clients are disconnected),
   *  2. delete the folder's dovecot-uidlist (+ .lock) and its dovecot.index* files, plus the
   *     mailbox list index (dovecot.list.index*) in the Maildir root, which caches
   *     UIDVALIDITY/UIDNEXT for STATUS,
   *  3. start again if it was running.
   * The mail files stay (system flags live in the file names, keywords in dovecot-keywords,
   * which is kept). Dovecot rescans the folder, assigns a new UIDVALIDITY from the Maildir's
   * dovecot-uidvalidity counter (strictly increasing, so it always differs) and renumbers
   * the messages from UID 1.
   */
  async resetUidValidity(mailbox = 'INBOX'): Promise<void> {
    const wasRunning = this.running;
    await this.stop();
    const dir = this.mailboxDir(mailbox);
    if (!fs.existsSync(dir)) throw new Error(`resetUidValidity: no Maildir folder for ${mailbox} at ${dir}`);
    const doomed = (name: string): boolean => name === 'dovecot-uidlist' || name === 'dovecot-uidlist.lock' || name.startsWith('dovecot.index');
    for (const name of fs.readdirSync(dir)) {
      if (doomed(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
    for (const name of fs.readdirSync(this.maildirRoot)) {
      if (name.startsWith('dovecot.list.index')) fs.rmSync(path.join(this.maildirRoot, name), { force: true });
    }
    if (wasRunning) await this.start();
  }

  async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    try {
      await this.stop();
    } finally {
      this.cleanedUp = true;
      untrack(this);
      if (!process.env.DOVECOT_KEEP_DIR) fs.rmSync(this.baseDir, { recursive: true, force: true });
    }
  }
}

// ---------------------------------------------------------------------------------------
// config

/**
 * Dovecot 2.3's oauth2 passdb as the only passdb: a login is SASL XOAUTH2 or OAUTHBEARER with
 * a token that Dovecot posts (introspection_mode = post) to the test's introspection endpoint;
 * `{"active": true, "username": USER}` lets it in. Like Exchange Online and Gmail, no password works.
 */
function oauth2Passdb(l: Layout, introspectionUrl: string): string {
  const file = path.join(l.baseDir, 'dovecot-oauth2.conf.ext');
  fs.writeFileSync(
    file,
    [
      'introspection_mode = post',
      `introspection_url = ${introspectionUrl}`,
      'force_introspection = yes',
      'username_attribute = username',
      'active_attribute = active',
      'active_value = true',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  return `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${file}
}`;
}

function buildConfig(l: Layout, port: number, id: Identity, folders: string[], instanceName: string, oauth2?: { introspectionUrl: string }): string {
  const mailboxes = folders
    .map((f) => {
      const special = f === 'Sent' ? '    special_use = \\Sent\n' : '';
      return `  mailbox ${configString(f)} {\n${special}    auto = subscribe\n  }`;
    })
    .join('\n');
  const nonRoot = id.nonRoot
    ? `
default_internal_group = ${id.internalGroup ?? ''}
service imap-login {
  chroot =
}
`
    : '';
  // With oauth2: no auth penalty (Dovecot delays every login after a failure from an IP by
  // 2-15 s): the fresh-token retry after a refused token is the client's behaviour under test,
  // not Dovecot's brute-force guard.
  const anvil = [id.nonRoot ? '  chroot =' : '', oauth2 ? '  unix_listener anvil-auth-penalty {\n    mode = 0\n  }' : ''].filter(Boolean);
  const anvilBlock = anvil.length > 0 ? `service anvil {\n${anvil.join('\n')}\n}\n` : '';
  return `# generated by test/support/dovecot.ts -- private test instance
instance_name = ${instanceName}
base_dir = ${l.runDir}
state_dir = ${l.stateDir}
log_path = ${l.logPath}
info_log_path = ${l.logPath}
debug_log_path = ${l.logPath}
protocols = imap
listen = ${HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = ${oauth2 ? 'xoauth2 oauthbearer' : 'plain login'}
auth_verbose = yes
# wrong credentials answer at once instead of after the default 2 s
auth_failure_delay = 0
first_valid_uid = ${id.mailUid}
first_valid_gid = ${id.mailGid}
default_internal_user = ${id.internalUser}
default_login_user = ${id.loginUser}
mail_location = maildir:~/Maildir:UTF-8
mail_fsync = never
${nonRoot}
${anvilBlock}
${
  oauth2
    ? oauth2Passdb(l, oauth2.introspectionUrl)
    : `passdb {
  driver = passwd-file
  args = scheme=PLAIN ${l.passwdPath}
}`
}
userdb {
  driver = passwd-file
  args = ${l.passwdPath}
}
service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 100
}
namespace inbox {
  inbox = yes
${mailboxes}
}
`;
}

/** An IMAP source of a test's config reading this Dovecot (plain text on 127.0.0.1); `extra` sets the rest. */
export function imapSourceOf(
  d: Pick<DovecotServer, 'host' | 'port' | 'user'>,
  passwordEnv: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { type: 'imap', name: 'klagomal', host: d.host, port: d.port, tls: 'none', user: d.user, passwordEnv, ...extra };
}

export async function startDovecot(
  opts: {
    folders?: string[];
    user?: string;
    password?: string;
    /** Only OAuth2 logins, checked at this introspection endpoint; the harness's own clients use `harnessToken`. */
    oauth2?: { introspectionUrl: string; harnessToken: string };
  } = {},
): Promise<DovecotServer> {
  const avail = dovecotAvailable();
  if (!avail.ok) throw new Error(`Dovecot not available: ${avail.reason}`);
  const bin = findDovecotBinary();
  const id = resolveIdentity();
  if (!bin || typeof id === 'string') throw new Error('Dovecot not available');

  const user = opts.user ?? 'klagomal';
  const password = opts.password ?? 'test-password';
  if (!/^[A-Za-z0-9._@-]+$/.test(user)) throw new Error(`unsupported IMAP user name ${JSON.stringify(user)}`);
  if (/[:\r\n]/.test(password) || password === '') throw new Error('password must be non-empty and contain no ":" or newline');

  const folders: string[] = [];
  for (const f of ['Sent', 'Processed', ...(opts.folders ?? [])]) {
    if (isInbox(f) || folders.includes(f)) continue;
    if (!f || /[*%\x00-\x1f]/.test(f) || f.startsWith('.') || f.endsWith('.')) throw new Error(`unsupported folder name ${JSON.stringify(f)}`);
    folders.push(f);
  }

  // short prefix: base_dir holds unix sockets whose paths must stay < 108 bytes
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvct-'));
  try {
    // the mail uid (5000 as root) must be able to traverse into its home below baseDir
    fs.chmodSync(baseDir, 0o711);
    const layout: Layout = {
      baseDir,
      confPath: path.join(baseDir, 'dovecot.conf'),
      passwdPath: path.join(baseDir, 'passwd'),
      runDir: path.join(baseDir, 'run'),
      stateDir: path.join(baseDir, 'state'),
      logPath: path.join(baseDir, 'dovecot.log'),
      homeDir: path.join(baseDir, 'home'),
      maildirRoot: path.join(baseDir, 'home', 'Maildir'),
    };
    fs.mkdirSync(layout.stateDir);
    fs.mkdirSync(layout.homeDir, { mode: 0o700 });
    if (getuid() === 0) fs.chownSync(layout.homeDir, id.mailUid, id.mailGid);
    // read by the auth process, which runs as default_internal_user
    fs.writeFileSync(layout.passwdPath, `${user}:${password}:${id.mailUid}:${id.mailGid}::${layout.homeDir}::\n`, { mode: 0o644 });
    const port = await freePort();
    const instanceName = `klagomal-test-${path.basename(baseDir)}`;
    fs.writeFileSync(layout.confPath, buildConfig(layout, port, id, folders, instanceName, opts.oauth2), { mode: 0o644 });

    const inst = new DovecotInstance(port, user, password, layout, id, bin, opts.oauth2?.harnessToken);
    // Maildir root with new/cur/tmp, so deliverToMaildir() works before the first login
    inst.ensureMaildir(layout.maildirRoot, false);
    await inst.start();
    return inst;
  } catch (e) {
    if (!process.env.DOVECOT_KEEP_DIR) fs.rmSync(baseDir, { recursive: true, force: true });
    throw e;
  }
}
