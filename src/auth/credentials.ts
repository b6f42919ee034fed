/**
 * How a configured mailbox logs in: a password from the environment, or an OAuth2 access
 * token (SASL XOAUTH2, which imapflow's `accessToken` and nodemailer's OAuth2 speak). Every
 * connection to a mailbox (the source, its Sent folder, reconciliation, the start's checks,
 * the SMTP transport) asks its `MailboxCredentials` for a `Login` just before it connects.
 *
 * A Login from a token says until when it may be used (`renewAt`): a long-lived connection
 * (an IDLE session, a pooled SMTP connection) is replaced with a fresh login before then.
 */
import type { OAuth2Config } from '../config/config';
import { registerSecret } from '../util/secrets';
import { fetcherFor } from './providers';
import { TokenProvider } from './token';

/** What status shows: "password", or "oauth2 microsoft" / "oauth2 google" / ... */
export type AuthKind = 'password' | `oauth2 ${OAuth2Config['provider']}`;

export interface Login {
  readonly user: string;
  /** Exactly one of `pass` and `accessToken` is set. Never logged. */
  readonly pass?: string;
  readonly accessToken?: string;
  /** When a connection made with this login should be replaced (ms since the epoch); null = never. */
  readonly renewAt: number | null;
  readonly expiresAt: number | null;
}

export interface MailboxCredentials {
  readonly kind: AuthKind;
  readonly user: string;
  /** The token provider behind an OAuth2 login (for status and events); null for a password. */
  readonly tokens: TokenProvider | null;
  /** A login for a new connection; `fresh` skips the cached token (the server refused it). */
  login(opts?: { fresh?: boolean }): Promise<Login>;
}

export interface MailboxAuthConfig {
  readonly user: string | null;
  readonly passwordEnv: string | null;
  readonly auth: OAuth2Config | null;
}

export function authKind(cfg: Pick<MailboxAuthConfig, 'auth'>): AuthKind {
  return cfg.auth ? `oauth2 ${cfg.auth.provider}` : 'password';
}

/** The credentials of one mailbox config; one per source or transport, shared by its connections. */
export function credentialsFor(cfg: MailboxAuthConfig, env: NodeJS.ProcessEnv = process.env): MailboxCredentials {
  const user = cfg.user ?? '';
  if (cfg.auth) {
    const tokens = new TokenProvider(authKind(cfg), fetcherFor(cfg.auth, user, env));
    return {
      kind: authKind(cfg),
      user,
      tokens,
      async login(opts = {}) {
        const t = await tokens.token(opts);
        return { user, accessToken: t.value, renewAt: t.renewAt, expiresAt: t.expiresAt };
      },
    };
  }
  return {
    kind: 'password',
    user,
    tokens: null,
    async login() {
      const pass = cfg.passwordEnv ? (env[cfg.passwordEnv] ?? '') : '';
      registerSecret(pass);
      return { user, pass, renewAt: null, expiresAt: null };
    },
  };
}
