"""Who is still inside: the evacuation roll call, the visiting-hours rules, data retention.

**Roll call.** An alarm whose code is ``fire`` or ``evacuation``, or whose relay effects
release the gate lock (``gate_lock = false``: fire, disaster and evacuation by default),
starts a roll call: everyone on site at that moment (guests with their badge, host and party
size; guards logged in) is written down, and later arrivals are added. At the assembly point
a guard ticks people off. When the last such alarm is cleared, the roll call closes and the
whole list, ticked and not ticked, goes into the logbook as one entry. Only one roll call
runs at a time, however many evacuation alarms overlap.

**Visiting rules (SOP 7c).** At ``visits.wait_until`` (16.00) guests still waiting for their
host's answer (awaiting_host or held) alert the guard with the list; at ``visits.out_by``
(21.00) everyone still on site alerts the guard, and that alert's logbook entry holds the
list (visit number, badge, host, time inside). Each rule fires once a day (a marker in
``meta``), even across restarts; a core started after the hour fires it at start.

Guests are named by visit number and badge in everything that reaches the logbook (the roll
call's lines too): the logbook is append-only and can never be purged. The roll call screen
shows names, opened from the visits.

**Retention.** Once a day, visits that came more than ``visits.retention_days`` ago and have
ended lose their personal data (name, institution, phone, purpose, identity). With sync set
up (``sync.url``), a visit whose events have not all reached hq yet is kept until they have:
hq must get the record before the kiosk forgets it. Without sync, age alone decides, and the
visit's unsent events lose the same fields. Sent outbox events older than the retention
period are deleted (hq has them). Each purge is a logbook entry and an event.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.visits import ON_SITE, short_name
from kiosk.watchlist import Conflict, NotFound, capped

EVACUATION_CODES = ("fire", "evacuation")
# Personal fields blanked in a purged visit's unsent events (as hq blanks its copies).
EVENT_PERSONAL = ("name", "institution", "phone", "id_masked", "purpose")
KINDS = ("guest", "guard")


def evacuates(code: str, spec) -> bool:
    """Whether an alarm code starts a roll call (see the module docstring)."""
    return code in EVACUATION_CODES or spec.relays.get("gate_lock") is False


def guest_label(visit) -> str:
    """How the logbook names a guest: never by name (see the module docstring)."""
    return f"Tamu #{visit['id']} (kartu {visit['badge']})"


def inside(since: str, now: dt.datetime) -> str:
    minutes = max(0, int((now - dt.datetime.fromisoformat(since)).total_seconds() // 60))
    return f"{minutes // 60} jam {minutes % 60} menit"


class RollCall:
    """The evacuation roll call; ``check`` runs from the core's reconcile loop.

    Args:
        guards_on_duty: returns the guards logged in now (the core's sessions).
    """

    def __init__(self, store, settings, *, now, alarms, guards_on_duty) -> None:
        self.store = store
        self.codes = settings.alarms
        self.now = now
        self.alarms = alarms
        self.guards_on_duty = guards_on_duty
        self.logbook = Logbook(store)

    def check(self, now: dt.datetime | None = None) -> None:
        """Open a roll call when an evacuation alarm is active, close it when none is."""
        active = [a for a in self.alarms.active()
                  if a.code in self.codes and evacuates(a.code, self.codes[a.code])]
        open_row = self._open_row()
        if active and open_row is None:
            with self.store.transaction() as conn:
                stamp = iso(now or self.now())
                call_id = conn.execute("INSERT INTO rollcalls (alarm_id, opened_at) VALUES "
                                       "(?, ?)", (active[0].id, stamp)).lastrowid
                count = self._add_people(conn, call_id)
                self.logbook.append(conn, category="evakuasi", actor="system",
                                    text=f"Apel evakuasi dimulai (alarm {active[0].code} "
                                         f"#{active[0].id}): {count} tercatat di lokasi")
                self.store.emit(conn, "rollcall.opened", {"id": call_id, "at": stamp,
                                                          "alarm_id": active[0].id})
        elif open_row is not None and not active:
            self._close(open_row, now or self.now())

    def current(self, *, full: bool) -> dict[str, Any]:
        """The running roll call with everyone on it; ``{"active": False}`` when none runs."""
        row = self._open_row()
        if row is None:
            return {"active": False, "people": []}
        with self.store.transaction() as conn:
            self._add_people(conn, row["id"])  # guests and guards who arrived since
            people = [self._person(r, full) for r in self._entries(conn, row["id"])]
        alarm = self.alarms.get(row["alarm_id"])
        return {"active": True, "id": row["id"], "alarm_id": alarm.id, "code": alarm.code,
                "opened_at": row["opened_at"], "people": people,
                "checked": sum(p["checked"] for p in people), "total": len(people)}

    def check_off(self, kind: str, ref: int, *, actor: str) -> dict[str, Any]:
        """Tick someone off at the assembly point (again is harmless)."""
        row = self._open_row()
        if row is None:
            raise Conflict("no evacuation roll call is running", "tidak ada apel evakuasi")
        with self.store.transaction() as conn:
            self._add_people(conn, row["id"])
            entry = conn.execute("SELECT * FROM rollcall_entries WHERE rollcall_id = ? AND "
                                 "kind = ? AND ref = ?", (row["id"], kind, ref)).fetchone()
            if entry is None:
                raise NotFound(f"no {kind} {ref} on the roll call",
                               f"{kind} {ref} tidak ada di daftar apel")
            if entry["checked_at"] is None:
                stamp = iso(self.now())
                conn.execute("UPDATE rollcall_entries SET checked_at = ?, checked_by = ? WHERE "
                             "rollcall_id = ? AND kind = ? AND ref = ?",
                             (stamp, actor, row["id"], kind, ref))
                self.logbook.append(conn, category="evakuasi", actor=actor,
                                    text=f"Apel evakuasi: {entry['label']} hadir di titik kumpul")
                self.store.emit(conn, "rollcall.checked", {"id": row["id"], "kind": kind,
                                                           "ref": ref, "by": actor, "at": stamp})
            entry = self._entries(conn, row["id"], kind, ref)[0]
            return self._person(entry, full=True)

    def _open_row(self):
        with self.store.read() as conn:
            return conn.execute("SELECT * FROM rollcalls WHERE closed_at IS NULL "
                                "ORDER BY id LIMIT 1").fetchone()

    def _add_people(self, conn, call_id: int) -> int:
        for v in conn.execute(f"SELECT * FROM visits WHERE {ON_SITE}").fetchall():
            conn.execute("INSERT OR IGNORE INTO rollcall_entries (rollcall_id, kind, ref, label,"
                         " detail, party_size) VALUES (?, 'guest', ?, ?, ?, ?)",
                         (call_id, v["id"], guest_label(v), f"tuan rumah {v['host']}",
                          v["party_size"]))
        for guard in self.guards_on_duty():
            conn.execute("INSERT OR IGNORE INTO rollcall_entries (rollcall_id, kind, ref, label,"
                         " detail) VALUES (?, 'guard', ?, ?, ?)",
                         (call_id, guard.id, guard.name, guard.role))
        return conn.execute("SELECT count(*) FROM rollcall_entries WHERE rollcall_id = ?",
                            (call_id,)).fetchone()[0]

    def _entries(self, conn, call_id: int, kind: str | None = None, ref: int | None = None):
        sql = ("SELECT e.*, v.name, v.badge, v.host FROM rollcall_entries e LEFT JOIN visits v "
               "ON e.kind = 'guest' AND v.id = e.ref WHERE e.rollcall_id = ?")
        params: list[Any] = [call_id]
        if kind is not None:
            sql += " AND e.kind = ? AND e.ref = ?"
            params += [kind, ref]
        return conn.execute(sql + " ORDER BY e.kind DESC, v.badge, e.label", params).fetchall()

    def _person(self, row, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": row["kind"], "id": row["ref"],
                               "party_size": row["party_size"],
                               "checked": row["checked_at"] is not None,
                               "checked_at": row["checked_at"], "checked_by": row["checked_by"]}
        if row["kind"] == "guest":
            name = self.store.unseal(row["name"]) or ""
            out.update(badge=row["badge"], host=row["host"],
                       name=name if full else short_name(name))
        else:
            out.update(name=row["label"], role=row["detail"])
        return out

    def _close(self, row, now: dt.datetime) -> None:
        with self.store.transaction() as conn:
            entries = self._entries(conn, row["id"])
            stamp = iso(now)
            conn.execute("UPDATE rollcalls SET closed_at = ? WHERE id = ?", (stamp, row["id"]))
            present = [e for e in entries if e["checked_at"]]
            absent = [e for e in entries if not e["checked_at"]]

            def line(e) -> str:
                party = f", {e['party_size']} orang" if e["party_size"] > 1 else ""
                who = "tamu" if e["kind"] == "guest" else "petugas"
                when = f" {e['checked_at'][11:16]} oleh {e['checked_by']}" if e["checked_at"] \
                    else ""
                return f"- {e['label']} ({who}, {e['detail']}{party}){when}"

            lines = (["Hadir di titik kumpul:"] + [line(e) for e in present]
                     + ["Belum tercatat hadir:"] + [line(e) for e in absent])
            self.logbook.append(conn, category="evakuasi", actor="system", text=capped(
                lines, f"Apel evakuasi selesai ({row['opened_at'][11:16]}-{stamp[11:16]}): "
                       f"{len(present)} dari {len(entries)} hadir."))
            self.store.emit(conn, "rollcall.closed", {
                "id": row["id"], "at": stamp, "alarm_id": row["alarm_id"],
                "people": [{"kind": e["kind"], "ref": e["ref"], "checked_at": e["checked_at"],
                            "checked_by": e["checked_by"]} for e in entries]})


class VisitingRules:
    """SOP 7c and retention, checked from the reconcile loop: cheap when nothing is due."""

    def __init__(self, store, settings, *, now, alerts) -> None:
        self.store = store
        self.visits = settings.visits
        self.synced = bool(settings.sync.url)  # purge only what hq already holds
        self.now = now
        self.alerts = alerts
        self.logbook = Logbook(store)
        self._done: dict[str, str] = {}  # rule -> the day it was last seen done (a cache)

    def check(self, now: dt.datetime | None = None) -> None:
        now = now or self.now()
        today = now.date().isoformat()
        for rule, at in (("wait_until", self.visits.wait_until),
                         ("out_by", self.visits.out_by), ("purge", dt.time(0, 0))):
            if now.time() >= at and self._done.get(rule) != today:
                with self.store.transaction() as conn:
                    key = f"visits.rule.{rule}"
                    marker = conn.execute("SELECT value FROM meta WHERE key = ?",
                                          (key,)).fetchone()
                    if marker is None or marker["value"] != today:
                        getattr(self, f"_{rule}")(conn, now)
                        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT"
                                     "(key) DO UPDATE SET value = excluded.value", (key, today))
                self._done[rule] = today

    def _list(self, conn, now: dt.datetime, waiting: bool) -> list[str]:
        rows = conn.execute(f"SELECT * FROM visits WHERE {ON_SITE} ORDER BY created_at"
                            ).fetchall()
        return [f"- {guest_label(r)} untuk {r['host']}, {inside(r['created_at'], now)} di dalam"
                for r in rows if not waiting or r["status"] != "admitted"]

    def _wait_until(self, conn, now: dt.datetime) -> None:
        lines = self._list(conn, now, waiting=True)
        if lines:
            self.alerts.add(conn, "overstay", capped(
                lines, f"Pukul {now:%H:%M}: {len(lines)} tamu masih menunggu tuan rumah "
                       f"(batas tunggu {self.visits.wait_until:%H:%M}):"))

    def _out_by(self, conn, now: dt.datetime) -> None:
        lines = self._list(conn, now, waiting=False)
        if lines:  # the alert's logbook entry carries the list
            self.alerts.add(conn, "overstay", capped(
                lines, f"Pukul {now:%H:%M}: {len(lines)} tamu masih di dalam setelah batas "
                       f"{self.visits.out_by:%H:%M}:"))
        else:
            self.logbook.append(conn, category="tamu", actor="system",
                                text=f"Pukul {now:%H:%M}: semua tamu sudah keluar")
            self.store.emit(conn, "visits.all_out", {"at": iso(now)})

    def _purge(self, conn, now: dt.datetime) -> None:
        cutoff = iso(now - dt.timedelta(days=self.visits.retention_days))
        due = ("purged_at IS NULL AND status IN ('denied', 'checked_out') AND "
               "julianday(created_at) < julianday(?)")
        unsent = ("EXISTS (SELECT 1 FROM outbox WHERE outbox.visit_id = visits.id AND "
                  "outbox.sent_at IS NULL)")
        ready = f"{due} AND NOT {unsent}" if self.synced else due
        ids = [r["id"] for r in conn.execute(f"SELECT id FROM visits WHERE {ready}", (cutoff,))]
        held = conn.execute(f"SELECT count(*) FROM visits WHERE {due} AND {unsent}",
                            (cutoff,)).fetchone()[0] if self.synced else 0
        for visit_id in ids:
            conn.execute("UPDATE visits SET name = '', institution = '', phone = '', "
                         "purpose = '', id_last4 = '', id_hash = NULL, purged_at = ? "
                         "WHERE id = ?", (iso(now), visit_id))
            if not self.synced:
                self._blank_unsent(conn, visit_id)
        count = len(ids) + conn.execute("DELETE FROM invitations WHERE valid_on < ?",
                                        (cutoff[:10],)).rowcount
        events = conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND "
                              "julianday(created_at) < julianday(?)", (cutoff,)).rowcount
        self.store.seal_plain()  # e.g. invitations that came from hq since yesterday
        parts = []
        if count:
            parts.append(f"Data pribadi {count} kunjungan/undangan lebih dari "
                         f"{self.visits.retention_days} hari dihapus")
        if events:
            parts.append(f"{events} event lama yang sudah diterima pusat dihapus dari antrean")
        if held:
            parts.append(f"{held} kunjungan lama disimpan sampai datanya diterima pusat")
        if parts:
            self.logbook.append(conn, category="tamu", actor="system", text="; ".join(parts))
            self.store.emit(conn, "visits.purged", {"count": count, "before": cutoff,
                                                    "events": events, "held": held})

    def _blank_unsent(self, conn, visit_id: int) -> None:
        """Without sync, a purged visit's events would keep its details in the outbox."""
        rows = conn.execute("SELECT id, payload FROM outbox WHERE visit_id = ? AND "
                            "sent_at IS NULL", (visit_id,)).fetchall()
        for row in rows:
            text = self.store.unseal(row["payload"])
            if text is None or not text.startswith("{"):
                continue  # sealed under a key not loaded now
            body = json.loads(text)
            body.update({k: "" for k in EVENT_PERSONAL if body.get(k)})
            payload = json.dumps(body, sort_keys=True, ensure_ascii=False,
                                 separators=(",", ":"))
            if self.store.sealing:
                payload = self.store.seal(payload)
            conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (payload, row["id"]))
