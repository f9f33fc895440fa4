"""What guests type and what the guard sees: the form, identity hashing, alerts, watchlist.

Identity numbers (NIK, SIM, passport) are never stored. A number is normalised (spaces, dots
and dashes dropped, upper case) and kept as its type, its last four characters for the guard
to compare with the card in hand, and an HMAC-SHA256 under a secret generated once per kiosk.
The hash recognises a returning guest and a barred one, but cannot be reversed by trying all
16-digit NIKs without the secret. The secret lives in the ``meta`` table for now; issue 6
moves secrets out of the database (and replaces invitations with ones hq signs).

The registration form is checked here too (``validate``), field by field, with a message in
English and one in Bahasa Indonesia that the kiosk can show as they are.

Alerts are what the guard must see at once (a watchlist match, a high temperature, no badge
left, guests still inside after hours). Each is a row, a logbook entry and an outbox event in
the caller's transaction, and stays open until a guard resolves it. Alert and logbook texts
name a guest by visit number and badge, never by name or number: the logbook is kept for
good, and names are sealed personal data (:mod:`kiosk.store.sealed`).

Watchlist entries are sealed too (name, institution, last four), so matching by name and
institution happens here on the opened values, with the same folding as ever (:func:`name_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from typing import Any

from kiosk.store import Logbook
from kiosk.store.db import iso

SECRET_KEY = "visits.id_secret"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_LOG = 3900  # a logbook entry holds 4000 characters
PHONE = re.compile(r"\+?[0-9 ]{6,20}")


class GuestError(ValueError):
    """A guest request that cannot be carried out (HTTP 400); the message says why.

    ``message_id`` is the same in Bahasa Indonesia, for the kiosk's language toggle, and
    ``field`` names the form field at fault, if one is.
    """

    def __init__(self, message: str, message_id: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message_id = message_id or message
        self.field = field


class Invalid(GuestError):
    """A form field failed validation (HTTP 422)."""


class NotFound(GuestError):
    """No such visit, badge, code, alert or watchlist entry (HTTP 404)."""


class Conflict(GuestError):
    """The request clashes with the current state: checked out twice, no badge free (409)."""


class NotAllowed(GuestError):
    """Only a logged-in guard may do this (HTTP 403)."""


def normalise_id(number: str) -> str:
    """``"3201 0123.4567-8901"`` -> ``"3201012345678901"``: what is hashed and matched."""
    return re.sub(r"[\s./-]", "", number).upper()


def name_key(name: str, institution: str) -> str:
    """Name and institution without case, accents, spaces or punctuation, for matching."""
    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text)
        return "".join(ch for ch in text.casefold() if ch.isalnum())
    return f"{fold(name)}|{fold(institution)}"


def kiosk_secret(conn) -> bytes:
    """The per-kiosk HMAC secret, created on first use in the caller's transaction."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (SECRET_KEY,)).fetchone()
    if row is None:
        value = secrets.token_hex(32)
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (SECRET_KEY, value))
        return bytes.fromhex(value)
    return bytes.fromhex(row["value"])


def sign(conn, message: str) -> str:
    return hmac.new(kiosk_secret(conn), message.encode("utf-8"), hashlib.sha256).hexdigest()


def id_hash(conn, number: str) -> str:
    """HMAC-SHA256 of the normalised identity number under the kiosk's secret."""
    return sign(conn, "id:" + normalise_id(number))


def masked(last4: str | None) -> str | None:
    return "••••" + last4 if last4 else None


def capped(lines: list[str], head: str, limit: int = MAX_LOG) -> str:
    """``head`` and the lines, cut with "... dan N lainnya" to fit one logbook entry."""
    text = head
    for n, line in enumerate(lines):
        if len(text) + len(line) + 40 > limit:
            return text + f"\n... dan {len(lines) - n} lainnya"
        text += "\n" + line
    return text


# -- the registration form ------------------------------------------------------------------


def short_name(name: str) -> str:
    """``"Budi Santoso"`` -> ``"Budi S."``: enough for a guest to find themselves."""
    first, *rest = name.split() or [""]
    return " ".join([first, *(word[0].upper() + "." for word in rest)])


def _field(data, name: str, en: str, id_: str, low: int, high: int) -> str:
    value = data.get(name)
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not low <= len(text) <= high or CONTROL.search(text):
        raise Invalid(en, id_, name)
    return text


def guest_details(data) -> dict[str, str]:
    return {
        "name": _field(data, "name", "write your full name (2 to 80 characters)",
                       "tulis nama lengkap Anda (2 sampai 80 karakter)", 2, 80),
        "institution": _field(data, "institution", "write where you come from (up to 100 "
                              "characters)", "tulis asal instansi Anda (maksimal 100 karakter)",
                              1, 100),
        "host": _field(data, "host", "choose the person you are visiting",
                       "pilih orang yang ingin Anda temui", 1, 80),
        "purpose": _field(data, "purpose", "write the purpose of your visit (up to 200 "
                          "characters)", "tulis keperluan kunjungan (maksimal 200 karakter)",
                          1, 200),
    }


def validate(data, settings) -> dict[str, Any]:
    """The registration form, checked field by field with messages a guest can act on."""
    if data.get("consent") is not True:
        raise Invalid("please agree to the privacy notice to continue",
                      "setujui pemberitahuan privasi untuk melanjutkan", "consent")
    form = guest_details(data)
    phone = data.get("phone")
    if not isinstance(phone, str) or not PHONE.fullmatch(phone.strip()) \
            or sum(c.isdigit() for c in phone) < 6:
        raise Invalid("write a phone number: digits, + and spaces, 6 to 20 characters",
                      "tulis nomor telepon: angka, + dan spasi, 6 sampai 20 karakter", "phone")
    form["phone"] = " ".join(phone.split())
    party = data.get("party_size")
    if isinstance(party, bool) or not isinstance(party, int) or not 1 <= party <= 20:
        raise Invalid("the number of people is 1 to 20", "jumlah orang 1 sampai 20",
                      "party_size")
    form["party_size"] = party
    types = settings.visits.id_types
    if data.get("id_type") not in types:
        raise Invalid(f"choose the identity document: {', '.join(types)}",
                      f"pilih jenis identitas: {', '.join(types)}", "id_type")
    form["id_type"] = data["id_type"]
    number = normalise_id(data["id_number"]) if isinstance(data.get("id_number"), str) else ""
    if form["id_type"] == "KTP" and not re.fullmatch(r"[0-9]{16}", number):
        raise Invalid("the NIK on a KTP is 16 digits", "NIK pada KTP terdiri dari 16 angka",
                      "id_number")
    if not re.fullmatch(r"[0-9A-Z]{4,30}", number):
        raise Invalid("the identity number is 4 to 30 letters or digits",
                      "nomor identitas 4 sampai 30 huruf atau angka", "id_number")
    form["id_number"] = number
    form.update(_temperature(data, settings))
    invitation = data.get("invitation")
    form["invitation"] = invitation if isinstance(invitation, str) and invitation else None
    return form


def _temperature(data, settings) -> dict[str, Any]:
    celsius, source = data.get("temperature_c"), data.get("temperature_source")
    if celsius is None and source is None and not settings.thermometer.enabled:
        return {"temperature_c": None, "temperature_source": None}  # no thermometer at this post
    if source not in ("sensor", "manual"):
        raise Invalid('temperature_source is "sensor" or "manual"',
                      'temperature_source harus "sensor" atau "manual"', "temperature_source")
    if isinstance(celsius, bool) or not isinstance(celsius, int | float) \
            or not 30 <= celsius <= 45:
        raise Invalid("the temperature must be between 30 and 45 °C: measure again",
                      "suhu harus antara 30 dan 45 °C: ukur ulang", "temperature_c")
    return {"temperature_c": round(float(celsius), 1), "temperature_source": source}


class Alerts:
    """Guard alerts; each one also a logbook entry and an outbox event."""

    def __init__(self, store, *, now) -> None:
        self.store = store
        self.now = now
        self.logbook = Logbook(store)

    def add(self, conn, kind: str, text: str, *, visit_id: int | None = None,
            once: bool = False) -> int | None:
        """Raise an alert in the caller's transaction; ``once`` skips it if one is still open."""
        if once and conn.execute("SELECT 1 FROM alerts WHERE kind = ? AND resolved_at IS NULL",
                                 (kind,)).fetchone():
            return None
        now = iso(self.now())
        alert_id = conn.execute(
            "INSERT INTO alerts (kind, text, visit_id, created_at) VALUES (?, ?, ?, ?)",
            (kind, text, visit_id, now)).lastrowid
        self.logbook.append(conn, category="peringatan", actor="system",
                            text=f"Peringatan #{alert_id}: {text}"[:MAX_LOG])
        self.store.emit(conn, "alert.raised", {"id": alert_id, "kind": kind, "text": text,
                                               "visit_id": visit_id, "at": now},
                        visit_id=visit_id)
        return alert_id

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open alerts first (oldest first), then the latest resolved ones."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT * FROM alerts ORDER BY resolved_at IS NOT NULL, "
                "CASE WHEN resolved_at IS NULL THEN id ELSE -id END LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]

    def resolve(self, alert_id: int, *, actor: str) -> dict[str, Any]:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise NotFound(f"no alert {alert_id}", f"peringatan {alert_id} tidak ada")
            if row["resolved_at"] is None:
                self._resolve(conn, row, actor)
            return dict(conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone())

    def resolve_for_visit(self, conn, visit_id: int, actor: str) -> None:
        """The guard decided on a held visit: its open alerts are dealt with."""
        for row in conn.execute("SELECT * FROM alerts WHERE visit_id = ? AND resolved_at IS NULL",
                                (visit_id,)).fetchall():
            self._resolve(conn, row, actor)

    def _resolve(self, conn, row, actor: str) -> None:
        now = iso(self.now())
        conn.execute("UPDATE alerts SET resolved_at = ?, resolved_by = ? WHERE id = ?",
                     (now, actor, row["id"]))
        self.logbook.append(conn, category="peringatan", actor=actor,
                            text=f"Peringatan #{row['id']} ditangani")
        self.store.emit(conn, "alert.resolved", {"id": row["id"], "by": actor, "at": now})


class Watchlist:
    """People the guard or admin has barred, matched by identity hash or name + institution."""

    def __init__(self, store, *, now) -> None:
        self.store = store
        self.now = now
        self.logbook = Logbook(store)

    def add(self, *, name: str, institution: str, reason: str, actor: str,
            id_number: str | None = None) -> dict[str, Any]:
        name, institution, reason = (one_line(v, f, n) for v, f, n in (
            (name, "name", 80), (institution, "institution", 100), (reason, "reason", 200)))
        number = normalise_id(id_number or "")
        if id_number and not re.fullmatch(r"[0-9A-Z]{4,30}", number):
            raise Invalid("the identity number is 4 to 30 letters or digits",
                          "nomor identitas 4 sampai 30 huruf atau angka", "id_number")
        self.store.require_key()
        now = iso(self.now())
        seal = self.store.seal
        with self.store.transaction() as conn:
            # name_key stays empty: it would keep the name readable beside its sealed copy.
            entry_id = conn.execute(
                "INSERT INTO watchlist (name, institution, name_key, id_last4, id_hash, reason, "
                "added_by, added_at) VALUES (?, ?, '', ?, ?, ?, ?, ?)",
                (seal(name), seal(institution), seal(number[-4:] or None),
                 id_hash(conn, number) if number else None, reason, actor, now)).lastrowid
            self.logbook.append(conn, category="pantauan", actor=actor,
                                text=f"Daftar pantauan #{entry_id} ditambah. Alasan: {reason}")
            self.store.emit(conn, "watchlist.added", {"id": entry_id, "by": actor, "at": now})
            return self._entry(conn.execute("SELECT * FROM watchlist WHERE id = ?",
                                            (entry_id,)).fetchone())

    def list(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM watchlist WHERE removed_at IS NULL ORDER BY id"
                                ).fetchall()
        return [self._entry(row) for row in rows]

    def remove(self, entry_id: int, *, actor: str) -> None:
        """Take someone off the list; the row stays, marked removed, for the record."""
        now = iso(self.now())
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM watchlist WHERE id = ? AND removed_at IS NULL",
                               (entry_id,)).fetchone()
            if row is None:
                raise NotFound(f"no watchlist entry {entry_id}",
                               f"entri daftar pantauan {entry_id} tidak ada")
            conn.execute("UPDATE watchlist SET removed_at = ?, removed_by = ? WHERE id = ?",
                         (now, actor, entry_id))
            self.logbook.append(conn, category="pantauan", actor=actor,
                                text=f"Daftar pantauan #{entry_id} dihapus")
            self.store.emit(conn, "watchlist.removed", {"id": entry_id, "by": actor, "at": now})

    def match(self, conn, *, hashed: str | None, name: str, institution: str):
        """The first active entry matching this identity hash or name + institution, or None.

        Names are sealed, so they are compared here, entry by entry: a watchlist is a few
        dozen people, not a table to index.
        """
        key = name_key(name, institution)
        for row in conn.execute("SELECT * FROM watchlist WHERE removed_at IS NULL ORDER BY id"):
            if hashed is not None and row["id_hash"] == hashed:
                return row
            opened = self.store.unsealed(row, "watchlist")
            if name_key(opened["name"], opened["institution"]) == key:
                return row
        return None

    def _entry(self, row) -> dict[str, Any]:
        row = self.store.unsealed(row, "watchlist")
        return {"id": row["id"], "name": row["name"], "institution": row["institution"],
                "id_masked": masked(row["id_last4"]), "reason": row["reason"],
                "added_by": row["added_by"], "added_at": row["added_at"]}


def one_line(value: Any, field: str, limit: int, *, required: bool = True) -> str:
    """A name, title, note or reason folded to one line; refused with the field to fix.

    The one check for short free text across the post's books, so the guard reads the same
    words wherever a line is too long or holds control characters.
    """
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if (required and not text) or len(text) > limit or CONTROL.search(text):
        if required:
            raise Invalid(f"{field} must be 1 to {limit} characters",
                          f"{field} wajib diisi (1-{limit} karakter)", field)
        raise Invalid(f"{field} must be at most {limit} characters",
                      f"{field} paling banyak {limit} karakter", field)
    return text
