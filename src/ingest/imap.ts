/**
 * IMAP source: one supervised ImapFlow connection per mailbox.
 *
 * Cursor: (UIDVALIDITY, last UID stored) per source and folder, committed in the same
 * transaction as the mails it covers. A scan fetches UIDs above the cursor in batches:
 * sizes and INTERNALDATEs first, then the sources of a batch in one FETCH (a mail over
 * LARGE_MAIL_BYTES is streamed on its own into a spool file, never held in memory whole),
 * stores the batch, then marks it on the server with one
 * UID STORE \Seen or one UID MOVE for the whole batch (a round trip per mail costs 3x the
 * throughput; see MAILSTACK.md).
 *
 * Crash points: before the store commit, nothing happened and the mail is fetched again;
 * after it, the cursor has moved on, and the marks still to do are found by
 * `store.unmarkedInbound` and applied at the start of the next scan.
 *
 * UIDVALIDITY change (the server renumbered the folder): the cursor restarts at 0 for the new
 * UIDVALIDITY; every mail is fetched again and filed as a duplicate of itself by Message-ID or
 * hash, so nothing is filed twice, and the event is logged loudly.
 *
 * Triggers: IDLE 'exists' notices (imapflow's autoIdleDelay is lowered from 15 s so IDLE is
 * re-entered at once after each scan), the poll interval, and reconnects. Each only asks for a
 * scan. A dropped connection is rebuilt with a new ImapFlow after a backoff with jitter.
 *
 * OAuth2 (src/auth/): a session lives no longer than its token. Before the token's renewal
 * time the session logs out between scans and logs in again with a fresh token, without a
 * backoff and without a failure in status; the cursor is in the database, so the new session
 * goes on where the old one stopped (Exchange Online ends a session whose token expired, with
 * "BYE Session invalidated - AccessTokenExpired"; that drop is handled like any other). A login
 * refused with a cached token is tried once with a fresh one before backing off.
 */
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import type { ImapSourceConfig } from '../config/config';
import type { Login, MailboxCredentials } from '../auth/credentials';
import type { Store } from '../store/store';
import type { Clock } from '../util/clock';
import { sleep, toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { Wakeup } from '../util/wakeup';
import { storageFailure } from '../util/storage-error';
import { listedIn, uidSet } from './imap-listing';
import { downloadLarge, refuseClosed } from './imap-download';
import { describeError, ScanFacts, SourceStatusRecorder } from './source-status';
import { RawArrival, storeArrivals } from './intake';
import { LARGE_MAIL_BYTES, SpooledRaw } from './raw-files';
import type { MailSource, PollStats } from './source';

const BATCH_BYTES = 16 * 1024 * 1024;
/** UIDs listed at once, in fetch batches (fetchBatchSize): 10,000 UIDs by default, ~3 MB listed. */
const LISTING_WINDOW_BATCHES = 50;

/**
 * How every connection to a configured mailbox is made (the source, reconciliation, the start
 * checks), so that TLS and authentication settings can never differ between them.
 */
export function mailboxConnection(s: ImapSourceConfig, login: Login): ConstructorParameters<typeof ImapFlow>[0] {
  return {
    host: s.host,
    port: s.port,
    secure: s.tls === 'implicit',
    doSTARTTLS: s.tls === 'starttls' ? true : s.tls === 'none' ? false : undefined,
    tls: { rejectUnauthorized: s.tlsRejectUnauthorized },
    // SASL XOAUTH2 with a token (imapflow's accessToken), else LOGIN/PLAIN with the password.
    auth: login.accessToken !== undefined ? { user: login.user, accessToken: login.accessToken } : { user: login.user, pass: login.pass ?? '' },
    logger: false,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
  };
}

/** Whether an IMAP error is the server refusing the login (as opposed to the network failing). */
export function loginRefused(err: unknown): boolean {
  const e = (err ?? {}) as { authenticationFailed?: boolean; serverResponseCode?: string };
  return e.authenticationFailed === true || e.serverResponseCode === 'AUTHENTICATIONFAILED';
}

/**
 * Connect and log in to a configured mailbox: the source, reconciliation and the start's
 * checks all come through here. `make` builds the (not yet connected) client for a login, with
 * its listeners. An OAuth2 login the server refuses is tried once more with a fresh token
 * (the cached one may have been revoked, or the app's rights changed) before the error goes
 * to the caller, who backs off.
 */
export async function connectMailbox(credentials: MailboxCredentials, make: (login: Login) => ImapFlow): Promise<{ client: ImapFlow; login: Login }> {
  let login = await credentials.login();
  let client = make(login);
  try {
    await client.connect();
    return { client, login };
  } catch (err) {
    client.close();
    if (!credentials.tokens || !loginRefused(err)) throw err;
  }
  login = await credentials.login({ fresh: true });
  client = make(login);
  try {
    await client.connect();
    return { client, login };
  } catch (err) {
    client.close();
    if (loginRefused(err)) credentials.tokens.reportRefused(`the IMAP server refused a fresh token for ${credentials.user}`);
    throw err;
  }
}

/** Reconnect delay after n consecutive failures: 1 s doubling to 60 s, with ±30 % jitter. */
export function reconnectDelayMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.7 + 0.6 * random()));
}

export interface ImapSourceStatus {
  connected: boolean;
  since: string | null;
  lastScanAt: string | null;
  lastError: string | null;
}

export class ImapSource implements MailSource {
  readonly name: string;
  private readonly wakeup = new Wakeup();
  readonly status: ImapSourceStatus = { connected: false, since: null, lastScanAt: null, lastError: null };
  /** The same, written to the database for `klagomal status` in another process. */
  private readonly recorder: SourceStatusRecorder;
  private lastScanFacts: ScanFacts = { folderMessages: null, waiting: null };

  constructor(
    private readonly cfg: ImapSourceConfig,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly credentials: MailboxCredentials,
    private readonly dataDir: string,
    /**
     * The shared mailbox's Sent folder (cfg.mailbox is then that folder): read from the moment
     * it is first seen (its history is not the complaints desk's), and never flagged or moved.
     */
    private readonly sentFolder = false,
  ) {
    this.name = sentFolder ? `${cfg.name}/${cfg.mailbox}` : cfg.name;
    this.recorder = new SourceStatusRecorder(store, cfg.name, cfg.mailbox, clock, log, dataDir);
  }

  /**
   * What the folder holds after a scan. With a processed folder every mail still in the
   * watched folder is waiting to be taken; when mail is only flagged (or in the Sent folder)
   * the filed mail stays, and what waits cannot be told without another command.
   */
  private factsOf(client: ImapFlow): ScanFacts {
    const exists = client.mailbox ? client.mailbox.exists : null;
    return { folderMessages: exists, waiting: this.cfg.processedFolder && !this.sentFolder ? exists : null };
  }

  private newClient(login: Login): ImapFlow {
    const client = new ImapFlow({
      ...mailboxConnection(this.cfg, login),
      disableAutoIdle: !this.cfg.idle,
      // Re-enter IDLE shortly after each command; the default (15 s) leaves new mail unseen for that long.
      autoIdleDelay: 200,
      // Restart IDLE every few minutes so that NAT boxes and firewalls keep the connection.
      maxIdleTime: 4 * 60_000,
      socketTimeout: 10 * 60_000,
    });
    client.on('error', (err: Error) => {
      this.status.lastError = errorChain(err);
      this.log.warn('imap connection error', { source: this.cfg.name, error: this.status.lastError });
    });
    client.on('exists', () => this.wakeup.notify());
    return client;
  }

  private async ensureProcessedFolder(client: ImapFlow): Promise<void> {
    if (this.cfg.processedFolder) await client.mailboxCreate(this.cfg.processedFolder);
  }

  /** Mark stored mails as taken: one UID MOVE or one UID STORE for the whole set. */
  private async markOnServer(client: ImapFlow, uids: readonly number[]): Promise<void> {
    if (uids.length === 0 || this.sentFolder) return;
    const range = uidSet(uids);
    // imapflow reports NO/BAD and a connection lost mid-command as `false`, not as an error.
    // Throw, so that the marks stay recorded as to do and are retried on the next scan.
    if (!(await client.messageFlagsAdd(range, ['\\Seen'], { uid: true }))) {
      throw new Error(`the server refused to flag ${uids.length} stored mail(s) \\Seen in ${this.cfg.mailbox}`);
    }
    // \Seen first, so that the copy in the processed folder is read, not unread.
    if (this.cfg.processedFolder && !(await client.messageMove(range, this.cfg.processedFolder, { uid: true }))) {
      throw new Error(`the server refused to move ${uids.length} stored mail(s) to ${this.cfg.processedFolder}`);
    }
  }

  /**
   * Listed mails (in UID order) stored in batches: each batch committed with the cursor before it
   * is marked on the server. The cursor's last UID after them, and how many were new.
   */
  private async storeListed(
    client: ImapFlow,
    fresh: readonly FetchMessageObject[],
    uidvalidity: string,
    lastUid: number,
    onStored: () => void,
  ): Promise<{ lastUid: number; stored: number; alreadyStored: number }> {
    let stored = 0;
    let alreadyStored = 0;
    for (let i = 0; i < fresh.length;) {
      const batch: FetchMessageObject[] = [];
      let bytes = 0;
      for (; i < fresh.length && batch.length < this.cfg.fetchBatchSize; i++) {
        const size = fresh[i].size ?? 0;
        if (batch.length > 0 && (bytes + size > BATCH_BYTES || size > LARGE_MAIL_BYTES)) break;
        if (size > LARGE_MAIL_BYTES) {
          batch.push(fresh[i++]); // a large mail goes alone, streamed
          break;
        }
        batch.push(fresh[i]);
        bytes += size;
      }
      const sources = new Map<number, Buffer | SpooledRaw>();
      if (batch.length === 1 && (batch[0].size ?? 0) > LARGE_MAIL_BYTES) {
        const spooled = await downloadLarge(client, batch[0].uid, this.dataDir, batch[0].size ?? 0);
        if (spooled) sources.set(batch[0].uid, spooled);
      } else {
        // fetchAll, also for one mail: fetchOne answers with the first FETCH of the command, which
        // can be another session's flag update (the mail would pass for expunged and be skipped).
        for (const m of await client.fetchAll(uidSet(batch.map((b) => b.uid)), { uid: true, source: true }, { uid: true })) {
          if (m.source) sources.set(m.uid, m.source);
        }
      }
      if (sources.size < batch.length) refuseClosed(client, 'mails were fetched');
      const arrivals: RawArrival[] = [];
      const uids: number[] = [];
      for (const m of batch) {
        const raw = sources.get(m.uid);
        if (!raw) continue; // expunged between the listing and the fetch: nothing to keep
        arrivals.push({
          raw,
          receivedAt: m.internalDate ? new Date(m.internalDate) : this.clock(),
          mailbox: this.cfg.mailbox,
          locator: String(m.uid),
          sourceKey: `imap:${this.cfg.name}:${this.cfg.mailbox}:${uidvalidity}:${m.uid}`,
          uidvalidity,
          uid: m.uid,
        });
        uids.push(m.uid);
      }
      const maxUid = batch[batch.length - 1].uid;
      const results = storeArrivals(this.store, this.dataDir, this.cfg.name, arrivals, toInstant(this.clock()), {
        mailbox: this.cfg.mailbox,
        uidvalidity,
        lastUid: maxUid,
      });
      for (const r of results) {
        if (r.created) stored++;
        else alreadyStored++;
      }
      onStored();
      // Committed; only now do we tell the server the mails are taken.
      await this.markOnServer(client, uids);
      this.store.markServerDone(
        results.map((r) => r.id),
        toInstant(this.clock()),
      );
      lastUid = maxUid;
      this.recorder.heartbeat(); // a long backlog must not look like a dead service
    }
    return { lastUid, stored, alreadyStored };
  }

  /** One scan of the folder on an open connection. */
  private async scan(client: ImapFlow, onStored: () => void): Promise<PollStats> {
    let stored = 0;
    let alreadyStored = 0;
    const lock = await client.getMailboxLock(this.cfg.mailbox);
    try {
      // Without IDLE the server reports new mail only in answer to a command, so the EXISTS
      // count from the last SELECT may be stale: ask (NOOP) before trusting it.
      if (!client.idling) await client.noop();
      const mailbox = client.mailbox;
      if (!mailbox) throw new Error(`mailbox ${this.cfg.mailbox} is not open`);
      const uidvalidity = String(mailbox.uidValidity);
      let cursor = this.store.cursor(this.cfg.name, this.cfg.mailbox);
      if (!cursor && this.sentFolder) {
        // First look at a Sent folder: start at its end; only mail sent from now on is read.
        const start = Math.max(0, Number(mailbox.uidNext ?? 1) - 1);
        this.store.tx(() => this.store.setCursor(this.cfg.name, this.cfg.mailbox, uidvalidity, start, toInstant(this.clock())));
        this.log.info('watching the Sent folder from its current end', { source: this.cfg.name, mailbox: this.cfg.mailbox, fromUid: start });
        cursor = this.store.cursor(this.cfg.name, this.cfg.mailbox);
      }
      let lastUid = cursor?.last_uid ?? 0;
      if (cursor && cursor.uidvalidity !== uidvalidity) {
        this.log.warn('UIDVALIDITY changed: rescanning the whole folder (already filed mail will be recorded as duplicates)', {
          source: this.cfg.name,
          mailbox: this.cfg.mailbox,
          old: cursor.uidvalidity,
          new: uidvalidity,
        });
        // A Sent folder starts again at its end: its history is not the complaints desk's.
        lastUid = this.sentFolder ? Math.max(0, Number(mailbox.uidNext ?? 1) - 1) : 0;
        const at = toInstant(this.clock());
        this.store.tx(() => {
          this.store.setCursor(this.cfg.name, this.cfg.mailbox, uidvalidity, lastUid, at);
          this.store.appendEvent({
            at,
            actor: `source:${this.cfg.name}`,
            type: 'source-reset',
            detail: { mailbox: this.cfg.mailbox, reason: 'UIDVALIDITY changed', oldUidvalidity: cursor.uidvalidity, newUidvalidity: uidvalidity },
          });
        });
      }

      // Marks a crash left undone. Mails stored under an older UIDVALIDITY cannot be addressed
      // any more; the rescan above finds them again under their new UIDs.
      const unmarked = this.store.unmarkedInbound(this.cfg.name, this.cfg.mailbox);
      const current = unmarked.filter((r) => r.uidvalidity === uidvalidity && r.uid !== null);
      if (current.length > 0)
        await this.markOnServer(
          client,
          current.map((r) => r.uid!),
        );
      if (unmarked.length > 0)
        this.store.markServerDone(
          unmarked.map((r) => r.id),
          toInstant(this.clock()),
        );

      if (mailbox.exists === 0) {
        this.lastScanFacts = this.factsOf(client);
        return { stored, alreadyStored };
      }
      // The UIDs above the cursor, listed in windows of UIDs below UIDNEXT as the SELECT gave it,
      // then one open-ended window ("N:*") for the rest, mail that came after the SELECT
      // included. One listing of the whole folder held ~14 MB for 50,000 waiting mails until the
      // scan had stored them all, growing with the backlog on the server (issue 16).
      const window = this.cfg.fetchBatchSize * LISTING_WINDOW_BATCHES;
      const uidNext = Number(mailbox.uidNext ?? 0);
      // A window with nothing in it (UIDs removed before this scan saw them) ends the windows: the
      // rest is listed at once, as before, rather than in one round trip per empty window.
      let sparse = false;
      for (let from = lastUid + 1; ; from += window) {
        const closed = !sparse && from + window <= uidNext;
        const listing = await client.fetchAll(
          closed ? `${from}:${from + window - 1}` : `${from}:*`,
          { uid: true, size: true, internalDate: true },
          { uid: true },
        );
        const fresh = listedIn(listing, from, closed ? from + window - 1 : Infinity, lastUid);
        sparse = fresh.length === 0;
        const done = await this.storeListed(client, fresh, uidvalidity, lastUid, onStored);
        lastUid = done.lastUid;
        stored += done.stored;
        alreadyStored += done.alreadyStored;
        if (!closed) break;
      }
      this.lastScanFacts = this.factsOf(client);
    } finally {
      lock.release();
    }
    this.status.lastScanAt = toInstant(this.clock());
    return { stored, alreadyStored };
  }

  async pollOnce(): Promise<PollStats> {
    let client: ImapFlow | null = null;
    try {
      client = (await connectMailbox(this.credentials, (login) => this.newClient(login))).client;
      await this.ensureProcessedFolder(client);
      const stats = await this.scan(client, () => undefined);
      this.recorder.polledOnce(this.lastScanFacts);
      return stats;
    } catch (err) {
      this.recorder.failedOnce(err);
      throw err;
    } finally {
      const c = client;
      if (c) await c.logout().catch(() => c.close());
    }
  }

  async run(signal: AbortSignal, onStored: () => void): Promise<void> {
    let failures = 0;
    const pollMs = this.cfg.pollSeconds * 1000;
    while (!signal.aborted) {
      let client: ImapFlow | null = null;
      let closed = false;
      let resolveClosed: () => void = () => undefined;
      const closedPromise = new Promise<void>((resolve) => (resolveClosed = resolve));
      // Each client the login makes (a refused login is tried once more with a fresh token).
      const make = (login: Login): ImapFlow => {
        const c = this.newClient(login);
        c.once('close', () => {
          if (c !== client) return;
          closed = true;
          this.wakeup.notify();
          resolveClosed();
        });
        client = c;
        return c;
      };
      const stop = (): void => {
        const c = client;
        if (c) void c.logout().catch(() => c.close());
      };
      signal.addEventListener('abort', stop, { once: true });
      let errored = false;
      let renewing = false;
      try {
        const opened = await connectMailbox(this.credentials, make);
        const live = opened.client;
        if (!live.usable) closed = true;
        await this.ensureProcessedFolder(live);
        this.status.connected = true;
        this.status.since = toInstant(this.clock());
        this.recorder.connected();
        this.log.info('imap connected', {
          source: this.cfg.name,
          mailbox: this.cfg.mailbox,
          idle: this.cfg.idle && live.capabilities.has('IDLE'),
          auth: this.credentials.kind,
        });
        // Select the folder once so that IDLE watches it between scans.
        while (!signal.aborted && !closed) {
          await this.scan(live, onStored);
          failures = 0;
          this.status.lastError = null;
          this.recorder.polled(this.lastScanFacts);
          // An OAuth2 session ends before its token does: wake up for that too.
          const renewAt = opened.login.renewAt;
          const untilRenew = renewAt === null ? Infinity : renewAt - Date.now();
          if (untilRenew > 0) await this.wakeup.wait(Math.min(pollMs, untilRenew), signal);
          if (renewAt !== null && Date.now() >= renewAt && !signal.aborted && !closed) {
            renewing = true;
            this.log.info('imap token expires soon: logging in again with a fresh one', { source: this.cfg.name, mailbox: this.cfg.mailbox });
            break;
          }
        }
      } catch (err) {
        if (!signal.aborted) {
          failures++;
          errored = true;
          this.status.lastError = errorChain(err);
          this.recorder.failed(err);
          const failure = storageFailure(err, this.dataDir);
          if (failure) {
            // Nothing was marked: the mail stays on the server, unread, and is taken once the disk can.
            if (failures === 1)
              this.log.error('cannot store mail: the data folder cannot be written; the mail stays on the server, unmarked, and is taken once it can', {
                source: this.cfg.name,
                mailbox: this.cfg.mailbox,
                code: failure.code,
                error: this.status.lastError,
                fix: failure.fix,
              });
            else this.log.debug('the data folder still cannot be written', { source: this.cfg.name, code: failure.code, failures });
          } else if (loginRefused(err)) {
            // A person must act (README "Logs": error): the server's own reason, not imapflow's "Command failed".
            const e = err as { serverResponseCode?: unknown; responseText?: unknown };
            this.log.error('imap login refused: check the user and the password', {
              source: this.cfg.name,
              mailbox: this.cfg.mailbox,
              reason: typeof e.serverResponseCode === 'string' ? e.serverResponseCode : 'AUTHENTICATIONFAILED',
              error: describeError(err),
              fix:
                this.credentials.kind === 'password' && this.cfg.passwordEnv
                  ? `set $${this.cfg.passwordEnv} to the mailbox's password for ${this.cfg.user} and restart`
                  : `check the login of ${this.cfg.user}`,
              failures,
            });
          } else this.log.warn('imap scan or connection failed', { source: this.cfg.name, error: this.status.lastError, failures });
        }
      } finally {
        signal.removeEventListener('abort', stop);
        this.status.connected = false;
        const c = client as ImapFlow | null;
        if (c && !closed) await c.logout().catch(() => c.close());
        if (c) await Promise.race([closedPromise, sleep(2000)]);
      }
      if (signal.aborted) break;
      // A renewal is no failure: straight back in, with the cursor where it was.
      if (renewing) continue;
      if (closed && !errored) this.recorder.failed(this.status.lastError ?? 'the server closed the connection');
      if (closed && failures === 0) failures = 1; // the server dropped us: still back off a little
      const delay = reconnectDelayMs(failures);
      this.log.info('imap reconnecting', { source: this.cfg.name, inMs: delay });
      await sleep(delay, signal);
    }
    this.recorder.stopped();
  }
}
