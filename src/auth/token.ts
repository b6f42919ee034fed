/**
 * Access tokens for OAuth2 mailbox logins: fetched before a connection is made, cached in
 * memory only (never written to disk), renewed before they expire.
 *
 * Renewal: a token is used until RENEW_SHARE of its lifetime is left, at most
 * RENEW_BEFORE_MS before its expiry (a one-hour Microsoft or Google token is renewed 5 minutes
 * early). Connections use the same moment (`Token.renewAt`) to reconnect with a fresh token, so
 * a reconnect always finds a new token here rather than the one that is about to expire.
 *
 * One request at a time: callers that ask while a token is being fetched share that fetch.
 * `fresh: true` skips the cache: a server refused the cached token (revoked, or the app's
 * permissions changed), and one new token is tried before the caller backs off.
 *
 * Failures are `TokenError`s with words for the admin of the token service (which step
 * failed, what to check) and no secret; `temporary` tells a refusal (fix the config or the
 * tenant) from an endpoint that did not answer (retried with backoff).
 */
import { redactSecrets, registerSecret } from '../util/secrets';

/** Renew when this share of the lifetime is left ... */
const RENEW_SHARE = 0.2;
/** ... but never earlier than this before expiry. */
const RENEW_BEFORE_MS = 5 * 60_000;

export interface Token {
  /** The access token. Never logged, stored or shown. */
  readonly value: string;
  /** ms since the epoch. */
  readonly obtainedAt: number;
  readonly expiresAt: number;
  /** When to stop using it: connections reconnect, the cache fetches a new one. */
  readonly renewAt: number;
}

export function renewAt(obtainedAt: number, expiresAt: number): number {
  const lifetime = Math.max(0, expiresAt - obtainedAt);
  return expiresAt - Math.min(RENEW_BEFORE_MS, lifetime * RENEW_SHARE);
}

/** Which step of getting a token failed, in the words of the service's admin. */
export type TokenStep = 'token endpoint' | 'delegation' | 'command' | 'key';

export class TokenError extends Error {
  constructor(
    /** What failed and how to fix it; no secret. */
    message: string,
    readonly step: TokenStep,
    /** True when the endpoint did not answer (network, 5xx): retried; false when it refused. */
    readonly temporary: boolean,
  ) {
    super(redactSecrets(message));
    this.name = 'TokenError';
  }
}

/** What a provider returns: the token and when it expires (ms since the epoch). */
export interface FetchedToken {
  readonly value: string;
  readonly expiresAt: number;
}

export type TokenEvent =
  | { readonly type: 'token'; readonly obtainedAt: number; readonly expiresAt: number }
  | { readonly type: 'error'; readonly at: number; readonly message: string };

export class TokenProvider {
  private current: Token | null = null;
  private pending: Promise<Token> | null = null;
  private readonly listeners = new Set<(e: TokenEvent) => void>();
  /** The last failure, until a token is obtained again. */
  lastError: { readonly at: number; readonly message: string } | null = null;

  constructor(
    /** e.g. "oauth2 microsoft"; shown in status and messages. */
    readonly kind: string,
    private readonly fetch: (fresh: boolean) => Promise<FetchedToken>,
    private readonly now: () => number = Date.now,
  ) {}

  onEvent(listener: (e: TokenEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The cached token, if any (for status: when it expires). */
  get cached(): Token | null {
    return this.current;
  }

  /** A usable token: the cached one until its renewal time, else a new one. */
  async token(opts: { fresh?: boolean } = {}): Promise<Token> {
    const c = this.current;
    if (!opts.fresh && c && this.now() < c.renewAt) return c;
    if (this.pending) return this.pending;
    const fresh = Boolean(opts.fresh);
    this.pending = this.fetchOne(fresh).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Forget the cached token (a server refused it). */
  invalidate(): void {
    this.current = null;
  }

  private async fetchOne(fresh: boolean): Promise<Token> {
    const obtainedAt = this.now();
    let got: FetchedToken;
    try {
      got = await this.fetch(fresh);
      if (!got.value) throw new TokenError('the token service answered without an access token', 'token endpoint', false);
    } catch (err) {
      const message = redactSecrets(err instanceof Error ? err.message : String(err));
      this.lastError = { at: this.now(), message };
      this.emit({ type: 'error', at: this.lastError.at, message });
      throw err instanceof TokenError ? err : new TokenError(message, 'token endpoint', true);
    }
    registerSecret(got.value, 'token');
    // A token said to expire in the past (clock skew, a broken server) is used once, for one minute.
    const expiresAt = got.expiresAt > obtainedAt ? got.expiresAt : obtainedAt + 60_000;
    const token: Token = { value: got.value, obtainedAt, expiresAt, renewAt: renewAt(obtainedAt, expiresAt) };
    this.current = token;
    this.lastError = null;
    this.emit({ type: 'token', obtainedAt, expiresAt });
    return token;
  }

  /** Record a refusal that happened with a token (the server refused it), for status. */
  reportRefused(message: string): void {
    this.lastError = { at: this.now(), message: redactSecrets(message) };
    this.emit({ type: 'error', at: this.lastError.at, message: this.lastError.message });
  }

  private emit(e: TokenEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a status write must never stop a login */
      }
    }
  }
}
