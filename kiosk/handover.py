"""The shift handover (SOP 19): what the outgoing guard hands over, confirmed by the incoming one.

The summary is what the incoming guard must know at once: incidents still open (active alarms,
unresolved alerts, SOP runs not finished), guests on site, things lent out and packages not
yet delivered, tasks due and not done, relay overrides in force. Each part comes from a source
callable passed in, so this module needs no core and a test passes plain lists. A source that
fails is listed as unavailable instead of blocking the handover: the post must be able to
change guards whatever else is broken, and the record says what was missing.

The outgoing guard (logged in) starts it; the incoming guard confirms on the same screen with
their own PIN, through the normal login and its lockout, so nobody can record a handover to a
colleague who was not there. The record keeps both names, the time, the note and the summary
as it was; the logbook gets one line in Bahasa Indonesia (category ``serah-terima``). The
incoming guard counts as checked in for their shift.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.auth import AuthError, Guard, LockedOut
from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.watchlist import CONTROL, Invalid, capped

log = logging.getLogger(__name__)

MAX_NOTE = 500
# Section names and how the logbook line counts them, in the order the guard reads them.
LABELS = {
    "alarms": "alarm aktif",
    "alerts": "peringatan terbuka",
    "sop_runs": "SOP belum selesai",
    "guests": "tamu di lokasi",
    "items_lent": "barang dipinjam",
    "vehicles_lent": "kendaraan dinas dipinjam",
    "vehicles_inside": "kendaraan di dalam",
    "packages": "paket belum diserahkan",
    "tasks": "tugas belum selesai",
    "overrides": "override relay aktif",
}

REGISTERS = ("items_lent", "vehicles_lent", "vehicles_inside", "packages")

# A source feeds one section (its name) with a list, or several sections (a tuple of their
# names) with a mapping of name -> list: the registers' four come from one consistent read.
Sources = Mapping[str | tuple[str, ...], Callable[[], Any]]


def core_sources(core) -> dict[str | tuple[str, ...], Callable[[], Any]]:
    """The core's parts as summary sources: attribute access only, so no import of the core.

    Guests are shown by badge and short name: the snapshot is kept for good, and a guest's
    full name must go when the visit's personal data is purged.
    """
    def alarms() -> list[dict[str, Any]]:
        return [{"id": a.id, "code": a.code, "state": a.state, "raised_at": a.raised_at,
                 "raised_by": a.raised_by} for a in core.alarms.active()]

    def alerts() -> list[dict[str, Any]]:
        return [{"id": a["id"], "kind": a["kind"], "text": a["text"],
                 "created_at": a["created_at"]}
                for a in core.alerts.list() if a["resolved_at"] is None]

    def guests() -> list[dict[str, Any]]:
        return [{k: v[k] for k in ("id", "badge", "name", "host", "status", "party_size",
                                   "created_at")}
                for v in core.visits.listing(on_site=True, full=False)]

    def tasks() -> list[dict[str, Any]]:
        now = core.clock.now()
        return [{"id": t.id, "title_id": t.title_id, "title_en": t.title_en,
                 "due_at": t.due_at.isoformat(), "status": t.status(now)}
                for t in core.tasks.around(now) if t.due_at <= now and not t.done_at]

    def overrides() -> list[dict[str, Any]]:
        return [{"relay": o.relay, "on": o.on, "reason": o.reason, "by": o.actor,
                 "expires_at": o.expires_at and o.expires_at.isoformat()}
                for o in core.active_overrides().values()]

    return {"alarms": alarms, "alerts": alerts,
            "sop_runs": lambda: core.sops.runs(open_only=True), "guests": guests,
            REGISTERS: core.registers.outstanding, "tasks": tasks, "overrides": overrides}


class Handover:
    """Summaries and the record of handovers.

    Args:
        guards: checks the incoming guard's PIN (:class:`kiosk.auth.Guards`).
        roster: checks the incoming guard in (:class:`kiosk.roster.Roster`).
        sources: section name -> callable returning that section's open items (a list); or
            a tuple of names -> callable returning a mapping of each name to its list.
    """

    def __init__(self, store, *, now, guards, roster, sources: Sources) -> None:
        self.store = store
        self.now = now
        self.guards = guards
        self.roster = roster
        self.sources = sources
        self.logbook = Logbook(store)

    def summary(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        for key, source in self.sources.items():
            names = key if isinstance(key, tuple) else (key,)
            try:
                found = source() if isinstance(key, tuple) else {key: source()}
                # Through JSON once, so the snapshot stored is exactly what the screen showed.
                parts = json.loads(json.dumps({name: found[name] for name in names},
                                              default=str))
                for items in parts.values():
                    if not isinstance(items, list):
                        raise TypeError(f"gave {type(items).__name__}, not a list")
            except Exception as exc:  # one broken register must not stop the handover
                log.exception("handover source %s failed", ", ".join(names))
                unavailable.update(dict.fromkeys(names, str(exc) or type(exc).__name__))
            else:
                sections.update(parts)
        return {"at": iso(self.now()), "sections": sections,
                "counts": {name: len(items) for name, items in sections.items()},
                "unavailable": unavailable}

    def accept(self, outgoing: Guard, *, incoming_pin: str,
               note: str = "") -> tuple[dict[str, Any], Guard]:
        """Record the handover once the incoming guard's PIN checks out.

        Returns:
            The record (with ``checkin``: the incoming guard's check-in, or None when they
            have no shift now) and the incoming guard, whom the caller may log in.

        Raises:
            LockedOut: too many wrong PINs (the login's own lockout).
            Invalid: a wrong PIN, the outgoing guard's own PIN, or a bad note.
        """
        note = " ".join(note.split()) if isinstance(note, str) else ""
        if len(note) > MAX_NOTE or CONTROL.search(note):
            raise Invalid(f"the note is at most {MAX_NOTE} characters of text",
                          f"catatan maksimal {MAX_NOTE} karakter", "note")
        try:  # outside any transaction: a rollback must never undo the failure count
            incoming = self.guards.login(incoming_pin)
        except LockedOut:
            raise
        except AuthError as exc:
            raise Invalid(f"incoming guard: {exc}",
                          "PIN petugas pengganti salah; salah berulang kali mengunci login",
                          "incoming_pin") from None
        if incoming.id == outgoing.id:
            raise Invalid("enter the PIN of the guard taking over, not your own",
                          "masukkan PIN petugas pengganti, bukan PIN Anda", "incoming_pin")
        summary = self.summary()
        at = summary["at"]
        # The record keeps guests by visit and badge: names live sealed in the guest book only.
        sections = summary["sections"]
        if "guests" in sections:
            sections = {**sections, "guests": [{k: v for k, v in g.items() if k != "name"}
                                               for g in sections["guests"]]}
        kept = {**summary, "sections": sections}
        with self.store.transaction() as conn:
            handover_id = conn.execute(
                "INSERT INTO handovers (at, outgoing_id, outgoing, incoming_id, incoming, note, "
                "summary) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, outgoing.id, outgoing.name, incoming.id, incoming.name, note,
                 json.dumps(kept, ensure_ascii=False))).lastrowid
            counts = [f"{LABELS.get(name, name)}: {n}" for name, n in summary["counts"].items()]
            lines = [", ".join(counts) + "."]
            if summary["unavailable"]:
                lines.append("Tidak tersedia: " + ", ".join(summary["unavailable"]) + ".")
            if note:
                lines.append(f"Catatan: {note}")
            self.logbook.append(conn, category="serah-terima", actor=outgoing.name, text=capped(
                lines, f"Serah terima tugas jaga #{handover_id} pukul {at[11:16]} dari "
                       f"{outgoing.name} kepada {incoming.name}."))
            checkin = self.roster.checkin_in(conn, incoming.name, via="handover")
            self.store.emit(conn, "handover.accepted", {
                "id": handover_id, "at": at, "outgoing": outgoing.name,
                "incoming": incoming.name, "note": note, "summary": summary})
            row = conn.execute("SELECT * FROM handovers WHERE id = ?", (handover_id,)).fetchone()
        return {**_view(row), "checkin": checkin}, incoming

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """Handovers newest first, each with the summary as it was handed over."""
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM handovers ORDER BY id DESC LIMIT ?",
                                (limit,)).fetchall()
        return [_view(row) for row in rows]


def _view(row) -> dict[str, Any]:
    return {"id": row["id"], "at": row["at"],
            "outgoing": {"id": row["outgoing_id"], "name": row["outgoing"]},
            "incoming": {"id": row["incoming_id"], "name": row["incoming"]},
            "note": row["note"], "summary": json.loads(row["summary"])}
