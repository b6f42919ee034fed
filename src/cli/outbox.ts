/**
 * `klagomal outbox`: the queued and sent mail; `outbox retry ID` puts a failed mail back in
 * the queue (the transition failed -> queued and its event in one transaction); `outbox unblock
 * ADDRESS` lifts an address's failing mark (a permanent bounce or a refusal at RCPT TO), with an
 * event on each of that customer's cases.
 */
import { normaliseAddress } from '../util/header-safe';
import { FAILED_MAIL_FILES_DAYS } from '../retention/retention';
import { outboxView } from '../cases/view';
import { toInstant } from '../util/clock';
import { UsageError, wholeNumber } from './args';
import { Command, configOf, json, NotFound, operatorName, withStore } from './shared';
import { table } from './table';

export const outboxCommand: Command = {
  summary: 'list queued and sent mail; `outbox retry ID` puts a failed mail back in the queue; `outbox unblock ADDRESS` lifts a failing mark',
  usage:
    'klagomal outbox [--status queued|sending|sent|failed] [--json] [--config FILE]\n       klagomal outbox retry ID\n       klagomal outbox unblock ADDRESS',
  options: { status: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] === 'unblock') {
      if (positionals.length !== 2) throw new UsageError('usage: klagomal outbox unblock ADDRESS');
      const address = normaliseAddress(positionals[1]);
      if (!address) throw new UsageError(`not an e-mail address: ${JSON.stringify(positionals[1].slice(0, 80))}`);
      return withStore(configOf(values), (store) => {
        const at = toInstant(new Date());
        const cases = store.tx(() => {
          const ids = store.clearAddressFailing(address);
          for (const caseId of ids ?? [])
            store.appendEvent({ at, caseId, actor: 'operator', type: 'address-unblocked', detail: { user: operatorName(values) } });
          return ids;
        });
        if (cases === null) throw new NotFound(`${address} is not marked failing`);
        io.out(`${address} is no longer marked failing: automatic mail and answers go to it again (${cases.length} case(s) noted)`);
        return 0;
      });
    }
    if (positionals.length > 0) {
      if (positionals[0] !== 'retry' || positionals.length !== 2)
        throw new UsageError('usage: klagomal outbox retry ID\n       klagomal outbox unblock ADDRESS');
      const id = wholeNumber('ID', positionals[1], 1);
      return withStore(configOf(values), (store) => {
        const at = toInstant(new Date());
        // A mail whose files retention removed would go out without them (a pack without its
        // charts and register): it is made again instead.
        if (store.outboxRow(id)?.status === 'failed' && store.outboxFilesBlanked(id) > 0)
          throw new NotFound(
            `outbox mail ${id} lost its attached files to retention (a failed mail keeps them ${FAILED_MAIL_FILES_DAYS} days); make it again (a monthly pack: klagomal report monthly --month YYYY-MM --send)`,
          );
        // A mail whose case retention anonymised has lost its text (and the customer's address):
        // sent again it would go out blank.
        if (store.outboxRow(id)?.status === 'failed' && store.outboxBlankedByRetention(id))
          throw new NotFound(`outbox mail ${id} was emptied by retention: its text is removed, there is nothing left to send`);
        const ok = store.tx(() => {
          if (!store.requeueFailedOutbox(id, at)) return false;
          store.appendEvent({
            at,
            caseId: store.outboxRow(id)?.case_id ?? null,
            outboxId: id,
            actor: 'operator',
            type: 'mail-requeued',
            fromState: 'failed',
            toState: 'queued',
            detail: { user: operatorName(values) },
          });
          return true;
        });
        if (!ok) throw new NotFound(`outbox mail ${id} is not failed`);
        io.out(`outbox mail ${id} queued again; start or run --once sends it`);
        return 0;
      });
    }
    const status = values.status as string | undefined;
    const allowed = ['queued', 'sending', 'sent', 'failed'];
    if (status !== undefined && !allowed.includes(status)) throw new UsageError(`unknown status '${status}'; allowed: ${allowed.join(', ')}`);
    const config = configOf(values);
    withStore(config, (store) => {
      const rows = store.listOutbox(status as 'queued' | undefined).map(outboxView);
      if (values.json) io.out(json(rows));
      else if (rows.length === 0) io.out('outbox is empty');
      else
        io.out(
          table(
            ['ID', 'CASE', 'TO', 'SUBJECT', 'TEMPLATE', 'STATUS', 'TRIES', 'MESSAGE-ID', 'NOTE'],
            rows.map((r) => [
              r.id,
              r.case,
              r.to,
              r.subject,
              `${r.template}/${r.language}@${r.templateVersion}`,
              r.status,
              r.attempts,
              r.messageId,
              r.status === 'sent' ? r.sentAt : (r.lastError ?? (r.nextAttemptAt ? `next ${r.nextAttemptAt}` : '')),
            ]),
          ),
        );
    });
    return 0;
  },
};
