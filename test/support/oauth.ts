/**
 * A token service for tests, on 127.0.0.1 (http and https on ephemeral ports, one handler):
 * what Microsoft's and Google's token endpoints, a generic OAuth2 server, Dovecot's
 * introspection endpoint and Microsoft Graph's sendMail answer, as they document it. Real
 * token requests reach it: MSAL (over https: MSAL refuses an http authority; the binary trusts
 * the test certificate through NODE_EXTRA_CA_CERTS), google-auth-library, our own fetch, and
 * Dovecot's oauth2 passdb.
 *
 *  Microsoft  GET  /{tenant}/v2.0/.well-known/openid-configuration
 *             POST /{tenant}/oauth2/v2.0/token   client_credentials with client_secret or a
 *                  client_assertion (RFC 7523) signed with the certificate's key, scope
 *                  .../.default; errors as Entra sends them (AADSTS codes in error_description)
 *  Google     POST /google/token   urn:ietf:params:oauth:grant-type:jwt-bearer: the assertion's
 *                  signature is checked with the service account's public key, and its claims
 *                  iss, sub (the mailbox), scope and aud; a scope not delegated is refused with
 *                  unauthorized_client
 *  generic    POST /token   client_credentials, client_secret_basic
 *  Dovecot    POST /introspect   token=... (introspection_mode = post): {"active", "username"}
 *  Graph      POST /v1.0/users/{user}/sendMail   text/plain base64 MIME with a Graph token
 *                  carrying Mail.Send: 202, or Graph's JSON errors
 *
 * Tokens are short-lived when a test says so (`lifetimeSeconds`); every one issued is kept with
 * its expiry, so that servers can ask whether a token is live.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

export interface Issued {
  readonly token: string;
  readonly provider: 'microsoft' | 'google' | 'generic';
  readonly clientId: string;
  /** The mailbox the token acts for (Google: sub) or null (app-only). */
  readonly subject: string | null;
  readonly scope: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  revoked: boolean;
}

export interface TokenRequestLog {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly form: Record<string, string>;
  readonly status: number;
}

export interface MicrosoftApp {
  secret?: string;
  /** PEM public key and thumbprint (hex) of a certificate credential. */
  certificate?: { publicKeyPem: string; sha1: string; sha256: string };
  /** Application permissions granted (the token's roles). */
  roles: string[];
}

export interface GoogleServiceAccount {
  clientId: string;
  publicKeyPem: string;
  /** The scopes granted in domain-wide delegation. */
  delegatedScopes: string[];
  /** The domain's users the account may act as. */
  users: string[];
}

export interface GraphMail {
  readonly user: string;
  readonly mime: Buffer;
  readonly token: string;
}

export interface TokenService {
  readonly httpUrl: string;
  readonly httpsUrl: string;
  /** PEM file of the self-signed certificate (for NODE_EXTRA_CA_CERTS). */
  readonly caFile: string;
  lifetimeSeconds: number;
  readonly microsoftApps: Map<string, MicrosoftApp>;
  readonly googleAccounts: Map<string, GoogleServiceAccount>;
  /** generic: clientId -> secret */
  readonly genericClients: Map<string, string>;
  readonly issued: Issued[];
  readonly requests: TokenRequestLog[];
  readonly graphMails: GraphMail[];
  /** The next N sendMail calls find their token revoked (401), as after an admin revoked the grant. */
  graphRevokeNext: number;
  /** The mailbox each introspected token must name (Dovecot's username). */
  introspectionUser: string;
  /** A token that introspection always accepts (the test harness's own IMAP clients). */
  readonly harnessToken: string;
  /** How many times introspection was asked, by outcome. */
  readonly introspections: { active: number; inactive: number };
  /** Every token introspected (a login), in order, except the harness's. */
  readonly introspected: Array<{ token: string; at: number; active: boolean }>;
  /** Is `token` issued, not revoked, not expired (and for `scope` when given)? */
  live(token: string, scope?: string): Issued | null;
  /** Every token issued so far stops working (as a revoked grant does). */
  revokeAll(): void;
  close(): Promise<void>;
}

let certCache: { key: string; cert: string; caFile: string } | null = null;

/** A self-signed certificate for 127.0.0.1 (openssl), made once per test process. */
export function testCertificate(): { key: string; cert: string; caFile: string } {
  if (certCache && fs.existsSync(certCache.caFile)) return certCache;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  certCache = { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), caFile: certFile };
  return certCache;
}

/** A key pair and self-signed certificate for an app's certificate credential; the PEM holds both. */
export function appCertificate(): { pemFile: string; publicKeyPem: string; sha1: string; sha256: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-appcert-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=klagomal-app'], {
    stdio: 'ignore',
  });
  const pem = fs.readFileSync(certFile, 'utf8') + fs.readFileSync(keyFile, 'utf8');
  const pemFile = path.join(dir, 'app.pem');
  fs.writeFileSync(pemFile, pem, { mode: 0o600 });
  const x509 = new crypto.X509Certificate(fs.readFileSync(certFile));
  return {
    pemFile,
    publicKeyPem: x509.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sha1: x509.fingerprint.replace(/:/g, '').toLowerCase(),
    sha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** A Google service account JSON key file as the Cloud console downloads it. */
export function googleServiceAccountKey(email: string): { file: string; publicKeyPem: string; clientId: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientId = String(100000000000000000000n + BigInt(Math.floor(Math.random() * 1e9)));
  const key = {
    type: 'service_account',
    project_id: 'klagomal-test',
    private_key_id: crypto.randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: email,
    client_id: clientId,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-gsa-'));
  const file = path.join(dir, 'key.json');
  fs.writeFileSync(file, JSON.stringify(key, null, 2), { mode: 0o600 });
  return { file, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), clientId };
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A JWT-shaped access token like Entra's (the signature is random: only the issuer checks it). */
function jwtToken(claims: Record<string, unknown>): string {
  return `${b64url({ typ: 'JWT', alg: 'RS256', x5t: 'test' })}.${b64url(claims)}.${crypto.randomBytes(32).toString('base64url')}`;
}

function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signed: string; signature: Buffer } | null {
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>,
      payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>,
      signed: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return null;
  }
}

/** RS256 (RSASSA-PKCS1-v1_5) or PS256 (RSASSA-PSS, salt = hash length; MSAL's choice with a SHA-256 thumbprint), RFC 7518 §3.3 and §3.5. */
function verifyRs256(signed: string, signature: Buffer, publicKeyPem: string, alg: unknown = 'RS256'): boolean {
  if (alg === 'PS256')
    return crypto.verify('sha256', Buffer.from(signed), { key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
  return alg === 'RS256' && crypto.verify('RSA-SHA256', Buffer.from(signed), publicKeyPem, signature);
}

export async function startTokenService(opts: { lifetimeSeconds?: number; introspectionUser?: string } = {}): Promise<TokenService> {
  const tls = testCertificate();
  const issued: Issued[] = [];
  const requests: TokenRequestLog[] = [];
  const graphMails: GraphMail[] = [];
  const microsoftApps = new Map<string, MicrosoftApp>();
  const googleAccounts = new Map<string, GoogleServiceAccount>();
  const genericClients = new Map<string, string>();
  const harnessToken = `harness-${crypto.randomBytes(16).toString('hex')}`;
  const introspections = { active: 0, inactive: 0 };
  const introspected: Array<{ token: string; at: number; active: boolean }> = [];
  let httpsUrl = '';

  const service: TokenService = {
    httpUrl: '',
    httpsUrl: '',
    caFile: tls.caFile,
    lifetimeSeconds: opts.lifetimeSeconds ?? 3600,
    microsoftApps,
    googleAccounts,
    genericClients,
    issued,
    requests,
    graphMails,
    graphRevokeNext: 0,
    introspectionUser: opts.introspectionUser ?? 'klagomal@testfinans.se',
    harnessToken,
    introspections,
    introspected,
    live(token, scope) {
      const t = issued.find((i) => i.token === token);
      if (!t || t.revoked || Date.now() >= t.expiresAt) return null;
      if (scope !== undefined && t.scope !== scope) return null;
      return t;
    },
    revokeAll() {
      for (const t of issued) t.revoked = true;
    },
    close: async () => undefined,
  };

  const issue = (provider: Issued['provider'], clientId: string, subject: string | null, scope: string, value: string): Issued => {
    const now = Date.now();
    const t: Issued = { token: value, provider, clientId, subject, scope, issuedAt: now, expiresAt: now + service.lifetimeSeconds * 1000, revoked: false };
    issued.push(t);
    return t;
  };

  const json = (res: http.ServerResponse, status: number, body: unknown): number => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
    return status;
  };

  /** Entra's error body: error, error_description with the AADSTS code, error_codes. */
  const aad = (res: http.ServerResponse, status: number, error: string, code: number, text: string): number =>
    json(res, status, {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${crypto.randomUUID()} Correlation ID: ${crypto.randomUUID()} Timestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: crypto.randomUUID(),
      correlation_id: crypto.randomUUID(),
    });

  function microsoftToken(tenant: string, form: Record<string, string>, res: http.ServerResponse): number {
    if (form.grant_type !== 'client_credentials') return aad(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const app = microsoftApps.get(form.client_id ?? '');
    if (!app)
      return aad(res, 400, 'unauthorized_client', 700016, `Application with identifier '${form.client_id}' was not found in the directory '${tenant}'.`);
    if (!/\/\.default$/.test(form.scope ?? '')) return aad(res, 400, 'invalid_scope', 1002012, 'The provided value for scope is not valid.');
    if (form.client_secret !== undefined) {
      if (!app.secret || form.client_secret !== app.secret)
        return aad(
          res,
          401,
          'invalid_client',
          7000215,
          'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
        );
    } else if (form.client_assertion !== undefined) {
      // RFC 7523 §2.2 and Entra's certificate credential: aud = the token endpoint, iss = sub = the client id, signed by the certificate's key, x5t#S256 or x5t the thumbprint.
      const a = decodeJwt(form.client_assertion);
      const cert = app.certificate;
      const tokenUrl = `${httpsUrl}/${tenant}/oauth2/v2.0/token`;
      const thumb = a
        ? typeof a.header['x5t#S256'] === 'string'
          ? Buffer.from(a.header['x5t#S256'] as string, 'base64url').toString('hex')
          : Buffer.from(String(a.header.x5t ?? ''), 'base64url').toString('hex')
        : '';
      if (
        form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' ||
        !a ||
        !cert ||
        !verifyRs256(a.signed, a.signature, cert.publicKeyPem, a.header.alg) ||
        a.payload.iss !== form.client_id ||
        a.payload.sub !== form.client_id ||
        a.payload.aud !== tokenUrl ||
        (thumb !== cert.sha1 && thumb !== cert.sha256)
      ) {
        return aad(res, 401, 'invalid_client', 700027, 'The certificate with identifier used to sign the client assertion is not registered on application.');
      }
    } else
      return aad(res, 401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
    const now = Math.floor(Date.now() / 1000);
    const value = jwtToken({
      aud: form.scope.replace(/\/\.default$/, ''),
      iss: `https://sts.windows.net/${tenant}/`,
      iat: now,
      nbf: now,
      exp: now + service.lifetimeSeconds,
      appid: form.client_id,
      tid: tenant,
      roles: app.roles,
      jti: crypto.randomUUID(),
    });
    issue('microsoft', form.client_id, null, form.scope, value);
    return json(res, 200, { token_type: 'Bearer', expires_in: service.lifetimeSeconds, ext_expires_in: service.lifetimeSeconds, access_token: value });
  }

  function googleToken(form: Record<string, string>, res: http.ServerResponse): number {
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
    const a = decodeJwt(form.assertion ?? '');
    if (!a) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT' });
    const account = googleAccounts.get(String(a.payload.iss));
    if (!account || !verifyRs256(a.signed, a.signature, account.publicKeyPem))
      return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    const now = Math.floor(Date.now() / 1000);
    if (a.payload.aud !== 'https://oauth2.googleapis.com/token')
      return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe' });
    if (typeof a.payload.exp !== 'number' || a.payload.exp < now || (a.payload.exp as number) - (a.payload.iat as number) > 3600)
      return json(res, 400, {
        error: 'invalid_grant',
        error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.',
      });
    const sub = String(a.payload.sub ?? '');
    if (!account.users.includes(sub)) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid email or User ID' });
    const scopes = String(a.payload.scope ?? '').split(' ');
    if (scopes.some((s) => !account.delegatedScopes.includes(s)))
      return json(res, 401, {
        error: 'unauthorized_client',
        error_description: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      });
    const value = `ya29.${crypto.randomBytes(48).toString('base64url')}`;
    issue('google', String(a.payload.iss), sub, scopes.join(' '), value);
    return json(res, 200, { access_token: value, expires_in: service.lifetimeSeconds, token_type: 'Bearer' });
  }

  function genericToken(req: http.IncomingMessage, form: Record<string, string>, res: http.ServerResponse): number {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent) : [form.client_id, form.client_secret];
    if (form.grant_type !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
    if (!id || genericClients.get(id) !== secret)
      return json(res, 401, { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' });
    // Opaque, like many servers' tokens: only the registry of secrets can keep it out of logs.
    const value = crypto.randomBytes(24).toString('hex');
    issue('generic', id, null, form.scope ?? '', value);
    return json(res, 200, { access_token: value, expires_in: service.lifetimeSeconds, token_type: 'Bearer', scope: form.scope });
  }

  function introspect(form: Record<string, string>, res: http.ServerResponse): number {
    const token = form.token ?? '';
    const ok = token === harnessToken || service.live(token) !== null;
    if (ok) introspections.active++;
    else introspections.inactive++;
    if (token !== harnessToken) introspected.push({ token, at: Date.now(), active: ok });
    return json(res, 200, ok ? { active: true, username: service.introspectionUser } : { active: false });
  }

  function graphSendMail(req: http.IncomingMessage, user: string, body: Buffer, res: http.ServerResponse): number {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (service.graphRevokeNext > 0) {
      service.graphRevokeNext--;
      const revoked = issued.find((i) => i.token === token);
      if (revoked) revoked.revoked = true;
    }
    const t = service.live(token, 'https://graph.microsoft.com/.default');
    if (!t)
      return json(res, 401, {
        error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.', innerError: { date: new Date().toISOString() } },
      });
    const app = microsoftApps.get(t.clientId);
    if (!app?.roles.includes('Mail.Send'))
      return json(res, 403, { error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } });
    if (!/^text\/plain\b/.test(req.headers['content-type'] ?? ''))
      return json(res, 415, { error: { code: 'UnsupportedMediaType', message: 'Content-Type must be text/plain for MIME content.' } });
    const text = body.toString('ascii').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+=*$/.test(text))
      return json(res, 400, { error: { code: 'ErrorMimeContentInvalidBase64String', message: 'Invalid base64 string for MIME content.' } });
    graphMails.push({ user, mime: Buffer.from(text, 'base64'), token });
    res.writeHead(202, { 'content-length': '0' });
    res.end();
    return 202;
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const isForm = /application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '');
      const form = isForm ? Object.fromEntries(new URLSearchParams(body.toString('utf8'))) : {};
      let status = 404;
      let m: RegExpExecArray | null;
      if (req.method === 'GET' && (m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname))) {
        const base = `${httpsUrl}/${m[1]}`;
        status = json(res, 200, {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          jwks_uri: `${base}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          issuer: `${base}/v2.0`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        });
      } else if (req.method === 'POST' && (m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname))) status = microsoftToken(m[1], form, res);
      else if (req.method === 'POST' && url.pathname === '/google/token') status = googleToken(form, res);
      else if (req.method === 'POST' && url.pathname === '/token') status = genericToken(req, form, res);
      else if (req.method === 'POST' && url.pathname === '/introspect') status = introspect(form, res);
      else if (req.method === 'POST' && (m = /^\/v1\.0\/users\/([^/]+)\/sendMail$/.exec(url.pathname)))
        status = graphSendMail(req, decodeURIComponent(m[1]), body, res);
      else status = json(res, 404, { error: 'not_found' });
      if (url.pathname !== '/introspect' && !url.pathname.endsWith('/sendMail')) requests.push({ path: url.pathname, headers: req.headers, form, status });
    });
  };

  const plain = http.createServer(handler);
  const secure = https.createServer({ key: tls.key, cert: tls.cert }, handler);
  const listen = (srv: http.Server): Promise<number> =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
    });
  const httpPort = await listen(plain);
  const httpsPort = await listen(secure);
  httpsUrl = `https://127.0.0.1:${httpsPort}`;
  Object.assign(service, {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    httpsUrl,
    close: () =>
      Promise.all(
        [plain, secure].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  });
  return service;
}
