/**
 * Reading throughput (issue #4): parse + classify + read the structured complaint over the
 * real-world corpus (../shared/corpus), beside raw mailparser parsing of the same mails in the
 * same run. Printed, not asserted. Skipped with a message when the corpus is absent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { parseMail } from '../src/parse/parse';
import { classify } from '../src/classify/classify';
import { readComplaintFields } from '../src/parse/complaint-fields';
import { maskPersonnummer } from '../src/util/personnummer';
import { splitReply } from '../src/parse/quote';
import { packageRoot } from '../src/util/package-root';

const NO_FACTS = { duplicateOf: null, ownMessageId: false, referencedCase: null, repliesToOurMail: false, taggedCase: null };
const STAFF = {
  complaintsAddress: 'klagomal@testfinans.se',
  staffAddresses: [],
  staffDomains: ['testfinans.se'],
  formAddresses: [],
  authservIds: [],
  trustStaffFrom: false,
};

export async function classifyBench(rounds = 5): Promise<void> {
  const corpus = path.resolve(packageRoot(), '..', 'shared', 'corpus');
  const manifest = path.join(corpus, 'MANIFEST.tsv');
  if (!fs.existsSync(manifest)) {
    console.log(`reading: skipped, no corpus at ${corpus}`);
    return;
  }
  const files = fs
    .readFileSync(manifest, 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => path.join(corpus, l.split('\t')[0]));
  const mails = files.map((f) => fs.readFileSync(f));
  const bytes = mails.reduce((n, m) => n + m.length, 0);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-bench-read-'));
  try {
    const time = async (fn: (m: Buffer) => Promise<unknown>): Promise<number> => {
      let best = Infinity;
      for (let r = 0; r < rounds; r++) {
        const t0 = process.hrtime.bigint();
        for (const m of mails) await fn(m);
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return best;
    };
    const raw = await time((m) => simpleParser(m));
    const ours = await time(async (m) => {
      const p = await parseMail(m, { dataDir });
      const c = classify(p, NO_FACTS, STAFF);
      if (c.kind === 'complaint')
        readComplaintFields({
          text: p.text,
          subject: p.subject,
          senderName: c.customer.name,
          senderAddress: c.customer.address,
          mailDate: p.date ?? new Date(),
        });
      splitReply(maskPersonnummer(p.text));
    });
    const n = mails.length;
    console.log(
      `reading: ${n} corpus mails (${(bytes / 1024 / 1024).toFixed(1)} MB), best of ${rounds}: raw mailparser ${(n / raw).toFixed(0)} msgs/s; ` +
        `klagomal parse + charset repair + classify + complaint fields + quote split + masking ${(n / ours).toFixed(0)} msgs/s (${((ours / raw) * 100).toFixed(0)} % of the raw time)`,
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  classifyBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
