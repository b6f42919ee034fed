/**
 * A parsed mail with its personnummer masked, before anything derived from it is stored or sent
 * (GDPR art. 5(1)(c), dataskyddslagen 3 kap. 10 §: shown as little as possible). The raw mail
 * keeps the original; the recogniser and the mask are src/util/personnummer.ts.
 */
import type { MailAddress, ParsedMail } from './parse';
import { maskPersonnummer } from '../util/personnummer';

/**
 * A parsed mail with every text that is stored or sent from it masked: the subject, the body,
 * every display name (From, Reply-To, To, Cc), attachment file names, the forwarded original
 * and the problems noticed. Addresses, Message-IDs and the raw headers (which the classifier
 * reads, and which are not stored apart from the raw mail) are left as they are.
 */
export function maskMail(mail: ParsedMail, today: Date): ParsedMail {
  const m = (s: string): string => maskPersonnummer(s, today);
  const address = <A extends MailAddress | null>(a: A): A => (a ? ({ ...a, name: m(a.name) } as A) : a);
  const fwd = mail.forwarded;
  return {
    ...mail,
    subject: m(mail.subject),
    text: m(mail.text),
    from: address(mail.from),
    fromName: mail.fromName === null ? null : m(mail.fromName),
    replyTo: address(mail.replyTo),
    to: mail.to.map(address),
    cc: mail.cc.map(address),
    attachments: mail.attachments.map((a) => (a.filename === null ? a : { ...a, filename: m(a.filename) })),
    forwarded: fwd
      ? {
          ...fwd,
          from: address(fwd.from),
          subject: fwd.subject === null ? null : m(fwd.subject),
          dateText: fwd.dateText === null ? null : m(fwd.dateText),
          text: m(fwd.text),
        }
      : fwd,
    problems: mail.problems.map(m),
  };
}
