"""The kiosk's SQLite store: connection, durability settings, migrations and the outbox.

The core is the one writer. Everything the post does (a logbook entry, a relay change, an
alarm) is written together with an outbox event in one transaction, so hq receives either both
or neither.

Durability choices, for an SD card in a box whose plug gets pulled:

* ``journal_mode=WAL``: a reader (the API answering the screen, ``kiosk logbook verify``) never
  blocks the writer and the writer never blocks readers, so the reconcile loop is not held up
  by a slow query. A commit is one sequential append to the ``-wal`` file plus one fsync,
  where the rollback journal needs several fsyncs (journal, database, journal header) per
  commit: fewer, smaller writes are both faster and gentler on flash.
* ``synchronous=FULL``, not ``NORMAL``: in WAL mode ``NORMAL`` skips the fsync at commit and
  syncs only at checkpoints, so the database stays consistent after a power cut but the last
  commits can vanish. The API promises that a 2xx answer means the change is on disk (an
  acknowledged alarm must not come back un-acknowledged after the guard unplugs the Pi), so
  every commit is fsynced. The cost is one fsync per transaction, and the post writes a few
  times a minute, not a few hundred times a second. No software setting can save a card that
  lies about flushing its cache: use an industrial card or a UPS hat where that matters.
* ``foreign_keys=ON`` (SQLite's default is off) and ``busy_timeout``, so another process that
  briefly holds a lock (a CLI check, a backup) makes us wait rather than fail.
* ``PRAGMA quick_check`` at every start (``integrity_check`` minus the index cross-checks, so
  one pass over a kiosk-sized file). A file that is not a database or is damaged is set
  aside as ``<name>.corrupt-<YYYYmmddTHHMMSS>`` (with its ``-wal``/``-shm``) and a fresh
  database is created: the post must keep working (lights, alarms) and the guard is alerted
  through :attr:`Store.recovered_from`. The damaged file is kept for whoever repairs it; the
  events already synced to hq are safe there.
* ``secure_delete=FAST``: bytes a row no longer uses are zeroed when their page is written
  anyway, so a value replaced by its sealed form does not linger in free space.

Personal data is sealed (:mod:`kiosk.store.sealed`): the columns in :data:`SEALED` and every
outbox payload. The key file is opened with the database; without it (lost, wrong, unreadable)
the store still opens, because lights and alarms need no personal data, but :meth:`Store.seal`
refuses and sealed values read as :data:`~kiosk.store.sealed.LOCKED` until the key is back. A
key is only ever created for a database that holds no sealed data yet (no check value in
``meta``): a new key for a sealed database would make its data unreadable for good.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.store import migrations
from kiosk.store.sealed import (
    LOCKED,
    KeyUnavailable,
    Sealer,
    SealError,
    is_sealed,
    load_key,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Keep the -wal file from staying large after a burst: truncated to this at checkpoints.
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024
SIDECARS = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPTION = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
# Columns holding personal data, sealed at rest: table -> (its key column, the columns).
SEALED = {
    "visits": ("id", ("name", "institution", "phone", "id_last4")),
    "invitations": ("code", ("name", "institution")),
    "watchlist": ("id", ("name", "institution", "id_last4")),
}
# A sealed value in meta: its presence says "this database holds data sealed under a key".
CHECK_KEY = "sealed.check"
CHECK_TEXT = "gatehouse-kiosk"
DEFAULT_KEY = "data.key"  # beside the database unless security.key_file says otherwise


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do, in one line."""


class SchemaTooNew(StoreError):
    """The database was written by a newer kiosk: restarting cannot help, updating can."""


class _Corrupt(Exception):
    """Internal: the file at the path is not a healthy database."""


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPTION
    message = str(exc)
    return "file is not a database" in message or "malformed" in message


def _has_sqlite_header(path: Path) -> bool:
    """True for an empty file (SQLite initialises it) or one that starts like a database."""
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    return head in (b"", SQLITE_HEADER)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iso(moment: datetime) -> str:
    """Format an aware datetime as stored: ISO 8601 with offset, millisecond precision.

    Naive datetimes are refused because a timestamp without an offset cannot be compared
    once the configured timezone changes or the rows reach hq.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the clock must return aware datetimes")
    return moment.isoformat(timespec="milliseconds")


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements, keeping trigger bodies whole.

    ``executescript`` would commit any open transaction first, so the migration runner runs
    statements one by one inside its own transaction instead.
    """
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement.strip(";").strip():
                statements.append(statement)
            buffer = ""
    if buffer.rstrip(";").strip():
        raise ValueError(f"incomplete SQL statement at the end of the script: {buffer[:60]!r}")
    return statements


class Store:
    """The SQLite database, opened once by the core and shared by its threads.

    Args:
        path: The database file; its directory is created (0700) if missing.
        now: The injected clock; returns an aware datetime.
        recover: Set a corrupt file aside and start fresh (the core). A tool that only reads
            (``kiosk logbook verify``) passes False so it never renames the live database;
            it gets a :class:`StoreError` instead.
        key_file: The key that seals personal data; created (0600) if missing while the
            database holds no sealed data. None (a tool, a test) uses ``data.key`` beside the
            database if it is there, the core's default, and never creates one: without it,
            values are stored as given and sealed ones read as locked.
    """

    def __init__(
        self, path: str | Path, *, now: Callable[[], datetime], recover: bool = True,
        key_file: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.now = now
        self.recover = recover
        self.key_file = Path(key_file) if key_file else self.path.with_name(DEFAULT_KEY)
        self._may_create_key = bool(key_file)
        self.recovered_from: Path | None = None
        # Why personal data cannot be sealed or opened now (one line for the admin), or None.
        self.locked: str | None = None
        self._sealer: Sealer | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._unopened = 0  # sealed values that did not open, logged once per store

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> Store:
        """Connect, check the file, set a corrupt one aside and bring the schema up to date."""
        with self._lock:
            if self._conn is not None:
                return self
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.recovered_from = None
            try:
                conn = self._connect()
            except _Corrupt as exc:
                if not self.recover:
                    raise StoreError(f"{self.path}: database is damaged ({exc})") from exc
                self.recovered_from = self._set_aside(str(exc))
                try:
                    conn = self._connect()
                except _Corrupt as again:
                    raise StoreError(
                        f"{self.path}: cannot create a fresh database: {again}"
                    ) from again
            try:
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._unlock()
            return self

    def close(self) -> None:
        """Close the connection; the last one to close checkpoints the WAL into the file."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version this code brings a database to."""
        return len(migrations.MIGRATIONS)

    def timestamp(self) -> str:
        """The injected clock's current time, formatted as stored."""
        return iso(self.now())

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``, serialised by a lock, yielding the connection.

        IMMEDIATE takes the write lock up front, so a transaction never fails halfway with
        "database is locked". An exception rolls everything back. Used again inside the same
        thread it joins the outer transaction through a savepoint: the inner block's writes
        commit with the outer one, and an exception the outer code catches undoes only them.
        """
        conn = self._connection()
        with self._lock:
            if self._depth:
                name = f"nested_{self._depth}"
                conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                    raise
                else:
                    conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for queries, under the same lock (one writer, small data)."""
        conn = self._connection()
        with self._lock:
            yield conn

    # -- sealed personal data ----------------------------------------------------------------

    @property
    def sealing(self) -> bool:
        """Whether values are sealed when written (a key is loaded)."""
        return self._sealer is not None

    def require_key(self) -> None:
        """Refuse, before anything is written, what would store personal data without the key.

        Raises:
            KeyUnavailable: the key is missing or wrong; the message says what to do.
        """
        if self.locked is not None:
            raise KeyUnavailable(f"guests' personal data is locked: {self.locked}")

    def seal(self, text: str | None) -> str | None:
        """``text`` as it is stored: sealed when a key is loaded (None and "" stay as they are).

        Raises:
            KeyUnavailable: the key is missing or wrong; nothing personal may be written now.
        """
        self.require_key()
        if text is None or self._sealer is None:
            return text
        return self._sealer.seal(text)

    def unseal(self, value: str | None) -> str | None:
        """A stored value as text: opened if sealed, :data:`LOCKED` if it cannot be opened.

        Never raises: without the key the guard's screens show a placeholder, not an error.
        """
        if not is_sealed(value):
            return value
        if self._sealer is not None:
            try:
                return self._sealer.open(value)
            except SealError as exc:
                self._report_unopened(str(exc))
                return LOCKED
        self._report_unopened(self.locked or "no key file was given")
        return LOCKED

    def unsealed(self, row: Mapping[str, Any] | sqlite3.Row | None,
                 table: str) -> dict[str, Any] | None:
        """A row of ``table`` as a dict with its personal columns opened (:data:`SEALED`).

        One place knows which columns are sealed, so a reader cannot forget one.
        """
        if row is None:
            return None
        out = dict(row)
        for column in SEALED[table][1]:
            if column in out:
                out[column] = self.unseal(out[column])
        return out

    def seal_plain(self) -> int:
        """Seal the personal values and payloads still stored as plain text; return how many.

        They are there from before sealing, from while the key was missing, or from code that
        writes rows without sealing them (invitations pulled from hq). No-op without a key.
        """
        if self._sealer is None:
            return 0
        count = 0
        with self.transaction() as conn:
            for table, (key, columns) in SEALED.items():
                plain = " OR ".join(f"({c} <> '' AND substr({c}, 1, 5) <> 'enc1:')"
                                    for c in columns)
                rows = conn.execute(
                    f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {plain}").fetchall()
                for row in rows:
                    values = [self._sealer.seal(row[c]) if row[c] and not is_sealed(row[c])
                              else row[c] for c in columns]
                    conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)}"
                                 f" WHERE {key} = ?", (*values, row[key]))
                count += len(rows)
            rows = conn.execute("SELECT id, payload FROM outbox "
                                "WHERE substr(payload, 1, 5) <> 'enc1:'").fetchall()
            for row in rows:
                conn.execute("UPDATE outbox SET payload = ? WHERE id = ?",
                             (self._sealer.seal(row["payload"]), row["id"]))
            count += len(rows)
        return count

    # -- outbox ------------------------------------------------------------------------------

    def emit(self, conn: sqlite3.Connection, kind: str, payload: Mapping[str, Any], *,
             visit_id: int | None = None) -> str:
        """Write an outbox event in the caller's transaction and return its event id.

        The event id (uuid4 hex) is the idempotency key hq uses, so a batch resent after a
        lost answer is stored once. The payload is canonical JSON (sorted keys, UTF-8 kept),
        sealed when a key is loaded: events carry guests' details. Without the key (locked)
        it is written plain, so alarms still reach hq; nothing personal is written then.
        ``visit_id`` names the visit an event is about, so retention can tell whether all of
        a visit's events have reached hq.
        """
        if not conn.in_transaction:
            raise RuntimeError("emit() must be called inside store.transaction()")
        if not isinstance(kind, str) or not kind.strip():
            raise ValueError("an outbox event needs a non-empty kind")
        body = json.dumps(
            dict(payload), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
            allow_nan=False,
        )
        if self._sealer is not None:
            body = self._sealer.seal(body)
        event_id = uuid.uuid4().hex
        conn.execute(
            "INSERT INTO outbox (event_id, kind, payload, created_at, visit_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, kind, body, self.timestamp(), visit_id),
        )
        return event_id

    def outbox_pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """The oldest unsent events, in the order they were written, payloads opened and decoded.

        An event sealed under a key that is not loaded now is passed over (it stays unsent
        and goes once the key is back); hq orders events by their ``id``, so the ones after
        it can go meanwhile.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        out: list[dict[str, Any]] = []
        skipped = 0
        with self.read() as conn:
            cursor = conn.execute(
                "SELECT id, event_id, kind, payload, created_at FROM outbox"
                " WHERE sent_at IS NULL ORDER BY id"
            )
            while len(out) < limit:
                rows = cursor.fetchmany(limit)
                if not rows:
                    break
                for row in rows:
                    body = self._open_payload(row["payload"])
                    if body is None:
                        skipped += 1
                    elif len(out) < limit:
                        out.append({**dict(row), "payload": json.loads(body)})
            cursor.close()
        if skipped:
            log.warning("%d outbox events are sealed under a key not loaded now (%s); they "
                        "wait until it is restored", skipped, self.locked or "wrong key")
        return out

    def mark_sent(self, event_ids: Iterable[str], at: datetime) -> int:
        """Record that hq stored these events; returns how many were newly marked.

        Marking an event twice keeps the first time, so a retried sync is harmless.
        """
        stamp = iso(at)
        count = 0
        with self.transaction() as conn:
            for event_id in event_ids:
                count += conn.execute(
                    "UPDATE outbox SET sent_at = ? WHERE event_id = ? AND sent_at IS NULL",
                    (stamp, event_id),
                ).rowcount
        return count

    # -- internals ---------------------------------------------------------------------------

    def _open_payload(self, payload: str) -> str | None:
        if not is_sealed(payload):
            return payload
        if self._sealer is None:
            return None
        try:
            return self._sealer.open(payload)
        except SealError:
            return None

    def _report_unopened(self, reason: str) -> None:
        if not self._unopened:
            log.error("%s: sealed personal data cannot be read: %s", self.path, reason)
        self._unopened += 1

    def _unlock(self) -> None:
        """Load the key and check it against the database; lock (never fail) if that fails.

        The check value says whether this database already holds sealed data. If it does,
        a missing key file is restored from backup, never made anew; if it does not, a new
        key is created and the check value written under it.
        """
        self._sealer, self.locked, self._unopened = None, None, 0
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (CHECK_KEY,)).fetchone()
        check = row["value"] if row else None
        path = self.key_file
        try:
            key = load_key(path, create=check is None and self._may_create_key)
        except ValueError as exc:
            self._lock_out(str(exc))
            return
        except OSError as exc:
            self._lock_out(f"cannot read or create key file {path}: {exc.strerror or exc}: "
                           "check its owner and permissions (install.sh creates it)")
            return
        if key is None:
            if check is None:
                pass  # a tool on a database that has never sealed anything: values as given
            elif self._may_create_key:
                self._lock_out(f"key file {path} is missing and the database holds sealed "
                               "personal data: restore the key file from backup and restart "
                               "the core")
            else:  # a tool that was not told where the key is: not a lost key
                self.locked = (f"personal data is sealed and there is no key at {path}: give "
                               "the configured key file (security.key_file) to read it")
                log.warning("%s: %s", self.path, self.locked)
            return
        sealer = Sealer(key)
        if check is not None:
            try:
                sealer.open(check)
            except SealError:
                self._lock_out(f"key file {path} is not the key of this database: restore the "
                               "kiosk's own key file from backup and restart the core")
                return
        else:
            with self.transaction() as conn:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (CHECK_KEY, sealer.seal(CHECK_TEXT)))
        self._sealer = sealer
        if self.seal_plain():
            # Plain values from before: out of the -wal too, not only out of the tables.
            with self.read() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _lock_out(self, reason: str) -> None:
        self.locked = reason
        log.error("%s: guests cannot be registered: %s", self.path, reason)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the store is not open: call Store.open() first")
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        """Open the file with our PRAGMAs and check it; raise _Corrupt if it is damaged."""
        created = not self.path.exists()
        if not created and not _has_sqlite_header(self.path):
            # Decided without SQLite: closing a connection to it would delete the -wal/-shm
            # beside it, and whoever repairs the file may need them.
            raise _Corrupt("file is not a database")
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if created:
                os.chmod(self.path, 0o600)
            if mode.lower() != "wal":
                log.warning("%s: journal_mode is %s, not wal (still durable)", self.path, mode)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = FAST")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise _Corrupt("quick_check: " + "; ".join(problems[:3]))
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_corruption(exc):
                raise _Corrupt(str(exc)) from exc
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_aside(self, reason: str) -> Path:
        """Rename the damaged file and its sidecars out of the way; return the new name.

        Sidecars go first: a stale ``-wal`` left beside a fresh database would be replayed
        into it.
        """
        stamp = self.now().strftime("%Y%m%dT%H%M%S")
        base = f"{self.path.name}.corrupt-{stamp}"
        target = self.path.with_name(base)
        n = 1
        while any(Path(f"{target}{s}").exists() for s in ("", *SIDECARS)):
            n += 1
            target = self.path.with_name(f"{base}-{n}")
        for suffix in SIDECARS:
            sidecar = Path(f"{self.path}{suffix}")
            if sidecar.exists():
                os.replace(sidecar, f"{target}{suffix}")
        os.replace(self.path, target)
        _fsync_dir(self.path.parent)
        log.error("%s is damaged (%s); set aside as %s, starting fresh", self.path, reason, target)
        return target

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Apply the missing migrations, each in its own transaction with its version bump."""
        target = len(migrations.MIGRATIONS)
        current = self._user_version(conn, target)
        for version in range(current + 1, target + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Read again under the write lock: another process may have migrated meanwhile.
                if self._user_version(conn, target) < version:
                    for statement in split_statements(migrations.MIGRATIONS[version - 1]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(
                    f"{self.path}: schema migration to v{version} failed: {exc}"
                ) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _user_version(self, conn: sqlite3.Connection, target: int) -> int:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > target:
            raise SchemaTooNew(
                f"{self.path}: database schema v{current} is newer than this kiosk (v{target}):"
                " update the kiosk software"
            )
        return current
