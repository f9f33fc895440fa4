"""The duty roster (SOP 1, 20, 21): who is on duty now, check-in, the week, and call-outs.

Left, the shifts running now with their guard, the two backups who stand in (SOP 20), who
has checked in and whether the backups were already called; the guard checks in here for
their shift. Right, the next seven days as a table, a day the admin changed marked with its
reason, because a changed day is the first thing a guard asks about.

An admin also calls off-duty guards in for an office event (SOP 21): a date, a time, a
reason typed on the big keys, and either the guards picked or, with nobody picked, every
roster guard not on duty then; each gets an SMS from the core. And an admin changes one
day's duty when a guard is ill or on leave: each shift shows its three boxes (the guard
and the two backups), a tap on a box then on a name fills it, and the reason is required,
since the logbook says why the roster was not kept. "Jadwal tetap" drops the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk.ui.i18n import DAYS, MONTHS
from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock
from kiosk.ui.widgets import RoundButton

WEEK_DAYS = 7
CALLOUT_DAYS = 30  # how far ahead the form's date goes (the core allows a year)
CALLOUT_STEP = 30  # minutes per tap on the time
NOTE_LIMIT = 100  # the core's limit: the reason goes into one SMS
REASON_LIMIT = 200  # the core's limit for the reason a day was changed
DAY_COLUMN = 0.6  # the week's first column, against a shift's 1: names need the room


def hhmm(value: str, lang: str) -> str:
    """``17:00`` as the guard reads it: ``17.00`` in Indonesian."""
    return value.replace(":", ".") if lang == "id" else value


def long_date(day: dt.date, lang: str) -> str:
    """``Senin, 23 November 2026``."""
    lang = lang if lang in DAYS else "id"
    return f"{DAYS[lang][day.weekday()]}, {day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def short_name(name: str) -> str:
    """``Asep Sunandar`` -> ``Asep S.``: two backups must fit under a name in a narrow cell."""
    parts = name.split()
    return " ".join([parts[0], *(p[0] + "." for p in parts[1:2])]) if parts else name


def short_date(day: dt.date, lang: str) -> str:
    """``Sen 23/11``: a row of the week's table."""
    lang = lang if lang in DAYS else "id"
    return f"{DAYS[lang][day.weekday()][:3]} {day.day}/{day.month}"


class RosterLine(Label):
    """A line in the "on duty now" column; ``tone`` is plain, strong, good or warn."""

    tone = StringProperty("plain")


class RosterCell(BoxLayout):
    """A cell of the week's table: a name on top, a smaller line under it (the backups).

    ``today``'s row is tinted, a day the admin changed too; ``head`` is the header row.
    """

    main = StringProperty("")
    sub = StringProperty("")
    mark = BooleanProperty(False)  # the small line says something about the day: in colour
    today = BooleanProperty(False)
    head = BooleanProperty(False)
    changed = BooleanProperty(False)


class RosterSlot(RoundButton):
    """A box of a shift in the day's change: the guard (``index`` 0) or a backup (1, 2)."""

    shift = StringProperty("")
    index = NumericProperty(0)
    name = StringProperty("")
    selected = BooleanProperty(False)


class RosterShiftRow(BoxLayout):
    """A shift in the day's change: its name and its three boxes."""

    shift = StringProperty("")
    label = StringProperty("")


class RosterGuardToggle(RoundButton):
    """A guard to call out; tapped on and off."""

    name = StringProperty("")
    chosen = BooleanProperty(False)


class RosterBody(GuardBody, BoxLayout):
    """The roster page, the call-out and day-change forms, the typing page; filled by the screen."""

    page = StringProperty("roster")
    busy = BooleanProperty(False)
    admin = BooleanProperty(False)
    status = StringProperty("")  # the last check-in or call-out, in words
    notes = StringProperty("")  # the changed days' reasons, under the table
    callout_date = StringProperty("")
    callout_time = StringProperty("")
    callout_note = StringProperty("")
    callout_hint = StringProperty("")
    callout_error = StringProperty("")
    chosen = ListProperty([])
    sending = BooleanProperty(False)
    override_date = StringProperty("")
    override_state = StringProperty("")  # the change in force that day, if any
    override_reason = StringProperty("")
    override_error = StringProperty("")
    overridden = BooleanProperty(False)

    def on_kv_post(self, base_widget) -> None:
        self.ids.pages.current = self.page

    def on_page(self, _instance, page: str) -> None:
        if "pages" in self.ids:
            self.ids.pages.current = page


class RosterScreen(GuardScreen):
    body = "RosterBody"
    title_key = "nav.roster"
    refresh_seconds = 60.0
    _roster: dict | None = None
    _last_callout: dict | None = None
    _status: Callable[[], str] | None = None  # the last check-in or call-out, in words
    _day_offset = 0
    _minutes = 19 * 60
    _typing_for = "callout"  # what the typing page is filling in: callout or override
    _change_offset = 0  # the day being changed, in days from today
    _slots: dict | None = None  # shift -> [guard, backup, backup] ("" for an empty box)
    _slot: tuple[str, int] | None = None  # the box a name goes into next
    _change_view: dict | None = None  # the day being changed, as the core has it
    _core_now: dt.datetime | None = None

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        self.bind(busy=self.content.setter("busy"))
        panel = self.content.ids.typing
        panel.bind(on_submit=lambda _panel, words: self._noted(words),
                   on_back=lambda _panel: setattr(self.content, "page", self._typing_for))

    def reset(self) -> None:
        super().reset()
        self._roster = self._last_callout = self._status = None
        self._slots = self._slot = self._change_view = None
        if getattr(self, "content", None) is not None:
            self.content.page = "roster"
            self.content.sending = False
            self.content.callout_note = self.content.override_reason = ""
            self.content.chosen = []

    def on_pre_enter(self, *args) -> None:
        self.content.page = "roster"
        self.content.admin = self.is_admin
        self._status = None
        super().on_pre_enter(*args)

    def refresh(self) -> None:
        self.content.admin = self.is_admin
        self.api("GET", "/health", done=self._got_health)
        self.api("GET", "/roster", params={"days": WEEK_DAYS}, done=self._got_roster)
        self.api("GET", "/roster/callouts", params={"limit": 1}, done=self._got_callouts)

    def relabel(self) -> None:
        self._draw()

    def _got_health(self, health: dict) -> None:
        try:
            self._core_now = dt.datetime.fromisoformat(health["now"])
        except (KeyError, TypeError, ValueError):
            self._core_now = None

    def _got_roster(self, roster: dict) -> None:
        self._roster = roster
        self._draw()

    def _got_callouts(self, body: dict) -> None:
        found = body.get("callouts") or []
        self._last_callout = found[0] if found else None
        self._draw()

    @property
    def today(self) -> dt.date:
        if self._roster and self._roster.get("today"):
            return dt.date.fromisoformat(self._roster["today"])
        return self.app._now().date()

    # -- drawing -----------------------------------------------------------------------------

    def _draw(self) -> None:
        body, text = self.content, self.app.text
        body.status = self._status() if self._status else ""
        if self._last_callout and not self._status:
            call = self._last_callout
            body.status = text("roster.last_callout", at=self._when(call.get("event_at")),
                               note=call.get("note", ""), count=len(call.get("guards", ())))
        if self._roster is None:
            return
        self._draw_now()
        self._draw_week()
        if body.page == "callout":
            self._draw_callout()

    def _when(self, stamp: str | None) -> str:
        if not stamp:
            return ""
        moment = dt.datetime.fromisoformat(stamp)
        return f"{short_date(moment.date(), self.app.lang)} {clock(stamp, self.app.lang)}"

    def _draw_now(self) -> None:
        text, lang = self.app.text, self.app.lang
        box = self.content.ids.now
        box.clear_widgets()
        duties = self._roster.get("on_duty", [])
        if not self._roster.get("guards"):
            box.add_widget(RosterLine(text=text("roster.no_roster")))
            return
        if not duties:
            box.add_widget(RosterLine(text=text("roster.nobody_now")))
        for duty in duties:
            box.add_widget(RosterLine(tone="strong", text=text(
                "roster.duty", shift=duty.get("shift", "").capitalize(),
                guard=duty.get("guard", ""), start=clock(duty.get("start"), lang),
                end=clock(duty.get("end"), lang))))
            box.add_widget(RosterLine(text=text("roster.backups",
                                                names=", ".join(duty.get("backups", ())))))
            checkins = duty.get("checkins") or []
            if checkins:
                names = ", ".join(text("roster.present_backup" if c.get("role") == "backup"
                                       else "roster.present_one", name=c.get("guard", ""),
                                       at=clock(c.get("at"), lang)) for c in checkins)
                box.add_widget(RosterLine(tone="good", text=text("roster.present",
                                                                 names=names)))
            else:
                box.add_widget(RosterLine(tone="warn", text=text("roster.absent")))
            if duty.get("backups_called_at"):
                box.add_widget(RosterLine(tone="warn", text=text(
                    "roster.backups_called", at=clock(duty["backups_called_at"], lang))))

    def _draw_week(self) -> None:
        text, lang = self.app.text, self.app.lang
        roster = self._roster
        shifts = roster.get("shifts", [])
        grid = self.content.ids.week
        grid.clear_widgets()
        grid.cols = 1 + len(shifts)
        grid.add_widget(RosterCell(head=True, main=text("roster.col_day"), size_hint_x=DAY_COLUMN))
        for shift in shifts:
            grid.add_widget(RosterCell(head=True, main=text(
                "roster.shift_head", shift=shift["name"].capitalize(),
                start=hhmm(shift["start"], lang), end=hhmm(shift["end"], lang))))
        notes = []
        today = roster.get("today")
        for day in roster.get("days", []):
            date = dt.date.fromisoformat(day["date"])
            changed = day.get("source") == "override"
            marks = [text("roster.holiday")] if day.get("holiday") else []
            if changed:
                marks.append(text("roster.changed"))
            is_today = day["date"] == today
            grid.add_widget(RosterCell(main=short_date(date, lang), sub=" · ".join(marks),
                                       mark=bool(marks), today=is_today, changed=changed,
                                       size_hint_x=DAY_COLUMN))
            by_shift = {d["shift"]: d for d in day.get("duties", [])}
            for shift in shifts:
                duty = by_shift.get(shift["name"])
                backups = ", ".join(short_name(b) for b in (duty or {}).get("backups", ()))
                grid.add_widget(RosterCell(
                    main=duty["guard"] if duty else "–",
                    sub=text("roster.cell_backups", names=backups) if duty else "",
                    today=is_today, changed=changed))
            if changed and day.get("override"):
                notes.append(text("roster.override_note", day=short_date(date, lang),
                                  by=day["override"].get("by", ""),
                                  reason=day["override"].get("reason", "")))
        self.content.notes = "\n".join(notes)

    # -- check-in ----------------------------------------------------------------------------

    def check_in(self) -> None:
        self.problem = ""
        self.api("POST", "/roster/checkin", done=self._checked_in)

    def _checked_in(self, checkin: dict) -> None:
        key = "roster.checked_in_backup" if checkin.get("role") == "backup" else \
            "roster.checked_in"
        day = dt.date.fromisoformat(checkin["day"])
        self._status = lambda: self.app.text(key, shift=checkin.get("shift", ""),
                                             day=short_date(day, self.app.lang),
                                             at=clock(checkin.get("at"), self.app.lang))
        self.refresh()

    # -- call-out ----------------------------------------------------------------------------

    def open_callout(self) -> None:
        """The admin's form; it starts at today, the next full hour, nobody picked."""
        if not self.is_admin:
            self.problem = self.app.text("guard_panel.admin_only")
            return
        self.problem = ""
        now = self._core_now or self.app._now()  # the core's clock decides what is past
        self._day_offset = 0
        self._minutes = min(23 * 60 + 30, (now.hour + 1) * 60)
        body = self.content
        body.callout_note = body.callout_error = ""
        body.chosen = []
        body.page = "callout"
        self._draw_callout()

    def _draw_callout(self) -> None:
        text, lang, body = self.app.text, self.app.lang, self.content
        day = self.today + dt.timedelta(days=self._day_offset)
        body.callout_date = long_date(day, lang)
        body.callout_time = hhmm(f"{self._minutes // 60:02d}:{self._minutes % 60:02d}", lang)
        body.callout_hint = text("roster.callout_some", count=len(body.chosen)) \
            if body.chosen else text("roster.callout_all")
        grid = body.ids.callout_guards
        names = list((self._roster or {}).get("guards", []))
        if [b.name for b in reversed(grid.children)] != names:
            grid.clear_widgets()
            for name in names:
                toggle = RosterGuardToggle(name=name, text=name)
                toggle.bind(on_release=lambda b: self.toggle_guard(b.name))
                grid.add_widget(toggle)
        for toggle in grid.children:
            toggle.chosen = toggle.name in body.chosen

    def move_day(self, step: int) -> None:
        self._day_offset = max(0, min(CALLOUT_DAYS, self._day_offset + step))
        self._draw_callout()

    def move_time(self, step: int) -> None:
        self._minutes = max(0, min(24 * 60 - CALLOUT_STEP,
                                   self._minutes + step * CALLOUT_STEP))
        self._draw_callout()

    def toggle_guard(self, name: str) -> None:
        chosen = list(self.content.chosen)
        if name in chosen:
            chosen.remove(name)
        else:
            chosen.append(name)
        self.content.chosen = chosen
        self._draw_callout()

    def edit_note(self) -> None:
        self._typing_for = "callout"
        self.content.ids.typing.begin(question=self.app.text("roster.callout_note_question"),
                                      placeholder=self.app.text("roster.callout_placeholder"),
                                      action=self.app.text("roster.note_keep"),
                                      limit=NOTE_LIMIT, value=self.content.callout_note)
        self.content.page = "typing"

    def _noted(self, words: str) -> None:
        if self._typing_for == "override":
            self.content.override_reason = words
            self.content.override_error = ""
        else:
            self.content.callout_note = words
            self.content.callout_error = ""
        self.content.page = self._typing_for

    def send_callout(self) -> None:
        body = self.content
        if body.sending:
            return
        if not body.callout_note:
            body.callout_error = self.app.text("roster.callout_needs_note")
            return
        self.problem = body.callout_error = ""
        day = self.today + dt.timedelta(days=self._day_offset)
        payload = {"date": day.isoformat(),
                   "time": f"{self._minutes // 60:02d}:{self._minutes % 60:02d}",
                   "note": body.callout_note, "guards": list(body.chosen) or None}
        body.sending = True

        def failed(_exc: Exception) -> None:
            body.sending = False

        self.api("POST", "/roster/callouts", json=payload, done=self._called_out,
                 failed=failed)

    def _called_out(self, call: dict) -> None:
        body = self.content
        body.sending = False
        body.callout_note = ""
        body.chosen = []
        self._last_callout = call
        self._status = lambda: self.app.text(
            "roster.callout_sent", id=call.get("id", ""), at=self._when(call.get("event_at")),
            names=", ".join(g.get("name", "") for g in call.get("guards", ())))
        body.page = "roster"
        self.refresh()

    # -- the admin's change of one day -------------------------------------------------------

    def open_override(self) -> None:
        """The admin's change of a day's duty; it starts at today as the roster has it."""
        if not self.is_admin:
            self.problem = self.app.text("guard_panel.admin_only")
            return
        self.problem = ""
        self._change_offset = 0
        self.content.page = "override"
        self._load_day()

    @property
    def change_day(self) -> dt.date:
        return self.today + dt.timedelta(days=self._change_offset)

    def move_change_day(self, step: int) -> None:
        # The core takes yesterday (a night shift still running) up to a year ahead.
        self._change_offset = max(-1, min(CALLOUT_DAYS, self._change_offset + step))
        self._load_day()

    def _load_day(self) -> None:
        body = self.content
        body.override_reason = body.override_error = ""
        self._slots, self._slot = None, None
        self._draw_override()
        self.api("GET", "/roster", params={"start": self.change_day.isoformat(), "days": 1},
                 done=self._got_day)

    def _got_day(self, roster: dict) -> None:
        day = (roster.get("days") or [{}])[0]
        if day.get("date") != self.change_day.isoformat():
            return  # the admin moved on to another day meanwhile
        by_shift = {d["shift"]: d for d in day.get("duties", [])}
        self._slots = {}
        for shift in roster.get("shifts", []):
            duty = by_shift.get(shift["name"])
            self._slots[shift["name"]] = [duty["guard"], *duty["backups"]] if duty else \
                ["", "", ""]
        self._slot = (next(iter(self._slots)), 0) if self._slots else None
        self._change_view = day
        self._draw_override()

    def _draw_override(self) -> None:
        text, lang, body = self.app.text, self.app.lang, self.content
        body.override_date = long_date(self.change_day, lang)
        view = self._change_view or {}
        current = view.get("date") == self.change_day.isoformat()
        body.overridden = bool(current and view.get("override"))
        body.override_state = text("roster.override_state", by=view["override"].get("by", ""),
                                   reason=view["override"].get("reason", "")) \
            if body.overridden else ""
        rows = body.ids.override_shifts
        rows.clear_widgets()
        shifts = {s["name"]: s for s in (self._roster or {}).get("shifts", [])}
        for name, names in (self._slots or {}).items():
            shift = shifts.get(name, {"start": "", "end": ""})
            row = RosterShiftRow(shift=name, label=text(
                "roster.shift_head", shift=name.capitalize(), start=hhmm(shift["start"], lang),
                end=hhmm(shift["end"], lang)))
            for index, who in enumerate(names):
                slot = RosterSlot(shift=name, index=index, name=who,
                                  selected=self._slot == (name, index),
                                  text=who or text("roster.slot_guard" if index == 0
                                                   else "roster.slot_backup"))
                slot.bind(on_release=lambda b: self.pick_slot(b.shift, int(b.index)))
                row.ids.slots.add_widget(slot)
            rows.add_widget(row)
        grid = body.ids.override_guards
        grid.clear_widgets()
        taken = set((self._slots or {}).get(self._slot[0], ())) if self._slot else set()
        for name in (self._roster or {}).get("guards", []):
            toggle = RosterGuardToggle(name=name, text=name, chosen=name in taken)
            toggle.bind(on_release=lambda b: self.assign(b.name))
            grid.add_widget(toggle)

    def pick_slot(self, shift: str, index: int) -> None:
        """A tap on a box selects it; a second tap empties it."""
        if self._slot == (shift, index) and self._slots[shift][index]:
            self._slots[shift][index] = ""
        self._slot = (shift, index)
        self._draw_override()

    def assign(self, name: str) -> None:
        """A name for the selected box; then on to the next box, as one fills a form."""
        if not self._slot or self._slots is None:
            return
        shift, index = self._slot
        names = self._slots[shift]
        if name in names:  # already in this shift: the two boxes trade places
            names[names.index(name)] = names[index]
        names[index] = name
        order = [(s, i) for s in self._slots for i in range(3)]
        position = order.index(self._slot)
        self._slot = order[position + 1] if position + 1 < len(order) else self._slot
        self.content.override_error = ""
        self._draw_override()

    def edit_reason(self) -> None:
        self._typing_for = "override"
        self.content.ids.typing.begin(question=self.app.text(
                                          "roster.override_question",
                                          day=long_date(self.change_day, self.app.lang)),
                                      placeholder=self.app.text("roster.override_placeholder"),
                                      action=self.app.text("roster.note_keep"),
                                      limit=REASON_LIMIT, value=self.content.override_reason)
        self.content.page = "typing"

    def save_override(self) -> None:
        body = self.content
        if body.sending or self._slots is None:
            return
        if not body.override_reason:
            body.override_error = self.app.text("roster.override_needs_reason")
            return
        # A shift with every box empty is not staffed that day; a half-filled one is sent
        # as it is, and the core says what is missing.
        duties = [{"shift": shift, "guard": names[0], "backups": [n for n in names[1:] if n]}
                  for shift, names in self._slots.items() if any(names)]
        self.problem = body.override_error = ""
        body.sending = True
        day = self.change_day

        def failed(_exc: Exception) -> None:
            body.sending = False

        self.api("PUT", f"/roster/{day.isoformat()}",
                 json={"duties": duties, "reason": body.override_reason},
                 done=lambda _day: self._changed(day, "roster.override_saved"), failed=failed)

    def reset_override(self) -> None:
        body = self.content
        if body.sending:
            return
        body.sending = True
        self.problem = ""
        day = self.change_day

        def failed(_exc: Exception) -> None:
            body.sending = False

        self.api("DELETE", f"/roster/{day.isoformat()}",
                 done=lambda _day: self._changed(day, "roster.override_removed"), failed=failed)

    def _changed(self, day: dt.date, key: str) -> None:
        body = self.content
        body.sending = False
        body.override_reason = ""
        self._status = lambda: self.app.text(key, day=long_date(day, self.app.lang))
        body.page = "roster"
        self.refresh()
