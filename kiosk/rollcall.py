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
list (badge, name, host, time inside). Each rule fires once a day (a marker in ``meta``),
even across restarts; a core started after the hour fires it at start.

**Retention.** Once a day, visits that ended more than ``visits.retention_days`` ago lose
their personal data (name, institution, phone, purpose, identity). Entries already in the
append-only logbook cannot be purged: routine ones name visits by number and badge only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.visits import ON_SITE, short_name
from kiosk.watchlist import Conflict, NotFound, capped

EVACUATION_CODES = ("fire", "evacuation")
KINDS = ("guest", "guard")


def evacuates(code: str, spec) -> bool:
    """Whether an alarm code starts a roll call (see the module docstring)."""
    return code in EVACUATION_CODES or spec.relays.get("gate_lock") is False


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
                         (call_id, v["id"], f"{v['badge']} {v['name']}",
                          f"tuan rumah {v['host']}", v["party_size"]))
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
        return conn.execute(sql + " ORDER BY e.kind DESC, e.label", params).fetchall()

    @staticmethod
    def _person(row, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": row["kind"], "id": row["ref"],
                               "party_size": row["party_size"],
                               "checked": row["checked_at"] is not None,
                               "checked_at": row["checked_at"], "checked_by": row["checked_by"]}
        if row["kind"] == "guest":
            out.update(badge=row["badge"], host=row["host"],
                       name=row["name"] if full else short_name(row["name"]))
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
        return [f"- {r['badge']} {r['name']} ({r['institution']}) untuk {r['host']}, "
                f"{inside(r['created_at'], now)} di dalam" for r in rows
                if not waiting or r["status"] != "admitted"]

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
        cutoff = now - dt.timedelta(days=self.visits.retention_days)
        count = conn.execute(
            "UPDATE visits SET name = '', institution = '', phone = '', purpose = '', "
            "id_last4 = '', id_hash = NULL, purged_at = ? WHERE purged_at IS NULL AND "
            "status IN ('denied', 'checked_out') AND julianday(created_at) < julianday(?)",
            (iso(now), iso(cutoff))).rowcount
        count += conn.execute("DELETE FROM invitations WHERE valid_on < ?",
                              (cutoff.date().isoformat(),)).rowcount
        if count:
            self.logbook.append(conn, category="tamu", actor="system",
                                text=f"Data pribadi {count} kunjungan/undangan lebih dari "
                                     f"{self.visits.retention_days} hari dihapus")
            self.store.emit(conn, "visits.purged", {"count": count, "before": iso(cutoff)})
