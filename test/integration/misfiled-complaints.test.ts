/**
 * Genuine complaints that were not opened as cases, through the real binary: one that complains
 * about automatic replies was thrown away as an auto-reply, and a stranger's complaint threaded
 * on a public Message-ID of another customer's case was merged into that case, unacknowledged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeWorld, World, complaintMail } from '../support/world';

describe('complaints that must become cases', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.cleanup());

  async function ingest(raw: string): Promise<{ kind: string; action: string; caseId?: string; reason: string }> {
    const file = path.join(w.dir, `m-${Math.random().toString(36).slice(2)}.eml`);
    fs.writeFileSync(file, raw);
    const r = await w.cli(['ingest', '--json', file]);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  test('complaintAboutAutomaticRepliesThrownAwayAsAnAutoReply', async () => {
    const about = await ingest(
      complaintMail(2, {
        subject: 'Klagomål – jag får bara automatiskt svar',
        body: 'Hej! Jag har mejlat er tre gånger och bara fått ett automatiskt svar. Jag är missnöjd och vill ha pengarna tillbaka.',
      }),
    );
    expect(about.kind).toBe('complaint');
    expect(about.caseId).toMatch(/^KLG-/);
    const forwarded = await ingest(
      complaintMail(3, {
        subject: 'VB: Automatiskt svar: Reklamation av dammsugare',
        body:
          'Hej, jag fick svaret nedan. Dammsugaren jag köpte 2 nov är trasig, jag vill reklamera den.\n\nFrån: Olle Säljare <olle@testfinans.se>\n' +
          'Skickat: den 18 november 2026\nÄmne: Automatiskt svar: Reklamation av dammsugare\n\nJag är på semester till 30 november.',
      }),
    );
    expect(forwarded.kind).toBe('complaint');
    // A real out-of-office reply is still one.
    const away = await ingest(
      complaintMail(4, { subject: 'Automatiskt svar: Klagomål nummer 4', body: 'Jag är på semester till den 30 november och läser inte min e-post.' }),
    );
    expect(away.kind).toBe('autoreply');
  });

  test('strangerThreadedOnAPublicMessageIdMergedIntoAnotherCustomersCase', async () => {
    const anna = await ingest(complaintMail(1, { from: 'Anna <anna@example.com>', messageId: 'anna-1@example.com', subject: 'Klagomål' }));
    const list = await ingest(
      complaintMail(13, {
        from: 'Forum <forum@lists.example.org>',
        messageId: 'list-1@lists.example.org',
        subject: 'Re: Klagomål',
        headers: ['List-Id: <konsument.lists.example.org>', 'In-Reply-To: <anna-1@example.com>', 'References: <anna-1@example.com>'],
      }),
    );
    expect(list.kind).toBe('bulk');
    const stranger = await ingest(
      complaintMail(14, {
        subject: 'Re: Klagomål',
        headers: ['In-Reply-To: <list-1@lists.example.org>', 'References: <anna-1@example.com> <list-1@lists.example.org>'],
        body: 'Samma sak hände mig! Jag vill också klaga: 60 kr orimlig avgift, jag vill ha pengarna tillbaka.',
      }),
    );
    expect(stranger.kind).toBe('complaint');
    expect(stranger.caseId).not.toBe(anna.caseId);
    // Anna herself, replying in her own thread, still follows up on her case.
    const again = await ingest(
      complaintMail(1, { from: 'Anna <anna@example.com>', subject: 'Re: Klagomål', headers: ['In-Reply-To: <anna-1@example.com>'], body: 'Hej igen.' }),
    );
    expect(again).toMatchObject({ kind: 'followup', caseId: anna.caseId });
  });
});
