/**
 * What a loaded config needs from the environment: the secrets it names (passwords, client
 * secrets, key files, the personnummer key). Checked apart from the file's validation, because
 * the environment is the service's, not the file's: `config check` lists them with the
 * problems; `start` and `run` refuse to begin while any is missing. No value is ever echoed.
 */
import fs from 'node:fs';
import type { Config, OAuth2Config } from './config';
import type { ConfigProblem } from './reader';
import { parseFieldKey } from '../util/crypto-field';

/**
 * Secrets named by the config that are missing from the environment (or, for the personnummer
 * key, not a usable key). `start` and `run` refuse to begin while any is missing; `config check`
 * lists them with the other problems.
 */
export function missingSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  config.sources.forEach((s, i) => {
    if (s.type !== 'imap') return;
    if (s.passwordEnv && !env[s.passwordEnv])
      out.push({ key: `sources[${i}].passwordEnv`, message: `names ${s.passwordEnv}, which is not set in the environment` });
    if (s.auth) out.push(...missingAuthSecrets(s.auth, `sources[${i}].auth`, env));
  });
  const t = config.transport;
  if (t.type === 'smtp' && t.passwordEnv && !env[t.passwordEnv])
    out.push({ key: 'transport.passwordEnv', message: `names ${t.passwordEnv}, which is not set in the environment` });
  if ((t.type === 'smtp' || t.type === 'graph') && t.auth) out.push(...missingAuthSecrets(t.auth, 'transport.auth', env));
  // The personnummer key: only when numbers are kept; present and exactly 32 bytes. The value is never echoed.
  const p = config.personnummer;
  if (p.store) {
    const value = env[p.keyEnv];
    if (!value)
      out.push({
        key: 'personnummer.keyEnv',
        message: `names ${p.keyEnv}, which is not set in the environment; personnummer.store is on, so the key is required (create one with \`openssl rand -base64 32\` and keep a copy: without it stored numbers cannot be read), or set personnummer.store to false to keep only the mask`,
      });
    else if (!parseFieldKey(value))
      out.push({
        key: 'personnummer.keyEnv',
        message: `names ${p.keyEnv}, whose value is not a 32-byte key (${value.trim().length} characters; expected 64 hex digits or 44 base64 characters, e.g. from \`openssl rand -base64 32\`)`,
      });
  }
  return out;
}

/**
 * What an OAuth2 login needs from the environment: the variables set, the files they name
 * readable (a key file is also checked for the fields a token request needs), the program
 * runnable. No value is ever echoed.
 */
function missingAuthSecrets(auth: OAuth2Config, at: string, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const unset = (key: string, name: string, what: string): boolean => {
    if (env[name]) return false;
    out.push({ key: `${at}.${key}`, message: `names ${name}, which is not set in the environment (${what})` });
    return true;
  };
  const readable = (key: string, name: string, check?: (text: string) => string | null): void => {
    const file = env[name]!;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      out.push({
        key: `${at}.${key}`,
        message: `names ${name}, whose file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); the service user must be able to read it`,
      });
      return;
    }
    const problem = check?.(text);
    if (problem) out.push({ key: `${at}.${key}`, message: `names ${name}, whose file ${file} ${problem}` });
  };
  if (auth.provider === 'microsoft') {
    if (auth.clientSecretEnv) unset('clientSecretEnv', auth.clientSecretEnv, "the app registration's client secret");
    if (auth.certificateFileEnv && !unset('certificateFileEnv', auth.certificateFileEnv, 'the path of the PEM file with the certificate and its private key'))
      readable('certificateFileEnv', auth.certificateFileEnv, (t) => (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t) ? null : 'holds no PEM private key'));
  } else if (auth.provider === 'google') {
    if (!unset('serviceAccountKeyFileEnv', auth.serviceAccountKeyFileEnv, "the path of the service account's JSON key file"))
      readable('serviceAccountKeyFileEnv', auth.serviceAccountKeyFileEnv, (t) => {
        try {
          const k = JSON.parse(t) as Record<string, unknown>;
          return typeof k.client_email === 'string' && typeof k.private_key === 'string'
            ? null
            : 'is not a service account key (no client_email or private_key: create a JSON key for the service account)';
        } catch {
          return 'is not JSON (download the key as JSON, not P12)';
        }
      });
  } else if (auth.provider === 'generic') {
    unset('clientSecretEnv', auth.clientSecretEnv, 'the client secret');
  } else if (auth.command.length > 0) {
    try {
      fs.accessSync(auth.command[0], fs.constants.X_OK);
    } catch {
      out.push({ key: `${at}.command`, message: `${auth.command[0]} is not an executable program (for the service user)` });
    }
  }
  return out;
}
