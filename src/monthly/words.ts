/**
 * The monthly pack's own words in Swedish and English; the words it shares with the HTML
 * report (outcomes, milestones, breach causes, rules) are src/report/labels.ts.
 */
import type { ReportLanguage } from '../report/labels';

export interface PackWords {
  readonly subject: (firm: string, month: string) => string;
  readonly title: (month: string) => string;
  readonly intro: (firm: string, from: string, to: string, prevFrom: string, prevTo: string) => string;
  readonly monthName: (month: string) => string;
  readonly keyFigures: string;
  readonly thisMonth: string;
  readonly avgBefore: string;
  readonly received: string;
  readonly closed: string;
  readonly openAtEnd: string;
  readonly ackMedian: string;
  readonly finalMedian: string;
  readonly inTime: string;
  readonly breaches: string;
  readonly compensationPaid: string;
  readonly compensationCases: string;
  readonly compensationAsked: string;
  readonly reopened: string;
  readonly sections: {
    readonly received: string;
    readonly byCategory: string;
    readonly byProduct: string;
    readonly byChannel: string;
    readonly outcomes: string;
    readonly times: string;
    readonly breaches: string;
    readonly rootCauses: string;
    readonly repeat: string;
    readonly arn: string;
    readonly drafts: string;
  };
  readonly charts: {
    readonly receivedByMonth: string;
    readonly categoryVsAverage: string;
    readonly inTimeByMonth: string;
    readonly rules: string;
    readonly empty: string;
    readonly other: string;
  };
  readonly cols: {
    readonly what: string;
    readonly count: string;
    readonly counted: string;
    readonly inTime: string;
    readonly late: string;
    readonly metLate: string;
    readonly overdue: string;
    readonly open: string;
    readonly median: string;
    readonly p90: string;
    readonly caseNumber: string;
    readonly milestone: string;
    readonly due: string;
    readonly met: string;
    readonly cause: string;
    readonly planned: string;
    readonly done: string;
    readonly actions: string;
    readonly reference: string;
    readonly state: string;
    readonly author: string;
    readonly drafted: string;
    readonly decided: string;
    readonly waited: string;
  };
  readonly timeToAck: string;
  readonly timeToFinal: string;
  readonly repeat: (count: string, several: string, cases: string) => string;
  readonly arnReferred: string;
  /** ARN's decisions and the other states of #arn (ARN_STATES), in words; an unknown one is shown as recorded. */
  readonly arnState: Readonly<Record<string, string>>;
  readonly noneRecorded: string;
  readonly stillWaiting: string;
  readonly draftState: Readonly<Record<string, string>>;
  readonly moreBreaches: (n: number) => string;
  readonly attached: (file: string) => string;
  readonly footer: (generated: string) => string;
}

const MONTHS_SV = ['januari', 'februari', 'mars', 'april', 'maj', 'juni', 'juli', 'augusti', 'september', 'oktober', 'november', 'december'];
const MONTHS_EN = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const name = (names: readonly string[], month: string): string => `${names[Number(month.slice(5, 7)) - 1]} ${month.slice(0, 4)}`;

const SV: PackWords = {
  subject: (firm, month) => `Klagomål ${name(MONTHS_SV, month)}: månadsrapport till ledningen (${firm})`,
  title: (month) => `Klagomål ${name(MONTHS_SV, month)}`,
  intro: (firm, from, to, prevFrom, prevTo) =>
    `${firm}: ärenden inkomna ${from} – ${to}, jämförda med de tolv månaderna före (${prevFrom} – ${prevTo}). Siffrorna är desamma som i klagomal report för samma månad.`,
  monthName: (month) => name(MONTHS_SV, month),
  keyFigures: 'Nyckeltal',
  thisMonth: 'Månaden',
  avgBefore: 'Snitt 12 mån före',
  received: 'Inkomna',
  closed: 'Avslutade under månaden',
  openAtEnd: 'Öppna vid månadens slut',
  ackMedian: 'Tid till bekräftelse, median (h)',
  finalMedian: 'Tid till slutligt svar, median (dagar)',
  inTime: 'Tidsfrister hållna (av avgjorda)',
  breaches: 'Missade tidsfrister',
  compensationPaid: 'Utbetald ersättning',
  compensationCases: 'Ärenden med utbetald ersättning',
  compensationAsked: 'Ärenden där kunden begärde ersättning',
  reopened: 'Återöppnade ärenden',
  sections: {
    received: 'Inkomna',
    byCategory: 'Per kategori',
    byProduct: 'Per produkt',
    byChannel: 'Per kanal',
    outcomes: 'Utfall och ersättning',
    times: 'Tid till bekräftelse och slutligt svar mot varje regel',
    breaches: 'Missade tidsfrister och orsaker',
    rootCauses: 'Grundorsaker och åtgärder',
    repeat: 'Återkommande klagande',
    arn: 'Ärenden hos ARN',
    drafts: 'Slutliga svar som väntade längst på godkännande',
  },
  charts: {
    receivedByMonth: 'Inkomna per månad, per kategori (månaden och de tolv före)',
    categoryVsAverage: 'Per kategori: månaden mot snittet av de tolv före',
    inTimeByMonth: 'Tidsfrister per inkomstmånad: i tid, försenade, öppna',
    rules: 'Andel i tid per regel (PSD2, ECSP, företagets löfte)',
    empty: 'inga ärenden',
    other: 'övriga',
  },
  cols: {
    what: '',
    count: 'Antal',
    counted: 'Räknade',
    inTime: 'I tid',
    late: 'Sena',
    metLate: 'Sent uppfyllda',
    overdue: 'Förfallna',
    open: 'Öppna',
    median: 'Median',
    p90: 'p90',
    caseNumber: 'Ärende',
    milestone: 'Tidsfrist',
    due: 'Förföll',
    met: 'Uppfylld',
    cause: 'Orsak',
    planned: 'Planerade',
    done: 'Klara',
    actions: 'Åtgärder',
    reference: 'ARN-nummer',
    state: 'Läge',
    author: 'Författare',
    drafted: 'Utkast',
    decided: 'Beslut',
    waited: 'Väntade (h)',
  },
  timeToAck: 'Tid till bekräftelse (timmar)',
  timeToFinal: 'Tid till slutligt svar (dagar)',
  repeat: (count, several, cases) => `${count} kunder med mer än ett ärende (${several} med flera under månaden, ${cases} ärenden under månaden).`,
  arnReferred: 'Anmälda till ARN',
  arnState: {
    received: 'mottaget av ARN',
    upheld: 'bifall (till kunden)',
    'partly-upheld': 'delvis bifall',
    rejected: 'avslag (till oss)',
    dismissed: 'avvisat',
    withdrawn: 'återkallat',
  },
  noneRecorded: 'Inget registrerat.',
  stillWaiting: 'väntar',
  draftState: { pending: 'väntar', approved: 'godkänt', returned: 'återsänt', replaced: 'ersatt' },
  moreBreaches: (n) => `… och ${n} till (se registret i bilagan)`,
  attached: (file) => `Registret för månaden är bifogat som ${file} (innehåller personuppgifter: hanteras enligt företagets regler).`,
  footer: (generated) => `Skapad av klagomal ${generated} (UTC).`,
};

const EN: PackWords = {
  subject: (firm, month) => `Complaints ${name(MONTHS_EN, month)}: monthly management pack (${firm})`,
  title: (month) => `Complaints ${name(MONTHS_EN, month)}`,
  intro: (firm, from, to, prevFrom, prevTo) =>
    `${firm}: cases received ${from} – ${to}, against the twelve months before (${prevFrom} – ${prevTo}). The figures are klagomal report's for the same month.`,
  monthName: (month) => name(MONTHS_EN, month),
  keyFigures: 'Key figures',
  thisMonth: 'The month',
  avgBefore: 'Average of 12 before',
  received: 'Received',
  closed: 'Closed in the month',
  openAtEnd: 'Open at the end of the month',
  ackMedian: 'Time to acknowledgement, median (h)',
  finalMedian: 'Time to final answer, median (days)',
  inTime: 'Deadlines met in time (of those decided)',
  breaches: 'Deadlines missed',
  compensationPaid: 'Compensation paid',
  compensationCases: 'Cases with compensation paid',
  compensationAsked: 'Cases where the customer asked for compensation',
  reopened: 'Cases reopened',
  sections: {
    received: 'Received',
    byCategory: 'By category',
    byProduct: 'By product',
    byChannel: 'By channel',
    outcomes: 'Outcomes and compensation',
    times: 'Time to acknowledgement and final answer against each rule',
    breaches: 'Deadlines missed and their causes',
    rootCauses: 'Root causes and corrective actions',
    repeat: 'Repeat complainants',
    arn: 'Cases at ARN',
    drafts: 'Final answers that waited longest for approval',
  },
  charts: {
    receivedByMonth: 'Received per month, by category (the month and the twelve before)',
    categoryVsAverage: 'By category: the month against the average of the twelve before',
    inTimeByMonth: 'Deadlines per month received: in time, late, open',
    rules: 'Share in time per rule (PSD2, ECSP, the firm’s promise)',
    empty: 'no cases',
    other: 'other',
  },
  cols: {
    what: '',
    count: 'Count',
    counted: 'Counted',
    inTime: 'In time',
    late: 'Late',
    metLate: 'Met late',
    overdue: 'Overdue',
    open: 'Open',
    median: 'Median',
    p90: 'p90',
    caseNumber: 'Case',
    milestone: 'Deadline',
    due: 'Due',
    met: 'Met',
    cause: 'Cause',
    planned: 'Planned',
    done: 'Done',
    actions: 'Actions',
    reference: 'ARN reference',
    state: 'State',
    author: 'Author',
    drafted: 'Drafted',
    decided: 'Decided',
    waited: 'Waited (h)',
  },
  timeToAck: 'Time to acknowledgement (hours)',
  timeToFinal: 'Time to final answer (days)',
  repeat: (count, several, cases) => `${count} customers with more than one case (${several} with several in the month, ${cases} cases in the month).`,
  arnReferred: 'Referred to ARN',
  arnState: {
    received: 'received by ARN',
    upheld: 'upheld (for the customer)',
    'partly-upheld': 'partly upheld',
    rejected: 'rejected (for us)',
    dismissed: 'dismissed',
    withdrawn: 'withdrawn',
  },
  noneRecorded: 'None recorded.',
  stillWaiting: 'waiting',
  draftState: { pending: 'waiting', approved: 'approved', returned: 'returned', replaced: 'replaced' },
  moreBreaches: (n) => `… and ${n} more (see the register attached)`,
  attached: (file) => `The month's register is attached as ${file} (it holds personal data: handle it by the firm's rules).`,
  footer: (generated) => `Made by klagomal ${generated} (UTC).`,
};

export const PACK_WORDS: Readonly<Record<ReportLanguage, PackWords>> = { sv: SV, en: EN };
