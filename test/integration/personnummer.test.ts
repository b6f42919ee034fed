/**
 * The personnummer at rest, through the real `klagomal` binary: a complaint that gives one is
 * filed, and the database file (with its WAL) holds the number only encrypted; the one place
 * the customer's own writing of it survives is the raw mail, the evidence. Without the key the
 * service refuses to start; with personnummer storage off it starts and keeps only the mask.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, deliverToMaildir, complaintMail, TEST_PERSONNUMMER_KEY } from '../support/world';
import { decryptPersonnummer } from '../../src/cases/personnummer-store';
import { parseConfig } from '../../src/config/load';

const WRITTEN = '870521-2382';
const NORMALISED = '198705212382';
const BODY = `Hej, jag vill klaga på en avgift på 60 kr som togs ut den 3 november 2026. Mitt personnummer är ${WRITTEN}. Jag vill ha pengarna tillbaka.`;

/** The bytes of the database and of its WAL and shared-memory files, as they are on disk. */
function databaseBytes(w: World): Buffer {
  const file = path.join(w.dataDir, 'klagomal.db');
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
}

/** Tables and columns (other than raw_mail, the evidence) whose text contains `needle`. */
function columnsContaining(w: World, needle: string): string[] {
  const { store, close } = w.store();
  try {
    const db = store.db;
    const out: string[] = [];
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'raw_mail'").all() as Array<{
      name: string;
    }>;
    for (const { name } of tables) {
      for (const { name: column } of db.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string }>) {
        const row = db.prepare(`SELECT COUNT(*) AS n FROM "${name}" WHERE instr(CAST("${column}" AS TEXT), ?) > 0`).get(needle) as { n: number };
        if (row.n > 0) out.push(`${name}.${column}`);
      }
    }
    return out;
  } finally {
    close();
  }
}

describe('personnummer at rest', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('personnummerInTheDatabaseFileInClearText', async () => {
    w = makeWorld();
    deliverToMaildir(w.maildir, complaintMail(1, { body: BODY }));
    const r = await w.cli(['run', '--once', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1 });

    // The twelve digits the case used to hold in clear are nowhere in the file or its WAL, while
    // the raw mail's text is (the control: the search sees what the database stores).
    const bytes = databaseBytes(w);
    expect(bytes.includes(Buffer.from(NORMALISED))).toBe(false);
    expect(bytes.includes(Buffer.from(WRITTEN))).toBe(true);
    // The customer's own writing of it is only in the raw mail (kept as evidence), not in any derived text.
    expect(columnsContaining(w, WRITTEN)).toEqual([]);
    expect(columnsContaining(w, NORMALISED)).toEqual([]);

    const { store, close } = w.store();
    try {
      const [c] = store.listCases({});
      expect(c.personnummer).toMatch(/^v1:/);
      expect(JSON.parse(c.fields)).toMatchObject({ personnummerMasked: '19870521-****' });
      // Readable with the key, for the one who needs it (subject access export).
      const config = parseConfig(JSON.parse(fs.readFileSync(w.configFile, 'utf8')), w.configFile);
      expect(decryptPersonnummer(config, c, { KLAGOMAL_PERSONNUMMER_KEY: TEST_PERSONNUMMER_KEY })).toBe(NORMALISED);
    } finally {
      close();
    }

    // Shown masked: the case view, its JSON and its audit view.
    for (const args of [
      ['case', 'show', '1'],
      ['case', 'show', '1', '--json'],
      ['case', 'show', '1', '--audit'],
    ]) {
      const shown = await w.cli(args);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain('19870521-****');
      expect(shown.stdout).not.toContain(NORMALISED);
      expect(shown.stdout).not.toContain(WRITTEN);
    }
  });

  test('serviceStartsWithoutTheKey', async () => {
    w = makeWorld();
    const child = w.start({ KLAGOMAL_PERSONNUMMER_KEY: '' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(child.output()).toContain('personnummer.keyEnv');
    expect(child.output()).toContain('KLAGOMAL_PERSONNUMMER_KEY');

    const check = await w.cli(['config', 'check'], { KLAGOMAL_PERSONNUMMER_KEY: 'inte-en-nyckel' });
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('personnummer.keyEnv: names KLAGOMAL_PERSONNUMMER_KEY, whose value is not a 32-byte key');
    expect(check.stderr).not.toContain('inte-en-nyckel');
  });

  test.each([
    ['ingest', (file: string) => ['ingest', file]],
    ['import', (file: string) => ['import', path.dirname(file)]],
    ['reconcile', () => ['reconcile']],
    ['quarantine retry', () => ['quarantine', 'retry', '1']],
  ])('commandsThatFileMailRunWithoutTheKey: %s refuses before filing anything', async (_name, args) => {
    w = makeWorld();
    const dir = path.join(w.dir, 'eml');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'klagomal.eml');
    fs.writeFileSync(file, complaintMail(1));
    const r = await w.cli(args(file), { KLAGOMAL_PERSONNUMMER_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('personnummer.keyEnv: names KLAGOMAL_PERSONNUMMER_KEY, which is not set');
    // Refused up front: nothing stored, so nothing waits in quarantine for the key.
    if (fs.existsSync(path.join(w.dataDir, 'klagomal.db'))) {
      const { store, close } = w.store();
      try {
        expect((store.db.prepare('SELECT COUNT(*) AS n FROM inbound').get() as { n: number }).n).toBe(0);
      } finally {
        close();
      }
    }
  });

  test('storageOffKeepsTheNumber', async () => {
    w = makeWorld({ personnummer: { store: false } });
    deliverToMaildir(w.maildir, complaintMail(1, { body: BODY }));
    const r = await w.cli(['run', '--once', '--json'], { KLAGOMAL_PERSONNUMMER_KEY: '' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ filed: 1 });
    const { store, close } = w.store();
    try {
      const [c] = store.listCases({});
      expect(c.personnummer).toBeNull();
      expect(JSON.parse(c.fields)).toMatchObject({ personnummerMasked: '19870521-****' });
    } finally {
      close();
    }
    expect(databaseBytes(w).includes(Buffer.from(NORMALISED))).toBe(false);
  });
});
