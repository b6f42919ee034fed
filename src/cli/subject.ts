/**
 * `klagomal subject export ADDRESS|PERSONNUMMER --out DIR [--json]`: everything held about one
 * person, for a data subject access request (src/retention/subject-export.ts).
 *
 * Exit codes: 0 written (also when nothing was found: the index says so); 1 the export cannot
 * be made (DIR not empty, the personnummer key missing); 2 usage.
 */
import path from 'node:path';
import { UsageError } from './args';
import { Command, configOf, json, NotFound, operatorName, withStore } from './shared';
import { exportSubject, parseSubjectQuery, SubjectExportError, SubjectQuery } from '../retention/subject-export';

export const subjectCommand: Command = {
  summary: 'data subject access export: every case, mail, attachment and event held about one person',
  usage: 'klagomal subject export ADDRESS|PERSONNUMMER --out DIR [--json] [--config FILE]',
  options: { out: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    const [verb, who] = positionals;
    if (verb !== 'export' || positionals.length !== 2) throw new UsageError('usage: klagomal subject export ADDRESS|PERSONNUMMER --out DIR');
    if (typeof values.out !== 'string' || !values.out.trim()) throw new UsageError('--out DIR is required: a new or empty folder for the export');
    let query: SubjectQuery;
    try {
      query = parseSubjectQuery(who);
    } catch (err) {
      if (err instanceof SubjectExportError) throw new UsageError(err.message);
      throw err;
    }
    const out = path.resolve(values.out);
    const config = configOf(values);
    return withStore(config, (store) => {
      let r;
      try {
        r = exportSubject({ store, config }, query, out, new Date(), operatorName(values));
      } catch (err) {
        if (err instanceof SubjectExportError) throw new NotFound(err.message);
        throw err;
      }
      if (values.json) {
        io.out(json(r));
        return 0;
      }
      io.out(`${r.dir}: ${r.cases.length} case(s)${r.cases.length ? ` (${r.cases.join(', ')})` : ''}, ${r.mailsNotOnCase} mail(s) on no case`);
      io.out(`  ${r.mails} mail(s), ${r.attachments} attachment(s), ${r.sent} mail(s) sent to the person, ${r.events} event(s); see index.json`);
      for (const wng of r.warnings) io.out(`  note: ${wng}`);
      return 0;
    });
  },
};
