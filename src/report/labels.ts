/**
 * The words of the HTML statistics in Swedish and English (REGULATION.md §4 C: management reads
 * the statistics in the firm's language; `klagomal report --format html --lang sv|en`). Codes
 * (categories, products, ARN states, root causes) are the firm's own ids and are shown as they
 * are; everything klagomal writes is here.
 */
import { BREACH_CAUSES } from './register';
import type { BreachCause } from './register';

export type ReportLanguage = 'sv' | 'en';
export const REPORT_LANGUAGES: readonly ReportLanguage[] = ['sv', 'en'];

export interface ReportLabels {
  readonly title: string;
  readonly outcome: Readonly<Record<string, string>>;
  readonly compliance: { readonly inTime: string; readonly late: string; readonly open: string };
  readonly milestone: Readonly<Record<string, string>>;
  readonly ageBucket: Readonly<Record<string, string>>;
  readonly breachCause: Readonly<Record<BreachCause, string>>;
  readonly kpi: {
    readonly received: string;
    readonly closed: string;
    readonly open: string;
    readonly ackMedian: string;
    readonly finalMedian: string;
    readonly inTime: string;
    readonly missed: string;
    readonly delayNotices: string;
    readonly compensation: string;
    readonly repeat: string;
    readonly repeatSub: string;
  };
  cases(n: number): string;
  holdingReplies(n: number): string;
  readonly late: string;
  readonly stillOpen: string;
  readonly charts: {
    readonly weekly: string;
    readonly weeklyTitle: string;
    readonly compliance: string;
    readonly complianceTitle: string;
    readonly outcomes: string;
    readonly outcomesTitle: string;
  };
  weekFrom(week: string, start: string): string;
  backlogNow(date: string): string;
  backlogAtEnd(date: string): string;
  openByAge(when: string): string;
  readonly total: string;
  readonly categories: string;
  readonly cols: {
    readonly category: string;
    readonly now: string;
    readonly before: string;
    readonly change: string;
    readonly deadline: string;
    readonly inTime: string;
    readonly late: string;
    readonly open: string;
    readonly rule: string;
    readonly rootCause: string;
    readonly cases: string;
    readonly actionsPlanned: string;
    readonly done: string;
  };
  readonly deadlines: string;
  readonly byRule: string;
  readonly missedByCause: string;
  readonly none: string;
  readonly customersAndOutcomes: string;
  readonly customerType: Readonly<Record<string, string>>;
  noTypeRecorded(missing: string, of: string): string;
  readonly followUp: string;
  readonly channel: string;
  readonly channels: Readonly<Record<string, string>>;
  readonly product: string;
  readonly reopened: string;
  readonly referredArn: string;
  readonly takenToCourt: string;
  readonly court: string;
  readonly rootCauses: string;
  readonly noRootCause: string;
  only(filters: string): string;
  more(n: number): string;
  period(o: { firm: string; from: string; to: string; days: number; filter: string; prevFrom: string; prevTo: string; generated: string }): string;
  footer(received: string, buckets: string): string;
  /** A rule's name (the statistics give it in English: RuleStat.label). */
  rule(r: { label: string; regime: string | null; milestone: string; policy: string }): string;
}

const EN: ReportLabels = {
  title: 'Complaints',
  outcome: {
    upheld: 'upheld',
    'partly-upheld': 'partly upheld',
    rejected: 'rejected',
    withdrawn: 'withdrawn',
    undecided: 'not decided yet',
    'not-a-complaint': 'not a complaint (FFFS 2002:23 §2)',
  },
  compliance: { inTime: 'met in time', late: 'late or overdue', open: 'open, not yet due' },
  milestone: {
    acknowledgement: 'acknowledgement',
    firstAnswer: 'first answer',
    finalAnswer: 'final answer',
    finalAnswerMax: 'final answer, latest (holding reply)',
  },
  ageBucket: {},
  // The register's own sentences (src/report/register.ts), which the JSON report gives too.
  breachCause: BREACH_CAUSES,
  kpi: {
    received: 'Received',
    closed: 'Closed in the period',
    open: 'Open',
    ackMedian: 'Acknowledged, median',
    finalMedian: 'Final answer, median',
    inTime: 'Deadlines met in time',
    missed: 'Deadlines missed',
    delayNotices: 'Delay notices',
    compensation: 'Compensation paid',
    repeat: 'Repeat complainants',
    repeatSub: 'customers with more than one case',
  },
  cases: (n) => (n === 1 ? 'case' : 'cases'),
  holdingReplies: (n) => `PSD2 holding ${n === 1 ? 'reply' : 'replies'}`,
  late: 'late',
  stillOpen: 'still open',
  charts: {
    weekly: 'Received per week, by category',
    weeklyTitle: 'Complaints received per week, by category',
    compliance: 'Deadline compliance per month received',
    complianceTitle: 'Deadlines of the cases received each month: met in time, late, open',
    outcomes: 'Outcome mix',
    outcomesTitle: 'Outcome of the cases received in the period',
  },
  weekFrom: (week, start) => `${week} (from ${start})`,
  backlogNow: (date) => `now (${date})`,
  backlogAtEnd: (date) => `at the end of ${date}`,
  openByAge: (when) => `Open ${when}, by age`,
  total: 'total',
  categories: 'Categories',
  cols: {
    category: 'category',
    now: 'now',
    before: 'before',
    change: 'change',
    deadline: 'deadline',
    inTime: 'in time',
    late: 'late',
    open: 'open',
    rule: 'rule',
    rootCause: 'root cause',
    cases: 'cases',
    actionsPlanned: 'actions planned',
    done: 'done',
  },
  deadlines: 'Deadlines',
  byRule: 'By rule (never moved by an extension)',
  missedByCause: 'Missed deadlines, by cause',
  none: 'none',
  customersAndOutcomes: 'Customers and outcomes',
  customerType: { consumer: 'consumer', business: 'business' },
  noTypeRecorded: (missing, of) => `${missing} of ${of} cases have no customer type recorded and count as consumers.`,
  followUp: 'Channels, products, ARN and court',
  channel: 'channel',
  channels: { email: 'e-mail', letter: 'letter', phone: 'phone', chat: 'chat', 'in-person': 'in person' },
  product: 'product',
  reopened: 'reopened',
  referredArn: 'referred to ARN',
  takenToCourt: 'taken to court',
  court: 'court',
  rootCauses: 'Root causes and corrective actions',
  noRootCause: 'No root cause recorded (#cause CODE) in the period.',
  only: (filters) => ` · only ${filters}`,
  more: (n) => `and ${n} more (see the JSON report)`,
  period: (o) =>
    `${o.firm} · cases received ${o.from} to ${o.to} (${o.days} days, Stockholm time)${o.filter} · compared with ${o.prevFrom} to ${o.prevTo} · generated ${o.generated} UTC`,
  footer: (received, buckets) =>
    `Received, categories, outcomes, times, deadlines and compensation: the ${received} cases received in the period, as of the report. Closed: cases closed in the period. Open: cases open at the end of the period (${buckets}). Median and p90 (nearest rank). The register, breaches case by case and the definitions: klagomal report --format csv|json.`,
  rule: (r) => r.label,
};

const SV: ReportLabels = {
  title: 'Klagomål',
  outcome: {
    upheld: 'bifallet',
    'partly-upheld': 'delvis bifallet',
    rejected: 'avslaget',
    withdrawn: 'återkallat',
    undecided: 'inte avgjort än',
    'not-a-complaint': 'inte ett klagomål (FFFS 2002:23 2 §)',
  },
  compliance: { inTime: 'i tid', late: 'försenat eller förfallet', open: 'öppet, inte förfallet' },
  milestone: {
    acknowledgement: 'bekräftelse',
    firstAnswer: 'första svar',
    finalAnswer: 'slutligt svar',
    finalAnswerMax: 'slutligt svar, senast (preliminärt svar)',
  },
  ageBucket: {
    '0-7 days': '0–7 dagar',
    '8-14 days': '8–14 dagar',
    '15-30 days': '15–30 dagar',
    '31-60 days': '31–60 dagar',
    '61-90 days': '61–90 dagar',
    'over 90 days': 'över 90 dagar',
  },
  breachCause: {
    'filed-after-deadline': 'registrerat efter tidsfristen (karantän, driftstopp eller sen import)',
    'acknowledgement-suppressed': 'ingen automatisk bekräftelse (undertryckt)',
    'send-failed': 'mejlet till kunden kunde inte skickas',
    'sent-late': 'bekräftelsen skickades för sent',
    'not-acknowledged': 'inte bekräftat i tid',
    'awaiting-customer': 'väntar på uppgifter från kunden',
    'extended-still-late': 'förlängt, och ändå inte i tid',
    'answered-late': 'besvarat efter tidsfristen',
    'no-answer': 'inget svar än',
    'extended-after-deadline': 'förlängt eller preliminärt besvarat först efter tidsfristen (överträdelsen kvarstår)',
  },
  kpi: {
    received: 'Inkomna',
    closed: 'Avslutade under perioden',
    open: 'Öppna',
    ackMedian: 'Bekräftade, median',
    finalMedian: 'Slutligt svar, median',
    inTime: 'Tidsfrister hållna',
    missed: 'Missade tidsfrister',
    delayNotices: 'Förseningsbesked',
    compensation: 'Utbetald ersättning',
    repeat: 'Återkommande klagande',
    repeatSub: 'kunder med mer än ett ärende',
  },
  cases: (n) => (n === 1 ? 'ärende' : 'ärenden'),
  holdingReplies: (n) => `preliminära ${n === 1 ? 'svar' : 'svar'} (PSD2)`,
  late: 'försenade',
  stillOpen: 'fortfarande öppna',
  charts: {
    weekly: 'Inkomna per vecka, per kategori',
    weeklyTitle: 'Inkomna klagomål per vecka, per kategori',
    compliance: 'Hållna tidsfrister per inkomstmånad',
    complianceTitle: 'Tidsfristerna för ärendena inkomna varje månad: i tid, försenade, öppna',
    outcomes: 'Utfall',
    outcomesTitle: 'Utfallet för ärendena inkomna under perioden',
  },
  weekFrom: (week, start) => `${week} (från ${start})`,
  backlogNow: (date) => `nu (${date})`,
  backlogAtEnd: (date) => `vid utgången av ${date}`,
  openByAge: (when) => `Öppna ${when}, efter ålder`,
  total: 'totalt',
  categories: 'Kategorier',
  cols: {
    category: 'kategori',
    now: 'nu',
    before: 'före',
    change: 'förändring',
    deadline: 'tidsfrist',
    inTime: 'i tid',
    late: 'försenade',
    open: 'öppna',
    rule: 'regel',
    rootCause: 'grundorsak',
    cases: 'ärenden',
    actionsPlanned: 'planerade åtgärder',
    done: 'klara',
  },
  deadlines: 'Tidsfrister',
  byRule: 'Per regel (flyttas aldrig av en förlängning)',
  missedByCause: 'Missade tidsfrister, per orsak',
  none: 'inga',
  customersAndOutcomes: 'Kunder och utfall',
  customerType: { consumer: 'konsument', business: 'företag' },
  noTypeRecorded: (missing, of) => `${missing} av ${of} ärenden har ingen registrerad kundtyp och räknas som konsumenter.`,
  followUp: 'Kanaler, produkter, ARN och domstol',
  channel: 'kanal',
  channels: { email: 'e-post', letter: 'brev', phone: 'telefon', chat: 'chatt', 'in-person': 'besök' },
  product: 'produkt',
  reopened: 'återöppnade',
  referredArn: 'anmälda till ARN',
  takenToCourt: 'till domstol',
  court: 'domstol',
  rootCauses: 'Grundorsaker och åtgärder',
  noRootCause: 'Ingen grundorsak registrerad (#cause KOD) under perioden.',
  only: (filters) => ` · endast ${filters}`,
  more: (n) => `och ${n} till (se JSON-rapporten)`,
  period: (o) =>
    `${o.firm} · ärenden inkomna ${o.from} till ${o.to} (${o.days} dagar, svensk tid)${o.filter} · jämfört med ${o.prevFrom} till ${o.prevTo} · skapad ${o.generated} UTC`,
  footer: (received, buckets) =>
    `Inkomna, kategorier, utfall, tider, tidsfrister och ersättning: de ${received} ärenden som kom in under perioden, per rapportens datum. Avslutade: ärenden avslutade under perioden. Öppna: ärenden öppna vid periodens slut (${buckets}). Median och p90 (närmaste rang). Registret, överträdelserna ärende för ärende och definitionerna: klagomal report --format csv|json.`,
  rule: (r) => {
    if (r.regime === 'psd2' && r.milestone === 'finalAnswer') return 'PSD2 15 bankdagar (slutligt svar)';
    if (r.regime === 'psd2' && r.milestone === 'finalAnswerMax') return 'PSD2 35 bankdagar (slutligt svar efter preliminärt svar)';
    if (r.regime === 'ecsp' && r.milestone === 'acknowledgement') return 'ECSP 10 bankdagar (bekräftelse)';
    if (r.label.startsWith("firm's promise")) return `företagets löfte: ${SV.milestone[r.milestone] ?? r.milestone} (${r.policy})`;
    return r.label;
  },
};

export const LABELS: Readonly<Record<ReportLanguage, ReportLabels>> = { en: EN, sv: SV };
