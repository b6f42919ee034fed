/**
 * Issue 16: work that every complaint repeated although its result could not change: the
 * category patterns compiled again for each complaint, and the sources of every template of a
 * version turned into JSON again for each queued mail (the version's sources are kept once). Each
 * test fails on the code before and holds what is kept to what it was.
 */
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';
import type { NewOutbox } from '../../src/store/rows';
import { compileCategory, DEFAULT_CATEGORIES } from '../../src/config/complaint-rules';

function outbox(n: number, version: string, templateSources: Record<string, string>): NewOutbox {
  return {
    caseId: null,
    kind: 'acknowledgement',
    idempotencyKey: `ack:${n}`,
    template: 'acknowledgement',
    language: 'sv',
    templateVersion: version,
    fromAddress: 'klagomal@exempelfinans.se',
    fromName: 'Exempelfinans',
    toAddress: `kund${n}@example.com`,
    subject: 'Vi har tagit emot ditt klagomål',
    messageId: `<m${n}@exempelfinans.se>`,
    inReplyTo: null,
    references: [],
    headers: {},
    bodyText: 'Tack.',
    bodyHtml: null,
    dateHeader: '2026-12-07T09:00:00.000Z',
    createdAt: `2026-12-07T09:00:0${n}.000Z`,
    templateSources,
  };
}

describe('what a complaint no longer repeats', () => {
  test('categoryPatternsCompiledAgainForEveryComplaint', () => {
    for (const rule of DEFAULT_CATEGORIES) {
      const re = compileCategory(rule);
      expect(compileCategory(rule)).toBe(re);
      // Shared, so it must keep no state between tests (no g flag).
      expect(re.flags).not.toContain('g');
      const word = rule.words[0].replace(/[^a-zåäö ]/gi, '');
      expect(re.test(`Det gäller ${word} i min faktura`)).toBe(true);
      expect(re.test(`Det gäller ${word} i min faktura`)).toBe(true);
    }
  });

  test('templateSourcesTurnedToJsonForEveryQueuedMail', () => {
    const store = new Store(openDatabase(':memory:'));
    let serialised = 0;
    const sources = (text: string): Record<string, string> => {
      const files: Record<string, string> = { 'sv/acknowledgement.txt.hbs': text };
      // JSON.stringify asks toJSON: a count of how often the sources were turned into JSON.
      Object.defineProperty(files, 'toJSON', { enumerable: false, value: () => (serialised++, { 'sv/acknowledgement.txt.hbs': text }) });
      return files;
    };
    const v1 = sources('Tack för ditt klagomål.');
    for (let n = 1; n <= 3; n++) expect(store.enqueue(outbox(n, 'v1', v1))).not.toBeNull();
    expect(serialised).toBe(1);
    // A new version is kept with its own sources, and the first version's stay as they were.
    expect(store.enqueue(outbox(4, 'v2', sources('Tack, vi återkommer.')))).not.toBeNull();
    expect(serialised).toBe(2);
    expect(store.templateVersions('v1')).toEqual([
      {
        version: 'v1',
        kind: 'acknowledgement',
        language: 'sv',
        sources: '{"sv/acknowledgement.txt.hbs":"Tack för ditt klagomål."}',
        first_used_at: '2026-12-07T09:00:01.000Z',
      },
    ]);
    expect(store.templateVersions('v2')).toEqual([expect.objectContaining({ sources: '{"sv/acknowledgement.txt.hbs":"Tack, vi återkommer."}' })]);
    store.db.close();
  });
});
