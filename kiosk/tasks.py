"""SOP reminders: flag at 17.00 and 06.00, rooms locked, guests out, random night patrols.

Each day's tasks are written to the store once (``plan``), so a restart does not re-draw the
patrol times: random to anyone outside, fixed once drawn. A night's patrols belong to the
evening the night starts on: the night of the 22nd has its 01.00 patrol on the 23rd.
A task is pending before it is due, due until its grace time runs out, then overdue until done.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from kiosk.schedule import day_key
from kiosk.store import Logbook

NOON = dt.time(12, 0)


@dataclass(frozen=True)
class Task:
    id: str
    day: str
    kind: str
    title_id: str
    title_en: str
    due_at: dt.datetime
    overdue_at: dt.datetime
    done_at: str | None
    done_by: str | None

    def status(self, now: dt.datetime) -> str:
        if self.done_at:
            return "done"
        if now < self.due_at:
            return "pending"
        return "overdue" if now >= self.overdue_at else "due"


def draw_patrols(windows, night: dt.date, tz, rng: random.Random) -> list[dt.datetime]:
    """Start times for the night beginning on ``night``, uniformly random within each window.

    A window whose start is before noon lies after midnight (the next calendar day).
    """
    times = []
    for window in windows:
        date = night if window.start >= NOON else night + dt.timedelta(days=1)
        start = dt.datetime.combine(date, window.start, tz)
        end = dt.datetime.combine(date, window.end, tz)
        if end <= start:
            end += dt.timedelta(days=1)
        span = int((end - start).total_seconds() // 60)
        minutes = sorted(rng.sample(range(span), k=min(window.count, span)))
        times.extend(start + dt.timedelta(minutes=m) for m in minutes)
    return sorted(times)


class Tasks:
    def __init__(self, store, settings, *, now, rng: random.Random | None = None) -> None:
        self.store = store
        self.settings = settings.tasks
        self.holidays = settings.holidays
        self.now = now
        self.rng = rng or random.SystemRandom()
        self.logbook = Logbook(store)

    def plan(self, day: dt.date) -> int:
        """Write ``day``'s tasks and the patrols of the night starting on it, once."""
        tz = self.now().tzinfo
        rows = []
        key = day_key(day, self.holidays)
        for task in self.settings.daily:
            if key in task.days:
                due = dt.datetime.combine(day, task.at, tz)
                rows.append((f"{day}:{task.id}", "task", task.title_id, task.title_en, due,
                             task.grace_minutes))
        patrols = self.settings.patrols
        with self.store.read() as conn:
            drawn = conn.execute("SELECT 1 FROM tasks WHERE day = ? AND kind = 'patrol'",
                                 (day.isoformat(),)).fetchone()
        if not drawn:
            for n, at in enumerate(draw_patrols(patrols.windows, day, tz, self.rng), 1):
                rows.append((f"{day}:patrol{n}", "patrol", f"Patroli {n}", f"Patrol {n}", at,
                             patrols.grace_minutes))
        added = 0
        with self.store.transaction() as conn:
            for task_id, kind, title_id, title_en, due, grace in rows:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO tasks (id, day, kind, title_id, title_en, due_at, "
                    "overdue_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (task_id, day.isoformat(), kind, title_id, title_en, due.isoformat(),
                     (due + dt.timedelta(minutes=grace)).isoformat()))
                added += cur.rowcount
        return added

    def around(self, now: dt.datetime | None = None) -> list[Task]:
        """Tasks of yesterday and today: what a guard on the night shift still has to see."""
        now = now or self.now()
        days = ((now.date() - dt.timedelta(days=1)).isoformat(), now.date().isoformat())
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM tasks WHERE day IN (?, ?) ORDER BY due_at, id",
                                days).fetchall()
        return [_task(row) for row in rows]

    def mark_done(self, task_id: str, *, actor: str) -> Task:
        now = self.now()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                raise KeyError(task_id)
            record_done(self.store, conn, row, actor=actor, now=now)
            row = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return _task(row)


def record_done(store, conn, row, *, actor: str, now: dt.datetime,
                begun: dt.datetime | None = None) -> None:
    """Mark the task ``row`` done in the caller's transaction (again is harmless).

    Late means the work *began* after the overdue time: ``begun`` defaults to ``now``, but a
    patrol started on time and finished an hour later was walked on time.
    """
    if row["done_at"]:
        return
    late = (begun or now) >= dt.datetime.fromisoformat(row["overdue_at"])
    conn.execute("UPDATE tasks SET done_at = ?, done_by = ? WHERE id = ?",
                 (now.isoformat(), actor, row["id"]))
    Logbook(store).append(conn, category="tugas", actor=actor,
                          text=f"{row['title_id']} selesai" + (" (terlambat)" if late else ""))
    store.emit(conn, "task.done", {"id": row["id"], "by": actor, "at": now.isoformat(),
                                   "late": late})


def _task(row) -> Task:
    data = dict(row)
    data["due_at"] = dt.datetime.fromisoformat(data["due_at"])
    data["overdue_at"] = dt.datetime.fromisoformat(data["overdue_at"])
    return Task(**data)
