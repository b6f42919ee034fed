/**
 * The child process of an isolated attempt (src/pipeline/isolation.ts): forked with a heap limit,
 * it opens the database itself and files the mails it is handed one at a time, through the same
 * Processor as the service (parse, classify, file, or quarantine on a thrown error), each in its
 * own transaction, and reports each result once committed.
 *
 * It exits when its parent closes the IPC channel, also when the parent itself died: a mail
 * half-read then stays stored, and the next start tries it again (the attempts counter bounds
 * how often).
 */
import { openDatabase, DB } from '../store/db';
import { Store } from '../store/store';
import { TemplateManager } from '../reply/template-manager';
import { calendarsFor } from '../deadlines/deadlines';
import { createLogger, errorChain, flushLogs } from '../util/log';
import { Processor } from './processor';
import type { FromChild, ToChild } from './isolation';
import { StorageError } from '../util/storage-error';

let db: DB | null = null;
let processor: Processor | null = null;
/** Each mail is filed at the instant the parent decided, as it would have been in the parent. */
let now = new Date();

function send(m: FromChild): void {
  process.send?.(m);
}

async function handle(m: ToChild): Promise<void> {
  if (m.type === 'init') {
    const log = createLogger({ pretty: m.prettyLogs }, { stage: 'isolated' });
    db = openDatabase(m.config.database);
    const store = new Store(db);
    const templates = TemplateManager.open(store, m.config, log.child({ stage: 'templates' }));
    processor = new Processor(store, m.config, templates, calendarsFor(m.config.deadlines), () => now, log);
    send({ type: 'ready' });
    return;
  }
  if (!processor) throw new Error('a mail before init');
  now = new Date(m.now);
  send({ type: 'result', id: m.id, result: await processor.processAlone(m.id, m.state) });
}

function leave(code: number): void {
  try {
    db?.close();
  } catch {
    /* closing is best effort: SQLite keeps nothing half-written */
  }
  flushLogs();
  process.exit(code);
}

process.on('message', (m: ToChild) => {
  handle(m).catch((err: unknown) => {
    const storage = err instanceof StorageError ? err.failure : undefined;
    send({ type: 'error', message: errorChain(storage ? (err as Error).cause : err), storage });
    leave(1);
  });
});
process.on('disconnect', () => leave(0));
