/**
 * Protected fields (src/util/crypto-field.ts) and the personnummer at rest
 * (src/cases/personnummer-store.ts): a value comes back only with the right key and the right
 * row; a changed value, a value moved to another case or a wrong key fails loudly, never with
 * a wrong number.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptField, encryptField, FieldDecryptError, isEncryptedField, parseFieldKey } from '../../src/util/crypto-field';
import {
  decryptPersonnummer,
  encryptClearPersonnummer,
  findCasesByPersonnummer,
  PersonnummerKeyError,
  personnummerStorage,
  sealPersonnummer,
} from '../../src/cases/personnummer-store';
import { parseConfig } from '../../src/config/load';
import { openDatabase } from '../../src/store/db';
import { Store } from '../../src/store/store';

const KEY = crypto.randomBytes(32);
const OTHER = crypto.randomBytes(32);
const PNR = '198705212382';
const CASE = 'KLG-2026-000042';

/** Flip one bit of the decoded value at `index` (negative: from the end). */
function flip(stored: string, index: number): string {
  const raw = Buffer.from(stored.slice(3), 'base64');
  const i = index < 0 ? raw.length + index : index;
  raw[i] ^= 0x01;
  return 'v1:' + raw.toString('base64');
}

describe('encryptField / decryptField', () => {
  test('roundTrip', () => {
    const stored = encryptField(PNR, KEY, CASE);
    expect(stored.startsWith('v1:')).toBe(true);
    expect(stored).not.toContain(PNR);
    expect(isEncryptedField(stored)).toBe(true);
    expect(decryptField(stored, KEY, CASE)).toBe(PNR);
    expect(decryptField(encryptField('åäö ÅÄÖ', KEY, CASE), KEY, CASE)).toBe('åäö ÅÄÖ');
    expect(decryptField(encryptField('', KEY, CASE), KEY, CASE)).toBe('');
  });

  test('freshIvEveryTime: the same number twice gives two different values', () => {
    const a = encryptField(PNR, KEY, CASE);
    const b = encryptField(PNR, KEY, CASE);
    expect(a).not.toBe(b);
    expect(Buffer.from(a.slice(3), 'base64').subarray(0, 12)).not.toEqual(Buffer.from(b.slice(3), 'base64').subarray(0, 12));
  });

  test('wrongKeyFails', () => {
    const stored = encryptField(PNR, KEY, CASE);
    expect(() => decryptField(stored, OTHER, CASE)).toThrow(FieldDecryptError);
  });

  test.each([
    ['iv', 0],
    ['tag', 12],
    ['ciphertext', -1],
  ])('tamperedValueFails: %s', (_part, index) => {
    const stored = encryptField(PNR, KEY, CASE);
    expect(() => decryptField(flip(stored, index), KEY, CASE)).toThrow(FieldDecryptError);
  });

  test('truncatedOrForeignValueFails', () => {
    const stored = encryptField(PNR, KEY, CASE);
    expect(() => decryptField(stored.slice(0, 20), KEY, CASE)).toThrow(FieldDecryptError);
    expect(() => decryptField(PNR, KEY, CASE)).toThrow(/not an encrypted field/);
  });

  test('aadBinding: a value moved to another case does not decrypt', () => {
    const stored = encryptField(PNR, KEY, CASE);
    expect(() => decryptField(stored, KEY, 'KLG-2026-000043')).toThrow(FieldDecryptError);
    expect(() => decryptField(stored, KEY, '')).toThrow(FieldDecryptError);
  });

  test('errorsNeverCarryTheValue', () => {
    const stored = encryptField(PNR, KEY, CASE);
    try {
      decryptField(stored, OTHER, CASE);
      throw new Error('expected a failure');
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(PNR);
      expect(String((err as Error).message)).not.toContain(KEY.toString('base64'));
    }
  });
});

describe('parseFieldKey', () => {
  const key = crypto.randomBytes(32);
  test.each([
    ['hex', key.toString('hex')],
    ['HEX', key.toString('hex').toUpperCase()],
    ['base64', key.toString('base64')],
    ['base64 without padding', key.toString('base64').replace(/=+$/, '')],
    ['base64url', key.toString('base64url')],
    ['with a trailing newline (a file read by systemd)', key.toString('base64') + '\n'],
  ])('accepts %s', (_what, text) => {
    expect(parseFieldKey(text)).toEqual(key);
  });

  test.each([
    ['nothing', undefined],
    ['empty', ''],
    ['a password', 'hemligt-lösenord'],
    ['16 bytes base64', crypto.randomBytes(16).toString('base64')],
    ['31 bytes hex', crypto.randomBytes(31).toString('hex')],
    ['33 bytes base64', crypto.randomBytes(33).toString('base64')],
    ['63 hex digits', 'a'.repeat(63)],
  ])('rejects %s', (_what, text) => {
    expect(parseFieldKey(text)).toBeNull();
  });
});

describe('the personnummer of a case', () => {
  const file = path.join(os.tmpdir(), 'klagomal-pnr', 'config.json');
  const config = (personnummer?: Record<string, unknown>) =>
    parseConfig(
      {
        firm: { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se' },
        sources: [{ type: 'maildir', path: 'maildir' }],
        officers: [{ name: 'Karin', address: 'karin@exempelfinans.se', role: 'manager' }],
        ...(personnummer ? { personnummer } : {}),
      },
      file,
    );
  const env = { KLAGOMAL_PERSONNUMMER_KEY: KEY.toString('base64') };

  test('sealedWithTheCaseNumberAndReadBack', () => {
    const c = config();
    const stored = sealPersonnummer(c, CASE, PNR, env)!;
    expect(isEncryptedField(stored)).toBe(true);
    expect(personnummerStorage({ personnummer: stored })).toBe('encrypted');
    expect(decryptPersonnummer(c, { number: CASE, personnummer: stored }, env)).toBe(PNR);
    expect(() => decryptPersonnummer(c, { number: 'KLG-2026-000001', personnummer: stored }, env)).toThrow(FieldDecryptError);
    expect(decryptPersonnummer(c, { number: CASE, personnummer: null }, env)).toBeNull();
    expect(sealPersonnummer(c, CASE, null, env)).toBeNull();
  });

  test('storeFalseKeepsNothing', () => {
    const c = config({ store: false });
    expect(sealPersonnummer(c, CASE, PNR, {})).toBeNull();
  });

  test('withoutTheKeyNothingIsStoredOrRead', () => {
    const c = config();
    expect(() => sealPersonnummer(c, CASE, PNR, {})).toThrow(PersonnummerKeyError);
    expect(() => sealPersonnummer(c, CASE, PNR, { KLAGOMAL_PERSONNUMMER_KEY: 'kort' })).toThrow(/not a 32-byte key/);
    const stored = sealPersonnummer(c, CASE, PNR, env)!;
    expect(() => decryptPersonnummer(c, { number: CASE, personnummer: stored }, {})).toThrow(/KLAGOMAL_PERSONNUMMER_KEY is not set/);
  });

  test('theKeyEnvTheConfigNamesIsUsed', () => {
    const c = config({ keyEnv: 'FIRMA_PNR_NYCKEL' });
    expect(() => sealPersonnummer(c, CASE, PNR, env)).toThrow(/FIRMA_PNR_NYCKEL/);
    expect(sealPersonnummer(c, CASE, PNR, { FIRMA_PNR_NYCKEL: KEY.toString('hex') })).toMatch(/^v1:/);
  });

  test('clearValuesFromBeforeSchema8AreEncryptedOnce', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-pnr-'));
    const db = openDatabase(path.join(dir, 'k.db'));
    try {
      const store = new Store(db);
      const c = config();
      const ids = ['KLG-2026-000001', 'KLG-2026-000002', 'KLG-2026-000003'].map((number, i) =>
        store.insertCase({
          number,
          category: null,
          contactOfficer: null,
          personnummer: i === 0 ? PNR : i === 1 ? sealPersonnummer(c, number, '199001011239', env) : null,
          subjectKey: null,
          customerAddress: null,
          customerName: null,
          subject: null,
          language: 'sv',
          receivedAt: '2026-03-02T08:00:00.000Z',
          filedAt: '2026-03-02T08:00:00.000Z',
          fields: {},
          refersToCaseId: null,
        }),
      );
      expect(personnummerStorage(store.caseById(ids[0])!)).toBe('clear');
      // A clear value reads back as it is (no key needed), until it is converted.
      expect(decryptPersonnummer(c, store.caseById(ids[0])!, {})).toBe(PNR);
      expect(() => encryptClearPersonnummer(store, c, {})).toThrow(PersonnummerKeyError);
      expect(encryptClearPersonnummer(store, c, env)).toEqual({ encrypted: 1, removed: 0 });
      expect(encryptClearPersonnummer(store, c, env)).toEqual({ encrypted: 0, removed: 0 });
      const first = store.caseById(ids[0])!;
      expect(personnummerStorage(first)).toBe('encrypted');
      expect(decryptPersonnummer(c, first, env)).toBe(PNR);
      expect(decryptPersonnummer(c, store.caseById(ids[1])!, env)).toBe('199001011239');
      expect(store.caseById(ids[2])!.personnummer).toBeNull();

      // Found by number, in any written form; a value moved from another case is unreadable, not a match.
      for (const written of ['870521-2382', '19870521-2382', '198705212382'])
        expect(findCasesByPersonnummer(store, c, written, env)).toEqual({ caseIds: [ids[0]], unreadable: 0 });
      expect(findCasesByPersonnummer(store, c, '900101-1239', env)).toEqual({ caseIds: [ids[1]], unreadable: 0 });
      store.setCasePersonnummer(ids[2], store.caseById(ids[0])!.personnummer);
      expect(findCasesByPersonnummer(store, c, PNR, env)).toEqual({ caseIds: [ids[0]], unreadable: 1 });
      expect(() => findCasesByPersonnummer(store, c, PNR, {})).toThrow(PersonnummerKeyError);
      store.setCasePersonnummer(ids[2], null);

      // With storage off, clear values are removed instead.
      store.setCasePersonnummer(ids[2], PNR);
      expect(encryptClearPersonnummer(store, config({ store: false }), {})).toEqual({ encrypted: 0, removed: 1 });
      expect(store.caseById(ids[2])!.personnummer).toBeNull();
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
