/**
 * The generic and command token adapters against the test's token service, the cache and its
 * renewal, the config keys, and the log guard. (The Microsoft and Google adapters run in the
 * built program: test/integration/oauth-providers.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetcherFor, parseCommandOutput } from '../../src/auth/providers';
import { renewAt, TokenError, TokenProvider } from '../../src/auth/token';
import { credentialsFor } from '../../src/auth/credentials';
import type { GenericOAuth2, CommandOAuth2, MicrosoftOAuth2 } from '../../src/config/config';
import { classifySmtpError, smtpOAuth2Fix } from '../../src/reply/transport';
import { ConfigError, parseConfig } from '../../src/config/load';
import { missingSecrets } from '../../src/config/missing-secrets';
import { createLogger } from '../../src/util/log';
import { redactSecrets, registerSecret } from '../../src/util/secrets';
import { startTokenService, TokenService } from '../support/oauth';

const MAILBOX = 'klagomal@testfinans.se';
let tokens: TokenService;
beforeAll(async () => {
  tokens = await startTokenService({ lifetimeSeconds: 3600 });
});
afterAll(() => tokens.close());

describe('generic and command providers', () => {
  test('genericClientCredentialsUseHttpBasicAndTheScope', async () => {
    tokens.genericClients.set('klagomal', 's3cret:with&odd=chars');
    const cfg: GenericOAuth2 = {
      type: 'oauth2',
      provider: 'generic',
      tokenUrl: `${tokens.httpUrl}/token`,
      clientId: 'klagomal',
      clientSecretEnv: 'KC_SECRET',
      scope: 'imap smtp',
    };
    const got = await fetcherFor(cfg, MAILBOX, { KC_SECRET: 's3cret:with&odd=chars' })(false);
    const req = tokens.requests.filter((r) => r.path === '/token').pop()!;
    expect(req.headers.authorization).toMatch(/^Basic /);
    expect(req.form).toEqual({ grant_type: 'client_credentials', scope: 'imap smtp' });
    expect(tokens.live(got.value)).not.toBeNull();
    const bad = (await fetcherFor(cfg, MAILBOX, { KC_SECRET: 'wrong-secret-123' })(false).catch((e: unknown) => e)) as TokenError;
    expect(bad.message).toMatch(/refused the client: check clientId and the secret in \$KC_SECRET \(HTTP 401, invalid_client/);
  });

  test('commandProviderReadsATokenOrJsonFromTheProgram', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-cmd-'));
    const program = path.join(dir, 'token.sh');
    fs.writeFileSync(program, '#!/bin/sh\nprintf \'{"access_token":"vault-token-%s","expires_in":120}\\n\' "$KLAGOMAL_OAUTH2_USER"\n', { mode: 0o755 });
    const cfg: CommandOAuth2 = { type: 'oauth2', provider: 'command', command: [program] };
    const t0 = Date.now();
    const got = await fetcherFor(cfg, MAILBOX, process.env)(false);
    expect(got.value).toBe(`vault-token-${MAILBOX}`);
    expect(got.expiresAt).toBeGreaterThanOrEqual(t0 + 119_000);
    expect(parseCommandOutput('plain-token-value-42\n', 1000)).toEqual({ value: 'plain-token-value-42', expiresAt: 1000 + 5 * 60_000 });
    const failing = path.join(dir, 'fail.sh');
    fs.writeFileSync(failing, '#!/bin/sh\necho "vault sealed" >&2\nexit 3\n', { mode: 0o755 });
    const err = (await fetcherFor({ ...cfg, command: [failing] }, MAILBOX, process.env)(false).catch((e: unknown) => e)) as TokenError;
    expect(err.message).toBe(`the token program ${failing} failed (exit 3): vault sealed`);
  });
});

describe('the token cache', () => {
  test('tokenIsReusedUntilItsRenewalTimeAndRenewedBeforeExpiry', async () => {
    let now = 1_000_000;
    let fetched = 0;
    const p = new TokenProvider(
      'oauth2 generic',
      async () => ({ value: `token-number-${++fetched}`, expiresAt: now + 3600_000 }),
      () => now,
    );
    const a = await p.token();
    expect(a.renewAt).toBe(1_000_000 + 3600_000 - 5 * 60_000); // a one-hour token: 5 minutes early
    now += 3000_000;
    expect((await p.token()).value).toBe('token-number-1');
    now += 300_000; // 55 minutes in
    expect((await p.token()).value).toBe('token-number-2');
    expect(renewAt(0, 4000)).toBe(3200); // a short token: with a fifth of its life left
  });

  test('concurrentCallersShareOneRequestAndFreshSkipsTheCache', async () => {
    let fetched = 0;
    const p = new TokenProvider('oauth2 generic', async () => {
      fetched++;
      await new Promise((r) => setTimeout(r, 20));
      return { value: `shared-token-${fetched}`, expiresAt: Date.now() + 3600_000 };
    });
    const [a, b, c] = await Promise.all([p.token(), p.token(), p.token()]);
    expect(fetched).toBe(1);
    expect(new Set([a.value, b.value, c.value]).size).toBe(1);
    expect((await p.token({ fresh: true })).value).toBe('shared-token-2');
  });

  test('tokenErrorIsKeptForStatusUntilATokenIsObtained', async () => {
    let fail = true;
    const events: string[] = [];
    const p = new TokenProvider('oauth2 generic', async () => {
      if (fail) throw new TokenError('the token endpoint refused (HTTP 401)', 'token endpoint', false);
      return { value: 'good-token-value', expiresAt: Date.now() + 3600_000 };
    });
    p.onEvent((e) => events.push(e.type));
    await expect(p.token()).rejects.toThrow('HTTP 401');
    expect(p.lastError?.message).toBe('the token endpoint refused (HTTP 401)');
    fail = false;
    await p.token();
    expect(p.lastError).toBeNull();
    expect(events).toEqual(['error', 'token']);
  });

  test('passwordLoginHasNoExpiry', async () => {
    const c = credentialsFor({ user: 'u', passwordEnv: 'PW', auth: null }, { PW: 'pw-value-1234' });
    expect(await c.login()).toEqual({ user: 'u', pass: 'pw-value-1234', renewAt: null, expiresAt: null });
    expect(c.kind).toBe('password');
  });
});

describe('config', () => {
  const base = {
    firm: { name: 'X', complaintsAddress: 'klagomal@x.se' },
    deadlines: { escalation: { enabled: false } },
  };
  const imap = (extra: Record<string, unknown>): Record<string, unknown> => ({ type: 'imap', host: 'outlook.office365.com', user: 'klagomal@x.se', ...extra });
  const problems = (json: Record<string, unknown>): string[] => {
    try {
      parseConfig(json, '/etc/klagomal/config.json');
      return [];
    } catch (err) {
      return (err as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
    }
  };

  test('microsoftAuthParsedWithTheExchangeScopeByDefault', () => {
    const c = parseConfig(
      {
        ...base,
        sources: [
          imap({
            auth: {
              type: 'oauth2',
              provider: 'microsoft',
              tenantId: 'x.onmicrosoft.com',
              clientId: '0c2b7f1e-5a3d-4e6f-8b9a-1d2c3e4f5a6b',
              clientSecretEnv: 'SECRET',
            },
          }),
        ],
        transport: {
          type: 'graph',
          auth: {
            type: 'oauth2',
            provider: 'microsoft',
            tenantId: 'x.onmicrosoft.com',
            clientId: 'c',
            certificateFileEnv: 'CERT',
            certificateThumbprint: 'AB:CD:' + '0'.repeat(36),
          },
        },
      },
      '/etc/klagomal/config.json',
    );
    const s = c.sources[0];
    expect(s.type === 'imap' && s.auth).toMatchObject({
      provider: 'microsoft',
      scope: 'https://outlook.office365.com/.default',
      authorityHost: 'https://login.microsoftonline.com',
    });
    expect(s.type === 'imap' && s.passwordEnv).toBeNull();
    expect(c.transport).toMatchObject({
      type: 'graph',
      user: 'klagomal@x.se',
      endpoint: 'https://graph.microsoft.com',
      auth: { scope: 'https://graph.microsoft.com/.default', certificateThumbprint: 'abcd' + '0'.repeat(36) },
    });
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    [
      'password and auth both',
      { sources: [imap({ passwordEnv: 'PW', auth: { type: 'oauth2', provider: 'command', command: ['/bin/true'] } })] },
      /sources\[0\]\.passwordEnv: remove it/,
    ],
    ['neither', { sources: [imap({})] }, /sources\[0\]\.passwordEnv: missing; .*or "auth" for OAuth2/],
    [
      'microsoft without secret or certificate',
      { sources: [imap({ auth: { type: 'oauth2', provider: 'microsoft', tenantId: 't', clientId: 'c' } })] },
      /sources\[0\]\.auth: give "clientSecretEnv"/,
    ],
    [
      'certificate without thumbprint',
      { sources: [imap({ auth: { type: 'oauth2', provider: 'microsoft', tenantId: 't', clientId: 'c', certificateFileEnv: 'CERT' } })] },
      /certificateThumbprint: required/,
    ],
    [
      'a key of another provider',
      { sources: [imap({ auth: { type: 'oauth2', provider: 'google', serviceAccountKeyFileEnv: 'K', tenantId: 't' } })] },
      /sources\[0\]\.auth\.tenantId: unknown key/,
    ],
    [
      'unknown provider',
      { sources: [imap({ auth: { type: 'oauth2', provider: 'microsft' } })] },
      /provider: got "microsft"; allowed: .*did you mean "microsoft"/,
    ],
    [
      'token sent in clear',
      { sources: [imap({ auth: { type: 'oauth2', provider: 'generic', tokenUrl: 'http://idp.x.se/token', clientId: 'c', clientSecretEnv: 'S' } })] },
      /tokenUrl: expected an https:\/\/ URL/,
    ],
    [
      'a program looked up in PATH',
      { sources: [imap({ auth: { type: 'oauth2', provider: 'command', command: ['vault'] } })] },
      /command\[0\]: give the program's path/,
    ],
    [
      'smtp auth without user',
      {
        sources: [imap({ passwordEnv: 'PW' })],
        transport: { type: 'smtp', host: 'smtp.office365.com', auth: { type: 'oauth2', provider: 'command', command: ['/bin/true'] } },
      },
      /transport\.user: required with "auth"/,
    ],
    [
      'graph with google',
      { sources: [imap({ passwordEnv: 'PW' })], transport: { type: 'graph', auth: { type: 'oauth2', provider: 'google', serviceAccountKeyFileEnv: 'K' } } },
      /transport\.auth\.provider: got "google"; allowed: "microsoft"/,
    ],
  ])('authConfigRefused: %s', (_name, json, expected) => {
    expect(problems({ ...base, ...json }).join('\n')).toMatch(expected);
  });

  test('missingSecretsNamesEachVariableAndUnreadableFile', () => {
    const c = parseConfig(
      {
        ...base,
        sources: [
          imap({ name: 'm365', auth: { type: 'oauth2', provider: 'microsoft', tenantId: 't', clientId: 'c', clientSecretEnv: 'M365_SECRET' } }),
          imap({ name: 'gws', auth: { type: 'oauth2', provider: 'google', serviceAccountKeyFileEnv: 'GSA_KEY' } }),
        ],
      },
      '/etc/klagomal/config.json',
    );
    expect(missingSecrets(c, { GSA_KEY: '/nonexistent/key.json' }).filter((p) => p.key.startsWith('sources'))).toEqual([
      { key: 'sources[0].auth.clientSecretEnv', message: "names M365_SECRET, which is not set in the environment (the app registration's client secret)" },
      {
        key: 'sources[1].auth.serviceAccountKeyFileEnv',
        message: 'names GSA_KEY, whose file /nonexistent/key.json cannot be read (ENOENT); the service user must be able to read it',
      },
    ]);
  });
});

describe('refusals in the words of the mailbox admin', () => {
  const cfg = { user: 'klagomal@x.se', passwordEnv: null, auth: { type: 'oauth2', provider: 'microsoft' } as MicrosoftOAuth2 };
  test('smtpAuthSwitchedOffIsNamedWithTheCommandThatTurnsItOn', () => {
    const e = classifySmtpError(
      {
        code: 'EAUTH',
        responseCode: 535,
        response:
          '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
      },
      cfg,
    );
    expect(e.temporary).toBe(true);
    expect(e.message).toMatch(
      /^SMTP login failed: Exchange Online has SMTP AUTH switched off: .*Set-CASMailbox -Identity klagomal@x\.se -SmtpClientAuthenticationDisabled \$false.*transport\.type "graph"/,
    );
  });

  test('smtpRefusedTokenNamesSendAsAppAndTheMailboxPermission', () => {
    const e = classifySmtpError({ code: 'EAUTH', responseCode: 535, response: '535 5.7.3 Authentication unsuccessful' }, cfg);
    expect(e.message).toMatch(/Exchange Online refused the token for klagomal@x\.se: the app needs the SMTP\.SendAsApp permission/);
    expect(
      smtpOAuth2Fix({ user: 'k@x.se', auth: { type: 'oauth2', provider: 'google', serviceAccountKeyFileEnv: 'K', scope: 's', tokenUrl: 'u' } }, '535'),
    ).toMatch(/domain-wide delegation/);
  });
});

describe('secrets never reach a log line', () => {
  test('tokenNeverInLogs: registered secrets and token shapes are blanked in every line', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', pretty: false, write: (l) => lines.push(l) });
    registerSecret('opaque-generic-token-0123456789');
    const jwt = 'eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJl';
    const xoauth2 = Buffer.from(`user=klagomal@x.se\x01auth=Bearer ${jwt}\x01\x01`).toString('base64');
    log.warn(`login failed with opaque-generic-token-0123456789 and ${jwt}`, {
      error: `AUTHENTICATE XOAUTH2 ${xoauth2}`,
      detail: 'Authorization: Bearer ya29.a0AfH6SMBx-very-secret',
      form: 'client_secret=abc123def456&client_assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.sig',
      token: 'anything',
      key: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----',
    });
    const out = lines.join('\n');
    for (const secret of ['opaque-generic-token-0123456789', jwt, xoauth2.slice(0, 40), 'ya29.a0AfH6SMBx', 'abc123def456', 'MIIEvQIBADANBg', 'anything'])
      expect(out).not.toContain(secret);
    expect(out).toContain('[secret]');
    expect(redactSecrets('dmarc=pass header.d=x.se; spf=pass')).toBe('dmarc=pass header.d=x.se; spf=pass');
  });

  test('configuredSecretsStayRedactedAfterManyTokenRenewals: the SMTP password is registered once, at start', () => {
    registerSecret('SmtpPassw0rd-long-and-configured');
    // A few OAuth2 mailboxes renewing hourly: weeks of tokens.
    for (let i = 0; i < 3000; i++) registerSecret(`opaque-renewed-token-${i}-abcdefgh`, 'token');
    expect(redactSecrets('535 5.7.8 refused SmtpPassw0rd-long-and-configured')).toBe('535 5.7.8 refused [secret]');
    // The newest tokens still are; the oldest have expired long ago.
    expect(redactSecrets('token opaque-renewed-token-2999-abcdefgh')).toBe('token [secret]');
  });

  test('tokenProgramStderrNeverCarriesCredentials: an opaque refresh token the program printed as it failed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-cmd-'));
    const failing = path.join(dir, 'fail.sh');
    fs.writeFileSync(failing, '#!/bin/sh\necho "refresh failed for 1//0gLm3xQv7RtY2kWp9ZsN4bHc6Jd8Fa-L9Ir: invalid_grant" >&2\nexit 2\n', { mode: 0o755 });
    const err = (await fetcherFor(
      { type: 'oauth2', provider: 'command', command: [failing] },
      MAILBOX,
      process.env,
    )(false).catch((e: unknown) => e)) as TokenError;
    expect(err.message).not.toContain('0gLm3xQv7RtY2kWp9ZsN4bHc6Jd8Fa');
    expect(err.message).toMatch(/failed \(exit 2\): refresh failed for \[…\]: invalid_grant$/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("configNeverEchoesAValueGivenForAnEnvKey: the secret itself put where its variable's name belongs", () => {
    const got = (json: Record<string, unknown>): string => {
      try {
        parseConfig(json, '/etc/klagomal/config.json');
        return '';
      } catch (err) {
        return (err as ConfigError).problems.map((p) => `${p.key}: ${p.message}`).join('\n');
      }
    };
    const base = { firm: { name: 'X', complaintsAddress: 'klagomal@x.se' }, deadlines: { escalation: { enabled: false } } };
    const out = got({
      ...base,
      sources: [{ type: 'imap', host: 'imap.x.se', user: 'klagomal@x.se', passwordEnv: 'Hunter2-imap-Passw0rd!' }],
      transport: { type: 'smtp', host: 'smtp.x.se', user: 'klagomal@x.se', passwordEnv: 'smtp:S3cretPassw0rd' },
      personnummer: { keyEnv: 'q8Zr1yT9cM+Xk0u3bV4nA7wE2sD5fG6hJ8kL9pO1iU0=' },
    });
    for (const secret of ['Hunter2-imap-Passw0rd!', 'S3cretPassw0rd', 'q8Zr1yT9cM']) expect(out).not.toContain(secret);
    expect(out).toMatch(/passwordEnv: expected an environment variable name.*not shown: it may be the secret itself/);
    expect(out).toMatch(/personnummer\.keyEnv: .*not shown/);
  });
});
