/**
 * The validated configuration. A `Config` only comes out of `loadConfig` (src/config/load.ts),
 * which checks every key and reports all problems at once; the rest of the program can
 * trust every field here. Defaults are documented next to each field and in the README.
 */
import type { Policy } from '../deadlines/policy';
import type { ComplaintRules } from './complaint-rules';

export type Language = 'sv' | 'en';
export const LANGUAGES: readonly Language[] = ['sv', 'en'];

export type TlsMode = 'implicit' | 'starttls' | 'none';
export const TLS_MODES: readonly TlsMode[] = ['implicit', 'starttls', 'none'];

/** The OAuth2 token services a mailbox login can use (src/auth/). */
export type OAuth2Provider = 'microsoft' | 'google' | 'generic' | 'command';
export const OAUTH2_PROVIDERS: readonly OAuth2Provider[] = ['microsoft', 'google', 'generic', 'command'];

/**
 * Microsoft 365 (Entra ID) app-only client credentials: no person signs in. The app's secret or
 * certificate comes from the environment; the token's scope is Exchange Online's
 * (`https://outlook.office365.com/.default`), or Microsoft Graph's for the `graph` transport.
 */
export interface MicrosoftOAuth2 {
  readonly type: 'oauth2';
  readonly provider: 'microsoft';
  /** The directory (tenant) id, a GUID, or the tenant's domain. */
  readonly tenantId: string;
  /** The app registration's application (client) id. */
  readonly clientId: string;
  /** Environment variable holding the client secret; or give the certificate below. */
  readonly clientSecretEnv: string | null;
  /** Environment variable holding the path of a PEM file with the certificate's private key (and the certificate). */
  readonly certificateFileEnv: string | null;
  /** The certificate's thumbprint as Entra shows it (SHA-1, 40 hex digits) or its SHA-256 (64). */
  readonly certificateThumbprint: string | null;
  /** Where tokens come from (default "https://login.microsoftonline.com"; national clouds have their own). */
  readonly authorityHost: string;
  /** Default "https://outlook.office365.com/.default" (IMAP and SMTP AUTH); "https://graph.microsoft.com/.default" for the graph transport. */
  readonly scope: string;
}

/** Google Workspace: a service account with domain-wide delegation acting as the mailbox (`user`). */
export interface GoogleOAuth2 {
  readonly type: 'oauth2';
  readonly provider: 'google';
  /** Environment variable holding the path of the service account's JSON key file. */
  readonly serviceAccountKeyFileEnv: string;
  /** Default "https://mail.google.com/" (the one scope Gmail's IMAP and SMTP accept). */
  readonly scope: string;
  /** Google's token endpoint (default "https://oauth2.googleapis.com/token"). */
  readonly tokenUrl: string;
}

/** Client credentials (RFC 6749 §4.4) against any OAuth2 server: Keycloak, a firm's own. */
export interface GenericOAuth2 {
  readonly type: 'oauth2';
  readonly provider: 'generic';
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecretEnv: string;
  /** Space-separated scopes; null = none asked for (the server's default). */
  readonly scope: string | null;
}

/** A program that prints a token (for firms that keep secrets in a vault of their own). */
export interface CommandOAuth2 {
  readonly type: 'oauth2';
  readonly provider: 'command';
  /** The program and its arguments, run without a shell. */
  readonly command: readonly string[];
}

export type OAuth2Config = MicrosoftOAuth2 | GoogleOAuth2 | GenericOAuth2 | CommandOAuth2;

export interface MaildirSourceConfig {
  readonly type: 'maildir';
  /** Name used in logs, status and the stored cursor. Must be unique. */
  readonly name: string;
  /** The Maildir folder (with new/, cur/, tmp/); created if missing. */
  readonly path: string;
  /** Rescan interval in seconds as a safety net behind fs.watch (default 5). */
  readonly pollSeconds: number;
}

export interface ImapSourceConfig {
  readonly type: 'imap';
  readonly name: string;
  readonly host: string;
  /** Default 993 with tls "implicit", else 143. */
  readonly port: number;
  /** "implicit" (IMAPS), "starttls" (required upgrade) or "none" (plain, for 127.0.0.1 only). Default "implicit". */
  readonly tls: TlsMode;
  /** Verify the server certificate (default true). */
  readonly tlsRejectUnauthorized: boolean;
  /** The login name: the mailbox itself (for OAuth2, the mailbox the token acts for). */
  readonly user: string;
  /** Name of the environment variable that holds the password (secrets never live in the config file); null with `auth`. */
  readonly passwordEnv: string | null;
  /** OAuth2 instead of a password (exactly one of `passwordEnv` and `auth` is set). */
  readonly auth: OAuth2Config | null;
  /** Folder to watch (default "INBOX"). */
  readonly mailbox: string;
  /**
   * The shared mailbox's Sent folder ("Sent", "Skickat", "Sent Items"), also watched: an
   * officer's reply sent from the shared mailbox is recorded on its case. Only mail saved
   * there after the first look is read; nothing in it is flagged or moved (default null).
   */
  readonly sentFolder: string | null;
  /** Where filed mail is moved; null = only flag it \Seen and leave it (default null). */
  readonly processedFolder: string | null;
  /** Use IMAP IDLE when the server offers it (default true). */
  readonly idle: boolean;
  /** Polling interval in seconds; the only trigger without IDLE, a safety net with it (default 60). */
  readonly pollSeconds: number;
  /** Messages fetched per FETCH command (default 200). */
  readonly fetchBatchSize: number;
}

export type SourceConfig = MaildirSourceConfig | ImapSourceConfig;

export interface PickupTransportConfig {
  readonly type: 'pickup';
  /** Folder that receives one .eml file per outgoing mail. */
  readonly path: string;
}

export interface SmtpTransportConfig {
  readonly type: 'smtp';
  readonly host: string;
  /** Default 465 with tls "implicit", 587 with "starttls", 25 with "none". */
  readonly port: number;
  readonly tls: TlsMode;
  readonly tlsRejectUnauthorized: boolean;
  /** SMTP user; null = no authentication (default null). */
  readonly user: string | null;
  /** Environment variable with the SMTP password; required when `user` is set without `auth`. */
  readonly passwordEnv: string | null;
  /** OAuth2 (SASL XOAUTH2) instead of a password; needs `user`. */
  readonly auth: OAuth2Config | null;
  /** Parallel SMTP connections (default 3). */
  readonly maxConnections: number;
}

/**
 * Microsoft Graph `sendMail` with our finished MIME message (for tenants with SMTP AUTH off):
 * app-only, the app needs the `Mail.Send` application permission (limited to the complaints
 * mailbox by an application access policy).
 */
export interface GraphTransportConfig {
  readonly type: 'graph';
  /** The mailbox that sends (our From address). */
  readonly user: string;
  /** Microsoft client credentials; the scope is Graph's. */
  readonly auth: MicrosoftOAuth2;
  /** Default "https://graph.microsoft.com" (national clouds have their own). */
  readonly endpoint: string;
}

export type TransportConfig = PickupTransportConfig | SmtpTransportConfig | GraphTransportConfig;

export type ApprovalScope = 'none' | 'rejections' | 'all';
export const APPROVAL_SCOPES: readonly ApprovalScope[] = ['none', 'rejections', 'all'];

export type OfficerRole = 'officer' | 'manager';
export const OFFICER_ROLES: readonly OfficerRole[] = ['officer', 'manager'];

export interface Officer {
  readonly name: string;
  readonly address: string;
  readonly role: OfficerRole;
  /** Languages the officer handles complaints in; their mail from us is in the first (default ["sv", "en"]). */
  readonly languages: readonly Language[];
  /** Complaint categories the officer takes; [] = any (default []). */
  readonly categories: readonly string[];
  /** Takes new cases (default true); false keeps them on their cases but out of the round. */
  readonly available: boolean;
}

export interface EscalationConfig {
  /** Run escalation passes and digests at all (default true). */
  readonly enabled: boolean;
  /** node-cron expression for the escalation pass (default every 5 minutes). */
  readonly schedule: string;
  /** Warn the contact person this many business days before a day-based deadline (default [2, 1]). */
  readonly warnBusinessDays: readonly number[];
  /** Warn the contact person this many hours before an hour-based deadline (default [4]). */
  readonly warnHours: readonly number[];
  /** Notify the manager this many business days before a day-based deadline (default 1); the manager is always told of a breach. */
  readonly managerBusinessDays: number;
  /** Local time (Europe/Stockholm) of the manager's daily digest, "HH:MM", or null for none (default "07:30"). */
  readonly digestTime: string | null;
  /** A notice sent this many minutes after its moment says it is late (default 15). */
  readonly lateAfterMinutes: number;
}

export interface DeadlinesConfig {
  /** Policies that apply to every case, by name (default ["promise-24h-14d"]). */
  readonly policies: readonly string[];
  /** Extra policies by complaint category (default {"payments": ["psd2"]}). */
  readonly byCategory: Readonly<Record<string, readonly string[]>>;
  /** Every policy that can be named: the presets and the firm's own ("custom"). */
  readonly definitions: Readonly<Record<string, Policy>>;
  /** Days the firm is closed besides Swedish holidays, "YYYY-MM-DD" (default []). */
  readonly extraClosedDates: readonly string[];
  readonly escalation: EscalationConfig;
  /** Short hash of the deadline configuration, stored with every computed deadline. */
  readonly version: string;
  /** Who approved the deadline policy and the date (YYYY-MM-DD); null when not given. Kept with the version. */
  readonly approvedBy: string | null;
  readonly approvedAt: string | null;
  /** The deadline policy as hashed into `version` (kept in config_versions when first used). */
  readonly text: string;
}

export type MailPlatform = 'own' | 'microsoft365' | 'google';
export const MAIL_PLATFORMS: readonly MailPlatform[] = ['own', 'microsoft365', 'google'];

export interface Config {
  /** Absolute path of the file this was read from (for error messages). */
  readonly file: string;
  readonly firm: {
    readonly name: string;
    /** The complaints address customers write to; also our From address. */
    readonly complaintsAddress: string;
    /** Display name on our outgoing mail (default "<firm name> Klagomål"). */
    readonly fromName: string;
    /** Domain used in our Message-IDs (default: the complaints address's domain). */
    readonly messageIdDomain: string;
    /** Staff addresses and whole domains (lower case). */
    readonly staffAddresses: readonly string[];
    readonly staffDomains: readonly string[];
    /** Web form senders whose Reply-To is the customer (default []). */
    readonly formAddresses: readonly string[];
    /** Who is told when the templates are broken (default: the first manager; null = nobody, log only). */
    readonly adminAddress: string | null;
    /** Links to a case in mails ({{caseLink case.number}}): this base plus the case number (default "": none). */
    readonly caseLinkBase: string;
    /**
     * authserv-ids of the firm's own receiving servers (RFC 8601): only their
     * Authentication-Results headers count when a staff From is checked (default []).
     */
    readonly authservIds: readonly string[];
    /**
     * Believe a staff From without checking authentication (default false). For test
     * installs only: anyone can write a staff address into From. Logged loudly at start.
     */
    readonly trustStaffFrom: boolean;
    /**
     * Where the firm's own mail is hosted (default "own"): "microsoft365" trusts Exchange
     * Online's internal-mail stamps for the firm's tenant, "google" trusts Gmail's
     * `Authentication-Results: mx.google.com` (see src/classify/authentication.ts).
     */
    readonly mailPlatform: MailPlatform;
    /** The Microsoft 365 tenant id (a GUID, lower case); required for "microsoft365", else null. */
    readonly tenantId: string | null;
  };
  readonly cases: {
    /** Case number prefix, e.g. KLG -> KLG-2026-000042 (default "KLG"). */
    readonly prefix: string;
    /** Cases of the same category within this many days are shown to officers as related (default 90). */
    readonly relatedWindowDays: number;
  };
  /** Language of templates when the complaint's language is not recognised (default "sv"). */
  readonly language: Language;
  /** Runtime state: attachments, pickup default, lock (default "../data" from config/). */
  readonly dataDir: string;
  /** SQLite database file (default "<dataDir>/klagomal.db"). */
  readonly database: string;
  /** Template root with sv/ and en/ (default "../templates"). */
  readonly templates: string;
  readonly sources: readonly SourceConfig[];
  readonly transport: TransportConfig;
  readonly acknowledgement: {
    /** Send acknowledgements at all (default true). */
    readonly enabled: boolean;
    /**
     * Cap on automatic mail to one address per 24 hours (default 3). Counted per mailbox:
     * subaddresses (`support+t17@`, `support+t18@`) count as `support@` (RFC 5233).
     */
    readonly maxPerAddressPer24h: number;
    /** The acknowledgement names the case's contact person (default true). */
    readonly nameContactPerson: boolean;
  };
  /** How a complaint is read: categories, reference-number patterns, the items the firm asks for. */
  readonly complaints: ComplaintRules;
  readonly threading: {
    /**
     * A reply that lost In-Reply-To/References (Outlook does that) still joins its case when it
     * comes from the case's customer with the same subject after reply prefixes are removed,
     * within this many days of the case's last mail (default 30).
     */
    readonly subjectWindowDays: number;
  };
  readonly loop: {
    /** Automatic mails (acknowledgement, notices) to the customer of one case per 24 hours (default 3). */
    readonly maxPerCasePer24h: number;
    /** An address whose mail bounced permanently gets no automatic mail for this many days (default 30). */
    readonly bouncingAddressDays: number;
    /**
     * Acknowledgements to the addresses of one domain per 24 hours (default 10): a helpdesk that
     * answers from a fresh address per ticket (`t17@helpdesk.example`) is held to this.
     */
    readonly maxPerDomainPer24h: number;
    /**
     * Domains where many unrelated people have their mail (webmail and Swedish ISPs); the
     * per-domain cap does not apply to them (the per-address cap still does). Lower case.
     */
    readonly publicMailDomains: readonly string[];
    /**
     * Acknowledgements in all per hour (default 10000): a fuse no desk reaches in normal work, not
     * even catching up a backlog (the benchmark files 5000 at once), that stops a runaway: a loop
     * over many addresses and domains, or a flood of forged senders (backscatter).
     */
    readonly maxAutomaticPerHour: number;
  };
  /** The people who handle complaints. A manager is the firm's klagomålsansvarig. */
  readonly officers: readonly Officer[];
  /**
   * Four eyes on final answers (src/officers/approval.ts): a final answer that needs approval is
   * kept as a draft until an approver other than its author approves it.
   */
  readonly approval: {
    /**
     * "none", "rejections" (final answers of cases whose outcome is rejected or partly-upheld)
     * or "all" (default "rejections" when the config has a manager, else "none").
     */
    readonly finalAnswer: ApprovalScope;
    /** Who may approve: configured officers' addresses, lower case (default: the managers). */
    readonly approvers: readonly string[];
  };
  readonly deadlines: DeadlinesConfig;
  readonly outbox: {
    /**
     * A mail that still fails temporarily this long after it was queued is marked failed
     * (default 120 hours = 5 days, as mail servers do). Counted in time, not attempts, so that
     * an SMTP outage or an expired password does not burn queued acknowledgements.
     */
    readonly giveUpAfterHours: number;
    /** First retry delay; doubles per attempt, with jitter (default 30). */
    readonly retryBaseSeconds: number;
    /** Longest retry delay (default 3600). */
    readonly retryMaxSeconds: number;
    /** A send that has not reported back after this long is treated as in doubt and retried (default 120). */
    readonly sendTimeoutSeconds: number;
  };
  readonly processing: {
    /** Mails parsed and filed per database transaction (default 50). */
    readonly batchSize: number;
    /**
     * A mail that was being processed when the process stopped is tried once more alone, in a
     * child process with this V8 heap limit (default 512 MB) ...
     */
    readonly isolatedHeapMb: number;
    /** ... and killed after this many seconds (default 60); if it dies either way it is quarantined. */
    readonly isolatedSeconds: number;
  };
  /**
   * Attachments read as documents (src/documents/): PDF text and form fields, Word (.docx), and
   * by OCR images and pages without text. Each is read in a child process with these bounds.
   */
  readonly documents: {
    /** Read attachments at all (default true). */
    readonly enabled: boolean;
    /** Time limit for reading one document's text layer, form fields or Word text (default 20 s). */
    readonly readerSeconds: number;
    /** Memory limit of the reader process (resident, MB; default 512); past it the document is not read. */
    readonly readerMemoryMb: number;
    /** PDF pages whose text layer is read (default 100). */
    readonly maxPages: number;
    /** Documents read per mail (default 10); the others are noted as not read. */
    readonly maxDocuments: number;
    /** How long filing waits for OCR before the acknowledgement goes without it (default 3 s); OCR then goes on after filing. */
    readonly ocrWaitSeconds: number;
    /** Time limit for OCR of one document after filing (default 180 s). */
    readonly ocrSeconds: number;
    /** Pages of one document read by OCR (default 20). */
    readonly ocrMaxPages: number;
    /** The OCR commands (default "tesseract" and "pdftoppm", found on PATH); absent: "not read: no OCR installed". */
    readonly tesseract: string;
    readonly pdftoppm: string;
  };
  /** `klagomal import`: bringing in an old complaints mailbox. */
  readonly import: {
    /**
     * Imported mail received on or after this day (Stockholm, "YYYY-MM-DD") is treated as live
     * mail: acknowledged, the contact person notified, deadlines escalated. Older imported mail
     * is filed quietly (default null: all imported mail is old).
     */
    readonly acknowledgeAfter: string | null;
  };
  /** Comparing the mailboxes on the server with what was filed (`klagomal reconcile`). */
  readonly reconcile: {
    /** node-cron expression of the scheduled reconciliation in `start` (default "17 * * * *", hourly); null = only on demand. */
    readonly schedule: string | null;
  };
  /**
   * Personal data kept no longer than needed (GDPR art. 5(1)(e)); src/retention/retention.ts.
   * A case on legal hold is never touched.
   */
  readonly retention: {
    /**
     * Closed cases this many years after closing are anonymised: names, addresses, phone
     * numbers, personnummer, mail text, attachments and raw mails removed; category, dates,
     * deadlines, outcome and amounts kept (default 10, the general limitation period,
     * preskriptionslagen 2 §; the DPO confirms).
     */
    readonly closedCaseYears: number;
    /** The raw mails (and only they) of cases closed this many days ago are removed earlier; null = with the case (default null). */
    readonly rawMailDays: number | null;
    /** node-cron expression (Stockholm time) of the scheduled run in `start`; null = only `klagomal retention run` (default "40 3 * * *"). */
    readonly schedule: string | null;
  };
  /** Reports sent by mail (src/monthly/). */
  readonly reports: {
    /**
     * The monthly management pack to every manager on the first business day of each month,
     * sent by `start` (default true when an officer has "role": "manager", else false).
     */
    readonly monthly: boolean;
  };
  /** Backups (src/backup/): `klagomal backup`, and on a schedule in `start`. */
  readonly backup: {
    /** The folder `klagomal backup` without DIR and the schedule write to; outside dataDir (default null: none). */
    readonly dir: string | null;
    /** node-cron expression (Stockholm time) of the backup in `start`; null = only `klagomal backup` (default null). */
    readonly schedule: string | null;
    /** Manifests kept in `dir` by the scheduled backup (and `klagomal backup` without DIR); files no kept manifest needs are removed (default 14). */
    readonly keep: number;
    /** `status` exits 1 when the last good backup is older than this many hours, or there is none; null = not checked (default null). */
    readonly maxAgeHours: number | null;
  };
  /** What `klagomal status` counts as needing a person. */
  readonly status: {
    /** A source disconnected or failing for longer than this many minutes (default 15). */
    readonly sourceDownMinutes: number;
  };
  /** Optional HTTP endpoint on 127.0.0.1 with /healthz and /metrics (Prometheus). */
  readonly http: {
    /** Default false. */
    readonly enabled: boolean;
    /** Default 9464. */
    readonly port: number;
  };
  /**
   * A personnummer or samordningsnummer found in a complaint (src/cases/personnummer-store.ts).
   * Its mask (`19850412-****`) is kept with the case's fields either way.
   */
  readonly personnummer: {
    /**
     * Keep the number itself with the case, encrypted with AES-256-GCM (default true). false:
     * only the mask is kept. When true, the service refuses to start without the key.
     */
    readonly store: boolean;
    /**
     * The environment variable holding the 32-byte key: 64 hex digits or base64, e.g. from
     * `openssl rand -base64 32` (default "KLAGOMAL_PERSONNUMMER_KEY"). Keep a copy: without
     * it the stored numbers cannot be read back.
     */
    readonly keyEnv: string;
  };
  /** Stopping on SIGTERM/SIGINT (src/cli/start.ts). */
  readonly shutdown: {
    /**
     * Seconds to let the work in flight finish (the batch being filed commits, the sends report
     * back) before the service gives up on it, says what it abandoned and exits non-zero
     * (default 20; keep it below the systemd unit's TimeoutStopSec, 30 in deploy/).
     */
    readonly graceSeconds: number;
  };
}
