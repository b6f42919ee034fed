/**
 * templates/README.md is what admins read to know which variables a mail kind offers: every
 * variable declared in src/reply/template-schema.ts must be named there, and every kind listed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TEMPLATE_SCHEMAS, schemaPaths } from '../../src/reply/template-schema';
import { TEMPLATE_KINDS } from '../../src/reply/templates';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'templates', 'README.md'), 'utf8');

describe('templates/README.md', () => {
  test.each(TEMPLATE_KINDS)('names the kind %s and every variable it declares', (kind) => {
    expect(readme).toContain(`\`${kind}\``);
    const undocumented = schemaPaths(TEMPLATE_SCHEMAS[kind])
      .map((p) =>
        p
          .split(/\.|\[\]\./)
          .pop()!
          .replace(/\[\]$/, ''),
      )
      .filter((name) => !new RegExp('`[a-zA-Z.]*\\b' + name + '\\b').test(readme));
    expect(undocumented).toEqual([]);
  });
});
