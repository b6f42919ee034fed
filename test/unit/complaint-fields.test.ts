/**
 * readComplaintFields (src/parse/complaint-fields.ts): what the acknowledgement asks the
 * customer to add. A miss here makes us ask a customer for something they already wrote
 * (annoying) and, worse, a false find makes us not ask for something they did not write.
 */
import { readComplaintFields } from '../../src/parse/complaint-fields';
import { COMPLAINT_ITEMS } from '../../src/config/complaint-rules';

/** The reader as the filing stage calls it, for a mail dated Wednesday 18 November 2026. */
const MAIL_DATE = new Date('2026-11-18T10:00:00+01:00');
function read(text: string, subject: string, senderName: string | null) {
  return readComplaintFields({ text, subject, senderName, senderAddress: 'kund@example.com', mailDate: MAIL_DATE });
}

const SWEDISH = `Hej,

Jag heter Karin Kund och har ett lån hos er. Den 3 november 2026 drog ni en avgift på 1 250 kr
via autogiro utan att jag hade fått någon avisering. Jag har ringt kundtjänst två gånger men
ingen har kunnat förklara varför avgiften togs ut. Jag vill att ni betalar tillbaka beloppet.

Ni når mig på 070-123 45 67.

Vänliga hälsningar
Karin Kund`;

const ENGLISH = `Dear Sir or Madam,

On March 3 you charged me a late payment fee of 250 SEK although I paid the invoice on time.
I have the bank statement showing the payment left my account two days before the due date.
I would like a refund of the fee and an explanation of why this happened.

Name: John Smith
Phone: +46 70 123 45 67`;

describe('readComplaintFields: whole complaints', () => {
  test('completeSwedishComplaintAskedForMore', () => {
    const f = read(SWEDISH, 'Felaktig avgift', 'Karin Kund');
    expect(f.contactName).toBe('Karin Kund');
    expect(f.phones).toEqual(['070-123 45 67']);
    // A fee taken by autogiro: payment-service categories win over fees, since they bring the
    // PSD2 deadlines and the earliest deadline wins (stricter, never looser).
    expect(f.category).toBe('payments');
    expect(f.incidentDateText).toBe('3 november 2026');
    expect(f.descriptionWords).toBeGreaterThanOrEqual(25);
    expect(f.compensationAsked).toBe(true);
    expect(f.amountsSek).toEqual([1250]);
    expect(f.missing).toEqual([]);
  });

  test('completeEnglishComplaintAskedForMore', () => {
    const f = read(ENGLISH, 'Late fee', null);
    expect(f.contactName).toBe('John Smith'); // from the "Name:" line of a form
    expect(f.phones).toEqual(['+46 70 123 45 67']);
    expect(f.category).toBe('payments'); // 'late payment fee ... the payment left my account'
    expect(f.incidentDateText).toBe('March 3');
    expect(f.compensationAsked).toBe(true);
    expect(f.amountsSek).toEqual([250]);
    expect(f.missing).toEqual([]);
  });

  test('emptyComplaintNotAskedForEverything', () => {
    const f = read('', '', null);
    expect(f.missing).toEqual([...COMPLAINT_ITEMS]);
    expect(f).toMatchObject({
      contactName: null,
      phones: [],
      category: 'other',
      categoryMatched: false,
      incidentDateText: null,
      incidentDate: null,
      descriptionWords: 0,
      compensationAsked: null,
      amountsSek: [],
      references: [],
      personnummerMasked: null,
      fromForm: false,
    });
  });

  test('shortComplaintAskedForWrongItems', () => {
    const f = read('Avgiften är fel.', 'Avgift', 'Karin');
    expect(f.missing).toEqual(['incidentDate', 'description', 'compensation']);
  });

  test('formSenderNameTakenForCustomer', () => {
    expect(read('Namn: Karin Kund\nÄrende: lån', '', 'Webbformulär').contactName).toBe('Karin Kund');
    expect(read('ingen namnrad', '', '  ').contactName).toBeNull();
  });
});

describe('readComplaintFields: phones', () => {
  test.each<[string, string[]]>([
    ['Ring mig på 070-123 45 67 tack', ['070-123 45 67']],
    ['Mitt nummer: +46 70 123 45 67', ['+46 70 123 45 67']],
    ['Kontoret: 08-24 30 85', ['08-24 30 85']],
    ['0701234567', ['0701234567']],
    ['070-123 45 67 eller 070-123 45 67', ['070-123 45 67']], // the same number once
    ['Lånenummer 123456789', []],
    ['Datum 2026-11-03', []],
  ])('phoneNumberMisread %p', (text, phones) => {
    expect(read(text, '', null).phones).toEqual(phones);
  });
});

describe('readComplaintFields: incident date', () => {
  test.each<[string, string | null]>([
    ['Det hände den 3 november 2026 på eftermiddagen.', '3 november 2026'],
    ['Dragningen gjordes 2026-11-03.', '2026-11-03'],
    ['Dragningen gjordes 3/11 i år.', '3/11'],
    ['Pengarna försvann igår.', 'igår'],
    ['Pengarna försvann i går.', 'i går'],
    ['It happened yesterday.', 'yesterday'],
    ['It happened on 3rd November.', '3rd November'],
    ['It happened on November 3, 2026.', 'November 3, 2026'],
    ['Den 3 nov. drogs pengarna.', '3 nov'],
    ['Inget datum alls, bara text.', null],
  ])('incidentDateMissed %p', (text, expected) => {
    expect(read(text, '', null).incidentDateText).toBe(expected);
  });

  test('dateOnlyInSubjectCountsAsIncidentDate', () => {
    // The subject is not where customers write when it happened; only the body is read for dates.
    expect(read('Avgiften är fel.', 'Avgift 2026-11-03', null).incidentDateText).toBeNull();
  });
});

describe('readComplaintFields: amounts', () => {
  test.each<[string, number[]]>([
    ['Ni drog 1 250 kr.', [1250]],
    ['Ni drog 1250 SEK.', [1250]],
    ['Ni drog 1.250:- från kontot.', [1250]],
    ['En avgift på 60 kr.', [60]],
    ['Totalt 12 500 kronor.', [12500]],
    ['Beloppet var 1 250,50 kr.', [1250.5]],
    ['Först 60 kr och sedan 1 250 kr.', [60, 1250]],
    ['Lån på 125\u00a0000 kr.', [125000]], // no-break space as thousands separator
    ['Ärende 2026 kräver svar.', []], // "kr" must be a word, not the start of "kräver"
    ['Jag har 3 krav.', []],
    ['Inga belopp här.', []],
  ])('amountMisread %p', (text, expected) => {
    expect(read(text, '', null).amountsSek).toEqual(expected);
  });
});

describe('readComplaintFields: compensation', () => {
  test.each<[string, boolean]>([
    ['Jag kräver ersättning för detta.', true],
    ['Ni måste betala tillbaka pengarna.', true],
    ['Jag vill att ni betalar tillbaka avgiften.', true],
    ['I want a refund.', true],
    ['Please reimburse me.', true],
    ['Jag vill ha pengarna tillbaka.', true],
    ['Jag vill ha återbetalning av avgiften.', true],
    ['Jag kräver att ni återbetalar beloppet.', true],
    ['Jag vill bara ha en förklaring.', false],
    ['I only want an explanation.', false],
  ])('compensationWishMissed %p', (text, expected) => {
    expect(read(text, '', null).compensationAsked === true).toBe(expected);
  });
});

describe('readComplaintFields: category', () => {
  test.each<[string, string | null]>([
    ['Ni har tagit ut en avgift jag inte känner till.', 'fees'],
    ['Avgiften är för hög.', 'fees'],
    ['Avgifterna är för höga.', 'fees'],
    ['The fees are too high.', 'fees'],
    ['Mitt ärende har gått till inkasso.', 'debt-collection'],
    ['Jag fick en påminnelseavgift fast jag betalat.', 'debt-collection'],
    ['Ni drog pengar via autogiro två gånger.', 'payments'],
    ['Överföringen kom aldrig fram.', 'payments'],
    ['Min överföring kom aldrig fram.', 'payments'],
    ['Räntan höjdes utan besked.', 'interest'],
    ['Ni höjde räntan utan besked.', 'interest'],
    ['The interest rate went up.', 'interest'],
    ['Någon har tagit ett lån i mitt namn, det är bedrägeri.', 'fraud'],
    ['Min kreditprövning var felaktig.', 'credit-decision'],
    ['Hej, jag undrar bara en sak.', 'other'],
  ])('complaintCategoryMisread %p', (text, expected) => {
    expect(read(text, '', null).category).toBe(expected);
  });

  test('categoryInSubjectIgnored', () => {
    expect(read('Se rubriken.', 'Inkasso', null).category).toBe('debt-collection');
  });
});
