"""The SQLite store: settings, migrations, transactions, outbox, corruption, crash safety."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk.store import Logbook, Store, StoreError, atomic_write, migrations
from kiosk.store.db import split_statements

WIB = timezone(timedelta(hours=7))
START = datetime(2026, 11, 22, 16, 59, 50, tzinfo=WIB)
REPO = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "kiosk.db"


@pytest.fixture
def store(db_path: Path):
    with Store(db_path, now=Clock()) as opened:
        yield opened


def make_real_db(path: Path, rows: int = 1500) -> int:
    """A healthy kiosk database with several pages of data, checkpointed into the file."""
    with Store(path, now=Clock()) as filled:
        book = Logbook(filled)
        with filled.transaction() as conn:
            for i in range(rows):
                book.append(conn, category="mutasi", text=f"patroli {i} " * 8, actor="Budi")
        with filled.read() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


# -- settings --------------------------------------------------------------------------------


def test_durability_pragmas_are_really_set(store: Store) -> None:
    with store.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert isinstance(conn.execute("SELECT 1 AS one").fetchone(), sqlite3.Row)


def test_missing_directory_is_created_private(db_path: Path, store: Store) -> None:
    assert db_path.parent.is_dir()
    assert db_path.parent.stat().st_mode & 0o777 == 0o700
    assert db_path.stat().st_mode & 0o777 == 0o600


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO sms (alarm_id, number, text, updated_at) VALUES (99, '+62', 'x', 't')"
            )


def test_using_a_closed_store_is_a_clear_error(db_path: Path) -> None:
    store = Store(db_path, now=Clock())
    with pytest.raises(RuntimeError, match="not open"):
        with store.transaction():
            pass


def test_naive_clock_is_refused(db_path: Path) -> None:
    with Store(db_path, now=lambda: datetime(2026, 1, 1)) as naive:
        with pytest.raises(ValueError, match="aware"):
            with naive.transaction() as conn:
                naive.emit(conn, "x", {})


# -- migrations ------------------------------------------------------------------------------


def test_schema_v1_has_every_table(store: Store) -> None:
    with store.read() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
    assert {
        "outbox", "logbook", "relay_log", "overrides", "alarms", "sms", "tasks", "guards",
        "auth_state", "meta",
    } <= tables


def test_migrations_are_idempotent(db_path: Path) -> None:
    with Store(db_path, now=Clock()) as first:
        with first.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('site', 'Pos 1')")
    for _ in range(2):
        with Store(db_path, now=Clock()) as again:
            with again.read() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                assert version == len(migrations.MIGRATIONS)
                assert [tuple(r) for r in conn.execute("SELECT value FROM meta")] == [("Pos 1",)]
                assert conn.execute("SELECT count(*) FROM auth_state").fetchone()[0] == 1
            assert again.recovered_from is None


def test_new_migration_is_applied_and_a_failed_one_rolls_back(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(db_path, now=Clock()).open().close()
    current = len(migrations.MIGRATIONS)
    monkeypatch.setattr(
        migrations, "MIGRATIONS",
        [*migrations.MIGRATIONS, "CREATE TABLE probe (id INTEGER PRIMARY KEY);",
         "CREATE TABLE half (x); THIS IS NOT SQL;"],
    )
    with pytest.raises(StoreError, match=f"migration to v{current + 2} failed"):
        Store(db_path, now=Clock()).open()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == current + 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "probe" in names and "half" not in names


def test_newer_schema_is_refused_with_one_clear_line(db_path: Path) -> None:
    Store(db_path, now=Clock()).open().close()
    newer = len(migrations.MIGRATIONS) + 1
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    with pytest.raises(StoreError) as caught:
        Store(db_path, now=Clock()).open()
    message = str(caught.value)
    expected = f"database schema v{newer} is newer than this kiosk (v{len(migrations.MIGRATIONS)})"
    assert f"{expected}: update the kiosk software" in message
    assert "\n" not in message
    assert sorted(p.name for p in db_path.parent.iterdir() if ".corrupt-" in p.name) == []


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    statements = split_statements(migrations.V1)
    triggers = [s for s in statements if "CREATE TRIGGER" in s]
    assert len(triggers) == 2 and all(t.endswith("END;") for t in triggers)
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TRIGGER t BEFORE DELETE ON x BEGIN SELECT 1;")


# -- transactions and the outbox -------------------------------------------------------------


def counts(store: Store) -> tuple[int, int]:
    with store.read() as conn:
        return (
            conn.execute("SELECT count(*) FROM relay_log").fetchone()[0],
            conn.execute("SELECT count(*) FROM outbox").fetchone()[0],
        )


def write_relay_change(store: Store, conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO relay_log (ts, relay, is_on, source, reason) VALUES (?, 'lights', 1,"
        " 'schedule', '17:00')",
        (store.timestamp(),),
    )
    store.emit(conn, "relay.changed", {"relay": "lights", "on": True})


def test_row_and_event_commit_together(store: Store) -> None:
    with store.transaction() as conn:
        write_relay_change(store, conn)
    assert counts(store) == (1, 1)


def test_rollback_leaves_neither_row_nor_event(store: Store) -> None:
    with pytest.raises(ZeroDivisionError):
        with store.transaction() as conn:
            write_relay_change(store, conn)
            raise ZeroDivisionError("the relay did not answer")
    assert counts(store) == (0, 0)
    with store.read() as conn:
        assert not conn.in_transaction


def test_nested_transaction_joins_the_outer_one(store: Store) -> None:
    with pytest.raises(KeyError):
        with store.transaction() as conn:
            write_relay_change(store, conn)
            with store.transaction() as inner:
                assert inner is conn
                write_relay_change(store, inner)
            raise KeyError("outer fails after the inner block finished")
    assert counts(store) == (0, 0)

    with store.transaction() as conn:
        write_relay_change(store, conn)
        with pytest.raises(ValueError):
            with store.transaction() as inner:
                write_relay_change(store, inner)
                raise ValueError("inner fails, outer carries on")
    assert counts(store) == (1, 1)


def test_transactions_from_threads_are_serialised(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('n', '0')")

    def bump() -> None:
        for _ in range(50):
            with store.transaction() as conn:
                n = int(conn.execute("SELECT value FROM meta WHERE key='n'").fetchone()[0])
                time.sleep(0)
                conn.execute("UPDATE meta SET value = ? WHERE key='n'", (str(n + 1),))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='n'").fetchone()[0] == "200"


def test_emit_outside_a_transaction_is_refused(store: Store) -> None:
    with store.read() as conn:
        with pytest.raises(RuntimeError, match="inside store.transaction"):
            store.emit(conn, "relay.changed", {})


def test_emit_writes_canonical_json_with_an_idempotency_key(store: Store) -> None:
    with store.transaction() as conn:
        event_id = store.emit(conn, "guest.in", {"z": 1, "name": "Sri Wahyuni — tamu", "a": None})
    with store.read() as conn:
        row = conn.execute("SELECT * FROM outbox").fetchone()
    assert row["event_id"] == event_id and len(event_id) == 32
    assert row["payload"] == '{"a":null,"name":"Sri Wahyuni — tamu","z":1}'
    assert row["created_at"] == "2026-11-22T16:59:50.000+07:00"
    assert row["sent_at"] is None


def test_outbox_pending_in_order_and_mark_sent_is_idempotent(store: Store) -> None:
    with store.transaction() as conn:
        ids = [store.emit(conn, "tick", {"n": n}) for n in range(5)]
    pending = store.outbox_pending(limit=3)
    assert [e["event_id"] for e in pending] == ids[:3]
    assert [e["payload"] for e in pending] == [{"n": 0}, {"n": 1}, {"n": 2}]
    sent_at = START + timedelta(minutes=5)
    assert store.mark_sent(ids[:3], sent_at) == 3
    assert store.mark_sent(ids[:3], sent_at + timedelta(hours=1)) == 0
    assert [e["event_id"] for e in store.outbox_pending()] == ids[3:]
    with store.read() as conn:
        first = conn.execute("SELECT sent_at FROM outbox WHERE event_id = ?", (ids[0],))
        assert first.fetchone()[0] == "2026-11-22T17:04:50.000+07:00"


# -- a damaged file is set aside, never a reason not to start --------------------------------

STAMP = "20261122T165950"


def assert_recovered(store: Store, db_path: Path, original: bytes) -> None:
    aside = db_path.with_name(f"kiosk.db.corrupt-{STAMP}")
    assert store.recovered_from == aside
    assert aside.read_bytes() == original
    with store.transaction() as conn:
        Logbook(store).append(conn, category="sistem", text="database baru", actor="sistem")
    with store.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM logbook").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_random_bytes_are_set_aside_with_their_wal_and_shm(db_path: Path) -> None:
    db_path.parent.mkdir()
    junk = random.Random(1).randbytes(16384)
    db_path.write_bytes(junk)
    Path(f"{db_path}-wal").write_bytes(b"stale wal")
    Path(f"{db_path}-shm").write_bytes(b"stale shm")
    with Store(db_path, now=Clock()) as store:
        assert_recovered(store, db_path, junk)
    aside = f"{db_path.name}.corrupt-{STAMP}"
    assert Path(db_path.parent, aside + "-wal").read_bytes() == b"stale wal"
    assert Path(db_path.parent, aside + "-shm").read_bytes() == b"stale shm"


def test_truncated_database_is_set_aside(db_path: Path) -> None:
    size = make_real_db(db_path)
    with open(db_path, "r+b") as f:
        f.truncate(size // 2)
    damaged = db_path.read_bytes()
    with Store(db_path, now=Clock()) as store:
        assert_recovered(store, db_path, damaged)


def test_overwritten_page_is_set_aside(db_path: Path) -> None:
    make_real_db(db_path)
    page = sqlite3.connect(db_path).execute("PRAGMA page_size").fetchone()[0]
    with open(db_path, "r+b") as f:
        f.seek(page * 4)
        f.write(random.Random(2).randbytes(page))
    damaged = db_path.read_bytes()
    with Store(db_path, now=Clock()) as store:
        assert_recovered(store, db_path, damaged)


def test_second_corruption_in_the_same_second_gets_its_own_name(db_path: Path) -> None:
    db_path.parent.mkdir()
    for _ in range(2):
        db_path.write_bytes(b"not a database at all" * 100)
        Store(db_path, now=Clock()).open().close()
    names = sorted(p.name for p in db_path.parent.iterdir() if ".corrupt-" in p.name)
    assert names == [f"kiosk.db.corrupt-{STAMP}", f"kiosk.db.corrupt-{STAMP}-2"]


def test_a_tool_that_must_not_recover_gets_an_error_instead(db_path: Path) -> None:
    db_path.parent.mkdir()
    db_path.write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match="damaged"):
        Store(db_path, now=Clock(), recover=False).open()
    assert db_path.read_bytes() == b"x" * 4096


def test_healthy_database_is_not_recovered(db_path: Path) -> None:
    make_real_db(db_path, rows=10)
    with Store(db_path, now=Clock()) as store:
        assert store.recovered_from is None
        assert Logbook(store).verify().checked == 10


# -- atomic files ----------------------------------------------------------------------------


def test_atomic_write_replaces_content_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, "lama")
    atomic_write(target, b"baru", mode=0o640)
    assert target.read_bytes() == b"baru"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["state.json"]


def test_atomic_write_failure_keeps_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, "lama")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, "baru")
    assert target.read_text() == "lama"
    assert os.listdir(tmp_path) == ["state.json"]


ATOMIC_CHILD = """
import sys
from kiosk.store import atomic_write
old, new = b"A" * 300_000, b"B" * 200_000
print("ready", flush=True)
while True:
    atomic_write(sys.argv[1], new)
    atomic_write(sys.argv[1], old)
"""


def test_atomic_write_killed_mid_write_leaves_old_or_new(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    rng = random.Random(7)
    for _ in range(8):
        atomic_write(target, b"A" * 300_000)
        child = subprocess.Popen(
            [sys.executable, "-c", ATOMIC_CHILD, str(target)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.005, 0.1))
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate()
        assert child.returncode == -signal.SIGKILL, err.decode()
        assert target.read_bytes() in (b"A" * 300_000, b"B" * 200_000)


# -- kill -9 during a burst of writes --------------------------------------------------------

WRITER_CHILD = """
import sys
from datetime import datetime, timedelta, timezone
from kiosk.store import Logbook, Store
wib = timezone(timedelta(hours=7))
store = Store(sys.argv[1], now=lambda: datetime.now(wib)).open()
book = Logbook(store)
n = 0
while True:
    n += 1
    with store.transaction() as conn:
        entry = book.append(
            conn, category="mutasi", text=f"ronde {sys.argv[2]} ke-{n} " + "x" * (n % 500),
            actor="Budi",
        )
        conn.execute(
            "INSERT INTO relay_log (ts, relay, is_on, source, reason)"
            " VALUES (?, 'lights', ?, 'schedule', ?)",
            (entry["ts"], n % 2, str(entry["id"])),
        )
    print(entry["id"], flush=True)
"""


def test_kill_9_during_writes_loses_no_committed_entry(tmp_path: Path) -> None:
    """SIGKILL at random moments, 30 rounds: what the child saw committed is all there.

    A killed process is not a power cut (the kernel still flushes its page cache), but it
    interrupts SQLite at every possible point, including mid-commit and mid-checkpoint;
    fsync at commit (synchronous=FULL) is what covers the power cut itself.
    """
    path = tmp_path / "kiosk.db"
    rng = random.Random(20261122)
    reported: set[int] = set()
    mid_burst = 0
    for round_no in range(30):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER_CHILD, str(path), str(round_no)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # Some kills land during start-up (open, quick_check, migration), most mid-burst.
        time.sleep(rng.uniform(0.0, 0.45))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
        assert child.returncode == -signal.SIGKILL, f"round {round_no}: child died: {err}"
        reported.update(int(line) for line in out.split())
        mid_burst += bool(out.strip())

        with Store(path, now=Clock()) as store:
            assert store.recovered_from is None, f"round {round_no}: database was damaged"
            with store.read() as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                ids = {r[0] for r in conn.execute("SELECT id FROM logbook")}
                events = [
                    r[0] for r in conn.execute(
                        "SELECT json_extract(payload, '$.id') FROM outbox"
                        " WHERE kind = 'logbook.appended'"
                    )
                ]
                relay = [r[0] for r in conn.execute("SELECT reason FROM relay_log")]
            assert reported <= ids, f"round {round_no}: lost {sorted(reported - ids)[:5]}"
            assert sorted(events) == sorted(ids), f"round {round_no}: outbox != logbook"
            assert sorted(int(r) for r in relay) == sorted(ids)
            verification = Logbook(store).verify()
            assert verification.ok, f"round {round_no}: {verification.reason}"
    assert mid_burst >= 10 and len(reported) >= 100, "too few writes to mean anything"
