/**
 * Issue 16: before its first mail is parsed, a batch's processing attempts are counted (so that
 * a process which dies in the batch leaves every mail of it known to have been in flight, see
 * src/pipeline/processor.ts). That count was one commit per mail, a tenth of the service's CPU
 * on a backlog; it is one commit per batch now, and every mail of the batch is counted before
 * any of them is parsed.
 */
import path from 'node:path';
import { Processor } from '../../src/pipeline/processor';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { silentLogger } from '../../src/util/log';
import * as parse from '../../src/parse/parse';
import { makeFirm, rawMail, rows, Firm } from '../support/personal-data';

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));
const AT = new Date('2026-12-07T09:00:00Z');

describe('the processing attempts of a batch', () => {
  let f: Firm;
  /** `n` complaints from different customers, stored as a source stores them; their inbound ids. */
  const storeComplaints = (n: number): number[] =>
    storeArrivals(
      f.store,
      f.config.dataDir,
      'klagomal',
      Array.from({ length: n }, (_, i) => ({ raw: rawMail({ from: `kund${i}@example.com` }), receivedAt: AT, mailbox: null, locator: null, sourceKey: null })),
      AT.toISOString(),
    ).map((s) => s.id);
  const processor = (): Processor => new Processor(f.store, f.config, TEMPLATES, calendarsFor(f.config.deadlines), () => AT, silentLogger);
  beforeEach(() => {
    f = makeFirm({ processing: { batchSize: 8 } });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    f.close();
  });

  test('attemptsOfABatchCommittedOncePerMail', async () => {
    const stored = storeComplaints(20);
    const commits = jest.spyOn(f.store, 'txRelaxed');
    // What each parse finds counted: every mail of its batch, the ones not yet reached too.
    const seenAtParse: number[][] = [];
    const realParse = parse.parseMail;
    jest.spyOn(parse, 'parseMail').mockImplementation((input, opts) => {
      seenAtParse.push((rows(f, "SELECT attempts FROM inbound WHERE state = 'stored' ORDER BY id") as Array<{ attempts: number }>).map((r) => r.attempts));
      return realParse(input, opts);
    });

    const results = await processor().processPending();

    expect(results.map((r) => r.kind)).toEqual(Array(20).fill('complaint'));
    expect(results.map((r) => r.inboundId)).toEqual(stored);
    // Batches of 8, 8 and 4: one commit of the attempts each.
    expect(commits).toHaveBeenCalledTimes(3);
    expect(seenAtParse).toHaveLength(20);
    expect(seenAtParse[0]).toEqual([...Array(8).fill(1), ...Array(12).fill(0)]);
    expect(seenAtParse[7]).toEqual([...Array(8).fill(1), ...Array(12).fill(0)]);
    expect(seenAtParse[8]).toEqual([...Array(8).fill(1), ...Array(4).fill(0)]);
    expect(seenAtParse[19]).toEqual(Array(4).fill(1));
    expect(rows(f, 'SELECT DISTINCT state, attempts FROM inbound')).toEqual([{ state: 'filed', attempts: 1 }]);
  });

  test('mailsNotReachedCountedAsInFlightWhenTheBatchStopped', async () => {
    // The batch stops at its third mail on a failure that is no mail's (the store cannot be
    // read): the mails after it were never parsed and must not go to isolation as if they had
    // been in flight; the mails before it were, as was the third.
    const stored = storeComplaints(6);
    const third = (rows(f, 'SELECT sha256 FROM inbound WHERE id = ?', stored[2])[0] as { sha256: string }).sha256;
    const realRawMail = f.store.rawMail.bind(f.store);
    jest.spyOn(f.store, 'rawMail').mockImplementation((sha) => {
      if (sha === third) throw new Error('the store could not be read');
      return realRawMail(sha);
    });

    await expect(processor().processPending()).rejects.toThrow('the store could not be read');
    expect((rows(f, 'SELECT state, attempts FROM inbound ORDER BY id') as Array<{ state: string; attempts: number }>).map((r) => r.attempts)).toEqual([
      1, 1, 1, 0, 0, 0,
    ]);
  });

  test('resultsOfAWholeBacklogKeptAliveByAPassThatHandsThemOn', async () => {
    // Before: every outcome of a pass was also kept in the array it returns, for the whole pass;
    // the service's loop, which takes each by onResult and drops the array, held 50,000 of them
    // (~20 MB of live heap) by the end of a 50,000 backlog.
    const stored = storeComplaints(20);
    const seen: number[] = [];
    const returned = await processor().processPending({ onResult: (r) => seen.push(r.inboundId) });
    expect(seen).toEqual(stored);
    expect(returned).toBeUndefined();
    // A caller without onResult still gets them all (`klagomal ingest` prints them).
    const more = storeComplaints(3);
    expect((await processor().processPending()).map((r) => r.inboundId)).toEqual(more);
  });
});
