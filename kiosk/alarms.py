"""Alarm codes (SOP 14, 15): raised, acknowledged, cleared, each step logged with who and when.

An alarm's life is kept in the store, never only in memory: after a power cut or a crash, an
alarm that was raised and not yet acknowledged sounds again, and one not yet cleared keeps its
relay effects (the gate stays open during a fire). Raising starts the SMS to the code's
recipients as queued rows; the core's sender works through them with retries and records each
result, so a modem that is down delays the messages but does not lose them.

The buzzer sounds while an alarm is raised and not yet acknowledged: the acknowledgement is the
guard saying "I have it". Relay effects last until the alarm is cleared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.store import Logbook

MAX_SMS_ATTEMPTS = 40  # 5 s, 15 s, 1 min, then every 5 min: about three hours


class AlarmError(ValueError):
    """An alarm request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Alarm:
    id: int
    code: str
    source: str
    raised_at: str
    raised_by: str
    acked_at: str | None
    acked_by: str | None
    cleared_at: str | None
    cleared_by: str | None

    @property
    def state(self) -> str:
        if self.cleared_at:
            return "cleared"
        return "acknowledged" if self.acked_at else "raised"


class Alarms:
    """The alarm book: every change is one transaction with its logbook entry and outbox event."""

    def __init__(self, store, settings, *, now) -> None:
        self.store = store
        self.settings = settings
        self.codes = settings.alarms
        self.now = now
        self.logbook = Logbook(store)

    def raise_alarm(self, code: str, *, source: str, actor: str) -> Alarm:
        """Raise ``code``; an alarm of the same code still raised is returned, not doubled.

        A guard mashing the panic button, or two taps on the screen, must not send the police
        two rounds of SMS.
        """
        if code not in self.codes:
            raise AlarmError(f"unknown alarm code {code!r}; codes are {', '.join(self.codes)}")
        spec = self.codes[code]
        now = self.now()
        with self.store.transaction() as conn:
            if not spec.clears:
                row = conn.execute(
                    "SELECT * FROM alarms WHERE code = ? AND cleared_at IS NULL "
                    "AND acked_at IS NULL ORDER BY id DESC LIMIT 1", (code,)).fetchone()
                if row:
                    return Alarm(**dict(row))
            cur = conn.execute(
                "INSERT INTO alarms (code, source, raised_at, raised_by) VALUES (?, ?, ?, ?)",
                (code, source, now.isoformat(), actor))
            alarm_id = cur.lastrowid
            self.logbook.append(conn, category="alarm", actor=actor,
                                text=f"Alarm {spec.label_id} ({code}) dibunyikan via {source}")
            self.store.emit(conn, "alarm.raised", {"id": alarm_id, "code": code,
                                                   "source": source, "by": actor,
                                                   "at": now.isoformat()})
            if spec.clears:
                for row in conn.execute("SELECT id FROM alarms WHERE cleared_at IS NULL "
                                        "AND id != ?", (alarm_id,)).fetchall():
                    self._clear(conn, row["id"], actor, now)
                self._clear(conn, alarm_id, actor, now, log=False)
            self._queue_sms(conn, alarm_id, spec, now)
            row = conn.execute("SELECT * FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        return Alarm(**dict(row))

    def acknowledge(self, alarm_id: int, *, actor: str) -> Alarm:
        now = self.now()
        with self.store.transaction() as conn:
            row = self._get(conn, alarm_id)
            if row["cleared_at"]:
                raise AlarmError(f"alarm {alarm_id} is already cleared")
            if not row["acked_at"]:
                conn.execute("UPDATE alarms SET acked_at = ?, acked_by = ? WHERE id = ?",
                             (now.isoformat(), actor, alarm_id))
                self.logbook.append(conn, category="alarm", actor=actor,
                                    text=f"Alarm {row['code']} #{alarm_id} diterima (ack)")
                self.store.emit(conn, "alarm.acknowledged",
                                {"id": alarm_id, "by": actor, "at": now.isoformat()})
            row = self._get(conn, alarm_id)
        return Alarm(**dict(row))

    def clear(self, alarm_id: int, *, actor: str) -> Alarm:
        now = self.now()
        with self.store.transaction() as conn:
            row = self._get(conn, alarm_id)
            if not row["cleared_at"]:
                self._clear(conn, alarm_id, actor, now)
            row = self._get(conn, alarm_id)
        return Alarm(**dict(row))

    def active(self) -> list[Alarm]:
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT * FROM alarms WHERE cleared_at IS NULL ORDER BY id").fetchall()
        return [Alarm(**dict(row)) for row in rows]

    def get(self, alarm_id: int) -> Alarm:
        with self.store.read() as conn:
            return Alarm(**dict(self._get(conn, alarm_id)))

    def sounding(self) -> Alarm | None:
        """The alarm the buzzer should play: the newest raised and not yet acknowledged."""
        raised = [a for a in self.active() if a.state == "raised"]
        return raised[-1] if raised else None

    def effects(self) -> dict[str, tuple[bool, str]]:
        """Relay states forced by active alarms; the newest alarm wins a disagreement."""
        forced: dict[str, tuple[bool, str]] = {}
        for alarm in self.active():
            for relay, state in self.codes[alarm.code].relays.items():
                forced[relay] = (state, f"alarm {alarm.code} #{alarm.id}")
        return forced

    def sms_for(self, alarm_id: int) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT id, number, status, attempts, reference, error, "
                                "updated_at FROM sms WHERE alarm_id = ? ORDER BY id",
                                (alarm_id,)).fetchall()
        return [dict(row) for row in rows]

    def pending_sms(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM sms WHERE status = 'pending' ORDER BY id"
                                ).fetchall()
        return [dict(row) for row in rows]

    def record_sms(self, sms_id: int, *, reference: int | None = None,
                   error: str | None = None, final: bool = False) -> str:
        """Record one send attempt; after MAX_SMS_ATTEMPTS failures the SMS is ``failed``.

        ``final`` ends the retries at once: for an SMS that may have gone out unconfirmed.
        """
        now = self.now().isoformat()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM sms WHERE id = ?", (sms_id,)).fetchone()
            attempts = row["attempts"] + 1
            if error is None:
                status = "sent"
            else:
                status = "failed" if final or attempts >= MAX_SMS_ATTEMPTS else "pending"
            conn.execute("UPDATE sms SET status = ?, attempts = ?, reference = ?, error = ?, "
                         "updated_at = ? WHERE id = ?",
                         (status, attempts, reference, error, now, sms_id))
            if status != "pending":
                word = "terkirim" if status == "sent" else f"gagal ({error})"
                what = (f"SMS alarm #{row['alarm_id']}" if row["alarm_id"] is not None
                        else f"SMS #{sms_id}")  # roster and call-out messages have no alarm
                self.logbook.append(conn, category="sms", actor="system",
                                    text=f"{what} ke {row['number']} {word}")
                self.store.emit(conn, "sms." + status, {"id": sms_id, "alarm_id": row["alarm_id"],
                                                       "number": row["number"], "error": error})
        return status

    def _queue_sms(self, conn, alarm_id: int, spec, now: dt.datetime) -> None:
        text = spec.message.format(site=self.settings.site.name, time=now.strftime("%H:%M"))
        numbers = dict.fromkeys(n for group in spec.notify
                                for n in self.settings.contacts.get(group, ()))
        for number in numbers:
            conn.execute("INSERT INTO sms (alarm_id, number, text, status, attempts, updated_at) "
                         "VALUES (?, ?, ?, 'pending', 0, ?)",
                         (alarm_id, number, text, now.isoformat()))

    def _clear(self, conn, alarm_id: int, actor: str, now: dt.datetime, log: bool = True) -> None:
        conn.execute("UPDATE alarms SET cleared_at = ?, cleared_by = ?, "
                     "acked_at = COALESCE(acked_at, ?), acked_by = COALESCE(acked_by, ?) "
                     "WHERE id = ?", (now.isoformat(), actor, now.isoformat(), actor, alarm_id))
        if log:
            code = conn.execute("SELECT code FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
            self.logbook.append(conn, category="alarm", actor=actor,
                                text=f"Alarm {code['code']} #{alarm_id} selesai (clear)")
            self.store.emit(conn, "alarm.cleared",
                            {"id": alarm_id, "by": actor, "at": now.isoformat()})

    def _get(self, conn, alarm_id: int):
        row = conn.execute("SELECT * FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        if row is None:
            raise AlarmError(f"no alarm {alarm_id}")
        return row
