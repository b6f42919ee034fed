/**
 * The `deadlines` section: the policies in force (presets and the firm's own), which apply to
 * which category, the firm's extra closed days, and the escalation settings. A statutory
 * preset (PSD2, ECSP) may be shortened here, never lengthened. The rules themselves are
 * src/deadlines/ (pure); this file only validates what the config asks of them.
 */
import crypto from 'node:crypto';
import cron from 'node-cron';
import type { DeadlinesConfig } from './config';
import { DEADLINE_UNITS, DeadlineRule, DeadlineUnit } from '../deadlines/rules';
import { Milestone, Policy, PRESETS } from '../deadlines/policy';
import { parseIsoDate } from '../util/stockholm-time';
import { describe, Section } from './reader';

function readRule(s: Section): DeadlineRule {
  const unit = s.oneOf<DeadlineUnit>('unit', DEADLINE_UNITS);
  const amount = s.int('amount', { min: 1, max: unit === 'hours' ? 24 * 366 : 366 });
  s.done();
  return { unit, amount };
}

const MILESTONE_KEYS: Record<string, Milestone> = {
  acknowledgement: 'acknowledgement',
  firstAnswer: 'firstAnswer',
  finalAnswer: 'finalAnswer',
  position: 'finalAnswer',
  finalAnswerMax: 'finalAnswerMax',
};

/** A custom policy: optionally a preset, with milestone rules that override it. */
function readPolicy(s: Section, name: string): Policy {
  const presetName = s.has('preset') ? s.oneOf('preset', Object.keys(PRESETS)) : null;
  const preset = presetName ? PRESETS[presetName] : null;
  const rules: Partial<Record<Milestone, DeadlineRule>> = { ...(preset?.rules ?? {}) };
  const statutory: Partial<Record<Milestone, DeadlineRule>> = preset?.statutory ? { ...preset.rules } : {};
  for (const [key, milestone] of Object.entries(MILESTONE_KEYS)) {
    if (!s.has(key)) continue;
    const rule = readRule(s.section(key));
    const limit = statutory[milestone];
    if (limit && !(rule.unit === limit.unit && rule.amount <= limit.amount)) {
      s.problem(
        key,
        `${preset!.source} allows at most ${limit.amount} ${limit.unit} here; a statutory deadline may be shortened, never lengthened (got ${rule.amount} ${rule.unit})`,
      );
    }
    rules[milestone] = rule;
  }
  const source = s.has('source')
    ? s.string('source')
    : preset
      ? `${preset.source}${Object.keys(MILESTONE_KEYS).some((k) => s.has(k)) ? ' (shortened by the firm)' : ''}`
      : `the firm's policy "${name}"`;
  s.done();
  if (Object.keys(rules).length === 0)
    s.problem('', `policy "${name}" sets no milestone; give a "preset" or rules for acknowledgement, firstAnswer, finalAnswer`);
  return { name, source, rules, statutory };
}

export function readDeadlines(s: Section): DeadlinesConfig {
  const definitions: Record<string, Policy> = {};
  for (const [name, p] of Object.entries(PRESETS)) definitions[name] = { name, source: p.source, rules: p.rules, statutory: p.statutory ? p.rules : {} };
  const customS = s.section('custom');
  const customRaw = s.raw('custom');
  if (customRaw && typeof customRaw === 'object') {
    for (const name of Object.keys(customRaw as object)) {
      if (PRESETS[name]) customS.problem(name, `"${name}" is a preset name; give your policy another name and "preset": "${name}"`);
      definitions[name] = readPolicy(customS.section(name, true), name);
    }
  }
  customS.done();
  const known = Object.keys(definitions);
  const checkNames = (key: string, names: string[]): string[] => {
    names.forEach((n, i) => {
      if (!definitions[n]) s.problem(`${key}[${i}]`, `unknown policy "${n}"; known: ${known.join(', ')}`);
    });
    return names.filter((n) => definitions[n]);
  };
  const policies = checkNames('policies', s.stringList('policies', ['promise-24h-14d']));
  if (!policies.some((n) => definitions[n].rules.finalAnswer)) {
    s.problem('policies', 'no policy here sets finalAnswer: the acknowledgement must tell every customer when to expect an answer');
  }
  const byCategory: Record<string, string[]> = {};
  const catRaw = s.raw('byCategory');
  if (catRaw === undefined) {
    byCategory.payments = ['psd2'];
    byCategory.fraud = ['psd2'];
  } else if (typeof catRaw !== 'object' || catRaw === null || Array.isArray(catRaw)) s.problem('byCategory', 'expected an object like {"payments": ["psd2"]}');
  else {
    const catS = s.section('byCategory');
    for (const cat of Object.keys(catRaw)) byCategory[cat] = checkNames(`byCategory.${cat}`, catS.stringList(cat, []));
    catS.done();
  }
  const extraClosedDates = s.stringList('extraClosedDates', []);
  extraClosedDates.forEach((d, i) => {
    if (!parseIsoDate(d)) s.problem(`extraClosedDates[${i}]`, `expected a date "YYYY-MM-DD", got ${describe(d)}`);
  });

  const e = s.section('escalation');
  const intList = (key: string, dflt: number[], max: number): number[] => {
    const v = e.raw(key);
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > max)) {
      e.problem(key, `expected a list of whole numbers from 1 to ${max}, got ${describe(v)}`);
      return dflt;
    }
    return [...(v as number[])].sort((a, b) => b - a);
  };
  const schedule = e.string('schedule', { default: '*/5 * * * *' });
  if (!cron.validate(schedule)) e.problem('schedule', `not a valid cron expression: ${describe(schedule)} (e.g. "*/5 * * * *", every 5 minutes)`);
  const digestRaw = e.raw('digestTime');
  let digestTime: string | null = '07:30';
  if (digestRaw === null) digestTime = null;
  else if (digestRaw !== undefined) {
    if (typeof digestRaw !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(digestRaw))
      e.problem('digestTime', `expected a time "HH:MM" (Stockholm time) or null, got ${describe(digestRaw)}`);
    else digestTime = digestRaw;
  }
  const escalation = {
    enabled: e.bool('enabled', true),
    schedule,
    warnBusinessDays: intList('warnBusinessDays', [2, 1], 20),
    warnHours: intList('warnHours', [4], 24 * 30),
    managerBusinessDays: e.int('managerBusinessDays', { default: 1, min: 0, max: 20 }),
    digestTime,
    lateAfterMinutes: e.int('lateAfterMinutes', { default: 15, min: 1, max: 24 * 60 }),
  };
  e.done();
  // Who approved the deadline policy, and when (REGULATION.md §4 B: "who approved a policy"):
  // kept with the policy's version the first time it is used and printed by `audit policy`.
  // Not part of the version (the same rules approved again are the same rules).
  const approvedBy = s.has('approvedBy') ? s.string('approvedBy') : null;
  const approvedAt = s.has('approvedAt') ? s.string('approvedAt') : null;
  if (approvedAt !== null && !parseIsoDate(approvedAt)) s.problem('approvedAt', `expected a date "YYYY-MM-DD", got ${describe(approvedAt)}`);
  if ((approvedBy === null) !== (approvedAt === null))
    s.problem(
      approvedBy === null ? 'approvedBy' : 'approvedAt',
      'give deadlines.approvedBy and deadlines.approvedAt together (who approved the policy, and the date)',
    );
  s.done();
  const text = deadlinePolicyText({ policies, byCategory, definitions, extraClosedDates });
  const version = crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { policies, byCategory, definitions, extraClosedDates, escalation, version, approvedBy, approvedAt, text };
}

/** The deadline policy as its version hashes it, and as `config show VERSION` prints it. */
export function deadlinePolicyText(p: Pick<DeadlinesConfig, 'policies' | 'byCategory' | 'definitions' | 'extraClosedDates'>): string {
  return JSON.stringify({ policies: p.policies, byCategory: p.byCategory, definitions: p.definitions, extraClosedDates: p.extraClosedDates });
}
