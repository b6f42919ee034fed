/**
 * The top-level sections other than sources, transport and deadlines: the firm, case numbers,
 * the acknowledgement, how a complaint is read, threading, the loop guards, the officers, the
 * outbox, processing, import, reconcile, retention, status, the HTTP endpoint, the personnummer
 * and shutdown. Each reader validates one section and returns it with its defaults (the README
 * documents every key; the defaults here are the ones it states).
 */
import type { ApprovalScope, Config, Language, MailPlatform, Officer, OfficerRole } from './config';
import { APPROVAL_SCOPES, LANGUAGES, MAIL_PLATFORMS, OFFICER_ROLES } from './config';
import type { CategoryRule, ComplaintItem, ComplaintRules, ReferenceRule } from './complaint-rules';
import { compileCategory, COMPLAINT_ITEMS, DEFAULT_CATEGORIES, DEFAULT_PRODUCTS, DEFAULT_REFERENCES, DEFAULT_ROOT_CAUSES } from './complaint-rules';
import { normaliseAddress } from '../util/header-safe';
import { parseIsoDate } from '../util/stockholm-time';
import cron from 'node-cron';
import path from 'node:path';
import { ADDRESS, describe, ENV_NAME, Section } from './reader';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/**
 * Webmail providers and Swedish and Nordic ISPs: thousands of unrelated customers share each of
 * these domains, so a per-domain cap would silence real complaints (loop.publicMailDomains).
 */
export const PUBLIC_MAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'googlemail.com',
  'hotmail.com',
  'hotmail.se',
  'outlook.com',
  'outlook.se',
  'live.com',
  'live.se',
  'msn.com',
  'yahoo.com',
  'yahoo.se',
  'ymail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'protonmail.com',
  'proton.me',
  'pm.me',
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'web.de',
  'mail.com',
  'zoho.com',
  'yandex.com',
  'telia.com',
  'telia.se',
  'bredband.net',
  'bredband2.com',
  'comhem.se',
  'tele2.se',
  'spray.se',
  'passagen.se',
  'bahnhof.se',
  'glocalnet.net',
  'swipnet.se',
  'home.se',
  'ownit.se',
  'tiscali.se',
  'hotmail.no',
  'online.no',
  'hotmail.dk',
  'live.dk',
  'jubii.dk',
  'hotmail.fi',
  'luukku.com',
];

/** A list of domain names, lower-cased ("gmail.com", not "@gmail.com" or an address). */
function readDomainList(s: Section, k: string, dflt: readonly string[]): readonly string[] {
  const list = s.stringList(k, [...dflt]);
  list.forEach((d, i) => {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(d.trim())) s.problem(`${k}[${i}]`, `expected a domain name like "gmail.com", got ${describe(d)}`);
  });
  return list.map((d) => d.trim().toLowerCase());
}

/** `firm`: who the firm is and which addresses and domains are its own. */
export function readFirm(firmS: Section): Config['firm'] {
  const firmName = firmS.string('name', { hint: "the firm's name" });
  const complaintsAddress = firmS.string('complaintsAddress', ADDRESS).trim();
  const domain = complaintsAddress.includes('@') ? complaintsAddress.slice(complaintsAddress.lastIndexOf('@') + 1).toLowerCase() : 'invalid';
  const staffAddresses = firmS.stringList('staffAddresses', []).map((a) => a.trim().toLowerCase());
  staffAddresses.forEach((a, i) => {
    if (!normaliseAddress(a)) firmS.problem(`staffAddresses[${i}]`, `expected an e-mail address, got ${describe(a)}`);
  });
  const staffDomains = firmS.stringList('staffDomains', []).map((d) => d.trim().toLowerCase().replace(/^@/, ''));
  const firm = {
    name: firmName,
    complaintsAddress,
    fromName: firmS.string('fromName', { default: `${firmName} Klagomål` }),
    messageIdDomain: firmS.string('messageIdDomain', { default: domain, pattern: /^[A-Za-z0-9.-]+$/, hint: 'a domain name' }),
    staffAddresses,
    staffDomains,
    formAddresses: firmS.stringList('formAddresses', []).map((a) => a.trim().toLowerCase()),
    adminAddress: firmS.has('adminAddress') ? firmS.string('adminAddress', ADDRESS).trim().toLowerCase() : null,
    caseLinkBase: firmS.string('caseLinkBase', { default: '' }),
    authservIds: firmS.stringList('authservIds', []).map((a) => a.trim().toLowerCase()),
    trustStaffFrom: firmS.bool('trustStaffFrom', false),
    mailPlatform: firmS.oneOf<MailPlatform>('mailPlatform', MAIL_PLATFORMS, 'own'),
    tenantId: firmS.has('tenantId')
      ? firmS.string('tenantId', { pattern: GUID, hint: 'the Microsoft 365 tenant id, a GUID like "72f988bf-86f1-41af-91ab-2d7cd011db47"' }).toLowerCase()
      : null,
  };
  if (firm.mailPlatform === 'microsoft365' && firm.tenantId === null)
    firmS.problem(
      'tenantId',
      'required with mailPlatform "microsoft365": the tenant id (Entra admin center > Overview > Tenant ID), so that only your tenant\'s internal-mail stamps are trusted',
    );
  if (firm.mailPlatform !== 'microsoft365' && firm.tenantId !== null) firmS.problem('tenantId', 'only used with mailPlatform "microsoft365"');
  firmS.done();
  return firm;
}

export function readCases(casesS: Section): Config['cases'] {
  const cases = {
    prefix: casesS.string('prefix', {
      default: 'KLG',
      pattern: /^[A-Z][A-Z0-9]{0,9}$/,
      hint: '1-10 capital letters or digits, starting with a letter, e.g. "KLG"',
    }),
    relatedWindowDays: casesS.int('relatedWindowDays', { default: 90, min: 0, max: 3650 }),
  };
  casesS.done();
  return cases;
}

export function readAcknowledgement(ackS: Section): Config['acknowledgement'] {
  const acknowledgement = {
    enabled: ackS.bool('enabled', true),
    maxPerAddressPer24h: ackS.int('maxPerAddressPer24h', { default: 3, min: 1, max: 1000 }),
    nameContactPerson: ackS.bool('nameContactPerson', true),
  };
  ackS.done();
  return acknowledgement;
}

export function readThreading(thrS: Section): Config['threading'] {
  const threading = { subjectWindowDays: thrS.int('subjectWindowDays', { default: 30, min: 0, max: 365 }) };
  thrS.done();
  return threading;
}

export function readLoop(loopS: Section): Config['loop'] {
  const loop = {
    maxPerCasePer24h: loopS.int('maxPerCasePer24h', { default: 3, min: 1, max: 100 }),
    bouncingAddressDays: loopS.int('bouncingAddressDays', { default: 30, min: 0, max: 3650 }),
    maxPerDomainPer24h: loopS.int('maxPerDomainPer24h', { default: 10, min: 1, max: 100_000 }),
    publicMailDomains: readDomainList(loopS, 'publicMailDomains', PUBLIC_MAIL_DOMAINS),
    maxAutomaticPerHour: loopS.int('maxAutomaticPerHour', { default: 10_000, min: 1, max: 1_000_000 }),
  };
  loopS.done();
  return loop;
}

export function readOutbox(outS: Section): Config['outbox'] {
  const outbox = {
    giveUpAfterHours: outS.int('giveUpAfterHours', { default: 120, min: 1, max: 30 * 24 }),
    retryBaseSeconds: outS.int('retryBaseSeconds', { default: 30, min: 1, max: 86400 }),
    retryMaxSeconds: outS.int('retryMaxSeconds', { default: 3600, min: 1, max: 7 * 86400 }),
    sendTimeoutSeconds: outS.int('sendTimeoutSeconds', { default: 120, min: 1, max: 3600 }),
  };
  outS.done();
  return outbox;
}

export function readProcessing(procS: Section): Config['processing'] {
  const processing = {
    batchSize: procS.int('batchSize', { default: 50, min: 1, max: 1000 }),
    isolatedHeapMb: procS.int('isolatedHeapMb', { default: 512, min: 32, max: 65536 }),
    isolatedSeconds: procS.int('isolatedSeconds', { default: 60, min: 1, max: 3600 }),
  };
  procS.done();
  return processing;
}

export function readDocuments(s: Section): Config['documents'] {
  const documents = {
    enabled: s.bool('enabled', true),
    readerSeconds: s.int('readerSeconds', { default: 20, min: 1, max: 600 }),
    readerMemoryMb: s.int('readerMemoryMb', { default: 512, min: 64, max: 16384 }),
    maxPages: s.int('maxPages', { default: 100, min: 1, max: 10000 }),
    maxDocuments: s.int('maxDocuments', { default: 10, min: 0, max: 100 }),
    ocrWaitSeconds: s.int('ocrWaitSeconds', { default: 3, min: 0, max: 60 }),
    ocrSeconds: s.int('ocrSeconds', { default: 180, min: 1, max: 3600 }),
    ocrMaxPages: s.int('ocrMaxPages', { default: 20, min: 1, max: 1000 }),
    tesseract: s.string('tesseract', { default: 'tesseract', hint: 'a command name or absolute path' }),
    pdftoppm: s.string('pdftoppm', { default: 'pdftoppm', hint: 'a command name or absolute path' }),
  };
  s.done();
  return documents;
}

export function readImport(importS: Section): Config['import'] {
  const acknowledgeAfter = importS.optionalString('acknowledgeAfter');
  if (acknowledgeAfter !== null && !parseIsoDate(acknowledgeAfter))
    importS.problem('acknowledgeAfter', `expected a date "YYYY-MM-DD", got ${describe(acknowledgeAfter)}`);
  importS.done();
  return { acknowledgeAfter };
}

export function readReconcile(reconcileS: Section): Config['reconcile'] {
  const reconcileSchedule = reconcileS.has('schedule') ? reconcileS.optionalString('schedule') : '17 * * * *';
  if (reconcileSchedule !== null && !cron.validate(reconcileSchedule))
    reconcileS.problem('schedule', `not a valid cron expression: ${describe(reconcileSchedule)} (e.g. "17 * * * *", hourly; null = only on demand)`);
  reconcileS.done();
  return { schedule: reconcileSchedule };
}

export function readRetention(retentionS: Section): Config['retention'] {
  const rawMailDaysGiven = retentionS.raw('rawMailDays');
  const retention = {
    closedCaseYears: retentionS.int('closedCaseYears', { default: 10, min: 1, max: 100 }),
    rawMailDays: rawMailDaysGiven === undefined || rawMailDaysGiven === null ? null : retentionS.int('rawMailDays', { min: 1, max: 36500 }),
    schedule: retentionS.has('schedule') ? retentionS.optionalString('schedule') : '40 3 * * *',
  };
  if (retention.rawMailDays !== null && retention.rawMailDays >= retention.closedCaseYears * 365)
    retentionS.problem(
      'rawMailDays',
      `${retention.rawMailDays} days is not shorter than closedCaseYears (${retention.closedCaseYears} years): raw mails go with their case anyway; give fewer days, or null`,
    );
  if (retention.schedule !== null && !cron.validate(retention.schedule))
    retentionS.problem('schedule', `not a valid cron expression: ${describe(retention.schedule)} (e.g. "40 3 * * *", daily at 03:40; null = only on demand)`);
  retentionS.done();
  return retention;
}

/**
 * `backup`: the scheduled backup of `start` (src/backup/). A backup kept in the data folder dies
 * with it (the disk, a bad `rm -r`), so `dir` may not be inside `dataDir`.
 */
export function readBackup(backupS: Section, resolvePath: (p: string) => string, dataDir: string): Config['backup'] {
  const given = backupS.optionalString('dir');
  const dir = given === null ? null : resolvePath(given);
  const schedule = backupS.optionalString('schedule');
  const maxAgeGiven = backupS.raw('maxAgeHours');
  const backup = {
    dir,
    schedule,
    keep: backupS.int('keep', { default: 14, min: 1, max: 10_000 }),
    maxAgeHours: maxAgeGiven === undefined || maxAgeGiven === null ? null : backupS.int('maxAgeHours', { min: 1, max: 24 * 366 }),
  };
  if (schedule !== null && !cron.validate(schedule))
    backupS.problem(
      'schedule',
      `not a valid cron expression: ${describe(schedule)} (e.g. "15 2 * * *", daily at 02:15 Stockholm time; null = no scheduled backup)`,
    );
  if (schedule !== null && dir === null) backupS.problem('dir', 'required with backup.schedule: the folder the backups go to (on another disk than dataDir)');
  if (dir !== null && (dir === dataDir || dir.startsWith(dataDir.endsWith(path.sep) ? dataDir : dataDir + path.sep)))
    backupS.problem('dir', `${describe(given)} is inside dataDir (${dataDir}): a backup there is lost with the data folder; use another disk`);
  backupS.done();
  return backup;
}

export function readStatus(statusS: Section): Config['status'] {
  const status = { sourceDownMinutes: statusS.int('sourceDownMinutes', { default: 15, min: 1, max: 7 * 24 * 60 }) };
  statusS.done();
  return status;
}

export function readHttp(httpS: Section): Config['http'] {
  const http = { enabled: httpS.bool('enabled', false), port: httpS.int('port', { default: 9464, min: 1, max: 65535 }) };
  httpS.done();
  return http;
}

export function readPersonnummer(pnrS: Section): Config['personnummer'] {
  const personnummer = {
    store: pnrS.bool('store', true),
    keyEnv: pnrS.string('keyEnv', {
      default: 'KLAGOMAL_PERSONNUMMER_KEY',
      pattern: ENV_NAME.pattern,
      hint: 'an environment variable name like KLAGOMAL_PERSONNUMMER_KEY',
    }),
  };
  pnrS.done();
  return personnummer;
}

/**
 * TimeoutStopSec of deploy/klagomal.service (a unit test keeps the two equal). systemd sends
 * SIGKILL when it runs out, so a grace longer than it is never reached: the service would be
 * killed mid-stop instead of logging what it abandoned and exiting 1.
 */
export const UNIT_TIMEOUT_STOP_SEC = 30;

export function readShutdown(shutdownS: Section): Config['shutdown'] {
  const shutdown = { graceSeconds: shutdownS.int('graceSeconds', { default: 20, min: 1, max: 600 }) };
  if (shutdown.graceSeconds > UNIT_TIMEOUT_STOP_SEC)
    shutdownS.problem(
      'graceSeconds',
      `${shutdown.graceSeconds} is above the systemd unit's TimeoutStopSec (${UNIT_TIMEOUT_STOP_SEC} s, deploy/klagomal.service): systemd would kill the service before its grace ends; set at most ${UNIT_TIMEOUT_STOP_SEC - 5} (or raise TimeoutStopSec in the unit and in a drop-in)`,
    );
  shutdownS.done();
  return shutdown;
}

/** Category rules and reference patterns: lists that replace the defaults when given. */
export function readComplaintRules(s: Section): ComplaintRules {
  const categories: CategoryRule[] = s.has('categories')
    ? s.list('categories').map((c, i) => {
        const rule = { id: c.string('id', { pattern: /^[a-z][a-z0-9-]{0,40}$/, hint: 'a lower-case id like "fees"' }), words: c.stringList('keywords', []) };
        if (rule.words.length === 0) c.problem('keywords', 'expected a list of word stems, e.g. ["avgift", "fee"]');
        try {
          compileCategory(rule);
        } catch (err) {
          s.problem(`categories[${i}].keywords`, `not a valid pattern: ${(err as Error).message}`);
        }
        c.done();
        return rule;
      })
    : [...DEFAULT_CATEGORIES];
  const references: ReferenceRule[] = s.has('references')
    ? s.list('references').map((r, i) => {
        const rule = { type: r.string('type', { pattern: /^[a-z][a-z0-9-]{0,40}$/, hint: 'a lower-case type like "invoice"' }), pattern: r.string('pattern') };
        try {
          if (new RegExp(`${rule.pattern}|`).exec('')!.length < 2) r.problem('pattern', 'needs one capture group (…) around the number');
        } catch (err) {
          s.problem(`references[${i}].pattern`, `not a valid regular expression: ${(err as Error).message}`);
        }
        r.done();
        return rule;
      })
    : [...DEFAULT_REFERENCES];
  const requiredItems = s.stringList('requiredItems', [...COMPLAINT_ITEMS]);
  requiredItems.forEach((item, i) => {
    if (!COMPLAINT_ITEMS.includes(item as ComplaintItem)) s.problem(`requiredItems[${i}]`, `unknown item "${item}"; allowed: ${COMPLAINT_ITEMS.join(', ')}`);
  });
  const codes = (key: string, dflt: readonly string[]): string[] => {
    const list = s.stringList(key, [...dflt]);
    list.forEach((v, i) => {
      if (!/^[a-z][a-z0-9-]{0,40}$/.test(v)) s.problem(`${key}[${i}]`, `expected a lower-case id like "card", got ${JSON.stringify(v).slice(0, 60)}`);
    });
    if (list.length === 0) s.problem(key, 'at least one');
    return list;
  };
  const products = codes('products', DEFAULT_PRODUCTS);
  const rootCauses = codes('rootCauses', DEFAULT_ROOT_CAUSES);
  s.done();
  return {
    categories,
    references,
    requiredItems: requiredItems.filter((i): i is ComplaintItem => COMPLAINT_ITEMS.includes(i as ComplaintItem)),
    products,
    rootCauses,
  };
}

export function readOfficers(root: Section): Officer[] {
  if (!root.has('officers')) return [];
  const seen = new Set<string>();
  return root.list('officers').map((s, i) => {
    const address = s.string('address', ADDRESS).trim().toLowerCase();
    if (seen.has(address)) root.problem(`officers[${i}].address`, `${address} is listed twice`);
    seen.add(address);
    const languages = s.stringList('languages', [...LANGUAGES]);
    languages.forEach((l, j) => {
      if (!LANGUAGES.includes(l as Language)) s.problem(`languages[${j}]`, `unknown language "${l}"; allowed: ${LANGUAGES.join(', ')}`);
    });
    if (languages.length === 0) s.problem('languages', 'at least one language');
    const o = {
      name: s.string('name', { hint: "the officer's name" }),
      address,
      role: s.oneOf<OfficerRole>('role', OFFICER_ROLES, 'officer'),
      languages: languages.filter((l): l is Language => LANGUAGES.includes(l as Language)),
      categories: s.stringList('categories', []).map((c) => c.trim()),
      available: s.bool('available', true),
    };
    s.done();
    return o;
  });
}

/**
 * Four eyes on final answers. The default scope is "rejections" when there is a manager to
 * approve (the approvers default to the managers), else "none": a firm without a manager has
 * nobody to approve, and an explicit scope without approvers is refused.
 */
export function readApproval(s: Section, officers: readonly Officer[]): Config['approval'] {
  const managers = officers.filter((o) => o.role === 'manager').map((o) => o.address);
  const approvers = s.has('approvers') ? s.stringList('approvers', []).map((a) => a.trim().toLowerCase()) : managers;
  const scopeGiven = s.has('finalAnswer');
  const finalAnswer = s.oneOf<ApprovalScope>('finalAnswer', APPROVAL_SCOPES, approvers.length > 0 ? 'rejections' : 'none');
  approvers.forEach((a, i) => {
    if (!officers.some((o) => o.address === a))
      s.problem(
        `approvers[${i}]`,
        `${a} is not a configured officer (officers[].address); allowed: ${officers.map((o) => o.address).join(', ') || 'none configured'}`,
      );
  });
  if (finalAnswer !== 'none' && approvers.length === 0 && (scopeGiven || s.has('approvers')))
    s.problem(
      'approvers',
      `approval.finalAnswer "${finalAnswer}" needs at least one approver: list officers' addresses here, give an officer "role": "manager", or set finalAnswer to "none"`,
    );
  s.done();
  return { finalAnswer: approvers.length === 0 ? 'none' : finalAnswer, approvers };
}
