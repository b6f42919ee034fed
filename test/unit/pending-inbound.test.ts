/**
 * Issue 16: the processor asks for the next batch of stored mails, fresh ones first (oldest
 * first), then the ones whose processing started before without finishing. One query ordered by
 * (attempts > 0, id) sorted every stored mail for each batch, a cost that grew with the backlog;
 * two walks of the pending index now stop at the batch size (the gain is measured in the bench,
 * not here). This test holds the order to what it was.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';

describe('the next batch of stored mails', () => {
  test('pendingMailsComeFreshOldestFirstThenStarted', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-pending-'));
    const db = openDatabase(path.join(dir, 'klagomal.db'));
    try {
      const store = new Store(db);
      const ids: number[] = [];
      for (let i = 0; i < 40; i++) {
        const bytes = Buffer.from(`Message-ID: <p${i}@example.com>\r\n\r\nhej ${i}\r\n`);
        const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
        ids.push(
          store.storeInbound(
            {
              source: 'k',
              mailbox: 'INBOX',
              locator: null,
              sourceKey: `k:${i}`,
              uidvalidity: '1',
              uid: i + 1,
              receivedAt: '2026-12-07T08:00:00.000Z',
              sha256,
              size: bytes.length,
              raw: { bytes },
            },
            '2026-12-07T08:00:00.000Z',
          ).id,
        );
      }
      // Mails 3, 10 and 25 were started by a process that stopped.
      for (const i of [3, 10, 25]) store.bumpProcessingAttempt(ids[i]);
      const started = [ids[3], ids[10], ids[25]];
      const fresh = ids.filter((id) => !started.includes(id));

      // A batch within the fresh mails: only fresh ones, oldest first.
      expect(store.pendingInbound(10).map((r) => r.id)).toEqual(fresh.slice(0, 10));
      // A batch past them: every fresh mail, then the started ones in their order.
      expect(store.pendingInbound(100).map((r) => r.id)).toEqual([...fresh, ...started]);
      expect(store.pendingInbound(38).map((r) => r.id)).toEqual([...fresh, started[0]]);
      // The same order as the mails named one by one (the isolated path).
      expect(store.pendingInboundIn([...ids].reverse()).map((r) => r.id)).toEqual([...fresh, ...started]);
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
