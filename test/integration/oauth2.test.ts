/**
 * OAuth2 end to end with the real binary: a Dovecot whose only passdb is oauth2 (tokens checked
 * at the test's introspection endpoint), an SMTP receiver that takes only XOAUTH2 with a live
 * token, and the test's token service (Microsoft's token endpoint over https, reached by MSAL;
 * Google's JWT-bearer grant; Graph's sendMail). No password exists anywhere in these worlds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dovecotAvailable, startDovecot, DovecotServer } from '../support/dovecot';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { googleServiceAccountKey, startTokenService, TokenService } from '../support/oauth';
import { makeWorld, World, complaintMail, waitFor, waitForAsync } from '../support/world';

const available = dovecotAvailable();
if (!available.ok) console.warn(`Dovecot tests skipped: ${available.reason}`);
const describeImap = available.ok ? describe : describe.skip;

const MAILBOX = 'klagomal@testfinans.se';
const TENANT = '6f3c1a2e-9d4b-4c8e-a1f0-3b2d5e7c9a10';
const CLIENT_ID = '0c2b7f1e-5a3d-4e6f-8b9a-1d2c3e4f5a6b';
const SECRET_ENV = 'KLAGOMAL_TEST_M365_SECRET';
const MAIL_SCOPE = 'https://outlook.office365.com/.default';

interface Setup {
  tokens: TokenService;
  dovecot: DovecotServer;
  smtp: SmtpReceiver;
  world: World;
  env: NodeJS.ProcessEnv;
  secret: string;
}

function microsoftAuth(tokens: TokenService): Record<string, unknown> {
  return { type: 'oauth2', provider: 'microsoft', tenantId: TENANT, clientId: CLIENT_ID, clientSecretEnv: SECRET_ENV, authorityHost: tokens.httpsUrl };
}

async function setup(opts: { lifetimeSeconds?: number; source?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): Promise<Setup> {
  const tokens = await startTokenService({ lifetimeSeconds: opts.lifetimeSeconds ?? 3600, introspectionUser: MAILBOX });
  const secret = `Qx8~${Math.random().toString(36).slice(2)}_aZ.9tR2vK-secret`;
  tokens.microsoftApps.set(CLIENT_ID, { secret, roles: ['IMAP.AccessAsApp', 'SMTP.SendAsApp'] });
  const dovecot = await startDovecot({ user: MAILBOX, oauth2: { introspectionUrl: `${tokens.httpUrl}/introspect`, harnessToken: tokens.harnessToken } });
  const smtp = await startSmtpReceiver({ xoauth2: { live: (_user, token) => tokens.live(token, MAIL_SCOPE)?.expiresAt ?? null } });
  const world = makeWorld({
    sources: [
      {
        type: 'imap',
        name: 'klagomal',
        host: dovecot.host,
        port: dovecot.port,
        tls: 'none',
        user: MAILBOX,
        auth: microsoftAuth(tokens),
        processedFolder: 'Processed',
        pollSeconds: 60,
        ...opts.source,
      },
    ],
    transport: { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', user: MAILBOX, auth: microsoftAuth(tokens), maxConnections: 2 },
    outbox: { retryBaseSeconds: 1, retryMaxSeconds: 2, sendTimeoutSeconds: 10 },
    ...opts.extra,
  });
  return { tokens, dovecot, smtp, world, secret, env: { [SECRET_ENV]: secret, NODE_EXTRA_CA_CERTS: tokens.caFile } };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  s.world.cleanup();
  await s.smtp.close();
  await s.dovecot.cleanup();
  await s.tokens.close();
}

function filedMessageIds(world: World): string[] {
  const { store, close } = world.store();
  try {
    return (store.db.prepare("SELECT message_id FROM inbound WHERE state != 'stored' ORDER BY id").pluck().all() as string[]).filter(Boolean);
  } finally {
    close();
  }
}

/** Every secret and every token issued must be absent from whatever the test captured. */
function expectNoSecretIn(s: Setup, texts: string[]): void {
  const all = texts.join('\n');
  expect(all).not.toContain(s.secret);
  expect(s.tokens.issued.length).toBeGreaterThan(0);
  for (const t of s.tokens.issued) {
    expect(all).not.toContain(t.token);
    // nor the middle part alone (a token cut to fit a line)
    expect(all).not.toContain(t.token.slice(20, 60));
  }
}

describeImap('OAuth2 mailboxes (Microsoft 365 and Google Workspace shapes)', () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await teardown(s);
    s = undefined;
  });

  test('complaintFiledAndAcknowledgedOverOAuth2WithNoPassword and tokenNeverInLogs', async () => {
    s = await setup();
    const check = await s.world.cli(['check'], s.env);
    expect(check.stdout).toMatch(/imap klagomal: ok: logged in to .* as klagomal@testfinans\.se with OAuth2 \(oauth2 microsoft; token valid until /);
    expect(check.stdout).toMatch(/transport: ok: SMTP .* logged in as klagomal@testfinans\.se with OAuth2 \(oauth2 microsoft\)/);
    expect(check.code).toBe(0);
    // MSAL sent the documented client-credentials request
    const tokenRequest = s.tokens.requests.find((r) => r.path === `/${TENANT}/oauth2/v2.0/token`)!;
    expect(tokenRequest.form).toMatchObject({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: s.secret, scope: MAIL_SCOPE });

    const child = s.world.start({ ...s.env, KLAGOMAL_LOG_LEVEL: 'debug' });
    await waitFor('imap connected', () => /imap connected/.test(child.output()), 20_000);
    await s.dovecot.append(complaintMail(1, { messageId: 'oauth-1@example.com' }));
    const [ack] = await s.smtp.waitFor(1, 15_000);
    expect(ack.to).toEqual(['kund1@example.com']);
    expect(ack.headers.get('in-reply-to')).toBe('<oauth-1@example.com>');
    expect(s.smtp.auths.accepted.length).toBeGreaterThan(0);
    expect(filedMessageIds(s.world)).toEqual(['oauth-1@example.com']);

    const status = await s.world.cli(['status', '--json'], s.env);
    const report = JSON.parse(status.stdout) as {
      sources: Array<{ auth: { kind: string; tokenExpiresAt: string | null; lastTokenError: string | null } }>;
      transport: { auth: { kind: string; tokenExpiresAt: string | null } };
    };
    expect(report.sources[0].auth).toMatchObject({ kind: 'oauth2 microsoft', lastTokenError: null });
    expect(Date.parse(report.sources[0].auth.tokenExpiresAt!)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(report.transport.auth.kind).toBe('oauth2 microsoft');
    expect(report.transport.auth.tokenExpiresAt).not.toBeNull();
    const statusText = await s.world.cli(['status'], s.env);
    expect(statusText.stdout).toMatch(/auth oauth2 microsoft; token valid until/);

    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const configDump = await s.world.cli(['config', 'check'], s.env);
    expect(configDump.code).toBe(0);
    expectNoSecretIn(s, [
      child.output(),
      check.stdout,
      check.stderr,
      status.stdout,
      statusText.stdout,
      configDump.stdout,
      configDump.stderr,
      fs.readFileSync(s.world.configFile, 'utf8'),
    ]);
  });

  test('expiredTokenDuringIdleReconnectsWithoutLoss and expiredTokenOnPooledSmtpConnectionIsRenewed', async () => {
    // Tokens live 4 s: an IDLE session and a pooled SMTP connection outlive several of them.
    s = await setup({ lifetimeSeconds: 4 });
    const setupDone = s;
    // The server ends a session whose token has expired (Exchange: "BYE Session invalidated -
    // AccessTokenExpired"); Dovecot checks a token only at login, so the test does it.
    let kicks = 0;
    const enforcer = setInterval(() => {
      const logins = setupDone.tokens.introspected.filter((i) => i.active);
      const last = logins[logins.length - 1];
      const t = last && setupDone.tokens.issued.find((x) => x.token === last.token);
      if (t && Date.now() > t.expiresAt && !t.revoked) {
        t.revoked = true; // kick once per expired session
        kicks++;
        try {
          setupDone.dovecot.kick();
        } catch {
          /* no session left */
        }
      }
    }, 100);
    try {
      const child = s.world.start(s.env);
      await waitFor('imap connected', () => /imap connected/.test(child.output()), 20_000);
      const ids = Array.from({ length: 10 }, (_, i) => `expiry-${i}@example.com`);
      for (const id of ids) {
        await s.dovecot.append(complaintMail(ids.indexOf(id), { messageId: id }));
        await new Promise((r) => setTimeout(r, 1200));
      }
      const acks = await s.smtp.waitFor(10, 20_000).catch((e) => {
        console.log(child.output().slice(-6000));
        throw e;
      });
      await new Promise((r) => setTimeout(r, 1500)); // nothing more may come
      expect(s.smtp.messages).toHaveLength(10);
      expect(new Set(acks.map((a) => a.headers.get('in-reply-to')))).toEqual(new Set(ids.map((id) => `<${id}>`)));
      expect(filedMessageIds(s.world)).toEqual(ids);
      // Every session logged in again before its token expired, with a fresh one.
      expect(kicks).toBe(0);
      expect(s.smtp.expiredSessionRefusals).toBe(0);
      const imapLogins = new Set(s.tokens.introspected.filter((i) => i.active).map((i) => i.token));
      expect(imapLogins.size).toBeGreaterThanOrEqual(3);
      expect(new Set(s.smtp.auths.accepted).size).toBeGreaterThanOrEqual(2);
      expect(child.output()).toMatch(/imap token expires soon: logging in again with a fresh one/);
      expect(child.output()).not.toMatch(/imap scan or connection failed|imap login refused/);

      // A session the server ends anyway (a token revoked early) is rebuilt; the next mail is filed once.
      s.dovecot.kick();
      await s.dovecot.append(complaintMail(99, { messageId: 'after-kick@example.com' }));
      await s.smtp.waitFor(11, 20_000);
      expect(filedMessageIds(s.world)).toEqual([...ids, 'after-kick@example.com']);
      expectNoSecretIn(s, [child.output()]);
    } finally {
      clearInterval(enforcer);
    }
  });

  test('tokenWithoutImapPermissionOrMailboxRightsIsNamedByCheck', async () => {
    s = await setup();
    const app = s.tokens.microsoftApps.get(CLIENT_ID)!;
    // Admin consent was never given for IMAP.AccessAsApp: the token's roles say so before any login.
    app.roles = ['SMTP.SendAsApp'];
    const noRole = await s.world.cli(['check'], s.env);
    expect(noRole.stdout).toMatch(
      /imap klagomal: FAILED: token \(oauth2 microsoft\) obtained, but it has no IMAP\.AccessAsApp permission \(roles: SMTP\.SendAsApp\)/,
    );
    expect(noRole.stdout).toMatch(
      /fix: in the app registration add the API permission "Office 365 Exchange Online" → Application permissions → IMAP\.AccessAsApp/,
    );
    // The permission is there, but the service principal has no rights on this mailbox: the server refuses every token.
    app.roles = ['IMAP.AccessAsApp', 'SMTP.SendAsApp'];
    s.tokens.introspectionUser = 'someone-else@testfinans.se';
    const before = s.tokens.introspected.length;
    const refused = await s.world.cli(['check'], s.env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /imap klagomal: FAILED: the IMAP server 127\.0\.0\.1:\d+ refused the token for klagomal@testfinans\.se \(also a fresh one\)/,
    );
    expect(refused.stdout).toMatch(
      /fix: Exchange Online refused the token for klagomal@testfinans\.se: .*IMAP\.AccessAsApp.*Add-MailboxPermission -Identity klagomal@testfinans\.se/,
    );
    // the cached token, then one fresh one: two logins, two different tokens
    expect(new Set(s.tokens.introspected.slice(before).map((i) => i.token)).size).toBe(2);
    expectNoSecretIn(s, [noRole.stdout, noRole.stderr, refused.stdout, refused.stderr]);
  });

  test('refusedCachedTokenTriesOneFreshTokenBeforeBackingOff', async () => {
    s = await setup();
    const child = s.world.start(s.env);
    await waitFor('imap connected', () => /imap connected/.test(child.output()), 20_000);
    // Every token is revoked (an admin removed the app's grant and gave it back); the cached one no longer works.
    s.tokens.revokeAll();
    const before = s.tokens.introspected.length;
    s.dovecot.kick();
    await waitFor('logged in again', () => (child.output().match(/imap connected/g) ?? []).length >= 2, 15_000);
    const logins = s.tokens.introspected.slice(before);
    // The cached token was refused, and a fresh one was tried at once: no failure, no backoff.
    expect(logins.map((l) => l.active)).toEqual([false, true]);
    expect(child.output()).not.toMatch(/imap scan or connection failed|imap login refused/);
    await s.dovecot.append(complaintMail(3, { messageId: 'after-revoke@example.com' }));
    await s.smtp.waitFor(1, 15_000);
    expect(filedMessageIds(s.world)).toEqual(['after-revoke@example.com']);
  });

  test('revokedSecretIsReportedByCheckAndStatus and theSourceRecoversOnceTheSecretIsFixed', async () => {
    s = await setup();
    const app = s.tokens.microsoftApps.get(CLIENT_ID)!;
    const child = s.world.start(s.env);
    await waitFor('imap connected', () => /imap connected/.test(child.output()), 20_000);

    // The secret is revoked in Entra (deleted, or expired): every token request is refused.
    app.secret = 'another-secret-value-entirely';
    s.tokens.revokeAll();
    s.dovecot.kick();

    const check = await s.world.cli(['check'], s.env);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(
      /imap klagomal: FAILED: token \(oauth2 microsoft\) for klagomal@testfinans\.se: the Microsoft token endpoint refused: the client secret is wrong: .* \$KLAGOMAL_TEST_M365_SECRET \(Entra ID said AADSTS7000215\)/,
    );
    expect(check.stdout).toMatch(/transport: FAILED: token \(oauth2 microsoft\) for klagomal@testfinans\.se: .*AADSTS7000215/);
    expect(check.stdout).toMatch(/fix: fix what the token service said/);

    const failing = await waitForAsync(
      'status shows the token error',
      async () => {
        const r = await s!.world.cli(['status', '--json'], s!.env);
        const report = JSON.parse(r.stdout) as { sources: Array<{ lastError: string | null; auth: { lastTokenError: string | null } }> };
        return report.sources[0].auth.lastTokenError ? { r, report } : null;
      },
      20_000,
      500,
    );
    expect(failing.report.sources[0].auth.lastTokenError).toMatch(/client secret is wrong.*AADSTS7000215/);
    expect(failing.report.sources[0].lastError).toMatch(/AADSTS7000215/);
    const text = await s.world.cli(['status'], s.env);
    expect(text.stdout).toMatch(/last token error .*AADSTS7000215/);

    // Fixed in Entra: the same secret works again. The source, backing off, gets back in by itself.
    app.secret = s.secret;
    await s.dovecot.append(complaintMail(4, { messageId: 'after-fix@example.com' }));
    await s.smtp.waitFor(1, 30_000);
    expect(filedMessageIds(s.world)).toEqual(['after-fix@example.com']);
    const healed = JSON.parse((await s.world.cli(['status', '--json'], s.env)).stdout) as {
      sources: Array<{ state: string; auth: { lastTokenError: string | null } }>;
    };
    expect(healed.sources[0]).toMatchObject({ state: 'connected', auth: { lastTokenError: null } });
    expectNoSecretIn(s, [child.output(), check.stdout, check.stderr, failing.r.stdout, text.stdout]);
    expect(child.output() + check.stdout).not.toContain('another-secret-value-entirely');
  });
});

describeImap('Google Workspace mailbox', () => {
  let tokens: TokenService | undefined;
  let dovecot: DovecotServer | undefined;
  let world: World | undefined;
  afterEach(async () => {
    world?.cleanup();
    await dovecot?.cleanup();
    await tokens?.close();
  });

  test('googleWorkspaceMailboxLogsInWithADelegatedToken and missingDelegationIsNamedByCheck', async () => {
    tokens = await startTokenService({ introspectionUser: MAILBOX });
    const email = 'klagomal-reader@klagomal-test.iam.gserviceaccount.com';
    const key = googleServiceAccountKey(email);
    const account = { clientId: key.clientId, publicKeyPem: key.publicKeyPem, delegatedScopes: ['https://mail.google.com/'], users: [MAILBOX] };
    tokens.googleAccounts.set(email, account);
    dovecot = await startDovecot({ user: MAILBOX, oauth2: { introspectionUrl: `${tokens.httpUrl}/introspect`, harnessToken: tokens.harnessToken } });
    world = makeWorld({
      sources: [
        {
          type: 'imap',
          name: 'gmail',
          host: dovecot.host,
          port: dovecot.port,
          tls: 'none',
          user: MAILBOX,
          auth: { type: 'oauth2', provider: 'google', serviceAccountKeyFileEnv: 'KLAGOMAL_TEST_GSA_KEY', tokenUrl: `${tokens.httpUrl}/google/token` },
        },
      ],
    });
    const env = { KLAGOMAL_TEST_GSA_KEY: key.file };
    const ok = await world.cli(['check'], env);
    expect(ok.stdout).toMatch(/imap gmail: ok: logged in to .* as klagomal@testfinans\.se with OAuth2 \(oauth2 google; token valid until/);
    expect(tokens.issued.map((t) => t.subject)).toEqual([MAILBOX]);

    // The admin removed the scope from the domain-wide delegation.
    account.delegatedScopes = ['https://www.googleapis.com/auth/gmail.readonly'];
    const refused = await world.cli(['check'], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /imap gmail: FAILED: token \(oauth2 google\) for klagomal@testfinans\.se: Google refused the delegation: .*https:\/\/mail\.google\.com\//,
    );
    expect(refused.stdout).toMatch(/fix: in the Google Admin console, fix the domain-wide delegation/);
    const privateKey = (JSON.parse(fs.readFileSync(key.file, 'utf8')) as { private_key: string }).private_key;
    for (const out of [ok.stdout, ok.stderr, refused.stdout, refused.stderr]) {
      expect(out).not.toContain(privateKey.split('\n')[2]);
      for (const t of tokens.issued) expect(out).not.toContain(t.token);
    }
  });
});

describe('graph transport (Microsoft Graph sendMail, as documented; Graph itself cannot run here)', () => {
  let tokens: TokenService | undefined;
  let world: World | undefined;
  afterEach(async () => {
    world?.cleanup();
    await tokens?.close();
  });

  test('graphTransportHandsOurMimeToSendMailUnchanged and triesOneFreshTokenAfter401', async () => {
    tokens = await startTokenService();
    const secret = 'graph-client-secret-value-42';
    tokens.microsoftApps.set(CLIENT_ID, { secret, roles: ['Mail.Send'] });
    world = makeWorld({
      transport: { type: 'graph', auth: microsoftAuth(tokens), endpoint: tokens.httpsUrl },
    });
    const env = { [SECRET_ENV]: secret, NODE_EXTRA_CA_CERTS: tokens.caFile };
    const check = await world.cli(['check'], env);
    expect(check.stdout).toMatch(
      /transport: ok: Microsoft Graph https:\/\/127\.0\.0\.1:\d+: token for klagomal@testfinans\.se obtained \(client secret\), with Mail\.Send/,
    );
    expect(tokens.requests.find((r) => r.path.endsWith('/oauth2/v2.0/token'))!.form.scope).toBe('https://graph.microsoft.com/.default');

    fs.mkdirSync(path.join(world.maildir, 'new'), { recursive: true });
    fs.writeFileSync(path.join(world.maildir, 'new', '1.eml'), complaintMail(5, { messageId: 'graph-1@example.com' }));
    const first = await world.cli(['run', '--once'], env);
    expect(first.code).toBe(0);
    expect(tokens.graphMails).toHaveLength(1);
    const mail = tokens.graphMails[0];
    expect(mail.user).toBe('klagomal@testfinans.se');
    const head = mail.mime.toString('utf8').split('\r\n\r\n')[0];
    expect(head).toMatch(/^Message-ID: <klg-20\d\d-000001\.ack\.[A-Za-z0-9_-]+@testfinans\.se>$/m);
    expect(head).toMatch(/^In-Reply-To: <graph-1@example\.com>$/m);
    expect(head).toMatch(/^References: <graph-1@example\.com>$/m);
    expect(head).toMatch(/^Auto-Submitted: auto-replied$/m);
    expect(head).toMatch(/^To: kund5@example\.com$/m);
    const { store, close } = world.store();
    try {
      const row = store.db.prepare("SELECT status, message_id FROM outbox WHERE kind = 'acknowledgement'").get() as { status: string; message_id: string };
      expect(row.status).toBe('sent');
      expect(head).toContain(`Message-ID: <${row.message_id}>`);
    } finally {
      close();
    }

    // The token is revoked between its issue and the send: Graph answers 401 and one fresh token is tried.
    tokens.graphRevokeNext = 1;
    const issuedBefore = tokens.issued.length;
    fs.writeFileSync(path.join(world.maildir, 'new', '2.eml'), complaintMail(6, { messageId: 'graph-2@example.com' }));
    const second = await world.cli(['run', '--once'], env);
    expect(second.code).toBe(0);
    expect(tokens.graphMails).toHaveLength(2);
    expect(tokens.issued.length - issuedBefore).toBe(2); // the preflight's token (refused at send), then a fresh one
    expect(tokens.graphMails[1].token).toBe(tokens.issued[tokens.issued.length - 1].token);

    // Without Mail.Send the check says which permission is missing.
    tokens.microsoftApps.get(CLIENT_ID)!.roles = [];
    const noSend = await world.cli(['check'], env);
    expect(noSend.code).toBe(1);
    expect(noSend.stdout).toMatch(/transport: FAILED: .*no Mail\.Send permission/);
    expect(noSend.stdout).toMatch(/fix: add the Microsoft Graph application permission Mail\.Send/);
    for (const out of [check.stdout, first.stdout, first.stderr, second.stderr, noSend.stdout]) {
      expect(out).not.toContain(secret);
      for (const t of tokens.issued) expect(out).not.toContain(t.token);
    }
  });
});
