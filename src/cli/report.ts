/**
 * `klagomal report`: the complaints register and the statistics of a period.
 *
 *   klagomal report --from 2026-01-01 --to 2026-03-31 --format csv|json|html [--out FILE] [--now ISO]
 *
 * Dates are Stockholm dates, inclusive; the period takes the cases received on them.
 *  - csv:  the register, one row per case (UTF-8 with BOM and CRLF for Excel; RFC 4180).
 *  - json: { statistics, register }.
 *  - html: the statistics for management, one self-contained page with SVG charts.
 * The database is opened read-only. The register holds personal data (names, addresses): a
 * file written with --out is readable by its owner only (0600), written whole or not at all.
 * --now sets the instant open deadlines are judged against (default: the clock), for a report
 * that must be made again exactly.
 *
 *   klagomal report monthly --month YYYY-MM [--send | --out FILE]   (src/cli/report-monthly.ts)
 */
import path from 'node:path';
import { openDatabase } from '../store/db';
import { Store } from '../store/store';
import { writeFileDurably } from '../util/durable-file';
import { UsageError } from './args';
import { Command, configOf } from './shared';
import { checkSchema } from '../report/facts';
import { parsePeriod, PeriodError } from '../report/period';
import { registerCsv } from '../report/csv';
import { computeStatistics, readReportInput, ReportFilters, UNCATEGORISED } from '../report/statistics';
import { CHANNELS } from '../store/rows';
import type { Config } from '../config/config';
import { renderHtml } from '../report/html';
import { REPORT_LANGUAGES, ReportLanguage } from '../report/labels';
import { runMonthlyReport } from './report-monthly';

export const REPORT_FORMATS = ['csv', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const reportCommand: Command = {
  summary: 'the complaints register (csv, json), the statistics of a period (json, html for management), and the monthly management pack',
  usage:
    'klagomal report --from YYYY-MM-DD --to YYYY-MM-DD --format csv|json|html [--out FILE] [--now ISO] [--product P] [--category C] [--regime psd2|none] [--channel CH] [--customer-type consumer|business] [--lang sv|en] [--config FILE]\n       klagomal report monthly --month YYYY-MM [--send | --out FILE.eml] [--now ISO] [--config FILE]',
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    now: { type: 'string' },
    product: { type: 'string' },
    category: { type: 'string' },
    regime: { type: 'string' },
    channel: { type: 'string' },
    'customer-type': { type: 'string' },
    lang: { type: 'string' },
    month: { type: 'string' },
    send: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals, io) {
    // The monthly management pack to the managers (issue 15).
    if (positionals[0] === 'monthly' && positionals.length === 1) return runMonthlyReport(values, io);
    if (positionals.length > 0)
      throw new UsageError(`unknown report '${positionals.join(' ')}'; the one named report is: klagomal report monthly --month YYYY-MM`);
    if (values.month !== undefined || values.send !== undefined)
      throw new UsageError('--month and --send are for: klagomal report monthly --month YYYY-MM [--send | --out FILE]');
    const from = values.from as string | undefined;
    const to = values.to as string | undefined;
    if (!from || !to) throw new UsageError('give the period: --from YYYY-MM-DD --to YYYY-MM-DD (Stockholm dates, inclusive)');
    const format = values.format as string | undefined;
    if (!format)
      throw new UsageError(`give --format ${REPORT_FORMATS.join('|')} (csv: the register; json: register and statistics; html: statistics for management)`);
    if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown --format '${format}'; allowed: ${REPORT_FORMATS.join(', ')}`);
    let period;
    try {
      period = parsePeriod(from, to);
    } catch (err) {
      if (err instanceof PeriodError) throw new UsageError(err.message);
      throw err;
    }
    let now = new Date();
    if (values.now !== undefined) {
      now = new Date(values.now as string);
      if (Number.isNaN(now.getTime())) throw new UsageError(`--now '${values.now}' is not an instant; write ISO 8601, e.g. 2026-04-01T00:00:00Z`);
    }

    const config = configOf(values);
    const filters = reportFilters(values, config);
    // The HTML page's words: Swedish or English (the figures are the same; src/report/labels.ts).
    const lang = (values.lang ?? 'en') as ReportLanguage;
    if (!REPORT_LANGUAGES.includes(lang)) throw new UsageError(`--lang: sv or en (got '${String(values.lang)}')`);
    const db = openDatabase(config.database, { readonly: true });
    let text: string;
    try {
      const store = new Store(db);
      checkSchema(store);
      // One read transaction: every query sees the same state, even while the service files mail.
      text = db
        .transaction(() => {
          const input = readReportInput(store, period, now, config.retention.closedCaseYears, filters);
          if (format === 'csv') return registerCsv(input.rows);
          const statistics = computeStatistics(input);
          if (format === 'html') return renderHtml(statistics, { firmName: config.firm.name, lang });
          return `${JSON.stringify({ statistics, register: input.rows }, null, 2)}\n`;
        })
        .deferred();
    } finally {
      db.close();
    }

    const out = values.out as string | undefined;
    if (out) {
      writeFileDurably(path.resolve(out), text);
      io.out(`${format} report of ${from} to ${to} written to ${out}`);
    } else {
      // io.out ends the text with \n: a CSV's last CRLF stays whole.
      io.out(text.replace(/\n$/, ''));
    }
    return 0;
  },
};

/** The register's filters from the command line, each checked against what it can be. */
function reportFilters(values: Record<string, string | boolean | undefined>, config: Config): ReportFilters {
  const one = (name: string, allowed: readonly string[]): string | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !allowed.includes(v)) throw new UsageError(`--${name}: allowed ${allowed.join(', ')} (got '${String(v)}')`);
    return v;
  };
  return {
    product: one('product', [...config.complaints.products, 'not recorded']),
    category: one('category', [...config.complaints.categories.map((c) => c.id), 'other', UNCATEGORISED]),
    regime: one('regime', ['psd2', 'none']),
    channel: one('channel', CHANNELS),
    customerType: one('customer-type', ['consumer', 'business']),
  };
}
