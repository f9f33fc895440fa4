"""The Buku Kejadian/Mutasi: an append-only, hash-chained logbook.

The paper book at the post is trusted because pages cannot be torn out unnoticed. Here each
entry carries the SHA-256 of its own fields and of the entry before it, so an edited, deleted,
inserted or reordered entry breaks the chain at a nameable place. A mistake is never edited:
a correction is a new entry (category ``koreksi``) pointing at the old one. Triggers in the
schema refuse UPDATE and DELETE, and every entry is also sent to hq as a ``logbook.appended``
event, where :func:`verify_entries` can check the same chain.

What the chain cannot show on its own: someone with write access to the file who rewrites
every hash after the change, or removes entries from the end. hq's copy catches both.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.store.db import Store, iso

GENESIS_HASH = "0" * 64
CORRECTION = "koreksi"
MAX_TEXT = 4000
MAX_CATEGORY = 64
MAX_ACTOR = 128
HASHED_FIELDS = ("id", "ts", "category", "text", "actor", "corrects", "prev_hash")
COLUMNS = (*HASHED_FIELDS, "hash")


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain.

    Attributes:
        ok: True when every entry checked out.
        checked: How many entries were examined (including the first bad one).
        first_bad_id: The id of the first entry that does not fit, or None.
        reason: One line for the guard or the auditor.
    """

    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 hex over the canonical JSON of an entry's fields and its predecessor's hash.

    Canonical means a JSON array in a fixed order, compact separators and UTF-8 text, so hq
    (or a person with ``sha256sum``) recomputes exactly the same bytes.
    """
    fields = [entry[name] for name in HASHED_FIELDS]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_entries(entries: Iterable[Mapping[str, Any]]) -> Verification:
    """Check a whole chain, given in order from entry 1; stop at the first entry that is wrong.

    Pure, so hq runs it over the entries it received. Ids must run 1, 2, 3 … without gaps,
    each ``prev_hash`` must equal the previous entry's ``hash``, and each ``hash`` must match
    the entry's contents.
    """
    expected_id = 1
    previous = GENESIS_HASH
    checked = 0
    for entry in entries:
        checked += 1
        entry_id = entry.get("id")
        missing = [name for name in COLUMNS if name not in entry]
        if missing:
            return Verification(False, checked, entry_id, f"entry {entry_id}: missing {missing}")
        if entry_id != expected_id:
            return Verification(
                False, checked, entry_id,
                f"entry {entry_id}: expected id {expected_id} here"
                " (an entry is missing, inserted or out of order)",
            )
        if entry["prev_hash"] != previous:
            return Verification(
                False, checked, entry_id,
                f"entry {entry_id}: prev_hash does not match the hash of entry {entry_id - 1}"
                " (an entry before it was removed, replaced or reordered)",
            )
        if entry["hash"] != entry_hash(entry):
            return Verification(
                False, checked, entry_id,
                f"entry {entry_id}: hash does not match its contents (the entry was altered)",
            )
        previous = entry["hash"]
        expected_id += 1
    return Verification(True, checked, None, f"{checked} entries, chain intact")


def _clean(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"logbook {name} must be a non-empty text")
    if len(value) > limit:
        raise ValueError(f"logbook {name} is {len(value)} characters; the maximum is {limit}")
    return value


class Logbook:
    """The logbook table, written through the store's transactions.

    Args:
        store: An open :class:`~kiosk.store.db.Store`; its clock stamps the entries.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(
        self,
        conn: sqlite3.Connection,
        *,
        category: str,
        text: str,
        actor: str,
        corrects: int | None = None,
    ) -> dict[str, Any]:
        """Add an entry and its outbox event in the caller's transaction; return the entry.

        Must run inside ``store.transaction()``: the new id and ``prev_hash`` are read under the
        write lock, so two appends can never chain to the same predecessor.

        Raises:
            ValueError: Empty category, text or actor, a category with control characters,
                text over 4000 characters, or ``corrects`` naming an entry that does not exist.
        """
        if not conn.in_transaction:
            raise RuntimeError("Logbook.append() must be called inside store.transaction()")
        category = _clean(category, "category", MAX_CATEGORY).strip()
        if not category.isprintable():
            # A category is a one-word label the books filter on; SQLite also counts a text
            # only up to its first NUL, so "\x00" would break the table's CHECK (a 500).
            raise ValueError("logbook category must be printable text on one line "
                             "(no control characters)")
        text = _clean(text, "text", MAX_TEXT)
        actor = _clean(actor, "actor", MAX_ACTOR).strip()
        if corrects is not None:
            if isinstance(corrects, bool) or not isinstance(corrects, int):
                raise ValueError(f"corrects must be an entry id, got {corrects!r}")
            if conn.execute("SELECT 1 FROM logbook WHERE id = ?", (corrects,)).fetchone() is None:
                raise ValueError(f"logbook entry {corrects} does not exist")
        last = conn.execute("SELECT id, hash FROM logbook ORDER BY id DESC LIMIT 1").fetchone()
        entry: dict[str, Any] = {
            "id": last["id"] + 1 if last else 1,
            "ts": self.store.timestamp(),
            "category": category,
            "text": text,
            "actor": actor,
            "corrects": corrects,
            "prev_hash": last["hash"] if last else GENESIS_HASH,
        }
        entry["hash"] = entry_hash(entry)
        conn.execute(
            f"INSERT INTO logbook ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [entry[name] for name in COLUMNS],
        )
        self.store.emit(conn, "logbook.appended", entry)
        return entry

    def correct(
        self, conn: sqlite3.Connection, entry_id: int, text: str, actor: str
    ) -> dict[str, Any]:
        """Correct an entry by appending a ``koreksi`` entry that references it.

        Raises:
            ValueError: ``entry_id`` does not exist, or the text is invalid.
        """
        return self.append(conn, category=CORRECTION, text=text, actor=actor, corrects=entry_id)

    def get(self, entry_id: int) -> dict[str, Any] | None:
        """One entry by id, or None."""
        with self.store.read() as conn:
            row = conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM logbook WHERE id = ?", (entry_id,)
            ).fetchone()
        return dict(row) if row else None

    def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        query: str | None = None,
        category: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Entries newest first, for the screen and the API.

        Args:
            since: Only entries at or after this moment.
            until: Only entries before this moment.
            query: Case-insensitive substring of the text, category or actor.
            category: Only this category, matched whole and without case ("patroli").
            limit: At most this many (1-1000).

        Times compare as instants, not as text, so entries written under another UTC offset
        still fall in the right range.
        """
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be between 1 and 1000, got {limit}")
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("julianday(ts) >= julianday(?)")
            params.append(iso(since))
        if until is not None:
            where.append("julianday(ts) < julianday(?)")
            params.append(iso(until))
        if category:
            where.append("lower(category) = lower(?)")
            params.append(category.strip())
        if query:
            escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(
                "(text LIKE ? ESCAPE '\\' OR category LIKE ? ESCAPE '\\'"
                " OR actor LIKE ? ESCAPE '\\')"
            )
            params += [f"%{escaped}%"] * 3
        sql = f"SELECT {', '.join(COLUMNS)} FROM logbook"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        with self.store.read() as conn:
            rows = conn.execute(sql, [*params, limit]).fetchall()
        return [dict(row) for row in rows]

    def verify(self) -> Verification:
        """Walk the stored chain in id order (``kiosk logbook verify``)."""
        with self.store.read() as conn:
            cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM logbook ORDER BY id")
            return verify_entries(dict(row) for row in cursor)
