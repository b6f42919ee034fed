/**
 * What an SMTP server's replies mean for a mail of ours: the send error and its class (RFC 5321
 * §4.2.1: 4yz transient, 5yz permanent), a refused login in the words of the mailbox's admin,
 * whether a refusal says the customer's address itself is bad, and the result of a send the
 * server took for some recipients only. Apart from src/reply/transport.ts, which sends.
 */
import type { SmtpTransportConfig } from '../config/config';
import type { OutboxRow } from '../store/store';
import { redactSecrets } from '../util/secrets';

export class SendError extends Error {
  constructor(
    message: string,
    readonly temporary: boolean,
    readonly responseCode?: number,
    /**
     * Whether the server took the mail cannot be known (the transport's thread died while the
     * mail was out): the sender records nothing, and the mail goes again when its lease runs
     * out, as after a crash of the process (or after the retry delay, if later; failed after
     * outbox.giveUpAfterHours).
     */
    readonly inDoubt = false,
    /**
     * The server refused the customer's address at RCPT TO (RFC 5321 §3.3) for the address
     * itself: a 5yz reply whose enhanced status code is about the destination (RFC 3463: 5.1.1
     * no such mailbox, 5.1.2 no such system, 5.1.3 bad syntax, 5.1.6 moved, 5.1.10 null MX; not
     * 5.1.0/5.1.7/5.1.8 or "Sender address rejected", which are about our sender; badAddressReply).
     * The sender marks a customer's address failing on it, as after a permanent bounce. Never
     * for a policy refusal (5.7.x: relay denied, sender or client rejected, authentication
     * required), a full mailbox (5.2.x), a system or network status (5.3.x, 5.4.x), or a
     * reply without an enhanced code: those say nothing about the address.
     */
    readonly badAddress = false,
    /** Copies (Cc) the server took while it refused the customer: the sender records them, and later attempts leave them out. */
    readonly copiesAccepted: readonly string[] = [],
  ) {
    super(redactSecrets(message));
    this.name = 'SendError';
  }
}

export interface SendResult {
  readonly response: string;
  /**
   * Copies (Cc) the server refused while it took the mail for the customer: each as
   * "address: the server's reply". The mail counts as sent; the sender records these with it.
   */
  readonly refused?: readonly string[];
}

export interface NodemailerError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  /** The SMTP command the server refused ('RCPT TO' for a recipient). */
  command?: string;
}

/**
 * What to do about a refused OAuth2 login, in the words of the mailbox's admin. Exchange
 * Online answers 5.7.139 when SMTP AUTH is off for the mailbox or the tenant; 5.7.3 or 5.7.8
 * when the token is not good for the mailbox.
 */
export function smtpOAuth2Fix(cfg: Pick<SmtpTransportConfig, 'auth' | 'user'>, text: string): string {
  const provider = cfg.auth?.provider;
  if (provider === 'microsoft') {
    if (/5\.7\.139|SmtpClientAuthentication is disabled|disabled for the (Tenant|Mailbox)/i.test(text))
      return `Exchange Online has SMTP AUTH switched off: turn it on for the mailbox only (Set-CASMailbox -Identity ${cfg.user} -SmtpClientAuthenticationDisabled $false) and check the tenant's setting (Set-TransportConfig -SmtpClientAuthenticationDisabled), or use transport.type "graph"`;
    return `Exchange Online refused the token for ${cfg.user}: the app needs the SMTP.SendAsApp permission (Office 365 Exchange Online, admin consent granted) and its service principal needs SendAs or FullAccess on the mailbox (Add-MailboxPermission -Identity ${cfg.user} -User <service principal id> -AccessRights FullAccess), and SMTP AUTH must be on for the mailbox`;
  }
  if (provider === 'google')
    return `Gmail refused the token for ${cfg.user}: the scope https://mail.google.com/ must be in the service account's domain-wide delegation, and ${cfg.user} must be an active user`;
  return `the SMTP server refused the token for ${cfg.user}: check what the server expects of the token (audience, scope) and its log`;
}

/**
 * Whether a reply refusing a recipient says the address itself is bad (SendError.badAddress): a
 * 5yz reply whose enhanced status code (RFC 2034, RFC 3463 §3.2) is 5.1.x, as in
 * "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown" or Gmail's
 * "550-5.1.1 The email account that you tried to reach does not exist".
 */
export function badAddressReply(code: number | undefined, response: string | undefined): boolean {
  if (code === undefined || code < 500 || code > 599) return false;
  const m = /^\s*(\d{3})[ -](\d)\.(\d{1,3})\.(\d{1,3})(?![\d.])/.exec(response ?? '');
  // Of the 5.1.x codes only those about the destination (RFC 3463 §3.2; RFC 7505 5.1.10): 5.1.7
  // and 5.1.8 are about our sender address, and Postfix gives its sender refusals at RCPT TO
  // (smtpd_delay_reject), also as 5.1.0 "Sender address rejected": a misconfigured From would
  // mark every customer.
  return (
    m !== null &&
    Number(m[1]) === code &&
    m[2] === '5' &&
    m[3] === '1' &&
    ['1', '2', '3', '6', '10'].includes(m[4]) &&
    !/sender address|sender domain|mail from/i.test(response ?? '')
  );
}

export function classifySmtpError(err: unknown, cfg?: Pick<SmtpTransportConfig, 'auth' | 'user' | 'passwordEnv'>): SendError {
  const e = err as NodemailerError;
  const code = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  const text = redactSecrets((e?.response || e?.message || String(err)).replace(/\s+/g, ' ')).slice(0, 500);
  if (e?.code === 'EAUTH' && cfg?.auth) {
    // The token could not be had at all (the token endpoint refused), or SMTP refused it.
    if (/token endpoint|token program|Google refused|delegation|not set in the environment|cannot read/i.test(text))
      return new SendError(`SMTP login failed: no token: ${text}`, true, code);
    return new SendError(`SMTP login failed: ${smtpOAuth2Fix(cfg, text)}: ${text}`, true, code);
  }
  if (e?.code === 'EAUTH') return new SendError(`SMTP login failed (check transport.user and transport.passwordEnv): ${text}`, true, code);
  const badAddress = e?.command === 'RCPT TO' && badAddressReply(code, e.response);
  if (code !== undefined && code >= 500 && code < 600) return new SendError(text, false, code, false, badAddress);
  return new SendError(text, true, code, false, false);
}

/**
 * A send nodemailer failed because the server refused every recipient (a customer with a copy
 * to the representative, both refused): classified by the customer's own refusal. nodemailer
 * reports one of the replies (a temporary one if any, else the last: the copy's), so the copy's
 * "550 5.1.1" would mark the customer's address failing when the customer's own reply was a
 * policy refusal, and the other way round.
 */
export function customerRefusal(row: Pick<OutboxRow, 'to_address'>, err: unknown): unknown {
  const errors = (err as { rejectedErrors?: RecipientRefusal[] })?.rejectedErrors;
  if (!Array.isArray(errors) || errors.length < 2) return err;
  return refusalOf(errors, row.to_address) ?? err;
}

/** nodemailer's refusal of one recipient (rejectedErrors). */
type RecipientRefusal = NodemailerError & { recipient?: string };

/** The refusal of `address` among nodemailer's rejectedErrors, compared without regard to case. */
function refusalOf(errors: readonly RecipientRefusal[] | undefined, address: string): RecipientRefusal | undefined {
  return errors?.find((e) => e.recipient?.toLowerCase() === address.toLowerCase());
}

/** What nodemailer reports for a mail the server took for at least one recipient. */
export interface AcceptedInfo {
  response?: string;
  accepted?: string[];
  envelope?: { to?: string[] };
  rejected?: string[];
  rejectedErrors?: RecipientRefusal[];
}

/**
 * The result of a send nodemailer reports as done. nodemailer fails a send only when every
 * recipient is refused; a mail with a copy to the customer's representative (Cc) is taken when
 * either address is. The server delivers only to the recipients whose RCPT TO it accepted
 * (RFC 5321 §3.3), so a refusal of the customer's address means the customer does not get the
 * mail: it fails the send as a refusal of a mail to the customer alone does, classified by its
 * code (RFC 5321 §4.2.1: 4yz transient, tried again; 5yz permanent). A refused Cc alone does
 * not: the customer has the mail; the refusal is returned with the result.
 */
export function acceptedResult(
  row: Pick<OutboxRow, 'to_address'>,
  info: AcceptedInfo,
  cfg?: Pick<SmtpTransportConfig, 'auth' | 'user' | 'passwordEnv'>,
): SendResult {
  const response = String(info.response ?? 'accepted');
  const rejected = info.rejected ?? [];
  if (rejected.length === 0) return { response };
  // The customer is the envelope's first recipient (mailOptions), in nodemailer's own spelling.
  const customer = info.envelope?.to?.[0] ?? row.to_address;
  const isCustomer = (address: string | undefined): boolean => address !== undefined && address.toLowerCase() === customer.toLowerCase();
  if (rejected.some(isCustomer)) {
    const e = classifySmtpError(refusalOf(info.rejectedErrors, customer) ?? new Error('the server refused the recipient'), cfg);
    throw new SendError(
      `${e.message} (the customer's address was refused; the copy to the other recipients was accepted)`,
      e.temporary,
      e.responseCode,
      false,
      e.badAddress,
      (info.accepted ?? []).filter((a) => !isCustomer(a)),
    );
  }
  const said = (address: string): string => {
    const err = refusalOf(info.rejectedErrors, address);
    return `${address}: ${redactSecrets((err?.response || err?.message || 'refused').replace(/\s+/g, ' ')).slice(0, 300)}`;
  };
  return { response, refused: rejected.map(said) };
}
