/**
 * The HTTP endpoint (src/ops/http.ts) against a real filed complaint: a Maildir source, the
 * real processor and a pickup transport, then /healthz and /metrics on an ephemeral port on
 * 127.0.0.1. A monitoring endpoint that says "ok" while a mailbox is down or mail sits in
 * quarantine, or whose counters a Prometheus server cannot read, is worse than none.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { Service } from '../../src/service';
import { startHttpServer, HttpServer, LATENCY_BUCKETS } from '../../src/ops/http';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';
import { packageRoot } from '../../src/util/package-root';
import { complaintMail, deliverToMaildir, waitFor } from '../support/world';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, urlPath: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The samples of a Prometheus text exposition: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+(?:\{.*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

interface World {
  dir: string;
  config: Config;
  maildir: string;
  service: Service;
  now: Date;
  controller: AbortController;
  server: HttpServer;
  close(): Promise<void>;
}

async function makeWorld(): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-http-'));
  const configFile = path.join(dir, 'config.json');
  // A quote and a backslash in the Maildir path: label values must be escaped.
  const maildirName = 'mail"box\\in';
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se', staffDomains: ['testfinans.se'] },
      dataDir: './data',
      templates: path.join(packageRoot(), 'templates'),
      sources: [{ type: 'maildir', name: 'klagomal', path: `./data/${maildirName}`, pollSeconds: 1 }],
      transport: { type: 'pickup', path: './data/pickup' },
      deadlines: { escalation: { enabled: false } },
      personnummer: { store: false },
      http: { enabled: true },
    }),
  );
  const config = loadConfig(configFile);
  const service = new Service(config, silentLogger);
  const controller = new AbortController();
  const w = {
    dir,
    config,
    maildir: path.join(dir, 'data', maildirName),
    service,
    now: new Date(),
    controller,
  } as World;
  w.server = await startHttpServer({ config, store: service.store, log: silentLogger, clock: () => w.now }, controller.signal, { port: 0 });
  w.close = async () => {
    controller.abort();
    await w.server.closed;
    service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return w;
}

/** A complaint that reached the Maildir `ageSeconds` ago, filed and acknowledged by one pass. */
async function fileComplaint(w: World, n: number, ageSeconds: number): Promise<void> {
  const name = deliverToMaildir(w.maildir, complaintMail(n));
  const at = new Date(Date.now() - ageSeconds * 1000);
  fs.utimesSync(path.join(w.maildir, 'new', name), at, at);
  const summary = await w.service.runOnce();
  expect(summary).toMatchObject({ filed: 1, quarantined: 0, sent: { sent: 1 } });
}

const SOURCE = (w: World): string => `source="klagomal",mailbox="${w.maildir.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

describe('http endpoint', () => {
  let w: World;
  beforeEach(async () => {
    w = await makeWorld();
  });
  afterEach(async () => {
    await w.close();
  });

  test('metricsOfAFiledAndAcknowledgedComplaint', async () => {
    await fileComplaint(w, 1, 30);
    w.now = new Date();
    const r = await request(w.server.port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    // Every family declared once, with HELP and TYPE before its samples.
    expect(r.body).toMatch(/^# HELP klagomal_mails_filed_total .+\n# TYPE klagomal_mails_filed_total counter\n/);
    expect(r.body.match(/^# TYPE klagomal_acknowledgement_latency_seconds histogram$/gm)).toHaveLength(1);
    const m = samples(r.body);
    expect(m.get('klagomal_mails_filed_total{kind="complaint"}')).toBe(1);
    for (const kind of ['followup', 'officer', 'autoreply', 'bounce', 'bulk', 'duplicate']) expect(m.get(`klagomal_mails_filed_total{kind="${kind}"}`)).toBe(0);
    expect(m.get('klagomal_outbox_mails{state="sent"}')).toBe(1);
    for (const state of ['queued', 'retrying', 'sending', 'failed']) expect(m.get(`klagomal_outbox_mails{state="${state}"}`)).toBe(0);
    // Received 30 s before the pass, acknowledged in it: in the 60 s bucket, not the 15 s one.
    expect(m.get('klagomal_acknowledgement_latency_seconds_count')).toBe(1);
    expect(m.get('klagomal_acknowledgement_latency_seconds_bucket{le="15"}')).toBe(0);
    expect(m.get('klagomal_acknowledgement_latency_seconds_bucket{le="60"}')).toBe(1);
    expect(m.get('klagomal_acknowledgement_latency_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(LATENCY_BUCKETS.map((le) => m.get(`klagomal_acknowledgement_latency_seconds_bucket{le="${le}"}`))).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const sum = m.get('klagomal_acknowledgement_latency_seconds_sum')!;
    expect(sum).toBeGreaterThanOrEqual(30);
    expect(sum).toBeLessThan(60);
    expect(m.get('klagomal_cases_open')).toBe(1);
    expect(m.get('klagomal_deadlines_due{within="overdue"}')).toBe(0);
    expect(m.get('klagomal_deadlines_due{within="24h"}')).toBe(0);
    // Scanned once by `run --once`: not watched by a live service.
    expect(m.get(`klagomal_source_up{${SOURCE(w)}}`)).toBe(0);
    expect(m.get(`klagomal_source_last_poll_timestamp_seconds{${SOURCE(w)}}`)).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(m.get('klagomal_quarantine_mails')).toBe(0);
    expect(m.get('klagomal_attention_reasons')).toBe(0);
    expect(m.get('klagomal_database_bytes{file="db"}')).toBe(fs.statSync(w.config.database).size);
    // No customer address anywhere.
    expect(r.body).not.toMatch(/@example\.com/);

    // A second complaint: counters only grow.
    await fileComplaint(w, 2, 2);
    const m2 = samples((await request(w.server.port, '/metrics')).body);
    expect(m2.get('klagomal_mails_filed_total{kind="complaint"}')).toBe(2);
    expect(m2.get('klagomal_acknowledgement_latency_seconds_count')).toBe(2);
    expect(m2.get('klagomal_acknowledgement_latency_seconds_bucket{le="15"}')).toBe(1);
    expect(m2.get('klagomal_acknowledgement_latency_seconds_bucket{le="60"}')).toBe(2);

    // Three weeks on (the endpoint's clock): the final answers are overdue.
    w.now = new Date(Date.now() + 21 * 86_400_000);
    const m3 = samples((await request(w.server.port, '/metrics')).body);
    expect(m3.get('klagomal_deadlines_due{within="overdue"}')).toBe(2);
  });

  test('healthzIsOkThenNamesWhatNeedsAPerson', async () => {
    await fileComplaint(w, 1, 2);
    w.now = new Date();
    let r = await request(w.server.port, '/healthz');
    expect(r).toMatchObject({ status: 200, body: 'ok\n' });
    // A mail in quarantine: 503 with the reason, one per line.
    const id = w.service.store.listMail(null, 10)[0].inbound_id;
    w.service.store.tx(() => w.service.store.quarantine(id, 'parse', 'test: unreadable', toInstant(new Date())));
    r = await request(w.server.port, '/healthz');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^1 mail\(s\) in quarantine since \S+ \(see 'klagomal quarantine'/);
    expect(r.body.trim().split('\n')).toHaveLength(1);
    expect(samples((await request(w.server.port, '/metrics')).body).get('klagomal_quarantine_mails')).toBe(1);
    w.service.store.tx(() => w.service.store.releaseQuarantine(id, toInstant(new Date())));
    expect((await request(w.server.port, '/healthz')).status).toBe(200);
    // An hour without a poll: the mailbox is down (sourceDownMinutes 15).
    w.now = new Date(Date.now() + 3600_000);
    r = await request(w.server.port, '/healthz');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^source klagomal \(.*\): down for 6\d min since \S+ \(the service stopped\)\n$/);
  });

  test('sourceUpWhileTheServiceWatchesAndDownAfterItStops', async () => {
    const stop = new AbortController();
    const running = w.service.start(stop.signal);
    try {
      await waitFor(
        'the Maildir watched',
        () => (w.service.store.db.prepare('SELECT connected FROM source_status').get() as { connected: number } | undefined)?.connected === 1,
      );
      w.now = new Date();
      const m = samples((await request(w.server.port, '/metrics')).body);
      expect(m.get(`klagomal_source_up{${SOURCE(w)}}`)).toBe(1);
      expect((await request(w.server.port, '/healthz')).status).toBe(200);
    } finally {
      stop.abort();
      await running;
    }
    w.now = new Date();
    expect(samples((await request(w.server.port, '/metrics')).body).get(`klagomal_source_up{${SOURCE(w)}}`)).toBe(0);
  });

  test('onlyGetOnTwoPaths', async () => {
    expect((await request(w.server.port, '/')).status).toBe(404);
    expect((await request(w.server.port, '/metrics/extra')).status).toBe(404);
    expect((await request(w.server.port, '/metrics?name=x')).status).toBe(200);
    const post = await request(w.server.port, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
    expect((await request(w.server.port, '/healthz', 'DELETE')).status).toBe(405);
  });

  test('closesOnAbortAndRefusesAPortInUse', async () => {
    const port = w.server.port;
    const other = new AbortController();
    await expect(startHttpServer({ config: w.config, store: w.service.store, log: silentLogger, clock: () => w.now }, other.signal, { port })).rejects.toThrow(
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
    );
    w.controller.abort();
    await w.server.closed;
    await expect(request(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
