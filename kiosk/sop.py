"""Running SOPs step by step: who did each step, when, and how long it took against the SOP.

The procedures come from :mod:`kiosk.procedures`. Bad files never stop the core: they are
left out, logged, and listed by the API for the admin to fix.

A run keeps a copy of its procedure, so a file edited or removed later never changes a run
already under way, across restarts too. Each time a run enters a step is a *pass*: a "no"
that loops back to drafting opens new passes of earlier steps and the old ones stay, so the
report shows every round. A step is overdue once its pass has been open longer than its
standard time; that is computed against the injected clock when asked, never stored, so it
is right after a clock jump or a restart.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from kiosk.config.fields import did_you_mean
from kiosk.procedures import END, Library, Procedure, Step, default_sop_dir, load_dir
from kiosk.store import Logbook
from kiosk.store.db import iso
from kiosk.watchlist import MAX_LOG, Conflict, Invalid, NotFound, one_line

__all__ = ["Library", "Procedure", "SopRuns", "Step", "default_sop_dir", "load_dir", "sop_dir"]

log = logging.getLogger(__name__)

ANSWERS = {"yes": "ya", "no": "tidak"}
STATUS_ID = {"running": "berjalan", "finished": "selesai", "cancelled": "dibatalkan"}


def sop_dir(settings) -> Path:
    """``[sop] dir``, or the files that come with the kiosk when it is empty."""
    return Path(settings.sop.dir) if settings.sop.dir else default_sop_dir()


def _minutes(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 60


def _duration(minutes: float) -> str:
    """``95`` -> ``"1 jam 35 menit"``: how the logbook says a time."""
    whole = round(minutes)
    days, rest = divmod(whole, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {word}" for n, word in ((days, "hari"), (hours, "jam"), (mins, "menit")) if n]
    return " ".join(parts) or "0 menit"


class SopRuns:
    """Runs of the loaded procedures. Every change is one transaction: rows, logbook, outbox.

    Args:
        store: the kiosk's store (opened by the core before the first run starts).
        settings: the config; ``[sop] dir`` says where the procedures are.
        now: the injected clock.
    """

    def __init__(self, store, settings, *, now) -> None:
        self.store = store
        self.now = now
        self.logbook = Logbook(store)
        self.library = load_dir(sop_dir(settings))
        for problem in self.library.problems:
            log.error("SOP file left out: %s", problem)
        self._problems = list(self.library.problems)
        for procedure in self.library.procedures.values():
            for code in procedure.starts_on:
                if code not in settings.alarms:
                    self._problems.append(
                        f"{procedure.file}: procedure {procedure.id!r}: starts_on = {code!r} is "
                        f"not an alarm code{did_you_mean(code, list(settings.alarms))}; codes "
                        f"are {', '.join(settings.alarms)}")
                    log.error("SOP problem: %s", self._problems[-1])

    def procedures(self) -> list[dict[str, Any]]:
        return [procedure.view() for procedure in self.library.procedures.values()]

    def problems(self) -> list[str]:
        return list(self._problems)

    def start_for_alarm(self, alarm_id: int, code: str, *, actor: str) -> list[dict]:
        """Open the runs an alarm starts by itself (``starts_on``), once per alarm.

        The crime alarm is raised in the worst minute of a guard's shift: the procedure is
        already on the panel, first step open, when they next look at it.
        """
        title = f"Alarm #{alarm_id} ({code})"
        started = []
        for procedure in self.library.procedures.values():
            if code not in procedure.starts_on:
                continue
            with self.store.read() as conn:
                if conn.execute("SELECT 1 FROM sop_runs WHERE sop_id = ? AND title = ?",
                                (procedure.id, title)).fetchone():
                    continue
            started.append(self.start(procedure.id, actor=actor, title=title))
        return started

    def start(self, sop_id: str, *, actor: str, title: str = "", note: str = "") -> dict:
        """Open a run at the procedure's first step; returns the run as :meth:`get` does."""
        procedure = self.library.procedures.get(sop_id)
        if procedure is None:
            known = list(self.library.procedures)
            raise NotFound(f"no SOP {sop_id!r}{did_you_mean(sop_id, known)}",
                           f"SOP {sop_id!r} tidak ada")
        title = one_line(title, "title", 120, required=False)
        note = one_line(note, "note", 500, required=False)
        stamp = iso(self.now())
        first = procedure.steps[0]
        with self.store.transaction() as conn:
            run_id = conn.execute(
                "INSERT INTO sop_runs (sop_id, definition, title, note, status, started_at, "
                "started_by) VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (sop_id, json.dumps(procedure.view(), ensure_ascii=False), title, note, stamp,
                 actor)).lastrowid
            self._open(conn, run_id, 1, first, stamp)
            named = f" ({title})" if title else ""
            self._record(conn, "sop.started", actor,
                         f"SOP #{run_id} dimulai: {procedure.title_id}{named}. Langkah "
                         f"pertama: {first.title_id} ({first.actor})",
                         {"run_id": run_id, "sop_id": sop_id, "title": title, "at": stamp,
                          "step_id": first.id})
            return self._get(conn, run_id)

    def complete(self, run_id: int, step_id: str, *, actor: str, answer: str | None = None,
                 note: str = "", at: dt.datetime | None = None) -> dict:
        """Finish the current step and open the next, or finish the run after the last.

        ``step_id`` must name the current step, so a double tap or a second guard on the
        same run cannot complete the step after it too. ``at`` records a step done away
        from the post earlier (the next step opens then); it cannot precede the step's
        opening nor be in the future.

        Raises:
            NotFound: no such run. Conflict: the run has ended or is at another step.
            Invalid: the answer is missing or not expected, ``at`` is out of range.
        """
        note = one_line(note, "note", 500, required=False)
        now = self.now()
        done = now if at is None else at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
        with self.store.transaction() as conn:
            run = self._run(conn, run_id)
            if run["status"] != "running":
                raise Conflict(f"run {run_id} is {run['status']}: no step to complete",
                               f"SOP #{run_id} sudah {STATUS_ID[run['status']]}: tidak ada "
                               "langkah untuk diselesaikan")
            procedure = Procedure.from_view(json.loads(run["definition"]))
            current = conn.execute("SELECT * FROM sop_passes WHERE run_id = ? AND done_at IS "
                                   "NULL", (run_id,)).fetchone()
            step = procedure.step(current["step_id"])
            if step_id != step.id:
                raise Conflict(f"{step_id!r} is not the current step of run {run_id}: it is "
                               f"at {step.id!r}", f"langkah SOP #{run_id} sekarang "
                               f"{step.title_id!r}, bukan {step_id!r}", "step_id")
            if step.decision and answer not in ANSWERS:
                raise Invalid("this step is a decision: answer yes or no",
                              "langkah ini keputusan: jawab ya atau tidak", "answer")
            if not step.decision and answer is not None:
                raise Invalid("this step is not a decision: send no answer",
                              "langkah ini bukan keputusan: tanpa jawaban", "answer")
            opened = dt.datetime.fromisoformat(current["opened_at"])
            if done < opened or done > now:
                span = f"{opened:%d-%m %H:%M} - {now:%d-%m %H:%M}"
                raise Invalid(f"the time done must be between the step's opening and now "
                              f"({span})", f"waktu selesai harus antara langkah dibuka dan "
                              f"sekarang ({span})", "at")
            stamp = iso(done)
            conn.execute("UPDATE sop_passes SET done_at = ?, done_by = ?, answer = ?, note = ? "
                         "WHERE id = ?", (stamp, actor, answer, note, current["id"]))
            target = procedure.after(step, answer)
            self._step_done(conn, run_id, procedure, step, current, done, actor, answer, note,
                            target)
            if target == END:
                self._finish(conn, run, procedure, done, actor)
            else:
                self._open(conn, run_id, current["seq"] + 1, procedure.step(target), stamp)
            return self._get(conn, run_id)

    def cancel(self, run_id: int, *, actor: str, reason: str) -> dict:
        """Stop a run that will not be carried on; the reason goes into the logbook."""
        reason = one_line(reason, "reason", 300)
        stamp = iso(self.now())
        with self.store.transaction() as conn:
            run = self._run(conn, run_id)
            if run["status"] != "running":
                raise Conflict(f"run {run_id} is already {run['status']}",
                               f"SOP #{run_id} sudah {STATUS_ID[run['status']]}")
            conn.execute("UPDATE sop_runs SET status = 'cancelled', ended_at = ?, ended_by = ?, "
                         "cancel_reason = ? WHERE id = ?", (stamp, actor, reason, run_id))
            procedure = Procedure.from_view(json.loads(run["definition"]))
            self._record(conn, "sop.cancelled", actor,
                         f"SOP #{run_id} {procedure.title_id} dibatalkan: {reason}",
                         {"run_id": run_id, "sop_id": run["sop_id"], "reason": reason,
                          "at": stamp})
            return self._get(conn, run_id)

    def runs(self, open_only: bool = True, *, limit: int = 100) -> list[dict[str, Any]]:
        """Running runs oldest first, or (``open_only=False``) every run newest first."""
        now = self.now()
        with self.store.read() as conn:
            if open_only:
                rows = conn.execute("SELECT * FROM sop_runs WHERE status = 'running' "
                                    "ORDER BY id LIMIT ?", (limit,)).fetchall()
            else:
                rows = conn.execute("SELECT * FROM sop_runs ORDER BY id DESC LIMIT ?",
                                    (limit,)).fetchall()
            return [self._view(run, self._passes(conn, run["id"]), now)[0] for run in rows]

    def get(self, run_id: int) -> dict[str, Any]:
        """A run with its current step, every pass so far and the procedure it follows."""
        with self.store.read() as conn:
            return self._get(conn, run_id)

    def report(self, run_id: int) -> dict[str, Any]:
        """Actual against standard minutes for every pass, and the totals.

        A running run is reported so far: its open pass counts up to now. Differences are
        actual minus standard, so a positive one is over the standard.
        """
        now = self.now()
        with self.store.read() as conn:
            run = self._run(conn, run_id)
            out, passes, exact = self._view(run, self._passes(conn, run_id), now)
        rounds = {row["step_id"]: row["round"] for row in passes}  # in order: the last wins
        standard = sum(row["standard_minutes"] for row in passes)
        actual = sum(exact)
        end = dt.datetime.fromisoformat(run["ended_at"]) if run["ended_at"] else now
        totals = {
            "passes": len(passes),
            "standard_minutes": standard,
            "actual_minutes": round(actual, 1),
            "difference_minutes": round(actual - standard, 1),
            **{result: sum(row["result"] == result for row in passes)
               for result in ("over", "under", "equal")},
            "repeated_steps": {step: n for step, n in rounds.items() if n > 1},
            "elapsed_minutes": round(_minutes(dt.datetime.fromisoformat(run["started_at"]),
                                              end), 1),
        }
        return {"run": out, "passes": passes, "totals": totals}

    # -- helpers -----------------------------------------------------------------------------

    def _run(self, conn, run_id: int):
        run = conn.execute("SELECT * FROM sop_runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            raise NotFound(f"no SOP run {run_id}", f"SOP #{run_id} tidak ada")
        return run

    @staticmethod
    def _passes(conn, run_id: int) -> list:
        return conn.execute("SELECT * FROM sop_passes WHERE run_id = ? ORDER BY seq",
                            (run_id,)).fetchall()

    def _get(self, conn, run_id: int) -> dict[str, Any]:
        run = self._run(conn, run_id)
        out, passes, _ = self._view(run, self._passes(conn, run_id), self.now())
        # The copy is stored as Procedure.view() made it: it is shown as it is.
        return {**out, "passes": passes, "procedure": json.loads(run["definition"])}

    def _view(self, run, rows, now: dt.datetime) -> tuple[dict[str, Any], list[dict],
                                                          list[float]]:
        """The run's summary (as listed), its passes and their exact minutes, as of ``now``."""
        procedure = Procedure.from_view(json.loads(run["definition"]))
        ended = dt.datetime.fromisoformat(run["ended_at"]) if run["ended_at"] else now
        rounds: dict[str, int] = {}
        passes, exact = [], []
        for row in rows:
            rounds[row["step_id"]] = rounds.get(row["step_id"], 0) + 1
            opened = dt.datetime.fromisoformat(row["opened_at"])
            until = dt.datetime.fromisoformat(row["done_at"]) if row["done_at"] else ended
            exact.append(_minutes(opened, until))
            state = "done" if row["done_at"] else \
                "open" if run["status"] == "running" else run["status"]
            passes.append(_pass(procedure.step(row["step_id"]), row, rounds[row["step_id"]],
                                state, exact[-1]))
        current = None
        if run["status"] == "running" and passes and passes[-1]["state"] == "open":
            last = passes[-1]
            current = {**procedure.step(last["step_id"]).view(),
                       **{k: last[k] for k in ("seq", "round", "opened_at", "due_at",
                                               "actual_minutes", "overdue")}}
        out = {k: run[k] for k in ("id", "sop_id", "title", "note", "status", "started_at",
                                   "started_by", "ended_at", "ended_by", "cancel_reason")}
        out.update(sop_title_id=procedure.title_id, sop_title_en=procedure.title_en,
                   current=current, overdue=bool(current and current["overdue"]))
        return out, passes, exact

    def _open(self, conn, run_id: int, seq: int, step: Step, stamp: str) -> None:
        conn.execute("INSERT INTO sop_passes (run_id, seq, step_id, standard_minutes, "
                     "opened_at) VALUES (?, ?, ?, ?, ?)",
                     (run_id, seq, step.id, step.standard_minutes, stamp))

    def _step_done(self, conn, run_id: int, procedure: Procedure, step: Step, current,
                   done: dt.datetime, actor: str, answer: str | None, note: str,
                   target: str) -> None:
        minutes = _minutes(dt.datetime.fromisoformat(current["opened_at"]), done)
        late = ", lewat waktu" if minutes > step.standard_minutes else ""
        text = (f"SOP #{run_id} {procedure.title_id}: {step.title_id} selesai dalam "
                f"{_duration(minutes)} (standar {_duration(step.standard_minutes)}{late})")
        if answer:
            text += f"; jawaban: {ANSWERS[answer]}"
        if target != END:
            following = procedure.step(target)
            again = conn.execute("SELECT COUNT(*) FROM sop_passes WHERE run_id = ? AND "
                                 "step_id = ?", (run_id, target)).fetchone()[0]
            text += f"; berikutnya: {following.title_id} ({following.actor})"
            if again:
                text += f", putaran ke-{again + 1}"
        if note:
            text += f". Catatan: {note}"
        self._record(conn, "sop.step_done", actor, text,
                     {"run_id": run_id, "sop_id": procedure.id, "step_id": step.id,
                      "seq": current["seq"], "answer": answer, "note": note, "at": iso(done),
                      "actual_minutes": round(minutes, 1),
                      "standard_minutes": step.standard_minutes,
                      "next": target})

    def _finish(self, conn, run, procedure: Procedure, done: dt.datetime, actor: str) -> None:
        stamp = iso(done)
        conn.execute("UPDATE sop_runs SET status = 'finished', ended_at = ?, ended_by = ? "
                     "WHERE id = ?", (stamp, actor, run["id"]))
        rows = self._passes(conn, run["id"])
        standard = sum(row["standard_minutes"] for row in rows)
        actual = _minutes(dt.datetime.fromisoformat(run["started_at"]), done)
        self._record(conn, "sop.finished", actor,
                     f"SOP #{run['id']} {procedure.title_id} selesai: {len(rows)} langkah "
                     f"dalam {_duration(actual)} (standar {_duration(standard)})",
                     {"run_id": run["id"], "sop_id": procedure.id, "at": stamp,
                      "passes": len(rows), "actual_minutes": round(actual, 1),
                      "standard_minutes": standard})

    def _record(self, conn, kind: str, actor: str, text: str, payload: dict) -> None:
        self.logbook.append(conn, category="sop", actor=actor, text=text[:MAX_LOG])
        self.store.emit(conn, kind, {**payload, "by": actor})


def _pass(step: Step, row, round_: int, state: str, actual: float) -> dict[str, Any]:
    """One pass as the API shows it; ``state`` is done, open, or cancelled with its run."""
    opened = dt.datetime.fromisoformat(row["opened_at"])
    standard = row["standard_minutes"]
    if state != "done":
        result = state
    else:
        result = "over" if actual > standard else "under" if actual < standard else "equal"
    return {"seq": row["seq"], "step_id": step.id, "round": round_, "title_id": step.title_id,
            "title_en": step.title_en, "actor": step.actor, "decision": step.decision,
            "state": state, "opened_at": row["opened_at"],
            "due_at": iso(opened + dt.timedelta(minutes=standard)),
            "done_at": row["done_at"], "done_by": row["done_by"], "answer": row["answer"],
            "note": row["note"], "standard_minutes": standard,
            "actual_minutes": round(actual, 1),
            "difference_minutes": round(actual - standard, 1), "overdue": actual > standard,
            "result": result}
