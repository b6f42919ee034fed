/**
 * `klagomal calendar`: the Swedish business calendar (src/deadlines/calendar.ts): the closed
 * days of a year, and the due instant of a deadline rule (one, or a stream on stdin). Works
 * without a config; with one, the firm's closed dates count too (--statutory leaves them out).
 */
import fs from 'node:fs';
import { computeDue, DEADLINE_UNITS, DeadlineRule, DeadlineUnit } from '../deadlines/rules';
import { formatStockholm } from '../util/stockholm-time';
import { BusinessCalendar, swedishHolidays } from '../deadlines/calendar';
import { isoDate, parseIsoDate, weekday } from '../util/stockholm-time';
import { instantArg, UsageError } from './args';
import { Command, configOf, json } from './shared';
import { table } from './table';

export const calendarCommand: Command = {
  summary: 'the Swedish business calendar: closed days of a year, and due instants of deadline rules',
  usage: [
    'klagomal calendar holidays YEAR [--json]',
    'klagomal calendar due --from ISO --unit hours|calendarDays|businessDays --amount N [--statutory]',
    'klagomal calendar due --stdin [--statutory]      lines RECEIVED<TAB>UNIT<TAB>N in, one due instant per line out',
  ].join('\n       '),
  options: {
    json: { type: 'boolean' },
    from: { type: 'string' },
    unit: { type: 'string' },
    amount: { type: 'string' },
    stdin: { type: 'boolean' },
    statutory: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, arg] = positionals;
    if (verb === 'holidays' && positionals.length === 2) {
      if (!/^\d{4}$/.test(arg)) throw new UsageError('YEAR: a four-digit year');
      const list = swedishHolidays(Number(arg)).map((h) => ({ date: isoDate(h.date), name: h.name, kind: h.kind }));
      const extra = values.statutory ? [] : closedDatesFromConfig(values).filter((d) => d.startsWith(`${arg}-`));
      const all = [...list, ...extra.map((d) => ({ date: d, name: 'firm closed (config)', kind: 'firm' }))].sort((a, b) => a.date.localeCompare(b.date));
      if (values.json) io.out(json(all));
      else
        io.out(
          table(
            ['DATE', 'DAY', 'NAME', 'KIND'],
            all.map((h) => [h.date, weekdayName(h.date), h.name, h.kind]),
          ),
        );
      return 0;
    }
    if (verb === 'due' && positionals.length === 1) {
      const cal = new BusinessCalendar(values.statutory ? [] : closedDatesFromConfig(values));
      if (values.stdin) {
        const text = fs.readFileSync(0, 'utf8');
        let failures = 0;
        for (const line of text.split(/\r?\n/)) {
          if (!line.trim()) continue;
          try {
            const [from, unit, amount] = line.split('\t');
            io.out(formatStockholm(computeDue(instantArg('RECEIVED', from), ruleArg(unit, amount), cal)));
          } catch (err) {
            failures++;
            io.out(`ERROR ${(err as Error).message}`);
          }
        }
        return failures > 0 ? 1 : 0;
      }
      if (!values.from || !values.unit || !values.amount) throw new UsageError('due needs --from ISO --unit U --amount N (or --stdin)');
      io.out(formatStockholm(computeDue(instantArg('--from', values.from as string), ruleArg(values.unit as string, values.amount as string), cal)));
      return 0;
    }
    throw new UsageError('usage: klagomal calendar holidays YEAR | calendar due --from ISO --unit U --amount N | calendar due --stdin');
  },
};

function ruleArg(unit: string | undefined, amount: string | undefined): DeadlineRule {
  if (!DEADLINE_UNITS.includes(unit as DeadlineUnit)) throw new UsageError(`unit: allowed ${DEADLINE_UNITS.join(', ')} (got "${unit ?? ''}")`);
  if (!/^\d{1,4}$/.test(amount ?? '') || Number(amount) < 1) throw new UsageError(`amount: a whole number from 1 (got "${amount ?? ''}")`);
  return { unit: unit as DeadlineUnit, amount: Number(amount) };
}

/** The firm's closed dates, when a config can be read; the calendar commands work without one too. */
function closedDatesFromConfig(values: Record<string, string | boolean | undefined>): string[] {
  try {
    return [...configOf(values).deadlines.extraClosedDates];
  } catch {
    return [];
  }
}

function weekdayName(iso: string): string {
  return ['sön', 'mån', 'tis', 'ons', 'tor', 'fre', 'lör'][weekday(parseIsoDate(iso)!)];
}
