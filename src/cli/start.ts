/**
 * `klagomal start`: the long-running service (src/service.ts), with its signal handling and
 * the bound on a graceful stop (`shutdown.graceSeconds`).
 */
import os from 'node:os';
import { Service } from '../service';
import { errorChain, flushLogs, Logger } from '../util/log';
import { Command, configOf, logger } from './shared';

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
export const startCommand: Command = {
  summary: 'run the service: watch the sources, file mail, send the outbox (until SIGTERM/SIGINT)',
  usage: 'klagomal start [--config FILE]',
  options: {},
  positionals: false,
  async run(values) {
    process.umask(0o077);
    const log = logger();
    jsonOnly(log);
    const config = configOf(values);
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
    // Everything is closed and committed: exit now. A library's socket still ending its half
    // (the SMTP pool, an IMAP logout) has nothing left to lose, and must not hold up the stop
    // (README "Stopping": well under a second when idle).
    process.exitCode = 0;
    setImmediate(() => process.exit(0));
    return 0;
  },
};

/**
 * Every line the service writes is JSON (README "Logs": `journalctl -o cat | jq`): Node's own
 * warnings (its default handler prints plain text) go through the logger at warn, and an error
 * nothing caught, or a promise rejection nobody handled, is one line at fatal level with its
 * stack before the process exits 1 (systemd restarts it).
 */
function jsonOnly(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => log.warn('node warning', { warning: w.name, code: w.code, error: w.message }));
  process.on('uncaughtException', (err: unknown, origin: string) => {
    const e = err instanceof Error ? err : new Error(String(err));
    const what = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught error';
    try {
      log.fatal(`${what}: the service stops (systemd starts it again)`, { error: e.message, code: (e as { code?: string }).code, stack: e.stack });
      flushLogs();
    } finally {
      process.exit(1);
    }
  });
}

/** The work a stop past its bound leaves behind, for the operator (all of it is picked up at the next start). */
function abandon(service: Service, log: Logger, afterMs: number): void {
  try {
    const sending = service.store.listOutbox('sending');
    const cases = sending.flatMap((r) => (r.case_number ? [r.case_number] : [])).slice(0, 20);
    log.error('shutdown bound reached: exiting with work in flight', {
      afterMs,
      // Each is sent again when its lease ends (outbox.sendTimeoutSeconds after it was claimed, times the mails handed to one connection at once).
      sendsInFlight: sending.length,
      cases: cases.join(',') || undefined,
      mailsNotYetFiled: service.store.countPendingInbound(),
    });
  } catch (err) {
    log.error('shutdown bound reached: exiting with work in flight', { afterMs, error: errorChain(err) });
  }
}
