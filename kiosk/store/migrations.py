"""The kiosk's database schema, as an ordered list of migration scripts.

``MIGRATIONS[0]`` takes an empty database to schema v1, ``MIGRATIONS[1]`` v1 to v2, and so
on; ``PRAGMA user_version`` records how many have been applied. The runner in
:mod:`kiosk.store.db` applies each missing script in its own transaction, so a power cut in the
middle of an upgrade leaves the previous version intact rather than half a schema.

Rules for whoever adds v2: never edit a script that has shipped (kiosks in the field already
ran it); append a new one. Keep one statement per ``;`` outside trigger bodies, and no
``BEGIN``/``COMMIT`` of your own: the runner owns the transaction.

Timestamps are ISO 8601 text with the UTC offset (``2026-11-22T17:00:00.000+07:00``) from the
injected clock, so a row reads the same on the Pi, in a dump and at hq.
"""

from __future__ import annotations

V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every domain change writes an event here in the same transaction; sync ships them to hq in
-- id order and hq stores them idempotently by event_id. AUTOINCREMENT so an id is never
-- reused, even after old sent events are pruned.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (length(kind) > 0),
    payload    TEXT NOT NULL CHECK (json_valid(payload)),
    created_at TEXT NOT NULL,
    sent_at    TEXT
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Buku Kejadian/Mutasi: append-only and hash-chained (see kiosk.store.logbook).
CREATE TABLE logbook (
    id        INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    category  TEXT NOT NULL CHECK (length(trim(category)) > 0),
    text      TEXT NOT NULL CHECK (length(text) <= 4000),
    actor     TEXT NOT NULL,
    corrects  INTEGER REFERENCES logbook (id),
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash      TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
);
CREATE INDEX logbook_time ON logbook (julianday(ts));
CREATE INDEX logbook_corrects ON logbook (corrects) WHERE corrects IS NOT NULL;
-- The database itself refuses edits, so no code path (or hand-typed SQL) can rewrite history.
CREATE TRIGGER logbook_no_update BEFORE UPDATE ON logbook
BEGIN
    SELECT RAISE(ABORT, 'logbook is append-only: add a correction entry instead');
END;
CREATE TRIGGER logbook_no_delete BEFORE DELETE ON logbook
BEGIN
    SELECT RAISE(ABORT, 'logbook is append-only: entries cannot be deleted');
END;

-- Every relay change with its cause: schedule, override, alarm or safe state.
CREATE TABLE relay_log (
    id     INTEGER PRIMARY KEY,
    ts     TEXT NOT NULL,
    relay  TEXT NOT NULL,
    is_on  INTEGER NOT NULL CHECK (is_on IN (0, 1)),
    source TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX relay_log_relay ON relay_log (relay, id);

CREATE TABLE overrides (
    id           INTEGER PRIMARY KEY,
    relay        TEXT NOT NULL,
    is_on        INTEGER NOT NULL CHECK (is_on IN (0, 1)),
    reason       TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    cancelled_at TEXT,
    cancelled_by TEXT
);
CREATE INDEX overrides_live ON overrides (relay) WHERE cancelled_at IS NULL;

CREATE TABLE alarms (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL,
    source     TEXT NOT NULL,
    raised_at  TEXT NOT NULL,
    raised_by  TEXT NOT NULL,
    acked_at   TEXT,
    acked_by   TEXT,
    cleared_at TEXT,
    cleared_by TEXT
);
CREATE INDEX alarms_active ON alarms (raised_at) WHERE cleared_at IS NULL;

CREATE TABLE sms (
    id         INTEGER PRIMARY KEY,
    alarm_id   INTEGER REFERENCES alarms (id),
    number     TEXT NOT NULL,
    text       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    reference  INTEGER,
    error      TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX sms_alarm ON sms (alarm_id);
CREATE INDEX sms_pending ON sms (id) WHERE status = 'pending';

CREATE TABLE tasks (
    id         TEXT PRIMARY KEY,
    day        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    title_id   TEXT NOT NULL,
    title_en   TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    overdue_at TEXT NOT NULL,
    done_at    TEXT,
    done_by    TEXT
);
CREATE INDEX tasks_day ON tasks (day, due_at);

CREATE TABLE guards (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    role        TEXT NOT NULL CHECK (role IN ('guard', 'admin')),
    pin_hash    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    disabled_at TEXT
);

-- One row: the PIN lockout must survive a restart, or pulling the plug resets it.
CREATE TABLE auth_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
);
INSERT INTO auth_state (id, failures) VALUES (1, 0);
"""

# v2: guests (SOP 5-8, 7a-7c). Identity numbers are never stored: only the type, the last 4
# characters and an HMAC under a per-kiosk secret kept in meta (kiosk.watchlist), enough to
# recognise a returning guest or a barred one. "On site" is status awaiting_host, held or
# admitted; the same IN term is in the partial indexes and the queries so SQLite uses them.
V2 = """
CREATE TABLE visits (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    institution        TEXT NOT NULL,
    phone              TEXT NOT NULL,
    purpose            TEXT NOT NULL,
    host               TEXT NOT NULL,
    party_size         INTEGER NOT NULL CHECK (party_size BETWEEN 1 AND 20),
    id_type            TEXT NOT NULL,
    id_last4           TEXT NOT NULL,
    id_hash            TEXT,
    temperature_c      REAL,
    temperature_source TEXT CHECK (temperature_source IN ('sensor', 'manual')),
    temperature_by     TEXT,
    consent_at         TEXT NOT NULL,
    badge              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN
                           ('awaiting_host', 'held', 'admitted', 'denied', 'checked_out')),
    hold_reason        TEXT,
    returning_guest    INTEGER NOT NULL DEFAULT 0 CHECK (returning_guest IN (0, 1)),
    invitation         TEXT,
    created_at         TEXT NOT NULL,
    decided_at         TEXT,
    decided_by         TEXT,
    checked_out_at     TEXT,
    checked_out_by     TEXT,
    purged_at          TEXT
);
-- A badge is never on two guests on site at once, whatever the code above does.
CREATE UNIQUE INDEX visits_badge_on_site ON visits (badge)
    WHERE status IN ('awaiting_host', 'held', 'admitted');
CREATE INDEX visits_on_site ON visits (created_at)
    WHERE status IN ('awaiting_host', 'held', 'admitted');
CREATE INDEX visits_id_hash ON visits (id_hash) WHERE id_hash IS NOT NULL;
CREATE INDEX visits_badge ON visits (badge, id);
CREATE INDEX visits_time ON visits (julianday(created_at));

CREATE TABLE watchlist (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    institution TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    id_last4    TEXT,
    id_hash     TEXT,
    reason      TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    added_by    TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    removed_at  TEXT,
    removed_by  TEXT
);
CREATE INDEX watchlist_hash ON watchlist (id_hash) WHERE removed_at IS NULL;
CREATE INDEX watchlist_key ON watchlist (name_key) WHERE removed_at IS NULL;

-- Things the guard must see now: watchlist match, high temperature, no badge free, overstay.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (length(kind) > 0),
    text        TEXT NOT NULL,
    visit_id    INTEGER REFERENCES visits (id),
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT
);
CREATE INDEX alerts_open ON alerts (kind) WHERE resolved_at IS NULL;
CREATE INDEX alerts_visit ON alerts (visit_id) WHERE visit_id IS NOT NULL;

CREATE TABLE invitations (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    institution TEXT NOT NULL,
    host        TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    valid_on    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Evacuation roll call: one per run of fire/evacuation alarms, everyone on site at the time.
CREATE TABLE rollcalls (
    id        INTEGER PRIMARY KEY,
    alarm_id  INTEGER NOT NULL REFERENCES alarms (id),
    opened_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX rollcalls_open ON rollcalls (id) WHERE closed_at IS NULL;
CREATE TABLE rollcall_entries (
    rollcall_id INTEGER NOT NULL REFERENCES rollcalls (id),
    kind        TEXT NOT NULL CHECK (kind IN ('guest', 'guard')),
    ref         INTEGER NOT NULL,
    label       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    party_size  INTEGER NOT NULL DEFAULT 1,
    checked_at  TEXT,
    checked_by  TEXT,
    PRIMARY KEY (rollcall_id, kind, ref)
);
"""

MIGRATIONS: list[str] = [V1, V2]
"""Migration scripts in order; the schema version is ``len(MIGRATIONS)``."""
