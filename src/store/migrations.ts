/**
 * Numbered schema migrations. Never edit a migration that has shipped; add the next one. The file
 * is longer than 500 lines on purpose: every migration, in order, in one list, is the history of
 * the schema an auditor reads.
 *
 * Storage layout (migration 1):
 *  - raw_mail        every raw message, content-addressed by sha256 (kept before parsing): the
 *                    bytes, or for a large mail the path of its file under <dataDir>/raw
 *  - inbound         one row per mail taken from a source: where it came from, its idempotency
 *                    key at the source, its state (stored -> filed | quarantined) and its kind
 *  - source_cursor   per source and folder: UIDVALIDITY + last UID stored
 *  - quarantine      mails that threw while being parsed or filed, with the error
 *  - cases           one row per complaint; `status` mirrors the CaseStatus union
 *  - messages        every parsed inbound mail (on a case or not), with its text
 *  - attachments     files under <dataDir>/attachments, generated names, linked to a message
 *  - outbox          every mail we send, rendered at queue time; the sender works from here
 *  - outbox_attempts one row per send attempt, written before the network call
 *  - deadlines       computed due instants per case and milestone, with the rule that set them
 *  - events          the append-only history (triggers refuse UPDATE and DELETE); from
 *                    migration 8 hash-chained per case, see src/store/event-hash.ts
 */
/**
 * The append-only UPDATE trigger from migration 8 on: an event may change in exactly one way,
 * retention blanking its detail (src/audit/chain.ts anonymiseEventDetails): detail becomes
 * '{"anonymised":true}', anonymised_at and anonymised_by_run are set, and only when
 * anonymised_at was NULL. Every other change is refused, as before.
 */
export const EVENTS_UPDATE_TRIGGER_V8 = `
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
  WHEN NOT (
    OLD.anonymised_at IS NULL AND NEW.anonymised_at IS NOT NULL AND NEW.anonymised_by_run IS NOT NULL
    AND NEW.detail = '{"anonymised":true}'
    AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.case_id IS OLD.case_id AND NEW.inbound_id IS OLD.inbound_id
    AND NEW.outbox_id IS OLD.outbox_id AND NEW.actor IS OLD.actor AND NEW.type IS OLD.type
    AND NEW.from_state IS OLD.from_state AND NEW.to_state IS OLD.to_state
    AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash AND NEW.detail_hash IS OLD.detail_hash
  )
  BEGIN SELECT RAISE(ABORT, 'events are append-only (retention may only anonymise a detail once)'); END;
`;

export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'pipeline foundation',
    sql: `
CREATE TABLE raw_mail (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  bytes BLOB,
  path TEXT,
  CHECK ((bytes IS NULL) <> (path IS NULL))
) WITHOUT ROWID;

CREATE TABLE source_cursor (
  source TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  uidvalidity TEXT NOT NULL,
  last_uid INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, mailbox)
);

CREATE TABLE case_number_sequence (
  prefix TEXT NOT NULL,
  year INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (prefix, year)
);

CREATE TABLE cases (
  id INTEGER PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('new','in-progress','awaiting-customer','answered','closed')),
  customer_address TEXT,
  customer_name TEXT,
  subject TEXT,
  language TEXT NOT NULL,
  received_at TEXT NOT NULL,
  filed_at TEXT NOT NULL,
  fields TEXT NOT NULL DEFAULT '{}',
  refers_to_case_id INTEGER REFERENCES cases(id),
  updated_at TEXT NOT NULL
);
CREATE INDEX cases_status ON cases(status);
CREATE INDEX cases_customer ON cases(customer_address);

CREATE TABLE inbound (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  mailbox TEXT,
  locator TEXT,
  source_key TEXT UNIQUE,
  uidvalidity TEXT,
  uid INTEGER,
  sha256 TEXT NOT NULL REFERENCES raw_mail(sha256),
  size INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'stored' CHECK (state IN ('stored','filed','quarantined')),
  kind TEXT CHECK (kind IN ('complaint','followup','officer','autoreply','bounce','bulk','duplicate')),
  reason TEXT,
  message_id TEXT,
  duplicate_of INTEGER REFERENCES inbound(id),
  case_id INTEGER REFERENCES cases(id),
  processed_at TEXT,
  server_marked_at TEXT
);
CREATE INDEX inbound_pending ON inbound(id) WHERE state = 'stored';
CREATE INDEX inbound_message_id ON inbound(message_id) WHERE message_id IS NOT NULL AND kind IS NOT 'duplicate';
CREATE INDEX inbound_sha256 ON inbound(sha256);
CREATE INDEX inbound_unmarked ON inbound(source, mailbox) WHERE server_marked_at IS NULL;
CREATE INDEX inbound_case ON inbound(case_id);

CREATE TABLE quarantine (
  inbound_id INTEGER PRIMARY KEY REFERENCES inbound(id),
  stage TEXT NOT NULL,
  error TEXT NOT NULL,
  first_at TEXT NOT NULL,
  last_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1,
  released_at TEXT
);

CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  inbound_id INTEGER NOT NULL UNIQUE REFERENCES inbound(id),
  case_id INTEGER REFERENCES cases(id),
  kind TEXT NOT NULL,
  message_id TEXT,
  in_reply_to TEXT,
  refs TEXT NOT NULL DEFAULT '[]',
  from_address TEXT,
  from_name TEXT,
  reply_to TEXT,
  to_addresses TEXT NOT NULL DEFAULT '[]',
  cc_addresses TEXT NOT NULL DEFAULT '[]',
  subject TEXT,
  date_header TEXT,
  received_at TEXT NOT NULL,
  body_text TEXT,
  language TEXT,
  problems TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL
);
CREATE INDEX messages_case ON messages(case_id);
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_kind ON messages(kind);

CREATE TABLE attachments (
  id INTEGER PRIMARY KEY,
  message_row INTEGER NOT NULL REFERENCES messages(id),
  filename TEXT,
  content_type TEXT,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  path TEXT NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_row);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  case_id INTEGER REFERENCES cases(id),
  kind TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  template TEXT NOT NULL,
  language TEXT NOT NULL,
  template_version TEXT NOT NULL,
  from_address TEXT NOT NULL,
  from_name TEXT NOT NULL,
  to_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  in_reply_to TEXT,
  refs TEXT NOT NULL DEFAULT '[]',
  headers TEXT NOT NULL DEFAULT '{}',
  body_text TEXT NOT NULL,
  body_html TEXT,
  date_header TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued','sending','sent','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  transport_response TEXT
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status IN ('queued','sending');
CREATE INDEX outbox_to ON outbox(to_address, created_at);
CREATE INDEX outbox_case ON outbox(case_id);

CREATE TABLE outbox_attempts (
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  attempt INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  outcome TEXT CHECK (outcome IN ('sent','retry','failed')),
  response TEXT,
  PRIMARY KEY (outbox_id, attempt)
);

CREATE TABLE deadlines (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  milestone TEXT NOT NULL,
  due_at TEXT NOT NULL,
  rule TEXT NOT NULL,
  computed_from TEXT NOT NULL,
  met_at TEXT,
  PRIMARY KEY (case_id, milestone)
);
CREATE INDEX deadlines_open ON deadlines(due_at) WHERE met_at IS NULL;

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  case_id INTEGER REFERENCES cases(id),
  inbound_id INTEGER REFERENCES inbound(id),
  outbox_id INTEGER REFERENCES outbox(id),
  actor TEXT NOT NULL,
  type TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_case ON events(case_id);
CREATE INDEX events_inbound ON events(inbound_id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
`,
  },
  {
    version: 2,
    name: 'deadline policies, contact person, escalation',
    sql: `
ALTER TABLE deadlines ADD COLUMN policy TEXT;
ALTER TABLE deadlines ADD COLUMN source TEXT;
ALTER TABLE deadlines ADD COLUMN config_version TEXT;
ALTER TABLE deadlines ADD COLUMN calendar_version TEXT;
ALTER TABLE deadlines ADD COLUMN breached_at TEXT;
-- When the escalation pass next has something to do for this deadline; NULL = nothing more.
ALTER TABLE deadlines ADD COLUMN next_escalation_at TEXT;
CREATE INDEX deadlines_escalation ON deadlines(next_escalation_at) WHERE met_at IS NULL AND next_escalation_at IS NOT NULL;

ALTER TABLE cases ADD COLUMN contact_officer TEXT;
-- Processing attempts of a stored mail, counted before parsing: a mail that crashes the process
-- every time is quarantined after a few tries instead of blocking everything behind it.
ALTER TABLE inbound ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN category TEXT;

-- When an operator put a failed mail back in the queue; its give-up age counts from here.
ALTER TABLE outbox ADD COLUMN retry_from TEXT;

-- One row per (deadline, level) acted on or skipped: the database, not memory, makes each
-- warning happen once, across restarts, overlapping passes and several processes.
CREATE TABLE escalations (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  milestone TEXT NOT NULL,
  level TEXT NOT NULL,
  due_at TEXT NOT NULL,
  planned_at TEXT NOT NULL,
  acted_at TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('sent','late','skipped')),
  PRIMARY KEY (case_id, milestone, level, due_at)
);

-- One digest per local day, claimed in the database.
CREATE TABLE digests (
  day TEXT PRIMARY KEY,
  claimed_at TEXT NOT NULL,
  late INTEGER NOT NULL
);

CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'reading mail: personnummer, subject threading, quoted text, failing addresses',
    sql: `
-- The personnummer found in a complaint, in its own column (masked everywhere else).
ALTER TABLE cases ADD COLUMN personnummer TEXT;
-- The subject without reply prefixes and case tag, lower-cased: threading for clients that
-- drop In-Reply-To and References.
ALTER TABLE cases ADD COLUMN subject_key TEXT;
CREATE INDEX cases_subject ON cases(customer_address, subject_key);
-- A reply's own text and the history it quotes.
ALTER TABLE messages ADD COLUMN new_text TEXT;
ALTER TABLE messages ADD COLUMN quoted_text TEXT;

-- Addresses that bounced permanently: no automatic mail until failing_until.
CREATE TABLE address_status (
  address TEXT PRIMARY KEY,
  failing_since TEXT NOT NULL,
  failing_until TEXT NOT NULL,
  reason TEXT NOT NULL,
  inbound_id INTEGER REFERENCES inbound(id)
);
`,
  },
  {
    version: 4,
    name: 'template versions',
    sql: `
-- The text of every template version a sent mail was made from: what a customer received can
-- be shown exactly, whatever the files say today.
CREATE TABLE template_versions (
  version TEXT NOT NULL,
  kind TEXT NOT NULL,
  language TEXT NOT NULL,
  sources TEXT NOT NULL,
  first_used_at TEXT NOT NULL,
  PRIMARY KEY (version, kind, language)
);
-- Whole template sets that passed the check; the newest is used when the files are broken.
CREATE TABLE template_sets (
  set_version TEXT PRIMARY KEY,
  files TEXT NOT NULL,
  checked_at TEXT NOT NULL
);
-- Broken template sets the admin was told about (once per broken version).
CREATE TABLE template_problems_reported (
  set_version TEXT PRIMARY KEY,
  reported_at TEXT NOT NULL,
  problems TEXT NOT NULL
);
`,
  },
  {
    version: 5,
    name: 'officers: outcome, compensation, assessment, related cases, attached originals',
    sql: `
-- What the officers decided, by mail commands (src/officers/commands.ts).
ALTER TABLE cases ADD COLUMN outcome TEXT CHECK (outcome IN ('upheld','partly-upheld','rejected','withdrawn'));
ALTER TABLE cases ADD COLUMN decided_by TEXT;
ALTER TABLE cases ADD COLUMN compensation_sek REAL;
-- The firm's assessment checklist: {"more-information": true, ...}.
ALTER TABLE cases ADD COLUMN assessment TEXT NOT NULL DEFAULT '{}';
CREATE INDEX cases_category ON cases(category, received_at);

-- Cases an officer declared related (#related), both ways.
CREATE TABLE case_relations (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  related_case_id INTEGER NOT NULL REFERENCES cases(id),
  created_at TEXT NOT NULL,
  actor TEXT NOT NULL,
  PRIMARY KEY (case_id, related_case_id)
);

-- An inbound mail attached to an outgoing one as message/rfc822 (the officer's notification
-- carries the original complaint, so that a reply to it goes straight to the customer).
ALTER TABLE outbox ADD COLUMN attach_inbound_id INTEGER REFERENCES inbound(id);
`,
  },
  {
    version: 6,
    name: 'operations: source status, reconciliation runs',
    sql: `
-- What each source (and folder) is doing, written by the running service, read by
-- \`klagomal status\` in another process.
CREATE TABLE source_status (
  source TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  connected INTEGER NOT NULL DEFAULT 0,
  since TEXT,
  last_poll_at TEXT,
  last_error TEXT,
  failing_since TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, mailbox)
);

-- Every reconciliation: what was compared, what was missing and filed, what did not match.
CREATE TABLE reconcile_runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  trigger TEXT NOT NULL,
  result TEXT NOT NULL DEFAULT '{}'
);
`,
  },
  {
    version: 7,
    name: 'operations: what a source saw at its last scan, clean stops',
    sql: `
-- Messages in the watched folder at the end of the last scan (IMAP EXISTS), and of those the
-- ones not yet taken (with a processed folder every mail left in the folder; a Maildir's new/).
-- NULL where the source cannot tell (an IMAP folder that is only flagged keeps what it filed).
ALTER TABLE source_status ADD COLUMN folder_messages INTEGER;
ALTER TABLE source_status ADD COLUMN waiting INTEGER;
-- Set when the service stopped watching cleanly (SIGTERM); NULL while it watches. Without it a
-- stopped service and a killed one look the same: a heartbeat (updated_at) that grows old.
ALTER TABLE source_status ADD COLUMN stopped_at TEXT;
`,
  },
  {
    version: 8,
    name: 'tamper-evident history: a hash chain over the events of each case',
    sql: `
-- Every event carries the hash of the previous event of its chain (src/store/event-hash.ts): one
-- chain per case (case_id), and one for the events without a case (case_id IS NULL: mails
-- stored, system events). hash = sha256 over the previous hash and the event's fields, with
-- the detail only through detail_hash = sha256(detail), so that retention can blank a detail
-- (anonymised_at, anonymised_by_run = retention_runs.id) without breaking the chain.
ALTER TABLE events ADD COLUMN prev_hash TEXT;
ALTER TABLE events ADD COLUMN hash TEXT;
ALTER TABLE events ADD COLUMN detail_hash TEXT;
ALTER TABLE events ADD COLUMN anonymised_at TEXT;
ALTER TABLE events ADD COLUMN anonymised_by_run INTEGER;
-- The hashes of the events already there are computed in JavaScript right after this SQL, in
-- the same transaction (chainExistingEvents in src/store/event-chain.ts, called by migrate()),
-- which then creates the new UPDATE trigger (EVENTS_UPDATE_TRIGGER below). DELETE stays refused.
DROP TRIGGER events_append_only_update;
`,
  },
  {
    version: 9,
    name: 'personal data: retention runs, legal hold, anonymised cases and mails',
    sql: `
-- Legal hold (#hold / #release by mail, klagomal case hold / release): while hold_reason is set,
-- retention leaves the case alone. The history of holds is in the events.
ALTER TABLE cases ADD COLUMN hold_reason TEXT;
ALTER TABLE cases ADD COLUMN held_at TEXT;
ALTER TABLE cases ADD COLUMN held_by TEXT;
-- When retention removed the case's personal data (src/retention/retention.ts), and in which run.
ALTER TABLE cases ADD COLUMN anonymised_at TEXT;
ALTER TABLE cases ADD COLUMN anonymised_by_run INTEGER;
CREATE INDEX cases_closed_kept ON cases(id) WHERE status = 'closed' AND anonymised_at IS NULL;

-- Per inbound mail: its parsed text and addresses blanked (anonymised_at), and its raw bytes no
-- longer needed (raw_removed_at). Raw mail is content-addressed and can be shared by several
-- inbound rows (a duplicate, a mail read from two folders): the bytes go only when every row
-- that points at them has raw_removed_at.
ALTER TABLE inbound ADD COLUMN anonymised_at TEXT;
ALTER TABLE inbound ADD COLUMN raw_removed_at TEXT;
-- A raw mail whose bytes retention removed keeps its sha256 and size, so that the register and
-- reconciliation still know the mail existed. Migration 1's CHECK wants exactly one of bytes
-- and path, so a removed mail has the empty blob and no path; removed_at says which it is.
ALTER TABLE raw_mail ADD COLUMN removed_at TEXT;
-- The same bytes arriving again after their removal (a UIDVALIDITY change re-reads a folder):
-- the new arrival needs its raw mail, so the row takes the new bytes or file instead of the
-- INSERT OR IGNORE of intake (src/store/store.ts storeInbound) silently keeping the tombstone.
CREATE TRIGGER raw_mail_arrives_again BEFORE INSERT ON raw_mail
  WHEN EXISTS (SELECT 1 FROM raw_mail WHERE sha256 = NEW.sha256 AND removed_at IS NOT NULL)
BEGIN
  UPDATE raw_mail SET bytes = NEW.bytes, path = NEW.path, size = NEW.size, removed_at = NULL WHERE sha256 = NEW.sha256;
END;

-- Every retention run, dry or not: what it anonymised (case numbers and counts, never personal
-- data). finished_at NULL = the run stopped before its end (a crash); the next run goes on.
CREATE TABLE retention_runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  trigger TEXT NOT NULL,
  dry_run INTEGER NOT NULL DEFAULT 0,
  cases_anonymised INTEGER NOT NULL DEFAULT 0,
  raw_removed INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '{}'
);

-- Files (attachments, large raw mails) whose rows retention removed, recorded in the same
-- transaction and deleted after it: a crash between the two leaves the row, and the next run
-- deletes the file. A file is deleted only while nothing references it any more.
CREATE TABLE retention_pending_files (
  path TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('attachment','raw')),
  sha256 TEXT NOT NULL,
  run_id INTEGER NOT NULL REFERENCES retention_runs(id),
  queued_at TEXT NOT NULL
);
CREATE INDEX attachments_path ON attachments(path);
`,
  },
  {
    version: 10,
    name: 'deadlines that do not apply (imported old complaints); outbox by creation time',
    sql: `
-- A deadline that does not apply, and why ('imported': an old complaint brought in quietly by
-- \`klagomal import\`, whose deadlines passed long before the firm had it in this system). Kept
-- as history; escalation, the digest, \`cases --breached\`, status and the statistics leave it out.
ALTER TABLE deadlines ADD COLUMN not_applicable TEXT;
-- Cases imported quietly before this column existed say so on their case-opened event.
UPDATE deadlines SET not_applicable = 'imported', next_escalation_at = NULL
  WHERE case_id IN (SELECT case_id FROM events WHERE type = 'case-opened' AND case_id IS NOT NULL AND json_valid(detail)
                    AND json_extract(detail, '$.imported') IS NOT NULL);
-- The loop guards count recent outbox mail per mailbox (outbox_to), per domain and in all
-- (src/reply/acknowledgement.ts): acknowledgements by domain (the text after the first "@") and
-- by time, with their status, so that each count reads only index entries it counts.
CREATE INDEX outbox_ack_domain ON outbox(substr(to_address, instr(to_address, '@') + 1), created_at, status) WHERE kind = 'acknowledgement';
CREATE INDEX outbox_ack_created ON outbox(created_at, status) WHERE kind = 'acknowledgement';
`,
  },
  {
    version: 11,
    name: 'the regime of a case; every policy deadline beside the effective one',
    sql: `
-- The statutory regime a case is handled under: 'psd2' when the complaint concerned a payment
-- service (PSD2 art. 101: 15 business days, at most 35 with a holding reply), else 'none'. Set
-- when the case is filed, by #category (never lost by recategorising) and by #regime.
ALTER TABLE cases ADD COLUMN regime TEXT NOT NULL DEFAULT 'none' CHECK (regime IN ('none', 'psd2'));
UPDATE cases SET regime = 'psd2' WHERE EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = cases.id AND d.milestone = 'finalAnswerMax');
-- Every policy's deadline for every milestone, as computed from receipt and never moved: the
-- firm's promise and each statutory limit side by side (the effective deadline in \`deadlines\`
-- is the earliest of them, and is what an extension moves and escalation chases). The
-- statistics measure each (within PSD2 15 and 35 business days, the firm's promise, ECSP 10).
CREATE TABLE policy_deadlines (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  milestone TEXT NOT NULL,
  policy TEXT NOT NULL,
  source TEXT NOT NULL,
  statutory INTEGER NOT NULL CHECK (statutory IN (0, 1)),
  regime TEXT CHECK (regime IN ('psd2', 'ecsp')),
  due_at TEXT NOT NULL,
  rule TEXT NOT NULL,
  computed_from TEXT NOT NULL,
  config_version TEXT NOT NULL,
  calendar_version TEXT NOT NULL,
  not_applicable TEXT,
  PRIMARY KEY (case_id, milestone, policy)
);
`,
  },
  {
    version: 12,
    name: 'the audit trail: who read personal data; every deadline configuration as first used',
    sql: `
-- Who read personal data, and how (REGULATION.md §4 B; GDPR art. 5(2) accountability): \`case
-- show\`, the audit view, a raw mail, a data subject export. The actor is the operating-system
-- user of the command (or --as NAME). Append-only like the events; it holds no personal data
-- itself (case and mail ids, the action, who, when), so retention leaves it as it is.
CREATE TABLE access_log (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  case_id INTEGER,
  inbound_id INTEGER,
  detail TEXT
);
CREATE INDEX access_log_case ON access_log(case_id, at);
CREATE INDEX access_log_at ON access_log(at);
CREATE TRIGGER access_log_append_only_update BEFORE UPDATE ON access_log
  BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_append_only_delete BEFORE DELETE ON access_log
  BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
-- The configuration behind every deadline: each distinct version of the deadline policy
-- section (deadlines.version, a hash of it) and of the calendar, kept the first time a
-- deadline is computed with it, with who approved the policy (deadlines.approvedBy/At).
-- Versions in use before this schema are listed from the deadlines that name them; their text
-- was not kept then.
CREATE TABLE config_versions (
  kind TEXT NOT NULL CHECK (kind IN ('deadlines', 'calendar')),
  version TEXT NOT NULL,
  content TEXT,
  first_used_at TEXT NOT NULL,
  approved_by TEXT,
  approved_at TEXT,
  PRIMARY KEY (kind, version)
);
INSERT OR IGNORE INTO config_versions (kind, version, content, first_used_at)
  SELECT 'deadlines', config_version, NULL, MIN(computed_from) FROM deadlines WHERE config_version IS NOT NULL GROUP BY config_version;
INSERT OR IGNORE INTO config_versions (kind, version, content, first_used_at)
  SELECT 'calendar', calendar_version, NULL, MIN(computed_from) FROM deadlines WHERE calendar_version IS NOT NULL GROUP BY calendar_version;
`,
  },
  {
    version: 13,
    name: 'the register of record: channel, customer type, representative, product, inadmissible, reasons, ARN and court, root causes and actions',
    sql: `
-- What an auditor asks of every complaint (REGULATION.md §4 A; EU complaint guidelines, JC 2018
-- 35, registration). Set by officers' commands (src/officers/record-commands.ts) or detected at
-- filing (customer type), shown by the register (src/report/register.ts).
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'letter', 'phone', 'chat', 'in-person'));
-- NULL: not recorded (counted as a consumer, and said so); customer_type_by: the officer who
-- recorded it, or 'detected: <why>' when filing saw an organisation.
ALTER TABLE cases ADD COLUMN customer_type TEXT CHECK (customer_type IN ('consumer', 'business'));
ALTER TABLE cases ADD COLUMN customer_type_by TEXT;
-- The customer's postal address, for a complaint registered from a letter, phone call or visit
-- (#register) when it is the only address known: the acknowledgement goes by post then.
ALTER TABLE cases ADD COLUMN postal_address TEXT;
-- A lawyer or relative acting for the customer: recorded apart from the customer.
ALTER TABLE cases ADD COLUMN representative_name TEXT;
ALTER TABLE cases ADD COLUMN representative_address TEXT;
ALTER TABLE cases ADD COLUMN product TEXT;
-- Not a complaint under FFFS 2002:23 §2 (a general opinion, a question): closed as such, with who and why.
ALTER TABLE cases ADD COLUMN inadmissible_reason TEXT;
ALTER TABLE cases ADD COLUMN inadmissible_by TEXT;
-- The reasons of the decision, in short, as the officer confirms them (#reasons).
ALTER TABLE cases ADD COLUMN reasons_summary TEXT;
ALTER TABLE cases ADD COLUMN compensation_paid_at TEXT;
-- The customer's first contact about the matter (e.g. with customer service, before the forward).
ALTER TABLE cases ADD COLUMN first_complained_at TEXT;
-- ARN and court: every state a referral went through, with its date.
CREATE TABLE case_referrals (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  body TEXT NOT NULL CHECK (body IN ('arn', 'court')),
  reference TEXT NOT NULL,
  state TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX case_referrals_case ON case_referrals(case_id, id);
-- Root causes (a code from complaints.rootCauses) and corrective actions (planned, done).
CREATE TABLE case_causes (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  code TEXT NOT NULL,
  text TEXT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX case_causes_case ON case_causes(case_id);
CREATE TABLE case_actions (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  text TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('planned', 'done')),
  at TEXT NOT NULL,
  done_at TEXT,
  actor TEXT NOT NULL
);
CREATE INDEX case_actions_case ON case_actions(case_id);
-- Every extension and holding reply as facts without personal data (no reason text), so that
-- the register and the statistics of the past stay the same after retention anonymises the
-- events (a 'deadline-extended' detail becomes {"anonymised":true}). Filled from the events
-- not yet anonymised.
CREATE TABLE deadline_extensions (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  milestone TEXT NOT NULL,
  at TEXT NOT NULL,
  from_due TEXT NOT NULL,
  to_due TEXT NOT NULL,
  holding_reply INTEGER NOT NULL CHECK (holding_reply IN (0, 1)),
  late INTEGER NOT NULL CHECK (late IN (0, 1))
);
CREATE INDEX deadline_extensions_case ON deadline_extensions(case_id, at);
INSERT INTO deadline_extensions (case_id, milestone, at, from_due, to_due, holding_reply, late)
  SELECT case_id, json_extract(detail, '$.milestone'), at, COALESCE(json_extract(detail, '$.from'), ''), COALESCE(json_extract(detail, '$.to'), ''),
         CASE WHEN json_extract(detail, '$.holdingReply') THEN 1 ELSE 0 END, CASE WHEN json_extract(detail, '$.late') THEN 1 ELSE 0 END
    FROM events WHERE type = 'deadline-extended' AND case_id IS NOT NULL AND json_valid(detail) AND json_extract(detail, '$.milestone') IS NOT NULL ORDER BY id;
`,
  },
  {
    version: 14,
    name: 'final answers waiting for approval (four eyes)',
    sql: `
-- A final answer that needs a second person's approval (approval.finalAnswer) is kept here as a
-- draft, rendered exactly as the customer would get it (mail: the outbox row as JSON), until an
-- approver approves it (then that very mail is queued), returns it to its author, or the author
-- replaces it with a new #final. state: pending -> approved | returned | replaced; each change
-- is a guarded UPDATE (src/cases/transitions.ts) with its event on the case.
CREATE TABLE final_answer_drafts (
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  state TEXT NOT NULL CHECK (state IN ('pending','approved','returned','replaced')),
  author TEXT NOT NULL,
  inbound_id INTEGER REFERENCES inbound(id),
  outcome TEXT,
  words INTEGER NOT NULL,
  mail TEXT NOT NULL,
  approvers TEXT NOT NULL DEFAULT '[]',
  drafted_at TEXT NOT NULL,
  decided_by TEXT,
  decided_at TEXT,
  return_reason TEXT,
  replaced_by INTEGER REFERENCES final_answer_drafts(id),
  outbox_id INTEGER REFERENCES outbox(id)
);
CREATE INDEX final_answer_drafts_case ON final_answer_drafts(case_id);
-- At most one draft of a case waits at a time: a second #final replaces the first.
CREATE UNIQUE INDEX final_answer_drafts_one_pending ON final_answer_drafts(case_id) WHERE state = 'pending';
`,
  },
  {
    version: 15,
    name: 'attachment readings: the text and form fields read from documents, and OCR waiting (issue 19)',
    sql: `
-- What reading an attachment as a document gave (src/documents/): its state ('read', 'not-read'
-- with the reason in note, 'ocr-pending': pages without text wait for OCR after filing), its
-- text per page and its form fields as JSON, personnummer masked like every stored text. One row
-- per attachment read; attachments that are no document have none. The OCR pass claims a row
-- by counting its attempt and setting ocr_next_at (a lease) before it runs the tools.
CREATE TABLE attachment_readings (
  attachment_id INTEGER PRIMARY KEY REFERENCES attachments(id),
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('read', 'not-read', 'ocr-pending')),
  note TEXT,
  pages TEXT NOT NULL DEFAULT '[]',
  form_fields TEXT NOT NULL DEFAULT '[]',
  page_count INTEGER,
  ocr_pages INTEGER NOT NULL DEFAULT 0,
  ms INTEGER NOT NULL DEFAULT 0,
  ocr_attempts INTEGER NOT NULL DEFAULT 0,
  ocr_next_at TEXT,
  read_at TEXT NOT NULL
);
CREATE INDEX attachment_readings_ocr ON attachment_readings(ocr_next_at) WHERE state = 'ocr-pending';
`,
  },
  {
    version: 16,
    name: 'outbox attachments and the monthly management pack (issue 15)',
    sql: `
-- Files a queued mail carries (the monthly pack's charts as inline PNG, referenced from its HTML
-- as cid:, and the month's register as CSV), stored with the outbox row in the same transaction,
-- so that the mail is whole or not queued at all. content is kept until the mail is sent, then
-- blanked (the register CSV holds customers' names and addresses: the managers have it in
-- their mailboxes, the database need not keep a second copy); sha256 and size stay as the record.
CREATE TABLE outbox_attachments (
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  position INTEGER NOT NULL,
  filename TEXT NOT NULL,
  content_type TEXT NOT NULL,
  cid TEXT,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  content BLOB,
  PRIMARY KEY (outbox_id, position)
);
-- One monthly pack per month, claimed in the database (a restart the same day sends nothing
-- twice; graphile-worker's rule for cron ticks). month: "YYYY-MM", the month the pack reports.
CREATE TABLE monthly_packs (
  month TEXT PRIMARY KEY,
  claimed_at TEXT NOT NULL,
  late INTEGER NOT NULL CHECK (late IN (0, 1)),
  managers INTEGER NOT NULL
);
`,
  },
  {
    version: 17,
    name: 'outbox: copies the server already took',
    sql: `
-- The copies (Cc: the customer's representative) an SMTP server took in an attempt that failed
-- for the customer (refused at RCPT TO while the copy was accepted), as a JSON array of
-- addresses; NULL when none. Later attempts go to the customer alone (the SMTP envelope; the
-- message, its Cc header and Message-ID are unchanged), so a mail retried for the customer
-- does not give the representative one more copy per attempt. Retention blanks it with the Cc.
ALTER TABLE outbox ADD COLUMN copies_accepted TEXT;
`,
  },
];
