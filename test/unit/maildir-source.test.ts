/**
 * The Maildir source (src/ingest/maildir.ts) against a mail file that is still being written
 * while it is read: a copy straight into new/ (scp, a network share) instead of the Maildir way
 * (written in tmp/, renamed into new/). Stored at once, the part read was filed cut short, and the
 * whole mail again by the next reconciliation, which found the grown file in cur/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MaildirSource } from '../../src/ingest/maildir';
import { silentLogger } from '../../src/util/log';
import { complaintMail, deliverToMaildir, makeWorld, World } from '../support/world';

let w: World;
afterEach(() => {
  jest.restoreAllMocks();
  w?.cleanup();
});

test('fileStillBeingWrittenWhileReadStoredCutShort', async () => {
  w = makeWorld();
  const whole = Buffer.from(complaintMail(1, { messageId: 'growing@example.com' }));
  const cut = 200;
  deliverToMaildir(w.maildir, whole.subarray(0, cut), 'growing');
  const file = path.join(w.maildir, 'new', 'growing');
  fs.mkdirSync(path.join(w.maildir, 'tmp'), { recursive: true });
  // The copy writes the rest of the mail while the source reads the first part.
  const read = fs.readFileSync;
  let resumed = false;
  jest.spyOn(fs, 'readFileSync').mockImplementation(((p: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    const got = (read as (...a: unknown[]) => unknown)(p, ...rest);
    if (p === file && !resumed) {
      resumed = true;
      fs.appendFileSync(file, whole.subarray(cut));
    }
    return got;
  }) as typeof fs.readFileSync);
  const { store, close } = w.store();
  // A clock ahead of the file's time: it has not changed for longer than the settle time.
  const source = new MaildirSource(
    { type: 'maildir', name: 'klagomal', path: w.maildir, pollSeconds: 1 },
    store,
    () => new Date(Date.now() + 10_000),
    silentLogger,
    w.dataDir,
  );
  try {
    await source.pollOnce();
    expect(store.db.prepare('SELECT count(*) AS n FROM inbound').get()).toEqual({ n: 0 });
    expect(fs.readdirSync(path.join(w.maildir, 'new'))).toEqual(['growing']);
    // Once it has stopped growing it is taken, whole.
    await source.pollOnce();
    const rows = store.db.prepare('SELECT size FROM inbound').all() as Array<{ size: number }>;
    expect(rows).toEqual([{ size: whole.length }]);
  } finally {
    close();
  }
});
