/**
 * The data subject access export (GDPR art. 15): everything held about one person, found by
 * their e-mail address or their personnummer, written to a folder for the DPO to review and
 * hand over (`klagomal subject export ADDRESS|PERSONNUMMER --out DIR`, src/cli/subject.ts).
 *
 * What is found:
 *  - by address: every case whose customer address is the address (case-insensitive), and the
 *    mails from that address (From or Reply-To) that are on no case: auto-replies, bounces,
 *    lists, quarantined mail (read from the raw headers). Mails where the person is only in
 *    To or Cc are the sender's, not theirs, and are left out.
 *  - by personnummer: every case whose stored personnummer (decrypted, src/cases/
 *    personnummer-store.ts) is the same twelve digits. Nothing else: an address on such a
 *    case may be a representative's, whose other mail is not this person's.
 *
 * Of each case: the case row, its deadlines, its events, its mails (raw .eml, a readable .txt,
 * the attachments under safe names) and the mails we sent to the person. Never another
 * person's case, even one related to theirs or about the same matter.
 *
 * Layout (DIR is created 0700, files 0600; a DIR that has anything in it is refused). All of it
 * is written into a temporary folder beside DIR and renamed to DIR when complete, so that a
 * failure half-way leaves no half export that could pass for a whole one:
 *
 *   DIR/index.json                         the query (a personnummer masked), when, by whom, what was found
 *   DIR/cases/<number>/case.json           case, deadlines, events, mails and sent mails listed
 *   DIR/cases/<number>/mails/NN-<kind>.eml the raw mail as received (absent when retention removed it)
 *   DIR/cases/<number>/mails/NN-<kind>.txt headers and text as filed
 *   DIR/cases/<number>/mails/NN-attachments/MM-<safe name>
 *   DIR/cases/<number>/sent/NN-<kind>.txt  (and .html) what we sent to the person
 *   DIR/mails/...                          mails on no case, numbered the same way
 *
 * Every exported case gets a `subject-access-exported` event: reading a person's data in full
 * is itself on record.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/config';
import type { CaseRow, MessageRow, OutboxRow, Store } from '../store/store';
import type { InboundFacts } from '../store/subject';
import { findPersonnummer } from '../util/personnummer';
import { normaliseAddress } from '../util/header-safe';
import { toInstant } from '../util/clock';
import { decryptPersonnummer, PersonnummerKeyError } from '../cases/personnummer-store';
import { checkDir, publishDir, safeFileName, SubjectExportError, temporaryDirBeside, Writer } from './export-files';

export { safeFileName, SubjectExportError } from './export-files';

export type SubjectQuery =
  { readonly kind: 'address'; readonly address: string } | { readonly kind: 'personnummer'; readonly normalised: string; readonly masked: string };

/** Pure: an e-mail address, or a personnummer/samordningsnummer (10 or 12 digits, Luhn-checked). */
export function parseSubjectQuery(text: string, today: Date = new Date()): SubjectQuery {
  const t = text.trim();
  if (t.includes('@')) {
    const address = normaliseAddress(t);
    if (!address) throw new SubjectExportError(`'${t}' is not one e-mail address`);
    return { kind: 'address', address };
  }
  const found = findPersonnummer(t, today);
  if (found.length !== 1 || found[0].written !== t)
    throw new SubjectExportError('not an e-mail address or a valid personnummer (YYYYMMDD-NNNN or YYMMDD-NNNN, with a correct check digit)');
  return { kind: 'personnummer', normalised: found[0].normalised, masked: found[0].masked };
}

/** Twelve digits of a stored personnummer in whatever form it was kept, or null. */
function normalisedPersonnummer(value: string, today: Date): string | null {
  if (/^\d{12}$/.test(value)) return value;
  return findPersonnummer(value, today)[0]?.normalised ?? null;
}

export interface SubjectExportResult {
  readonly dir: string;
  readonly query: { readonly kind: SubjectQuery['kind']; readonly value: string };
  readonly cases: readonly string[];
  readonly mailsNotOnCase: number;
  readonly mails: number;
  readonly attachments: number;
  readonly sent: number;
  readonly events: number;
  /** Things the DPO should know (a value that could not be decrypted, removed raw mails, ...). */
  readonly warnings: readonly string[];
}

export interface SubjectExportDeps {
  readonly store: Store;
  readonly config: Config;
  /** Where the personnummer key is read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

const parseJson = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

const pad = (n: number): string => String(n).padStart(2, '0');

/** The raw bytes of a stored mail, or null when retention removed them or the file is gone. */
function rawBytes(store: Store, dataDir: string, sha256: string): Buffer | null {
  const row = store.rawMailRow(sha256);
  if (!row || row.removed_at) return null;
  if (row.bytes) return row.bytes;
  const abs = path.join(dataDir, row.path!);
  return fs.existsSync(abs) ? fs.readFileSync(abs) : null;
}

/** The addresses in the From, Reply-To and Sender headers of a raw mail (for quarantined mail, which has no parsed row). */
export function senderAddressesOfRaw(raw: Buffer): string[] {
  const text = raw.subarray(0, 256 * 1024).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
  const out: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    const m = /^(from|reply-to|sender)\s*:(.*)$/i.exec(line);
    if (!m) continue;
    for (const a of m[2].match(/[^\s<>(),;:"]+@[^\s<>(),;:"]+/g) ?? []) {
      const n = normaliseAddress(a);
      if (n) out.push(n);
    }
  }
  return out;
}

function messageText(m: MessageRow): string {
  const list = (json: string): string => (parseJson(json) as string[]).join(', ');
  const lines = [
    `From: ${m.from_name ? `${m.from_name} ` : ''}<${m.from_address ?? ''}>`,
    ...(m.reply_to ? [`Reply-To: ${m.reply_to}`] : []),
    `To: ${list(m.to_addresses)}`,
    ...(m.cc_addresses !== '[]' ? [`Cc: ${list(m.cc_addresses)}`] : []),
    `Subject: ${m.subject ?? ''}`,
    `Date: ${m.date_header ?? ''}`,
    `Received: ${m.received_at}`,
    `Message-ID: ${m.message_id ?? ''}`,
    `Filed as: ${m.kind}`,
    '',
    m.body_text ?? '',
  ];
  return lines.join('\n') + '\n';
}

function outboxText(o: OutboxRow): string {
  return (
    [
      `From: ${o.from_name} <${o.from_address}>`,
      `To: ${o.to_address}`,
      `Subject: ${o.subject}`,
      `Date: ${o.date_header}`,
      `Message-ID: ${o.message_id}`,
      `Status: ${o.status}${o.sent_at ? ` (sent ${o.sent_at})` : ''}`,
      `Template: ${o.template}/${o.language}@${o.template_version}`,
      '',
      o.body_text,
    ].join('\n') + '\n'
  );
}

/**
 * Write one person's data to `outDir`. Throws SubjectExportError when the query cannot be
 * answered (the personnummer key is missing while cases hold encrypted numbers) or the folder
 * is not new or empty; nothing is written then.
 */
export function exportSubject(deps: SubjectExportDeps, query: SubjectQuery, outDir: string, now: Date, by: string = operatorName()): SubjectExportResult {
  const { store, config } = deps;
  const env = deps.env ?? process.env;
  const warnings: string[] = [];
  const at = toInstant(now);

  // 1. Find the cases.
  let cases: CaseRow[];
  if (query.kind === 'address') {
    cases = store.casesOfCustomerAddress(query.address);
  } else {
    cases = [];
    const withNumber = store.caseRowsWithPersonnummer();
    for (const c of withNumber) {
      let clear: string | null;
      try {
        clear = decryptPersonnummer(config, c, env);
      } catch (err) {
        if (err instanceof PersonnummerKeyError)
          throw new SubjectExportError(
            `${err.message}. Without the key the stored personnummer cannot be compared: set it, or search by the person's e-mail address`,
          );
        warnings.push(`${c.number}: its stored personnummer could not be decrypted (${(err as Error).message}); check that case by hand`);
        continue;
      }
      if (clear !== null && normalisedPersonnummer(clear, now) === query.normalised) cases.push(c);
    }
    // With personnummer storage off only the mask is kept: a birth date, not a person.
    const maskedOnly = store.countCasesWithOnlyMaskedPersonnummer(query.masked);
    if (maskedOnly > 0)
      warnings.push(
        `${maskedOnly} other case(s) hold only the masked number ${query.masked} (the same birth date, maybe another person); they are not included: search by address, or check them by hand`,
      );
  }
  const caseIds = new Set(cases.map((c) => c.id));

  // 2. Mails from the address on no case (only for an address: see the header).
  const looseMails: InboundFacts[] = [];
  if (query.kind === 'address') {
    const filed = store.mailsOnNoCaseFromAddress(query.address);
    looseMails.push(...filed);
    const quarantined = store.quarantinedMailsNotParsed();
    for (const q of quarantined) {
      const raw = rawBytes(store, config.dataDir, q.sha256);
      if (raw && senderAddressesOfRaw(raw).includes(query.address)) looseMails.push(q);
    }
    const elsewhere = store.countMailsFromAddressOnOthersCases(query.address);
    if (elsewhere > 0)
      warnings.push(
        `${elsewhere} mail(s) from this address are on other customers' cases; they are not included (they hold another person's data): review them by hand`,
      );
  }

  // 3. Write. Nothing is written before the folder is known to be new or empty, and all of it
  // goes into a temporary folder that becomes DIR only when complete: a failure half-way (a
  // full disk, a name the file system refuses) leaves DIR as it was, never a half export.
  checkDir(outDir);
  const tmp = temporaryDirBeside(outDir);
  let result: SubjectExportResult;
  try {
    result = writeExport(new Writer(tmp), { store, config, env, query, outDir, cases, caseIds, looseMails, warnings, at, by });
    publishDir(tmp, outDir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true }); // gone after the rename; after a failure, the partial export
  }

  if (cases.length > 0)
    store.tx(() => {
      for (const c of cases)
        store.appendEvent({
          at,
          caseId: c.id,
          actor: 'operator',
          type: 'subject-access-exported',
          detail: { query: query.kind, user: by },
        });
      // And in the access log, with the mails on no case (`klagomal audit access`).
      for (const c of cases) store.recordAccess({ at, actor: by, action: 'subject-export', caseId: c.id, detail: { query: query.kind } });
    });
  if (looseMails.length > 0)
    store.tx(() => store.recordAccess({ at, actor: by, action: 'subject-export', detail: { query: query.kind, mailsOnNoCase: looseMails.length } }));
  return result;
}

interface ExportInput {
  readonly store: Store;
  readonly config: Config;
  readonly env: NodeJS.ProcessEnv;
  readonly query: SubjectQuery;
  readonly outDir: string;
  readonly cases: readonly CaseRow[];
  readonly caseIds: ReadonlySet<number>;
  readonly looseMails: readonly InboundFacts[];
  readonly warnings: string[];
  readonly at: string;
  readonly by: string;
}

/** Step 3 of exportSubject: every file of the export, through `w`; the result to report. */
function writeExport(w: Writer, x: ExportInput): SubjectExportResult {
  const { store, config, env, query, outDir, cases, caseIds, looseMails, warnings, at, by } = x;
  let mails = 0;
  let attachments = 0;
  let sent = 0;
  let events = 0;

  const writeMail = (folder: string, n: number, inbound: InboundFacts): Record<string, unknown> => {
    const kind = safeFileName(inbound.kind ?? inbound.state, 'mail', 20);
    const base = `${folder}/${pad(n)}-${kind}`;
    const out: Record<string, unknown> = {
      inbound: inbound.id,
      kind: inbound.kind,
      state: inbound.state,
      receivedAt: inbound.received_at,
      sha256: inbound.sha256,
      size: inbound.size,
    };
    const raw = rawBytes(store, config.dataDir, inbound.sha256);
    if (raw) {
      w.file(`${base}.eml`, raw);
      out.raw = `${base}.eml`;
    } else {
      out.raw = null;
      out.rawRemoved = inbound.raw_removed_at ?? 'missing';
      warnings.push(
        `mail ${inbound.id}: the raw mail is no longer kept${inbound.raw_removed_at ? ` (removed by retention ${inbound.raw_removed_at})` : ''}; its filed text is included`,
      );
    }
    const m = store.messageOfInbound(inbound.id);
    if (m) {
      w.file(`${base}.txt`, messageText(m));
      out.text = `${base}.txt`;
      out.from = m.from_address;
      out.subject = m.subject;
      const files: Array<Record<string, unknown>> = [];
      store.attachmentsOfMessage(m.id).forEach((a, i) => {
        const name = `${pad(i + 1)}-${safeFileName(a.filename, `attachment-${i + 1}`)}`;
        const rel = `${folder}/${pad(n)}-attachments/${name}`;
        const abs = path.join(config.dataDir, a.path);
        if (fs.existsSync(abs)) {
          w.file(rel, fs.readFileSync(abs));
          attachments++;
          files.push({ file: rel, filename: a.filename, contentType: a.content_type, size: a.size, sha256: a.sha256 });
        } else {
          files.push({ file: null, filename: a.filename, contentType: a.content_type, size: a.size, sha256: a.sha256, missing: true });
          warnings.push(`mail ${inbound.id}: attachment ${i + 1} is missing from the data folder`);
        }
      });
      out.attachments = files;
    }
    mails++;
    return out;
  };

  const exported: Array<{ number: string; status: string; receivedAt: string; folder: string }> = [];
  for (const c of cases) {
    const folder = `cases/${safeFileName(c.number, `case-${c.id}`)}`;
    w.dir(folder);
    const mailList = store.mailsOfCase(c.id).map((id, i) => writeMail(`${folder}/mails`, i + 1, store.inboundFacts(id) as InboundFacts));
    const toPerson = new Set([c.customer_address?.toLowerCase(), query.kind === 'address' ? query.address : undefined].filter(Boolean));
    const sentList: Array<Record<string, unknown>> = [];
    store
      .outboxOfCase(c.id)
      .filter((o) => toPerson.has(o.to_address.toLowerCase()))
      .forEach((o, i) => {
        const base = `${folder}/sent/${pad(i + 1)}-${safeFileName(o.kind, 'mail', 30)}`;
        w.file(`${base}.txt`, outboxText(o));
        if (o.body_html) w.file(`${base}.html`, o.body_html);
        sentList.push({
          file: `${base}.txt`,
          html: o.body_html ? `${base}.html` : null,
          kind: o.kind,
          to: o.to_address,
          subject: o.subject,
          status: o.status,
          sentAt: o.sent_at,
        });
        sent++;
      });
    let personnummer: unknown = null;
    if (c.personnummer) {
      try {
        personnummer = decryptPersonnummer(config, c, env);
      } catch (err) {
        personnummer = { stored: true, readable: false, why: (err as Error).message };
        warnings.push(`${c.number}: a personnummer is stored but could not be read (${(err as Error).message})`);
      }
    }
    const hold = store.legalHoldOfCase(c.id);
    const refersTo = c.refers_to_case_id !== null && caseIds.has(c.refers_to_case_id) ? (store.caseById(c.refers_to_case_id)?.number ?? null) : null;
    const caseEvents = store.eventsOfCase(c.id).map((e) => ({
      id: e.id,
      at: e.at,
      type: e.type,
      actor: e.actor,
      fromState: e.from_state,
      toState: e.to_state,
      inbound: e.inbound_id,
      outbox: e.outbox_id,
      detail: parseJson(e.detail),
    }));
    events += caseEvents.length;
    w.json(`${folder}/case.json`, {
      case: {
        number: c.number,
        status: c.status,
        customer: { name: c.customer_name, address: c.customer_address },
        personnummer,
        subject: c.subject,
        language: c.language,
        receivedAt: c.received_at,
        filedAt: c.filed_at,
        updatedAt: c.updated_at,
        category: c.category,
        fields: parseJson(c.fields),
        contactOfficer: c.contact_officer,
        outcome: c.outcome,
        decidedBy: c.decided_by,
        compensationSek: c.compensation_sek,
        assessment: parseJson(c.assessment),
        // Another person's case is named only when it is this person's too.
        refersTo,
        legalHold: hold?.hold_reason ? { reason: hold.hold_reason, heldAt: hold.held_at, heldBy: hold.held_by } : null,
      },
      deadlines: store.deadlinesOfCase(c.id).map((d) => ({ ...d, rule: parseJson(d.rule) })),
      mails: mailList,
      sent: sentList,
      events: caseEvents,
    });
    exported.push({ number: c.number, status: c.status, receivedAt: c.received_at, folder });
  }

  const loose = looseMails.map((m, i) => writeMail('mails', i + 1, m));
  const queryValue = query.kind === 'address' ? query.address : query.masked;
  const result: SubjectExportResult = {
    dir: outDir,
    query: { kind: query.kind, value: queryValue },
    cases: exported.map((c) => c.number),
    mailsNotOnCase: loose.length,
    mails,
    attachments,
    sent,
    events,
    warnings,
  };
  w.json('index.json', {
    export: 'klagomal data subject access export (GDPR art. 15)',
    createdAt: at,
    createdBy: by,
    query: result.query,
    cases: exported,
    mailsNotOnCase: loose,
    counts: { cases: exported.length, mails, attachments, sent, events, files: w.files + 1 },
    warnings,
    notes: [
      'Mails from officers and the internal notes in the events are the firm’s: review them before handing the export over (GDPR art. 15(4)).',
      'A raw mail (.eml) is the mail exactly as received; the .txt beside it is what was filed from it, with personnummer masked.',
    ],
  });

  return result;
}

function operatorName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'operator';
  }
}
