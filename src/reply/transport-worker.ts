/**
 * The worker thread of src/reply/transport-thread.ts: the configured transport, made here from
 * the same config, answering `send` and `verify` by message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { TransportConfig } from '../config/config';
import type { OutboxAttachmentRow } from '../store/store';
import { createTransport, SendError, type SendResult } from './transport';
import type { WorkerAnswer, WorkerRequest } from './transport-thread';
import { errorChain } from '../util/log';
import { redactSecrets } from '../util/secrets';

const port = parentPort;
if (!port) throw new Error('transport-worker.js runs as a worker thread only');
const transport = createTransport((workerData as { cfg: TransportConfig }).cfg);

/** A Buffer crosses to a worker as a plain Uint8Array: a Buffer again, on the same memory. */
const buffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

let inFlight = 0;
let closing = false;

/** Close the connections (SMTP QUIT) and end, once no send is in flight. */
function closeWhenIdle(): void {
  if (!closing || inFlight > 0) return;
  transport.close();
  port!.close();
}

port.on('message', (m: WorkerRequest | { op: 'close' }) => {
  if (m.op === 'close') {
    closing = true;
    closeWhenIdle();
    return;
  }
  inFlight++;
  // In a promise: a throw is this send's error, answered like any other, never the thread's end.
  const work = Promise.resolve().then((): Promise<SendResult> =>
    m.op === 'verify'
      ? transport.verify().then(() => ({ response: '' }))
      : transport.send(
          m.row,
          m.original ? buffer(m.original) : null,
          m.files.map((f): OutboxAttachmentRow => ({ ...f, content: f.content ? buffer(f.content) : null })),
        ),
  );
  work
    .then(
      (r) => port.postMessage({ id: m.id, response: r.response, ...(r.refused ? { refused: r.refused } : {}) } satisfies WorkerAnswer),
      (err: unknown) =>
        port.postMessage({
          id: m.id,
          // A SendError keeps its classification; anything else is temporary, as the sender treats it.
          error:
            err instanceof SendError
              ? {
                  message: err.message,
                  temporary: err.temporary,
                  responseCode: err.responseCode,
                  badAddress: err.badAddress,
                  copiesAccepted: err.copiesAccepted,
                }
              : { message: redactSecrets(errorChain(err)), temporary: true },
        } satisfies WorkerAnswer),
    )
    .finally(() => {
      inFlight--;
      closeWhenIdle();
    });
});
