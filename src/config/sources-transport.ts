/**
 * The `sources` (the mailboxes complaints arrive in: Maildir, IMAP) and the `transport` (how
 * mail leaves: a pickup folder, SMTP, Microsoft Graph), with their `auth`: an OAuth2 login
 * (Microsoft 365, Google Workspace, any OAuth2 server, a program) instead of a password.
 * Secrets are never in the file: a key such as `passwordEnv` names the environment variable
 * that holds one (src/config/missing-secrets.ts checks they are set).
 */
import path from 'node:path';
import { MicrosoftOAuth2, OAuth2Config, OAUTH2_PROVIDERS, OAuth2Provider, SourceConfig, TLS_MODES, TlsMode, TransportConfig } from './config';
import { ADDRESS, describe, describeAt, ENV_NAME, Section } from './reader';

/** Defaults of the OAuth2 providers, as Microsoft and Google document them for IMAP and SMTP. */
export const OAUTH2_DEFAULTS = {
  microsoftAuthorityHost: 'https://login.microsoftonline.com',
  /** Exchange Online's resource: IMAP.AccessAsApp and SMTP.SendAsApp are granted on it. */
  microsoftMailScope: 'https://outlook.office365.com/.default',
  /** Microsoft Graph's resource: Mail.Send for the graph transport. */
  microsoftGraphScope: 'https://graph.microsoft.com/.default',
  googleScope: 'https://mail.google.com/',
  googleTokenUrl: 'https://oauth2.googleapis.com/token',
  graphEndpoint: 'https://graph.microsoft.com',
} as const;

/**
 * A URL that tokens or mail are sent to: https, or plain http to this machine only (a local
 * token proxy, tests). A secret sent in clear over a network is refused at load.
 */
const SECRET_URL = {
  pattern: /^(https:\/\/[^\s/?#]+|http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?)(\/[^\s]*)?$/,
  hint: 'an https:// URL (plain http only to 127.0.0.1)',
};

/**
 * `auth` of an IMAP source, the SMTP transport or the graph transport: OAuth2 instead of a
 * password. Each provider's keys are checked; what belongs to another provider is an unknown key.
 */
function readAuth(s: Section, use: 'mail' | 'graph', resolvePath: (p: string) => string): OAuth2Config {
  s.oneOf('type', ['oauth2'] as const);
  const provider = s.oneOf<OAuth2Provider>('provider', use === 'graph' ? ['microsoft'] : OAUTH2_PROVIDERS);
  const envName = (k: string): string | null => {
    const v = s.optionalString(k);
    if (v !== null && !ENV_NAME.pattern.test(v)) s.problem(k, `expected ${ENV_NAME.hint}, got ${describeAt(k, v)}`);
    return v;
  };
  let auth: OAuth2Config;
  if (provider === 'microsoft') {
    const clientSecretEnv = envName('clientSecretEnv');
    const certificateFileEnv = envName('certificateFileEnv');
    const thumbRaw = s.optionalString('certificateThumbprint');
    const certificateThumbprint = thumbRaw === null ? null : thumbRaw.replace(/[:\s]/g, '').toLowerCase();
    if (certificateThumbprint !== null && !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(certificateThumbprint))
      s.problem(
        'certificateThumbprint',
        `expected the certificate's thumbprint as the app registration shows it (40 hex digits, or 64 for SHA-256), got ${describe(thumbRaw)}`,
      );
    if (clientSecretEnv === null && certificateFileEnv === null)
      s.problem(
        '',
        'give "clientSecretEnv" (the variable holding the app\'s client secret) or "certificateFileEnv" and "certificateThumbprint" (a certificate uploaded to the app registration)',
      );
    if (clientSecretEnv !== null && certificateFileEnv !== null) s.problem('clientSecretEnv', 'give either a client secret or a certificate, not both');
    if (certificateFileEnv !== null && certificateThumbprint === null)
      s.problem('certificateThumbprint', 'required with "certificateFileEnv": the thumbprint Entra shows for the uploaded certificate');
    if (certificateFileEnv === null && thumbRaw !== null) s.problem('certificateThumbprint', 'only used with "certificateFileEnv"');
    auth = {
      type: 'oauth2',
      provider,
      tenantId: s.string('tenantId', {
        pattern: /^[A-Za-z0-9.-]{1,100}$/,
        hint: "the directory (tenant) id, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47, or the tenant's domain",
      }),
      clientId: s.string('clientId', { pattern: /^[A-Za-z0-9._-]{1,100}$/, hint: "the app registration's application (client) id, a GUID" }),
      clientSecretEnv,
      certificateFileEnv,
      certificateThumbprint,
      authorityHost: s.string('authorityHost', { default: OAUTH2_DEFAULTS.microsoftAuthorityHost, ...SECRET_URL }).replace(/\/+$/, ''),
      scope: s.string('scope', { default: use === 'graph' ? OAUTH2_DEFAULTS.microsoftGraphScope : OAUTH2_DEFAULTS.microsoftMailScope }),
    };
  } else if (provider === 'google') {
    auth = {
      type: 'oauth2',
      provider,
      serviceAccountKeyFileEnv: s.string('serviceAccountKeyFileEnv', {
        ...ENV_NAME,
        hint: "an environment variable name like KLAGOMAL_GOOGLE_KEY_FILE (holding the path of the service account's JSON key)",
      }),
      scope: s.string('scope', { default: OAUTH2_DEFAULTS.googleScope }),
      tokenUrl: s.string('tokenUrl', { default: OAUTH2_DEFAULTS.googleTokenUrl, ...SECRET_URL }),
    };
  } else if (provider === 'generic') {
    auth = {
      type: 'oauth2',
      provider,
      tokenUrl: s.string('tokenUrl', SECRET_URL),
      clientId: s.string('clientId', { hint: 'the client id registered at the OAuth2 server' }),
      clientSecretEnv: s.string('clientSecretEnv', ENV_NAME),
      scope: s.optionalString('scope'),
    };
  } else {
    const command = s.stringList('command', []);
    if (command.length === 0) s.problem('command', 'expected ["/path/to/program", "argument", ...]: a program that prints an access token');
    else if (!command[0].includes('/'))
      s.problem('command[0]', `give the program's path (absolute, or relative to the config file), not a name looked up in PATH: got ${describe(command[0])}`);
    auth = { type: 'oauth2', provider, command: command.length > 0 && command[0].includes('/') ? [resolvePath(command[0]), ...command.slice(1)] : command };
  }
  s.done();
  return auth;
}

function readSource(s: Section, resolvePath: (p: string) => string, index: number): SourceConfig {
  const type = s.oneOf('type', ['maildir', 'imap'] as const);
  const name = s.string('name', {
    default: index === 0 ? 'klagomal' : `source${index + 1}`,
    pattern: /^[A-Za-z0-9._-]{1,40}$/,
    hint: 'a short name of letters, digits, ".", "_" or "-"',
  });
  if (type === 'maildir') {
    const cfg = {
      type,
      name,
      path: resolvePath(s.string('path', { hint: 'the Maildir folder (relative to the config file)' })),
      pollSeconds: s.int('pollSeconds', { default: 5, min: 1, max: 3600 }),
    } as const;
    s.done();
    return cfg;
  }
  const tls = s.oneOf<TlsMode>('tls', TLS_MODES, 'implicit');
  const auth = s.has('auth') ? readAuth(s.section('auth'), 'mail', resolvePath) : null;
  let passwordEnv: string | null = null;
  if (auth === null) passwordEnv = s.string('passwordEnv', { ...ENV_NAME, hint: `${ENV_NAME.hint} (or "auth" for OAuth2: Microsoft 365, Google Workspace)` });
  else if (s.has('passwordEnv')) {
    s.raw('passwordEnv');
    s.problem('passwordEnv', 'remove it: this mailbox logs in with "auth" (OAuth2), and no password is used');
  }
  const cfg = {
    type,
    name,
    host: s.string('host', { hint: 'the IMAP server host name' }),
    port: s.int('port', { default: tls === 'implicit' ? 993 : 143, min: 1, max: 65535 }),
    tls,
    tlsRejectUnauthorized: s.bool('tlsRejectUnauthorized', true),
    user: s.string('user', { hint: 'the IMAP login name (with "auth": the mailbox address)' }),
    passwordEnv,
    auth,
    mailbox: s.string('mailbox', { default: 'INBOX' }),
    sentFolder: s.optionalString('sentFolder'),
    processedFolder: s.optionalString('processedFolder'),
    idle: s.bool('idle', true),
    pollSeconds: s.int('pollSeconds', { default: 60, min: 1, max: 3600 }),
    fetchBatchSize: s.int('fetchBatchSize', { default: 200, min: 1, max: 5000 }),
  } as const;
  if (cfg.processedFolder !== null && cfg.processedFolder === cfg.mailbox) {
    s.problem('processedFolder', `must differ from "mailbox" (${cfg.mailbox}): moving filed mail into the watched folder would fetch it again`);
  }
  if (cfg.sentFolder !== null && (cfg.sentFolder === cfg.mailbox || cfg.sentFolder === cfg.processedFolder)) {
    s.problem('sentFolder', `must differ from "mailbox" and "processedFolder": it is the folder the shared mailbox's sent mail is saved in`);
  }
  s.done();
  return cfg;
}

/** Names the system gives mail of its own: `klagomal import` (quiet filing) and `klagomal ingest`. */
const RESERVED_SOURCE_NAMES: readonly string[] = ['import', 'cli'];

/** The `sources` list; names are unique and none is reserved. */
export function readSources(root: Section, resolvePath: (p: string) => string): SourceConfig[] {
  const sources = root.list('sources').map((s, i) => readSource(s, resolvePath, i));
  if (sources.length === 0 && !root.reported('sources')) root.problem('sources', 'at least one source is needed (a "maildir" or an "imap" mailbox)');
  const seen = new Set<string>();
  sources.forEach((s, i) => {
    if (seen.has(s.name)) root.problem(`sources[${i}].name`, `"${s.name}" is used by another source; names must be unique`);
    if (RESERVED_SOURCE_NAMES.includes(s.name))
      root.problem(
        `sources[${i}].name`,
        `"${s.name}" is reserved for mail brought in by \`klagomal ${s.name === 'cli' ? 'ingest' : s.name}\`; choose another name`,
      );
    seen.add(s.name);
  });
  return sources;
}

export function readTransport(s: Section, resolvePath: (p: string) => string, dataDir: string, complaintsAddress: string): TransportConfig {
  const type = s.oneOf('type', ['pickup', 'smtp', 'graph'] as const, 'pickup');
  if (type === 'pickup') {
    const p = s.has('path') ? resolvePath(s.string('path')) : path.join(dataDir, 'outbox', 'pickup');
    s.done();
    return { type, path: p };
  }
  if (type === 'graph') {
    const cfg = {
      type,
      user: s.string('user', { default: complaintsAddress, ...ADDRESS }),
      auth: readAuth(s.section('auth', true), 'graph', resolvePath) as MicrosoftOAuth2,
      endpoint: s.string('endpoint', { default: OAUTH2_DEFAULTS.graphEndpoint, ...SECRET_URL }).replace(/\/+$/, ''),
    } as const;
    s.done();
    return cfg;
  }
  const tls = s.oneOf<TlsMode>('tls', TLS_MODES, 'starttls');
  const user = s.optionalString('user');
  const auth = s.has('auth') ? readAuth(s.section('auth'), 'mail', resolvePath) : null;
  const passwordEnv = s.optionalString('passwordEnv');
  if (passwordEnv !== null && !ENV_NAME.pattern.test(passwordEnv))
    s.problem('passwordEnv', `expected ${ENV_NAME.hint}, got ${describeAt('passwordEnv', passwordEnv)}`);
  if (auth !== null && passwordEnv !== null) s.problem('passwordEnv', 'remove it: the transport logs in with "auth" (OAuth2), and no password is used');
  if (auth !== null && user === null) s.problem('user', 'required with "auth": the mailbox that sends (our From address)');
  if (auth === null && user !== null && passwordEnv === null)
    s.problem('passwordEnv', 'required when "user" is set: the environment variable holding the SMTP password (or "auth" for OAuth2)');
  const cfg = {
    type,
    host: s.string('host', { hint: 'the SMTP server host name' }),
    port: s.int('port', { default: tls === 'implicit' ? 465 : tls === 'starttls' ? 587 : 25, min: 1, max: 65535 }),
    tls,
    tlsRejectUnauthorized: s.bool('tlsRejectUnauthorized', true),
    user,
    passwordEnv: auth === null ? passwordEnv : null,
    auth,
    maxConnections: s.int('maxConnections', { default: 3, min: 1, max: 20 }),
  } as const;
  s.done();
  return cfg;
}
