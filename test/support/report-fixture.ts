/**
 * A small register for the report tests, built through the pipeline's own functions: raw
 * mails stored as a source stores them, parsed and filed (processMail), officers' command mails
 * run as the processor runs them (runOfficerCommands), milestones met as the sender meets them
 * (meetMilestone), each at a chosen instant. The statistics of `klagomal report` over it are
 * worked out by hand in test/unit/report.test.ts.
 *
 * The scenario (period 2026-03-02 .. 2026-03-15, Stockholm; now 2026-03-20 12:00):
 *
 *   case  customer  received (CET)     category  what happens
 *   P1    p         Fri 02-20 10:00    fees      nothing (previous period; open)
 *   P2    d         Wed 02-25 10:00    interest  upheld and closed 03-05 10:00 (previous period)
 *   A     a         Mon 03-02 09:00    fees      ack +2 h; final answer 03-10 10:00; upheld, 250 kr; closed 03-11 09:00
 *   B     b         Tue 03-03 10:00    fees      ack +30 h (late); #extend to 03-25 on 03-12
 *   E     e         Thu 03-05 12:00    fees      ack +3 h; #final + rejected 03-19; final answer met 03-20 10:00 (late); closed 03-20 11:00
 *   C     a         Mon 03-09 09:00    payments  ack +1 h; #holding to 04-10 on 03-12 (PSD2)
 *   F     f         Tue 03-10 09:00    fees      ack +1 h; withdrawn and closed 03-11 10:00
 *   D     d         Fri 03-13 15:00    interest  nothing (acknowledgement overdue)
 *   G     g         Tue 03-17 09:00    fees      nothing (after the period)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { parseConfig } from '../../src/config/load';
import { parseMail } from '../../src/parse/parse';
import { parseCommandMail, runOfficerCommands, CommandOutcome } from '../../src/officers/commands';
import { FilingContext } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { meetMilestone } from '../../src/cases/milestones';
import { calendarsFor } from '../../src/deadlines/deadlines';
import type { Milestone } from '../../src/deadlines/policy';
import { storeArrivals, sha256 } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { CaseRow, Store } from '../../src/store/store';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';

// Filing in-process encrypts a personnummer with the key the config names (as the test worlds do).
process.env.KLAGOMAL_PERSONNUMMER_KEY ??= Buffer.alloc(32, 7).toString('base64');

export const DOMAIN = 'exempelfinans.se';
export const COMPLAINTS = `klagomal@${DOMAIN}`;
export const OLLE = `olle@${DOMAIN}`;
export const MAJA = `maja@${DOMAIN}`;

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));

export interface ReportWorld {
  readonly dir: string;
  readonly configFile: string;
  readonly config: Config;
  readonly store: Store;
  readonly ctx: FilingContext;
  complaint(o: { from: string; name?: string; subject?: string; body: string; receivedAt: Date }): Promise<CaseRow>;
  command(caseId: number, text: string, at: Date): CommandOutcome;
  met(caseId: number, milestone: Milestone, at: Date): void;
  close(): void;
}

let seq = 0;

export function makeReportWorld(): ReportWorld {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-report-'));
  const raw = {
    firm: { name: 'Exempelfinans AB', complaintsAddress: COMPLAINTS, staffDomains: [DOMAIN], authservIds: [`mx1.${DOMAIN}`] },
    sources: [{ type: 'maildir', name: 'klagomal', path: './data/maildir' }],
    dataDir: './data',
    templates: path.join(__dirname, '..', '..', 'templates'),
    transport: { type: 'pickup', path: './data/outbox/pickup' },
    officers: [
      { name: 'Maja Chef', address: MAJA, role: 'manager' },
      { name: 'Olle Handläggare', address: OLLE },
    ],
    deadlines: { policies: ['promise-24h-14d'], escalation: { enabled: false } },
    // The figures are hand-computed for answers that go out when written (E's rejection too):
    // four eyes on final answers is test/unit/approval.test.ts.
    approval: { finalAnswer: 'none' },
  };
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(raw, null, 2));
  const config = parseConfig(raw, configFile);
  const db = openDatabase(config.database);
  const store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  const ctx: FilingContext = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };

  return {
    dir,
    configFile,
    config,
    store,
    ctx,
    async complaint(o) {
      const n = ++seq;
      const bytes = Buffer.from(
        [
          `From: ${o.name ?? 'Kund'} <${o.from}>`,
          `To: ${COMPLAINTS}`,
          `Subject: ${o.subject ?? `Klagomål ${n}`}`,
          `Date: ${o.receivedAt.toUTCString()}`,
          `Message-ID: <report-${n}-${Math.random().toString(36).slice(2)}@example.com>`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=utf-8',
          'Content-Transfer-Encoding: 8bit',
          '',
          o.body,
          '',
        ].join('\r\n'),
      );
      const [stored] = storeArrivals(
        store,
        config.dataDir,
        'klagomal',
        [{ raw: bytes, receivedAt: o.receivedAt, mailbox: 'INBOX', locator: null, sourceKey: null }],
        toInstant(o.receivedAt),
      );
      const parsed = await parseMail(bytes, { dataDir: config.dataDir });
      const r = store.tx(() => processMail(ctx, store.inbound(stored.id)!, parsed, o.receivedAt));
      if (r.kind !== 'complaint' || r.caseId === null) throw new Error(`fixture: filed as ${r.kind} (${r.reason}), not a complaint`);
      return store.caseById(r.caseId)!;
    },
    command(caseId, text, at) {
      const bytes = Buffer.from(`From: ${OLLE}\r\nSubject: command ${++seq}\r\n\r\n${text}`);
      const { id } = store.tx(() =>
        store.storeInbound(
          {
            source: 'test',
            mailbox: null,
            locator: null,
            sourceKey: null,
            uidvalidity: null,
            uid: null,
            receivedAt: toInstant(at),
            sha256: sha256(bytes),
            size: bytes.length,
            raw: { bytes },
          },
          toInstant(at),
        ),
      );
      const out = store.tx(() =>
        runOfficerCommands(ctx, store.caseById(caseId)!, { address: OLLE, name: null }, parseCommandMail(text), { id, messageId: `cmd-${id}@${DOMAIN}` }, at),
      );
      if (out.errors.length) throw new Error(`fixture: command refused: ${JSON.stringify(out.errors)}`);
      return out;
    },
    met(caseId, milestone, at) {
      if (!store.tx(() => meetMilestone(store, caseId, milestone, toInstant(at), 'operator')))
        throw new Error(`fixture: ${milestone} of case ${caseId} not met`);
    },
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stockholm wall-clock time in March 2026 (CET, +01:00) or February. */
export const cet = (isoLocal: string): Date => new Date(`${isoLocal}+01:00`);

export const FEES_REFUND =
  'Hej, ni har tagit ut en avgift på 250 kr på min faktura som jag inte känner igen. Jag vill att ni betalar tillbaka avgiften. Fakturanummer 55512345.';
export const FEES_PLAIN = 'Hej, avgiften på min faktura är för hög och jag förstår inte varför den finns.';
export const PAYMENTS = 'Hej, min betalning på 500 kr drogs två gånger från mitt konto. Jag vill ha tillbaka pengarna.';
export const INTEREST = 'Hej, räntan på mitt lån höjdes utan att jag fick besked om det.';
/** Twenty words of reasons (a reasoned final answer). */
export const ANSWER =
  'Vi har gått igenom ditt ärende och kontrollerat avgiften på fakturan. Avgiften följer prislistan som gällde när du tecknade avtalet med oss.';

export type CaseKey = 'P1' | 'P2' | 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G';

/** Build the scenario above; the case rows by key. */
export async function buildScenario(w: ReportWorld): Promise<Record<CaseKey, CaseRow>> {
  const c = {} as Record<CaseKey, CaseRow>;
  const customer = (x: string): string => `kund-${x}@example.com`;
  c.P1 = await w.complaint({ from: customer('p'), body: FEES_PLAIN, receivedAt: cet('2026-02-20T10:00:00') });
  c.P2 = await w.complaint({ from: customer('d'), body: INTEREST, receivedAt: cet('2026-02-25T10:00:00') });
  w.command(c.P2.id, '#outcome upheld\n#status closed', cet('2026-03-05T10:00:00'));

  c.A = await w.complaint({ from: customer('a'), name: 'Anna A', body: FEES_REFUND, receivedAt: cet('2026-03-02T09:00:00') });
  c.B = await w.complaint({ from: customer('b'), body: FEES_PLAIN, receivedAt: cet('2026-03-03T10:00:00') });
  c.E = await w.complaint({ from: customer('e'), body: FEES_PLAIN, receivedAt: cet('2026-03-05T12:00:00') });
  c.C = await w.complaint({ from: customer('a'), name: 'Anna A', body: PAYMENTS, receivedAt: cet('2026-03-09T09:00:00') });
  c.F = await w.complaint({ from: customer('f'), body: FEES_PLAIN, receivedAt: cet('2026-03-10T09:00:00') });
  c.D = await w.complaint({ from: customer('d'), body: INTEREST, receivedAt: cet('2026-03-13T15:00:00') });
  c.G = await w.complaint({ from: customer('g'), body: FEES_PLAIN, receivedAt: cet('2026-03-17T09:00:00') });

  w.met(c.A.id, 'acknowledgement', cet('2026-03-02T11:00:00'));
  w.met(c.A.id, 'finalAnswer', cet('2026-03-10T10:00:00'));
  w.command(c.A.id, '#outcome upheld\n#compensation 250', cet('2026-03-10T10:30:00'));
  w.command(c.A.id, '#status closed', cet('2026-03-11T09:00:00'));

  w.met(c.B.id, 'acknowledgement', cet('2026-03-04T16:00:00'));
  w.command(c.B.id, '#extend 2026-03-25 Vi väntar på underlag från vår leverantör', cet('2026-03-12T09:00:00'));

  w.met(c.E.id, 'acknowledgement', cet('2026-03-05T15:00:00'));
  w.command(c.E.id, `#outcome rejected\n#final\n\n${ANSWER}`, cet('2026-03-19T16:00:00'));
  w.met(c.E.id, 'finalAnswer', cet('2026-03-20T10:00:00'));
  w.command(c.E.id, '#status closed', cet('2026-03-20T11:00:00'));

  w.met(c.C.id, 'acknowledgement', cet('2026-03-09T10:00:00'));
  w.command(c.C.id, '#holding 2026-04-10 Banken har inte skickat underlaget för dragningen', cet('2026-03-12T09:30:00'));

  w.met(c.F.id, 'acknowledgement', cet('2026-03-10T10:00:00'));
  w.command(c.F.id, '#outcome withdrawn\n#status closed', cet('2026-03-11T10:00:00'));
  return c;
}

export const PERIOD = { from: '2026-03-02', to: '2026-03-15' } as const;
export const NOW = cet('2026-03-20T12:00:00');
