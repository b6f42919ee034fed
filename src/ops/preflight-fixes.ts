/**
 * How to fix what `klagomal check` (and the start's preflight) found: each failure of an IMAP
 * login, a token request or the transport, classed by its error, in words the admin of the
 * mailbox's platform understands, naming the config key to change (STYLE.md: operator errors say
 * where and how to fix).
 */
import type { Config, ImapSourceConfig } from '../config/config';
import { TokenError } from '../auth/token';
import { smtpOAuth2Fix } from '../reply/transport';

export interface ImapErrorLike {
  code?: string;
  authenticationFailed?: boolean;
  serverResponseCode?: string;
  responseText?: string;
  message?: string;
}

const TLS_CODES = /^(ERR_SSL|ERR_TLS|EPROTO|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_OSSL|HOSTNAME_MISMATCH)/;

/** What to do when the IMAP server refuses an OAuth2 token, for the admin of the mailbox's platform. */
export function imapOAuth2Fix(s: Pick<ImapSourceConfig, 'auth' | 'user' | 'host'>, index: number): string {
  const at = `sources[${index}]`;
  switch (s.auth?.provider) {
    case 'microsoft':
      return (
        `Exchange Online refused the token for ${s.user}: the app registration needs the application permission IMAP.AccessAsApp ` +
        `(API "Office 365 Exchange Online", admin consent granted), the app's service principal must be registered in Exchange ` +
        `(New-ServicePrincipal -AppId <clientId> -ObjectId <enterprise app object id>) and have FullAccess on this mailbox ` +
        `(Add-MailboxPermission -Identity ${s.user} -User <service principal id> -AccessRights FullAccess); check ${at}.user is the mailbox's address`
      );
    case 'google':
      return `Gmail refused the token for ${s.user}: IMAP must be enabled for the user (Admin console → Apps → Google Workspace → Gmail → End user access) and https://mail.google.com/ must be the scope of the domain-wide delegation; check ${at}.user`;
    default:
      return `${s.host} refused the token for ${s.user}: check what the server expects of the token (audience, scope, the user it names) and the server's log; check ${at}.user`;
  }
}

/** How to fix an IMAP failure, from its class. `index` names the source's keys. */
export function imapFix(
  err: unknown,
  s: Pick<ImapSourceConfig, 'host' | 'port' | 'tls' | 'passwordEnv' | 'user'> & Partial<Pick<ImapSourceConfig, 'auth'>>,
  index: number,
): string {
  const e = (err ?? {}) as ImapErrorLike;
  const at = `sources[${index}]`;
  const text = `${e.message ?? ''} ${e.responseText ?? ''}`;
  if (err instanceof TokenError) return tokenFix(err, `${at}.auth`);
  if ((e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED') && s.auth)
    return imapOAuth2Fix({ auth: s.auth, user: s.user, host: s.host }, index);
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED')
    return `the server refused the login of ${s.user}: check the password in $${s.passwordEnv} (the service's EnvironmentFile) and ${at}.user`;
  if (e.code === 'ECONNREFUSED')
    return `nothing listens on ${s.host}:${s.port}: check ${at}.host and ${at}.port (993 for tls "implicit", 143 otherwise) and that the server runs`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `the name ${s.host} does not resolve: check ${at}.host and DNS`;
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH')
    return `no route to ${s.host}: check ${at}.host, the network and the firewall (systemd: IPAddressDeny/RestrictAddressFamilies)`;
  if (e.code && TLS_CODES.test(e.code)) return tlsFix(s, at);
  if (/certificate|ssl|tls|wrong version number|handshake/i.test(text)) return tlsFix(s, at);
  if (e.code === 'CONNECT_TIMEOUT' || e.code === 'GREETING_TIMEOUT' || e.code === 'ETIMEDOUT' || e.code === 'ETIMEOUT' || e.code === 'UPGRADE_TIMEOUT')
    return `${s.host}:${s.port} did not answer in time: check ${at}.host, ${at}.port, ${at}.tls ("${s.tls}") and the firewall`;
  if (e.code === 'NoConnection' || e.code === 'EConnectionClosed' || /^ClosedAfterConnect/.test(e.code ?? ''))
    return `the server closed the connection: check ${at}.tls ("${s.tls}") against what ${s.host}:${s.port} speaks, and the server's log`;
  if (e.code === 'ECONNRESET') return `the connection was reset: check ${at}.tls ("${s.tls}") and ${at}.port`;
  return `see the error; check ${at} (host, port, tls, user) and the server's log`;
}

/** How to fix a failed token request: its message names the cause; this names where to act. */
export function tokenFix(err: TokenError, at: string): string {
  if (err.temporary) return `the token service did not answer: check the network path to it (firewall, proxy, DNS); the service retries with backoff`;
  if (err.step === 'delegation')
    return `in the Google Admin console, fix the domain-wide delegation of the service account (see the README, "Microsoft 365 and Google Workspace"); ${at}`;
  if (err.step === 'command') return `run the program in ${at}.command by hand as the service user; it must print the token`;
  if (err.step === 'key') return `set the variable and file named in ${at} in the service's EnvironmentFile`;
  return `fix what the token service said (above) in the app registration or in ${at} and the secret's variable`;
}

function tlsFix(s: Pick<ImapSourceConfig, 'tls' | 'port'>, at: string): string {
  return (
    `TLS failed: check ${at}.tls ("${s.tls}"; "implicit" for port 993, "starttls" for 143) and the server's certificate; ` +
    `for a private CA set NODE_EXTRA_CA_CERTS in the EnvironmentFile (${at}.tlsRejectUnauthorized=false only for a test install)`
  );
}

/** Whether an IMAP error means the folder is not there (rather than the connection failing). */
export function isMissingFolder(err: unknown): boolean {
  const e = (err ?? {}) as ImapErrorLike;
  return (
    e.code === 'NotFound' ||
    e.serverResponseCode === 'NONEXISTENT' ||
    /nonexistent|doesn't exist|does not exist|not found|no such|unknown mailbox/i.test(`${e.responseText ?? ''} ${e.message ?? ''}`)
  );
}

/** How to fix a failed `verify()` of the transport. */
export function transportFix(config: Config, message: string): string {
  const t = config.transport;
  if (t.type === 'pickup') return `make ${t.path} writable for the service user (under systemd it must be in ReadWritePaths=), or change transport.path`;
  if (t.type === 'graph') {
    if (/no token/i.test(message)) return `fix what the token service said in the app registration or in transport.auth and the secret's variable`;
    if (/Mail\.Send/.test(message))
      return 'add the Microsoft Graph application permission Mail.Send to the app registration, grant admin consent, and limit it to the complaints mailbox with an application access policy (New-ApplicationAccessPolicy)';
    return `check transport.user and transport.endpoint, and the network path to ${t.endpoint}`;
  }
  if (t.auth && /no token/i.test(message)) return `fix what the token service said in the app registration or in transport.auth and the secret's variable`;
  if (t.auth && /login failed|EAUTH|authentication|\b53[45]\b(?![.:])/i.test(message)) return smtpOAuth2Fix(t, message);
  // The connection errors first: their text carries the port ("ECONNREFUSED 127.0.0.1:53512"),
  // which must not be read as an SMTP reply code.
  if (/ECONNREFUSED/.test(message))
    return `nothing listens on ${t.host}:${t.port}: check transport.host and transport.port (465 "implicit", 587 "starttls", 25 "none")`;
  if (/login failed|EAUTH|authentication|\b53[45]\b(?![.:])/i.test(message))
    return `the SMTP server refused the login of ${t.user ?? '(no user)'}: check the password in $${t.passwordEnv ?? '(transport.passwordEnv)'} and transport.user`;
  if (/ENOTFOUND|EAI_AGAIN|EDNS/.test(message)) return `the name ${t.host} does not resolve: check transport.host and DNS`;
  if (/certificate|ssl|tls|wrong version number|handshake/i.test(message))
    return `TLS failed: check transport.tls ("${t.tls}") against transport.port (${t.port}) and the server's certificate (a private CA: NODE_EXTRA_CA_CERTS)`;
  if (/timed? ?out|ETIMEDOUT|greeting never received/i.test(message))
    return `${t.host}:${t.port} did not answer in time: check transport.host, transport.port and the firewall`;
  return `check the transport section (host, port, tls, user) and the SMTP server's log`;
}
