/**
 * Reconciliation of an IMAP source, on a short-lived connection of its own: the processed
 * folder, the Sent folder (when watched) and the watched folder are listed with UID, size and
 * Message-ID (one FETCH per folder, no bodies), planned (plan.ts), and what is not known is
 * fetched, hashed, and stored when never stored. Found mail in the watched folder is then
 * marked as its source would (\Seen, moved to the processed folder); the other folders are
 * opened read-only (EXAMINE).
 */
import { ImapFlow } from 'imapflow';
import type { ImapSourceConfig } from '../config/config';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { connectMailbox, mailboxConnection } from '../ingest/imap';
import { uidSet } from '../ingest/imap-listing';
import { downloadLarge, refuseClosed } from '../ingest/imap-download';
import { describeError } from '../ingest/source-status';
import { RawArrival, sha256 } from '../ingest/intake';
import { LARGE_MAIL_BYTES, SpooledRaw } from '../ingest/raw-files';
import { credentialsFor, Login } from '../auth/credentials';
import type { FolderReport } from './report';
import { messageIdFromHeaders, minimum, planFolder, ServerMail } from './plan';
import { dropSpool, newFolder, Run, storeFound } from './context';

/** Mails fetched per FETCH of bodies, and the bytes of one such batch. */
const FETCH_BATCH = 50;
const FETCH_BATCH_BYTES = 16 * 1024 * 1024;

function imapClient(s: ImapSourceConfig, login: Login, log: Logger): ImapFlow {
  const client = new ImapFlow({
    ...mailboxConnection(s, login),
    // A short-lived connection that only lists and fetches: no IDLE between commands.
    disableAutoIdle: true,
    socketTimeout: 5 * 60_000,
  });
  client.on('error', (err: Error) => log.warn('reconcile: imap connection error', { source: s.name, error: errorChain(err) }));
  return client;
}

export async function reconcileImapSource(run: Run, s: ImapSourceConfig): Promise<FolderReport[]> {
  // The processed and Sent folders first: a mail this run moves out of the watched folder then
  // lands in a folder already compared, instead of being fetched and hashed a second time.
  const folders: Array<{ folder: string; role: 'watched' | 'processed' | 'sent' }> = [
    ...(s.processedFolder ? [{ folder: s.processedFolder, role: 'processed' as const }] : []),
    ...(s.sentFolder ? [{ folder: s.sentFolder, role: 'sent' as const }] : []),
    { folder: s.mailbox, role: 'watched' as const },
  ];
  const reports = folders.map((f) => newFolder(s.name, f.folder, f.role));
  const credentials = run.deps.credentialsOf ? run.deps.credentialsOf(s) : credentialsFor(s);
  let client: ImapFlow | null = null;
  // Folders handled (compared, or failed with their own error); the rest share a connection failure.
  const handled = new Set<number>();
  const inboxName = (p: string): string => (p.toUpperCase() === 'INBOX' ? 'INBOX' : p);
  try {
    client = (await connectMailbox(credentials, (login) => imapClient(s, login, run.log))).client;
    const existing = new Set((await client.list()).map((m) => inboxName(m.path)));
    for (let i = 0; i < folders.length; i++) {
      const { folder, role } = folders[i];
      if (run.deps.signal?.aborted) break;
      if (!client.usable) throw new Error('the IMAP connection was lost');
      handled.add(i);
      if (!existing.has(inboxName(folder))) {
        // The source creates its processed folder when it first connects: not there yet, nothing in it.
        if (role !== 'processed') reports[i].error = `the folder ${folder} does not exist on the server`;
        continue;
      }
      try {
        await reconcileImapFolder(run, client, s, role, reports[i]);
      } catch (err) {
        reports[i].error = errorChain(err);
        run.log.error('reconcile: cannot compare a folder', { source: s.name, mailbox: folder, error: reports[i].error });
      }
    }
  } catch (err) {
    // With the server's own reason (AUTHENTICATIONFAILED ...), not only imapflow's "Command failed".
    const error = describeError(err);
    run.log.error('reconcile: cannot reach the IMAP server', { source: s.name, error });
    reports.forEach((r, i) => {
      if (!handled.has(i)) r.error = error;
    });
  } finally {
    const c = client as ImapFlow | null;
    if (c) await c.logout().catch(() => c.close());
  }
  return reports;
}

async function reconcileImapFolder(
  run: Run,
  client: ImapFlow,
  s: ImapSourceConfig,
  role: 'watched' | 'processed' | 'sent',
  report: FolderReport,
): Promise<void> {
  const { store } = run.deps;
  const folder = report.folder;
  // EXAMINE where we never change anything: no \Recent taken, no flag touched by accident.
  const lock = await client.getMailboxLock(folder, { readOnly: role !== 'watched' });
  try {
    const mailbox = client.mailbox;
    if (!mailbox) throw new Error(`mailbox ${folder} is not open`);
    const uidvalidity = String(mailbox.uidValidity);
    report.uidvalidity = uidvalidity;
    const storedUidsNow = (): Set<number> => new Set(store.storedUids(s.name, folder, uidvalidity));

    // The Sent folder can hold years of the shared mailbox's mail that is not ours to read:
    // list only from the first mail its source stored (or from its cursor when none yet).
    let from = 1;
    if (role === 'sent') {
      const cursor = store.cursor(s.name, folder);
      const first = minimum(storedUidsNow());
      from = cursor && cursor.uidvalidity === uidvalidity ? (first ?? cursor.last_uid + 1) : Number(mailbox.uidNext ?? 1);
    }
    const listing =
      mailbox.exists === 0
        ? []
        : await client.fetchAll(`${from}:*`, { uid: true, size: true, internalDate: true, headers: ['message-id'], flags: role === 'watched' }, { uid: true });
    // An empty listing of a folder that has mail: a closed connection, not an empty folder.
    if (listing.length === 0 && mailbox.exists > 0) refuseClosed(client, `the folder ${folder} was listed`);
    // "N:*" also answers the highest message when its UID is below N (RFC 3501 §6.4.8): filter.
    const mails: ServerMail[] = listing
      .filter((m) => m.uid >= from)
      .map((m) => ({
        uid: m.uid,
        size: m.size ?? 0,
        messageId: messageIdFromHeaders(m.headers),
        internalDate: m.internalDate ? new Date(m.internalDate) : null,
        ...(role === 'watched' ? { seen: m.flags?.has('\\Seen') ?? false } : {}),
      }));

    // The database is read after the listing: a source stores a mail before it moves or flags
    // it, so a mail listed here that the database does not know yet was really never stored.
    const cursor = role === 'processed' ? null : store.cursor(s.name, folder);
    const plan = planFolder(
      mails,
      {
        role,
        uidvalidity,
        cursor: cursor ? { uidvalidity: cursor.uidvalidity, lastUid: cursor.last_uid } : null,
        storedUids: storedUidsNow(),
        restoring: run.restoring,
      },
      role === 'sent' ? (id, size) => run.sentMessageIdKnown(s.name, folder, id, size) : run.messageIdKnown,
    );
    // Only the Sent folder is listed in part; what it was not listed from is its history.
    const unlisted = role === 'sent' ? Math.max(0, mailbox.exists - mails.length) : 0;
    report.onServer = mails.length + unlisted;
    report.known = plan.known;
    report.waiting = plan.waiting;
    report.notCompared = plan.notCompared + unlisted;

    const seenUids = new Set(mails.filter((m) => m.seen).map((m) => m.uid));
    await fetchRaw(client, plan.toCheck, run.deps.config.dataDir, async (got) => {
      const fresh: RawArrival[] = [];
      for (const { mail, raw } of got) {
        if (run.shaKnown(Buffer.isBuffer(raw) ? sha256(raw) : raw.sha256)) {
          report.known++;
          dropSpool(raw);
          continue;
        }
        fresh.push({
          raw,
          receivedAt: mail.internalDate ?? run.deps.clock(),
          mailbox: folder,
          locator: String(mail.uid),
          sourceKey: `reconcile:${s.name}:${folder}:${uidvalidity}:${mail.uid}`,
          uidvalidity,
          uid: mail.uid,
        });
      }
      if (fresh.length === 0) return;
      const stored = storeFound(run, s.name, fresh, (a) => ({
        where: `UID ${a.uid}`,
        detail: { mailbox: folder, role, uidvalidity, uid: a.uid, ...(run.restoring ? { takenBefore: takenBefore(role, folder, seenUids.has(a.uid!)) } : {}) },
      }));
      for (const r of stored) {
        if (!r.created) {
          report.known++; // a concurrent run stored it a moment ago
          continue;
        }
        report.found.push({ where: r.where, inboundId: r.id, state: 'stored', kind: null, caseNumber: null });
        run.log.error('reconcile: a mail on the server had never been stored; stored it and filing it now', {
          run: run.runId,
          source: s.name,
          mailbox: folder,
          uid: r.arrival.uid ?? undefined,
          inbound: r.id,
        });
      }
      // Committed; now what the source would have done to it. Only the watched folder's mail is
      // marked: \Seen, then moved to the processed folder. If that fails, the source's own
      // recovery of unmarked mail (server_marked_at still null) does it on its next scan.
      if (role === 'watched') {
        const uids = stored.map((r) => r.arrival.uid!);
        const range = uidSet(uids);
        const marked =
          (await client.messageFlagsAdd(range, ['\\Seen'], { uid: true })) &&
          (!s.processedFolder || (await client.messageMove(range, s.processedFolder, { uid: true })) !== false);
        if (!marked) {
          run.log.warn('reconcile: the server refused to mark found mail; the source marks it on its next scan', { source: s.name, mailbox: folder });
          return;
        }
      }
      store.markServerDone(
        stored.map((r) => r.id),
        toInstant(run.deps.clock()),
      );
    });
    // After a restore this run took what was above the source's cursor: the source goes on after it.
    if (run.restoring && role !== 'processed' && mails.length > 0) {
      const top = Math.max(...mails.map((m) => m.uid));
      if (!cursor || cursor.uidvalidity !== uidvalidity || cursor.last_uid < top)
        store.setCursor(s.name, folder, uidvalidity, top, toInstant(run.deps.clock()));
    }
  } finally {
    lock.release();
  }
}

/**
 * Where the install before a restore had put or marked a mail found after it (the reason it is
 * filed quietly, src/cases/after-restore.ts), or null for mail nobody had taken: unread in the
 * watched folder.
 */
function takenBefore(role: 'watched' | 'processed' | 'sent', folder: string, seen: boolean): string | null {
  if (role === 'processed') return `moved to the processed folder ${folder}`;
  if (role === 'sent') return `in the Sent folder ${folder}`;
  return seen ? `flagged \\Seen in ${folder}` : null;
}

/**
 * Fetch the bodies of `mails` in batches (as the source does: many small mails in one FETCH, a
 * large one alone, streamed into a spool file) and hand each batch to `onBatch`. A mail
 * expunged meanwhile is simply not handed on. A connection that closed fails the run instead:
 * imapflow answers a FETCH on it with nothing, and after a restore the source's cursor is moved
 * past what this run listed, so mails taken for expunged there would never be read again.
 */
export async function fetchRaw(
  client: ImapFlow,
  mails: readonly ServerMail[],
  dataDir: string,
  onBatch: (got: Array<{ mail: ServerMail; raw: Buffer | SpooledRaw }>) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < mails.length;) {
    const batch: ServerMail[] = [];
    let bytes = 0;
    if (mails[i].size > LARGE_MAIL_BYTES) batch.push(mails[i++]);
    else
      while (
        i < mails.length &&
        mails[i].size <= LARGE_MAIL_BYTES &&
        batch.length < FETCH_BATCH &&
        (batch.length === 0 || bytes + mails[i].size <= FETCH_BATCH_BYTES)
      ) {
        bytes += mails[i].size;
        batch.push(mails[i++]);
      }
    const got: Array<{ mail: ServerMail; raw: Buffer | SpooledRaw }> = [];
    if (batch.length === 1 && batch[0].size > LARGE_MAIL_BYTES) {
      const spooled = await downloadLarge(client, batch[0].uid, dataDir, batch[0].size);
      if (spooled) got.push({ mail: batch[0], raw: spooled });
    } else {
      const byUid = new Map(batch.map((m) => [m.uid, m]));
      for (const m of await client.fetchAll(uidSet([...byUid.keys()]), { uid: true, source: true }, { uid: true })) {
        const mail = byUid.get(m.uid);
        if (mail && m.source) got.push({ mail, raw: m.source });
      }
      if (got.length < batch.length) refuseClosed(client, 'mails were fetched for reconciliation');
    }
    if (got.length > 0) await onBatch(got);
  }
}
