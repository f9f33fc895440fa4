"""Procedures (SOP) step by step: start one, carry a run through its steps, read its report.

The procedures are data in the core (``config/sop/*.toml``); this screen only shows what
the core answers and sends what the guard taps. Four pages, one at a time, because at
800x480 a step's full text and its buttons need the whole body:

- the list: the procedures to start on the left, the runs under way on the right (the
  overdue ones marked), and the last runs that ended, whose report opens on a tap;
- the run: every step passed so far, the current one large and highlighted (who carries
  it out, the standard time, how long it has been open, overdue flagged), the steps still
  to come muted; at the bottom "Selesai", or "Ya"/"Tidak" for a decision, and "Batalkan";
- typing: the optional title of a new run, or the reason for cancelling one (required:
  the logbook has to say why a procedure was dropped);
- the report: actual against standard minutes for every pass, with the totals.

A step is sent with its id, so a double tap or a colleague finishing the same step first
cannot skip the one after it: the core refuses (409) and the run is loaded again.
Elapsed times come from the core's clock, refreshed every half minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock, duration, localized
from kiosk.ui.widgets import RoundButton

RECENT_RUNS = 6  # ended runs listed under the running ones
TITLE_LIMIT = 120  # the core's limits (kiosk/core/sop_api.py)
REASON_LIMIT = 300
END = "end"


# -- words for times -------------------------------------------------------------------------


def signed(minutes: float, text: Callable[..., str]) -> str:
    """A difference against the standard: ``+5 mnt`` over it, ``-10 mnt`` under, ``0 mnt``."""
    if round(minutes) == 0:
        return duration(0, text)
    return ("+" if minutes > 0 else "-") + duration(abs(minutes), text)


# -- widgets ---------------------------------------------------------------------------------


class SopRunRow(ButtonBehavior, BoxLayout):
    """A run in the list: what and for whom on the first line, where it stands on the second."""

    run_id = NumericProperty(0)
    heading = StringProperty("")
    sop = StringProperty("")
    detail = StringProperty("")
    warn = BooleanProperty(False)


class SopProcedureButton(RoundButton):
    """A procedure to start: its title, and how many steps it has."""

    sop_id = StringProperty("")


class SopStepRow(BoxLayout):
    """One step of a run: ``state`` is done, open (the current one, large) or next."""

    state = StringProperty("next")
    heading = StringProperty("")
    words = StringProperty("")
    detail = StringProperty("")
    flag = StringProperty("")  # "overdue by ..." on the current step


class SopReportRow(BoxLayout):
    """A pass in the report: the step, standard, actual and difference; ``over`` the standard."""

    step = StringProperty("")
    standard = StringProperty("")
    actual = StringProperty("")
    difference = StringProperty("")
    over = BooleanProperty(False)
    header = BooleanProperty(False)


class SopBody(GuardBody, BoxLayout):
    """The pages of the SOP screen (see the module's docstring); the screen fills them."""

    page = StringProperty("list")
    busy = BooleanProperty(False)  # any call in flight (the bar's busy line)
    sending = BooleanProperty(False)  # a step being completed: its buttons wait for the answer
    problems = StringProperty("")  # SOP files that did not load, for an admin
    has_running = BooleanProperty(False)
    has_ended = BooleanProperty(False)
    run_heading = StringProperty("")
    run_sop = StringProperty("")
    running = BooleanProperty(False)
    decision = BooleanProperty(False)
    report_heading = StringProperty("")
    report_sop = StringProperty("")
    report_totals = StringProperty("")
    report_status = StringProperty("")
    report_warn = BooleanProperty(False)

    def on_kv_post(self, base_widget) -> None:
        self.ids.pages.current = self.page

    def on_page(self, _instance, page: str) -> None:
        if "pages" in self.ids:
            self.ids.pages.current = page


# -- the screen ------------------------------------------------------------------------------


class SopScreen(GuardScreen):
    body = "SopBody"
    title_key = "nav.sop"
    refresh_seconds = 30.0  # the elapsed minutes of the current step
    _procedures: list = []
    _running: list = []
    _ended: list = []
    _problems: list = []
    _run: dict | None = None
    _report: dict | None = None
    _typing: tuple[str, Any] | None = None
    _scrolled_to: tuple | None = None  # (run, step) the list was last scrolled to
    _today: dt.date | None = None  # the core's date: runs are stamped by its clock

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        self.bind(busy=self.content.setter("busy"))
        panel = self.content.ids.typing
        panel.bind(on_submit=lambda _panel, text: self._typed(text),
                   on_back=lambda _panel: self._typing_back())

    def reset(self) -> None:
        super().reset()
        self._run = self._report = self._typing = None
        self._procedures, self._running, self._ended, self._problems = [], [], [], []
        if getattr(self, "content", None) is not None:
            self.content.page = "list"
            self.content.sending = self.content.ids.typing.busy = False

    def on_pre_enter(self, *args) -> None:
        self.content.page = "list"  # every visit starts from the list: no stale run on show
        self._scrolled_to = None
        super().on_pre_enter(*args)

    @property
    def today(self) -> dt.date:
        return self._today or self.app._now().date()

    def refresh(self) -> None:
        page = self.content.page
        if page == "list":
            self._load_list()
        elif page == "run" and self._run is not None:
            self.open_run(self._run["id"])

    def relabel(self) -> None:
        self._draw()

    def _draw(self) -> None:
        page = self.content.page
        if page == "list":
            self._draw_list()
        elif page == "run" and self._run is not None:
            self._draw_run()
        elif page == "report" and self._report is not None:
            self._draw_report()

    # -- the list ----------------------------------------------------------------------------

    def show_list(self) -> None:
        self.problem = ""
        self._scrolled_to = None
        self.content.page = "list"
        self._load_list()

    def _load_list(self) -> None:
        self.api("GET", "/health", done=self._got_health)
        self.api("GET", "/sops", done=self._got_procedures)
        self.api("GET", "/sop-runs", params={"open": "true"}, done=self._got_running)
        self.api("GET", "/sop-runs", params={"open": "false", "limit": 30}, done=self._got_ended)

    def _got_health(self, health: dict) -> None:
        try:
            self._today = dt.datetime.fromisoformat(health["now"]).date()
        except (KeyError, TypeError, ValueError):
            return
        self._draw()

    def _got_procedures(self, body: dict) -> None:
        self._procedures = list(body.get("sops", []))
        self._problems = list(body.get("problems", []))
        self._draw_list()

    def _got_running(self, body: dict) -> None:
        self._running = list(body.get("runs", []))
        self._draw_list()

    def _got_ended(self, body: dict) -> None:
        self._ended = [r for r in body.get("runs", []) if r.get("status") != "running"]
        self._ended = self._ended[:RECENT_RUNS]
        self._draw_list()

    def _draw_list(self) -> None:
        if self.content.page != "list":
            return
        text, lang, ids = self.app.text, self.app.lang, self.content.ids
        ids.procedures.clear_widgets()
        for sop in self._procedures:
            button = SopProcedureButton(sop_id=str(sop.get("id", "")), text=text(
                "sop.procedure", title=localized(sop, lang),
                steps=text("sop.steps", count=len(sop.get("steps", ())))))
            button.bind(on_release=lambda b: self.ask_start(b.sop_id))
            ids.procedures.add_widget(button)
        self.content.problems = text("sop.file_problems", problems="; ".join(self._problems)) \
            if self._problems and self.is_admin else ""
        ids.running.clear_widgets()
        for run in self._running:
            ids.running.add_widget(self._run_row(run))
        ids.ended.clear_widgets()
        for run in self._ended:
            ids.ended.add_widget(self._run_row(run))
        self.content.has_running, self.content.has_ended = bool(self._running), bool(self._ended)

    def _run_row(self, run: dict) -> SopRunRow:
        text, lang = self.app.text, self.app.lang
        current = run.get("current") or {}
        if run.get("status") == "running" and current:
            key = "sop.run_overdue" if run.get("overdue") else "sop.run_at"
            detail = text(key, seq=current.get("seq", ""), actor=current.get("actor", ""),
                          elapsed=duration(current.get("actual_minutes", 0), text),
                          standard=duration(current.get("standard_minutes", 0), text))
        elif run.get("status") == "cancelled":
            detail = text("sop.run_cancelled", at=clock(run.get("ended_at"), lang, self.today),
                          reason=run.get("cancel_reason") or "")
        else:
            detail = text("sop.run_finished", at=clock(run.get("ended_at"), lang, self.today),
                          by=run.get("ended_by") or "")
        row = SopRunRow(run_id=int(run.get("id", 0)), heading=self._run_name(run),
                        sop=self._run_sop(run), detail=detail, warn=bool(run.get("overdue")))
        row.bind(on_release=lambda r: self.open_run(r.run_id))
        return row

    def _run_name(self, run: dict) -> str:
        """``SOP #3 · Kunjungan Bupati``: the run's own title says most; else the procedure's."""
        if run.get("title"):
            return self.app.text("sop.run_named", id=run.get("id", ""), title=run["title"])
        return self.app.text("sop.run_name", id=run.get("id", ""),
                             sop=localized(run, self.app.lang, "sop_title"))

    def _run_sop(self, run: dict) -> str:
        """The procedure's title under a titled run's name (an untitled one already shows it)."""
        return localized(run, self.app.lang, "sop_title") if run.get("title") else ""

    # -- starting ----------------------------------------------------------------------------

    def ask_start(self, sop_id: str) -> None:
        """A procedure was tapped: ask what the run is about (optional), then start it."""
        sop = next((s for s in self._procedures if s.get("id") == sop_id), {"id": sop_id})
        self._typing = ("start", sop_id)
        self.problem = ""
        self.content.ids.typing.begin(
            question=self.app.text("sop.start_question", sop=localized(sop, self.app.lang)),
            placeholder=self.app.text("sop.start_placeholder"),
            action=self.app.text("sop.start"), limit=TITLE_LIMIT)
        self.content.page = "typing"

    def _typed(self, words: str) -> None:
        if self._typing is None:
            return
        kind, ref = self._typing
        panel = self.content.ids.typing
        if kind == "start":
            panel.busy = True
            self.api("POST", f"/sops/{ref}/runs", json={"title": words},
                     done=self._started, failed=lambda _exc: setattr(panel, "busy", False))
        elif not words:
            panel.error = self.app.text("sop.cancel_needs_reason")
        else:
            panel.busy = True
            self.api("POST", f"/sop-runs/{ref}/cancel", json={"reason": words},
                     done=self._cancelled, failed=lambda _exc: setattr(panel, "busy", False))

    def _typing_back(self) -> None:
        kind = self._typing[0] if self._typing else "start"
        self._typing = None
        if kind == "cancel" and self._run is not None:
            self.content.page = "run"
            self._draw_run()
        else:
            self.show_list()

    def _started(self, run: dict) -> None:
        self.content.ids.typing.busy = False
        self._typing = None
        self._show_run(run)

    # -- a run -------------------------------------------------------------------------------

    def open_run(self, run_id: int) -> None:
        self.api("GET", f"/sop-runs/{run_id}", done=self._show_run)

    def _show_run(self, run: dict) -> None:
        if run.get("status") != "running":
            self.open_report(int(run["id"]))
            return
        if self._typing is not None:
            return  # the guard is typing meanwhile: a timer's answer must not take that away
        self._run = run
        self.content.page = "run"
        self._draw_run()

    def _draw_run(self) -> None:
        run, text, lang = self._run, self.app.text, self.app.lang
        body = self.content
        body.run_heading = self._run_name(run)
        body.run_sop = self._run_sop(run)
        body.running = run.get("status") == "running"
        current = run.get("current") or {}
        body.decision = bool(current.get("decision"))
        rows = body.ids.steps
        rows.clear_widgets()
        highlighted = None
        passes = list(run.get("passes", []))
        for p in passes:
            row = self._step_row(p, text, lang)
            rows.add_widget(row)
            if p.get("state") == "open":
                highlighted = row
        seq = max((int(p.get("seq", 0)) for p in passes), default=0)
        for step in self._upcoming(run):
            seq += 1
            rows.add_widget(SopStepRow(
                state="next", heading=text("sop.step_next", seq=seq),
                words=localized(step, lang),
                detail=text("sop.meta_next", actor=step.get("actor", ""),
                            standard=duration(step.get("standard_minutes", 0), text))))
        where = (run.get("id"), current.get("seq"))
        if highlighted is not None and where != self._scrolled_to:
            # Only when the run moved on: the half-minute refresh must not yank the list
            # back while the guard reads the steps further down.
            self._scrolled_to = where
            scroll = body.ids.steps_scroll
            # Room below it too: the step that comes next matters more than the ones done.
            # After the rows are laid out (a frame on): before that their places are wrong.
            Clock.schedule_once(lambda _dt: Clock.schedule_once(lambda _dt2: scroll.scroll_to(
                highlighted, padding=self.app.u * 60, animate=False), 0), 0)

    def _step_row(self, p: dict, text, lang: str) -> SopStepRow:
        actor = p.get("actor", "")
        standard = duration(p.get("standard_minutes", 0), text)
        actual = duration(p.get("actual_minutes", 0), text)
        again = int(p.get("round", 1)) > 1
        if p.get("state") == "open":
            key = "sop.step_now_round" if again else "sop.step_now"
            if p.get("decision"):
                key = "sop.step_decision_round" if again else "sop.step_decision"
            flag = ""
            if p.get("overdue"):
                flag = text("sop.overdue", late=duration(p.get("difference_minutes", 0), text))
            return SopStepRow(state="open", heading=text(key, seq=p.get("seq", ""),
                                                         round=p.get("round", 1)),
                              words=localized(p, lang),
                              detail=text("sop.meta_now", actor=actor, standard=standard,
                                          elapsed=actual),
                              flag=flag)
        detail = text("sop.meta_done", actor=actor, actual=actual, standard=standard)
        if p.get("answer"):
            detail = text("sop.meta_done_answer", actor=actor, actual=actual,
                          standard=standard, answer=text(f"sop.answer_{p['answer']}"))
        key = "sop.step_done_round" if again else "sop.step_done"
        return SopStepRow(state="done", heading=text(key, seq=p.get("seq", ""),
                                                     round=p.get("round", 1)),
                          words=localized(p, lang), detail=detail)

    @staticmethod
    def _upcoming(run: dict) -> list[dict]:
        """The steps after the current one on the usual way (a decision's "yes"), to the end."""
        steps = {s["id"]: s for s in (run.get("procedure") or {}).get("steps", [])}
        current = run.get("current") or {}
        if not current or current.get("id") not in steps:
            return []
        out, seen = [], {current["id"]}
        step = steps[current["id"]]
        while True:
            target = step.get("yes") if step.get("decision") else step.get("next")
            if not target or target == END or target in seen or target not in steps:
                return out
            seen.add(target)
            step = steps[target]
            out.append(step)

    def complete(self, answer: str | None = None) -> None:
        """"Selesai", "Ya" or "Tidak" on the current step."""
        run = self._run
        current = (run or {}).get("current")
        if not current or self.content.sending:
            return
        self.problem = ""
        self.content.sending = True

        def done(answer: dict) -> None:
            self.content.sending = False
            self._show_run(answer)

        def failed(_exc: Exception) -> None:
            self.content.sending = False
            self.open_run(run["id"])  # another guard may have moved it on: show where it is

        body = {"answer": answer} if answer else {}
        self.api("POST", f"/sop-runs/{run['id']}/steps/{current['id']}", json=body,
                 done=done, failed=failed)

    def ask_cancel(self) -> None:
        if self._run is None:
            return
        self._typing = ("cancel", self._run["id"])
        self.problem = ""
        self.content.ids.typing.begin(
            question=self.app.text("sop.cancel_question", name=self._run_name(self._run)),
            placeholder=self.app.text("sop.cancel_placeholder"),
            action=self.app.text("sop.cancel_confirm"), limit=REASON_LIMIT)
        self.content.page = "typing"

    def _cancelled(self, run: dict) -> None:
        self.content.ids.typing.busy = False
        self._typing = None
        self.open_report(int(run["id"]))

    # -- the report --------------------------------------------------------------------------

    def open_report(self, run_id: int) -> None:
        self.api("GET", f"/sop-runs/{run_id}/report", done=self._show_report)

    def _show_report(self, report: dict) -> None:
        if self._typing is not None:
            return
        self._report = report
        self.content.page = "report"
        self._draw_report()

    def _draw_report(self) -> None:
        report, text, lang = self._report, self.app.text, self.app.lang
        run, totals = report.get("run", {}), report.get("totals", {})
        body = self.content
        body.report_heading = self._run_name(run)
        body.report_sop = self._run_sop(run)
        body.report_totals = text(
            "sop.report_totals", passes=totals.get("passes", 0),
            actual=duration(totals.get("actual_minutes", 0), text),
            standard=duration(totals.get("standard_minutes", 0), text),
            difference=signed(totals.get("difference_minutes", 0), text),
            over=totals.get("over", 0))
        status = run.get("status")
        at = clock(run.get("ended_at"), lang, self.today)
        if status == "cancelled":
            body.report_status = text("sop.report_cancelled", at=at, by=run.get("ended_by", ""),
                                      reason=run.get("cancel_reason") or "")
        elif status == "finished":
            body.report_status = text("sop.report_finished", at=at, by=run.get("ended_by", ""))
        else:
            body.report_status = text("sop.report_running")
        body.report_warn = status == "cancelled"
        rows = body.ids.report_rows
        rows.clear_widgets()
        rows.add_widget(SopReportRow(header=True, step=text("sop.col_step"),
                                     standard=text("sop.col_standard"),
                                     actual=text("sop.col_actual"),
                                     difference=text("sop.col_difference")))
        for p in report.get("passes", []):
            name = f"{p.get('seq', '')}. {localized(p, lang)}"
            if int(p.get("round", 1)) > 1:
                name += text("sop.round_suffix", round=p["round"])
            # A pass cut short by a cancel has no difference to speak of: it was never done.
            counted = p.get("state") in ("done", "open")
            rows.add_widget(SopReportRow(
                step=name, standard=duration(p.get("standard_minutes", 0), text),
                actual=duration(p.get("actual_minutes", 0), text),
                difference=signed(p.get("difference_minutes", 0), text) if counted else "–",
                over=counted and bool(p.get("overdue"))))
