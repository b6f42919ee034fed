/**
 * A fresh world per test: a temp folder with its own config, data folder and database, and
 * helpers to run the real `klagomal` binary against it (as operators and cron do).
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { packageRoot } from '../../src/util/package-root';
import { PUBLIC_MAIL_DOMAINS } from '../../src/config/sections';

export const REPO = packageRoot(); // also right when compiled into dist/ (the benchmark)

/**
 * The personnummer key of the test worlds (personnummer.store is on by default, and `start`
 * and `run` refuse to begin without a key). Set in this process's environment, so that every
 * `klagomal` a test or the benchmark spawns, and filing in-process, has it; a test that wants
 * none passes `{ KLAGOMAL_PERSONNUMMER_KEY: '' }` in `env`.
 */
export const TEST_PERSONNUMMER_KEY = Buffer.alloc(32, 7).toString('base64');
process.env.KLAGOMAL_PERSONNUMMER_KEY ??= TEST_PERSONNUMMER_KEY;
export const BIN = path.join(REPO, 'bin', 'klagomal.js');

export interface World {
  dir: string;
  configFile: string;
  dataDir: string;
  maildir: string;
  pickup: string;
  config: Record<string, unknown>;
  /** Run `klagomal ARGS` to completion. */
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Start `klagomal start` in the background (nodeArgs: e.g. --cpu-prof for a profile). */
  start(env?: NodeJS.ProcessEnv, nodeArgs?: string[]): ChildProcess & { output: () => string };
  /** Open the world's database (read and write) for assertions. */
  store(): { store: Store; close: () => void };
  cleanup(): void;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function makeWorld(overrides: Record<string, unknown> = {}): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-test-'));
  const dataDir = path.join(dir, 'data');
  const maildir = path.join(dataDir, 'maildir');
  const pickup = path.join(dataDir, 'outbox', 'pickup');
  const config: Record<string, unknown> = {
    // The firm's receiving server is mx1.testfinans.se: officer mail in tests carries its Authentication-Results.
    firm: { name: 'Testfinans AB', complaintsAddress: 'klagomal@testfinans.se', staffDomains: ['testfinans.se'], authservIds: ['mx1.testfinans.se'] },
    cases: { prefix: 'KLG' },
    language: 'sv',
    dataDir: './data',
    templates: path.join(REPO, 'templates'),
    sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir', pollSeconds: 1 }],
    transport: { type: 'pickup', path: './data/outbox/pickup' },
    // Escalation off unless a test asks for it: warnings and digests depend on the time of day.
    deadlines: { escalation: { enabled: false } },
    // example.com stands for the webmail providers here: the tests' customers share it by the
    // hundred, as gmail.com's do, so the per-domain loop cap must not count it.
    loop: { publicMailDomains: [...PUBLIC_MAIL_DOMAINS, 'example.com'] },
    ...overrides,
  };
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const children: ChildProcess[] = [];

  const world: World = {
    dir,
    configFile,
    dataDir,
    maildir,
    pickup,
    config,
    cli: (args, env) => runCli([...args, '--config', configFile], env),
    start(env, nodeArgs = []) {
      const child = startService(configFile, { env, nodeArgs });
      children.push(child);
      return child;
    },
    store() {
      const db = openDatabase(path.join(dataDir, 'klagomal.db'));
      return { store: new Store(db), close: () => db.close() };
    },
    cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Deliver a mail into a Maildir the way an MTA does: write to tmp/, rename into new/. */
export function deliverToMaildir(maildir: string, raw: string | Buffer, name?: string): string {
  for (const sub of ['tmp', 'new', 'cur']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const base = name ?? `${Date.now()}.${process.pid}.${Math.random().toString(36).slice(2)}.test`;
  const tmp = path.join(maildir, 'tmp', base);
  fs.writeFileSync(tmp, raw);
  // Age the file past the Maildir source's settle window so a scan takes it at once.
  const past = new Date(Date.now() - 2000);
  fs.utimesSync(tmp, past, past);
  fs.renameSync(tmp, path.join(maildir, 'new', base));
  return base;
}

/**
 * `klagomal start` on a config file (`uid`: as that user, and its group of the same number), with
 * what it wrote. Each stream is kept on its own and joined when read: a line that arrives in two
 * reads of one pipe must not get a chunk of the other stream between its halves.
 */
export function startService(
  configFile: string,
  opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; uid?: number } = {},
): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, 'start', '--config', configFile], {
    env: { ...process.env, KLAGOMAL_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  }) as ChildProcess & { output: () => string };
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.output = () => (stderr ? `${stdout}${stdout.endsWith('\n') || !stdout ? '' : '\n'}${stderr}` : stdout);
  return child;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A small complaint mail with a unique Message-ID. */
export function complaintMail(
  n: number | string,
  opts: { from?: string; subject?: string; body?: string; headers?: string[]; messageId?: string | null } = {},
): string {
  const from = opts.from ?? `Kund ${n} <kund${n}@example.com>`;
  const lines = [
    `From: ${from}`,
    'To: klagomal@testfinans.se',
    `Subject: ${opts.subject ?? `Klagomål nummer ${n} om avgift`}`,
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    ...(opts.messageId === null ? [] : [`Message-ID: <${opts.messageId ?? `complaint-${n}-${Math.random().toString(36).slice(2)}@example.com`}>`]),
    ...(opts.headers ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    opts.body ?? `Hej, jag vill klaga på en avgift på 60 kr som togs ut den 3 november 2026. Ärende ${n}. Jag vill ha pengarna tillbaka.`,
    '',
  ];
  return lines.join('\r\n');
}

export async function waitForAsync<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A complaint with one base64 attachment (for large-mail and attachment tests, and the benchmark). */
export function mailWithAttachment(opts: { attachment: Buffer; filename: string; from?: string; subject?: string; messageId?: string; text?: string }): string {
  return [
    `From: ${opts.from ?? 'Stor Bilaga <stor@example.com>'}`,
    'To: klagomal@testfinans.se',
    `Subject: ${opts.subject ?? 'Klagomål med kontoutdrag'}`,
    `Message-ID: <${opts.messageId ?? `attachment-${Math.random().toString(36).slice(2)}@example.com`}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.text ?? 'Hej, här är kontoutdraget som visar att avgiften på 60 kr drogs den 3 november 2026.',
    '--b',
    `Content-Type: application/pdf; name="${opts.filename}"`,
    `Content-Disposition: attachment; filename="${opts.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    opts.attachment.toString('base64').replace(/.{76}/g, '$&\r\n'),
    '--b--',
    '',
  ].join('\r\n');
}
