"""The duty roster (SOP 1, 20, 21): who guards which shift, check-in, backups, call-out.

The week comes from config (``[roster]``); an admin may override one date on the kiosk, and the
override, kept in the store, replaces the config's duty for that whole date. A shift belongs
to the day it starts on: Monday's night shift runs into Tuesday morning and is still Monday's
duty at 02.00. A date in ``[calendar] holidays`` takes the ``holiday`` duty if the roster has
one, and its weekday's duty otherwise, so a forgotten holiday entry never leaves the post
without a guard on paper.

A guard checks in for their shift on the kiosk, from an hour before it starts (or by taking
over in a handover). When nobody on a shift has checked in ``checkin_grace_minutes`` after it
started, the two backups get an SMS (SOP 20: the two other guards stand in), the guard on the
screen an alert and the logbook a line. That happens once per shift: the fact is stored in the
same transaction as the SMS, so a restart never texts the backups twice. Nothing fires while
the clock is untrusted: a Pi back from a power cut believing it is 1970 must not text the
backups about a shift that never was.

Call-out (SOP 21): an admin calls off-duty guards in for an office event; each gets an SMS.
SMS are rows in ``sms`` without an alarm; the core's sender delivers them with retries.
"""

from __future__ import annotations

import datetime as dt
import json
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.config.post import folded
from kiosk.schedule import day_key
from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.watchlist import Conflict, Invalid, NotFound, one_line

CHECKIN_EARLY = dt.timedelta(minutes=60)
SMS_LIMIT = 160
# Characters every GSM modem sends as one septet; anything else becomes "?", so a text cut to
# SMS_LIMIT characters is always one SMS.
SMS_CHARS = frozenset(string.ascii_letters + string.digits + " !\"#%&'()*+,-./:;<=>?@$_")
MAX_NOTE = 100


def sms_text(text: str) -> str:
    """``text`` as one plain SMS: accents dropped, odd characters as ``?``, cut to fit."""
    text = unicodedata.normalize("NFKD", " ".join(text.split()))
    plain = "".join(c if c in SMS_CHARS else "?" for c in text if not unicodedata.combining(c))
    return plain[:SMS_LIMIT]


def queue_sms(conn, number: str, text: str, now: dt.datetime) -> int:
    """Queue one SMS for the core's sender in the caller's transaction; returns its id."""
    return conn.execute("INSERT INTO sms (alarm_id, number, text, status, attempts, updated_at) "
                        "VALUES (NULL, ?, ?, 'pending', 0, ?)",
                        (number, sms_text(text), iso(now))).lastrowid


@dataclass(frozen=True)
class Duty:
    """One shift on one day, with its guard and the two backups."""

    day: dt.date
    shift: str
    start: dt.datetime
    end: dt.datetime
    guard: str
    backups: tuple[str, ...]
    source: str  # "config" or "override"

    def role(self, name: str) -> str | None:
        if folded(name) == folded(self.guard):
            return "guard"
        return "backup" if folded(name) in {folded(b) for b in self.backups} else None

    def spelling(self, name: str) -> str:
        """``name`` as the roster writes it."""
        return next(n for n in (self.guard, *self.backups) if folded(n) == folded(name))

    @property
    def label(self) -> str:
        return f"{self.shift} {self.day:%d-%m-%Y} ({self.start:%H:%M}-{self.end:%H:%M})"


class Roster:
    """The roster of the post; ``check`` runs from the core's reconcile loop.

    Args:
        alerts: the guard alerts (:class:`kiosk.watchlist.Alerts`).
        trusted: whether the clock can be believed now; missed check-ins wait until it can.
    """

    def __init__(self, store, settings, *, now, alerts,
                 trusted: Callable[[], bool] = lambda: True) -> None:
        self.store = store
        self.now = now
        self.alerts = alerts
        self.trusted = trusted
        self.logbook = Logbook(store)
        self._handled: set[tuple[str, str]] = set()  # shifts already dealt with (a cache)
        self.configure(settings)

    def configure(self, settings) -> None:
        """Take a new roster (hq sent one): the next check looks at it afresh."""
        self.config = settings.roster
        self.site = settings.site.name
        self.holidays = settings.holidays
        self.grace = dt.timedelta(minutes=self.config.checkin_grace_minutes)
        self.shifts = {shift.name: shift for shift in self.config.shifts}
        # From the first moment to the second, no check-in can fall due: check() returns at once.
        self._quiet: tuple[dt.datetime, dt.datetime] | None = None

    # -- who is on duty ----------------------------------------------------------------------

    def day_key(self, day: dt.date) -> str:
        key = day_key(day, self.holidays)
        return key if key != "holiday" or "holiday" in self.config.duty else day_key(day)

    def duties(self, day: dt.date) -> list[Duty]:
        """The shifts starting on ``day``: the admin's override if there is one, else config."""
        return self._duties(day, self._override(day))

    def _duties(self, day: dt.date, override) -> list[Duty]:
        """``day``'s shifts from its override row, or from the config when that is None."""
        if override is not None:
            entries = [(d["shift"], d["guard"], tuple(d["backups"]))
                       for d in json.loads(override["duties"])]
        else:
            entries = [(d.shift, d.guard, d.backups)
                       for d in self.config.duty.get(self.day_key(day), ())]
        tz = self.now().tzinfo
        out = []
        for name, guard, backups in entries:
            shift = self.shifts.get(name)
            if shift is None:  # an override naming a shift since removed from the config
                continue
            start = dt.datetime.combine(day, shift.start, tz)
            end_day = day + dt.timedelta(days=1) if shift.end <= shift.start else day
            out.append(Duty(day, name, start, dt.datetime.combine(end_day, shift.end, tz),
                            guard, backups, "override" if override is not None else "config"))
        return sorted(out, key=lambda d: d.start)

    def on_duty(self, now: dt.datetime | None = None) -> list[Duty]:
        """The shifts running at ``now``, yesterday's night shift included."""
        now = now or self.now()
        return [d for d in self._recent(now) if d.start <= now < d.end]

    def day_view(self, day: dt.date) -> dict[str, Any]:
        override = self._override(day)
        return {"date": day.isoformat(), "day_key": self.day_key(day),
                "holiday": day in self.holidays,
                "source": "override" if override is not None else "config",
                "override": override and {"reason": override["reason"], "by": override["actor"],
                                          "at": override["created_at"]},
                "duties": self.views(self._duties(day, override))}

    def views(self, duties: list[Duty]) -> list[dict[str, Any]]:
        """Duties as the API shows them, each with its check-ins and whether backups were called."""
        out = []
        with self.store.read() as conn:
            for d in duties:
                key = (d.day.isoformat(), d.shift)
                checkins = conn.execute("SELECT guard, role, via, at FROM roster_checkins WHERE "
                                        "day = ? AND shift = ? ORDER BY id", key).fetchall()
                missed = conn.execute("SELECT alerted_at FROM roster_missed WHERE day = ? AND "
                                      "shift = ?", key).fetchone()
                out.append({"date": key[0], "shift": d.shift, "start": d.start.isoformat(),
                            "end": d.end.isoformat(), "guard": d.guard,
                            "backups": list(d.backups), "source": d.source,
                            "checkins": [dict(row) for row in checkins],
                            "backups_called_at": missed and missed["alerted_at"]})
        return out

    # -- the admin's override of one date ----------------------------------------------------

    def set_day(self, day: dt.date, duties: list[dict[str, Any]], *, reason: str,
                actor: str) -> dict[str, Any]:
        """Replace ``day``'s duty; an empty list means nobody is scheduled that day."""
        self._check_date(day)
        reason = one_line(reason, "reason", 200)
        checked, seen = [], set()
        for i, duty in enumerate(duties):
            if duty["shift"] not in self.shifts:
                raise Invalid(f"duties[{i}]: no shift {duty['shift']!r}; shifts are "
                              f"{', '.join(self.shifts)}",
                              f"duties[{i}]: shift {duty['shift']!r} tidak ada", "duties")
            if duty["shift"] in seen:
                raise Invalid(f"duties[{i}]: shift {duty['shift']} is given twice",
                              f"duties[{i}]: shift {duty['shift']} tertulis dua kali", "duties")
            seen.add(duty["shift"])
            names = [self._known(name, f"duties[{i}]")
                     for name in (duty["guard"], *duty["backups"])]
            if len(names) != 3 or len({folded(n) for n in names}) != 3:
                raise Invalid(f"duties[{i}]: a guard and two other guards as backups",
                              f"duties[{i}]: satu petugas jaga dan dua petugas cadangan lain",
                              "duties")
            checked.append({"shift": duty["shift"], "guard": names[0], "backups": names[1:]})
        now = iso(self.now())
        with self.store.transaction() as conn:
            conn.execute("UPDATE roster_overrides SET cancelled_at = ?, cancelled_by = ? "
                         "WHERE day = ? AND cancelled_at IS NULL", (now, actor, day.isoformat()))
            conn.execute("INSERT INTO roster_overrides (day, duties, reason, actor, created_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (day.isoformat(), json.dumps(checked, ensure_ascii=False), reason, actor,
                          now))
            lines = "; ".join(f"{d['shift']}: {d['guard']} (cadangan {', '.join(d['backups'])})"
                              for d in checked) or "tidak ada petugas terjadwal"
            self.logbook.append(conn, category="piket", actor=actor,
                                text=f"Jadwal piket {day:%d-%m-%Y} diubah: {lines}. "
                                     f"Alasan: {reason}")
            self.store.emit(conn, "roster.override", {"day": day.isoformat(), "duties": checked,
                                                      "reason": reason, "by": actor, "at": now})
        self._changed()
        return self.day_view(day)

    def reset_day(self, day: dt.date, *, actor: str) -> dict[str, Any]:
        """Drop ``day``'s override: the config's duty applies again."""
        now = iso(self.now())
        with self.store.transaction() as conn:
            changed = conn.execute("UPDATE roster_overrides SET cancelled_at = ?, "
                                   "cancelled_by = ? WHERE day = ? AND cancelled_at IS NULL",
                                   (now, actor, day.isoformat())).rowcount
            if not changed:
                raise NotFound(f"{day} has no override", f"{day} tidak punya jadwal pengganti")
            self.logbook.append(conn, category="piket", actor=actor,
                                text=f"Jadwal piket {day:%d-%m-%Y} kembali ke jadwal tetap")
            self.store.emit(conn, "roster.override_removed",
                            {"day": day.isoformat(), "by": actor, "at": now})
        self._changed()
        return self.day_view(day)

    # -- check-in ----------------------------------------------------------------------------

    def checkin(self, name: str) -> dict[str, Any]:
        """Check ``name`` in for their shift now or starting within the hour (again: no-op)."""
        with self.store.transaction() as conn:
            found = self.checkin_in(conn, name, via="checkin")
        if found is None:
            raise Conflict(f"{name} is not on the roster now: ask an admin to change the day's "
                           "duty", f"{name} tidak terjadwal piket sekarang: minta admin "
                           "mengubah jadwal")
        return found

    def checkin_in(self, conn, name: str, *, via: str) -> dict[str, Any] | None:
        """Check in within the caller's transaction; None when ``name`` has no shift now."""
        now = self.now()
        candidates = [d for offset in (-1, 0, 1)
                      for d in self.duties(now.date() + dt.timedelta(days=offset))
                      if d.start - CHECKIN_EARLY <= now < d.end and d.role(name)]
        if not candidates:
            return None

        def recorded(duty: Duty):
            return conn.execute("SELECT * FROM roster_checkins WHERE day = ? AND shift = ? AND "
                                "guard = ?", (duty.day.isoformat(), duty.shift,
                                              duty.spelling(name))).fetchone()

        fresh = [d for d in candidates if recorded(d) is None]
        if not fresh:  # checked in already: the same answer again
            return _checkin(recorded(min(candidates, key=lambda d: d.start)))
        duty = min(fresh, key=lambda d: (d.role(name) != "guard", d.start))
        role, who = duty.role(name), duty.spelling(name)
        key = (duty.day.isoformat(), duty.shift)
        stamp = iso(now)
        conn.execute("INSERT INTO roster_checkins (day, shift, guard, role, via, at) VALUES "
                     "(?, ?, ?, ?, ?, ?)", (*key, who, role, via, stamp))
        late = role == "guard" and now >= duty.start + self.grace
        words = " (cadangan)" if role == "backup" else ""
        words += " lewat serah terima" if via == "handover" else ""
        words += f" (terlambat {int((now - duty.start).total_seconds() // 60)} menit)" \
            if late else ""
        self.logbook.append(conn, category="piket", actor=who,
                            text=f"{who} hadir untuk piket {duty.label}{words}")
        self.store.emit(conn, "roster.checkin", {"day": key[0], "shift": duty.shift,
                                                 "guard": who, "role": role, "via": via,
                                                 "at": stamp, "late": late})
        return _checkin(recorded(duty))

    # -- the missed check-in (SOP 20) --------------------------------------------------------

    def check(self, now: dt.datetime | None = None) -> None:
        """Call the backups of every running shift that nobody has checked in for in time.

        The core's loop calls this twice a second, but a check-in can only be missed when a
        shift's grace runs out, and the duties change only with the date or an admin's
        override. So each look notes the next such moment (midnight at the latest), and the
        ticks before it return without reading the store. A clock set back looks again.
        """
        now = now or self.now()
        if not self.trusted():
            return
        if self._quiet is not None and self._quiet[0] <= now < self._quiet[1]:
            return
        duties = self._recent(now)
        for duty in duties:
            key = (duty.day.isoformat(), duty.shift)
            if key in self._handled or not duty.start + self.grace <= now < duty.end:
                continue
            with self.store.transaction() as conn:
                covered = conn.execute(
                    "SELECT 1 FROM roster_checkins WHERE day = ? AND shift = ? UNION ALL "
                    "SELECT 1 FROM roster_missed WHERE day = ? AND shift = ?", key + key
                ).fetchone()
                if not covered:
                    self._call_backups(conn, duty, now)
            yesterday = (now.date() - dt.timedelta(days=1)).isoformat()
            self._handled = {k for k in self._handled if k[0] >= yesterday} | {key}
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
        self._quiet = (now, min([midnight, *(d.start + self.grace for d in duties
                                             if d.start + self.grace > now)]))

    def _call_backups(self, conn, duty: Duty, now: dt.datetime) -> None:
        minutes = int((now - duty.start).total_seconds() // 60)
        sms = {}
        for backup in duty.backups:
            number = self.config.phone(backup)
            if number:
                sms[backup] = queue_sms(conn, number, (
                    f"PIKET: {duty.guard} belum hadir, shift {duty.shift} {duty.start:%d-%m %H:%M}"
                    f". Anda cadangan: mohon segera ke pos atau hubungi pos. {self.site}"), now)
        backups = " dan ".join(duty.backups)
        alert_id = self.alerts.add(
            conn, "roster_missed",
            f"{duty.guard} belum check-in untuk piket {duty.label}, {minutes} menit setelah "
            f"mulai. Cadangan dipanggil lewat SMS: {backups}.")
        missing = [b for b in duty.backups if b not in sms]
        self.logbook.append(conn, category="piket", actor="system", text=(
            f"Petugas {duty.guard} tidak hadir untuk piket {duty.label}; SMS panggilan ke "
            f"cadangan {backups}" + (f" (tanpa nomor: {', '.join(missing)})" if missing else "")))
        conn.execute("INSERT INTO roster_missed (day, shift, guard, alerted_at, alert_id) VALUES "
                     "(?, ?, ?, ?, ?)", (duty.day.isoformat(), duty.shift, duty.guard, iso(now),
                                         alert_id))
        self.store.emit(conn, "roster.missed", {
            "day": duty.day.isoformat(), "shift": duty.shift, "guard": duty.guard,
            "backups": list(duty.backups), "sms_ids": list(sms.values()), "alert_id": alert_id,
            "at": iso(now)})

    # -- call-out (SOP 21) -------------------------------------------------------------------

    def callout(self, *, day: dt.date, at: dt.time, note: str, guards: list[str] | None,
                actor: str) -> dict[str, Any]:
        """SMS guards to come in for an office event; ``guards=None`` calls all off duty then."""
        note = one_line(note, "note", MAX_NOTE)
        now = self.now()
        if not now.date() <= day <= now.date() + dt.timedelta(days=366):
            raise Invalid("the date must be today or within the next year",
                          "tanggal harus hari ini atau dalam setahun ke depan", "date")
        event = dt.datetime.combine(day, at, now.tzinfo)
        if guards is None:
            busy = {folded(d.guard) for d in self.on_duty(event)}
            names = [name for name in self.config.guards if folded(name) not in busy]
        else:
            names = list(dict.fromkeys(self._known(name, "guards") for name in guards))
        if not names:
            raise Invalid("nobody to call: list the guards", "tidak ada petugas yang dipanggil: "
                          "pilih petugas", "guards")
        text = (f"PANGGILAN TUGAS: mohon hadir {event:%d-%m-%Y} pukul {event:%H:%M}. "
                f"{note.rstrip('.')}. {self.site}")
        with self.store.transaction() as conn:
            called = [{"name": name, "sms_id": queue_sms(conn, self.config.phone(name), text, now)}
                      for name in names]
            callout_id = conn.execute(
                "INSERT INTO callouts (event_at, note, guards, created_by, created_at) VALUES "
                "(?, ?, ?, ?, ?)", (iso(event), note, json.dumps(called, ensure_ascii=False),
                                    actor, iso(now))).lastrowid
            self.logbook.append(conn, category="piket", actor=actor, text=(
                f"Panggilan tugas #{callout_id} untuk {event:%d-%m-%Y %H:%M} ({note}): SMS ke "
                f"{', '.join(names)}"))
            self.store.emit(conn, "roster.callout", {"id": callout_id, "event_at": iso(event),
                                                     "note": note, "guards": called,
                                                     "by": actor, "at": iso(now)})
        return self.callouts(callout_id=callout_id)[0]

    def callouts(self, *, limit: int = 50, callout_id: int | None = None) -> list[dict[str, Any]]:
        """Call-outs newest first, each guard with the state of their SMS."""
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM callouts WHERE ? IS NULL OR id = ? "
                                "ORDER BY id DESC LIMIT ?", (callout_id, callout_id, limit)
                                ).fetchall()
            out = []
            for row in rows:
                called = json.loads(row["guards"])
                for guard in called:
                    sms = conn.execute("SELECT status FROM sms WHERE id = ?",
                                       (guard["sms_id"],)).fetchone()
                    guard["sms_status"] = sms and sms["status"]
                out.append({"id": row["id"], "event_at": row["event_at"], "note": row["note"],
                            "guards": called, "created_by": row["created_by"],
                            "created_at": row["created_at"]})
        return out

    # -- helpers -----------------------------------------------------------------------------

    def _recent(self, now: dt.datetime) -> list[Duty]:
        """Yesterday's and today's duties: every shift that can be running at ``now``."""
        return [d for day in (now.date() - dt.timedelta(days=1), now.date())
                for d in self.duties(day)]

    def _changed(self) -> None:
        """A day's duty was changed: forget what was worked out from the old one."""
        self._handled.clear()
        self._quiet = None

    def _override(self, day: dt.date):
        with self.store.read() as conn:
            return conn.execute("SELECT * FROM roster_overrides WHERE day = ? AND cancelled_at "
                                "IS NULL", (day.isoformat(),)).fetchone()

    def _known(self, name: str, field: str) -> str:
        """The roster's spelling of ``name``; only guards with a number can be called."""
        match = next((g for g in self.config.guards if folded(g) == folded(name)), None)
        if match is None:
            known = ", ".join(self.config.guards) or "none yet"
            raise Invalid(f"{name!r} is not in the roster's guards ({known})",
                          f"{name!r} tidak ada di daftar petugas piket", field)
        return match

    def _check_date(self, day: dt.date) -> None:
        today = self.now().date()
        if not today - dt.timedelta(days=1) <= day <= today + dt.timedelta(days=366):
            raise Invalid("the date must be from yesterday to a year ahead",
                          "tanggal harus antara kemarin dan setahun ke depan", "date")


def _checkin(row) -> dict[str, Any]:
    return {k: row[k] for k in ("day", "shift", "guard", "role", "via", "at")}
