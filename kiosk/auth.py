"""Guard PINs and sessions: salted scrypt hashes, a lockout that survives restarts.

A PIN is short, so its hash alone would fall to brute force in seconds; what protects it is
the lockout (``max_pin_failures`` wrong PINs in a row lock the login for ``lockout_minutes``)
and that the database is not readable by anyone but the kiosk user. The failure count lives
in the database, so pulling the plug does not reset it. scrypt is in the standard library and
its memory cost makes GPU guessing expensive; parameters are stored with each hash so they
can be raised later without invalidating old PINs.

Guards log in with the PIN alone (no user name on a touchscreen at 02.00), so PINs must be
unique among active guards.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PIN, MAX_PIN = 4, 8
ROLES = ("guard", "admin")

# Every scrypt call takes 128 * N * r = 16 MiB. glibc keeps that much in the malloc arena of
# each thread that ever hashed, and the API answers from a pool of up to 40 threads: the
# core's memory grew by 16 MiB steps in the soak test. One hashing thread holds it once, and
# PIN guesses sent in parallel wait in line instead of taking every core.
_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pin-hash")


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return _HASHER.submit(hashlib.scrypt, pin.encode(), salt=salt, n=n, r=r, p=p,
                          dklen=dklen).result()


class AuthError(Exception):
    """Login refused; the message is shown to the person at the screen."""


class LockedOut(AuthError):
    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"too many wrong PINs: login locked until {until:%H:%M}")
        self.until = until


def check_pin_format(pin: str) -> None:
    if not (isinstance(pin, str) and pin.isdigit() and pin.isascii()
            and MIN_PIN <= len(pin) <= MAX_PIN):
        raise ValueError(f"a PIN is {MIN_PIN} to {MAX_PIN} digits")


def hash_pin(pin: str) -> str:
    check_pin_format(pin)
    salt = secrets.token_bytes(16)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(pin, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Guard:
    id: int
    name: str
    role: str


class Guards:
    """The guards and admins who may log in, kept in the store."""

    def __init__(self, store, *, now, max_failures: int = 5, lockout_minutes: int = 15) -> None:
        self.store = store
        self.now = now
        self.max_failures = max_failures
        self.lockout = dt.timedelta(minutes=lockout_minutes)

    def add(self, name: str, pin: str, role: str = "guard") -> Guard:
        name = name.strip()
        if not name or len(name) > 60:
            raise ValueError("a guard's name is 1 to 60 characters")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        check_pin_format(pin)
        if any(verify_pin(pin, row["pin_hash"]) for row in self._active()):
            raise ValueError("another guard already uses this PIN: choose a different one")
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM guards WHERE name = ?", (name,)).fetchone():
                raise ValueError(f"a guard named {name!r} exists already")
            cur = conn.execute(
                "INSERT INTO guards (name, role, pin_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, hash_pin(pin), self.now().isoformat()))
            self.store.emit(conn, "guard.added", {"name": name, "role": role})
        return Guard(cur.lastrowid, name, role)

    def set_pin(self, name: str, pin: str) -> Guard:
        """A new PIN for ``name`` (who may have been removed: this lets them in again)."""
        check_pin_format(pin)
        row = self._named(name)
        if any(verify_pin(pin, other["pin_hash"]) for other in self._active()
               if other["id"] != row["id"]):
            raise ValueError("another guard already uses this PIN: choose a different one")
        with self.store.transaction() as conn:
            conn.execute("UPDATE guards SET pin_hash = ?, disabled_at = NULL WHERE id = ?",
                         (hash_pin(pin), row["id"]))
            self.store.emit(conn, "guard.pin_changed", {"name": row["name"]})
        return Guard(row["id"], row["name"], row["role"])

    def remove(self, name: str) -> Guard:
        """Stop ``name`` logging in; the row stays, so the books still say who did what.

        The last one cannot go: a real core refuses to start without a guard, and the post
        would stop with it.
        """
        row = self._named(name)
        active = {r["id"] for r in self._active()}
        if row["id"] not in active:
            raise ValueError(f"{row['name']} was removed already")
        if active == {row["id"]}:
            raise ValueError(f"{row['name']} is the only guard left: add another first")
        with self.store.transaction() as conn:
            conn.execute("UPDATE guards SET disabled_at = ? WHERE id = ?",
                         (self.now().isoformat(), row["id"]))
            self.store.emit(conn, "guard.removed", {"name": row["name"]})
        return Guard(row["id"], row["name"], row["role"])

    def active(self, guard_id: int) -> bool:
        with self.store.read() as conn:
            return conn.execute("SELECT 1 FROM guards WHERE id = ? AND disabled_at IS NULL",
                                (guard_id,)).fetchone() is not None

    def listing(self) -> list[Guard]:
        with self.store.read() as conn:
            return [Guard(r["id"], r["name"], r["role"]) for r in conn.execute(
                "SELECT id, name, role FROM guards WHERE disabled_at IS NULL ORDER BY name")]

    def _named(self, name: str):
        with self.store.read() as conn:
            row = conn.execute("SELECT id, name, role FROM guards WHERE name = ?",
                               (name.strip(),)).fetchone()
            if row is None:
                known = ", ".join(r[0] for r in conn.execute("SELECT name FROM guards "
                                                             "ORDER BY name"))
                raise KeyError(f"no guard named {name.strip()!r} (known: {known or 'none'})")
        return row

    def any(self) -> bool:
        return bool(self._active())

    def login(self, pin: str) -> Guard:
        """The guard whose PIN this is; every failure counts toward the lockout."""
        now = self.now()
        with self.store.transaction() as conn:
            state = conn.execute("SELECT failures, locked_until FROM auth_state WHERE id = 1"
                                 ).fetchone()
            failures = state["failures"] if state else 0
            locked = dt.datetime.fromisoformat(state["locked_until"]) if (
                state and state["locked_until"]) else None
            if locked and now < locked:
                raise LockedOut(locked)
            if locked:
                failures = 0  # the lockout has run out: a fresh set of tries
            match = None
            if isinstance(pin, str) and pin.isdigit() and MIN_PIN <= len(pin) <= MAX_PIN:
                for row in conn.execute(
                        "SELECT id, name, role, pin_hash FROM guards WHERE disabled_at IS NULL"):
                    if verify_pin(pin, row["pin_hash"]):
                        match = Guard(row["id"], row["name"], row["role"])
                        break
            if match:
                failures, until = 0, None
            else:
                failures += 1
                until = now + self.lockout if failures >= self.max_failures else None
            conn.execute(
                "INSERT INTO auth_state (id, failures, locked_until) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET failures = excluded.failures, "
                "locked_until = excluded.locked_until",
                (failures, until.isoformat() if until else None))
            if until:
                self.store.emit(conn, "auth.locked", {"until": until.isoformat()})
        if match is None:
            if until:
                raise LockedOut(until)
            left = self.max_failures - failures
            raise AuthError(f"wrong PIN ({left} {'try' if left == 1 else 'tries'} left)")
        return match

    def _active(self) -> list:
        with self.store.read() as conn:
            return conn.execute(
                "SELECT id, pin_hash FROM guards WHERE disabled_at IS NULL").fetchall()


class Sessions:
    """Bearer tokens for logged-in guards, ended after ``idle_minutes`` without use.

    Kept in memory on purpose: a restarted core asks the guard to log in again, and no token
    ever reaches the disk.
    """

    def __init__(self, *, now, idle_minutes: int = 15) -> None:
        self.now = now
        self.idle = dt.timedelta(minutes=idle_minutes)
        self._tokens: dict[str, tuple[Guard, dt.datetime]] = {}
        self._lock = threading.Lock()

    def start(self, guard: Guard) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (guard, self.now())
        return token

    def guard(self, token: str) -> Guard | None:
        """The guard behind ``token``, refreshing its idle timer; None if unknown or expired."""
        now = self.now()
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return None
            guard, last = entry
            if now - last > self.idle or now < last - dt.timedelta(minutes=5):
                del self._tokens[token]
                return None
            self._tokens[token] = (guard, now)
            return guard

    def end(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def active(self) -> list[Guard]:
        """The guards with a live session (the evacuation roll call's "guards on duty")."""
        now = self.now()
        with self._lock:
            live = {guard.id: guard for guard, last in self._tokens.values()
                    if last - dt.timedelta(minutes=5) <= now and now - last <= self.idle}
        return list(live.values())
