/**
 * Templates end to end, through the real `klagomal` binary: an admin's edit to a running
 * service (a broken edit keeps the last good set and tells the admin once per broken version,
 * a good one is used at once), what a sent mail was made from (`templates show`), starting
 * with broken templates, and the `templates` command itself.
 *
 * Each world gets its own copy of templates/ so that the tests can edit it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { makeWorld, World, deliverToMaildir, complaintMail, waitFor, REPO } from '../support/world';
import { parseHeaders } from '../support/smtp';
import { TEMPLATE_KINDS } from '../../src/reply/templates';
import type { OutboxRow } from '../../src/store/store';

const ADMIN = 'admin@testfinans.se';
const ACK_SV = path.join('sv', 'acknowledgement.text.hbs');
const OLD_WORDING = 'Tack för att du hör av dig.';
const NEW_WORDING = 'Tack för att du skriver till oss.';
const PROBLEM_MSG = 'template problem: the last good templates stay in use';

interface TemplateWorld {
  w: World;
  /** The world's own copy of templates/. */
  tpl: string;
  /** Absolute path of sv/acknowledgement.text.hbs in the copy (as problems name it). */
  ackFile: string;
  /** Its shipped text. */
  good: string;
}

const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

function world(): World {
  const w = makeWorld();
  worlds.push(w);
  return w;
}

/** A world whose config points at a copy of the shipped templates, with an admin address. */
function templateWorld(): TemplateWorld {
  const w = world();
  const tpl = path.join(w.dir, 'templates');
  fs.cpSync(path.join(REPO, 'templates'), tpl, { recursive: true });
  w.config.templates = tpl;
  w.config.firm = { ...(w.config.firm as Record<string, unknown>), adminAddress: ADMIN };
  fs.writeFileSync(w.configFile, JSON.stringify(w.config, null, 2));
  const ackFile = path.join(tpl, ACK_SV);
  const good = fs.readFileSync(ackFile, 'utf8');
  expect(good).toContain(OLD_WORDING);
  return { w, tpl, ackFile, good };
}

/** Save a template the way an editor that saves atomically does: the reload loop never sees half a file. */
function saveTemplate(t: TemplateWorld, rel: string, text: string): void {
  const tmp = path.join(t.w.dir, `.save-${process.pid}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, path.join(t.tpl, rel));
}

/** The line a text appended to `text` lands on. */
function appendedLine(text: string): number {
  return text.endsWith('\n') ? text.split('\n').length : text.split('\n').length + 1;
}

function withTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

function outbox(w: World): Array<OutboxRow & { case_number: string | null }> {
  const { store, close } = w.store();
  try {
    return store.listOutbox();
  } finally {
    close();
  }
}

/** The acknowledgement to complaintMail(n)'s sender, once it is sent. */
function sentAck(w: World, n: number): OutboxRow | undefined {
  return outbox(w).find((r) => r.kind === 'acknowledgement' && r.to_address === `kund${n}@example.com` && r.status === 'sent');
}

function adminNotices(w: World): OutboxRow[] {
  return outbox(w).filter((r) => r.kind === 'admin-notice');
}

/** Headers of every mail in the pickup folder. */
function pickupHeaders(w: World): Array<Map<string, string>> {
  if (!fs.existsSync(w.pickup)) return [];
  return fs
    .readdirSync(w.pickup)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => parseHeaders(fs.readFileSync(path.join(w.pickup, f))));
}

function logEntries(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* a line still being written */
    }
  }
  return out;
}

function logsWith(text: string, msg: string): Array<Record<string, unknown>> {
  return logEntries(text).filter((e) => e.msg === msg);
}

function exitOf(child: ChildProcess, ms: number): Promise<number | null | 'timeout'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One file's text in `templates show` output. */
function shownFile(stdout: string, rel: string): string {
  const after = stdout.split(`## ${rel}\n`)[1];
  expect(after).toBeDefined();
  return after.split(/\n\n## |\n# /)[0].replace(/\n+$/, '');
}

async function caseNumbers(w: World): Promise<string[]> {
  const r = await w.cli(['cases', '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ number: string }>).map((c) => c.number).sort();
}

describe('hot reload on a running service', () => {
  test('brokenEditKeepsLastGoodSetAndMailsAdminOncePerBrokenVersionThenFixIsUsedAtOnce', async () => {
    const t = templateWorld();
    const { w, ackFile, good } = t;
    const line = appendedLine(good);
    const child = w.start();
    await waitFor('service start', () => /klagomal started/.test(child.output()), 15_000);
    const startedSet = logsWith(child.output(), 'klagomal started')[0].templates as string;
    expect(startedSet).toMatch(/^[0-9a-f]{12}$/);

    // Complaint 1: acknowledged from the shipped templates.
    deliverToMaildir(w.maildir, complaintMail(1));
    const ack1 = await waitFor('acknowledgement 1 sent', () => sentAck(w, 1), 10_000);
    const v1 = ack1.template_version;
    expect(v1).toMatch(/^[0-9a-f]{12}$/);
    expect(ack1.template).toBe('acknowledgement');
    expect(ack1.language).toBe('sv');
    expect(ack1.body_text).toContain(OLD_WORDING);
    expect(pickupHeaders(w).filter((h) => h.get('to') === 'kund1@example.com')).toHaveLength(1);

    // A broken edit: a typo in a variable. Reported in the log with file and line.
    const broken1 = `${withTrailingNewline(good)}{{caseNumbr}}\n`;
    saveTemplate(t, ACK_SV, broken1);
    await waitFor('the broken edit reported in the log', () => logsWith(child.output(), PROBLEM_MSG).length >= 1, 6_000);
    const problem1 = logsWith(child.output(), PROBLEM_MSG)[0];
    expect(problem1).toMatchObject({ level: 'error', file: ackFile, line });
    expect(String(problem1.problem)).toMatch(/caseNumbr.*did you mean "case\.number"/);

    // Complaint 2 is still acknowledged, from the last good set (the same version as complaint 1's).
    deliverToMaildir(w.maildir, complaintMail(2));
    const ack2 = await waitFor('acknowledgement 2 sent', () => sentAck(w, 2), 10_000);
    expect(ack2.template_version).toBe(v1);
    expect(ack2.body_text).toContain(OLD_WORDING);
    expect(ack2.body_text).not.toContain('caseNumbr');

    // Exactly one notice to the admin, naming the file and the line; it is sent.
    const notices1 = await waitFor('admin notice sent', () => {
      const n = adminNotices(w);
      return n.length === 1 && n[0].status === 'sent' ? n : null;
    });
    expect(notices1[0].to_address).toBe(ADMIN);
    expect(notices1[0].case_id).toBeNull();
    expect(notices1[0].subject).toMatch(/templates are broken \(1\)/);
    expect(notices1[0].body_text).toContain(`${ackFile}:${line}`);
    expect(notices1[0].body_text).toContain('acknowledgement.text.hbs');
    expect(notices1[0].body_text).toContain('caseNumbr');
    expect(notices1[0].body_text).toContain(startedSet); // the last good set stays in use
    expect(pickupHeaders(w).filter((h) => h.get('to') === ADMIN)).toHaveLength(1);

    // Another edit, still broken but different: a second notice.
    const broken2 = `${withTrailingNewline(good)}{{customer.nmae}}\n`;
    saveTemplate(t, ACK_SV, broken2);
    await waitFor('the second broken edit reported', () => logsWith(child.output(), PROBLEM_MSG).length >= 2, 6_000);
    const notices2 = await waitFor('second admin notice sent', () => {
      const n = adminNotices(w);
      return n.length === 2 && n.every((r) => r.status === 'sent') ? n : null;
    });
    expect(notices2[1].to_address).toBe(ADMIN);
    expect(notices2[1].body_text).toContain(`${ackFile}:${line}`);
    expect(notices2[1].body_text).toContain('customer.nmae');
    expect(logsWith(child.output(), PROBLEM_MSG)[1]).toMatchObject({ file: ackFile, line });

    // Saving the same broken text again (the service looks again: logged) is not a new broken
    // version: no new notice. Neither is going back to the first broken text.
    saveTemplate(t, ACK_SV, broken2);
    await waitFor('the re-saved file looked at again', () => logsWith(child.output(), PROBLEM_MSG).length >= 3, 6_000);
    saveTemplate(t, ACK_SV, broken1);
    await waitFor('the first broken text looked at again', () => logsWith(child.output(), PROBLEM_MSG).length >= 4, 6_000);
    await sleep(300); // the notice would be queued in the same synchronous step as the log line
    expect(adminNotices(w)).toHaveLength(2);

    // The fix, with a new wording: used at once, under a new version.
    const fixed = good.replace(OLD_WORDING, NEW_WORDING);
    expect(fixed).not.toBe(good);
    saveTemplate(t, ACK_SV, fixed);
    await waitFor('templates reloaded', () => logsWith(child.output(), 'templates reloaded').length >= 1, 6_000);
    expect(logsWith(child.output(), 'templates reloaded')[0]).toMatchObject({ from: startedSet });
    deliverToMaildir(w.maildir, complaintMail(3));
    const ack3 = await waitFor('acknowledgement 3 sent', () => sentAck(w, 3), 10_000);
    expect(ack3.template_version).toMatch(/^[0-9a-f]{12}$/);
    expect(ack3.template_version).not.toBe(v1);
    expect(ack3.body_text).toContain(NEW_WORDING);
    expect(ack3.body_text).not.toContain(OLD_WORDING);
    expect(adminNotices(w)).toHaveLength(2);

    // What each customer got can still be shown, though the file has changed since.
    const shown1 = await w.cli(['templates', 'show', v1]);
    expect(shown1.code).toBe(0);
    expect(shownFile(shown1.stdout, 'sv/acknowledgement.text.hbs')).toBe(good.replace(/\n+$/, ''));
    expect(shown1.stdout).not.toContain(NEW_WORDING);
    const shown3 = await w.cli(['templates', 'show', ack3.template_version]);
    expect(shownFile(shown3.stdout, 'sv/acknowledgement.text.hbs')).toBe(fixed.replace(/\n+$/, ''));

    // The service ran throughout, and stops cleanly.
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
    expect(child.output()).not.toMatch(/template reload failed|processing pass failed|send pass failed/);
    child.kill('SIGTERM');
    expect(await exitOf(child, 10_000)).toBe(0);
    expect(child.output()).toMatch(/stopped cleanly/);
  }, 45_000);
});

describe('traceability', () => {
  test('templatesShowPrintsTheTextAMailWasMadeFromAndCaseShowNamesTheVersion', async () => {
    const t = templateWorld();
    const { w, good } = t;
    deliverToMaildir(w.maildir, complaintMail(1));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const ack1 = sentAck(w, 1)!;
    expect(ack1).toBeDefined();
    const v1 = ack1.template_version;
    const [case1] = await caseNumbers(w);

    saveTemplate(t, ACK_SV, good.replace(OLD_WORDING, NEW_WORDING));
    deliverToMaildir(w.maildir, complaintMail(2));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const ack2 = sentAck(w, 2)!;
    expect(ack2).toBeDefined();
    const v2 = ack2.template_version;
    expect(v2).not.toBe(v1);
    expect(ack2.body_text).toContain(NEW_WORDING);
    const case2 = (await caseNumbers(w)).find((n) => n !== case1)!;
    expect(fs.readFileSync(t.ackFile, 'utf8')).not.toContain(OLD_WORDING);

    // The old version: the text as it was when complaint 1's acknowledgement was made.
    const shown1 = await w.cli(['templates', 'show', v1]);
    expect(shown1.code).toBe(0);
    expect(shown1.stdout).toContain(`# acknowledgement/sv@${v1}`);
    expect(shown1.stdout).toContain('## sv/acknowledgement.text.hbs');
    expect(shown1.stdout).toContain('## sv/acknowledgement.subject.hbs');
    expect(shown1.stdout).toContain('## sv/acknowledgement.html.hbs');
    expect(shown1.stdout).not.toContain(NEW_WORDING);
    // Exactly the file as it was (but for a final newline).
    expect(shownFile(shown1.stdout, 'sv/acknowledgement.text.hbs')).toBe(good.replace(/\n+$/, ''));

    const shown2 = await w.cli(['templates', 'show', v2]);
    expect(shown2.code).toBe(0);
    expect(shown2.stdout).toContain(`# acknowledgement/sv@${v2}`);
    const text2 = shownFile(shown2.stdout, 'sv/acknowledgement.text.hbs');
    expect(text2).toContain(NEW_WORDING);
    expect(text2).not.toContain(OLD_WORDING);

    const c1 = await w.cli(['case', 'show', case1]);
    expect(c1.code).toBe(0);
    expect(c1.stdout).toContain(`acknowledgement/sv@${v1}`);
    expect(c1.stdout).not.toContain(`@${v2}`);
    const c2 = await w.cli(['case', 'show', case2]);
    expect(c2.stdout).toContain(`acknowledgement/sv@${v2}`);

    const unknown = await w.cli(['templates', 'show', '000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no template version '000000000000'/);
  });
});

describe('starting with broken templates', () => {
  test('withNoGoodSetEverKeptStartAndRunOnceRefuseWithFileAndLine', async () => {
    const t = templateWorld();
    const { w, ackFile, good } = t;
    const line = appendedLine(good);
    saveTemplate(t, ACK_SV, `${withTrailingNewline(good)}{{caseNumbr}}\n`);
    const name = deliverToMaildir(w.maildir, complaintMail(1));

    const child = w.start();
    const code = await exitOf(child, 15_000);
    expect(code).not.toBe('timeout');
    expect(code).not.toBe(0);
    expect(child.output()).toContain(`${ackFile}:${line}`);
    expect(child.output()).toMatch(/caseNumbr/);
    expect(child.output()).not.toMatch(/klagomal started/);

    const once = await w.cli(['run', '--once']);
    expect(once.code).not.toBe(0);
    expect(once.stderr).toContain(`${ackFile}:${line}`);
    expect(once.stderr).toMatch(/"caseNumbr" is not a variable of acknowledgement mails/);

    // Nothing was taken or sent: the mail waits in new/ for good templates.
    expect(fs.readdirSync(path.join(w.maildir, 'new'))).toEqual([name]);
    expect(pickupHeaders(w)).toEqual([]);

    const list = await w.cli(['templates', 'list']);
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/no good set was ever kept/);
  });

  test('withAGoodSetKeptRunOnceUsesItReportsTheProblemAndMailsTheAdminOnce', async () => {
    const t = templateWorld();
    const { w, ackFile, good } = t;
    const line = appendedLine(good);
    deliverToMaildir(w.maildir, complaintMail(1));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const v1 = sentAck(w, 1)!.template_version;

    saveTemplate(t, ACK_SV, `${withTrailingNewline(good)}{{caseNumbr}}\n`);
    deliverToMaildir(w.maildir, complaintMail(2));
    const once = await w.cli(['run', '--once', '--json']);
    expect(once.code).toBe(0);
    expect(JSON.parse(once.stdout.trim())).toMatchObject({ filed: 1 });
    const problems = logsWith(once.stderr, PROBLEM_MSG);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ level: 'error', file: ackFile, line });

    const ack2 = sentAck(w, 2)!;
    expect(ack2).toBeDefined();
    expect(ack2.template_version).toBe(v1);
    expect(ack2.body_text).toContain(OLD_WORDING);
    expect(ack2.body_text).not.toContain('caseNumbr');
    const notices = adminNotices(w);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ to_address: ADMIN, status: 'sent' });
    expect(notices[0].body_text).toContain(`${ackFile}:${line}`);

    // Another pass on the same broken files: still working, no second notice.
    const again = await w.cli(['run', '--once']);
    expect(again.code).toBe(0);
    expect(adminNotices(w)).toHaveLength(1);

    // `templates list` shows the set in use (the last good one) and says the files are broken.
    const list = await w.cli(['templates', 'list']);
    expect(list.code).toBe(1);
    expect(list.stdout).toMatch(new RegExp(`^acknowledgement\\s+sv\\s+${v1}$`, 'm'));
    expect(list.stderr).toMatch(/have 1 problem\(s\).*last good set [0-9a-f]{12} is in use/);

    // And the long-running service starts on the last good set, saying so.
    const child = w.start();
    await waitFor('service start', () => /klagomal started/.test(child.output()), 15_000);
    expect(logsWith(child.output(), 'klagomal started')[0]).toMatchObject({ templateProblems: 1 });
    child.kill('SIGTERM');
    expect(await exitOf(child, 10_000)).toBe(0);
    expect(adminNotices(w)).toHaveLength(1);
  });
});

describe('klagomal templates', () => {
  test('checkPassesTheShippedTemplates', async () => {
    const w = world();
    const r = await w.cli(['templates', 'check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/OK/);
    expect(r.stdout).toContain(`${TEMPLATE_KINDS.length * 2} templates`);
    expect(r.stdout).toMatch(/set version [0-9a-f]{12}/);
  });

  test('checkListsEveryProblemWithFileAndLine', async () => {
    const t = templateWorld();
    const { w, tpl, ackFile, good } = t;
    // Two problems in one file, a third (a syntax error) in another file and language.
    const lastLine = appendedLine(good);
    saveTemplate(t, ACK_SV, `{{customer.nmae}} ${withTrailingNewline(good)}{{caseNumbr}}\n`);
    const subject = path.join('en', 'final-answer.subject.hbs');
    saveTemplate(t, subject, '{{case.tag}} Our answer to your complaint {{case.number}\n');
    const r = await w.cli(['templates', 'check']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/OK/);
    expect(r.stderr).toContain(`${ackFile}:1: "customer.nmae" is not a variable`);
    expect(r.stderr).toContain(`${ackFile}:${lastLine}: "caseNumbr" is not a variable`);
    expect(r.stderr).toContain(`${path.join(tpl, subject)}:1: syntax error`);
    expect(r.stderr).toMatch(/3 template problem\(s\)/);
  });

  test('listPrintsEveryKindInBothLanguagesWithAVersion', async () => {
    const w = world();
    const r = await w.cli(['templates', 'list']);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .split('\n')
      .map((l) => /^(\S+)\s+(sv|en)\s+([0-9a-f]{12})$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null);
    const expected = TEMPLATE_KINDS.flatMap((k) => [`${k}/en`, `${k}/sv`]).sort();
    expect(rows.map((m) => `${m[1]}/${m[2]}`).sort()).toEqual(expected);
    expect(r.stdout).toMatch(/set [0-9a-f]{12}: the files in .* pass the check and are in use/);

    const j = await w.cli(['templates', 'list', '--json']);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout) as { filesPass: boolean; templates: Array<{ kind: string; language: string; version: string }> };
    expect(parsed.filesPass).toBe(true);
    expect(parsed.templates.map((x) => `${x.kind}/${x.language}`).sort()).toEqual(expected);
    // The same versions as the table.
    for (const m of rows) expect(parsed.templates).toContainEqual({ kind: m[1], language: m[2], version: m[3] });
  });

  test('previewPrintsHeadersAndTheBodyInTheAskedLanguageOrHtml', async () => {
    const w = world();
    const list = JSON.parse((await w.cli(['templates', 'list', '--json'])).stdout) as { templates: Array<{ kind: string; language: string; version: string }> };
    const enVersion = list.templates.find((x) => x.kind === 'acknowledgement' && x.language === 'en')!.version;

    const r = await w.cli(['templates', 'preview', 'acknowledgement', '--lang', 'en']);
    expect(r.code).toBe(0);
    const [head, ...rest] = r.stdout.split('\n\n');
    const body = rest.join('\n\n');
    expect(head).toMatch(/^From: .*<klagomal@testfinans\.se>$/m);
    expect(head).toMatch(/^To: \S+@\S+$/m);
    expect(head).toMatch(/^Subject: \[KLG-\d{4}-\d{6}\] We have received your complaint$/m);
    expect(head).toMatch(/^Auto-Submitted: auto-(replied|generated)$/m);
    expect(head).toContain(`X-Klagomal-Template: acknowledgement/en@${enVersion}`);
    expect(body).toMatch(/^Dear /);
    expect(body).toContain('Thank you for contacting us.');
    expect(body).not.toContain(OLD_WORDING);
    expect(body).not.toMatch(/<p>|\{\{/);

    const html = await w.cli(['templates', 'preview', 'acknowledgement', '--lang', 'en', '--html']);
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^Subject: .*We have received your complaint$/m);
    expect(html.stdout).toMatch(/<html lang="en">/);
    expect(html.stdout).toMatch(/<p>Thank you for contacting us\./);
    expect(html.stdout).toContain('</html>');

    // Without --lang: the configured language (sv).
    const sv = await w.cli(['templates', 'preview', 'acknowledgement']);
    expect(sv.code).toBe(0);
    expect(sv.stdout).toContain(OLD_WORDING);
    expect(sv.stdout).toMatch(/^Subject: .*Vi har tagit emot ditt klagomål$/m);
  });

  test('previewWithCaseUsesTheRealCaseNumberAndCustomer', async () => {
    const w = world();
    deliverToMaildir(w.maildir, complaintMail(9, { from: 'Greta Lind <greta.lind@example.com>' }));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const [number] = await caseNumbers(w);
    expect(number).toMatch(/^KLG-\d{4}-000001$/);

    const r = await w.cli(['templates', 'preview', 'acknowledgement', '--case', number]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^To: greta\.lind@example\.com$/m);
    expect(r.stdout).toContain(`Subject: [${number}] Vi har tagit emot ditt klagomål`);
    expect(r.stdout).toContain(`X-Klagomal-Case: ${number}`);
    expect(r.stdout).toMatch(/^X-Klagomal-Template: acknowledgement\/sv@[0-9a-f]{12}$/m); // no "(sample data)"
    expect(r.stdout).toContain('Hej Greta Lind,');
    expect(r.stdout).toContain(`ärendenummer ${number}`);
    expect(r.stdout).toContain('Testfinans AB');
    expect(r.stdout).not.toContain('KLG-2026-000042');
    expect(r.stdout).not.toContain('Anna Svensson');

    const missing = await w.cli(['templates', 'preview', 'acknowledgement', '--case', 'KLG-2026-999999']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no case 'KLG-2026-999999'/);
  });

  test('unknownKindOrVerbIsAUsageErrorListingTheAllowedKinds', async () => {
    const w = world();
    const r = await w.cli(['templates', 'preview', 'acknowledgment']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown kind 'acknowledgment'/);
    for (const k of TEMPLATE_KINDS) expect(r.stderr).toContain(k);

    const lang = await w.cli(['templates', 'preview', 'acknowledgement', '--lang', 'de']);
    expect(lang.code).toBe(2);
    expect(lang.stderr).toMatch(/--lang: allowed sv, en/);

    const verb = await w.cli(['templates', 'frobnicate']);
    expect(verb.code).toBe(2);
    expect(verb.stderr).toMatch(/usage: klagomal templates check \| list \| preview/);
  });
});
