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

/**
 * The best of `rounds` over `mails`, in seconds: mailparser alone (`raw`), and klagomal's reading
 * (`ours`: parse with charset repair, classify, complaint fields, quote split, masking).
 */
async function timeReading(mails: readonly Buffer[], rounds: number, dataDir: string): Promise<{ raw: number; ours: number }> {
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
      readComplaintFields({ text: p.text, subject: p.subject, senderName: c.customer.name, senderAddress: c.customer.address, mailDate: p.date ?? new Date() });
    splitReply(maskPersonnummer(p.text));
  });
  return { raw, ours };
}

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
    const { raw, ours } = await timeReading(mails, rounds, dataDir);
    const n = mails.length;
    console.log(
      `reading: ${n} corpus mails (${(bytes / 1024 / 1024).toFixed(1)} MB), best of ${rounds}: raw mailparser ${(n / raw).toFixed(0)} msgs/s; ` +
        `klagomal parse + charset repair + classify + complaint fields + quote split + masking ${(n / ours).toFixed(0)} msgs/s (${((ours / raw) * 100).toFixed(0)} % of the raw time)`,
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Reading throughput on HTML-only complaints (issue 16): most of the corpus is plain text, while
 * webmail and phone clients often send only HTML. The mails are made here, as Outlook on the
 * web writes them (a styled <html> with a <head>, div-per-line paragraphs, a signature table, a
 * base64 body), each with its own figures so that no two are alike.
 */
export async function htmlReadingBench(n = 2000, rounds = 3): Promise<void> {
  const mails = Array.from({ length: n }, (_, i) => Buffer.from(htmlOnlyComplaint(i), 'utf8'));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-bench-html-'));
  try {
    const { raw, ours } = await timeReading(mails, rounds, dataDir);
    console.log(
      `reading HTML-only complaints: ${n} mails (${(mails.reduce((k, m) => k + m.length, 0) / n / 1024).toFixed(1)} kB each), best of ${rounds}: raw mailparser ${(n / raw).toFixed(0)} msgs/s; ` +
        `klagomal's reading as above ${(n / ours).toFixed(0)} msgs/s (${((ours / raw) * 100).toFixed(0)} % of the raw time)`,
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function htmlOnlyComplaint(i: number): string {
  const html = [
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
    '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head>',
    '<body dir="ltr"><div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">',
    'Hej,</div><div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;"><br></div>',
    `<div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;">jag vill klaga på en avgift på ${50 + (i % 200)} kr som drogs från mitt konto den ${1 + (i % 28)} november 2026.`,
    ' Jag har aldrig godkänt den och vill ha pengarna tillbaka.</div>',
    `<div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;">Mitt kundnummer är ${100000 + i}.</div><div><br></div>`,
    '<div id="Signature"><table style="border-collapse:collapse"><tr><td style="padding:0 8px 0 0">',
    `<b>Kund ${i}</b><br>Storgatan ${1 + (i % 90)}<br>123 45 Stockholm<br><a href="tel:+4670${String(i).padStart(7, '0')}">070-${String(i).padStart(7, '0')}</a>`,
    '</td></tr></table></div></body></html>',
  ].join('\r\n');
  return [
    `From: Kund ${i} <kund${i}@example.com>`,
    'To: klagomal@testfinans.se',
    `Subject: Felaktig avgift ${i}`,
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    `Message-ID: <html-${i}@example.com>`,
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset="utf-8"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(html, 'utf8')
      .toString('base64')
      .replace(/(.{76})/g, '$1\r\n'),
    '',
  ].join('\r\n');
}

if (require.main === module) {
  classifyBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
