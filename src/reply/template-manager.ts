/**
 * The templates a running service uses, swapped when an admin edits the files, never broken.
 *
 *  - At start: the files are checked. A set that passes is used and kept in the database as
 *    the last good set. A set with problems is not used: the last good set from the database is
 *    (logged loudly, and the admin is mailed once per broken version); with no good set ever,
 *    the service refuses to start and lists every problem.
 *  - While running: the files are looked at every few seconds; a changed set that passes
 *    replaces the current one at once; a changed set with problems is reported (log with file
 *    and line, one mail to the admin per broken version) and the current set stays.
 *
 * Every rendered mail carries its (kind, language) version; the outbox keeps the text of every
 * version it used (template_versions), so what a customer received can be shown exactly.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config, Language } from '../config/config';
import type { Store } from '../store/store';
import type { Logger } from '../util/log';
import type { TemplateKind } from '../cases/lifecycle';
import { formatProblem, readTemplateFiles, RenderedMail, TemplateError, TemplateProblem, TemplateRenderer, TemplateSet } from './templates';
import { buildAdminNotice } from './mail';
import { LANGUAGES } from '../config/config';
import { toInstant } from '../util/clock';

/** The meta key of the last set that passed the whole check (see TemplateOptions.checkedBefore). */
export const CHECKED_KEY = 'templates.checkedKey';

/** How long the files must have been unchanged before a reload reads them. */
const SETTLE_MS = 1000;

/**
 * A cheap look at the template files: a fingerprint (names, sizes, mtimes) to tell whether
 * anything changed, and the newest change, to wait until an editor has finished saving.
 */
export function templateFilesState(root: string): { signature: string; newest: number } {
  const parts: string[] = [];
  let newest = 0;
  for (const lang of LANGUAGES) {
    for (const sub of ['', 'partials']) {
      const dir = path.join(root, lang, sub);
      if (!fs.existsSync(dir)) continue;
      for (const name of fs.readdirSync(dir).sort()) {
        try {
          const st = fs.statSync(path.join(dir, name));
          if (!st.isFile()) continue;
          parts.push(`${lang}/${sub}/${name}:${st.size}:${st.mtimeMs}`);
          newest = Math.max(newest, st.mtimeMs);
        } catch {
          /* removed meanwhile */
        }
      }
    }
  }
  return { signature: parts.join('|'), newest };
}

export class TemplateManager implements TemplateRenderer {
  private signature: string;
  /** Problems of the files on disk, when they are broken (the current set is then an older one). */
  problems: readonly TemplateProblem[] = [];

  private constructor(
    private current: TemplateSet,
    private readonly store: Store,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.signature = templateFilesState(config.templates).signature;
  }

  /** Check the files; fall back to the last good set kept in the database. Throws when there is none. */
  static open(store: Store, config: Config, log: Logger, now: Date = new Date()): TemplateManager {
    const root = config.templates;
    const checkedBefore = store.meta(CHECKED_KEY) ?? null;
    const { set, problems } = TemplateSet.build(root, { caseLinkBase: config.firm.caseLinkBase, checkedBefore });
    if (set) {
      store.saveTemplateSet(set.setVersion, set.files, toInstant(now));
      if (set.checkKey !== checkedBefore) store.setMeta(CHECKED_KEY, set.checkKey);
      return new TemplateManager(set, store, config, log);
    }
    const good = store.lastGoodTemplateSet();
    const fallback = good ? TemplateSet.fromFiles(good.files, root, { caseLinkBase: config.firm.caseLinkBase }).set : null;
    if (!fallback) {
      for (const p of problems)
        log.error('template problem, and no good set was ever kept: cannot start', { file: p.file, line: p.line ?? undefined, problem: p.message });
      throw new TemplateError(problems[0].file, problems[0].message, problems);
    }
    const m = new TemplateManager(fallback, store, config, log);
    m.reportBroken(problems, readTemplateFiles(root), now);
    return m;
  }

  get setVersion(): string {
    return this.current.setVersion;
  }

  get set(): TemplateSet {
    return this.current;
  }

  render(kind: TemplateKind, lang: Language, data: object): RenderedMail {
    return this.current.render(kind, lang, data);
  }

  sources(kind: TemplateKind, lang: Language): Readonly<Record<string, string>> {
    return this.current.sources(kind, lang);
  }

  /** Look at the files again; swap in a changed set that passes the check. Returns what happened. */
  reload(now: Date = new Date()): 'unchanged' | 'reloaded' | 'broken' {
    const { signature: sig, newest } = templateFilesState(this.config.templates);
    if (sig === this.signature) return 'unchanged';
    // An editor may be saving right now: read the files only once they have been still for a
    // moment, so that a half-written file is never checked, let alone used.
    if (Date.now() - newest < SETTLE_MS) return 'unchanged';
    this.signature = sig;
    const { set, problems } = TemplateSet.build(this.config.templates, { caseLinkBase: this.config.firm.caseLinkBase });
    if (!set) {
      this.reportBroken(problems, readTemplateFiles(this.config.templates), now);
      return 'broken';
    }
    if (set.setVersion === this.current.setVersion && this.problems.length === 0) return 'unchanged';
    this.store.tx(() => {
      this.store.saveTemplateSet(set.setVersion, set.files, toInstant(now));
      this.store.setMeta(CHECKED_KEY, set.checkKey);
    });
    this.log.info('templates reloaded', { from: this.current.setVersion, to: set.setVersion });
    this.current = set;
    this.problems = [];
    return 'reloaded';
  }

  /** Log every problem, and mail the admin once per broken version of the files. */
  private reportBroken(problems: readonly TemplateProblem[], files: ReadonlyMap<string, string>, now: Date): void {
    this.problems = problems;
    for (const p of problems)
      this.log.error('template problem: the last good templates stay in use', { file: p.file, line: p.line ?? undefined, problem: p.message });
    // The broken set's identity: a hash over its files, so that each broken edit is reported once.
    const version = crypto
      .createHash('sha256')
      .update(JSON.stringify([...files.entries()].sort()))
      .digest('hex')
      .slice(0, 12);
    const to = this.config.firm.adminAddress;
    const at = toInstant(now);
    this.store.tx(() => {
      if (!this.store.claimTemplateProblemReport(version, JSON.stringify(problems), at)) return;
      if (!to) {
        this.log.warn('no admin address to tell about the template problems (firm.adminAddress)');
        return;
      }
      const lines = problems.map((p) => `  ${formatProblem(p)}`).join('\n');
      this.store.enqueue(
        buildAdminNotice(
          {
            to,
            subject: `Klagomålsmallarna har fel / The complaint templates are broken (${problems.length})`,
            text:
              `Mallarna i ${this.config.templates} kunde inte användas. Tjänsten fortsätter med den senaste fungerande versionen (${this.current.setVersion}) tills felen är rättade.\n` +
              `The templates in ${this.config.templates} could not be used. The service goes on with the last good version (${this.current.setVersion}) until they are fixed.\n\n` +
              `${lines}\n\nKör / run: klagomal templates check\n`,
            idempotencyKey: `template-problems:${version}`,
            now,
          },
          this.config,
        ),
      );
    });
  }
}
