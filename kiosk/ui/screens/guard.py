"""The guard's panel: the post's screens behind a PIN, in the same app as the guests' flow.

A guard opens it from Welcome ("Petugas") with a PIN; the core's login answers with a
token, a name and a role (guard or admin) that every screen here uses. Each screen is a
:class:`GuardScreen`: the bar on top (who is logged in, log out, language), the menu on the
left, and a body widget of its own (``body``, a kv rule) that fills the rest. Left alone for
``security.session_minutes``, the panel logs out and returns to Welcome, so the lobby never
inherits an open panel.

Screens talk to the core through :meth:`GuardScreen.api`, which adds the guard's token and
turns the core's refusals into one line on the screen; a login that ran out (401) ends the
session the same way inactivity does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import RoundButton, apply_key

# (screen name, menu text key, admin only), in the menu's order.
GUARD_SCREENS = (
    ("guard_dashboard", "nav.dashboard", False),
    ("guard_alarms", "nav.alarms", False),
    ("guard_logbook", "nav.logbook", False),
    ("guard_handover", "nav.handover", False),
    ("guard_registers", "nav.registers", False),
    ("guard_patrols", "nav.patrols", False),
    ("guard_sop", "nav.sop", False),
    ("guard_roster", "nav.roster", False),
    ("guard_reports", "nav.reports", False),
)


class NavButton(RoundButton):
    """One entry of the menu; ``target`` is the screen it opens, ``key`` its text."""

    target = StringProperty("")
    key = StringProperty("")


class GuardBody:
    """Mixin for a screen's body widget: ``screen`` is the :class:`GuardScreen` holding it."""

    screen = ObjectProperty(None, allownone=True)


class GuardScreen(KioskScreen):
    """A screen of the guard's panel (see the module's docstring).

    Subclasses set ``body`` (the Factory name of their body widget) and ``title_key``, and
    override :meth:`refresh` to load what they show; it runs each time the screen opens and
    every ``refresh_seconds`` while it shows (0: only on opening).
    """

    body = ""
    title_key = StringProperty("")
    refresh_seconds = 0.0
    busy = BooleanProperty(False)
    problem = StringProperty("")  # one line from the core or a locale text, shown in the bar
    _timer = None
    _pending = 0
    _generation = 0

    @property
    def idle_limit(self) -> float:
        return self.app.settings.security.session_minutes * 60

    def on_kv_post(self, base_widget) -> None:
        for name, key, _admin in GUARD_SCREENS:
            button = NavButton(target=name, key=key)
            button.bind(on_release=lambda b: self.app.go(b.target))
            self.ids.nav.add_widget(button)
        if self.body:
            widget = Factory.get(self.body)(screen=self)  # set before its kv rule runs
            self.ids.content.add_widget(widget)
            self.content = widget

    @property
    def token(self) -> str | None:
        return (self.app.guard or {}).get("token")

    @property
    def is_admin(self) -> bool:
        return (self.app.guard or {}).get("role") == "admin"

    def on_pre_enter(self, *_args) -> None:
        self.problem = ""
        self.refresh()
        if self.refresh_seconds:
            self._timer = Clock.schedule_interval(lambda _dt: self.refresh(),
                                                  self.refresh_seconds)

    def on_leave(self, *_args) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def reset(self) -> None:
        """The guard logged out: calls in flight are dropped unanswered, so none is pending."""
        self._pending, self.busy, self.problem = 0, False, ""
        self._generation += 1

    def refresh(self) -> None:
        """Load what the screen shows; subclasses override."""

    def relabel(self) -> None:
        self.refresh()  # rows are built in Python from the core's answers: build them anew

    def api(self, method: str, path: str, *, done: Callable[[Any], None] | None = None,
            failed: Callable[[Exception], None] | None = None, **kwargs: Any) -> None:
        """Call the core as the logged-in guard; ``done(body)`` runs on the UI thread."""
        self._pending += 1
        self.busy = True

        def finished() -> None:
            self._pending = max(0, self._pending - 1)
            self.busy = self._pending > 0

        def ok(body: Any) -> None:
            finished()
            if done is not None:
                done(body)

        def bad(exc: Exception) -> None:
            finished()
            self.show_problem(exc)
            if failed is not None:
                failed(exc)

        self.app.call(self.app.client.request, method, path, token=self.token, done=ok,
                      failed=bad, **kwargs)

    def fetch(self, calls: dict[str, tuple[str, dict | None]],
              done: Callable[[dict[str, Any]], None]) -> None:
        """GET several paths at once; ``done(answers)`` once every one has answered.

        A newer fetch, or a logout, makes an older one's answers stale: they are dropped, so
        a slow answer never draws over a fresher screen. If a call fails, ``done`` is not
        called and the screen stays as it was (the problem shows in the bar).
        """
        self._generation += 1
        generation = self._generation
        answers: dict[str, Any] = {}

        def got(name: str) -> Callable[[Any], None]:
            def store(body: Any) -> None:
                answers[name] = body
                if len(answers) == len(calls) and generation == self._generation:
                    done(answers)
            return store

        for name, (path, params) in calls.items():
            self.api("GET", path, params=params, done=got(name))

    def show_problem(self, exc: Exception) -> None:
        if isinstance(exc, CoreUnreachable):
            return  # the app shows the unreachable screen
        if isinstance(exc, ApiError) and exc.status == 401:
            self.app.guard_expired()
        elif isinstance(exc, ApiError) and exc.status == 403:
            self.problem = self.app.text("guard_panel.admin_only")
        elif isinstance(exc, ApiError):
            self.problem = exc.message(self.app.lang)
        else:
            self.problem = self.app.text("guard_panel.failed")


# -- words for times, shared by the panel's screens ----------------------------------------

def duration(minutes: float, text: Callable[..., str]) -> str:
    """``95`` -> ``1 jam 35 mnt``: SOP standards run from minutes to days, so all three units."""
    whole = max(0, round(minutes))
    days, rest = divmod(whole, 1440)
    hours, mins = divmod(rest, 60)
    units = ((days, "guard_panel.unit_day"), (hours, "guard_panel.unit_hour"),
             (mins, "guard_panel.unit_min"))
    parts = [text(key, n=n) for n, key in units if n]
    return " ".join(parts) or text("guard_panel.unit_min", n=0)


def clock(stamp: str | None, lang: str, today: dt.date | None = None, missing: str = "") -> str:
    """An ISO time as the guard reads it: ``14.05`` (Indonesian) or ``14:05``.

    The day is added (``22-11 14.05``) when it is not ``today``: a run started yesterday
    must not look as if it started this afternoon.
    """
    if not stamp:
        return missing
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    sep = "." if lang == "id" else ":"
    words = f"{moment:%H}{sep}{moment:%M}"
    return words if today is None or moment.date() == today else f"{moment:%d-%m} {words}"


def localized(item: dict, lang: str, name: str = "title") -> str:
    """``title_en`` in English when the core gives one, else ``title_id``."""
    if lang == "en" and item.get(f"{name}_en"):
        return str(item[f"{name}_en"])
    return str(item.get(f"{name}_id") or item.get(f"{name}_en") or "")


class TypingPanel(BoxLayout):
    """A question, one line typed on the big keys, and the button that sends it.

    The guard's screens need a few short texts (a run's title, a reason, a note) and a
    kiosk has no physical keyboard. ``on_submit(text)`` fires with the text folded to one
    line; ``on_back`` when the guard goes back without sending. ``error`` is a line shown
    under the field (the screen sets it when the text will not do).
    """

    question = StringProperty("")
    value = StringProperty("")
    placeholder = StringProperty("")
    action = StringProperty("")
    error = StringProperty("")
    limit = NumericProperty(200)
    shift = BooleanProperty(True)
    busy = BooleanProperty(False)
    __events__ = ("on_submit", "on_back")

    def begin(self, *, question: str, placeholder: str, action: str, limit: int,
              value: str = "") -> None:
        self.question, self.placeholder, self.action = question, placeholder, action
        self.limit, self.value, self.error = limit, value, ""
        self.ids.keyboard.mode = "alpha"
        self.shift = not value

    def on_key(self, code: str) -> None:
        if code == "shift":
            self.shift = self.ids.keyboard.shift
            return
        if code in ("symbols", "alpha", "hide"):
            return
        self.value = apply_key(self.value, code, self.shift, int(self.limit))
        self.error = ""
        # A capital to start with, as a phone keyboard does; the guard's shift key for more.
        self.shift = not self.value

    def submit(self) -> None:
        if not self.busy:
            self.dispatch("on_submit", " ".join(self.value.split()))

    def on_submit(self, text: str) -> None:
        pass

    def on_back(self) -> None:
        pass
