/**
 * What one run shares with its comparisons (imap.ts, maildir.ts): the dependencies, the
 * lookups of what is already stored, and the storing of a mail found never stored, with its
 * event, in one transaction.
 */
import fs from 'node:fs';
import type { Config, ImapSourceConfig } from '../config/config';
import type { EventType } from '../cases/lifecycle';
import type { Store } from '../store/store';
import type { Clock } from '../util/clock';
import { toInstant } from '../util/clock';
import type { Logger } from '../util/log';
import type { MailboxCredentials } from '../auth/credentials';
import { RawArrival, storeArrivals } from '../ingest/intake';
import type { SpooledRaw } from '../ingest/raw-files';
import type { FolderReport, FolderRole } from './report';

/** The event of a mail found on the server that had never been stored. */
export const FOUND_EVENT: EventType = 'reconcile-found-unfiled';

export interface ReconcileDeps {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly clock: Clock;
  /** File the given stored mails through the normal processor (the service's `process({ only })`). */
  readonly process: (inboundIds: readonly number[]) => Promise<unknown>;
  /** How an IMAP source logs in (default: its password variable or OAuth2 config, as the service does; the service passes its own, sharing the cached token). */
  readonly credentialsOf?: (source: ImapSourceConfig) => MailboxCredentials;
  /** Stops the run between folders (service shutdown); what was done is recorded. */
  readonly signal?: AbortSignal;
}

export interface Run {
  readonly deps: ReconcileDeps;
  readonly log: Logger;
  readonly runId: number;
  /** Is a mail of this Message-ID and size stored (any source)? */
  readonly messageIdKnown: (messageId: string, size: number) => boolean;
  /** Is a mail of this Message-ID and size stored from this source's Sent folder? */
  readonly sentMessageIdKnown: (source: string, folder: string, messageId: string, size: number) => boolean;
  readonly shaKnown: (sha: string) => boolean;
  /** After a restore, until this run has compared every mailbox (src/reconcile/after-restore.ts). */
  readonly restoring: boolean;
}

export function newFolder(source: string, folder: string, role: FolderRole): FolderReport {
  return { source, folder, role, uidvalidity: null, onServer: 0, known: 0, waiting: 0, notCompared: 0, found: [], filedNow: 0, error: null, unreadable: [] };
}

/** Store never-stored mails with their found-event, in one transaction. */
export function storeFound(
  run: Run,
  source: string,
  arrivals: readonly RawArrival[],
  describe: (a: RawArrival) => { where: string; detail: Record<string, unknown> },
): Array<{ arrival: RawArrival; id: number; created: boolean; where: string }> {
  const { store, clock, config } = run.deps;
  const now = toInstant(clock());
  return store.tx(() => {
    const results = storeArrivals(store, config.dataDir, source, arrivals, now);
    return results.map((r, i) => {
      const d = describe(arrivals[i]);
      if (r.created) {
        store.appendEvent({ at: now, inboundId: r.id, actor: 'system', type: FOUND_EVENT, detail: { run: run.runId, source, ...d.detail } });
      }
      return { arrival: arrivals[i], id: r.id, created: r.created, where: d.where };
    });
  });
}

export function dropSpool(raw: Buffer | SpooledRaw): void {
  if (!Buffer.isBuffer(raw)) fs.rmSync(raw.tmpPath, { force: true });
}
