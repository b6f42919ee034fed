/**
 * Benchmarks (npm run bench). They print numbers; they assert nothing. Targets (issue #2):
 *  - backlog: 5,000 small complaints already in a Dovecot INBOX -> all filed and all
 *    acknowledgements accepted by the SMTP receiver, at least half the raw limit, measured in
 *    the same run: one FETCH of the same 5,000 plus mailparser, storing nothing.
 *  - latency: one APPEND while the service idles -> acknowledgement accepted; p50 < 1 s.
 *  - memory: peak RSS while filing one mail with a 25 MB attachment < 200 MB.
 *  - escalation (issue #3): one pass over 1,000,000 cases of which 10,000 are open < 200 ms,
 *    through an index (bench/escalation.ts).
 *  - bombs (issue 17): no single mail up to 50 MB takes more than 300 MB RSS or 3 s of CPU to
 *    file (bench/bombs.ts).
 *  - backups (issue 18): backup time and size of a register, the incremental backup, how long
 *    a writer waits during a backup (bench/backup.ts; BENCH_BACKUP_CASES=10000,100000).
 *  - documents (issue 19): pages per second for the PDF text layer and for OCR, and the peak RSS
 *    of the document reader process (bench/documents.ts).
 *  - monthly pack (issue 15): reading thirteen months and rendering the mail with its PNG charts
 *    over 2,000 cases a month (bench/monthly.ts; BENCH_MONTHLY_PER_MONTH).
 *  - census (issue 16): SQL statements, events and outgoing mails per complaint and per
 *    follow-up, counted (bench/census.ts; BENCH_CENSUS_MAILS).
 *
 * The service runs as its own process (`klagomal start`), as in production; Dovecot and the
 * SMTP receiver are the test harness's. Set BENCH_MAILS / BENCH_LATENCY_SAMPLES to change sizes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import { dovecotAvailable, imapSourceOf, startDovecot } from '../test/support/dovecot';
import { startSmtpReceiver } from '../test/support/smtp';
import { makeWorld, complaintMail, deliverToMaildir, mailWithAttachment, waitFor } from '../test/support/world';
import { openDatabase } from '../src/store/db';
import { PUBLIC_MAIL_DOMAINS } from '../src/config/sections';
import { escalationBench } from './escalation';
import { classifyBench, htmlReadingBench } from './classify';
import { bombsBench } from './bombs';
import { backupBench } from './backup';
import { documentsBench } from './documents';
import { runMeasured } from './measure';
import { monthlyBench } from './monthly';
import { censusBench } from './census';

const MAILS = Number(process.env.BENCH_MAILS ?? 5000);
/** BENCH_LARGE=1: also the 50,000-mail backlog and the import of 60,000 mails (minutes each). */
const LARGE = process.env.BENCH_LARGE === '1';
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 60);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function rawLimit(clientOptions: ConstructorParameters<typeof ImapFlow>[0], MAILS: number): Promise<{ seconds: number; fetchSeconds: number }> {
  const client = new ImapFlow(clientOptions);
  await client.connect();
  const t0 = process.hrtime.bigint();
  const lock = await client.getMailboxLock('INBOX', { readOnly: true });
  let sources: Buffer[] = [];
  try {
    const msgs = await client.fetchAll('1:*', { uid: true, source: true });
    sources = msgs.map((m) => m.source!).filter(Boolean);
  } finally {
    lock.release();
  }
  const t1 = process.hrtime.bigint();
  for (const s of sources) await simpleParser(s);
  const t2 = process.hrtime.bigint();
  await client.logout();
  if (sources.length !== MAILS) throw new Error(`raw fetch got ${sources.length} of ${MAILS}`);
  return { seconds: Number(t2 - t0) / 1e9, fetchSeconds: Number(t1 - t0) / 1e9 };
}

/** Seconds of CPU (user + system) in a process.cpuUsage() difference. */
function cpuOf(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

/** Seconds over mails, as milliseconds per mail for printing. */
function perMail(seconds: number, mails: number): string {
  return ((seconds / mails) * 1000).toFixed(2);
}

/** Peak resident memory of a running process so far (VmHWM), in MB; NaN where /proc is not there. */
function peakRssMb(pid: number | undefined): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a running process has used so far, from /proc; NaN where it is not there. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of proc(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds every core of the machine has been busy (not idle, not waiting for I/O) since boot, from /proc/stat; NaN where it is not there. */
function machineBusySeconds(): number {
  try {
    // The first line sums the cores: user nice system idle iowait irq softirq steal, in clock ticks.
    const [user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) / 100;
  } catch {
    return NaN;
  }
}

/** Filed inbound rows of the world's database (read-only, beside the service); 0 before it exists. */
function filedCount(dbFile: string, kind?: string): number {
  if (!fs.existsSync(dbFile)) return 0;
  try {
    const db = openDatabase(dbFile, { readonly: true });
    try {
      const sql = `SELECT COUNT(*) AS n FROM inbound WHERE state = 'filed'${kind ? ' AND kind = ?' : ''}`;
      return (db.prepare(sql).get(...(kind ? [kind] : [])) as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; /* not created yet */
  }
}

/**
 * The backlog, then (`withLatency`) the latency of single mails and a second backlog in which
 * every mail is a follow-up to one of the cases just opened (threading lookups under load).
 */
async function backlogAndLatency(MAILS: number, withLatency: boolean): Promise<void> {
  const dovecot = await startDovecot();
  const smtp = await startSmtpReceiver();
  const world = makeWorld({
    sources: [imapSourceOf(dovecot, 'BENCH_IMAP_PASSWORD', { processedFolder: 'Processed', pollSeconds: 60 })],
    transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 5 },
    processing: { batchSize: 100 },
    // The benchmark writes to 5,000 distinct customers; the per-address cap is not exercised.
    // The hourly cap (loop.maxAutomaticPerHour, 10,000) would hold back most of a 50,000 backlog's
    // acknowledgements: raised, as a firm would before a planned backfill of live mail.
    loop: { publicMailDomains: [...PUBLIC_MAIL_DOMAINS, 'example.com'], maxAutomaticPerHour: 1_000_000 },
  });
  const env = { BENCH_IMAP_PASSWORD: dovecot.password, KLAGOMAL_LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn' };
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  try {
    dovecot.deliverToMaildir(Array.from({ length: MAILS }, (_, i) => complaintMail(i, { messageId: `bench-${i}@example.com` })));
    // Let Dovecot index the new mail once, outside both measurements.
    const st = await dovecot.status('INBOX');
    if (st.messages !== MAILS) throw new Error(`INBOX has ${st.messages} messages, expected ${MAILS}`);

    const rawMachine0 = machineBusySeconds();
    const rawCpu0 = process.cpuUsage();
    const raw = await rawLimit(dovecot.clientOptions(), MAILS);
    const rawCpu = cpuOf(process.cpuUsage(rawCpu0));
    const rawMachine = machineBusySeconds() - rawMachine0;
    const rawRate = MAILS / raw.seconds;
    console.log(
      `raw limit: one FETCH of ${MAILS} mails + mailparser, storing nothing: ${raw.seconds.toFixed(2)} s (fetch ${raw.fetchSeconds.toFixed(2)} s) = ${rawRate.toFixed(0)} msgs/s; ` +
        `CPU ${perMail(rawCpu, MAILS)} ms per mail in this process (the reading alone), ${perMail(rawMachine, MAILS)} ms per mail on the machine (with Dovecot)`,
    );

    const t0 = Date.now();
    const machine0 = machineBusySeconds();
    const bench0 = process.cpuUsage();
    const child = world.start(env, nodeArgs);
    const died = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the service exited (${code}) early:\n${child.output()}`))));
    // Watch the database (read-only, beside the service) for the moment the last mail is filed.
    let filedAt = 0;
    // The first mail filed: the service's start-up is behind it (it counts in the target's time).
    let firstFiledAt = 0;
    // The watcher's own CPU, taken out of this process's below so that the rest is the receiver's.
    let watcherSeconds = 0;
    const dbFile = path.join(world.dataDir, 'klagomal.db');
    // And the service's resident memory as the backlog goes: flat, or growing with the mails filed.
    const rssAt: number[] = []; // rssAt[q]: RSS when a quarter q+1 of the mails was filed
    let ticks = 0;
    const watcher = setInterval(
      () => {
        if (filedAt) return;
        const w0 = process.cpuUsage();
        const n = filedCount(dbFile);
        if (n > 0 && !firstFiledAt) firstFiledAt = Date.now();
        if (n >= MAILS) filedAt = Date.now();
        if (ticks++ % Math.max(1, Math.round(500 / Math.max(50, MAILS / 100))) === 0 || n >= MAILS) {
          const kb = Number(
            /VmRSS:\s+(\d+) kB/.exec(fs.existsSync(`/proc/${child.pid}/status`) ? fs.readFileSync(`/proc/${child.pid}/status`, 'utf8') : '')?.[1] ?? NaN,
          );
          for (let q = rssAt.length; q < 4 && n >= ((q + 1) * MAILS) / 4; q++) rssAt.push(kb / 1024);
        }
        watcherSeconds += cpuOf(process.cpuUsage(w0));
        // The count scans the inbound table: every 50 ms for 5,000 mails, less often for more, so
        // that the watcher does not take the service's CPU (two cores) on a long backlog.
      },
      Math.max(50, MAILS / 100),
    );
    await Promise.race([smtp.waitFor(MAILS, Math.max(600_000, MAILS * 30)), died]);
    clearInterval(watcher);
    const machineBusy = machineBusySeconds() - machine0;
    const benchUsage = process.cpuUsage(bench0);
    const seconds = (Date.now() - t0) / 1000;
    const rate = MAILS / seconds;
    if (filedAt)
      console.log(
        `backlog: all ${MAILS} mails filed (stored, parsed, classified, cases opened, acknowledgements queued) after ${((filedAt - t0) / 1000).toFixed(2)} s = ${(MAILS / ((filedAt - t0) / 1000)).toFixed(0)} msgs/s`,
      );
    console.log(
      `backlog: ${MAILS} mails filed and ${smtp.messages.length} acknowledgements accepted by SMTP in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} msgs/s ` +
        `(${((rate / rawRate) * 100).toFixed(0)} % of the raw limit; target >= 50 %; includes the service's start-up)`,
    );
    // CPU time is steadier than wall time on a shared machine: compare changes by it too.
    const cpu = cpuSeconds(child.pid);
    console.log(
      `backlog: the service used ${cpu.toFixed(1)} s of CPU = ${((cpu / MAILS) * 1000).toFixed(2)} ms per mail (start-up included); ` +
        `peak RSS over the ${MAILS}-mail backlog ${peakRssMb(child.pid).toFixed(0)} MB (target: flat, < 300 MB); RSS at 1/4, 1/2, 3/4 and all filed: ` +
        `${rssAt.map((m) => m.toFixed(0)).join(', ')} MB`,
    );
    // The whole machine: what the target leaves per mail for everything that runs for it (the
    // service with its transport thread, Dovecot, and the SMTP receiver in this process).
    const cores = os.cpus().length;
    const benchCpu = cpuOf(benchUsage);
    const receiverCpu = benchCpu - watcherSeconds;
    const dovecotCpu = machineBusy - cpu - benchCpu;
    console.log(
      `backlog: the machine's ${cores} cores were busy ${machineBusy.toFixed(1)} s = ${perMail(machineBusy, MAILS)} ms per mail ` +
        `(the service ${cpu.toFixed(1)} s, the SMTP receiver in this process ${receiverCpu.toFixed(1)} s, this process's watcher of the database ${watcherSeconds.toFixed(1)} s, ` +
        `Dovecot and the rest ${dovecotCpu.toFixed(1)} s)`,
    );
    // What the target leaves the service, from this run's own numbers (issue 16): at half the raw
    // limit the whole backlog, start-up included, has MAILS / (rawRate / 2) seconds of the
    // machine's cores; the receiver and Dovecot take their share of that whatever the service
    // does, and the service must still fetch and parse each mail, which the raw limit measures.
    const budget = cores / (rawRate / 2);
    const harness = (receiverCpu + dovecotCpu) / MAILS;
    console.log(
      `backlog: at 50 % of the raw limit the ${MAILS} mails have ${(MAILS / (rawRate / 2)).toFixed(2)} s, start-up included ` +
        `(the service's start-up to its first mail filed took ${firstFiledAt ? ((firstFiledAt - t0) / 1000).toFixed(2) : '?'} s here), ` +
        `and ${cores} cores allow ${(budget * 1000).toFixed(2)} ms of CPU per mail; the SMTP receiver and Dovecot took ${(harness * 1000).toFixed(2)} ms per mail, ` +
        `leaving ${((budget - harness) * 1000).toFixed(2)} ms per mail for the service, against ${perMail(rawCpu, MAILS)} ms per mail that reading alone takes in the raw limit ` +
        `and the ${perMail(cpu, MAILS)} ms per mail the service used`,
    );
    if (!withLatency) {
      died.catch(() => undefined);
      if (process.env.BENCH_SERVICE_LOG) fs.writeFileSync(process.env.BENCH_SERVICE_LOG, child.output());
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      return;
    }

    // Latency: the same service, now idle in IDLE.
    await new Promise((r) => setTimeout(r, 1500));
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const before = smtp.messages.length;
      const t = process.hrtime.bigint();
      await dovecot.append(complaintMail(`lat${i}`, { messageId: `latency-${i}@example.com` }));
      await smtp.waitFor(before + 1, 30_000);
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
    samples.sort((a, b) => a - b);
    console.log(
      `latency: APPEND -> acknowledgement accepted by SMTP, ${SAMPLES} mails one at a time: p50 ${percentile(samples, 50).toFixed(0)} ms, ` +
        `p95 ${percentile(samples, 95).toFixed(0)} ms, max ${samples[samples.length - 1].toFixed(0)} ms (target p50 < 1000 ms; Dovecot itself delays IDLE notices ~500 ms)`,
    );
    // Follow-ups: every customer writes again in the thread of their complaint (In-Reply-To and
    // References name their first mail, RFC 5322 §3.6.4), so each mail is matched to its open case.
    const before = filedCount(dbFile);
    const followups = Array.from({ length: MAILS }, (_, i) =>
      complaintMail(i, {
        messageId: `bench-followup-${i}@example.com`,
        subject: `Re: Klagomål nummer ${i} om avgift`,
        headers: [`In-Reply-To: <bench-${i}@example.com>`, `References: <bench-${i}@example.com>`],
        body: `Hej igen, jag har fortfarande inte fått tillbaka de 60 kronorna. Ärende ${i}.`,
      }),
    );
    const f0 = Date.now();
    const fCpu0 = cpuSeconds(child.pid);
    dovecot.deliverToMaildir(followups);
    await Promise.race([waitFor('follow-ups filed', () => filedCount(dbFile) >= before + MAILS, 600_000, 100), died]);
    const fSeconds = (Date.now() - f0) / 1000;
    console.log(
      `backlog of follow-ups: ${MAILS} mails, each to one of the ${MAILS} open cases, filed in ${fSeconds.toFixed(2)} s = ${(MAILS / fSeconds).toFixed(0)} msgs/s ` +
        `(${filedCount(dbFile, 'followup')} filed as follow-ups; ${((MAILS / fSeconds / rawRate) * 100).toFixed(0)} % of the raw limit; ` +
        `${(((cpuSeconds(child.pid) - fCpu0) / MAILS) * 1000).toFixed(2)} ms CPU per mail); peak RSS of the service so far ${peakRssMb(child.pid).toFixed(0)} MB`,
    );

    died.catch(() => undefined);
    if (process.env.BENCH_SERVICE_LOG) fs.writeFileSync(process.env.BENCH_SERVICE_LOG, child.output());
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  } finally {
    world.cleanup();
    await smtp.close();
    await dovecot.cleanup();
  }
}

/** `klagomal import` of a folder of N .eml files (an old complaints archive): mails/s and the peak RSS of the import. */
async function importBench(n: number): Promise<void> {
  const world = makeWorld();
  const archive = path.join(world.dir, 'archive');
  try {
    fs.mkdirSync(archive);
    for (let i = 0; i < n; i++)
      fs.writeFileSync(path.join(archive, `${String(i).padStart(6, '0')}.eml`), complaintMail(i, { messageId: `archive-${i}@example.com` }));
    const t0 = Date.now();
    const { rssMb } = await runMeasured(['import', archive, '--json', '--config', world.configFile]);
    const seconds = (Date.now() - t0) / 1000;
    const dbFile = path.join(world.dataDir, 'klagomal.db');
    console.log(
      `import: klagomal import of ${n} mails (a folder of .eml): ${seconds.toFixed(1)} s = ${(n / seconds).toFixed(0)} mails/s, ${filedCount(dbFile)} filed; ` +
        `peak RSS ${rssMb.toFixed(0)} MB (target: flat, < 300 MB)`,
    );
  } finally {
    world.cleanup();
  }
}

/** Peak RSS of one `klagomal run --once` that files one mail with a 25 MB attachment (Maildir in, pickup out). */
async function memory(): Promise<void> {
  const world = makeWorld();
  try {
    deliverToMaildir(
      world.maildir,
      mailWithAttachment({ attachment: crypto.randomBytes(25 * 1024 * 1024), filename: 'kontoutdrag.pdf', messageId: 'big-attachment@example.com' }),
    );
    const { out, rssMb } = await runMeasured(['run', '--once', '--json', '--config', world.configFile]);
    const filed = /"filed":1/.test(out);
    const stored = fs.readdirSync(path.join(world.dataDir, 'attachments')).filter((d) => d !== 'tmp');
    console.log(
      `memory: peak RSS filing one mail with a 25 MB attachment: ${rssMb.toFixed(0)} MB (target < 200 MB; filed: ${filed}; attachment folders: ${stored.length})`,
    );
  } finally {
    world.cleanup();
  }
}

/** BENCH_ONLY=backlog,memory,... runs only the named parts (all when unset). */
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const wanted = (part: string): boolean => ONLY.length === 0 || ONLY.includes(part);

async function main(): Promise<void> {
  console.log(`klagomal benchmarks on ${os.cpus().length} cores, node ${process.version}`);
  const d = dovecotAvailable();
  if (wanted('backlog')) {
    if (d.ok) {
      await backlogAndLatency(MAILS, true);
      if (LARGE) await backlogAndLatency(50_000, false);
    } else console.log(`backlog and latency skipped: ${d.reason}`);
  }
  // The 50,000 backlog alone (it runs after the 5,000 one with BENCH_LARGE=1).
  if (ONLY.includes('large-backlog') && d.ok) await backlogAndLatency(50_000, false);
  // Statements and events per mail: counts, which the machine's load does not move (bench/census.ts).
  if (wanted('census')) await censusBench(Number(process.env.BENCH_CENSUS_MAILS ?? 1000));
  if (wanted('import')) await importBench(LARGE ? 60_000 : Number(process.env.BENCH_IMPORT_MAILS ?? 5000));
  if (wanted('memory')) await memory();
  if (wanted('bombs')) await bombsBench();
  if (wanted('documents')) await documentsBench();
  if (wanted('escalation')) await escalationBench();
  if (wanted('classify')) {
    await classifyBench();
    await htmlReadingBench();
  }
  if (wanted('backup')) await backupBench();
  if (wanted('monthly')) await monthlyBench();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
