/**
 * `klagomal templates`: check the template files, list the versions in use (the files, or
 * the last good set a running service keeps), preview a mail with sample data or a real
 * case, and show the stored text a sent mail was made from.
 */
import fs from 'node:fs';
import type { Config, Language } from '../config/config';
import { LANGUAGES } from '../config/config';
import { formatProblem, TEMPLATE_KINDS, TemplateSet } from '../reply/templates';
import { buildMail } from '../reply/mail';
import { caseFacts, previewData } from '../reply/template-preview';
import type { TemplateKind } from '../cases/lifecycle';
import { UsageError } from './args';
import { Command, configOf, findCase, Io, json, NotFound, withStore } from './shared';
import { table } from './table';

export const templatesCommand: Command = {
  summary: 'the mail templates: check them, list the versions in use, preview a mail, show a stored version',
  usage: [
    'klagomal templates check [--config FILE]',
    'klagomal templates list [--json] [--config FILE]',
    `klagomal templates preview KIND [--lang ${LANGUAGES.join('|')}] [--case ID] [--html] [--config FILE]`,
    'klagomal templates show VERSION [--config FILE]      the template text a sent mail was made from',
  ].join('\n       '),
  options: { lang: { type: 'string' }, case: { type: 'string' }, html: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, arg] = positionals;
    if (verb === 'check' && positionals.length === 1) return templatesCheck(configOf(values), io);
    if (verb === 'list' && positionals.length === 1) return templatesList(configOf(values), values, io);
    if (verb === 'preview' && positionals.length === 2) return templatesPreview(configOf(values), arg, values, io);
    if (verb === 'show' && positionals.length === 2) return templatesShow(configOf(values), arg, io);
    throw new UsageError('usage: klagomal templates check | list | preview KIND [--lang L] [--case ID] [--html] | show VERSION');
  },
};

function templatesCheck(config: Config, io: Io): number {
  const { set, problems } = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase });
  if (!set) {
    for (const p of problems) io.err(formatProblem(p));
    io.err(`${problems.length} template problem(s) in ${config.templates}`);
    return 1;
  }
  const kinds = set.kinds();
  io.out(`${config.templates}: OK, ${kinds.length} templates (${TEMPLATE_KINDS.length} kinds in ${LANGUAGES.join(', ')}), set version ${set.setVersion}`);
  return 0;
}

function templatesList(config: Config, values: Record<string, string | boolean | undefined>, io: Io): number {
  const { set, problems } = TemplateSet.build(config.templates, { caseLinkBase: config.firm.caseLinkBase });
  // What a running service uses: the files when they pass the check, else the last good set it kept.
  let inUse = set;
  let lastGood: string | null = null;
  if (fs.existsSync(config.database)) {
    withStore(config, (store) => {
      const good = store.lastGoodTemplateSet();
      lastGood = good?.setVersion ?? null;
      if (!inUse && good) inUse = TemplateSet.fromFiles(good.files, config.templates, { caseLinkBase: config.firm.caseLinkBase }).set;
    });
  }
  const rows = (inUse?.kinds() ?? [])
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.language.localeCompare(b.language))
    .map((k) => ({ kind: k.kind, language: k.language, version: k.version }));
  if (values.json) {
    io.out(json({ setVersion: inUse?.setVersion ?? null, filesPass: set !== null, lastGood, templates: rows, problems }));
    return set ? 0 : 1;
  }
  if (!inUse) {
    for (const p of problems) io.err(formatProblem(p));
    io.err('the template files have problems and no good set was ever kept: the service would not start');
    return 1;
  }
  io.out(
    table(
      ['KIND', 'LANG', 'VERSION'],
      rows.map((r) => [r.kind, r.language, r.version]),
    ),
  );
  if (set) io.out(`set ${set.setVersion}: the files in ${config.templates} pass the check and are in use`);
  else {
    io.err(`the files in ${config.templates} have ${problems.length} problem(s) (klagomal templates check); the last good set ${inUse.setVersion} is in use`);
    return 1;
  }
  return 0;
}

const STAFF_KINDS: readonly TemplateKind[] = [
  'officer-new-case',
  'officer-command-result',
  'officer-closed-case-reply',
  'escalation-warning',
  'breach-notice',
  'manager-digest',
  'approval-request',
];

function templatesPreview(config: Config, kind: string, values: Record<string, string | boolean | undefined>, io: Io): number {
  if (!TEMPLATE_KINDS.includes(kind as TemplateKind)) throw new UsageError(`unknown kind '${kind}'; allowed: ${TEMPLATE_KINDS.join(', ')}`);
  const lang = values.lang as string | undefined;
  if (lang !== undefined && !LANGUAGES.includes(lang as Language)) throw new UsageError(`--lang: allowed ${LANGUAGES.join(', ')}`);
  const set = TemplateSet.load(config.templates, { caseLinkBase: config.firm.caseLinkBase });
  // The configured firm, also in sample data, so that the preview shows the firm's own signature.
  let facts: Record<string, unknown> = { firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress } };
  let fromCase = false;
  let language = (lang as Language | undefined) ?? config.language;
  let to = 'anna.svensson@example.com';
  let caseNumber: string | null = 'KLG-2026-000042';
  if (typeof values.case === 'string') {
    withStore(config, (store) => {
      const c = findCase(store, values.case as string);
      facts = caseFacts(store, config, c);
      fromCase = true;
      if (!lang && LANGUAGES.includes(c.language as Language)) language = c.language as Language;
      // Staff mails go to the contact person (or the admin), customer mails to the customer.
      to = (STAFF_KINDS.includes(kind as TemplateKind) ? (c.contact_officer ?? config.firm.adminAddress) : c.customer_address) ?? to;
      caseNumber = c.number;
    });
  }
  const mail = buildMail(
    {
      kind: kind as TemplateKind,
      caseId: null,
      caseNumber,
      language,
      to,
      data: previewData(kind as TemplateKind, facts),
      idempotencyKey: 'preview',
      now: new Date(),
    },
    set,
    config,
  );
  const lines = [
    `From: ${mail.fromName} <${mail.fromAddress}>`,
    `To: ${mail.toAddress}`,
    `Subject: ${mail.subject}`,
    `Message-ID: <${mail.messageId}>`,
    ...Object.entries(mail.headers).map(([k, v]) => `${k}: ${v}`),
    `X-Klagomal-Template: ${mail.template}/${mail.language}@${mail.templateVersion}${fromCase ? '' : ' (sample data)'}`,
    '',
    values.html ? (mail.bodyHtml ?? '') : mail.bodyText,
  ];
  io.out(lines.join('\n'));
  return 0;
}

function templatesShow(config: Config, version: string, io: Io): number {
  return withStore(config, (store) => {
    const rows = store.templateVersions(version);
    if (rows.length === 0) throw new NotFound(`no template version '${version}' was ever used for a mail`);
    for (const r of rows) {
      io.out(`# ${r.kind}/${r.language}@${r.version}, first used ${r.first_used_at}`);
      for (const [file, text] of Object.entries(JSON.parse(r.sources) as Record<string, string>)) {
        io.out(`\n## ${file}\n${text.replace(/\n$/, '')}`);
      }
    }
    return 0;
  });
}
