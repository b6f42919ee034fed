/**
 * `klagomal cases`: the list of cases, by status, by deadline, or those with a missed
 * deadline; a table for people, --json for scripts.
 */
import { CASE_STATUSES, CaseStatus } from '../cases/lifecycle';
import { caseSummary } from '../cases/view';
import { toInstant } from '../util/clock';
import { instantArg, UsageError } from './args';
import { Command, configOf, json, withStore } from './shared';
import { table } from './table';

export const casesCommand: Command = {
  summary: 'list cases (by status, by deadline, or those with a missed deadline)',
  usage: `klagomal cases [--status ${CASE_STATUSES.join('|')}] [--due-before ISO] [--breached [--now ISO]] [--json] [--config FILE]`,
  options: { status: { type: 'string' }, json: { type: 'boolean' }, 'due-before': { type: 'string' }, breached: { type: 'boolean' }, now: { type: 'string' } },
  positionals: false,
  async run(values, _p, io) {
    const status = values.status as string | undefined;
    if (status !== undefined && !CASE_STATUSES.includes(status as CaseStatus)) {
      throw new UsageError(`unknown status '${status}'; allowed: ${CASE_STATUSES.join(', ')}`);
    }
    const dueBefore = values['due-before'] !== undefined ? instantArg('--due-before', values['due-before'] as string) : undefined;
    const now = values.now !== undefined ? instantArg('--now', values.now as string) : new Date();
    const config = configOf(values);
    withStore(config, (store) => {
      const list = store
        .listCases({
          status: status as CaseStatus | undefined,
          dueBefore: dueBefore && toInstant(dueBefore),
          breachedAsOf: values.breached ? toInstant(now) : undefined,
        })
        .map((c) => caseSummary(store, c, now));
      if (values.json) io.out(json(list));
      else if (list.length === 0) io.out('no cases');
      else
        io.out(
          table(
            ['CASE', 'STATUS', 'RECEIVED', 'NEXT DEADLINE', 'ANSWER BY', 'MISSED', 'CUSTOMER', 'SUBJECT'],
            list.map((c) => [
              c.number,
              c.status,
              c.receivedLocal.slice(0, 16).replace('T', ' '),
              c.nextDeadline ? `${c.nextDeadline.milestone} ${c.nextDeadline.dueAt.slice(0, 16).replace('T', ' ')}` : '',
              c.answerDueAt?.slice(0, 10),
              c.breached.join(','),
              c.customer.address,
              c.subject,
            ]),
          ),
        );
    });
    return 0;
  },
};
