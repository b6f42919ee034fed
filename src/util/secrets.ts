/**
 * Secrets never reach a log line, an error message, `status` or a stored error.
 *
 * Two guards, applied by `redactSecrets` (which the log's redaction, the stored source and
 * outbox errors and `status` all go through):
 *  1. Every secret value the process reads (a password, a client secret, a private key, the
 *     service account key) and every access token it obtains is registered here; any
 *     occurrence of a registered value in a text is replaced by "[secret]". This covers opaque
 *     tokens of any shape (a generic OAuth2 server's, a vault program's).
 *  2. Shapes that are secret whatever their origin: JWTs (Microsoft's access tokens and our
 *     own client assertions), Google access tokens (`ya29.`), `Bearer ...` credentials, the
 *     SASL XOAUTH2 string (base64 of "user=...\x01auth=Bearer ..."), `access_token`,
 *     `client_secret`, `assertion` and `refresh_token` parameters, and PEM private keys.
 *
 * Values shorter than MIN_REGISTERED characters are not registered: a one-letter test password
 * would otherwise blank every such letter in the log. Real secrets are longer.
 */

const MIN_REGISTERED = 8;
/** The secrets of the config and its files (passwords, client secrets, keys): few, kept for good. */
const lasting = new Set<string>();
/** Tokens obtained as the service runs: one more every renewal, so only the newest are kept. */
const tokens = new Set<string>();
const MAX_TOKENS = 2000;

/**
 * Remember a secret value so that it is blanked wherever it would be written. `token`: an access
 * token, renewed hourly; bounded, the oldest forgotten first. The config's secrets are never
 * forgotten: in one list with the tokens, ~1000 renewals pushed the SMTP password out (it is
 * registered once, at start), and an error that echoed it then went to the log and the outbox.
 */
export function registerSecret(value: string | null | undefined, lifetime: 'lasting' | 'token' = 'lasting'): void {
  if (!value) return;
  const v = value.trim();
  if (v.length < MIN_REGISTERED) return;
  const set = lifetime === 'token' && !lasting.has(v) ? tokens : lasting;
  // Base64 forms appear in SASL exchanges and Basic auth headers.
  for (const form of [v, Buffer.from(v).toString('base64').replace(/=+$/, '')]) {
    set.delete(form); // registered again: the newest
    set.add(form);
  }
  while (tokens.size > MAX_TOKENS) tokens.delete(tokens.values().next().value as string);
}

const SHAPES: ReadonlyArray<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[private key]'],
  // A JWT: header.payload.signature, each base64url; the header always starts with {" = eyJ.
  [/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, '[token]'],
  [/\bya29\.[A-Za-z0-9._-]+/g, '[token]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi, '$1 [secret]'],
  // base64("user=") starts every XOAUTH2 initial response.
  [/dXNlcj[A-Za-z0-9+/]{16,}={0,2}/g, '[xoauth2]'],
  [/\b(access_token|refresh_token|id_token|client_secret|client_assertion|assertion|password)(["']?\s*[=:]\s*["']?)[^\s"'&,}]+/gi, '$1$2[secret]'],
];

/** The text with every registered secret and every secret-shaped string blanked. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const set of [lasting, tokens]) for (const v of set) if (out.includes(v)) out = out.split(v).join('[secret]');
  for (const [re, by] of SHAPES) out = out.replace(re, by);
  return out;
}

/** For tests: forget what was registered. */
export function forgetSecrets(): void {
  lasting.clear();
  tokens.clear();
}
