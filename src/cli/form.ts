/**
 * `klagomal form --lang sv|en --out FILE.pdf`: the firm's fillable complaint form
 * (src/documents/complaint-form.ts) with the firm's name and complaints address from the
 * config. A returned form is read field by field by the document reader (its field names are
 * the reader's), so publish this file, not a copy remade in another program.
 */
import fs from 'node:fs';
import path from 'node:path';
import { complaintFormPdf } from '../documents/complaint-form';
import { UsageError } from './args';
import { Command, configOf } from './shared';

export const formCommand: Command = {
  summary: "write the firm's fillable complaint form (PDF) that the reader reads field by field",
  usage: 'klagomal form --lang sv|en --out FILE.pdf',
  options: { lang: { type: 'string' }, out: { type: 'string' } },
  positionals: false,
  async run(values, _positionals, io) {
    const lang = values.lang ?? 'sv';
    if (lang !== 'sv' && lang !== 'en') throw new UsageError(`--lang: "${String(lang)}"; allowed: sv, en`);
    if (typeof values.out !== 'string' || !values.out.trim()) throw new UsageError('--out FILE.pdf is required: where to write the form');
    const config = configOf(values);
    const bytes = await complaintFormPdf({ lang, firmName: config.firm.name, complaintsAddress: config.firm.complaintsAddress });
    const out = path.resolve(values.out);
    // Written beside, then renamed: a half-written form is never published.
    const tmp = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, out);
    io.out(`${out}: the complaint form (${lang}, ${bytes.length} bytes) for ${config.firm.name}`);
    return 0;
  },
};
