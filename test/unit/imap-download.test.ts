/**
 * A large mail read in chunks (src/ingest/imap-download.ts), against a stand-in for imapflow's
 * fetchAll that answers as a server does: the end of a mail whose length is a multiple of the
 * chunk, a server that ignores the range, a mail that goes while it is read, a server that
 * sends less than asked for in the middle of a mail, and a server that ignores the range on a
 * mail of exactly one chunk (it would be sent for ever).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import { downloadLarge } from '../../src/ingest/imap-download';

/** A client whose mail UID 7 is `mail`; `answer` may change what a chunk request gets. */
function serverWith(mail: Buffer, answer?: (start: number, maxLength: number) => Buffer | false | null): ImapFlow {
  return {
    usable: true,
    mailbox: { path: 'INBOX' },
    fetchAll: async (_range: string, query: { source: { start: number; maxLength: number } }) => {
      const { start, maxLength } = query.source;
      const source = answer ? answer(start, maxLength) : mail.subarray(start, start + maxLength);
      // false: the server answered the body with NIL (imapflow's `source: false`).
      return source !== null
        ? [
            { seq: 1, uid: 7, flags: new Set(['\\Seen']) },
            { seq: 1, uid: 7, source },
          ]
        : [];
    },
  } as unknown as ImapFlow;
}

describe('a large mail read in chunks', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-download-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  /** What is left in the spool folder (src/ingest/raw-files.ts). */
  const spooled = (): string[] => (fs.existsSync(path.join(dataDir, 'raw', 'tmp')) ? fs.readdirSync(path.join(dataDir, 'raw', 'tmp')) : []);

  test('mailOfWholeChunksReadToItsEnd', async () => {
    const mail = Buffer.from('a'.repeat(300));
    const got = await downloadLarge(serverWith(mail), 7, dataDir, 300, 100);
    expect(got?.size).toBe(300);
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('serverThatIgnoresTheRangeSendsTheMailOnce', async () => {
    const mail = Buffer.from('b'.repeat(250));
    const got = await downloadLarge(
      serverWith(mail, () => mail),
      7,
      dataDir,
      250,
      100,
    );
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('mailThatWentWhileItWasReadStoredShort', async () => {
    const mail = Buffer.from('c'.repeat(250));
    const server = serverWith(mail, (start, max) => (start >= 100 ? null : mail.subarray(start, start + max)));
    await expect(downloadLarge(server, 7, dataDir, 250, 100)).rejects.toThrow(/went from the server after 100 bytes/);
    expect(spooled()).toEqual([]); // the part read was not left behind
  });

  test('largeMailStoredCutShortWhenTheServerSentLessInTheMiddle', async () => {
    // A server that answers the second chunk with 60 bytes of the 100 asked for, against
    // RFC 3501 §6.4.5: the short chunk was taken for the end and 160 of 250 bytes were stored.
    const mail = Buffer.from('e'.repeat(250));
    const server = serverWith(mail, (start, max) => mail.subarray(start, start + (start === 100 ? 60 : max)));
    const got = await downloadLarge(server, 7, dataDir, 250, 100);
    expect(got?.size).toBe(250);
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('mailGoneAfterItsLastShortChunkKeptAsRead', async () => {
    // The end is confirmed by an empty chunk; a mail expunged just before that request had been
    // read whole (its last chunk was short), and can no longer be read again: it is kept.
    const mail = Buffer.from('f'.repeat(250));
    const server = serverWith(mail, (start, max) => (start >= 250 ? null : mail.subarray(start, start + max)));
    const got = await downloadLarge(server, 7, dataDir, 250, 100);
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('mailListedLargerThanItIsAndSentWholeForEachRangeStoredTwiceOver', async () => {
    // Listed at 150 bytes (an approximate RFC822.SIZE), 80 in truth, by a server that ignores the
    // range: the whole mail came again for the second request and was appended until the bound.
    const mail = Buffer.from('g'.repeat(80));
    const got = await downloadLarge(
      serverWith(mail, () => mail),
      7,
      dataDir,
      150,
      100,
    );
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('lastShortChunkPastTheSizeBoundFailedTheRead', async () => {
    // Listed at 100 bytes, 350 in truth: the bound (2 × 100 + 100) is passed only by the last,
    // short chunk, which ends the mail; the read must not fail on it (it would fail every scan).
    const mail = Buffer.from('h'.repeat(350));
    const got = await downloadLarge(serverWith(mail), 7, dataDir, 100, 100);
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('bodyNilPastTheEndOfAMailOfWholeChunksTakenForAMailThatWent', async () => {
    const mail = Buffer.from('i'.repeat(200));
    const server = serverWith(mail, (start, max) => (start >= 200 ? false : mail.subarray(start, start + max)));
    const got = await downloadLarge(server, 7, dataDir, 200, 100);
    expect(fs.readFileSync(got!.tmpPath).equals(mail)).toBe(true);
  });

  test('oneChunkMailSentForEverByAServerThatIgnoresTheRange', async () => {
    const mail = Buffer.from('d'.repeat(100));
    await expect(
      downloadLarge(
        serverWith(mail, () => mail),
        7,
        dataDir,
        100,
        100,
      ),
    ).rejects.toThrow(/more than twice its listed size/);
  });
});
