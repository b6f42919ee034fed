/**
 * `klagomal mail list`: every inbound mail by kind, also those that opened no case
 * (auto-replies, bounces, lists, duplicates), with the reason it was classified so.
 * `klagomal mail sample --kind K [--n 20] [--since DATE]`: a random sample of one kind, for a
 * person to check that what was judged not a complaint was none (REGULATION.md §4 C).
 */
import { MAIL_KINDS, MailKind } from '../cases/lifecycle';
import { UsageError, wholeNumber } from './args';
import { Command, configOf, Io, json, withStore } from './shared';
import { toInstant } from '../util/clock';
import { instantArg } from './args';
import { table } from './table';

/** The most mails `mail list` prints at once. */
const MAIL_LIST_MAX = 1_000_000;

export const mailCommand: Command = {
  summary: 'every inbound mail, by kind: also those that opened no case (auto-replies, bounces, lists)',
  usage: [
    `klagomal mail list [--kind ${MAIL_KINDS.join('|')}] [--limit N] [--json] [--config FILE]`,
    `klagomal mail sample --kind ${MAIL_KINDS.join('|')} [--n 20] [--since DATE] [--json] [--config FILE]`,
  ].join('\n       '),
  options: { kind: { type: 'string' }, limit: { type: 'string' }, n: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    if (positionals[0] === 'sample' && positionals.length === 1) return sample(values, io);
    if (positionals[0] !== 'list' || positionals.length !== 1) throw new UsageError('usage: klagomal mail list [--kind K] | mail sample --kind K [--n N]');
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

/** A random sample of one kind of mail, with why each was classified so. */
function sample(values: Record<string, string | boolean | undefined>, io: Io): number {
  const kind = values.kind;
  if (typeof kind !== 'string' || !MAIL_KINDS.includes(kind as MailKind)) throw new UsageError(`--kind is required: one of ${MAIL_KINDS.join(', ')}`);
  const n = values.n !== undefined ? wholeNumber('--n', values.n, 1, 10_000) : 20;
  const since = typeof values.since === 'string' ? toInstant(instantArg('--since', values.since)) : null;
  return withStore(configOf(values), (store) => {
    const rows = store.sampleMail(kind, n, since).map((m) => ({
      inbound: m.inbound_id,
      kind: m.kind,
      case: m.case_number,
      receivedAt: m.received_at,
      from: m.from_address,
      subject: m.subject,
      reason: m.reason,
    }));
    if (values.json) io.out(json(rows));
    else {
      io.out(
        `A random sample of ${rows.length} mail(s) filed as ${kind}${since ? ` since ${since}` : ''}: check that none is a complaint (show one: klagomal mail list, case show).`,
      );
      if (rows.length)
        io.out(
          table(
            ['ID', 'CASE', 'RECEIVED', 'FROM', 'SUBJECT', 'WHY'],
            rows.map((r) => [r.inbound, r.case, r.receivedAt, r.from, r.subject, r.reason]),
          ),
        );
    }
    return 0;
  });
}
