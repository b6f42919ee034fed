/**
 * The four ways to get an access token for a mailbox (config `auth.provider`), each turning the
 * service's refusal into a `TokenError` an admin of that service understands:
 *
 *  - microsoft: Entra ID client credentials (RFC 6749 §4.4) through @azure/msal-node, with a
 *    client secret or a certificate (a signed client assertion, RFC 7523). App-only: no person
 *    signs in; Exchange Online then needs the app's service principal to have rights on the
 *    mailbox. Errors carry Entra's AADSTS codes, mapped to what to change in the portal.
 *  - google: a service account's JWT-bearer grant (RFC 7523 §2.1) through google-auth-library,
 *    with `sub` = the mailbox (domain-wide delegation). A delegation without the scope answers
 *    `unauthorized_client`.
 *  - generic: client credentials against any token endpoint (client_secret_basic, RFC 6749 §2.3.1).
 *  - command: a program prints the token (alone, or JSON with access_token and expires_in).
 *
 * Secrets are read from the environment when a token is fetched (so a fixed secret is picked
 * up without a restart... of the variable's file, once systemd passes it; and by `check`), and
 * registered with the log guard (src/util/secrets.ts).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
// The providers' libraries are loaded when a token is first fetched: most installations use one
// or none, and every command would otherwise pay ~0.1 s at start to load both.
import type { ConfidentialClientApplication } from '@azure/msal-node';
import type { CommandOAuth2, GenericOAuth2, GoogleOAuth2, MicrosoftOAuth2, OAuth2Config } from '../config/config';
import { redactSecrets, registerSecret } from '../util/secrets';
import { FetchedToken, TokenError } from './token';

export type Fetcher = (fresh: boolean) => Promise<FetchedToken>;

/** The token fetcher for one mailbox (`user`) and its `auth` config. */
export function fetcherFor(auth: OAuth2Config, user: string, env: NodeJS.ProcessEnv): Fetcher {
  switch (auth.provider) {
    case 'microsoft':
      return microsoftFetcher(auth, env);
    case 'google':
      return googleFetcher(auth, user, env);
    case 'generic':
      return genericFetcher(auth, env);
    case 'command':
      return commandFetcher(auth, user, env);
  }
}

function secretFromEnv(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const v = env[name];
  if (!v) throw new TokenError(`${name} is not set in the environment (${what})`, 'key', false);
  registerSecret(v);
  return v;
}

function fileFromEnv(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const file = secretFromEnv(env, name, `the path of ${what}`);
  try {
    const text = fs.readFileSync(file, 'utf8');
    registerSecret(text);
    return text;
  } catch (err) {
    throw new TokenError(`cannot read ${what} at ${file} (named by ${name}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'key', false);
  }
}

// ---- Microsoft ------------------------------------------------------------------------

/** What an Entra admin does about an AADSTS code (https://learn.microsoft.com/entra/identity-platform/reference-error-codes). */
const AADSTS_FIX: Readonly<Record<string, string>> = {
  '7000215': "the client secret is wrong: copy the secret's Value (not its ID) from the app registration's Certificates & secrets into",
  '7000222': 'the client secret has expired: create a new one under Certificates & secrets and put it in',
  '700016': 'no app with this clientId in the tenant: check clientId (the Application (client) ID) and tenantId, and that the app exists in this tenant',
  '90002': 'no such tenant: check tenantId (the Directory (tenant) ID)',
  '900023': 'tenantId is not a valid tenant id or domain',
  '700027': 'the certificate is not accepted: upload the certificate to the app registration and check certificateThumbprint; or it has expired',
  '700024': "the client assertion is not within its valid time range: check this machine's clock",
  '7000112': 'the app is disabled in the tenant (Enterprise applications → Properties → Enabled for users to sign in)',
  '53003': 'a Conditional Access policy blocked the app: exclude the service principal or allow its location',
  '500011': 'the resource (scope) is not known in the tenant: check auth.scope',
  '1002012': 'the scope is not valid: app-only requests need a scope ending in /.default',
};

export function microsoftError(err: unknown, auth: MicrosoftOAuth2): TokenError {
  const e = err as { errorCode?: string; errorMessage?: string; message?: string; subError?: string };
  const text = `${e.errorCode ?? ''} ${e.errorMessage ?? e.message ?? String(err)}`;
  const code = /AADSTS(\d+)/.exec(text)?.[1];
  const where = auth.clientSecretEnv ? `$${auth.clientSecretEnv}` : `$${auth.certificateFileEnv}`;
  const said = `(Entra ID said ${code ? `AADSTS${code}` : (e.errorCode ?? 'an error')})`;
  if (code && AADSTS_FIX[code]) {
    const fix = AADSTS_FIX[code];
    return new TokenError(
      `the Microsoft token endpoint refused: ${fix}${fix.endsWith(' into') || fix.endsWith(' in') ? ` ${where}` : ''} ${said}`,
      'token endpoint',
      false,
    );
  }
  if (
    /network|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|ECONNRESET|EAI_AGAIN|timed out|socket/i.test(text) ||
    /^(network_error|endpoints_resolution_error)/.test(e.errorCode ?? '')
  )
    return new TokenError(
      `the Microsoft token endpoint ${auth.authorityHost} did not answer: check the network and the firewall (outbound https to it) ${said}`,
      'token endpoint',
      true,
    );
  if (/invalid_client|unauthorized_client/.test(text))
    return new TokenError(
      `the Microsoft token endpoint refused the app: check tenantId, clientId and the secret or certificate in ${where} ${said}`,
      'token endpoint',
      false,
    );
  return new TokenError(`the Microsoft token endpoint refused: ${redactSecrets(text).replace(/\s+/g, ' ').slice(0, 300)}`, 'token endpoint', false);
}

/** The private key block of a PEM file that may also hold the certificate. */
function privateKeyOf(pem: string): string {
  const m = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/.exec(pem);
  if (!m) throw new TokenError('the certificate file holds no PEM private key (export it with its key, e.g. openssl pkcs12 -nodes)', 'key', false);
  return m[0];
}

function microsoftFetcher(auth: MicrosoftOAuth2, env: NodeJS.ProcessEnv): Fetcher {
  let app: ConfidentialClientApplication | null = null;
  let appSecret: string | null = null;
  const host = new URL(auth.authorityHost).host;
  // Microsoft's own clouds are known to MSAL; another host (a national cloud proxy, a test
  // endpoint) is named as known, so that MSAL does not ask Microsoft to discover it.
  const known = /(^|\.)(microsoftonline\.com|microsoftonline\.us|chinacloudapi\.cn|microsoftonline\.de)$/.test(host);
  return async () => {
    const credential = auth.clientSecretEnv
      ? { clientSecret: secretFromEnv(env, auth.clientSecretEnv, "the app registration's client secret") }
      : {
          clientCertificate: {
            privateKey: privateKeyOf(fileFromEnv(env, auth.certificateFileEnv!, 'the certificate file')),
            ...(auth.certificateThumbprint!.length === 64 ? { thumbprintSha256: auth.certificateThumbprint! } : { thumbprint: auth.certificateThumbprint! }),
          },
        };
    // A changed secret (the operator fixed it) makes a new client; MSAL keeps no secret otherwise.
    const fingerprint = JSON.stringify(credential);
    if (!app || appSecret !== fingerprint) {
      const { ConfidentialClientApplication, LogLevel } = await import('@azure/msal-node');
      app = new ConfidentialClientApplication({
        auth: {
          clientId: auth.clientId,
          authority: `${auth.authorityHost}/${auth.tenantId}`,
          ...(known ? {} : { knownAuthorities: [host] }),
          ...credential,
        },
        // MSAL's own log is off: it can carry identifiers we do not want in ours.
        system: { loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined } },
      });
      appSecret = fingerprint;
    }
    try {
      // Our cache decides when to renew: MSAL's is skipped so that a renewal is a new token.
      const r = await app.acquireTokenByClientCredential({ scopes: [auth.scope], skipCache: true });
      if (!r?.accessToken) throw new TokenError('the Microsoft token endpoint answered without an access token', 'token endpoint', false);
      return { value: r.accessToken, expiresAt: r.expiresOn ? r.expiresOn.getTime() : Date.now() + 3600_000 };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw microsoftError(err, auth);
    }
  };
}

// ---- Google ---------------------------------------------------------------------------

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
}

export function googleError(err: unknown, auth: GoogleOAuth2, user: string, email: string): TokenError {
  const e = err as { response?: { status?: number; data?: { error?: string; error_description?: string } }; message?: string; code?: string };
  const error = e.response?.data?.error ?? '';
  const description = e.response?.data?.error_description ?? e.message ?? String(err);
  const said = `(Google said ${error || 'an error'}${description ? `: ${redactSecrets(description).slice(0, 200)}` : ''})`;
  if (error === 'unauthorized_client')
    return new TokenError(
      `Google refused the delegation: in the Admin console (Security → Access and data control → API controls → Domain-wide delegation) the service account's client ID must be listed with the scope ${auth.scope} ${said}`,
      'delegation',
      false,
    );
  if (error === 'invalid_grant' && /invalid email|user id|not found|subject/i.test(description))
    return new TokenError(
      `Google refused to act as ${user}: the mailbox must be a user of the Workspace domain that delegated to ${email} ${said}`,
      'delegation',
      false,
    );
  if (error === 'invalid_grant' || error === 'invalid_client')
    return new TokenError(
      `Google refused the service account's key: the key in $${auth.serviceAccountKeyFileEnv} was deleted or disabled, or this machine's clock is wrong; create a new JSON key for ${email} ${said}`,
      'token endpoint',
      false,
    );
  if (!e.response || (e.response.status ?? 0) >= 500)
    return new TokenError(`Google's token endpoint ${auth.tokenUrl} did not answer: check the network and the firewall ${said}`, 'token endpoint', true);
  return new TokenError(`Google's token endpoint refused ${said}`, 'token endpoint', false);
}

function googleFetcher(auth: GoogleOAuth2, user: string, env: NodeJS.ProcessEnv): Fetcher {
  return async () => {
    const text = fileFromEnv(env, auth.serviceAccountKeyFileEnv, "the service account's JSON key");
    let key: ServiceAccountKey;
    try {
      key = JSON.parse(text) as ServiceAccountKey;
    } catch {
      throw new TokenError(`the file named by $${auth.serviceAccountKeyFileEnv} is not JSON: download the service account key as JSON`, 'key', false);
    }
    if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string')
      throw new TokenError(`the file named by $${auth.serviceAccountKeyFileEnv} is not a service account key (no client_email or private_key)`, 'key', false);
    registerSecret(key.private_key);
    const { gaxios, JWT } = await import('google-auth-library');
    // google-auth-library posts to Google's token endpoint; another one (a proxy, a test) is reached by rewriting the URL.
    const transporter = new gaxios.Gaxios({ retry: false });
    if (auth.tokenUrl !== 'https://oauth2.googleapis.com/token') {
      transporter.interceptors.request.add({
        resolved: async (config) => {
          if (String(config.url) === 'https://oauth2.googleapis.com/token') config.url = new URL(auth.tokenUrl);
          return config;
        },
      });
    }
    const jwt = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: [auth.scope], subject: user, transporter });
    try {
      const creds = await jwt.authorize();
      if (!creds.access_token) throw new TokenError("Google's token endpoint answered without an access token", 'token endpoint', false);
      return { value: creds.access_token, expiresAt: creds.expiry_date ?? Date.now() + 3600_000 };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw googleError(err, auth, user, key.client_email);
    }
  };
}

// ---- generic client credentials -------------------------------------------------------

function genericFetcher(auth: GenericOAuth2, env: NodeJS.ProcessEnv): Fetcher {
  return async () => {
    const secret = secretFromEnv(env, auth.clientSecretEnv, 'the client secret');
    // client_secret_basic: the form-encoded id and secret as HTTP Basic credentials (RFC 6749 §2.3.1).
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(secret)}`).toString('base64');
    registerSecret(basic);
    const body = new URLSearchParams({ grant_type: 'client_credentials', ...(auth.scope ? { scope: auth.scope } : {}) });
    let res: Response;
    try {
      res = await fetch(auth.tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new TokenError(
        `the token endpoint ${auth.tokenUrl} did not answer: ${(err as Error).cause ? String((err as { cause: unknown }).cause) : (err as Error).message}`,
        'token endpoint',
        true,
      );
    }
    const text = await res.text();
    let json: { access_token?: string; expires_in?: number | string; error?: string; error_description?: string } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      /* not JSON: reported below */
    }
    if (!res.ok || !json.access_token) {
      const said = `(HTTP ${res.status}${json.error ? `, ${json.error}` : ''}${json.error_description ? `: ${redactSecrets(json.error_description).slice(0, 200)}` : ''})`;
      if (res.status >= 500 || res.status === 429) throw new TokenError(`the token endpoint ${auth.tokenUrl} failed ${said}`, 'token endpoint', true);
      if (json.error === 'invalid_client' || res.status === 401)
        throw new TokenError(
          `the token endpoint refused the client: check clientId and the secret in $${auth.clientSecretEnv} ${said}`,
          'token endpoint',
          false,
        );
      if (json.error === 'invalid_scope') throw new TokenError(`the token endpoint refused the scope: check auth.scope ${said}`, 'token endpoint', false);
      throw new TokenError(`the token endpoint refused ${said}`, 'token endpoint', false);
    }
    const seconds = Number(json.expires_in);
    return { value: json.access_token, expiresAt: Date.now() + (Number.isFinite(seconds) && seconds > 0 ? seconds : 3600) * 1000 };
  };
}

// ---- a program -------------------------------------------------------------------------

/** A token printed without an expiry is used this long (a JWT's own `exp` is used when it has one). */
const COMMAND_DEFAULT_LIFETIME_MS = 5 * 60_000;

/** The `exp` claim of a JWT, read without checking it (only to know when to ask again). */
function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const exp = (JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

export function parseCommandOutput(stdout: string, now: number): FetchedToken {
  const text = stdout.trim();
  if (text.startsWith('{')) {
    let j: { access_token?: unknown; expires_in?: unknown; expires_at?: unknown };
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      throw new TokenError('the program printed JSON that cannot be read', 'command', false);
    }
    if (typeof j.access_token !== 'string' || !j.access_token) throw new TokenError('the program printed JSON without "access_token"', 'command', false);
    registerSecret(j.access_token, 'token');
    const expiresAt =
      typeof j.expires_in === 'number'
        ? now + j.expires_in * 1000
        : typeof j.expires_at === 'string' || typeof j.expires_at === 'number'
          ? new Date(typeof j.expires_at === 'number' ? j.expires_at * 1000 : j.expires_at).getTime()
          : (jwtExpiry(j.access_token) ?? now + COMMAND_DEFAULT_LIFETIME_MS);
    return { value: j.access_token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : now + COMMAND_DEFAULT_LIFETIME_MS };
  }
  const token = text.split(/\r?\n/)[0].trim();
  if (!token || /\s/.test(token))
    throw new TokenError('the program printed no token (expected the token alone on its first line, or JSON with "access_token")', 'command', false);
  registerSecret(token, 'token');
  return { value: token, expiresAt: jwtExpiry(token) ?? now + COMMAND_DEFAULT_LIFETIME_MS };
}

function commandFetcher(auth: CommandOAuth2, user: string, env: NodeJS.ProcessEnv): Fetcher {
  return (fresh) =>
    new Promise((resolve, reject) => {
      const [program, ...args] = auth.command;
      execFile(
        program,
        args,
        {
          timeout: 30_000,
          maxBuffer: 256 * 1024,
          // The mailbox and whether a refused token must not come from the program's own cache.
          env: { ...env, KLAGOMAL_OAUTH2_USER: user, KLAGOMAL_OAUTH2_FRESH: fresh ? '1' : '0' },
        },
        (err, stdout, stderr) => {
          if (err) {
            const how = (err as { killed?: boolean }).killed ? 'was stopped after 30 s' : `failed (exit ${String((err as { code?: unknown }).code ?? '?')})`;
            // Its first line, for the admin; with every long run of token characters cut out:
            // a program that fails may print a refresh token or a secret of a shape no rule knows.
            const said = redactSecrets(String(stderr ?? ''))
              .trim()
              .split(/\r?\n/)[0]
              ?.replace(/[A-Za-z0-9._~+/=-]{20,}/g, '[…]')
              .slice(0, 200);
            reject(new TokenError(`the token program ${program} ${how}${said ? `: ${said}` : ''}`, 'command', true));
            return;
          }
          try {
            resolve(parseCommandOutput(String(stdout), Date.now()));
          } catch (e) {
            reject(e);
          }
        },
      );
    });
}
