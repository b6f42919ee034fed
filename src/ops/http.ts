/**
 * The optional HTTP endpoint (`http.enabled`, off by default) for firms that monitor with
 * HTTP checks and Prometheus. Listens on 127.0.0.1 only: it has no authentication, and what it
 * tells (counts, case numbers in reasons, source names) is for the host's own monitoring agent.
 *
 *   GET /healthz   200 "ok", or 503 with one reason per line: the `needsAttention` of the
 *                  status report (src/ops/status.ts), the same as `klagomal status` exit 1
 *                  (except the template files, which only the command compiles).
 *   GET /metrics   Prometheus text format 0.0.4, computed from the database at each scrape.
 *   anything else  404; a method other than GET: 405.
 *
 * Every value is read from the database, as `klagomal status` reads it, so the numbers agree
 * with the command and survive restarts: counters (`_total`, the histogram) are counts of
 * rows that are never deleted, so they only grow, as Prometheus expects of a counter.
 *
 * Acknowledgement latency is a histogram over every acknowledgement sent: the time from the
 * complaint reaching our mail server (INTERNALDATE, or the Maildir file's time) to the 250 of
 * the SMTP server. Cumulative, so that any window is a PromQL `rate(...[1d])` away and several
 * instances could be summed; a window computed here could do neither.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config';
import type { Store } from '../store/store';
import { MAIL_KINDS } from '../cases/lifecycle';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { gatherStatus, StatusReport } from './status';

export interface HttpContext {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly clock: Clock;
}

export interface HttpServer {
  /** The port listened on (config.http.port, or the one chosen for port 0). */
  readonly port: number;
  /** Resolves when the server has closed after the signal aborted. */
  readonly closed: Promise<void>;
}

/** Upper bounds of the latency buckets, seconds: seconds when all is well, hours after an outage. */
export const LATENCY_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600] as const;

const HOST = '127.0.0.1';

/**
 * Start listening; resolves once the port is bound (rejects when it cannot be, e.g. in use).
 * Closes when `signal` aborts. `port` overrides config.http.port (0: any free port, for tests).
 */
export function startHttpServer(ctx: HttpContext, signal: AbortSignal, opts: { port?: number } = {}): Promise<HttpServer> {
  const server = http.createServer((req, res) => handle(ctx, req, res));
  // A monitoring agent's connection must not hold the shutdown open.
  server.keepAliveTimeout = 5000;
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`http endpoint: cannot listen on ${HOST}:${opts.port ?? ctx.config.http.port}: ${errorChain(err)}`));
    server.once('error', onError);
    server.listen(opts.port ?? ctx.config.http.port, HOST, () => {
      server.off('error', onError);
      server.on('error', (err) => ctx.log.error('http endpoint error', { error: errorChain(err) }));
      const port = (server.address() as AddressInfo).port;
      const stop = (): void => {
        server.close();
        server.closeAllConnections();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      ctx.log.info('http endpoint listening', { address: `${HOST}:${port}` });
      resolve({ port, closed });
    });
  });
}

function handle(ctx: HttpContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  const send = (status: number, body: string, type = 'text/plain; charset=utf-8', extra: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...extra });
    res.end(body);
  };
  if (path !== '/healthz' && path !== '/metrics') return send(404, 'not found\n');
  if (req.method !== 'GET') return send(405, 'only GET\n', undefined, { Allow: 'GET' });
  try {
    const now = ctx.clock();
    const report = gatherStatus(ctx.config, ctx.store, now);
    if (path === '/healthz') return send(report.ok ? 200 : 503, report.ok ? 'ok\n' : report.needsAttention.join('\n') + '\n');
    return send(200, metricsText(ctx.store, report), 'text/plain; version=0.0.4; charset=utf-8');
  } catch (err) {
    // A broken database is itself unhealthy; say so rather than hang up.
    ctx.log.error('http endpoint: cannot build the report', { path, error: errorChain(err) });
    return send(500, `cannot read the status: ${errorChain(err)}\n`);
  }
}

// ---- Prometheus text format 0.0.4 --------------------------------------------------------

/** Label values: backslash, double quote and newline escaped (exposition format). */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${label(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Exposition {
  private readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }
  sample(name: string, l: Record<string, string>, value: number): this {
    this.lines.push(`${name}${labels(l)} ${Number.isFinite(value) ? value : value > 0 ? '+Inf' : '-Inf'}`);
    return this;
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export interface LatencyHistogram {
  /** Cumulative counts, one per LATENCY_BUCKETS bound. */
  readonly buckets: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/** Acknowledgement latency over every acknowledgement sent, bucketed in the database (one row back, whatever the history). */
export function acknowledgementLatency(store: Store): LatencyHistogram {
  // The complaint that opened the case: the case's first inbound mail of kind complaint. A
  // clock difference between the mail server and us never makes a latency negative.
  const row = store.acknowledgementLatencyBuckets(LATENCY_BUCKETS);
  return { buckets: LATENCY_BUCKETS.map((_le, k) => row[`b${k}`]), count: row.count, sum: row.sum };
}

export function metricsText(store: Store, report: StatusReport): string {
  const m = new Exposition();

  const filed = new Map<string, number>(MAIL_KINDS.map((k) => [k, 0]));
  for (const r of store.filedInboundByKind()) filed.set(r.kind, r.n);
  m.family('klagomal_mails_filed_total', 'counter', 'Inbound mails filed, by kind.');
  for (const [kind, n] of filed) m.sample('klagomal_mails_filed_total', { kind }, n);

  const latency = acknowledgementLatency(store);
  m.family(
    'klagomal_acknowledgement_latency_seconds',
    'histogram',
    'From the complaint reaching our mail server to its acknowledgement being accepted by the SMTP server.',
  );
  LATENCY_BUCKETS.forEach((le, k) => m.sample('klagomal_acknowledgement_latency_seconds_bucket', { le: String(le) }, latency.buckets[k]));
  m.sample('klagomal_acknowledgement_latency_seconds_bucket', { le: '+Inf' }, latency.count);
  m.sample('klagomal_acknowledgement_latency_seconds_sum', {}, latency.sum);
  m.sample('klagomal_acknowledgement_latency_seconds_count', {}, latency.count);

  const o = report.outbox;
  m.family('klagomal_outbox_mails', 'gauge', 'Outgoing mails by state (retrying: queued again after a temporary failure).');
  for (const [state, n] of [
    ['queued', o.queued],
    ['retrying', o.retrying],
    ['sending', o.sending],
    ['sent', o.sent],
    ['failed', o.failed],
  ] as const)
    m.sample('klagomal_outbox_mails', { state }, n);

  m.family('klagomal_deadlines_due', 'gauge', 'Open deadlines of open cases: overdue, or due within the next 24 hours.');
  m.sample('klagomal_deadlines_due', { within: 'overdue' }, report.cases.deadlinesOverdue);
  m.sample('klagomal_deadlines_due', { within: '24h' }, report.cases.deadlinesDueWithin24h);

  m.family('klagomal_cases_open', 'gauge', 'Cases not closed.');
  m.sample('klagomal_cases_open', {}, report.cases.open);

  m.family('klagomal_source_up', 'gauge', '1 when the source folder is connected (IMAP) or watched (Maildir) by a live service.');
  for (const s of report.sources) m.sample('klagomal_source_up', { source: s.name, mailbox: s.mailbox }, s.state === 'connected' ? 1 : 0);
  m.family('klagomal_source_last_poll_timestamp_seconds', 'gauge', 'When the source folder was last scanned completely (0: never).');
  for (const s of report.sources)
    m.sample('klagomal_source_last_poll_timestamp_seconds', { source: s.name, mailbox: s.mailbox }, s.lastPollAt ? Date.parse(s.lastPollAt) / 1000 : 0);

  m.family('klagomal_quarantine_mails', 'gauge', 'Mails in quarantine (could not be parsed or filed).');
  m.sample('klagomal_quarantine_mails', {}, report.quarantine.count);
  m.family('klagomal_inbound_pending_mails', 'gauge', 'Raw mails stored but not yet filed.');
  m.sample('klagomal_inbound_pending_mails', {}, report.inbound.pending);

  m.family('klagomal_attention_reasons', 'gauge', "Things that need a person (as 'klagomal status'); 0 when healthy.");
  m.sample('klagomal_attention_reasons', {}, report.needsAttention.length);

  m.family('klagomal_database_bytes', 'gauge', 'Size of the SQLite database file and its write-ahead log.');
  m.sample('klagomal_database_bytes', { file: 'db' }, report.database.bytes);
  m.sample('klagomal_database_bytes', { file: 'wal' }, report.database.walBytes);
  return m.text();
}
