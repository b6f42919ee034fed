/**
 * Personal data read from attached documents (issue 19): the text and form fields stored with an
 * attachment are the customer's like the mail text, so retention removes them with the
 * attachment when it anonymises the case. Filed the pipeline's way, with the documents stage
 * (src/documents/stage.ts) in front of processMail; ten years pass by giving the run a later now.
 */
import { storeArrivals } from '../../src/ingest/intake';
import { parseMail } from '../../src/parse/parse';
import { processMail } from '../../src/pipeline/processor';
import { DocumentReader } from '../../src/documents/reader';
import { readAttachedDocuments } from '../../src/documents/stage';
import { runRetention } from '../../src/retention/retention';
import { toInstant } from '../../src/util/clock';
import { closeCase, Firm, makeFirm, rawMail, rows } from '../support/personal-data';
import { FORM_VALUES_SV, filledFormPdf } from '../support/documents';

jest.setTimeout(30_000);

const RECEIVED = new Date('2026-11-20T09:00:00+01:00');
const CLOSED = new Date('2026-11-25T10:00:00+01:00');
const NOW = new Date('2036-11-26T10:00:00+01:00');

let f: Firm;
afterEach(() => f.close());

test('anonymisedCaseKeepsNoTextReadFromItsAttachments', async () => {
  f = makeFirm();
  const bytes = rawMail({
    from: 'Örjan Ärlig <orjan@example.com>',
    body: 'Hej, formuläret är bifogat.',
    date: 'Fri, 20 Nov 2026 09:00:00 +0100',
    attachment: { filename: 'formular.pdf', content: await filledFormPdf(FORM_VALUES_SV) },
  });
  const [stored] = storeArrivals(
    f.store,
    f.config.dataDir,
    'klagomal',
    [{ raw: bytes, receivedAt: RECEIVED, mailbox: null, locator: null, sourceKey: null }],
    toInstant(RECEIVED),
  );
  const parsed = await parseMail(bytes, { dataDir: f.config.dataDir });
  const documents = await readAttachedDocuments(new DocumentReader(f.config.documents), f.config, parsed);
  const filed = f.store.tx(() => processMail(f.ctx, f.store.inbound(stored.id)!, parsed, RECEIVED, documents));
  const caseId = filed.caseId!;
  const readings = () =>
    rows(
      f,
      'SELECT r.* FROM attachment_readings r JOIN attachments a ON a.id = r.attachment_id JOIN messages m ON m.id = a.message_row WHERE m.case_id = ?',
      caseId,
    );
  expect(readings()).toHaveLength(1);
  expect(JSON.stringify(readings())).toMatch(/Örjan Ärlig/);

  closeCase(f, caseId, CLOSED);
  const r = await runRetention({ store: f.store, config: f.config }, { now: NOW, trigger: 'command' });
  expect(r.anonymised.map((x) => x.number)).toEqual([filed.caseNumber]);
  expect(rows(f, 'SELECT * FROM attachment_readings')).toEqual([]);
  // The fields' sources name the customer's file: not kept either.
  expect(JSON.parse(f.store.caseById(caseId)!.fields).sources).toBeUndefined();
});
