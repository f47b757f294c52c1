-- The complaint ledger (顾客投诉台账). Times are UTC text
-- "YYYY-MM-DD HH:MM:SS.mmm" (fixed width, so they sort and compare as text).

-- +goose Up
CREATE TABLE units (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    department TEXT NOT NULL DEFAULT '',
    line       TEXT NOT NULL DEFAULT '',
    endpoint   TEXT NOT NULL DEFAULT '',
    active     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('agent', 'unit', 'supervisor', 'admin')),
    unit_id       TEXT REFERENCES units (id),
    endpoint      TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    logged_in     INTEGER NOT NULL DEFAULT 0,
    state_at      TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    CHECK (role <> 'unit' OR unit_id IS NOT NULL)
);

-- Public numbers are drawn from a per-day counter that only grows, so a
-- number is never given twice.
CREATE TABLE ticket_numbers (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tickets (
    id                  INTEGER PRIMARY KEY,
    number              TEXT NOT NULL UNIQUE,
    channel             TEXT NOT NULL CHECK (channel IN ('hotline', 'qrcode')),
    kind                TEXT NOT NULL DEFAULT '' CHECK (kind IN ('', 'complaint', 'question', 'suggestion')),
    status              TEXT NOT NULL,
    caller              TEXT NOT NULL,
    caller_name         TEXT NOT NULL DEFAULT '',
    line                TEXT NOT NULL DEFAULT '',
    content             TEXT NOT NULL DEFAULT '',
    unit_id             TEXT REFERENCES units (id),
    agent_id            INTEGER REFERENCES users (id),
    result              TEXT NOT NULL DEFAULT '',
    cctv_preserved      INTEGER NOT NULL DEFAULT 0,
    no_payment_attested INTEGER NOT NULL DEFAULT 0,
    satisfaction        TEXT NOT NULL DEFAULT '' CHECK (satisfaction IN ('', 'satisfied', 'basic', 'dissatisfied')),
    repeats             INTEGER NOT NULL DEFAULT 0,
    reopened            INTEGER NOT NULL DEFAULT 0,
    merged_into         INTEGER REFERENCES tickets (id),
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    closed_at           TIMESTAMP,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX tickets_caller ON tickets (caller, created_at);
CREATE INDEX tickets_created ON tickets (created_at);

-- The handling process (处置过程): append-only.
CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    at          TIMESTAMP NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    from_status TEXT NOT NULL DEFAULT '',
    to_status   TEXT NOT NULL DEFAULT '',
    unit_id     TEXT,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
-- Returns (退单) per unit and month, for the assessment; only return events
-- enter this index.
CREATE INDEX ticket_events_returns ON ticket_events (at, unit_id) WHERE kind = 'return';

-- +goose StatementBegin
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only');
END;
-- +goose StatementEnd

-- Per-stage deadlines of a ticket: open while done_at is NULL.
CREATE TABLE deadlines (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    stage      TEXT NOT NULL CHECK (stage IN ('transfer', 'sheet', 'feedback', 'callback')),
    unit_id    TEXT,
    started_at TIMESTAMP NOT NULL,
    due_at     TIMESTAMP NOT NULL,
    done_at    TIMESTAMP,
    waived     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deadlines_ticket ON deadlines (ticket_id, stage);
CREATE INDEX deadlines_open ON deadlines (stage, unit_id, due_at) WHERE done_at IS NULL;
CREATE INDEX deadlines_due ON deadlines (due_at);

CREATE TABLE calls (
    id             INTEGER PRIMARY KEY,
    call_id        TEXT NOT NULL UNIQUE,
    ticket_id      INTEGER REFERENCES tickets (id),
    direction      TEXT NOT NULL,
    caller         TEXT NOT NULL,
    caller_name    TEXT NOT NULL DEFAULT '',
    dialled        TEXT NOT NULL DEFAULT '',
    line           TEXT NOT NULL DEFAULT '',
    ivr_choice     TEXT NOT NULL DEFAULT '',
    agent_id       INTEGER REFERENCES users (id),
    started_at     TIMESTAMP NOT NULL,
    answered_at    TIMESTAMP,
    ended_at       TIMESTAMP,
    end_reason     TEXT NOT NULL DEFAULT '',
    end_by         TEXT NOT NULL DEFAULT '',
    cause          INTEGER NOT NULL DEFAULT 0,
    recording_path TEXT NOT NULL DEFAULT '',
    recording_ms   INTEGER NOT NULL DEFAULT 0,
    repeat         INTEGER NOT NULL DEFAULT 0 -- joined an earlier ticket (并单)
);
CREATE INDEX calls_ticket ON calls (ticket_id);

-- Callback attempts to make (回访): the dialer claims one with a lease.
CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    kind        TEXT NOT NULL CHECK (kind IN ('survey', 'return', 'manual')),
    number      TEXT NOT NULL,
    not_before  TIMESTAMP NOT NULL,
    due_at      TIMESTAMP NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMP,
    outcome     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX callbacks_ready ON callbacks (state, not_before);
CREATE INDEX callbacks_ticket ON callbacks (ticket_id);

CREATE TABLE callback_attempts (
    id          INTEGER PRIMARY KEY,
    callback_id INTEGER NOT NULL REFERENCES callbacks (id),
    attempt     INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    claimed_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome     TEXT NOT NULL DEFAULT '',
    UNIQUE (callback_id, attempt)
);

-- Published monthly reports, frozen with the hash of their content.
CREATE TABLE reports (
    month        TEXT PRIMARY KEY,
    published_at TIMESTAMP NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL
);

-- +goose Down
DROP TABLE reports;
DROP TABLE callback_attempts;
DROP TABLE callbacks;
DROP TABLE calls;
DROP TABLE deadlines;
DROP TABLE ticket_events;
DROP TABLE tickets;
DROP TABLE ticket_numbers;
DROP TABLE users;
DROP TABLE units;
