/**
 * The personnummer (or samordningsnummer) of a case at rest: `cases.personnummer`.
 *
 * With `personnummer.store` on (the default), filing keeps the twelve digits found in the
 * complaint encrypted with AES-256-GCM (src/util/crypto-field.ts), bound to the case number, so
 * that a copy of the database shows no personnummer and a value moved to another case does not
 * decrypt. The key is in the environment variable `personnummer.keyEnv` names; `start` and
 * `run` refuse to begin without a usable one (missingSecrets in src/config/load.ts).
 * With `personnummer.store` off, only the mask (`19850412-****`, in the case's fields) is kept.
 *
 * Everywhere else the number is masked: stored texts, subjects, events, logs and `case show`.
 * It is decrypted only where a person needs the number itself (the data subject access export),
 * through `decryptPersonnummer`, and found by number with `findCasesByPersonnummer`.
 *
 * Versions before schema 8 stored the number in clear. `encryptClearPersonnummer` (the
 * `klagomal audit encrypt-personnummer` command) converts such values once the key is set;
 * `klagomal audit verify` reports how many are left.
 */
import type { Config } from '../config/config';
import type { CaseRow, Store } from '../store/store';
import { decryptField, encryptField, isEncryptedField, parseFieldKey } from '../util/crypto-field';
import { findPersonnummer } from '../util/personnummer';
import { registerSecret } from '../util/secrets';

/** Personnummer storage is on but the key is missing or unusable. */
export class PersonnummerKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PersonnummerKeyError';
  }
}

function key(config: Config, env: NodeJS.ProcessEnv): Buffer {
  const name = config.personnummer.keyEnv;
  const value = env[name];
  if (!value) throw new PersonnummerKeyError(`personnummer.keyEnv: ${name} is not set in the environment; the personnummer cannot be encrypted or read`);
  registerSecret(value); // the key that opens every sealed personnummer: never in a log or an error
  const k = parseFieldKey(value);
  if (!k) throw new PersonnummerKeyError(`personnummer.keyEnv: ${name} is not a 32-byte key (64 hex digits or base64)`);
  return k;
}

/**
 * What to store in `cases.personnummer` for the number found in a complaint: null when none
 * was found or storage is off, else the encrypted value. Throws PersonnummerKeyError when
 * storage is on and the key is missing (the mail is then quarantined, not filed without it).
 */
export function sealPersonnummer(config: Config, caseNumber: string, personnummer: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  if (personnummer === null || !config.personnummer.store) return null;
  return encryptField(personnummer, key(config, env), caseNumber);
}

/**
 * The case's personnummer in clear (twelve digits), or null when none is stored. Only for a
 * person who needs the number (subject access export); everything else shows the mask.
 * Throws PersonnummerKeyError without the key, FieldDecryptError when the value does not
 * authenticate (another key, moved from another case, or changed).
 */
export function decryptPersonnummer(config: Config, c: Pick<CaseRow, 'number' | 'personnummer'>, env: NodeJS.ProcessEnv = process.env): string | null {
  if (c.personnummer === null || c.personnummer === '') return null;
  if (!isEncryptedField(c.personnummer)) return c.personnummer; // stored in clear before schema 8
  return decryptField(c.personnummer, key(config, env), c.number);
}

/**
 * The ids of the cases whose stored personnummer is `personnummer` (any written form: with or
 * without century and hyphen). The values are encrypted with a fresh IV each, so the database
 * cannot search them: every stored value is decrypted and compared (a few microseconds each).
 * A value that does not decrypt is skipped and counted in `unreadable`.
 */
export function findCasesByPersonnummer(
  store: Store,
  config: Config,
  personnummer: string,
  env: NodeJS.ProcessEnv = process.env,
): { caseIds: number[]; unreadable: number } {
  const wanted = findPersonnummer(personnummer)[0]?.normalised ?? personnummer.replace(/\D/g, '');
  const caseIds: number[] = [];
  let unreadable = 0;
  for (const c of store.casesWithPersonnummer()) {
    let plain: string | null;
    try {
      plain = decryptPersonnummer(config, c, env);
    } catch (err) {
      if (err instanceof PersonnummerKeyError) throw err;
      unreadable++;
      continue;
    }
    if (plain === wanted) caseIds.push(c.id);
  }
  return { caseIds, unreadable };
}

export type PersonnummerStorage = 'none' | 'encrypted' | 'clear';

/** How a case holds its personnummer, without decrypting it. */
export function personnummerStorage(c: Pick<CaseRow, 'personnummer'>): PersonnummerStorage {
  if (c.personnummer === null || c.personnummer === '') return 'none';
  return isEncryptedField(c.personnummer) ? 'encrypted' : 'clear';
}

/**
 * Encrypt every personnummer stored in clear (by versions before schema 8), in one
 * transaction. With storage off they are removed instead (the mask stays in the fields).
 */
export function encryptClearPersonnummer(store: Store, config: Config, env: NodeJS.ProcessEnv = process.env): { encrypted: number; removed: number } {
  const k = config.personnummer.store ? key(config, env) : null;
  return store.tx(() => {
    let encrypted = 0;
    let removed = 0;
    for (const c of store.casesWithClearPersonnummer()) {
      if (k) {
        store.setCasePersonnummer(c.id, encryptField(c.personnummer, k, c.number));
        encrypted++;
      } else {
        store.setCasePersonnummer(c.id, null);
        removed++;
      }
    }
    return { encrypted, removed };
  });
}
