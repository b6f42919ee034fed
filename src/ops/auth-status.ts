/**
 * Auth status: how each IMAP source and the transport log in, written by the running service
 * for `klagomal status` in another process. One `meta` row per mailbox login,
 * `auth.source.<name>` or `auth.transport`, a JSON object:
 *
 *   { "kind": "oauth2 microsoft", "obtainedAt": ISO, "expiresAt": ISO | null,
 *     "lastError": text | null, "lastErrorAt": ISO | null }
 *
 * `expiresAt` is when the current token expires; `lastError` the last failure to get a token
 * or the last refusal of one by the server, cleared when a new token is obtained. Never the
 * token, never a secret: errors go through the secret guard (src/util/secrets.ts). Written
 * without waiting for fsync, like the source status; a failed write is logged and ignored.
 */
import type { Store } from '../store/store';
import type { TokenProvider } from '../auth/token';
import type { Instant } from '../util/clock';
import type { Logger } from '../util/log';
import { errorChain } from '../util/log';
import { redactSecrets } from '../util/secrets';

export interface AuthStatus {
  readonly kind: string;
  readonly obtainedAt: Instant | null;
  readonly expiresAt: Instant | null;
  readonly lastError: string | null;
  readonly lastErrorAt: Instant | null;
}

export function authStatusKey(of: { source: string } | 'transport'): string {
  return of === 'transport' ? 'auth.transport' : `auth.source.${of.source}`;
}

const iso = (ms: number): Instant => new Date(ms).toISOString() as Instant;

/** Record a token provider's events under `key` until the returned function is called. */
export function recordAuthStatus(store: Store, key: string, tokens: TokenProvider, log: Logger): () => void {
  let state: AuthStatus = { kind: tokens.kind, obtainedAt: null, expiresAt: null, lastError: null, lastErrorAt: null };
  const write = (): void => {
    try {
      store.txRelaxed(() => store.setMeta(key, JSON.stringify(state)));
    } catch (err) {
      log.warn('cannot record the auth status', { key, error: errorChain(err) });
    }
  };
  write();
  return tokens.onEvent((e) => {
    if (e.type === 'token') state = { ...state, obtainedAt: iso(e.obtainedAt), expiresAt: iso(e.expiresAt), lastError: null, lastErrorAt: null };
    else state = { ...state, lastError: redactSecrets(e.message).replace(/\s+/g, ' ').slice(0, 500), lastErrorAt: iso(e.at) };
    write();
  });
}

/** What the service recorded for `key`; null when nothing was (a password login, or never run). */
export function readAuthStatus(store: Store, key: string): AuthStatus | null {
  const raw = store.meta(key);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as AuthStatus;
  } catch {
    return null;
  }
}
