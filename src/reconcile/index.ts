/**
 * Reconciliation: proof that nothing on the server was silently never filed.
 *
 * The worst failure of the peers is a mail that is never imported and nobody notices: a cursor
 * that jumped past a mail, a restore from an old backup, a bug in a source, a person moving
 * mail with a mail client. The sources trust their cursors; this pass does not. It compares
 * what is on the server with what the database holds, and re-checks what the database holds:
 *
 *  - IMAP, per source, on a short-lived connection of its own: the processed folder, the Sent
 *    folder (when watched) and the watched folder are listed with UID, size and Message-ID (one
 *    FETCH per folder, no bodies). A mail is known when it was stored from that folder under
 *    its UIDVALIDITY and UID; else by its Message-ID (a mail moved to the processed folder has
 *    a new UID there); else it is fetched and known by its sha256 (no Message-ID, or stored
 *    but not filed yet). Mail above the source's cursor is the source's to take (`waiting`),
 *    as is a whole folder whose new UIDVALIDITY the source has not seen yet (it rescans it).
 *    The Sent folder is read by its source only from the moment it was first seen, so only
 *    its part from the first mail stored from it on is compared (the rest is `notCompared`).
 *  - Maildir: the files in cur/, by name and size, else by sha256. new/ is the source's queue.
 *    A file that cannot be read is reported (`unreadable`) and the others are still compared.
 *  - Raw mail: every stored raw mail (bytes in the database, files under data/raw) is hashed
 *    again and compared with its sha256. Missing and mismatching ones are reported, never
 *    "repaired": which copy is right is for a person to judge.
 *
 * A mail on the server that was never stored is stored through the intake (source key
 * `reconcile:<source>:<folder>:<uidvalidity>:<uid>`, or `reconcile:<source>:<name>:<hash>`
 * for a Maildir file), gets an event `reconcile-found-unfiled` in the same transaction, and is
 * filed by the normal processor. On the server it gets only what its source would have done:
 * a mail found in the watched folder is flagged \Seen and moved to the processed folder, after
 * the commit; the processed and Sent folders are opened read-only (EXAMINE).
 *
 * Every run is a row in reconcile_runs; what it finds or finds damaged is logged as an error
 * and mailed to firm.adminAddress (run.ts). Nothing here deletes anything, in the database or
 * on a server.
 *
 * The folder, in the order of a run:
 *  - run.ts         `reconcile()`: the orchestration, the run's row, the admin notice queued
 *  - context.ts     what a run shares with its comparisons; storing a found mail with its event
 *  - plan.ts        the pure decisions: known, waiting, not compared, to check by hash
 *  - imap.ts        an IMAP source's folders on a connection of its own
 *  - maildir.ts     a Maildir source's cur/
 *  - verify-raw.ts  every stored raw mail hashed again
 *  - report.ts      the report's types, `alarming`, the bilingual admin notice (pure)
 *  - summary.ts     the last run as `klagomal status` shows it
 *  - after-restore.ts the run after a restore from a backup: it takes what is above the
 *                   sources' cursors too (it alone sees how the lost install marked it), and
 *                   reserves the case numbers of the gap before anything is filed
 *
 * May import: store (all its SQL is in src/store/reconcile-runs.ts), ingest (the intake, raw
 * files, the IMAP connection helpers: found mail is stored exactly as a source stores it),
 * auth, reply (the admin's mail), config, util, types of cases and cases/after-restore.ts (the
 * case-number pattern and the gap's type). Not ops, cli or pipeline:
 * the processor is handed in (`ReconcileDeps.process`). Imported by the service, `klagomal
 * reconcile` (src/cli/reconcile.ts) and `status` (src/ops/status.ts).
 */
export { reconcile } from './run';
export { FOUND_EVENT } from './context';
export type { ReconcileDeps } from './context';
export { adminNotice, alarming } from './report';
export type { DamagedRaw, FolderReport, FolderRole, FoundMail, RawReport, ReconcileReport, ReconcileTrigger } from './report';
export { maildirLocator, messageIdFromHeaders, planFolder, planMaildir } from './plan';
export type { FolderFacts, FolderPlan, MaildirFile, ServerMail } from './plan';
export { verifyRawMail } from './verify-raw';
export { lastReconcileRun } from './summary';
export type { ReconcileRunSummary } from './summary';
