/**
 * `klagomal mail list`: every inbound mail by kind, also those that opened no case
 * (auto-replies, bounces, lists, duplicates), with the reason it was classified so.
 */
import { MAIL_KINDS, MailKind } from '../cases/lifecycle';
import { UsageError, wholeNumber } from './args';
import { Command, configOf, json, withStore } from './shared';
import { table } from './table';

/** The most mails `mail list` prints at once. */
const MAIL_LIST_MAX = 1_000_000;

export const mailCommand: Command = {
  summary: 'every inbound mail, by kind: also those that opened no case (auto-replies, bounces, lists)',
  usage: `klagomal mail list [--kind ${MAIL_KINDS.join('|')}] [--limit N] [--json] [--config FILE]`,
  options: { kind: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] !== 'list' || positionals.length !== 1) throw new UsageError('usage: klagomal mail list [--kind K]');
    const kind = (values.kind as string | undefined) ?? null;
    if (kind !== null && !MAIL_KINDS.includes(kind as MailKind)) throw new UsageError(`unknown kind '${kind}'; allowed: ${MAIL_KINDS.join(', ')}`);
    const limit = values.limit !== undefined ? wholeNumber('--limit', values.limit, 1, MAIL_LIST_MAX) : 100;
    return withStore(configOf(values), (store) => {
      const rows = store.listMail(kind, limit).map((m) => ({
        inbound: m.inbound_id,
        kind: m.kind,
        case: m.case_number ?? m.duplicate_of_case,
        receivedAt: m.received_at,
        from: m.from_address,
        subject: m.subject,
        reason: m.reason,
        duplicateOf: m.duplicate_of,
      }));
      if (values.json) io.out(json(rows));
      else if (rows.length === 0) io.out('no mail');
      else
        io.out(
          table(
            ['ID', 'KIND', 'CASE', 'RECEIVED', 'FROM', 'SUBJECT', 'WHY'],
            rows.map((r) => [r.inbound, r.kind, r.case, r.receivedAt, r.from, r.subject, r.reason]),
          ),
        );
      return 0;
    });
  },
};
