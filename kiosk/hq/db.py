"""hq's database: kiosks and their tokens, the events they pushed, the updates they pull.

One schema for SQLite (a province with a handful of offices, or a test) and PostgreSQL (many
offices, one server), through SQLAlchemy Core: the queries are few and plain, and an insert
that skips an event already held needs each dialect's own ``ON CONFLICT DO NOTHING``.

Events are stored idempotently by (kiosk, event id): a batch resent after a lost answer, a
request a proxy duplicated, or an old request arriving late all leave one row per event.
Tokens are 256-bit random strings, so a plain SHA-256 is enough to store them: there is no
small space of candidates to brute-force, and the lookup stays one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from kiosk.store.logbook import Verification, verify_entries

LOGBOOK_KIND = "logbook.appended"
# Payload keys that hold personal data, blanked at hq after its retention period.
PERSONAL = ("name", "institution", "phone", "id_masked", "purpose")
PERSONAL_KINDS = ("visit.", "invitation.", "watchlist.", "rollcall.")
MAX_NAME = 64

metadata = MetaData()

kiosks = Table(
    "kiosks", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(MAX_NAME), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("admin", Boolean, nullable=False, default=False),  # a reader, not a kiosk
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_sync", DateTime(timezone=True)),
)

events = Table(
    "events", metadata,
    # 64-bit on PostgreSQL: 500 offices writing for years pass 2**31 rows.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kiosk_id", Integer, ForeignKey("kiosks.id"), nullable=False),
    Column("event_id", String(32), nullable=False),
    Column("seq", Integer, nullable=False),  # the kiosk's outbox order
    # The kiosk database the event came from: a kiosk that had to start a fresh one after
    # a damaged SD card begins its logbook at entry 1 again, a new chain of its own.
    Column("store", String(32)),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", String(40), nullable=False),  # the kiosk's clock, as it sent it
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("purged_at", DateTime(timezone=True)),
    UniqueConstraint("kiosk_id", "event_id", name="events_once"),
    Index("events_kind", "kiosk_id", "kind"),
)

updates = Table(
    "updates", metadata,
    Column("id", Integer, primary_key=True),  # the kiosks' pull cursor
    Column("kiosk_id", Integer, ForeignKey("kiosks.id")),  # NULL: for every kiosk
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


class HqError(ValueError):
    """A request hq refuses; the message says what to fix."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def connect(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``), schema made."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    _add_new_columns(engine)
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Bring a database made by an older hq up to date: new columns are nullable, added here.

    A column that could not be added that way is a change this code does not know how to
    make: refuse to start rather than answer every push with a 500.
    """
    found = inspect(engine)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in found.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                raise HqError(f"hq's database has an older {table.name} table without "
                              f"{column.name}: upgrade it by hand or start a new database")
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


class Hq:
    """The collector's data: every method is one short transaction."""

    def __init__(self, engine: Engine, *, now=_now) -> None:
        self.engine = engine
        self.now = now
        self._insert = (sqlite.insert if engine.dialect.name == "sqlite"
                        else postgresql.insert)

    # -- kiosks and tokens -------------------------------------------------------------------

    def add(self, name: str, *, admin: bool = False) -> str:
        """Register a kiosk (or an admin reader) and return its token, which is not stored.

        A revoked name gets a new token (a Pi replaced after a theft keeps its office's
        history at hq); a name in use is refused.
        """
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise HqError(f"a name is 1 to {MAX_NAME} printable characters, got {name!r}")
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            found = conn.execute(select(kiosks.c.id, kiosks.c.admin, kiosks.c.revoked_at)
                                 .where(kiosks.c.name == name)).first()
            if found is None:
                conn.execute(kiosks.insert().values(name=name, token_hash=token_hash(token),
                                                    admin=admin, created_at=self.now()))
            elif found.revoked_at is None:
                raise HqError(f"{name!r} already exists: `kiosk hq revoke {name}` first to "
                              "give it a new token, or pick another name")
            elif found.admin != admin:
                raise HqError(f"{name!r} was {'an admin' if found.admin else 'a kiosk'}: "
                              "pick another name")
            else:  # a revoked kiosk gets a new token and keeps its events
                conn.execute(update(kiosks).where(kiosks.c.id == found.id).values(
                    token_hash=token_hash(token), revoked_at=None))
        return token

    def revoke(self, name: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(kiosks).where(kiosks.c.name == name)
                                .values(revoked_at=self.now(), token_hash=f"revoked:{name}"))
        if not done.rowcount:
            raise HqError(f"no kiosk or admin named {name!r}")

    def holder(self, token: str) -> dict[str, Any] | None:
        """Who holds ``token`` (``{"id", "name", "admin"}``), or None for a wrong or revoked one."""
        with self.engine.connect() as conn:
            row = conn.execute(select(kiosks.c.id, kiosks.c.name, kiosks.c.admin).where(
                kiosks.c.token_hash == token_hash(token),
                kiosks.c.revoked_at.is_(None))).first()
        return dict(row._mapping) if row else None

    def kiosk_id(self, name: str) -> int:
        # No name holds a control character (``add`` refuses them), and PostgreSQL refuses
        # a NUL in a query: answer such a name here, as the same HqError on either database.
        if not name.isprintable():
            raise HqError(f"no kiosk named {name!r}: a kiosk's name is printable text")
        with self.engine.connect() as conn:
            found = conn.execute(select(kiosks.c.id).where(
                kiosks.c.name == name, kiosks.c.admin.is_(False),
                kiosks.c.revoked_at.is_(None))).scalar()
        if found is None:
            raise HqError(f"no kiosk named {name!r}: add it with `kiosk hq add-kiosk`")
        return found

    # -- events pushed by a kiosk ------------------------------------------------------------

    def store(self, kiosk_id: int, batch: Iterable[Mapping[str, Any]]) -> tuple[list[str], int]:
        """Store a batch; return the batch's event ids hq now holds and how many were new."""
        received = self.now()
        rows = [{"kiosk_id": kiosk_id, "event_id": e["event_id"], "seq": e["seq"],
                 "store": e.get("store"),
                 "kind": e["kind"], "created_at": e["created_at"], "received_at": received,
                 "payload": json.dumps(e["payload"], ensure_ascii=False, sort_keys=True,
                                       separators=(",", ":"))}
                for e in batch]
        ids = [r["event_id"] for r in rows]
        with self.engine.begin() as conn:
            new = 0
            if rows:
                statement = self._insert(events).on_conflict_do_nothing(
                    index_elements=["kiosk_id", "event_id"])
                new = conn.execute(statement, rows).rowcount
            held = set(conn.execute(select(events.c.event_id).where(
                events.c.kiosk_id == kiosk_id, events.c.event_id.in_(ids))).scalars()) \
                if ids else set()
            conn.execute(update(kiosks).where(kiosks.c.id == kiosk_id)
                         .values(last_sync=received))
        return [i for i in ids if i in held], max(new, 0)

    def touch(self, kiosk_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(kiosks).where(kiosks.c.id == kiosk_id)
                         .values(last_sync=self.now()))

    def events(self, kiosk_id: int, kind: str | None = None, *,
               prefixes: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        """The kiosk's events in its own order; ``kind`` exactly, or kinds with ``prefixes``."""
        query = select(events.c.event_id, events.c.seq, events.c.kind, events.c.payload,
                       events.c.created_at, events.c.store).where(events.c.kiosk_id == kiosk_id)
        if kind:
            query = query.where(events.c.kind == kind)
        if prefixes:
            query = query.where(or_(*(events.c.kind.startswith(p) for p in prefixes)))
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(events.c.seq, events.c.id)):
                yield {**row._mapping, "payload": json.loads(row.payload)}

    def chain(self, kiosk_id: int) -> Verification:
        """The kiosk's logbook, as hq received it, checked link by link (each database's own)."""
        chains: dict[str | None, list[dict]] = {}
        for e in self.events(kiosk_id, LOGBOOK_KIND):
            chains.setdefault(e["store"], []).append(e["payload"])
        checked, result = 0, Verification(True, 0, None, "no entries yet")
        for entries in chains.values():
            entries.sort(key=lambda p: p.get("id") if isinstance(p.get("id"), int) else -1)
            result = verify_entries(entries)
            checked += result.checked
            if not result.ok:
                return result
        if len(chains) > 1:
            return Verification(True, checked, None, f"{checked} entries in {len(chains)} "
                                                     "databases, each chain intact")
        return result

    def summary(self) -> list[dict[str, Any]]:
        """Every kiosk with its event count, last sync, chain, guests on site, active alarms.

        Worked out from the events on every call, never cached: a row edited in hq's own
        database must show at the next look. It reads each kiosk's logbook, visit and alarm
        events once (about 0.1 s per 10,000 events here).
        """
        with self.engine.connect() as conn:
            counts = dict(conn.execute(select(events.c.kiosk_id, func.count())
                                       .group_by(events.c.kiosk_id)).all())
            rows = conn.execute(select(kiosks).where(kiosks.c.admin.is_(False))
                                .order_by(kiosks.c.name)).all()
        found = []
        for row in rows:
            chain = self.chain(row.id)
            state = self._state(row.id)
            found.append({
                "name": row.name, "events": counts.get(row.id, 0),
                "last_sync": row.last_sync.isoformat() if row.last_sync else None,
                "chain_ok": chain.ok, "chain": chain.reason,
                "revoked": row.revoked_at is not None, **state})
        return found

    def _state(self, kiosk_id: int) -> dict[str, Any]:
        """Guests on site and active alarms, replayed from the kiosk's events."""
        visits: dict[Any, str] = {}
        alarms: dict[Any, str] = {}
        for e in self.events(kiosk_id, prefixes=("visit.", "alarm.")):
            kind, body = e["kind"], e["payload"]
            if kind.startswith("visit.") and "id" in body:
                visits[body["id"]] = body.get("status", "")
            elif kind == "alarm.raised" and "id" in body:
                alarms[body["id"]] = body.get("code", "")
            elif kind == "alarm.cleared" and "id" in body:
                alarms.pop(body["id"], None)
        on_site = sum(1 for s in visits.values() if s in ("awaiting_host", "held", "admitted"))
        return {"guests_on_site": on_site, "active_alarms": sorted(set(alarms.values()))}

    # -- updates pulled by kiosks ------------------------------------------------------------

    def publish(self, kind: str, payload: Mapping[str, Any], *, kiosk: str | None) -> int:
        kiosk_id = self.kiosk_id(kiosk) if kiosk else None
        with self.engine.begin() as conn:
            return conn.execute(updates.insert().values(
                kiosk_id=kiosk_id, kind=kind, created_at=self.now(),
                payload=json.dumps(dict(payload), ensure_ascii=False))).inserted_primary_key[0]

    def updates_for(self, kiosk_id: int, after: int, limit: int = 500) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(updates.c.id, updates.c.kind, updates.c.payload)
                .where(updates.c.id > after,
                       (updates.c.kiosk_id == kiosk_id) | updates.c.kiosk_id.is_(None))
                .order_by(updates.c.id).limit(limit)).all()
        return [{"id": r.id, "kind": r.kind, "payload": json.loads(r.payload)} for r in rows]

    # -- settings (the signing key) ----------------------------------------------------------

    def setting(self, key: str, make) -> str:
        """A stored value, made once by ``make()`` when missing (first start)."""
        with self.engine.begin() as conn:
            value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
            if value is None:
                value = make()
                conn.execute(settings.insert().values(key=key, value=value))
        return value

    # -- retention ---------------------------------------------------------------------------

    def purge(self, days: int) -> int:
        """Blank personal data in events older than ``days``; return how many were purged."""
        cutoff = self.now() - dt.timedelta(days=days)
        personal = or_(*(events.c.kind.startswith(prefix) for prefix in PERSONAL_KINDS))
        count = 0
        with self.engine.begin() as conn:
            rows = conn.execute(select(events.c.id, events.c.payload).where(
                events.c.purged_at.is_(None), events.c.received_at < cutoff, personal)).all()
            for row in rows:
                body = json.loads(row.payload)
                body.update({k: "" for k in PERSONAL if k in body})
                conn.execute(update(events).where(events.c.id == row.id).values(
                    payload=json.dumps(body, ensure_ascii=False, sort_keys=True,
                                       separators=(",", ":")), purged_at=self.now()))
                count += 1
        return count
