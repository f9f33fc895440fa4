"""Sync with hq: push the outbox in order, pull updates, and keep going when hq is away.

The outbox is the only queue. A push sends the oldest unsent events in a batch; hq stores
each one idempotently by (kiosk, event id) and answers with the ids it now holds; only those
are marked sent. A lost answer, a duplicated or reordered request, a timeout half-way: the
next push resends what is not marked, and hq keeps one copy. So nothing is lost (an event
is unsent until hq said it holds it) and nothing is doubled (hq's unique key).

A pull asks for updates after the last cursor applied (invitations, staff directory, roster,
SMS recipients) and saves the new cursor in the same transaction that applies them, so an
update is applied once even if the power goes in between.

The schedule (every ``sync.every``, exponential backoff with jitter while hq is down, "sync
now") lives in :class:`Scheduler`; :class:`Sync` is one run, also used by ``kiosk sync``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from kiosk import config
from kiosk.store.db import Store, iso

log = logging.getLogger(__name__)

FIRST_RETRY_S = 30.0
TIMEOUT_S = 30.0

Progress = Callable[[int, int], None]  # (sent so far, backlog at the start)


class SyncFailed(Exception):
    """One line: what went wrong talking to hq and, where it helps, what to do."""


class Link:
    """hq's API over HTTPS, certificate verified (``ca_file`` for a private CA)."""

    def __init__(self, url: str, token: str, *, ca_file=None,
                 transport: httpx.BaseTransport | None = None,
                 timeout: float = TIMEOUT_S) -> None:
        self.url = url
        verify: Any = str(ca_file) if ca_file else True
        self._http = httpx.Client(base_url=f"{url}/api/v1", transport=transport,
                                  timeout=timeout, verify=verify,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise SyncFailed(f"hq at {self.url} did not answer: "
                             f"{exc or type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise SyncFailed(f"hq refused this kiosk's token ({response.status_code}): ask hq "
                             "for a new one (kiosk hq add-kiosk) and put it in sync.token_file")
        if response.status_code >= 400:
            raise SyncFailed(f"hq answered {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise SyncFailed("hq answered with something that is not JSON: is sync.url "
                             "hq's address?") from None
        if not isinstance(body, dict):
            raise SyncFailed("hq answered with an unexpected body")
        return body

    def push(self, events: list[dict[str, Any]], store: str | None = None) -> list[str]:
        body = {"store": store,
                "events": [{"event_id": e["event_id"], "seq": e["id"], "kind": e["kind"],
                            "payload": e["payload"], "created_at": e["created_at"]}
                           for e in events]}
        held = self._call("POST", "/events", json=body).get("held")
        if not isinstance(held, list):
            raise SyncFailed("hq's answer to a push has no list of held events")
        return [h for h in held if isinstance(h, str)]

    def pull(self, after: int) -> dict[str, Any]:
        return self._call("GET", "/updates", params={"after": after})


class Sync:
    """One push-and-pull, and the status every screen and command shows.

    Args:
        store: the kiosk's open store.
        settings: the whole config (``sync`` for hq, ``visits`` to check invitations).
        now: the injected clock's ``now``.
        link: hq's API (tests pass one over a flaky proxy); made from the config if None.
    """

    def __init__(self, store: Store, settings, *, now: Callable[[], dt.datetime],
                 link: Link | None = None) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self._link = link
        self.settings_changed = False  # set when a pull replaced part of the config

    @property
    def configured(self) -> bool:
        return bool(self.settings.sync.url) or self._link is not None

    def link(self) -> Link:
        if self._link is None:
            sync = self.settings.sync
            if not sync.url:
                raise SyncFailed("sync is not set up: set sync.url and sync.token_file")
            try:
                token = sync.read_token()
            except ValueError as exc:
                raise SyncFailed(str(exc)) from None
            self._link = Link(sync.url, token, ca_file=sync.ca_file)
        return self._link

    # -- one run -----------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        """Push everything, then pull; record the outcome. Raises :class:`SyncFailed`."""
        self._set("last_attempt", iso(self.now()))
        try:
            self.push(progress)
            self.pull()
        except SyncFailed as exc:
            self._set("last_error", str(exc))
            raise
        self._set("last_success", iso(self.now()))
        self._set("last_error", "")
        return self.status()

    def push(self, progress: Progress | None = None) -> int:
        """Send the outbox until it is empty; return how many events hq newly holds."""
        link = self.link()
        backlog = self.backlog()
        store_id = self.store_id()
        sent = 0
        while True:
            batch = self.store.outbox_pending(self.settings.sync.batch)
            if not batch:
                return sent
            held = link.push(batch, store_id)
            if not held:
                raise SyncFailed(f"hq stored none of {len(batch)} events: see hq's log")
            sent += self.store.mark_sent(held, self.now())
            if progress:
                progress(sent, max(backlog, sent))

    def pull(self) -> int:
        """Apply hq's updates after the saved cursor; return how many were applied."""
        link = self.link()
        applied = 0
        while True:
            cursor = int(self._get("cursor") or 0)
            body = link.pull(cursor)
            updates = body.get("updates") or []
            with self.store.transaction() as conn:
                if isinstance(body.get("kiosk"), str):
                    self._put(conn, "kiosk", body["kiosk"])
                if isinstance(body.get("hq_key"), str) and not self.settings.sync.hq_key:
                    self._put(conn, "hq_key", body["hq_key"])
                for update in updates:
                    if not isinstance(update, dict) or not isinstance(update.get("id"), int):
                        raise SyncFailed("hq sent an update without an id")
                    if update["id"] <= cursor:
                        continue
                    self._apply(conn, update)
                    cursor = update["id"]
                    applied += 1
                self._put(conn, "cursor", str(cursor))
            if not updates:
                return applied

    def _apply(self, conn: sqlite3.Connection, update: dict[str, Any]) -> None:
        kind, body = update.get("kind"), update.get("payload")
        if not isinstance(body, dict):
            log.warning("update %s from hq has no payload; skipped", update["id"])
            return
        if kind == "invitation":
            from kiosk import invitations

            try:
                fields = invitations.verify(str(body.get("qr_payload", "")), self.hq_key(conn))
            except (invitations.InvitationError, SyncFailed) as exc:
                log.warning("invitation from hq refused: %s", exc)
                return
            if self.store.locked is not None:  # kept for the next pull, when the key is back
                raise SyncFailed(f"an invitation from hq cannot be stored: {self.store.locked}")
            conn.execute(
                "INSERT OR IGNORE INTO invitations (code, name, institution, host, purpose, "
                "valid_on, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, 'hq', ?)",
                (fields["code"], self.store.seal(fields["name"]),
                 self.store.seal(fields["institution"]), fields["host"], fields["purpose"],
                 fields["valid_on"], iso(self.now())))
        elif kind in config.PULLED:
            # SMS recipients, staff directory, roster: the newest of each kind replaces that
            # part of the config, once it passes the same checks as the config file.
            try:
                config.overlay(self.settings, {**self.pulled(conn), kind: body},
                               name=f"hq update {kind}")
            except config.ConfigError as exc:
                log.warning("update %s from hq refused: %s", update["id"],
                            "; ".join(exc.problems))
                self._put(conn, "update_refused", "; ".join(exc.problems)[:500])
                return
            self._put(conn, f"update.{kind}", json.dumps(body, ensure_ascii=False))
            self.settings_changed = True
        else:
            log.warning("update %s from hq is of an unknown kind %r; skipped", update["id"], kind)

    def pulled(self, conn: sqlite3.Connection | None = None) -> dict[str, dict]:
        """The newest contacts, staff and roster hq sent, for :func:`kiosk.config.overlay`."""
        if conn is None:
            with self.store.read() as reader:
                return self.pulled(reader)
        rows = conn.execute("SELECT key, value FROM sync_state WHERE key LIKE 'update.%'")
        return {key.removeprefix("update."): json.loads(value) for key, value in rows
                if key.removeprefix("update.") in config.PULLED}

    def settings_now(self):
        """The config with hq's updates in place (the config alone if they no longer fit it)."""
        pulled = self.pulled()
        if not pulled:
            return self.settings
        try:
            return config.overlay(self.settings, pulled)
        except config.ConfigError as exc:  # the config file changed under them
            log.warning("hq's updates no longer fit the config; using the config alone: %s",
                        "; ".join(exc.problems))
            return self.settings

    # -- status ------------------------------------------------------------------------------

    def backlog(self) -> int:
        with self.store.read() as conn:
            return conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    def status(self) -> dict[str, Any]:
        with self.store.read() as conn:
            # Two counts, each over its own partial index: the dashboard asks every few
            # seconds, and sent events stay in the outbox for the whole retention period.
            backlog = conn.execute(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
            sent = conn.execute(
                "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0]
            state = dict(conn.execute("SELECT key, value FROM sync_state").fetchall())
        return {"configured": self.configured, "backlog": backlog, "sent": sent,
                "last_success": state.get("last_success") or None,
                "last_attempt": state.get("last_attempt") or None,
                "last_error": state.get("last_error") or None,
                "kiosk": state.get("kiosk") or None}

    def hq_key(self, conn: sqlite3.Connection) -> str:
        """Hq's public key, pinned or learned; an invitation cannot be checked without it."""
        from kiosk import invitations

        key = invitations.known_key(conn, self.settings)
        if key is None:
            raise SyncFailed("hq's key is not known yet: sync once, or set sync.hq_key")
        return key

    def store_id(self) -> str:
        """This database's id, made once: hq keeps a fresh database's logbook chain apart."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT value FROM sync_state WHERE key = 'store_id'").fetchone()
            if row:
                return row[0]
            made = uuid.uuid4().hex
            self._put(conn, "store_id", made)
            return made

    def _get(self, key: str) -> str | None:
        with self.store.read() as conn:
            row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, key: str, value: str) -> None:
        with self.store.transaction() as conn:
            self._put(conn, key, value)

    @staticmethod
    def _put(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO sync_state (key, value) VALUES (?, ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


class Scheduler:
    """When to sync next: every ``every`` seconds, sooner retries while hq is down.

    After a failure the wait doubles from :data:`FIRST_RETRY_S` (a blip is over quickly) up
    to ``every`` (a kiosk never waits longer than its schedule), and each wait is drawn from
    the upper half of that (jitter): 500 kiosks that lost hq together do not all come back
    in the same second.
    """

    def __init__(self, every: float, *, rng: Callable[[], float] = random.random) -> None:
        self.every = every
        self.failures = 0
        self._rng = rng

    def succeeded(self) -> float:
        self.failures = 0
        return self.every

    def failed(self) -> float:
        self.failures += 1
        ceiling = min(FIRST_RETRY_S * 2 ** min(self.failures - 1, 20), self.every)
        return ceiling * (0.5 + 0.5 * self._rng())
