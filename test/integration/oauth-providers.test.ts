/**
 * The Microsoft and Google token adapters as the program runs them (the built adapter in a
 * node process that trusts the test's certificate, as the service does with
 * NODE_EXTRA_CA_CERTS), against the test's token service, which checks each provider's
 * documented request: the Microsoft client-credentials form and certificate assertion
 * (RFC 7523), Google's JWT-bearer assertion and its claims iss, sub, scope and aud.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { GoogleOAuth2, MicrosoftOAuth2, OAuth2Config } from '../../src/config/config';
import { appCertificate, googleServiceAccountKey, startTokenService, TokenService } from '../support/oauth';
import { REPO, runCli } from '../support/world';

const MAILBOX = 'klagomal@testfinans.se';
let tokens: TokenService;
beforeAll(async () => {
  tokens = await startTokenService({ lifetimeSeconds: 3600 });
});
afterAll(() => tokens.close());

interface Fetched {
  value: string;
  expiresAt: number;
}

/** A token from the built adapter, or its TokenError. */
function run(
  auth: OAuth2Config,
  env: Record<string, string>,
): Promise<{ ok: true; token: Fetched } | { ok: false; message: string; step: string; temporary: boolean }> {
  const providers = path.join(REPO, 'dist', 'src', 'auth', 'providers.js');
  const script = `require(${JSON.stringify(providers)}).fetcherFor(JSON.parse(process.argv[1]), ${JSON.stringify(MAILBOX)}, process.env)(false).then(
    (t) => console.log(JSON.stringify({ ok: true, token: t })),
    (e) => console.log(JSON.stringify({ ok: false, message: e.message, step: e.step, temporary: e.temporary })))`;
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['-e', script, JSON.stringify(auth)],
      { env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: tokens.caFile } },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    ),
  );
}

async function fetchToken(auth: OAuth2Config, env: Record<string, string>): Promise<Fetched> {
  const r = await run(auth, env);
  if (!r.ok) throw Object.assign(new Error(r.message), { step: r.step, temporary: r.temporary });
  return r.token;
}

async function tokenError(auth: OAuth2Config, env: Record<string, string>): Promise<{ message: string; step: string; temporary: boolean }> {
  const r = await run(auth, env);
  if (r.ok) throw new Error('expected a refusal, got a token');
  return r;
}

function microsoft(extra: Partial<MicrosoftOAuth2> = {}): MicrosoftOAuth2 {
  return {
    type: 'oauth2',
    provider: 'microsoft',
    tenantId: 'testfinans.onmicrosoft.com',
    clientId: 'app-1',
    clientSecretEnv: 'M365_SECRET',
    certificateFileEnv: null,
    certificateThumbprint: null,
    authorityHost: tokens.httpsUrl,
    scope: 'https://outlook.office365.com/.default',
    ...extra,
  };
}

function google(keyEnv = 'GSA_KEY'): GoogleOAuth2 {
  return {
    type: 'oauth2',
    provider: 'google',
    serviceAccountKeyFileEnv: keyEnv,
    scope: 'https://mail.google.com/',
    tokenUrl: `${tokens.httpUrl}/google/token`,
  };
}

describe('microsoft adapter (MSAL, client credentials)', () => {
  test('microsoftAdapterSendsTheDocumentedClientCredentialsRequest', async () => {
    tokens.microsoftApps.set('app-1', { secret: 'correct-horse-battery-staple-1', roles: ['IMAP.AccessAsApp'] });
    const t0 = Date.now();
    const got = await fetchToken(microsoft(), { M365_SECRET: 'correct-horse-battery-staple-1' });
    const req = tokens.requests.filter((r) => r.path === '/testfinans.onmicrosoft.com/oauth2/v2.0/token').pop()!;
    expect(req.form).toMatchObject({
      grant_type: 'client_credentials',
      client_id: 'app-1',
      client_secret: 'correct-horse-battery-staple-1',
      scope: 'https://outlook.office365.com/.default',
    });
    expect(tokens.live(got.value, 'https://outlook.office365.com/.default')).not.toBeNull();
    expect(got.expiresAt).toBeGreaterThan(t0 + 3500_000);
    expect(got.expiresAt).toBeLessThan(t0 + 3700_000);
  });

  test('microsoftCertificateCredentialSignsAnAssertionTheEndpointAccepts', async () => {
    const cert = appCertificate();
    tokens.microsoftApps.set('app-cert', { certificate: cert, roles: ['SMTP.SendAsApp'] });
    const got = await fetchToken(
      microsoft({ clientId: 'app-cert', clientSecretEnv: null, certificateFileEnv: 'M365_CERT', certificateThumbprint: cert.sha256 }),
      {
        M365_CERT: cert.pemFile,
      },
    );
    const req = tokens.requests.filter((r) => r.path.endsWith('/oauth2/v2.0/token')).pop()!;
    expect(req.status).toBe(200);
    expect(req.form.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(req.form.client_secret).toBeUndefined();
    expect(tokens.live(got.value)).not.toBeNull();
  });

  test('wrongClientSecretNamesTheSecretVariableAndEntrasCode', async () => {
    tokens.microsoftApps.set('app-2', { secret: 'the-real-secret-value', roles: [] });
    const err = await tokenError(microsoft({ clientId: 'app-2' }), { M365_SECRET: 'an-old-secret-value-xyz' });
    expect(err.message).toMatch(/^the Microsoft token endpoint refused: the client secret is wrong: .* \$M365_SECRET \(Entra ID said AADSTS7000215\)$/);
    expect(err.temporary).toBe(false);
    expect(err.message).not.toContain('an-old-secret-value-xyz');
  });

  test('unknownClientIdIsReportedAsNoSuchApp', async () => {
    const err = await tokenError(microsoft({ clientId: 'nobody' }), { M365_SECRET: 'whatever-secret-1' });
    expect(err.message).toMatch(/no app with this clientId in the tenant.*AADSTS700016/);
  });
});

describe('google adapter (google-auth-library, JWT bearer with domain-wide delegation)', () => {
  test('googleAdapterSignsAnAssertionForTheMailboxWithTheMailScope', async () => {
    const key = googleServiceAccountKey('klagomal-sa@klagomal-test.iam.gserviceaccount.com');
    tokens.googleAccounts.set('klagomal-sa@klagomal-test.iam.gserviceaccount.com', {
      clientId: key.clientId,
      publicKeyPem: key.publicKeyPem,
      delegatedScopes: ['https://mail.google.com/'],
      users: [MAILBOX],
    });
    const got = await fetchToken(google(), { GSA_KEY: key.file });
    expect(got.value).toMatch(/^ya29\./);
    const issued = tokens.live(got.value)!;
    expect(issued).toMatchObject({ provider: 'google', subject: MAILBOX, scope: 'https://mail.google.com/' });
    // The assertion as Google documents it: iss the service account, sub the mailbox, the scope, aud Google's token URL.
    const req = tokens.requests.filter((r) => r.path === '/google/token').pop()!;
    expect(req.form.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const claims = JSON.parse(Buffer.from(req.form.assertion.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: 'klagomal-sa@klagomal-test.iam.gserviceaccount.com',
      sub: MAILBOX,
      scope: 'https://mail.google.com/',
      aud: 'https://oauth2.googleapis.com/token',
    });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(3600);
  });

  test('delegationWithoutTheMailScopeIsReportedAsGoogleRefusingTheDelegation', async () => {
    const key = googleServiceAccountKey('nodeleg@klagomal-test.iam.gserviceaccount.com');
    tokens.googleAccounts.set('nodeleg@klagomal-test.iam.gserviceaccount.com', {
      clientId: key.clientId,
      publicKeyPem: key.publicKeyPem,
      delegatedScopes: ['https://www.googleapis.com/auth/gmail.readonly'],
      users: [MAILBOX],
    });
    const err = await tokenError(google(), { GSA_KEY: key.file });
    expect(err.step).toBe('delegation');
    expect(err.message).toMatch(/^Google refused the delegation: .*Domain-wide delegation.* https:\/\/mail\.google\.com\/ \(Google said unauthorized_client/);
  });

  test('mailboxOutsideTheDomainIsNamed', async () => {
    const key = googleServiceAccountKey('sa3@klagomal-test.iam.gserviceaccount.com');
    tokens.googleAccounts.set('sa3@klagomal-test.iam.gserviceaccount.com', {
      clientId: key.clientId,
      publicKeyPem: key.publicKeyPem,
      delegatedScopes: ['https://mail.google.com/'],
      users: [],
    });
    const err = await tokenError(google(), { GSA_KEY: key.file });
    expect(err.message).toMatch(/Google refused to act as klagomal@testfinans\.se/);
  });
});

describe('example configs', () => {
  test('exampleConfigsPassConfigCheckWithTheirVariablesSet', async () => {
    const key = googleServiceAccountKey('klagomal@exempelfinans-prod.iam.gserviceaccount.com');
    const env = { KLAGOMAL_M365_CLIENT_SECRET: 'a-client-secret-value', KLAGOMAL_GOOGLE_KEY_FILE: key.file };
    for (const [file, platform] of [
      ['microsoft365.example.json', 'oauth2 microsoft'],
      ['google-workspace.example.json', 'oauth2 google'],
    ]) {
      const r = await runCli(['config', 'check', '--config', path.join(REPO, 'config', file)], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`(tls implicit, ${platform})`);
      expect(r.stdout).toContain(`(tls starttls, ${platform})`);
      // and without the variables, each is named
      const missing = await runCli(['config', 'check', '--config', path.join(REPO, 'config', file)], {
        KLAGOMAL_M365_CLIENT_SECRET: '',
        KLAGOMAL_GOOGLE_KEY_FILE: '',
      });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/sources\[0\]\.auth\.\w+Env: names KLAGOMAL_\w+, which is not set/);
    }
  });
});
