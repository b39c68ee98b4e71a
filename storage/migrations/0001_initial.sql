-- rectbot initial schema. Dates are ISO 'YYYY-MM-DD' (bureau-local calendar days);
-- timestamps are ISO 8601 UTC. Codes (roles, sources, states) are English identifiers.

CREATE TABLE departments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE people (
    id             INTEGER PRIMARY KEY,
    telegram_id    INTEGER NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    username       TEXT,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'liaison')),
    department_id  INTEGER REFERENCES departments(id),
    locale         TEXT NOT NULL DEFAULT 'zh_CN',
    reachable      INTEGER NOT NULL DEFAULT 1,
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    CHECK ((role = 'liaison') = (department_id IS NOT NULL))
);
CREATE INDEX people_department ON people(department_id);

CREATE TABLE invitations (
    id             INTEGER PRIMARY KEY,
    code_hash      TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'liaison')),
    department_id  INTEGER REFERENCES departments(id),
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT,
    used_by        INTEGER REFERENCES people(id),
    CHECK ((role = 'liaison') = (department_id IS NOT NULL))
);

CREATE TABLE cases (
    id                        INTEGER PRIMARY KEY,
    department_id             INTEGER NOT NULL REFERENCES departments(id),
    project                   TEXT NOT NULL,
    source                    TEXT NOT NULL CHECK (source IN
                                ('ex_ante', 'target_review', 'monitoring', 'evaluation', 'spot_check', 'ranking')),
    grade                     TEXT CHECK (grade IN ('excellent', 'good', 'fair', 'poor')),
    findings                  TEXT NOT NULL DEFAULT '',
    suggestions               TEXT NOT NULL DEFAULT '',
    feedback_doc_no           TEXT NOT NULL DEFAULT '',
    evaluation_ended_on       TEXT,
    feedback_sent_on          TEXT,
    feedback_received_on      TEXT,
    period                    TEXT,            -- '2m', '10wd', '15d' when the deadline is a period
    explicit_due_on           TEXT,            -- a deadline date set by the bureau (overrides the period)
    feedback_due_on           TEXT,            -- the bureau's own 1-month feedback deadline (evaluation)
    feedback_due_provisional  INTEGER NOT NULL DEFAULT 0,
    due_on                    TEXT,            -- the unit's report deadline
    due_provisional           INTEGER NOT NULL DEFAULT 0,
    due_rule                  TEXT,
    confidential              INTEGER NOT NULL DEFAULT 0,
    status                    TEXT NOT NULL,
    next_action_at            TEXT,            -- when the reminder sweep must look at this case again
    origin_case_id            INTEGER REFERENCES cases(id),  -- spot checks point at the case they check
    created_by                TEXT NOT NULL,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    UNIQUE (department_id, project, source, feedback_doc_no)
);
CREATE INDEX cases_next_action ON cases(next_action_at) WHERE next_action_at IS NOT NULL;
CREATE INDEX cases_department_status ON cases(department_id, status);

CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES cases(id),
    author_id     INTEGER NOT NULL REFERENCES people(id),
    state         TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'accepted', 'returned', 'non_compliant')),
    measures      TEXT NOT NULL DEFAULT '',
    progress      TEXT CHECK (progress IN ('done', 'partly', 'not_yet')),
    reason        TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    submitted_at  TEXT,
    submitted_on  TEXT,
    on_time       INTEGER
);
CREATE INDEX reports_case ON reports(case_id);
CREATE UNIQUE INDEX reports_one_draft ON reports(case_id, author_id) WHERE state = 'draft';

CREATE TABLE evidence_files (
    id                INTEGER PRIMARY KEY,
    report_id         INTEGER NOT NULL REFERENCES reports(id),
    file_name         TEXT NOT NULL,
    mime_type         TEXT NOT NULL,
    size              INTEGER NOT NULL,
    sha256            TEXT NOT NULL,
    path              TEXT NOT NULL,
    telegram_file_id  TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX evidence_report ON evidence_files(report_id);

CREATE TABLE reviews (
    id           INTEGER PRIMARY KEY,
    report_id    INTEGER NOT NULL UNIQUE REFERENCES reports(id),  -- the first decision counts
    reviewer_id  INTEGER NOT NULL REFERENCES people(id),
    decision     TEXT NOT NULL CHECK (decision IN
                   ('close', 'return_for_rework', 'refused', 'inadequate', 'falsely_reported')),
    note         TEXT NOT NULL DEFAULT '',
    new_due_on   TEXT,
    decided_at   TEXT NOT NULL
);

CREATE TABLE extension_requests (
    id               INTEGER PRIMARY KEY,
    case_id          INTEGER NOT NULL REFERENCES cases(id),
    requester_id     INTEGER NOT NULL REFERENCES people(id),
    reason           TEXT NOT NULL,
    proposed_due_on  TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),
    decided_by       INTEGER REFERENCES people(id),
    granted_due_on   TEXT,
    decision_note    TEXT,
    created_at       TEXT NOT NULL,
    decided_at       TEXT
);
CREATE INDEX extension_case ON extension_requests(case_id);

-- Every notification has a stable key (case, kind, step, date, recipient): the UNIQUE constraint
-- is what makes sweeps, restarts and crashes unable to enqueue the same reminder twice.
CREATE TABLE outbox (
    id                   INTEGER PRIMARY KEY,
    key                  TEXT NOT NULL UNIQUE,
    person_id            INTEGER NOT NULL REFERENCES people(id),
    case_id              INTEGER REFERENCES cases(id),
    kind                 TEXT NOT NULL,
    payload              TEXT NOT NULL DEFAULT '{}',
    state                TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    not_before           TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    telegram_message_id  INTEGER,
    created_at           TEXT NOT NULL,
    sent_at              TEXT
);
CREATE INDEX outbox_pending ON outbox(state, not_before);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,      -- 'person:<id>', 'cli', 'system'
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  INTEGER,
    before     TEXT,               -- JSON
    after      TEXT                -- JSON
);
CREATE INDEX audit_entity ON audit_log(entity, entity_id);

CREATE TABLE calendar_years (
    year           INTEGER PRIMARY KEY,
    schedule_json  TEXT NOT NULL,
    source         TEXT NOT NULL,
    published_on   TEXT,
    loaded_at      TEXT NOT NULL,
    loaded_by      TEXT
);

-- Small key/value state for jobs (e.g. when the missing-calendar warning was last sent).
CREATE TABLE job_state (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
