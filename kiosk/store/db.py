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

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Keep the -wal file from staying large after a burst: truncated to this at checkpoints.
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024
SIDECARS = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPTION = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do, in one line."""


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
    """

    def __init__(
        self, path: str | Path, *, now: Callable[[], datetime], recover: bool = True
    ) -> None:
        self.path = Path(path)
        self.now = now
        self.recover = recover
        self.recovered_from: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._depth = 0

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

    # -- outbox ------------------------------------------------------------------------------

    def emit(self, conn: sqlite3.Connection, kind: str, payload: Mapping[str, Any]) -> str:
        """Write an outbox event in the caller's transaction and return its event id.

        The event id (uuid4 hex) is the idempotency key hq uses, so a batch resent after a
        lost answer is stored once. The payload is canonical JSON (sorted keys, UTF-8 kept).
        """
        if not conn.in_transaction:
            raise RuntimeError("emit() must be called inside store.transaction()")
        if not isinstance(kind, str) or not kind.strip():
            raise ValueError("an outbox event needs a non-empty kind")
        body = json.dumps(
            dict(payload), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
            allow_nan=False,
        )
        event_id = uuid.uuid4().hex
        conn.execute(
            "INSERT INTO outbox (event_id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            (event_id, kind, body, self.timestamp()),
        )
        return event_id

    def outbox_pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """The oldest unsent events, in the order they were written, payloads decoded."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        with self.read() as conn:
            rows = conn.execute(
                "SELECT id, event_id, kind, payload, created_at FROM outbox"
                " WHERE sent_at IS NULL ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]

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
            raise StoreError(
                f"{self.path}: database schema v{current} is newer than this kiosk (v{target}):"
                " update the kiosk software"
            )
        return current
