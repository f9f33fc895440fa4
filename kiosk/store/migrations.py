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

# v3: the guard's registers (SOP 3-6). Names only where the paper registers have them (the
# borrower, a vehicle's driver, who took the mail); no identity or phone numbers, no couriers.
V3 = """
-- Office inventory and vehicles lent out (SOP 3). asset is the item's name or the vehicle's
-- plate as configured when it was lent.
CREATE TABLE loans (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('item', 'vehicle')),
    asset              TEXT NOT NULL CHECK (length(trim(asset)) > 0),
    borrower           TEXT NOT NULL CHECK (length(trim(borrower)) > 0),
    unit               TEXT NOT NULL,
    purpose            TEXT NOT NULL,
    expected_back_at   TEXT,
    lent_at            TEXT NOT NULL,
    lent_by            TEXT NOT NULL,
    returned_at        TEXT,
    condition          TEXT,
    received_by        TEXT,
    return_recorded_by TEXT,
    CHECK ((returned_at IS NULL) = (received_by IS NULL))
);
-- An asset is never out twice at once, whatever the code above does: two guards lending the
-- same projector at the same moment get one loan and one refusal.
CREATE UNIQUE INDEX loans_one_open ON loans (kind, asset) WHERE returned_at IS NULL;
CREATE INDEX loans_lent ON loans (julianday(lent_at));
CREATE INDEX loans_returned ON loans (julianday(returned_at)) WHERE returned_at IS NOT NULL;

-- Vehicles through the gate (SOP 4). A row is one excursion from where the vehicle belongs:
-- another vehicle's stay inside (in_at, then out_at), an office vehicle's trip out (out_at,
-- then in_at). The first time may be NULL when the guard records only the second movement.
CREATE TABLE vehicle_log (
    id      INTEGER PRIMARY KEY,
    plate   TEXT NOT NULL CHECK (length(plate) > 0),
    office  INTEGER NOT NULL CHECK (office IN (0, 1)),
    driver  TEXT NOT NULL DEFAULT '',
    purpose TEXT NOT NULL DEFAULT '',
    loan_id INTEGER REFERENCES loans (id),
    in_at   TEXT,
    in_by   TEXT,
    out_at  TEXT,
    out_by  TEXT,
    CHECK (in_at IS NOT NULL OR out_at IS NOT NULL)
);
-- One open excursion per plate; the same WHERE term is in the queries so SQLite uses it.
CREATE UNIQUE INDEX vehicle_log_open ON vehicle_log (plate)
    WHERE (office = 0 AND out_at IS NULL) OR (office = 1 AND in_at IS NULL);
CREATE INDEX vehicle_log_in ON vehicle_log (julianday(in_at)) WHERE in_at IS NOT NULL;
CREATE INDEX vehicle_log_out ON vehicle_log (julianday(out_at)) WHERE out_at IS NOT NULL;

-- Letters and packages left at the post (SOP 5-6), until handed to the archive or recipient.
CREATE TABLE mail (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('letter', 'package')),
    sender       TEXT NOT NULL CHECK (length(trim(sender)) > 0),
    addressee    TEXT NOT NULL CHECK (length(trim(addressee)) > 0),
    description  TEXT NOT NULL DEFAULT '',
    received_at  TEXT NOT NULL,
    received_by  TEXT NOT NULL,
    delivered_at TEXT,
    delivered_to TEXT CHECK (delivered_to IN ('archive', 'recipient')),
    taken_by     TEXT,
    delivered_by TEXT,
    CHECK ((delivered_at IS NULL) = (delivered_to IS NULL))
);
CREATE INDEX mail_pending ON mail (id) WHERE delivered_at IS NULL;
CREATE INDEX mail_received ON mail (julianday(received_at));
"""

# v4: SOP runs (kiosk.sop). A run keeps a copy of its procedure (JSON), so a file edited or
# removed later never changes a run under way. Each time a run enters a step is a pass; a
# "no" that loops back adds passes and never rewrites the earlier ones.
V4 = """
CREATE TABLE sop_runs (
    id            INTEGER PRIMARY KEY,
    sop_id        TEXT NOT NULL,
    definition    TEXT NOT NULL CHECK (json_valid(definition)),
    title         TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled')),
    started_at    TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    ended_at      TEXT,
    ended_by      TEXT,
    cancel_reason TEXT
);
CREATE INDEX sop_runs_running ON sop_runs (id) WHERE status = 'running';

CREATE TABLE sop_passes (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES sop_runs (id),
    seq              INTEGER NOT NULL CHECK (seq >= 1),
    step_id          TEXT NOT NULL,
    standard_minutes INTEGER NOT NULL CHECK (standard_minutes >= 0),
    opened_at        TEXT NOT NULL,
    done_at          TEXT,
    done_by          TEXT,
    answer           TEXT CHECK (answer IN ('yes', 'no')),
    note             TEXT NOT NULL DEFAULT '',
    UNIQUE (run_id, seq)
);
-- A run is at one step at a time, whatever the code does.
CREATE UNIQUE INDEX sop_passes_open ON sop_passes (run_id) WHERE done_at IS NULL;
"""

# v5: the duty roster (SOP 1, 20, 21) and the shift handover (SOP 19). The weekly roster is
# config; only an admin's override of one date lives here, and the newest live one wins. A
# shift is named by the date it starts on and the shift's name ("2026-11-22", "malam").
# Guards are named as in the roster; a missed check-in is recorded once per shift, so a
# restart never sends the backups a second SMS.
V5 = """
CREATE TABLE roster_overrides (
    id           INTEGER PRIMARY KEY,
    day          TEXT NOT NULL,
    duties       TEXT NOT NULL CHECK (json_valid(duties)),
    reason       TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    cancelled_at TEXT,
    cancelled_by TEXT
);
CREATE UNIQUE INDEX roster_overrides_live ON roster_overrides (day) WHERE cancelled_at IS NULL;

CREATE TABLE roster_checkins (
    id    INTEGER PRIMARY KEY,
    day   TEXT NOT NULL,
    shift TEXT NOT NULL,
    guard TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('guard', 'backup')),
    via   TEXT NOT NULL CHECK (via IN ('checkin', 'handover')),
    at    TEXT NOT NULL,
    UNIQUE (day, shift, guard)
);

CREATE TABLE roster_missed (
    day        TEXT NOT NULL,
    shift      TEXT NOT NULL,
    guard      TEXT NOT NULL,
    alerted_at TEXT NOT NULL,
    alert_id   INTEGER REFERENCES alerts (id),
    PRIMARY KEY (day, shift)
);

-- Off-roster guards called in for an office event (SOP 21); guards holds each name with the
-- id of its row in sms.
CREATE TABLE callouts (
    id         INTEGER PRIMARY KEY,
    event_at   TEXT NOT NULL,
    note       TEXT NOT NULL CHECK (length(trim(note)) > 0),
    guards     TEXT NOT NULL CHECK (json_valid(guards)),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- summary is the snapshot the outgoing guard handed over (alarms, alerts, guests, ...).
CREATE TABLE handovers (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    outgoing_id INTEGER NOT NULL REFERENCES guards (id),
    outgoing    TEXT NOT NULL,
    incoming_id INTEGER NOT NULL REFERENCES guards (id),
    incoming    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL CHECK (json_valid(summary))
);
CREATE INDEX handovers_time ON handovers (julianday(at));
"""

# v6: patrol rounds (SOP 13, kiosk.patrols). A round keeps the route as configured when it
# started, so a later change of [[tasks.patrols.checkpoints]] does not rewrite what a past
# round missed. At most one round per patrol task; a patrol task flagged as missed is
# remembered in patrol_missed, so the flag is raised once, across restarts too.
V6 = """
CREATE TABLE patrol_rounds (
    id          INTEGER PRIMARY KEY,
    task_id     TEXT REFERENCES tasks (id),
    route       TEXT NOT NULL CHECK (json_valid(route)),
    started_at  TEXT NOT NULL,
    started_by  TEXT NOT NULL,
    finished_at TEXT,
    finished_by TEXT,
    note        TEXT CHECK (note IS NULL OR length(note) <= 500)
);
CREATE UNIQUE INDEX patrol_rounds_task ON patrol_rounds (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX patrol_rounds_open ON patrol_rounds (id) WHERE finished_at IS NULL;
CREATE INDEX patrol_rounds_time ON patrol_rounds (julianday(started_at));

CREATE TABLE patrol_scans (
    round_id      INTEGER NOT NULL REFERENCES patrol_rounds (id),
    checkpoint_id TEXT NOT NULL,
    scanned_at    TEXT NOT NULL,
    scanned_by    TEXT NOT NULL,
    PRIMARY KEY (round_id, checkpoint_id)
);

CREATE TABLE patrol_missed (
    task_id    TEXT PRIMARY KEY REFERENCES tasks (id),
    flagged_at TEXT NOT NULL,
    alert_id   INTEGER REFERENCES alerts (id)
);
"""

V7 = """
-- Sync with hq: the pull cursor, hq's key and name for this kiosk, the last run's outcome,
-- and the newest staff directory / roster / SMS recipients hq sent.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
"""

# v8: personal data sealed at rest (kiosk.store.sealed). Outbox payloads may be sealed text
# ("enc1:..."), which is not JSON, so the table is rebuilt without that CHECK (SQLite cannot
# drop one in place), keeping ids and the AUTOINCREMENT counter; visit_id names the visit an
# event is about, so retention keeps a visit until its events are at hq. Matching the
# watchlist by name moves to Python on opened values (name_key would keep the name readable),
# and guests on a roll call are labelled by visit and badge, not by name. Sealing the values
# themselves needs the key, so the store does it when it opens (Store.seal_plain).
V8 = """
CREATE TABLE outbox_v8 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (length(kind) > 0),
    payload    TEXT NOT NULL CHECK (substr(payload, 1, 5) = 'enc1:' OR json_valid(payload)),
    created_at TEXT NOT NULL,
    sent_at    TEXT,
    visit_id   INTEGER
);
INSERT INTO outbox_v8 (id, event_id, kind, payload, created_at, sent_at, visit_id)
    SELECT id, event_id, kind, payload, created_at, sent_at,
           CASE WHEN kind LIKE 'visit.%' THEN json_extract(payload, '$.id')
                WHEN kind = 'alert.raised' THEN json_extract(payload, '$.visit_id') END
    FROM outbox ORDER BY id;
-- Never reuse an id, even one whose row is gone: carry the counter over.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbox_v8', seq FROM sqlite_sequence WHERE name = 'outbox'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox_v8');
UPDATE sqlite_sequence SET seq = max(seq, coalesce(
    (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)) WHERE name = 'outbox_v8';
DROP TABLE outbox;
ALTER TABLE outbox_v8 RENAME TO outbox;
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_visit_unsent ON outbox (visit_id)
    WHERE sent_at IS NULL AND visit_id IS NOT NULL;

UPDATE watchlist SET name_key = '';
DROP INDEX watchlist_key;
UPDATE rollcall_entries SET label = 'Tamu #' || ref || coalesce(
    ' (kartu ' || (SELECT badge FROM visits WHERE visits.id = rollcall_entries.ref) || ')', '')
    WHERE kind = 'guest';
"""

MIGRATIONS: list[str] = [V1, V2, V3, V4, V5, V6, V7, V8]
"""Migration scripts in order; the schema version is ``len(MIGRATIONS)``."""
