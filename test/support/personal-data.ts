/**
 * A small firm on a real database with the real templates, for the personal-data tests
 * (retention, legal hold, the subject access export): mails go the pipeline's way (stored as a
 * source stores them, parsed, filed), officers act by command mails, and the clock is a
 * parameter everywhere, so that ten years pass in a line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Config } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import { parseMail } from '../../src/parse/parse';
import { parseCommandMail, runOfficerCommands, CommandOutcome } from '../../src/officers/commands';
import { FilingContext, FilingResult } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals, sha256 } from '../../src/ingest/intake';
import { spoolRaw } from '../../src/ingest/raw-files';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { CaseRow, Store } from '../../src/store/store';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';
import { main } from '../../src/cli';
import { parse, UsageError } from '../../src/cli/args';
import { Command, NotFound } from '../../src/cli/shared';

// Personnummer are on by default and filing seals them: the tests' key, as test/support/world.ts sets it.
process.env.KLAGOMAL_PERSONNUMMER_KEY ??= Buffer.alloc(32, 7).toString('base64');

export const AUTHSERV = 'mx1.exempelfinans.se';
export const COMPLAINTS = 'klagomal@exempelfinans.se';
export const MAJA = 'maja@exempelfinans.se'; // manager
export const OLLE = 'olle@exempelfinans.se'; // officer

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));

export interface Firm {
  dir: string;
  configFile: string;
  config: Config;
  store: Store;
  ctx: FilingContext;
  close(): void;
}

export function makeFirm(extra: Record<string, unknown> = {}): Firm {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-personal-'));
  const json = {
    firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: ['exempelfinans.se'], authservIds: [AUTHSERV] },
    sources: [{ type: 'maildir', path: 'maildir' }],
    dataDir: './data',
    templates: path.join(__dirname, '..', '..', 'templates'),
    officers: [
      { name: 'Maja Chef', address: MAJA, role: 'manager' },
      { name: 'Olle Handläggare', address: OLLE },
    ],
    deadlines: { escalation: { enabled: false } },
    ...extra,
  };
  // On disk too, for the commands run in-process (`main([..., '--config', configFile])`).
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(json, null, 2));
  const config = parseConfig(json, configFile);
  const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  const ctx: FilingContext = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };
  return {
    dir,
    configFile,
    config,
    store,
    ctx,
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;

export interface MailSpec {
  from: string;
  to?: string;
  cc?: string;
  subject?: string;
  body?: string;
  messageId?: string;
  inReplyTo?: string;
  date?: string;
  headers?: string[];
  /** One attachment: name and content. */
  attachment?: { filename: string; content: Buffer };
}

export function rawMail(m: MailSpec): Buffer {
  const head = [
    ...(m.headers ?? []),
    `From: ${m.from}`,
    `To: ${m.to ?? COMPLAINTS}`,
    ...(m.cc ? [`Cc: ${m.cc}`] : []),
    `Subject: ${m.subject ?? 'Felaktig avgift på min faktura'}`,
    `Date: ${m.date ?? 'Mon, 02 Mar 2026 09:00:00 +0100'}`,
    `Message-ID: <${m.messageId ?? `pd${++seq}.${Math.random().toString(36).slice(2)}@example.com`}>`,
    ...(m.inReplyTo ? [`In-Reply-To: <${m.inReplyTo}>`] : []),
    'MIME-Version: 1.0',
  ];
  const body =
    m.body ??
    'Hej,\n\nni har tagit ut en avgift på 250 kr på min faktura för februari som jag inte känner igen. Jag vill att ni betalar tillbaka avgiften.\n\nMed vänlig hälsning';
  if (!m.attachment) {
    return Buffer.from([...head, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', body, ''].join('\r\n'), 'utf8');
  }
  return Buffer.from(
    [
      ...head,
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      body,
      '--b',
      `Content-Type: application/pdf; name="${m.attachment.filename}"`,
      `Content-Disposition: attachment; filename="${m.attachment.filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      m.attachment.content.toString('base64').replace(/.{76}/g, '$&\r\n'),
      '--b--',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** Store a mail as a source does (a large one spooled to a file, as IMAP and Maildir do), parse it, file it. */
export async function deliver(f: Firm, bytes: Buffer, at: Date, o: { asFile?: boolean; sourceKey?: string } = {}): Promise<FilingResult> {
  const raw = o.asFile ? await spoolRaw(f.config.dataDir, Readable.from([bytes])) : bytes;
  const [stored] = storeArrivals(
    f.store,
    f.config.dataDir,
    'klagomal',
    [{ raw, receivedAt: at, mailbox: null, locator: null, sourceKey: o.sourceKey ?? null }],
    toInstant(at),
  );
  const parsed = await parseMail(bytes, { dataDir: f.config.dataDir });
  return f.store.tx(() => processMail(f.ctx, f.store.inbound(stored.id)!, parsed, at));
}

export async function complaint(f: Firm, m: MailSpec, at: Date, o: { asFile?: boolean } = {}): Promise<CaseRow> {
  const r = await deliver(f, rawMail(m), at, o);
  if (r.kind !== 'complaint' || r.caseId === null) throw new Error(`expected a complaint to open a case, got ${r.kind} (${r.reason})`);
  return f.store.caseById(r.caseId)!;
}

/** An officer's command mail on a case, run as handleOfficerMail runs it (inside the filing transaction). */
export function command(f: Firm, caseId: number, text: string, at: Date, from = OLLE): { out: CommandOutcome; inboundId: number } {
  const bytes = Buffer.from(`From: ${from}\r\nSubject: command ${++seq}\r\n\r\n${text}`);
  const { id } = f.store.tx(() =>
    f.store.storeInbound(
      {
        source: 'test',
        mailbox: null,
        locator: null,
        sourceKey: null,
        uidvalidity: null,
        uid: null,
        receivedAt: toInstant(at),
        sha256: sha256(bytes),
        size: bytes.length,
        raw: { bytes },
      },
      toInstant(at),
    ),
  );
  const out = f.store.tx(() => {
    const r = runOfficerCommands(
      f.ctx,
      f.store.caseById(caseId)!,
      { address: from, name: null },
      parseCommandMail(text),
      { id, messageId: `cmd-${id}@exempelfinans.se` },
      at,
    );
    // Filed on its case, as the pipeline files an officer's mail.
    f.store.setInboundFiled(id, 'officer', 'test: officer command mail', `cmd-${id}@exempelfinans.se`, caseId, null, toInstant(at));
    return r;
  });
  return { out, inboundId: id };
}

/** Close a case the officers' way: an outcome, then the status. */
export function closeCase(f: Firm, caseId: number, at: Date): void {
  const { out } = command(f, caseId, '#outcome upheld\n#compensation 250\n#status closed', at);
  if (out.errors.length) throw new Error(`closing failed: ${JSON.stringify(out.errors)}`);
}

/** Every row of a table as plain objects (for before/after comparisons). */
export function rows(f: Firm, sql: string, ...args: unknown[]): Array<Record<string, unknown>> {
  return f.store.db.prepare(sql).all(...args) as Array<Record<string, unknown>>;
}

/** Run `klagomal ARGS --config <the firm's>` in this process; its exit code and output. */
export async function cli(f: Firm, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...args, '--config', f.configFile], { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') });
  return { code, out, err };
}

/** Run one command object (not yet registered in COMMANDS) as the dispatcher would. */
export async function runCommand(f: Firm, command: Command, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => (out += t + '\n'), err: (t: string) => (err += t + '\n') };
  try {
    const { values, positionals } = parse([...args, '--config', f.configFile], command.options, command.positionals);
    return { code: await command.run(values, positionals, io), out, err };
  } catch (e) {
    if (e instanceof UsageError) return { code: 2, out, err: err + (e as Error).message };
    if (e instanceof NotFound) return { code: 1, out, err: err + (e as Error).message };
    throw e;
  }
}

/** Every file under a folder, relative to it. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
