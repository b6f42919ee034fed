/**
 * Memory and CPU bombs (issue 17, item 5). Target: no single mail up to 50 MB takes more than
 * 300 MB RSS or 3 s of CPU to file.
 *
 * Each mail is filed alone, by its own `klagomal run --once` (Maildir in, pickup out) in a
 * fresh world, so that the peak RSS and the CPU seconds (user + system, from
 * process.resourceUsage() at exit) are those of that one mail plus the command's start-up,
 * which is printed first for comparison. Nothing is asserted: the numbers are printed.
 */
import crypto from 'node:crypto';
import { makeWorld, deliverToMaildir } from '../test/support/world';
import { Measured, runMeasured } from './measure';

const MB = 1024 * 1024;
const TARGET_RSS_MB = 300;
const TARGET_CPU_S = 3;

function head(contentType: string, extra: string[] = []): string {
  return [
    'From: Kund <kund@example.com>',
    'To: klagomal@testfinans.se',
    'Subject: Klagomål',
    'Date: Thu, 19 Nov 2026 09:14:02 +0100',
    `Message-ID: <${crypto.randomUUID()}@example.com>`,
    'MIME-Version: 1.0',
    ...extra,
    `Content-Type: ${contentType}`,
    '',
    '',
  ].join('\r\n');
}

/** Lines of 800 characters, as mail carries them. */
const lines = (s: string): string => s.replace(/(.{800})/g, '$1\r\n');

/** A valid personnummer (Luhn) for each i. */
function personnummer(i: number): string {
  const nine = `${50 + (i % 49)}${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}${String(i % 1000).padStart(3, '0')}`;
  let sum = 0;
  for (let k = 0; k < 9; k++) {
    let v = Number(nine[k]) * (k % 2 === 0 ? 2 : 1);
    if (v > 9) v -= 9;
    sum += v;
  }
  return `19${nine.slice(0, 6)}-${nine.slice(6)}${(10 - (sum % 10)) % 10}`;
}

const BOMBS: ReadonlyArray<{ name: string; make: () => string }> = [
  { name: 'a small complaint (start-up alone)', make: () => head('text/plain; charset=utf-8') + 'Jag klagar på avgiften.\r\n' },
  { name: '10 MB of <p>a</p>, HTML only', make: () => head('text/html; charset=utf-8') + lines('<p>a</p>'.repeat((10 * MB) / 8)) + '\r\n' },
  { name: '35 MB of <br>, HTML only', make: () => head('text/html; charset=utf-8') + lines('<br>'.repeat((35 * MB) / 4)) + '\r\n' },
  { name: '35 MB of <br> on one line', make: () => head('text/html') + '<br>'.repeat((35 * MB) / 4) + '\r\n' },
  {
    name: '100,000 nested <div> (1.1 MB)',
    make: () => head('text/html; charset=utf-8') + lines('<div>'.repeat(100_000) + 'Jag klagar på avgiften.' + '</div>'.repeat(100_000)) + '\r\n',
  },
  {
    name: '50 MB with a 37 MB attachment',
    make: () =>
      head('multipart/mixed; boundary="b"') +
      '--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSe bifogat kontoutdrag.\r\n' +
      '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="kontoutdrag.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      crypto
        .randomBytes(37 * MB)
        .toString('base64')
        .replace(/(.{76})/g, '$1\r\n') +
      '\r\n--b--\r\n',
  },
  {
    name: '50 MB text/plain body',
    make: () => head('text/plain; charset=utf-8') + 'Jag vill klaga på avgiften som ni tog ut, den är orimlig enligt avtalet.\r\n'.repeat((50 * MB) / 75),
  },
  {
    name: '10 MB text of personnummer, dates, amounts',
    make: () =>
      head('text/plain; charset=utf-8') +
      Array.from(
        { length: 140_000 },
        (_, i) => `Personnummer ${personnummer(i)}, 070-${100 + (i % 900)} 45 67, ${i % 5000} kr den ${1 + (i % 28)} november 2026.`,
      ).join('\r\n') +
      '\r\n',
  },
  {
    name: '300,000 MIME parts (11 MB)',
    make: () => head('multipart/mixed; boundary="b"') + '--b\r\nContent-Type: text/plain\r\n\r\nx\r\n'.repeat(300_000) + '--b--\r\n',
  },
  {
    name: '10,000 nested multiparts (0.7 MB)',
    make: () => {
      let s = '';
      for (let i = 0; i < 10_000; i++) s += `--b${i}\r\nContent-Type: multipart/mixed; boundary="b${i + 1}"\r\n\r\n`;
      s += '--b10000\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHej =E5=E4=F6\r\n';
      for (let i = 10_000; i >= 0; i--) s += `--b${i}--\r\n`;
      return head('multipart/mixed; boundary="b0"') + s;
    },
  },
  {
    name: 'a forward of a 10 MB HTML original (QP, no charset)',
    make: () =>
      head('multipart/mixed; boundary="b"').replace('Subject: Klagomål', 'Subject: Fwd: Klagomål') +
      '--b\r\nContent-Type: text/plain\r\n\r\nSe nedan.\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n' +
      head('text/html', ['Content-Transfer-Encoding: quoted-printable']) +
      '<p>a=E5</p>'.repeat((9.4 * MB) / 11).replace(/(.{70})/g, '$1=\r\n') +
      '\r\n--b--\r\n',
  },
  {
    name: '680 KB References (30,000 Message-IDs)',
    make: () =>
      head('text/plain; charset=utf-8', [
        'In-Reply-To: <r1@example.com>',
        'References: ' + Array.from({ length: 30_000 }, (_, i) => `<r${i}@example.com>`).join('\r\n '),
      ]) + 'Hej.\r\n',
  },
  {
    name: '900 KB Subject',
    make: () =>
      head('text/plain; charset=utf-8').replace(
        'Subject: Klagomål',
        'Subject: ' +
          Array.from({ length: 60_000 }, (_, i) => `klagomål${i}`)
            .join(' ')
            .replace(/(.{70}) /g, '$1\r\n '),
      ) + 'Hej.\r\n',
  },
];

async function fileOne(raw: string): Promise<Measured & { filed: boolean; quarantined: boolean; problems: string[] }> {
  const world = makeWorld();
  try {
    deliverToMaildir(world.maildir, raw);
    const measured = await runMeasured(['run', '--once', '--json', '--config', world.configFile]);
    const out = measured.out;
    const summary = /\{"sources".*\}/.exec(out)?.[0];
    const s = summary ? (JSON.parse(summary) as { filed: number; quarantined: number }) : { filed: 0, quarantined: 0 };
    let problems: string[] = [];
    const { store, close } = world.store();
    try {
      const row = store.db.prepare('SELECT problems FROM messages ORDER BY id DESC LIMIT 1').get() as { problems: string } | undefined;
      problems = row ? (JSON.parse(row.problems) as string[]) : [];
    } finally {
      close();
    }
    return { ...measured, filed: s.filed === 1, quarantined: s.quarantined > 0, problems };
  } finally {
    world.cleanup();
  }
}

export async function bombsBench(): Promise<void> {
  console.log(`bombs: each mail filed alone by \`klagomal run --once\` (target: <= ${TARGET_RSS_MB} MB peak RSS, <= ${TARGET_CPU_S} s CPU, start-up included)`);
  for (const bomb of BOMBS) {
    const raw = bomb.make();
    const sizeMb = Buffer.byteLength(raw) / MB;
    const r = await fileOne(raw);
    const met = r.rssMb <= TARGET_RSS_MB && r.cpuS <= TARGET_CPU_S;
    const outcome = r.filed ? 'filed' : r.quarantined ? 'QUARANTINED' : 'NOT FILED';
    const cuts = r.problems.filter((p) => /not read|cut|left out|not repaired|were read/.test(p)).length;
    console.log(
      `  ${bomb.name.padEnd(52)} ${sizeMb.toFixed(1).padStart(5)} MB  peak RSS ${r.rssMb.toFixed(0).padStart(4)} MB  CPU ${r.cpuS.toFixed(2).padStart(5)} s  ${outcome}` +
        `${cuts ? `, ${cuts} cut(s) noted` : ''}  ${met ? 'ok' : 'TARGET MISSED'}`,
    );
    if (!r.filed) console.log(r.out.split('\n').slice(-10).join('\n'));
  }
}
