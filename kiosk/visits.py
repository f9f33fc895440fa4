"""Guest visits (SOP 5-8, 7a-7b): register, badge, host's answer, check-out; invitations.

A guest registers on the kiosk and gets the lowest free badge (kartu tamu) in exchange for
their identity document; the visit then waits for the host's answer, which the guard enters
(admit or deny). A watchlist match or a temperature at or above the threshold finishes the
kiosk flow normally for the guest but holds the visit and alerts the guard at once. One
badge per visit, worn by whoever leads the party. Checking out (by visit or by badge, no PIN:
guests do it themselves) and denying free the badge.

The badge is picked inside the store's write transaction, and a partial UNIQUE index on the
badges of visits on site backs that up, so two registrations at the same moment can never
share one.

Names, institutions, phones and the identity number's last four are sealed at rest (see
:mod:`kiosk.store.sealed`): written through ``store.seal``, read through ``store.unsealed``.
Logbook entries and alerts name a guest by visit number and badge only: the logbook can never
be purged, and the guard's screens get names from the visit itself.

QR payloads the scan screen may see: ``GK1:INV:<12 chars>`` (an invitation the guard made in
advance), ``GK1:PASS:<visit id>:<hmac>`` (a returning guest's pass) and a badge label
(``TAMU-07``, or ``GK1:BADGE:TAMU-07``) for self check-out. Payloads are untrusted.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from kiosk import invitations
from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.watchlist import (
    CONTROL,
    Conflict,
    GuestError,
    Invalid,
    NotAllowed,
    NotFound,
    guest_details,
    id_hash,
    masked,
    short_name,
    sign,
    validate,
)

ON_SITE = "status IN ('awaiting_host', 'held', 'admitted')"  # as in the partial indexes
MAX_CODE = 512
# Event fields that are personal data: left out of an event while the key is missing (they
# would read as locked), so hq keeps what it had rather than a placeholder.
PERSONAL = ("name", "institution", "phone")
POOL_EMPTY = ("no guest badge free: please see the guard",
              "kartu tamu habis: silakan temui petugas")


def invitation_view(row) -> dict[str, Any]:
    """What the scan screen needs of an invitation (the guest's name fills the form)."""
    return {"kind": "invitation", "code": row["code"], "valid_on": row["valid_on"],
            **{k: row[k] for k in ("name", "institution", "host", "purpose")}}


class Visits:
    """The guest book. Every change is one transaction: row, logbook entry, outbox event."""

    def __init__(self, store, settings, *, now, alerts, watchlist) -> None:
        self.store = store
        self.settings = settings
        self.pool = settings.visits
        self.now = now
        self.alerts = alerts
        self.watchlist = watchlist
        self.logbook = Logbook(store)

    def labels(self) -> list[str]:
        return [f"{self.pool.badge_prefix}{n:02d}" for n in range(1, self.pool.badges + 1)]

    def register(self, data, *, guard=None) -> dict[str, Any]:
        """Register a guest; returns the visit with ``returning`` and ``pass_payload``.

        Raises:
            Invalid: a field is wrong. NotAllowed: a manual temperature without a guard.
            Conflict: every badge is out (the guard is alerted).
        """
        form = validate(data, self.settings)
        self.store.require_key()  # no key, no registration: refused before a badge is taken
        if form["temperature_source"] == "manual" and guard is None:
            raise NotAllowed("a temperature measured by hand is entered by the guard: "
                             "log in with the guard PIN", "suhu yang diukur manual dimasukkan "
                             "oleh petugas: masukkan PIN petugas")
        now = self.now()
        with self.store.transaction() as conn:
            if form["invitation"]:
                self._invitation(conn, form["invitation"], now.date())
            # Picked and inserted under the write lock; the UNIQUE index is the backstop.
            in_use = {r["badge"] for r in conn.execute(f"SELECT badge FROM visits WHERE {ON_SITE}")}
            badge = next((label for label in self.labels() if label not in in_use), None)
            if badge is None:
                self.alerts.add(conn, "badges", f"Kartu tamu habis ({self.pool.badges} terpakai):"
                                " tamu di lobi menunggu bantuan petugas", once=True)
            else:
                out = self._insert(conn, form, badge, guard, now)
        if badge is None:  # raised after the commit: the alert stays, the guest hears why
            raise Conflict(*POOL_EMPTY)
        return out

    def _insert(self, conn, form, badge: str, guard, now: dt.datetime) -> dict[str, Any]:
        hashed = id_hash(conn, form["id_number"])
        returning = conn.execute("SELECT 1 FROM visits WHERE id_hash = ? LIMIT 1",
                                 (hashed,)).fetchone() is not None
        barred = self.watchlist.match(conn, hashed=hashed, name=form["name"],
                                      institution=form["institution"])
        hot = form["temperature_c"] is not None and \
            form["temperature_c"] >= self.settings.thermometer.threshold_c
        reason = "watchlist" if barred else "temperature" if hot else None
        stamp = iso(now)
        seal = self.store.seal
        visit_id = conn.execute(
            "INSERT INTO visits (name, institution, phone, purpose, host, party_size, id_type,"
            " id_last4, id_hash, temperature_c, temperature_source, temperature_by, "
            "consent_at, badge, status, hold_reason, returning_guest, invitation, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seal(form["name"]), seal(form["institution"]), seal(form["phone"]),
             form["purpose"], form["host"], form["party_size"], form["id_type"],
             seal(form["id_number"][-4:]), hashed,
             form["temperature_c"], form["temperature_source"],
             guard.name if form["temperature_source"] == "manual" else None, stamp,
             badge, "held" if reason else "awaiting_host", reason,
             int(returning), form["invitation"], stamp)).lastrowid
        row = self._get(conn, visit_id)
        temp = (f", suhu {row['temperature_c']} °C ({row['temperature_source']})"
                if row["temperature_c"] is not None else "")
        self._record(conn, row, "visit.registered", guard.name if guard else "kiosk",
                     f"Tamu #{visit_id} mendaftar untuk {row['host']}, {row['party_size']} "
                     f"orang, kartu {row['badge']}{temp}")
        who = f"Tamu #{visit_id} (kartu {row['badge']}) untuk {row['host']}"
        if barred:
            self.alerts.add(conn, "watchlist", f"{who} ada di daftar pantauan (entri "
                            f"#{barred['id']}). Alasan: {barred['reason']}. Kunjungan ditahan: "
                            "putuskan izinkan atau tolak.", visit_id=visit_id)
        if hot:
            self.alerts.add(conn, "temperature", f"Suhu tinggi {row['temperature_c']} °C: "
                            f"{who} diminta menunggu.", visit_id=visit_id)
        out = self.view(row, full=False)
        out.update(returning=returning, temperature_ok=not hot,
                   pass_payload=self._pass(conn, visit_id))
        return out

    def admit(self, visit_id: int, *, actor: str) -> dict[str, Any]:
        return self._decide(visit_id, "admitted", actor, "diizinkan masuk")

    def deny(self, visit_id: int, *, actor: str, reason: str = "") -> dict[str, Any]:
        why = f": {reason.strip()}" if reason and reason.strip() else ""
        return self._decide(visit_id, "denied", actor, f"ditolak{why}; kartu dikembalikan")

    def _decide(self, visit_id: int, status: str, actor: str, words: str) -> dict[str, Any]:
        with self.store.transaction() as conn:
            row = self._get(conn, visit_id)
            if row["status"] not in ("awaiting_host", "held"):
                raise Conflict(f"visit {visit_id} is {row['status'].replace('_', ' ')}: "
                               "nothing to decide", f"kunjungan {visit_id} sudah diputuskan")
            stamp = iso(self.now())
            conn.execute("UPDATE visits SET status = ?, decided_at = ?, decided_by = ? "
                         "WHERE id = ?", (status, stamp, actor, visit_id))
            self.alerts.resolve_for_visit(conn, visit_id, actor)
            row = self._get(conn, visit_id)
            self._record(conn, row, f"visit.{status}", actor,
                         f"Tamu #{visit_id} (kartu {row['badge']}) {words}")
            return self.view(row)

    def checkout(self, visit_id: int, *, actor: str = "tamu") -> dict[str, Any]:
        with self.store.transaction() as conn:
            row = self._get(conn, visit_id)
            if row["status"] == "checked_out":
                raise Conflict(f"{row['badge']} was already checked out at "
                               f"{row['checked_out_at'][11:16]}", f"{row['badge']} sudah "
                               f"keluar pukul {row['checked_out_at'][11:16]}")
            if row["status"] == "denied":
                raise Conflict(f"visit {visit_id} was denied: its badge is already free",
                               f"kunjungan {visit_id} ditolak: kartunya sudah kembali")
            stamp = iso(self.now())
            conn.execute("UPDATE visits SET status = 'checked_out', checked_out_at = ?, "
                         "checked_out_by = ? WHERE id = ?", (stamp, actor, visit_id))
            self.alerts.resolve_for_visit(conn, visit_id, actor)
            row = self._get(conn, visit_id)
            self._record(conn, row, "visit.checked_out", actor,
                         f"Tamu #{visit_id} keluar, kartu {row['badge']} kembali")
            return self.view(row, full=False)

    def checkout_badge(self, badge: str, *, actor: str = "tamu") -> dict[str, Any]:
        return self.checkout(self.by_badge(badge)["id"], actor=actor)

    def by_badge(self, badge: str) -> dict[str, Any]:
        """The visit wearing ``badge`` now, or its last one (to say it is checked out)."""
        label = {b.upper(): b for b in self.labels()}.get(badge.strip().upper())
        if label is None:
            raise NotFound(f"{badge[:20]!r} is not a guest badge of this post",
                           f"{badge[:20]!r} bukan kartu tamu pos ini")
        with self.store.read() as conn:
            row = conn.execute("SELECT * FROM visits WHERE badge = ? ORDER BY "
                               f"{ON_SITE} DESC, id DESC LIMIT 1", (label,)).fetchone()
        if row is None:
            raise NotFound(f"badge {label} is not in use", f"kartu {label} tidak sedang dipakai")
        return self.store.unsealed(row, "visits")

    def get(self, visit_id: int, *, full: bool = True) -> dict[str, Any]:
        with self.store.read() as conn:
            return self.view(self._get(conn, visit_id), full=full)

    def listing(self, *, on_site: bool, full: bool, day: dt.date | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
        """Guests on site (oldest first), or everyone who came on ``day`` (newest first)."""
        with self.store.read() as conn:
            if on_site:
                rows = conn.execute(f"SELECT * FROM visits WHERE {ON_SITE} ORDER BY created_at"
                                    ).fetchall()
            else:
                start = dt.datetime.combine(day or self.now().date(), dt.time(),
                                            self.now().tzinfo)
                rows = conn.execute(
                    "SELECT * FROM visits WHERE julianday(created_at) >= julianday(?) AND "
                    "julianday(created_at) < julianday(?) ORDER BY id DESC LIMIT ?",
                    (iso(start), iso(start + dt.timedelta(days=1)), limit)).fetchall()
        return [self.view(self.store.unsealed(row, "visits"), full=full) for row in rows]

    @staticmethod
    def view(row, full: bool = True) -> dict[str, Any]:
        """A visit as the API shows it; without ``full`` the lobby's short form (no PIN).

        ``row`` is the row with its personal columns opened (``store.unsealed``).
        """
        out = {k: row[k] for k in ("id", "badge", "status", "host", "party_size", "created_at",
                                   "decided_at", "checked_out_at")}
        out["name"] = row["name"] if full else short_name(row["name"])
        if full:
            out.update({k: row[k] for k in (
                "institution", "phone", "purpose", "id_type", "temperature_c",
                "temperature_source", "temperature_by", "hold_reason", "invitation",
                "consent_at", "decided_by", "checked_out_by")})
            out.update(id_masked=masked(row["id_last4"]), returning=bool(row["returning_guest"]))
        return out

    # -- invitations, passes, scanned codes --------------------------------------------------

    def invite(self, *, name: str, institution: str, host: str, purpose: str,
               valid_on: dt.date, actor: str) -> dict[str, Any]:
        checked = guest_details({"name": name, "institution": institution, "host": host,
                                 "purpose": purpose})
        today = self.now().date()
        if not today <= valid_on <= today + dt.timedelta(days=366):
            raise Invalid("valid_on must be today or a day within the next year",
                          "tanggal berlaku harus hari ini atau dalam setahun ke depan",
                          "valid_on")
        self.store.require_key()
        code = invitations.new_code()
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO invitations (code, name, institution, host, purpose, "
                         "valid_on, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (code, self.store.seal(checked["name"]),
                          self.store.seal(checked["institution"]), checked["host"],
                          checked["purpose"], valid_on.isoformat(), actor, iso(self.now())))
            self.logbook.append(conn, category="tamu", actor=actor,
                                text=f"Undangan {code} untuk {checked['host']}, {valid_on}")
            self.store.emit(conn, "invitation.created", {"code": code, "host": checked["host"],
                                                         "valid_on": valid_on.isoformat()})
        return {"code": code, "qr_payload": f"GK1:INV:{code}", "valid_on": valid_on.isoformat()}

    def resolve_code(self, payload: str) -> dict[str, Any]:
        """What a scanned or typed code means; unknown, stale or odd payloads are errors."""
        if len(payload) > MAX_CODE:
            raise GuestError(f"code too long ({len(payload)} characters): not a kiosk code",
                             "kode terlalu panjang: bukan kode kiosk", "payload")
        if CONTROL.search(payload):
            raise GuestError("code contains control characters: scan again",
                             "kode berisi karakter kontrol: pindai ulang", "payload")
        text = payload.strip()
        parts = text.split(":")
        if text.upper().startswith(invitations.PREFIX):
            return self._signed_invitation(text)
        if text.upper().startswith("GK1:INV:") and len(parts) == 3:
            with self.store.read() as conn:
                return invitation_view(self._invitation(conn, parts[2].upper(),
                                                        self.now().date()))
        if text.upper().startswith("GK1:PASS:") and len(parts) == 4 \
                and parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 12:
            return self._resolve_pass(int(parts[2]), parts[3])
        if text.upper().startswith("GK1:BADGE:") and len(parts) == 3:
            text = parts[2]
        if text.upper() in {b.upper() for b in self.labels()}:
            row = self.by_badge(text)
            if row["status"] not in ("awaiting_host", "held", "admitted"):
                raise NotFound(f"badge {row['badge']} is not checked in",
                               f"kartu {row['badge']} tidak sedang dipakai")
            return {"kind": "badge", "badge": row["badge"], "visit_id": row["id"],
                    "name": short_name(row["name"]), "host": row["host"]}
        raise NotFound("unknown code: not a kiosk invitation, pass or guest badge",
                       "kode tidak dikenal: bukan undangan, kartu pas, atau kartu tamu kiosk")

    def _signed_invitation(self, payload: str) -> dict[str, Any]:
        """An invitation made at hq: checked by its signature, so hq need not be reachable."""
        with self.store.transaction() as conn:
            key = invitations.known_key(conn, self.settings)
            if key is None:
                raise NotFound("this kiosk cannot check invitations from hq yet (it has never "
                               "synced): register at the kiosk instead",
                               "undangan belum bisa diperiksa: silakan daftar di kiosk",
                               "invitation")
            try:
                fields = invitations.verify(payload, key)
            except invitations.InvitationError as exc:
                raise NotFound(f"{exc}: register at the kiosk instead",
                               "undangan tidak sah: silakan daftar di kiosk",
                               "invitation") from None
            here = invitations.kiosk_name(conn, self.settings)
            if fields["kiosk"] != here:
                raise GuestError(f"this invitation is for {fields['kiosk']}, not {here}",
                                 f"undangan ini untuk {fields['kiosk']}, bukan {here}",
                                 "invitation")
            conn.execute("INSERT OR IGNORE INTO invitations (code, name, institution, host, "
                         "purpose, valid_on, created_by, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, 'hq', ?)",
                         (fields["code"], self.store.seal(fields["name"]),
                          self.store.seal(fields["institution"]), fields["host"],
                          fields["purpose"], fields["valid_on"], iso(self.now())))
            return invitation_view(self._invitation(conn, fields["code"], self.now().date()))

    def _resolve_pass(self, visit_id: int, mac: str) -> dict[str, Any]:
        with self.store.read() as conn:
            expected = self._pass(conn, visit_id).split(":")[3]
            if not hmac.compare_digest(mac.lower().encode(), expected.encode()):
                raise NotFound("unknown pass: register as a new guest",
                               "kartu pas tidak dikenal: daftar sebagai tamu baru")
            row = conn.execute("SELECT * FROM visits WHERE id_hash = (SELECT id_hash FROM visits "
                               "WHERE id = ?) ORDER BY id DESC LIMIT 1", (visit_id,)).fetchone()
            row = self.store.unsealed(row, "visits")
        if row is None:
            raise GuestError("this pass has expired: register as a new guest",
                             "kartu pas sudah kedaluwarsa: daftar sebagai tamu baru", "payload")
        return {"kind": "pass", "visit_id": row["id"],
                **{k: row[k] for k in ("name", "institution", "purpose", "host", "party_size",
                                       "id_type")}}

    def _pass(self, conn, visit_id: int) -> str:
        return f"GK1:PASS:{visit_id}:{sign(conn, f'pass:{visit_id}')[:20]}"

    def _invitation(self, conn, code: str, today: dt.date):
        row = conn.execute("SELECT * FROM invitations WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise NotFound("unknown invitation: register at the kiosk instead",
                           "undangan tidak dikenal: silakan daftar di kiosk", "invitation")
        if row["valid_on"] != today.isoformat():
            word = "expired" if row["valid_on"] < today.isoformat() else "not valid yet"
            raise GuestError(f"this invitation is for {row['valid_on']}, not today ({word})",
                             f"undangan ini untuk tanggal {row['valid_on']}, bukan hari ini",
                             "invitation")
        return self.store.unsealed(row, "invitations")

    # -- helpers -----------------------------------------------------------------------------

    def _get(self, conn, visit_id: int) -> dict[str, Any]:
        """The visit's row, its personal columns opened."""
        row = conn.execute("SELECT * FROM visits WHERE id = ?", (visit_id,)).fetchone()
        if row is None:
            raise NotFound(f"no visit {visit_id}", f"kunjungan {visit_id} tidak ada")
        return self.store.unsealed(row, "visits")

    def _record(self, conn, row, kind: str, actor: str, text: str) -> None:
        """The logbook entry and the event for hq that go with every change of a visit.

        ``text`` names the guest by visit number only (the logbook is never purged); the
        event carries the details, as the outbox is sealed.
        """
        self.logbook.append(conn, category="tamu", actor=actor, text=text)
        event = {k: row[k] for k in ("id", "badge", "status", "host", "party_size", "name",
                                     "institution", "phone", "purpose", "id_type",
                                     "temperature_c", "temperature_source", "hold_reason",
                                     "created_at", "decided_at", "checked_out_at")}
        event.update(id_masked=masked(row["id_last4"]), by=actor)
        if self.store.locked:
            for key in (*PERSONAL, "id_masked"):
                event.pop(key)
        self.store.emit(conn, kind, event, visit_id=row["id"])
