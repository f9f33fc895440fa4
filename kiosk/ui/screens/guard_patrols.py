"""The guard's patrols (SOP 13): tonight's patrols, the round under way, the rounds walked.

Patrol times are drawn at random each night by the core; this screen shows tonight's with
their state (scheduled, due now, overdue and not walked, under way, done), and starts a
round for one of them, or an extra round. While a round is open the screen is the route:
each checkpoint ticks as its QR code is scanned (the serial scanner or the camera hand
codes to :meth:`PatrolsScreen.on_code`, which sends them to the core). A checkpoint cannot
be ticked by hand: the code on the wall is the proof the guard was there. Finishing a round
with checkpoints not scanned asks first and names them; the core records them as missed.

"Tonight" is the night as the core's tasks count it, from noon to noon, so a round walked
at 01.00 belongs with the patrols of the evening before. The screen asks the core for its
clock (``/health``) rather than trusting its own, so the two never disagree about it.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any

from kivy.factory import Factory
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk.ui.client import ApiError
from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock
from kiosk.ui.widgets import RoundButton

REFRESH_SECONDS = 20.0
NOON = dt.time(12, 0)
STARTABLE = ("due", "overdue")  # the core refuses a patrol before its time


def night_start(now: dt.datetime) -> dt.datetime:
    """The noon that began the night ``now`` belongs to (as :mod:`kiosk.tasks` counts)."""
    noon = dt.datetime.combine(now.date(), NOON, now.tzinfo)
    return noon if now >= noon else noon - dt.timedelta(days=1)


def names(spots: list[dict], text, limit: int = 4) -> str:
    """Checkpoints' names for one line: the first few, then how many more (a route may be 50).

    ``text`` is the app's lookup, for the words around the count.
    """
    shown = ", ".join(spot["name"] for spot in spots[:limit])
    if len(spots) <= limit:
        return shown
    return text("patrols.and_more", names=shown, more=len(spots) - limit)


def moment(stamp: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


class PatrolTaskRow(BoxLayout):
    """A patrol of tonight: its time, title and state; a start button when it may start."""

    words = StringProperty("")
    state = StringProperty("pending")  # pending, due, overdue, running, done


class PatrolLine(Label):
    """A line of text in a card; ``warn`` for a round that missed checkpoints."""

    warn = BooleanProperty(False)


class PatrolStartButton(RoundButton):
    """Starts a round for ``task_id`` (empty: an extra round)."""

    task_id = StringProperty("")


class PatrolCheckpointRow(BoxLayout):
    """A checkpoint of the open round: a tick once its code was scanned. Not a button."""

    name = StringProperty("")
    at = StringProperty("")  # when it was scanned, as shown; "" not yet
    done = BooleanProperty(False)
    latest = BooleanProperty(False)  # the one just scanned


class PatrolsBody(GuardBody, BoxLayout):
    """Tonight's patrols and rounds, or the open round's checkpoints (module docstring)."""

    mode = StringProperty("overview")  # or "round"
    loaded = BooleanProperty(False)
    round = ObjectProperty(None, allownone=True)  # the open round, as the core shows it
    round_title = StringProperty("")
    visited = NumericProperty(0)
    total = NumericProperty(0)
    route_count = NumericProperty(0)
    note = StringProperty("")  # locale key of the line under the heading
    note_params = DictProperty({})
    note_warn = BooleanProperty(False)
    core_en = StringProperty("")  # the core's refusal of a scanned code
    core_id = StringProperty("")
    starting = BooleanProperty(False)
    finishing = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data: dict[str, Any] = {}
        self._codes: deque[str] = deque()
        self._sending = False
        self._latest = ""

    @property
    def app(self):
        return self.screen.app

    def on_mode(self, _instance, mode: str) -> None:
        self.ids.panels.current = mode

    # -- loading -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """The core's clock first (what "tonight" is), then tasks, rounds and the route."""
        self.screen.fetch({"health": ("/health", None)}, done=self._load)

    def _load(self, first: dict[str, Any]) -> None:
        now = moment(first["health"].get("now"))
        if now is None:
            return
        today = now.date()
        calls = {"tasks": ("/tasks", None),
                 "yesterday": ("/patrols", {"day": (today - dt.timedelta(days=1)).isoformat()}),
                 "today": ("/patrols", {"day": today.isoformat()}),
                 "route": ("/patrols/checkpoints", None)}
        self.screen.fetch(calls, done=lambda answers: self._loaded(now, answers))

    def _loaded(self, now: dt.datetime, answers: dict[str, Any]) -> None:
        self.data = {"now": now, **answers}
        self.loaded = True
        self.render()

    def render(self, *_args) -> None:
        """Draw what the last answers say (again after a language change)."""
        if not self.data:
            return
        now = self.data["now"]
        start = night_start(now)
        rounds = {r["id"]: r for r in (self.data["yesterday"].get("rounds", [])
                                       + self.data["today"].get("rounds", []))}
        self.route_count = len(self.data["route"].get("checkpoints", []))
        open_round = next((r for r in rounds.values() if r.get("status") == "open"), None)
        tonight = [r for r in rounds.values()
                   if (moment(r.get("started_at")) or start) >= start]
        patrols = [t for t in self.data["tasks"].get("tasks", []) if t.get("kind") == "patrol"]
        self._overview(now, start, patrols, sorted(tonight, key=lambda r: r["id"]), rounds)
        if open_round is not None:
            mine = self.round
            if mine is not None and mine["id"] == open_round["id"] and \
                    len(mine.get("visited", [])) >= len(open_round.get("visited", [])):
                open_round = mine  # a scan answered after this listing was read
            self.show_round(open_round)
        elif self.mode == "round":
            self.mode = "overview"
            self.round = None

    def _overview(self, now: dt.datetime, start: dt.datetime, patrols: list[dict],
                  rounds: list[dict], by_id: dict[int, dict]) -> None:
        lang = self.app.lang
        box = self.ids.overview
        box.clear_widgets()
        end = start + dt.timedelta(days=1)
        tonight = [t for t in patrols if start <= (moment(t.get("due_at")) or start) < end]
        before = [t for t in patrols if (moment(t.get("due_at")) or start) < start
                  and t.get("status") == "overdue"]
        running = {r.get("task_id"): r for r in by_id.values() if r.get("status") == "open"}

        card = Factory.GuardCard()
        card.title = self.app.text("patrols.tonight")
        if before:
            card.add_widget(Factory.PatrolWarning(text=self.app.text(
                "patrols.previous_missed", count=len(before),
                list=", ".join(f"{t[self._title_key()]} {clock(t['due_at'], lang)}"
                               for t in before))))
        for task in tonight:
            card.add_widget(self._task_row(task, running.get(task["id"]), lang))
        if not tonight:
            card.add_widget(PatrolLine(text=self.app.text("patrols.no_tasks")))
        box.add_widget(card)

        card = Factory.GuardCard()
        card.title = self.app.text("patrols.rounds")
        for found in rounds:
            card.add_widget(PatrolLine(text=self._round_words(found, lang),
                                                    warn=bool(found.get("missed"))
                                                    and found.get("status") != "open"))
        if not rounds:
            card.add_widget(PatrolLine(text=self.app.text("patrols.no_rounds")))
        box.add_widget(card)

    def _title_key(self) -> str:
        return "title_id" if self.app.lang == "id" else "title_en"

    def _task_row(self, task: dict, running: dict | None, lang: str) -> PatrolTaskRow:
        params = {"at": clock(task.get("due_at"), lang), "title": task[self._title_key()]}
        state = task.get("status", "pending")
        if state == "done":
            words = self.app.text("patrols.task_done", done=clock(task.get("done_at"), lang),
                              by=task.get("done_by") or "-", **params)
        elif running is not None:
            state = "running"
            words = self.app.text("patrols.task_running", round=running["id"], **params)
        else:
            words = self.app.text(f"patrols.task_{state}", **params)
        row = PatrolTaskRow(words=words, state=state)
        if state in STARTABLE:
            button = PatrolStartButton(text=self.app.text("patrols.start"), task_id=task["id"])
            button.bind(on_release=lambda b: self.start(b.task_id))
            row.ids.actions.add_widget(button)
        return row

    def _round_words(self, found: dict, lang: str) -> str:
        params = {"id": found["id"], "title": found[self._title_key()],
                  "start": clock(found.get("started_at"), lang),
                  "end": clock(found.get("finished_at"), lang),
                  "visited": len(found.get("visited", [])),
                  "total": len(found.get("checkpoints", []))}
        if found.get("status") == "open":
            return self.app.text("patrols.round_open", **params)
        words = self.app.text("patrols.round_done", **params)
        if found.get("missed"):
            words += " · " + self.app.text("patrols.round_missed",
                                           names=names(found["missed"], self.app.text))
        return words

    # -- a round -----------------------------------------------------------------------------

    def start(self, task_id: str = "") -> None:
        """Start a round for the patrol ``task_id``, or an extra round."""
        if self.starting:
            return
        self.starting = True
        body = {"task_id": task_id} if task_id else {"extra": True}

        def started(found: dict) -> None:
            self.starting = False
            self.note = ""
            self.screen.problem = ""
            self.show_round(found)
            self.refresh()  # answers to an earlier refresh would not know the round yet

        def refused(_exc: Exception) -> None:
            self.starting = False
            self.refresh()  # a round opened elsewhere shows; a patrol taken leaves the list

        self.screen.api("POST", "/patrols", json=body, done=started, failed=refused)

    def show_round(self, found: dict) -> None:
        """The open round: its checkpoints, ticked where scanned."""
        lang = self.app.lang
        self.round = found
        self.mode = "round"
        self.round_title = self.app.text("patrols.round_title", id=found["id"],
                                     title=found[self._title_key()],
                                     start=clock(found.get("started_at"), lang))
        checkpoints = found.get("checkpoints", [])
        self.visited = sum(1 for c in checkpoints if c.get("scanned_at"))
        self.total = len(checkpoints)
        grid = self.ids.checkpoints
        grid.clear_widgets()
        for spot in checkpoints:
            grid.add_widget(PatrolCheckpointRow(
                name=spot["name"], done=bool(spot.get("scanned_at")),
                at=clock(spot["scanned_at"], lang) if spot.get("scanned_at") else "",
                latest=spot["id"] == self._latest))

    def on_code(self, payload: str) -> bool:
        """A scanned code: a checkpoint of the open round, sent to the core in order."""
        if self.mode != "round" or self.round is None:
            self.core_en = self.core_id = ""
            self.say("patrols.not_started", warn=True)
            return True
        self._codes.append(payload)
        self._send_next()
        return True

    def _send_next(self) -> None:
        if self._sending or not self._codes or self.round is None:
            return
        self._sending = True
        payload = self._codes.popleft()
        round_id = self.round["id"]

        def scanned(found: dict) -> None:
            self._sending = False
            spot = found.get("checkpoint") or {}
            self._latest = spot.get("id", "")
            self.core_en = self.core_id = ""
            self.screen.problem = ""
            at = clock(spot.get("scanned_at"), self.app.lang)
            self.say("patrols.again" if spot.get("again") else "patrols.ticked",
                     name=spot.get("name", ""), at=at)
            if self.round is not None and self.round["id"] == round_id:
                self.show_round(found)
            self._send_next()

        def refused(exc: Exception) -> None:
            self._sending = False
            if isinstance(exc, ApiError) and exc.status in (404, 409, 422):
                self.screen.problem = ""  # said over the checkpoints instead
                self.note = ""
                self.core_en, self.core_id = (text[:1].upper() + text[1:]
                                              for text in (exc.detail, exc.detail_id))
                if exc.status == 409:  # finished elsewhere
                    self.refresh()
            self._send_next()

        self.screen.api("POST", f"/patrols/{round_id}/checkpoints", json={"payload": payload},
                        done=scanned, failed=refused)

    def ask_finish(self) -> None:
        """Finish the round; with checkpoints not scanned, say which and ask first."""
        if self.round is None or self.finishing:
            return
        missed = [c for c in self.round.get("checkpoints", []) if not c.get("scanned_at")]
        if not missed:
            self.finish()
            return
        self.app.confirm(title="patrols.finish_title", message="patrols.finish_missed",
                         yes="patrols.finish_yes", no="patrols.finish_no", on_yes=self.finish,
                         params={"names": names(missed, self.app.text), "count": len(missed)})

    def finish(self) -> None:
        if self.round is None or self.finishing:
            return
        self.finishing = True
        round_id = self.round["id"]

        def finished(found: dict) -> None:
            self.finishing = False
            self.round = None
            self._latest = ""
            self._codes.clear()
            self.mode = "overview"
            self.core_en = self.core_id = ""
            self.screen.problem = ""
            params = {"id": found["id"], "visited": len(found.get("visited", [])),
                      "total": len(found.get("checkpoints", []))}
            if found.get("missed"):
                self.say("patrols.finished_missed", warn=True,
                         names=names(found["missed"], self.app.text), **params)
            else:
                self.say("patrols.finished", **params)
            self.refresh()

        def refused(_exc: Exception) -> None:
            self.finishing = False
            self.refresh()

        self.screen.api("POST", f"/patrols/{round_id}/finish", json={}, done=finished,
                        failed=refused)

    def say(self, key: str, warn: bool = False, **params: Any) -> None:
        self.note_params = params
        self.note_warn = warn
        self.note = key

    def reset(self) -> None:
        """Forget what was loaded (the guard logged out); the core keeps the round."""
        self.data = {}
        self.loaded = False
        self.round = None
        self.mode = "overview"
        self.note = ""
        self.core_en = self.core_id = ""
        self._codes.clear()
        self._sending = False
        self._latest = ""
        self.starting = self.finishing = False
        self.ids.overview.clear_widgets()
        self.ids.checkpoints.clear_widgets()


class PatrolsScreen(GuardScreen):
    """Patrols in the guard's panel; the body does the work (see :class:`PatrolsBody`)."""

    body = "PatrolsBody"
    title_key = "nav.patrols"
    refresh_seconds = REFRESH_SECONDS

    def relabel(self) -> None:
        # The rows are drawn in Python from the core's answers: again, in the new language.
        self.content.render()

    def refresh(self) -> None:
        self.content.refresh()

    def reset(self) -> None:
        super().reset()
        self.content.reset()

    def on_code(self, payload: str, source: str) -> bool:
        return self.content.on_code(payload)
