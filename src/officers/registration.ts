/**
 * After a `#register` mail (src/parse/registration.ts): a complaint registered with a postal
 * address only gets its acknowledgement as a letter for the officer to print and post
 * (src/reply/acknowledge.ts queueAcknowledgementLetter; `#sent-by-post` records the posting); a
 * registration that could not be read is filed as the officer's own mail (nothing is lost) and
 * the officer gets the problems in their language, to correct and send again.
 */
import type { FiledMail, FilingContext } from '../cases/filing';
import { caseTag } from '../classify/thread';
import { buildMail } from '../reply/mail';
import { queueAcknowledgementLetter } from '../reply/acknowledge';
import { officerByAddress, officerLanguage } from './notify';

export function actOnRegistration(ctx: FilingContext, filed: FiledMail, now: Date): void {
  const { store, config } = ctx;
  const c = filed.classification;
  if (c.kind !== 'complaint') return;
  if (c.registered && filed.complaint && !c.registered.registration.email && c.registered.registration.postal) {
    const g = c.registered.registration;
    queueAcknowledgementLetter(ctx, filed.complaint, { officer: c.registered.by, name: g.name, postal: g.postal!, inReplyTo: filed.mail.messageId }, now);
  }
  if (c.registrationProblems?.length && filed.result.caseId !== null) {
    const kase = store.caseById(filed.result.caseId)!;
    const sender = filed.mail.from?.address ?? '';
    const officer = officerByAddress(config, sender);
    const lang = officerLanguage(officer, config);
    const sv = lang === 'sv';
    const firstLine =
      filed.newText
        .split('\n')
        .find((l) => l.trim() !== '')
        ?.trim() ?? '#register';
    store.enqueue(
      buildMail(
        {
          kind: 'officer-command-result',
          caseId: kase.id,
          caseNumber: kase.number,
          language: lang,
          to: sender,
          data: {
            firm: { name: config.firm.name, complaintsAddress: config.firm.complaintsAddress },
            case: { number: kase.number, tag: caseTag(kase.number) },
            recipient: { name: officer?.name ?? filed.mail.from?.name ?? sender },
            done: [],
            errors: [
              ...c.registrationProblems.map((problem) => ({ lineNumber: 1, line: firstLine, problem })),
              {
                lineNumber: 1,
                line: firstLine,
                problem: sv
                  ? `ärendet ${kase.number} öppnades med dig som avsändare, så att inget försvinner: rätta uppgifterna och skicka #register igen, och stäng ${kase.number} med #inadmissible registreringsfel`
                  : `case ${kase.number} was opened with you as the sender, so that nothing is lost: correct the details and send #register again, and close ${kase.number} with #inadmissible registration error`,
              },
            ],
            hasErrors: true,
            note: null,
          },
          idempotencyKey: `registration-problems:${filed.inbound.id}`,
          inReplyTo: filed.mail.messageId,
          now,
        },
        ctx.templates,
        config,
      ),
    );
  }
}
