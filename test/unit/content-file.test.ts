/**
 * Spooling a stream to a temporary file (src/util/content-file.ts: attachments, large raw mail).
 * Before: a source that failed at once (a mail that went from the IMAP server while it was
 * read) rejected the pipeline before the write stream had opened its file; the file was removed
 * before it existed and then created, so it stayed behind: 151 of 200 such spools left a file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { spoolToTemp } from '../../src/util/content-file';

describe('spooling to a temporary file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-spool-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('failedSpoolLeftItsFileBehind', async () => {
    for (let i = 0; i < 50; i++) {
      const failing = Readable.from(
        (async function* () {
          yield Buffer.from('Från: kund');
          throw new Error('the source went away');
        })(),
      );
      await expect(spoolToTemp(dir, failing)).rejects.toThrow('the source went away');
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('spooledFileHashedAndKept', async () => {
    const spooled = await spoolToTemp(dir, Readable.from([Buffer.from('abc')]));
    expect(spooled.size).toBe(3);
    expect(spooled.sha256).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(fs.readFileSync(spooled.tmpPath, 'utf8')).toBe('abc');
  });
});
