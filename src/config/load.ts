/**
 * Config: load -> validate (every problem at once) -> frozen `Config`.
 *
 * A config file is JSON. Relative paths resolve against the folder of the config file, so a
 * config can be moved together with its data. Secrets are never in the file: a key such as
 * `passwordEnv` names the environment variable that holds one (missing-secrets.ts).
 *
 * Every problem names the file, the key and what is allowed, e.g.
 *   config/prod.json: sources[0].port: expected a whole number from 1 to 65535, got "abc"
 * Unknown keys are problems too (a typo must not silently fall back to a default).
 *
 * parseConfig reads the sections in a fixed order (reader.ts collects the problems; the
 * sections are read by sections.ts, sources-transport.ts and deadlines.ts) and checks what
 * spans sections; the order is that of the problems reported and of the known keys listed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config, Language } from './config';
import { LANGUAGES } from './config';
import type { ConfigProblem, Json } from './reader';
import { Section } from './reader';
import { readSources, readTransport } from './sources-transport';
import { readDeadlines } from './deadlines';
import {
  readAcknowledgement,
  readApproval,
  readBackup,
  readCases,
  readComplaintRules,
  readFirm,
  readHttp,
  readDocuments,
  readImport,
  readLoop,
  readOfficers,
  readOutbox,
  readPersonnummer,
  readProcessing,
  readReconcile,
  readRetention,
  readShutdown,
  readStatus,
  readThreading,
} from './sections';
import { packageRoot } from '../util/package-root';
import { jsonErrorAt } from './json-error';
import { readReports } from './reports';

/** Where `klagomal` looks when neither --config nor KLAGOMAL_CONFIG is given: the embedded default. */
export function defaultConfigFile(): string {
  return path.join(packageRoot(), 'config', 'default.json');
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      problems.length === 1
        ? `${file}: ${problems[0].key ? problems[0].key + ': ' : ''}${problems[0].message}`
        : `${file}: ${problems.length} problems:\n` + problems.map((p) => `  - ${p.key ? p.key + ': ' : ''}${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Validate a parsed JSON value as it would be read from `file`. Throws ConfigError with every problem. */
export function parseConfig(json: Json, file: string): Config {
  const problems: ConfigProblem[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(file, [{ key: '', message: 'the file must hold one JSON object' }]);
  }
  const base = path.dirname(file);
  const resolvePath = (p: string): string => path.resolve(base, p);
  const root = new Section(json as Record<string, Json>, '', problems);

  const firm = readFirm(root.section('firm', true));
  const cases = readCases(root.section('cases'));

  const language = root.oneOf<Language>('language', LANGUAGES, 'sv');
  const dataDir = resolvePath(root.string('dataDir', { default: '../data' }));
  const database = root.has('database') ? resolvePath(root.string('database')) : path.join(dataDir, 'klagomal.db');
  const templates = resolvePath(root.string('templates', { default: '../templates' }));

  const sources = readSources(root, resolvePath);
  const transport = readTransport(root.section('transport'), resolvePath, dataDir, firm.complaintsAddress);
  const acknowledgement = readAcknowledgement(root.section('acknowledgement'));
  const complaints = readComplaintRules(root.section('complaints'));
  const threading = readThreading(root.section('threading'));
  const loop = readLoop(root.section('loop'));

  const officers = readOfficers(root);
  // The admin defaults to the first manager (the klagomålsansvarig), so that template problems reach a person.
  const adminAddress = firm.adminAddress ?? officers.find((o) => o.role === 'manager')?.address ?? null;
  // An officer's categories must be ones the firm's rules can give a complaint.
  const categoryIds = new Set([...complaints.categories.map((c) => c.id), 'other']);
  officers.forEach((o, i) =>
    o.categories.forEach((c, j) => {
      if (!categoryIds.has(c)) root.problem(`officers[${i}].categories[${j}]`, `unknown category "${c}"; allowed: ${[...categoryIds].join(', ')}`);
    }),
  );
  const approval = readApproval(root.section('approval'), officers);
  const deadlines = readDeadlines(root.section('deadlines'));
  if (deadlines.escalation.enabled && !officers.some((o) => o.role === 'manager')) {
    root.problem(
      'officers',
      'escalation needs at least one officer with "role": "manager" (the klagomålsansvarig), or set deadlines.escalation.enabled to false',
    );
  }

  const outbox = readOutbox(root.section('outbox'));
  const processing = readProcessing(root.section('processing'));
  const documents = readDocuments(root.section('documents'));
  const importConfig = readImport(root.section('import'));
  const reconcile = readReconcile(root.section('reconcile'));
  const retention = readRetention(root.section('retention'));
  const backup = readBackup(root.section('backup'), resolvePath, dataDir);
  const reports = readReports(root.section('reports'), officers);
  const status = readStatus(root.section('status'));
  const http = readHttp(root.section('http'));
  const personnummer = readPersonnummer(root.section('personnummer'));
  const shutdown = readShutdown(root.section('shutdown'));

  root.raw('$comment'); // a free-text note for admins, ignored
  root.done();

  if (problems.length > 0) throw new ConfigError(file, problems);
  return deepFreeze({
    file,
    firm: { ...firm, adminAddress },
    cases,
    language,
    dataDir,
    database,
    templates,
    sources,
    transport,
    acknowledgement,
    complaints,
    threading,
    loop,
    officers,
    approval,
    deadlines,
    outbox,
    processing,
    documents,
    import: importConfig,
    reconcile,
    retention,
    reports,
    backup,
    status,
    http,
    personnummer,
    shutdown,
  });
}

export function loadConfig(file: string): Config {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(abs, [
      code === 'ENOENT'
        ? {
            key: '',
            message: 'no such file (give --config FILE or set KLAGOMAL_CONFIG)',
            fix: `give the config file with --config FILE or KLAGOMAL_CONFIG=FILE (${abs} does not exist)`,
          }
        : { key: '', message: `cannot read: ${String(err)}`, fix: `make ${abs} readable for the user running klagomal` },
    ]);
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // Node's message names no line or column; the scanner finds them (src/config/json-error.ts).
    const at = jsonErrorAt(text);
    throw new ConfigError(abs, [
      at
        ? { key: '', message: `not valid JSON: line ${at.line}, column ${at.column}: ${at.message}`, fix: `correct the JSON at ${abs}:${at.line}:${at.column}` }
        : { key: '', message: `not valid JSON: ${(err as Error).message}`, fix: `correct the JSON in ${abs}` },
    ]);
  }
  return parseConfig(json, abs);
}

/** The config file chosen by --config, then KLAGOMAL_CONFIG, then the embedded default. */
export function configFileFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.KLAGOMAL_CONFIG ?? defaultConfigFile());
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
