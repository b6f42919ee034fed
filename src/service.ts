/**
 * The service: wires the stages together for `klagomal start` (long-running) and
 * `klagomal run --once` (one pass of everything, for cron installs and tests).
 *
 *   sources ──(raw committed)──▶ processor ──(case + queued reply committed)──▶ outbox sender
 *
 * Each arrow is a wake-up hint; each stage reads its work from the database, so a hint lost
 * in a crash costs nothing: the next start or timer finds the work there.
 *
 * Shutdown (SIGTERM/SIGINT): stop taking new mail, let the batch being filed commit and the
 * sends in flight report back, close connections, close the database. A second signal exits at once.
 */
import type { Config } from './config/config';
import { missingSecrets } from './config/missing-secrets';
import { ConfigError } from './config/load';
import { openDatabase, DB } from './store/db';
import { Store } from './store/store';
import { TemplateManager } from './reply/template-manager';
import { createTransport, Transport } from './reply/transport';
import { threadedTransport } from './reply/transport-thread';
import { OutboxSender, SendPassResult } from './reply/outbox-sender';
import { PassOptions, Processor, ProcessResult } from './pipeline/processor';
import { OcrAfterFiling } from './pipeline/ocr-after-filing';
import { BusinessCalendar } from './deadlines/calendar';
import { TIME_ZONE } from './util/stockholm-time';
import { calendarsFor } from './deadlines/deadlines';
import { EscalationPass, EscalationPassResult } from './escalation/pass';
import cron, { ScheduledTask } from 'node-cron';
import { MaildirSource } from './ingest/maildir';
import { ImapSource } from './ingest/imap';
import type { MailSource, PollStats } from './ingest/source';
import type { Clock } from './util/clock';
import { sleep, systemClock } from './util/clock';
import type { Logger } from './util/log';
import { errorChain } from './util/log';
import { SignalFanout, Wakeup } from './util/wakeup';
import { StorageError, storageFailure } from './util/storage-error';
import { ServiceHealth } from './ops/service-health';
import { blockingFailures, preflight, PreflightError, PreflightResult } from './ops/preflight';
import { ensureDir } from './util/durable-file';
import { sweepSpool } from './util/content-file';
import { sweepRawSpool } from './ingest/raw-files';
import { milestonesForSentMail } from './cases/milestones';
import { reconcile, ReconcileDeps } from './reconcile';
import { startHttpServer } from './ops/http';
import { startRetentionSchedule } from './retention/retention';
import { credentialsFor, MailboxCredentials } from './auth/credentials';
import { authStatusKey, recordAuthStatus } from './ops/auth-status';
import type { ImapSourceConfig } from './config/config';
import path from 'node:path';
import { startBackupSchedule } from './backup/schedule';
import { MONTHLY_PASS_SCHEDULE, runMonthlyPass } from './monthly/schedule';
import { refuseWhileRestoring } from './backup/summary';
import { caseNumberHighWater, HighWaterMark } from './backup/high-water';

export interface OnceSummary {
  readonly sources: Record<string, PollStats | { error: string }>;
  readonly filed: number;
  readonly quarantined: number;
  readonly escalation: EscalationPassResult | null;
  readonly sent: SendPassResult;
}

export class Service {
  readonly db: DB;
  readonly store: Store;
  readonly templates: TemplateManager;
  readonly processor: Processor;
  readonly calendar: BusinessCalendar;
  readonly escalation: EscalationPass;
  /** OCR of attachments after filing (src/pipeline/ocr-after-filing.ts). */
  readonly ocr: OcrAfterFiling;
  private transport: Transport | null = null;
  /** One login per IMAP source and one for the transport, shared by their connections (one cached token each). */
  private readonly logins = new Map<string, MailboxCredentials>();
  private readonly stopRecording: Array<() => void> = [];
  /** The case-number high-water mark in backup.dir (null without one). */
  private readonly highWater: HighWaterMark | null;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly clock: Clock = systemClock,
  ) {
    ensureDir(config.dataDir);
    // Spool files left by a process that died. Only those an hour old (the sweep's default): a
    // `klagomal ingest` or `reconcile` started beside a running service must not remove the
    // file the service is writing.
    sweepSpool(path.join(config.dataDir, 'attachments', 'tmp'));
    sweepRawSpool(config.dataDir);
    this.db = openDatabase(config.database);
    this.store = new Store(this.db);
    this.templates = TemplateManager.open(this.store, config, log.child({ stage: 'templates' }), clock());
    const calendars = calendarsFor(config.deadlines);
    this.calendar = calendars.firm;
    this.processor = new Processor(this.store, config, this.templates, calendars, clock, log);
    this.escalation = new EscalationPass(this.store, config, this.templates, this.calendar, log.child({ stage: 'escalation' }));
    this.highWater = caseNumberHighWater(config, this.store, log.child({ stage: 'backup' }));
    this.ocr = new OcrAfterFiling(this.store, config, clock, log.child({ stage: 'ocr' }));
  }

  /**
   * How a mailbox logs in, made once per source (or the transport) so that its connections
   * share one cached token; an OAuth2 login's token events are recorded for `status`.
   */
  private login(key: string, make: () => MailboxCredentials): MailboxCredentials {
    let c = this.logins.get(key);
    if (!c) {
      c = make();
      if (c.tokens) this.stopRecording.push(recordAuthStatus(this.store, key, c.tokens, this.log));
      this.logins.set(key, c);
    }
    return c;
  }

  sourceLogin(s: ImapSourceConfig): MailboxCredentials {
    return this.login(authStatusKey({ source: s.name }), () => credentialsFor(s));
  }

  private transportLogin(): MailboxCredentials | undefined {
    const t = this.config.transport;
    if (t.type === 'pickup' || (t.type === 'smtp' && !t.auth)) return undefined;
    return this.login(authStatusKey('transport'), () => credentialsFor(t.type === 'graph' ? { user: t.user, passwordEnv: null, auth: t.auth } : t));
  }

  /** On its own thread where it can be (src/reply/transport-thread.ts), so that sending uses the second core. */
  private makeTransport(): Transport {
    return threadedTransport(this.config.transport) ?? createTransport(this.config.transport, process.env, this.transportLogin());
  }

  private sources(): MailSource[] {
    return this.config.sources.flatMap((s): MailSource[] => {
      const log = this.log.child({ source: s.name });
      if (s.type === 'maildir') return [new MaildirSource(s, this.store, this.clock, log, this.config.dataDir)];
      const credentials = this.sourceLogin(s);
      const inbox = new ImapSource(s, this.store, this.clock, log, credentials, this.config.dataDir);
      if (!s.sentFolder) return [inbox];
      // The Sent folder on its own connection (IDLE watches one folder per connection).
      const sent = new ImapSource({ ...s, mailbox: s.sentFolder, processedFolder: null }, this.store, this.clock, log, credentials, this.config.dataDir, true);
      return [inbox, sent];
    });
  }

  private sender(): OutboxSender {
    if (!this.transport) this.transport = this.makeTransport();
    return new OutboxSender(this.store, this.transport, this.config, this.clock, this.log, (row, at) => milestonesForSentMail(this.store, row, at));
  }

  /**
   * Check everything before the loop (src/ops/preflight.ts) and log each check with its fix.
   * Refuses (throws) on missing secrets (ConfigError) and on what the service cannot run
   * without: the data folder, the database, the transport, the templates (PreflightError,
   * naming the check and the fix). A failing source is logged as an error with its fix and the
   * start goes on: the other mailboxes keep being served, that source's loop retries with
   * backoff, and the outbox and deadlines keep working even when every mailbox refuses.
   * Modes that are too open are tightened (0700 / 0600).
   */
  async checkDependencies(): Promise<PreflightResult[]> {
    // After a restore nothing is taken, filed or sent before reconciliation has compared the mailboxes.
    refuseWhileRestoring(this.store);
    if (this.config.firm.trustStaffFrom)
      this.log.warn(
        'firm.trustStaffFrom is on: any mail with a staff address in From is believed, so anyone can act as an officer (commands, replies). Use it for a test install only; set firm.authservIds instead',
      );
    else if (this.config.officers.length > 0 && this.config.firm.authservIds.length === 0 && this.config.firm.mailPlatform === 'own')
      this.log.warn(
        'firm.authservIds is empty: no officer mail can be authenticated, so officer replies and commands are treated as suspected forgeries (the Sent folder still counts)',
      );
    const missing = missingSecrets(this.config);
    if (missing.length > 0) throw new ConfigError(this.config.file, missing);
    if (!this.transport) this.transport = this.makeTransport();
    const results = await preflight(this.config, this.log, {
      repair: true,
      db: this.db,
      transport: this.transport,
      credentialsOf: (s) => this.sourceLogin(s),
    });
    for (const r of results) {
      const source = /^(imap|maildir) (.+)$/.exec(r.check)?.[2];
      const fields = { check: r.check, source, detail: r.detail, fix: r.fix };
      if (r.ok) this.log.info('preflight ok', fields);
      else if (source && !r.fatal) this.log.error('preflight failed: this source retries with backoff, the others are served', fields);
      else if (r.check === 'backup folder')
        this.log.error('preflight failed: the service starts, but backups cannot be written; status goes red when the last one grows old', fields);
      else if (!r.fatal) this.log.error('preflight failed: the service starts; the outbox keeps what is due and retries with backoff', fields);
      else this.log.error('preflight failed', fields);
    }
    const blocking = blockingFailures(results);
    if (blocking.length > 0) throw new PreflightError(blocking);
    return results;
  }

  /** Process mail already stored (from `ingest` or an earlier crash). */
  process(opts: PassOptions & { onResult: (r: ProcessResult) => void }): Promise<void>;
  process(opts?: PassOptions): Promise<ProcessResult[]>;
  async process(opts: PassOptions & { onResult?: (r: ProcessResult) => void } = {}): Promise<ProcessResult[] | void> {
    refuseWhileRestoring(this.store);
    // The case numbers a batch can take are reserved on the backup disk before it is filed, and
    // again after each mail (src/backup/high-water.ts): a restore never hands one out twice.
    this.highWater?.ensure(this.clock());
    // The outcomes are returned only to a caller that does not take them one by one (see processPending).
    const kept: ProcessResult[] = [];
    const onResult = opts.onResult ?? ((r: ProcessResult): void => void kept.push(r));
    await this.processor.processPending({
      ...opts,
      onResult: (r) => {
        this.highWater?.ensure(this.clock());
        onResult(r);
      },
    });
    return opts.onResult ? undefined : kept;
  }

  /**
   * One pass: poll every source once, file what is pending, send what is due, run the escalation
   * pass, and send what it queued. The acknowledgements go out before the escalation pass, so that
   * its digest counts them as sent (their milestone met), not as due.
   */
  async runOnce(): Promise<OnceSummary> {
    await this.checkDependencies();
    const sources: Record<string, PollStats | { error: string }> = {};
    for (const source of this.sources()) {
      try {
        sources[source.name] = await source.pollOnce();
      } catch (err) {
        sources[source.name] = { error: errorChain(err) };
        this.log.error('source poll failed', { source: source.name, error: errorChain(err) });
      }
    }
    let filed = 0;
    let quarantined = 0;
    await this.process({ onResult: (r) => (r.kind === 'quarantined' ? quarantined++ : filed++) });
    const sender = this.sender();
    let first = await sender.sendDue();
    // OCR after the acknowledgements are out (they never wait on it); its notices then go too.
    const ocr = await this.ocr.runPending();
    if (ocr.notified > 0) first = addSendResults(first, await sender.sendDue());
    const escalation = this.config.deadlines.escalation.enabled ? this.escalate(this.clock()) : null;
    const sent = escalation && (escalation.notices > 0 || escalation.digest) ? addSendResults(first, await sender.sendDue()) : first;
    return {
      sources,
      filed,
      quarantined,
      escalation,
      sent,
    };
  }

  /** One escalation pass as of `now` (the clock for the service, any instant for `klagomal escalate`). */
  escalate(now: Date, opts: { dryRun?: boolean } = {}): EscalationPassResult {
    const r = this.escalation.run(now, opts);
    if (!opts.dryRun && (r.escalated > 0 || r.digest))
      this.log.info('escalation pass', { escalated: r.escalated, skipped: r.skipped, breaches: r.breaches, notices: r.notices, digest: r.digest });
    return r;
  }

  /** Run until `shutdown` aborts. Resolves after a clean shutdown. */
  async start(shutdown: AbortSignal): Promise<void> {
    await this.checkDependencies();
    // Each loop waits on a signal of its own, and the shared one carries a single listener: a
    // dozen loops (two mailboxes with their Sent folders, HTTP on) waiting on one signal at once
    // passed Node's limit of ten and printed a MaxListenersExceededWarning as plain text.
    const fan = new SignalFanout(shutdown);
    // Monitoring (off by default): /healthz and /metrics on 127.0.0.1. A taken port fails the start.
    const httpServer = this.config.http.enabled
      ? await startHttpServer({ config: this.config, store: this.store, log: this.log.child({ stage: 'http' }), clock: this.clock }, fan.child())
      : null;
    const processWake = new Wakeup();
    const sendWake = new Wakeup();
    const sender = this.sender();

    const sourceLoops = this.sources().map((s) =>
      s.run(fan.child(), () => processWake.notify()).catch((err) => this.log.error('source stopped', { source: s.name, error: errorChain(err) })),
    );

    const health = new ServiceHealth(this.store, this.clock, this.log);
    health.start();

    const processLoop = (async (signal: AbortSignal) => {
      let storageBackoffMs = 2000;
      while (!signal.aborted) {
        try {
          // Wake the sender as each batch commits, so that a backlog is acknowledged while it is
          // still being filed rather than after the last batch.
          await this.process({ signal, onResult: (r) => 'acknowledgementQueued' in r && r.acknowledgementQueued && sendWake.notify() });
          if (health.storageWorks('processing')) {
            this.log.info('the data folder takes writes again: processing goes on', { part: 'processing' });
            storageBackoffMs = 2000;
          }
        } catch (err) {
          const failure = storageFailure(err, this.config.dataDir);
          if (failure) {
            // The disk's failure, not the mails': they stay stored, unblamed, and are filed when it
            // can write (src/util/storage-error.ts). Once at error per run of failures, then debug.
            const error = errorChain(err instanceof StorageError ? err.cause : err);
            const fields = { part: 'processing', code: failure.code, error, fix: failure.fix, retryInMs: storageBackoffMs };
            if (health.storageFailed('processing', failure, error))
              this.log.error('processing stopped: the data folder cannot be written; the mail stays stored and is filed once it can', fields);
            else this.log.debug('processing still waits for the data folder', fields);
            await sleep(storageBackoffMs, signal);
            storageBackoffMs = Math.min(30_000, storageBackoffMs * 2);
            continue;
          }
          this.log.error('processing pass failed', { error: errorChain(err) });
          await sleep(2000, signal);
        }
        // Also wake up on a timer: another process (`klagomal ingest`) may have stored mail.
        await processWake.wait(2000, signal);
      }
    })(fan.child());

    // OCR of attachments after filing: its own loop, so that a long scan never holds up filing.
    const ocrLoop = (async (signal: AbortSignal) => {
      while (!signal.aborted) {
        try {
          const r = await this.ocr.runPending(signal);
          if (r.notified > 0) sendWake.notify();
        } catch (err) {
          this.log.error('OCR pass failed', { error: errorChain(err) });
        }
        await sleep(2000, signal);
      }
    })(fan.child());

    const sendLoop = (async (signal: AbortSignal) => {
      while (!signal.aborted) {
        try {
          await sender.sendDue(signal);
        } catch (err) {
          this.log.error('send pass failed', { error: errorChain(err) });
        }
        const next = this.store.nextOutboxDue();
        const untilNext = next ? new Date(next).getTime() - this.clock().getTime() : 2000;
        await sendWake.wait(Math.max(50, Math.min(2000, untilNext)), signal);
      }
    })(fan.child());

    // Deadlines: a catch-up pass now (a deadline may have passed while we were down), then on
    // the configured schedule. The database makes each warning happen once, whatever the timing.
    let escalationTask: ScheduledTask | null = null;
    if (this.config.deadlines.escalation.enabled) {
      const pass = (): void => {
        try {
          const r = this.escalate(this.clock());
          if (r.notices > 0 || r.digest) sendWake.notify();
        } catch (err) {
          this.log.error('escalation pass failed', { error: errorChain(err) });
        }
      };
      pass();
      escalationTask = cron.schedule(this.config.deadlines.escalation.schedule, pass, { timezone: TIME_ZONE, noOverlap: true, name: 'escalation' });
      fan.child().addEventListener('abort', () => void escalationTask?.stop(), { once: true });
    }

    // The monthly management pack (reports.monthly, src/monthly/schedule.ts): a pass now (a
    // catch-up after downtime on the first business day) and hourly; the claim in the database
    // makes each month's pack happen once.
    const monthlySignal = fan.child();
    const monthlyPass = (): void => {
      try {
        if (
          runMonthlyPass({ store: this.store, config: this.config, calendar: this.calendar, log: this.log.child({ stage: 'monthly' }) }, this.clock()).queued >
          0
        )
          sendWake.notify();
      } catch (err) {
        this.log.error('monthly pack pass failed', { error: errorChain(err) });
      }
    };
    if (this.config.reports.monthly) monthlyPass();
    const monthlyTask = this.config.reports.monthly ? this.schedule('monthly', MONTHLY_PASS_SCHEDULE, monthlySignal, monthlyPass) : null;

    // Reconciliation: the mailboxes compared with what was filed, so that a mail never stored
    // (a bug, a restore from an old backup, a client that moved mail) is found and filed.
    let reconciling: Promise<unknown> = Promise.resolve();
    const reconcileSignal = fan.child();
    const reconcileTask = this.schedule('reconcile', this.config.reconcile.schedule, reconcileSignal, () => {
      // Returned, so that node-cron's noOverlap holds: a long run (hashing every raw mail) is never joined by the next.
      reconciling = reconcile({ ...this.reconcileDeps(), signal: reconcileSignal }, 'schedule')
        .then((r) => {
          if (r.adminNotified || r.filedNow > 0) sendWake.notify();
        })
        .catch((err) => this.log.error('reconcile pass failed', { error: errorChain(err) }));
      return reconciling;
    });

    // Retention: closed cases past their period anonymised, nightly by default.
    const retention = startRetentionSchedule(
      { store: this.store, config: this.config, log: this.log.child({ stage: 'retention' }), clock: this.clock },
      fan.child(),
    );

    // Backups: `klagomal backup` as a child process on backup.schedule (src/backup/schedule.ts).
    const backups = startBackupSchedule({ config: this.config, log: this.log }, fan.child());

    // Templates: an admin's edit takes effect without a restart; a broken one is reported and the
    // last good set stays in use (src/reply/template-manager.ts).
    const templateLoop = (async (signal: AbortSignal) => {
      while (!signal.aborted) {
        await sleep(2000, signal);
        if (signal.aborted) break;
        try {
          if (this.templates.reload(this.clock()) === 'broken') sendWake.notify();
        } catch (err) {
          this.log.error('template reload failed', { error: errorChain(err) });
        }
      }
    })(fan.child());

    this.log.info('klagomal started', {
      sources: this.config.sources.map((s) => `${s.name}(${s.type})`).join(','),
      transport: this.config.transport.type,
      database: this.config.database,
      templates: this.templates.setVersion,
      templateProblems: this.templates.problems.length || undefined,
    });
    await Promise.all([...sourceLoops, processLoop, sendLoop, ocrLoop, templateLoop]);
    health.stop();
    await escalationTask?.destroy();
    await reconcileTask?.destroy();
    await monthlyTask?.destroy();
    await reconciling;
    await retention?.stop();
    await backups?.stop();
    await httpServer?.closed;
    this.log.info('klagomal stopped cleanly');
  }

  /** What `reconcile` needs: the service's store, and its processor for what it finds. */
  reconcileDeps(): ReconcileDeps {
    return {
      config: this.config,
      store: this.store,
      log: this.log.child({ stage: 'reconcile' }),
      clock: this.clock,
      process: (ids) => this.process({ only: new Set(ids) }),
      credentialsOf: (s) => this.sourceLogin(s),
    };
  }

  /** A cron job in Stockholm time that never overlaps itself and stops with the service; none for a null schedule. */
  private schedule(name: string, expression: string | null, signal: AbortSignal, job: () => unknown): ScheduledTask | null {
    if (!expression) return null;
    const task = cron.schedule(expression, job, { timezone: TIME_ZONE, noOverlap: true, name });
    signal.addEventListener('abort', () => void task.stop(), { once: true });
    return task;
  }

  close(): void {
    for (const stop of this.stopRecording.splice(0)) stop();
    this.transport?.close();
    this.transport = null;
    if (this.db.open) this.db.close();
  }
}

function addSendResults(a: SendPassResult, b: SendPassResult): SendPassResult {
  return { sent: a.sent + b.sent, retried: a.retried + b.retried, failed: a.failed + b.failed };
}
