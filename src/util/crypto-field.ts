/**
 * One protected database field: AES-256-GCM (node:crypto) with a fresh 96-bit IV per value and
 * associated data that binds the value to its row.
 *
 * Stored form: "v1:" + base64(iv[12] | tag[16] | ciphertext). The "v1" names this layout and
 * algorithm, so that a later key rotation or algorithm change can tell old values from new.
 *
 * Security notes:
 *  - The key is 32 random bytes held outside the database (an environment variable the config
 *    names). Without it a copy of the database file shows no personnummer; with it lost, the
 *    stored values cannot be read back (the raw mails still hold what the customer wrote).
 *  - The associated data (for a personnummer: the case number) is authenticated, not
 *    encrypted: a value copied into another case's row fails to decrypt instead of silently
 *    becoming that case's personnummer.
 *  - GCM's tag makes any change of iv, tag or ciphertext fail decryption (FieldDecryptError);
 *    nothing is ever returned from a value that did not authenticate.
 *  - Never log a key or a decrypted value; error messages name the problem, not the data.
 */
import crypto from 'node:crypto';

export const FIELD_VERSION = 'v1';
const PREFIX = `${FIELD_VERSION}:`;
const IV_BYTES = 12; // NIST SP 800-38D 8.2: 96-bit IVs for GCM
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** A value could not be decrypted: wrong key, wrong associated data, or a changed value. */
export class FieldDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FieldDecryptError';
  }
}

/**
 * A 32-byte key from its text form: 64 hex digits, or base64 (standard or url-safe, with or
 * without padding) of exactly 32 bytes (`openssl rand -base64 32`, `openssl rand -hex 32`).
 * Returns null for anything else; never says what the text was.
 */
export function parseFieldKey(text: string | undefined | null): Buffer | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) {
    const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  return null;
}

/** True for a value written by `encryptField` (of any version this module knows). */
export function isEncryptedField(stored: string | null | undefined): boolean {
  return typeof stored === 'string' && stored.startsWith(PREFIX);
}

export function encryptField(plain: string, key: Buffer, aad: string): string {
  if (key.length !== KEY_BYTES) throw new Error(`encryptField: the key must be ${KEY_BYTES} bytes`);
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64');
}

/** The plain text of a value from `encryptField`; throws FieldDecryptError unless it authenticates. */
export function decryptField(stored: string, key: Buffer, aad: string): string {
  if (key.length !== KEY_BYTES) throw new Error(`decryptField: the key must be ${KEY_BYTES} bytes`);
  if (!isEncryptedField(stored)) throw new FieldDecryptError(`not an encrypted field (expected the prefix "${PREFIX}")`);
  const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new FieldDecryptError('encrypted field too short');
  const iv = raw.subarray(0, IV_BYTES);
  const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const ciphertext = raw.subarray(IV_BYTES + TAG_BYTES);
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new FieldDecryptError('the value does not authenticate: wrong key, a value moved from another row, or a changed value');
  }
}
