/**
 * Every command that files or sends built the template set and checked it in full (parse, tree
 * walk, every template compiled to render its samples): ~0.35 s of CPU per command for a set
 * that had not changed. A set that passed is now remembered by its check key (files, options,
 * code) in the database, and the same key again is compiled without the check; any change to a
 * file, the options or the code gives a new key and the full check.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Handlebars from 'handlebars';
import { LANGUAGES } from '../../src/config/config';
import { readTemplateFiles, TEMPLATE_KINDS, templateCheckKey, TemplateSet } from '../../src/reply/templates';
import { TEMPLATE_SAMPLES } from '../../src/reply/template-schema';
import { CHECKED_KEY, TemplateManager } from '../../src/reply/template-manager';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import { parseConfig } from '../../src/config/load';
import { silentLogger } from '../../src/util/log';

const ROOT = path.join(__dirname, '..', '..', 'templates');
const OPTS = { caseLinkBase: 'https://klagomal.example.se/arende/' };

function renderAll(set: TemplateSet): string[] {
  const out: string[] = [];
  for (const lang of LANGUAGES) for (const kind of TEMPLATE_KINDS) out.push(JSON.stringify(set.render(kind, lang, TEMPLATE_SAMPLES[kind])));
  return out;
}

describe('a template set checked once', () => {
  afterEach(() => jest.restoreAllMocks());

  test('unchangedTemplatesAreCompiledWithoutBeingCheckedAgain', () => {
    const full = TemplateSet.build(ROOT, OPTS);
    expect(full.problems).toEqual([]);
    const key = full.set!.checkKey;
    expect(key).toBe(templateCheckKey(readTemplateFiles(ROOT), OPTS));

    const parse = jest.spyOn(Handlebars, 'parse');
    const again = TemplateSet.build(ROOT, { ...OPTS, checkedBefore: key });
    expect(parse).not.toHaveBeenCalled();
    expect(again.problems).toEqual([]);
    // The same set: the same versions, the same mails.
    expect(again.set!.setVersion).toBe(full.set!.setVersion);
    expect(again.set!.kinds()).toEqual(full.set!.kinds());
    expect(renderAll(again.set!)).toEqual(renderAll(full.set!));
  });

  test('aChangedTemplateIsCheckedInFullDespiteTheRememberedKey', () => {
    const files = readTemplateFiles(ROOT);
    const key = TemplateSet.fromFiles(files, ROOT, OPTS).set!.checkKey;
    const file = [...files.keys()].find((f) => /^sv\/acknowledgement\.text\.hbs$/.test(f))!;
    const changed = new Map(files).set(file, `${files.get(file)!}\n{{caseNumbr}}\n`);
    const r = TemplateSet.fromFiles(changed, ROOT, { ...OPTS, checkedBefore: key });
    expect(r.set).toBeNull();
    expect(r.problems.map((p) => p.message).join('\n')).toMatch(/caseNumbr/);
  });

  test('otherOptionsGiveAnotherKey', () => {
    const files = readTemplateFiles(ROOT);
    expect(templateCheckKey(files, OPTS)).not.toBe(templateCheckKey(files, { caseLinkBase: '' }));
    expect(templateCheckKey(files, OPTS)).toBe(templateCheckKey(new Map([...files].reverse()), OPTS)); // order does not matter
  });

  test('theServiceRemembersTheKeyOfTheSetItCheckedAndUsesIt', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-check-key-'));
    const db = openDatabase(path.join(dir, 'klagomal.db'));
    try {
      const store = new Store(db);
      const config = parseConfig(
        {
          firm: { name: 'X AB', complaintsAddress: 'klagomal@x.se', staffDomains: ['x.se'], caseLinkBase: OPTS.caseLinkBase },
          sources: [{ type: 'maildir', name: 'k', path: './m' }],
          templates: ROOT,
          deadlines: { escalation: { enabled: false } },
        },
        path.join(dir, 'config.json'),
      );
      expect(store.meta(CHECKED_KEY)).toBeUndefined();
      const first = TemplateManager.open(store, config, silentLogger);
      expect(store.meta(CHECKED_KEY)).toBe(first.set.checkKey);
      const parse = jest.spyOn(Handlebars, 'parse');
      const second = TemplateManager.open(store, config, silentLogger);
      expect(parse).not.toHaveBeenCalled();
      expect(second.setVersion).toBe(first.setVersion);
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
