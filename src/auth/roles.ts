/**
 * The application permissions an app-only Microsoft token carries: Entra ID lists them in the
 * token's `roles` claim (IMAP.AccessAsApp, SMTP.SendAsApp, Mail.Send). Read without checking
 * the signature: only to tell an admin which permission is missing before the server refuses.
 */
export function tokenRoles(token: string): string[] | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : null;
  } catch {
    return null;
  }
}
