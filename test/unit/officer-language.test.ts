/**
 * An officer's command confirmation is written in the officer's language (officers[].languages,
 * first entry) from the first line to the last: what was done and every error, including the
 * refusals that come from the case operations (an extension past the limit, a legal hold without
 * a reason). Issue 17, item 8: the errors were English inside a Swedish confirmation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { parseMail } from '../../src/parse/parse';
import { FilingContext } from '../../src/cases/filing';
import { processMail } from '../../src/pipeline/processor';
import { calendarsFor } from '../../src/deadlines/deadlines';
import { storeArrivals } from '../../src/ingest/intake';
import { TemplateSet } from '../../src/reply/templates';
import { openDatabase } from '../../src/store/db';
import { CaseRow, Store } from '../../src/store/store';
import { toInstant } from '../../src/util/clock';
import { silentLogger } from '../../src/util/log';
import { parseCommandMail, runOfficerCommands } from '../../src/officers/commands';

const TEMPLATES = TemplateSet.load(path.join(__dirname, '..', '..', 'templates'));
const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
const NOW = new Date('2026-03-03T10:00:00+01:00');
const SVEN = 'sven@exempelfinans.se';
const EMMA = 'emma@exempelfinans.se';

let dir: string;
let store: Store;
let ctx: FilingContext;
let close: () => void;
let theCase: CaseRow;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-officer-language-'));
  const config = parseConfig(
    {
      firm: { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se', staffDomains: ['exempelfinans.se'] },
      sources: [{ type: 'maildir', path: 'maildir' }],
      dataDir: './data',
      officers: [
        { name: 'Sven Handläggare', address: SVEN, role: 'manager', languages: ['sv'] },
        { name: 'Emma Officer', address: EMMA, languages: ['en', 'sv'] },
      ],
      deadlines: { escalation: { enabled: false } },
    },
    path.join(dir, 'config.json'),
  );
  const db = openDatabase(path.join(dir, 'data', 'klagomal.db'));
  store = new Store(db);
  const calendars = calendarsFor(config.deadlines);
  ctx = { store, config, templates: TEMPLATES, calendar: calendars.firm, calendars, log: silentLogger };
  close = () => db.close();
  const raw = Buffer.from(
    [
      'From: Karin Kund <kund@example.com>',
      'To: klagomal@exempelfinans.se',
      'Subject: Felaktig avgift',
      'Date: Mon, 02 Mar 2026 09:00:00 +0100',
      'Message-ID: <lang-complaint@example.com>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hej, ni har tagit ut en avgift på 250 kr som jag inte känner igen. Jag vill ha pengarna tillbaka.',
      '',
    ].join('\r\n'),
  );
  const [stored] = storeArrivals(
    store,
    config.dataDir,
    'klagomal',
    [{ raw, receivedAt: RECEIVED, mailbox: null, locator: null, sourceKey: null }],
    toInstant(RECEIVED),
  );
  const parsed = await parseMail(raw, { dataDir: config.dataDir });
  const r = store.tx(() => processMail(ctx, store.inbound(stored.id)!, parsed, RECEIVED));
  theCase = store.caseById(r.caseId!)!;
});

afterEach(() => {
  close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;

/** Run a command mail from `from` and return the confirmation's text. */
function confirmation(from: string, text: string): string {
  const bytes = Buffer.from(`From: ${from}\r\nSubject: commands ${++seq}\r\n\r\n${text}`);
  const { id } = store.tx(() =>
    store.storeInbound(
      {
        source: 'test',
        mailbox: null,
        locator: null,
        sourceKey: null,
        uidvalidity: null,
        uid: null,
        receivedAt: toInstant(NOW),
        sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
        size: bytes.length,
        raw: { bytes },
      },
      toInstant(NOW),
    ),
  );
  store.tx(() => runOfficerCommands(ctx, store.caseById(theCase.id)!, { address: from, name: null }, parseCommandMail(text), { id, messageId: null }, NOW));
  const mail = store.listOutbox().find((o) => o.idempotency_key === `officer-command-result:${id}`);
  return mail!.body_text;
}

/** Lines of every kind of error: our own, an extension refused, a legal hold refused, a wrong value. */
const MIXED = [
  '#status in-progress',
  '#stat closed',
  '#outcome godkänd',
  '#extend 2026-03-01 Vi väntar på underlag från banken',
  '#holding 2026-03-20 Vi väntar på underlag',
  '#hold',
  '#assessment training kanske',
  '#compensation mycket',
].join('\n');

describe('commandErrorsFollowTheOfficersLanguage', () => {
  test('a Swedish officer gets every result and every error in Swedish', () => {
    const text = confirmation(SVEN, MIXED);
    expect(text).toContain('Fel (inget av detta har utförts)');
    expect(text).toContain("okänt kommando '#stat' — menade du '#status'?");
    expect(text).toContain("okänt utfall 'godkänd'; tillåtet: upheld, partly-upheld, rejected, withdrawn");
    expect(text).toContain('är inte senare än nuvarande tidsfrist'); // from the extension (src/cases/extend.ts)
    expect(text).toContain('ett preliminärt svar (holding reply) gäller klagomål på betaltjänster enligt PSD2');
    expect(text).toContain('#hold behöver ett skäl på samma rad');
    expect(text).toContain("'kanske' är inte ja eller nej");
    expect(text).toContain('ett belopp i kronor behövs');
    expect(text).toContain('status: new -> in-progress');
    // Nothing English left in it.
    expect(text).not.toMatch(/unknown|did you mean|allowed:|is not later|needs a reason|is not yes or no|an amount in SEK|a holding reply is for/);
  });

  test('an officer whose first language is English gets English', () => {
    const text = confirmation(EMMA, MIXED);
    expect(text).toContain('Errors');
    expect(text).toContain("unknown command '#stat' — did you mean '#status'?");
    expect(text).toContain('is not later than the current deadline');
    expect(text).toContain('an amount in SEK is needed');
    expect(text).not.toMatch(/okänt|menade du|tillåtet|behöver ett skäl|belopp i kronor/);
  });

  test('the events keep the English, whatever the officer reads', () => {
    confirmation(SVEN, '#stat closed');
    const refused = store.eventsOfCase(theCase.id).filter((e) => e.type === 'officer-command-refused');
    expect(JSON.parse(refused[0].detail).problem).toMatch(/^unknown command '#stat'/);
  });
});
