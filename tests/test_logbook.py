"""The Buku Kejadian/Mutasi: append-only in the database, hash-chained, tamper-evident."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.store import Logbook, Store, verify_entries
from kiosk.store.logbook import GENESIS_HASH, entry_hash

WIB = timezone(timedelta(hours=7))
START = datetime(2026, 11, 22, 16, 0, tzinfo=WIB)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    with Store(tmp_path / "kiosk.db", now=clock) as opened:
        yield opened


@pytest.fixture
def book(store: Store) -> Logbook:
    return Logbook(store)


def add(store: Store, book: Logbook, text: str, **kw) -> dict:
    with store.transaction() as conn:
        return book.append(
            conn, category=kw.pop("category", "mutasi"), text=text, actor=kw.pop("actor", "Budi"),
            **kw,
        )


def fill(store: Store, book: Logbook, clock: Clock, n: int = 5) -> list[dict]:
    entries = []
    for i in range(n):
        entries.append(add(store, book, f"patroli ke-{i + 1}: aman"))
        clock.at += timedelta(hours=1)
    return entries


def tamper(store: Store, *statements: str, params: tuple = ()) -> None:
    """What someone with the file and the sqlite3 shell could do: drop the guards, edit."""
    conn = sqlite3.connect(store.path)
    conn.execute("DROP TRIGGER logbook_no_update")
    conn.execute("DROP TRIGGER logbook_no_delete")
    for statement in statements:
        conn.execute(statement, params if "?" in statement else ())
    conn.commit()
    conn.close()


# -- appending -------------------------------------------------------------------------------


def test_entries_chain_from_the_genesis_hash(store: Store, book: Logbook, clock: Clock) -> None:
    first, second = fill(store, book, clock, 2)
    assert first["id"] == 1 and first["prev_hash"] == GENESIS_HASH
    assert first["ts"] == "2026-11-22T16:00:00.000+07:00"
    assert first["hash"] == entry_hash(first) and len(first["hash"]) == 64
    assert second["id"] == 2 and second["prev_hash"] == first["hash"]
    assert book.get(2) == second
    assert book.verify().ok


def test_hash_is_sha256_of_canonical_json(store: Store, book: Logbook) -> None:
    import hashlib
    import json

    entry = add(store, book, "Tamu: Ibu Siti — dinas")
    canonical = json.dumps(
        [entry[k] for k in ("id", "ts", "category", "text", "actor", "corrects", "prev_hash")],
        ensure_ascii=False, separators=(",", ":"),
    )
    assert "—" in canonical
    assert entry["hash"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_each_entry_emits_the_full_entry_for_hq(store: Store, book: Logbook, clock: Clock) -> None:
    entries = fill(store, book, clock, 3)
    events = store.outbox_pending()
    assert [e["kind"] for e in events] == ["logbook.appended"] * 3
    assert [e["payload"] for e in events] == entries
    assert verify_entries(e["payload"] for e in events).ok  # what hq runs


def test_append_outside_a_transaction_is_refused(store: Store, book: Logbook) -> None:
    with store.read() as conn:
        with pytest.raises(RuntimeError, match="inside store.transaction"):
            book.append(conn, category="mutasi", text="x", actor="Budi")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category": ""}, "category must be a non-empty text"),
        ({"category": "   "}, "category must be a non-empty text"),
        ({"category": None}, "category must be a non-empty text"),
        ({"text": ""}, "text must be a non-empty text"),
        ({"text": "x" * 4001}, "text is 4001 characters; the maximum is 4000"),
        ({"actor": " "}, "actor must be a non-empty text"),
        ({"corrects": 42}, "logbook entry 42 does not exist"),
        ({"corrects": True}, "corrects must be an entry id"),
    ],
)
def test_invalid_entries_are_refused_clearly(
    store: Store, book: Logbook, fields: dict, message: str
) -> None:
    args = {"category": "mutasi", "text": "serah terima", "actor": "Budi", **fields}
    with pytest.raises(ValueError, match=message):
        with store.transaction() as conn:
            book.append(conn, **args)
    assert book.entries() == [] and store.outbox_pending() == []


def test_text_of_exactly_4000_characters_is_accepted(store: Store, book: Logbook) -> None:
    assert len(add(store, book, "k" * 4000)["text"]) == 4000


def test_correction_is_a_new_entry_pointing_at_the_old(
    store: Store, book: Logbook, clock: Clock
) -> None:
    original = fill(store, book, clock, 2)[0]
    with store.transaction() as conn:
        fix = book.correct(conn, original["id"], "jam patroli 23.00, bukan 22.00", "Andi")
    assert fix["category"] == "koreksi" and fix["corrects"] == original["id"]
    assert fix["id"] == 3 and fix["actor"] == "Andi"
    assert book.get(original["id"]) == original
    assert book.verify().ok
    with pytest.raises(ValueError, match="logbook entry 99 does not exist"):
        with store.transaction() as conn:
            book.correct(conn, 99, "tidak ada", "Andi")


def test_rolled_back_append_leaves_no_entry_no_event_and_no_gap(
    store: Store, book: Logbook
) -> None:
    add(store, book, "satu")
    with pytest.raises(OSError):
        with store.transaction() as conn:
            book.append(conn, category="mutasi", text="dua", actor="Budi")
            raise OSError("the relay write failed")
    assert add(store, book, "dua lagi")["id"] == 2
    assert len(store.outbox_pending()) == 2
    assert book.verify().ok


def test_database_refuses_update_and_delete(store: Store, book: Logbook) -> None:
    add(store, book, "asli")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with store.transaction() as conn:
            conn.execute("UPDATE logbook SET text = 'diubah' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with store.transaction() as conn:
            conn.execute("DELETE FROM logbook")
    raw = sqlite3.connect(store.path)  # not only through our code
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE logbook SET actor = 'X'")
    raw.close()
    assert book.get(1)["text"] == "asli"


# -- reading ---------------------------------------------------------------------------------


def test_entries_filters_newest_first(store: Store, book: Logbook, clock: Clock) -> None:
    fill(store, book, clock, 5)  # 16.00, 17.00, ... 20.00 WIB
    add(store, book, "Lampu 100% menyala", category="relay", actor="sistem")  # 21.00
    assert [e["id"] for e in book.entries()] == [6, 5, 4, 3, 2, 1]
    assert [e["id"] for e in book.entries(limit=2)] == [6, 5]
    since, until = START + timedelta(hours=1), START + timedelta(hours=3)
    assert [e["id"] for e in book.entries(since=since, until=until)] == [3, 2]
    assert [e["id"] for e in book.entries(query="PATROLI KE-4")] == [4]
    assert [e["id"] for e in book.entries(query="100%")] == [6]
    assert book.entries(query="1_0") == []  # _ is a character, not a wildcard
    assert [e["id"] for e in book.entries(query="sistem")] == [6]
    with pytest.raises(ValueError, match="limit"):
        book.entries(limit=0)


def test_time_range_compares_instants_across_offsets(
    store: Store, book: Logbook, clock: Clock
) -> None:
    clock.at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 17.00 WIB
    add(store, book, "ditulis dalam UTC")
    assert len(book.entries(since=datetime(2026, 11, 22, 16, 30, tzinfo=WIB))) == 1
    assert book.entries(since=datetime(2026, 11, 22, 17, 30, tzinfo=WIB)) == []


# -- verification ----------------------------------------------------------------------------


def test_empty_logbook_verifies(book: Logbook) -> None:
    assert book.verify() == verify_entries([])
    assert book.verify().ok and book.verify().checked == 0


def test_edited_text_is_named(store: Store, book: Logbook, clock: Clock) -> None:
    fill(store, book, clock)
    tamper(store, "UPDATE logbook SET text = 'patroli: aman (ditulis ulang)' WHERE id = 3")
    result = book.verify()
    assert (result.ok, result.first_bad_id, result.checked) == (False, 3, 3)
    assert "hash does not match its contents" in result.reason


def test_edit_with_a_recomputed_hash_breaks_the_next_link(
    store: Store, book: Logbook, clock: Clock
) -> None:
    entries = fill(store, book, clock)
    forged = {**entries[2], "text": "tidak ada kejadian"}
    forged["hash"] = entry_hash(forged)
    tamper(
        store, "UPDATE logbook SET text = ?, hash = ? WHERE id = 3",
        params=(forged["text"], forged["hash"]),
    )
    result = book.verify()
    assert (result.ok, result.first_bad_id) == (False, 4)
    assert "prev_hash does not match the hash of entry 3" in result.reason


def test_deleted_entry_is_named(store: Store, book: Logbook, clock: Clock) -> None:
    fill(store, book, clock)
    tamper(store, "DELETE FROM logbook WHERE id = 3")
    result = book.verify()
    assert (result.ok, result.first_bad_id) == (False, 4)
    assert "expected id 3" in result.reason


def test_inserted_entry_is_named(store: Store, book: Logbook, clock: Clock) -> None:
    entries = fill(store, book, clock)
    forged = {
        "id": 3, "ts": entries[1]["ts"], "category": "mutasi", "text": "tamu keluar 20.55",
        "actor": "Budi", "corrects": None, "prev_hash": entries[1]["hash"],
    }
    forged["hash"] = entry_hash(forged)  # a perfectly chained forgery...
    tamper(
        store,
        "UPDATE logbook SET id = id + 100 WHERE id >= 3",
        "UPDATE logbook SET id = id - 99 WHERE id >= 100",
        "INSERT INTO logbook VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params=tuple(forged.values()),
    )
    result = book.verify()  # ...still breaks the link of the entry after it
    assert (result.ok, result.first_bad_id) == (False, 4)
    assert "prev_hash" in result.reason


def test_reordered_entries_are_named(store: Store, book: Logbook, clock: Clock) -> None:
    fill(store, book, clock)
    tamper(
        store,
        "UPDATE logbook SET id = 102 WHERE id = 2",
        "UPDATE logbook SET id = 2 WHERE id = 3",
        "UPDATE logbook SET id = 3 WHERE id = 102",
    )
    result = book.verify()
    assert (result.ok, result.first_bad_id) == (False, 2)


def test_forged_entry_at_the_end_is_named(store: Store, book: Logbook, clock: Clock) -> None:
    entries = fill(store, book, clock)
    tamper(
        store, "INSERT INTO logbook VALUES (6, ?, 'mutasi', 'aman', 'Budi', NULL, ?, ?)",
        params=(entries[-1]["ts"], entries[-1]["hash"], "f" * 64),
    )
    assert book.verify().first_bad_id == 6


def make_chain(n: int) -> list[dict]:
    chain, previous = [], GENESIS_HASH
    for i in range(1, n + 1):
        entry = {
            "id": i, "ts": f"2026-11-22T{i % 24:02d}:00:00.000+07:00", "category": "mutasi",
            "text": f"entri {i}", "actor": "Budi", "corrects": None, "prev_hash": previous,
        }
        entry["hash"] = previous = entry_hash(entry)
        chain.append(entry)
    return chain


def test_verify_entries_on_lists_as_hq_receives_them() -> None:
    chain = make_chain(6)
    assert verify_entries(chain).ok
    swapped = [chain[0], chain[2], chain[1], *chain[3:]]
    assert verify_entries(swapped).first_bad_id == 3
    assert verify_entries(chain[:2] + chain[3:]).first_bad_id == 4
    assert verify_entries([chain[0], chain[0]]).first_bad_id == 1
    assert verify_entries(chain[1:]).first_bad_id == 2
    incomplete = {k: v for k, v in chain[1].items() if k != "hash"}
    result = verify_entries([chain[0], incomplete])
    assert result.first_bad_id == 2 and "missing ['hash']" in result.reason


FIELDS = ("id", "ts", "category", "text", "actor", "corrects", "prev_hash", "hash")


@given(
    n=st.integers(min_value=1, max_value=12),
    data=st.data(),
    field=st.sampled_from(FIELDS),
)
def test_any_single_change_is_caught_at_that_entry(n: int, data, field: str) -> None:
    chain = make_chain(n)
    k = data.draw(st.integers(min_value=0, max_value=n - 1))
    new_value = data.draw(
        st.integers(min_value=-5, max_value=50) if field in ("id", "corrects")
        else st.text(max_size=70)
    )
    if new_value == chain[k][field]:
        return
    chain[k] = {**chain[k], field: new_value}
    result = verify_entries(chain)
    assert not result.ok
    assert result.checked == k + 1
    assert result.first_bad_id == chain[k]["id"]
