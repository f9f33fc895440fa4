"""The kiosk app: screens, the guest's draft, inactivity, the core's health, the guard's exit.

One composition root for the UI: :func:`kiosk.ui.run` builds the client and the scanner
and hands them in, so tests and the screenshot script pass their own. The app owns the
state that outlives a screen (the visit being filled in, the language) and the rules that
apply to every screen:

- inactivity: ``ui.inactivity_seconds`` without a touch returns to Welcome, drops the
  half-entered visit and goes back to the site's language;
- the core: its health is polled every few seconds; when it fails (or any call finds it
  gone) the calm "please contact the guard" screen shows until it answers again;
- an evacuation: polled with the health; while the core runs a roll call the kiosk shows
  it instead of the guest flow, and Welcome again once the alarm is over;
- no way out for a guest: Escape and the window's close button do nothing; holding the
  logo for 3 s asks for a guard's PIN, checked by the core, and only then the app stops.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.ui import CLOSED_BY_GUARD, theme
from kiosk.ui.background import Background
from kiosk.ui.client import ApiError, CoreSlow, CoreUnreachable
from kiosk.ui.forms import VisitDraft
from kiosk.ui.i18n import Catalog, format_datetime
from kiosk.ui.lang import tr
from kiosk.ui.scanner import Scanner
from kiosk.ui.screens.checkout import CheckoutScreen
from kiosk.ui.screens.consent import ConsentScreen
from kiosk.ui.screens.details import DetailsScreen
from kiosk.ui.screens.done import DoneScreen
from kiosk.ui.screens.guard_alarms import AlarmsScreen
from kiosk.ui.screens.guard_dashboard import DashboardScreen
from kiosk.ui.screens.guard_handover import HandoverScreen
from kiosk.ui.screens.guard_logbook import LogbookScreen
from kiosk.ui.screens.guard_patrols import PatrolsScreen
from kiosk.ui.screens.guard_registers import RegistersScreen
from kiosk.ui.screens.guard_reports import ReportsScreen
from kiosk.ui.screens.guard_roster import RosterScreen
from kiosk.ui.screens.guard_sop import SopScreen
from kiosk.ui.screens.rollcall import RollcallScreen
from kiosk.ui.screens.scan import ScanScreen
from kiosk.ui.screens.temperature import TemperatureScreen
from kiosk.ui.screens.unreachable import UnreachableScreen
from kiosk.ui.screens.welcome import WelcomeScreen
from kiosk.ui.widgets import ConfirmDialog, GuardDialog

log = logging.getLogger(__name__)

KV_DIR = Path(__file__).resolve().parent / "kv"
KV_FILES = ("theme.kv", "scan.kv", "welcome.kv", "details.kv", "temperature.kv", "consent.kv",
            "done.kv", "checkout.kv", "unreachable.kv", "rollcall.kv", "guard.kv",
            *(f"guard_{name}.kv" for name in ("dashboard", "alarms", "logbook", "handover",
                                              "registers", "patrols", "sop", "roster",
                                              "reports")))
SCREENS = (("welcome", WelcomeScreen), ("scan", ScanScreen), ("details", DetailsScreen),
           ("temperature", TemperatureScreen), ("consent", ConsentScreen), ("done", DoneScreen),
           ("checkout", CheckoutScreen), ("unreachable", UnreachableScreen),
           ("rollcall", RollcallScreen),
           ("guard_dashboard", DashboardScreen), ("guard_alarms", AlarmsScreen),
           ("guard_logbook", LogbookScreen), ("guard_handover", HandoverScreen),
           ("guard_registers", RegistersScreen), ("guard_patrols", PatrolsScreen),
           ("guard_sop", SopScreen), ("guard_roster", RosterScreen),
           ("guard_reports", ReportsScreen))
HEALTH_SECONDS = 3.0
HEALTH_MISSES = 2  # health checks failed in a row before the core counts as gone


def load_kv() -> None:
    """Load the kv files once per process (loading twice would apply every rule twice)."""
    for name in KV_FILES:
        path = str(KV_DIR / name)
        if path not in Builder.files:
            Builder.load_file(path)


class KioskApp(App):
    """The touchscreen.

    Args:
        settings: The kiosk's settings (site, visits, ui, thermometer sections are read).
        client: A :class:`kiosk.ui.client.CoreClient` (or anything with its methods).
        scanner: A :class:`kiosk.ui.scanner.Scanner`; ``None`` for a kiosk without camera.
        now: Returns the time to show (aware); defaults to the site's timezone's clock.
        catalog: The texts; defaults to ``kiosk/ui/locale``.
        health_seconds: How often the core's health is asked.
        panel: Builds a widget to show beside the kiosk (the simulator's hardware panel),
            called once the kv rules are loaded; ``panel_width`` is its width at 800x480.
    """

    u = NumericProperty(1.0)  # the window's size relative to the 800x480 design
    lang = StringProperty("id")
    now_text = StringProperty("")
    core_ok = BooleanProperty(True)
    guard = ObjectProperty(None, allownone=True)  # the logged-in guard's {"token", "name", "role"}

    def __init__(self, settings: Any, *, client: Any, scanner: Scanner | None = None,
                 now: Callable[[], dt.datetime] | None = None, catalog: Catalog | None = None,
                 health_seconds: float = HEALTH_SECONDS,
                 panel: Callable[[], Any] | None = None, panel_width: float = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.client = client
        self.scanner = scanner or Scanner(None)
        self.scanner.on_code = self._code_from_worker
        zone = ZoneInfo(settings.site.timezone)
        self._now = now or (lambda: dt.datetime.now(zone))
        self.catalog = catalog or Catalog.load()
        self.health_seconds = health_seconds
        self._panel_factory = panel
        self.panel_width = panel_width if panel is not None else 0
        self.panel = None
        self.draft = VisitDraft()
        self.background = Background(self._deliver, on_error=self._call_failed)
        self.exit_code = 0
        self.title = settings.site.name
        self.last_touch = time.monotonic()
        self.sm: ScreenManager | None = None
        self._resume: str | None = None
        self._health_pending = False
        self._health_failures = 0
        self._rollcall_pending = False
        self._closing = False
        self._shut_down = False
        self._events: list = []
        tr.use(self.catalog, settings.site.language)
        self.lang = settings.site.language

    # -- building ----------------------------------------------------------------------------

    def build(self):
        load_kv()
        self.sm = ScreenManager(transition=NoTransition())
        for name, cls in SCREENS:
            self.sm.add_widget(cls(name=name))
        Window.clearcolor = theme.BG
        Window.bind(size=self._resized, on_touch_down=self._touched, on_key_down=self._key,
                    on_request_close=self._request_close)
        self._resized(Window, Window.size)
        if self._panel_factory is None:
            return self.sm
        root = BoxLayout()
        root.add_widget(self.sm)
        self.panel = self._panel_factory()
        root.add_widget(self.panel)
        return root

    def on_start(self) -> None:
        self._tick(0)
        self._events = [Clock.schedule_interval(self._tick, 1.0),
                        Clock.schedule_interval(self._check_health, self.health_seconds)]
        self._check_health(0)
        self.scanner.warm_up()

    def on_stop(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop timers and calls in flight (the caller closes the client and the scanner)."""
        if self._shut_down:
            return  # App.stop() and App.run() both dispatch on_stop
        self._shut_down = True
        for event in self._events:
            event.cancel()
        self._events = []
        Window.unbind(size=self._resized, on_touch_down=self._touched, on_key_down=self._key,
                      on_request_close=self._request_close)
        self.close_dialogs()
        if self.sm is not None:
            for screen in self.sm.screens:
                screen.reset()
                screen.release()
            self.sm.current_screen.dispatch("on_leave")
        self.background.close()
        if self.panel is not None:
            self.panel.close()
        tr.forget()  # this app's widgets are done with; a next app in this process binds anew

    def _resized(self, _window, size) -> None:
        width, height = size
        base_w, base_h = theme.BASE_SIZE
        self.u = min(width / (base_w + self.panel_width), height / base_h)

    # -- helpers for screens -----------------------------------------------------------------

    def screen(self, name: str):
        return self.sm.get_screen(name)

    def go(self, name: str) -> None:
        if self.sm.current != name:
            self.sm.current = name

    def text(self, key: str, **params: object) -> str:
        return tr._(key, **params)

    def call(self, fn: Callable, *args: Any, done: Callable | None = None,
             failed: Callable | None = None, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` off the UI thread; ``done``/``failed`` run on it."""
        target = functools.partial(fn, **kwargs) if kwargs else fn
        self.background.submit(target, *args, done=done, failed=failed)

    def _deliver(self, callback: Callable[[], None]) -> None:
        Clock.schedule_once(lambda _dt: callback(), 0)

    def set_language(self, lang: str) -> None:
        tr.switch(lang)
        self.lang = lang
        self.now_text = format_datetime(self._now(), lang)
        if self.sm is not None:
            self.sm.current_screen.relabel()
            if self.sm.current == "rollcall":
                self.poll_rollcall()

    # -- the guest's way through -------------------------------------------------------------

    def start_registration(self) -> None:
        """Welcome's "register", or Scan's "no QR": an empty form."""
        self.draft = VisitDraft()
        self.screen("details").begin()
        self.go("details")

    def start_scan(self) -> None:
        self.draft = VisitDraft()
        self.go("scan")

    def start_checkout(self) -> None:
        self.go("checkout")

    def prefill(self, code: dict) -> None:
        """An invitation or pass was scanned: Details with what the core knows."""
        self.draft = VisitDraft(code_kind=code.get("kind"))
        self.draft.prefill(code, tuple(self.settings.visits.id_types))
        self.screen("details").begin()
        self.go("details")

    def after_details(self) -> None:
        """From the checked details on: the temperature, unless this post has no thermometer."""
        self.go("temperature" if self.settings.thermometer.enabled else "consent")

    def registered(self, visit: dict) -> None:
        """The core took the visit: show the badge; the typed data is no longer needed."""
        self.screen("done").show(visit, party_size=self.draft.party_size)
        self.draft = VisitDraft()
        self.go("done")

    def reset(self) -> None:
        """Back to Welcome for the next guest: drop everything the last one entered.

        A guard still logged in (the panel left open) is logged out first.
        """
        self._end_guard_session()
        self.background.new_session()
        self.close_dialogs()
        self.draft = VisitDraft()
        self._resume = None
        for screen in self.sm.screens:
            screen.reset()
        if self.lang != self.settings.site.language:
            self.set_language(self.settings.site.language)
        self.go("welcome" if self.core_ok else "unreachable")
        self.last_touch = time.monotonic()

    # -- dialogs -----------------------------------------------------------------------------

    def close_dialogs(self) -> None:
        for child in list(Window.children):
            if isinstance(child, ModalView):
                child.dismiss(animation=False)

    def ask_cancel(self) -> None:
        """The bar's Cancel: at once if nothing was typed, else after asking."""
        if self.draft.is_empty():
            self.reset()
            return
        self.confirm(title="cancel.title", message="cancel.message", yes="cancel.yes",
                     no="cancel.no", on_yes=self.reset)

    def confirm(self, *, title: str, message: str, yes: str, no: str,
                on_yes: Callable[[], None], params: dict | None = None) -> ConfirmDialog:
        params = params or {}
        dialog = ConfirmDialog(title=tr._(title, **params), message=tr._(message, **params),
                               yes_text=tr._(yes), no_text=tr._(no))
        dialog.on_yes = on_yes
        dialog.open(animation=False)
        return dialog

    def guard_dialog(self, *, title: str, message: str,
                     on_login: Callable[[dict], None]) -> GuardDialog:
        """Ask for a guard's PIN and check it with the core; ``on_login(answer)`` if right."""
        dialog = GuardDialog(mode="pin", title=tr._(title), message=tr._(message))

        def failed(exc: Exception) -> None:
            if isinstance(exc, ApiError) and exc.status == 429:
                minutes = math.ceil((exc.retry_after or 60) / 60)
                dialog.fail("guard.locked", minutes=minutes)
            elif isinstance(exc, ApiError) and exc.status in (401, 422):
                dialog.fail("guard.wrong_pin")
            else:
                dialog.fail("guard.no_core")

        def submit(pin: str) -> None:
            dialog.busy = True
            self.call(self.client.login, pin, done=lambda login: (
                setattr(dialog, "busy", False), on_login(login)), failed=failed)

        dialog.submit = submit
        dialog.open(animation=False)
        return dialog

    # -- the guard's panel -------------------------------------------------------------------

    def open_guard_panel(self) -> None:
        """Welcome's "Petugas": the panel, after the PIN."""
        if any(isinstance(child, GuardDialog) for child in Window.children):
            return
        self.guard_dialog(title="guard_panel.login_title", message="guard_panel.login_message",
                          on_login=self._guard_in)

    def _guard_in(self, login: dict) -> None:
        log.info("guard panel opened by %s", login.get("name"))
        self.guard = login
        self.close_dialogs()
        self.last_touch = time.monotonic()
        self.go("guard_dashboard")

    def guard_logout(self) -> None:
        self.reset()

    def guard_expired(self) -> None:
        """The core no longer knows the token (it restarted, or the session ran out)."""
        self.guard = None
        self.reset()

    def _end_guard_session(self) -> None:
        if self.guard is None:
            return
        token, self.guard = self.guard.get("token"), None
        if token:
            self.background.submit(self.client.logout, token, session_bound=False,
                                   failed=lambda _exc: None)

    def ask_exit(self) -> None:
        """The logo was held: the guard may close the kiosk with a PIN."""
        if any(isinstance(child, GuardDialog) for child in Window.children):
            return
        self.guard_dialog(title="exit.title", message="exit.message", on_login=self._exit)

    def _exit(self, login: dict) -> None:
        log.info("kiosk closed by %s", login.get("name", "a guard"))
        self._closing = True
        self.exit_code = CLOSED_BY_GUARD
        self.close_dialogs()
        self.stop()

    def stop_from_signal(self) -> None:
        """SIGTERM (systemd stopping the unit): stop at the next frame, from Kivy's thread."""
        self._closing = True
        Clock.schedule_once(lambda _dt: self.stop(), 0)

    def _request_close(self, *_args, **_kwargs) -> bool:
        return not self._closing  # True keeps the window open

    # -- inactivity --------------------------------------------------------------------------

    def _touched(self, *_args) -> None:
        self.last_touch = time.monotonic()

    def _key(self, _window, key: int, *_args) -> bool:
        self.last_touch = time.monotonic()
        return key == 27  # Escape: swallowed, never "back" or "quit"

    def idle_seconds(self) -> float:
        return time.monotonic() - self.last_touch

    def _tick(self, _dt) -> None:
        self.now_text = format_datetime(self._now(), self.lang)
        if self.sm is None:
            return
        screen = self.sm.current_screen
        limit = screen.idle_limit
        if limit is None:
            limit = self.settings.ui.inactivity_seconds
        idle = self.idle_seconds()
        if limit and idle > limit:
            log.info("no touch for %.0f s on %s: back to Welcome", idle, screen.name)
            self.reset()
        elif (screen.name == "unreachable" and self._resume
              and idle > self.settings.ui.inactivity_seconds):
            self.draft = VisitDraft()  # they left while the core was away
            self._resume = None
            for other in self.sm.screens:
                other.reset()

    # -- scanned codes -----------------------------------------------------------------------

    def _code_from_worker(self, payload: str, source: str) -> None:
        Clock.schedule_once(lambda _dt: self.on_scanned(payload, source), 0)

    def on_scanned(self, payload: str, source: str = "serial") -> bool:
        """A code from the camera or (later, via the core) the serial scanner."""
        screen = self.sm.current_screen
        if any(isinstance(child, ModalView) for child in Window.children):
            return False
        self.last_touch = time.monotonic()
        return bool(screen.on_code(payload, source))

    # -- the core's health -------------------------------------------------------------------

    def _check_health(self, _dt) -> None:
        if self._health_pending or self._closing:
            return
        self._health_pending = True
        self.background.submit(self.client.health, done=self._healthy,
                               failed=self._unhealthy, session_bound=False)
        self.poll_rollcall()

    def _healthy(self, _body: dict) -> None:
        self._health_pending = False
        self._health_failures = 0
        if not self.core_ok:
            self.core_back()

    def _unhealthy(self, exc: Exception) -> None:
        # Two misses in a row: one slow answer from a busy core is not a lost core (and
        # showing "unreachable" would log a guard out of the panel).
        self._health_pending = False
        self._health_failures += 1
        if self._health_failures >= HEALTH_MISSES:
            self.core_lost(exc)

    def _call_failed(self, exc: BaseException) -> None:
        if isinstance(exc, CoreSlow):
            self._check_health(0)  # ask now; only missed health checks make it "gone"
        elif isinstance(exc, CoreUnreachable):
            self.core_lost(exc)

    def core_lost(self, exc: BaseException | None = None) -> None:
        if self.core_ok:
            log.warning("core unreachable: %s", exc)
        self.core_ok = False
        if self.sm is None or self.sm.current == "unreachable":
            return
        current = self.sm.current
        self._resume = current if current not in ("welcome",) else None
        self.close_dialogs()
        self.go("unreachable")

    def core_back(self) -> None:
        log.info("core answers again")
        self.core_ok = True
        if self.sm is None or self.sm.current != "unreachable":
            return
        resume, self._resume = self._resume, None
        if resume and (not self.draft.is_empty() or resume in ("done", "checkout", "scan")):
            self.go(resume)
        else:
            self.reset()

    # -- evacuation --------------------------------------------------------------------------

    def poll_rollcall(self) -> None:
        """Ask the core whether a roll call runs; the answer switches the screen if needed."""
        if self._rollcall_pending or self._closing:
            return
        self._rollcall_pending = True
        self.background.submit(self.client.rollcall, done=self._rollcall_answer,
                               failed=self._rollcall_unknown, session_bound=False)

    def _rollcall_unknown(self, _exc: Exception) -> None:
        self._rollcall_pending = False  # the health check shows the core is away

    def _rollcall_answer(self, call: dict) -> None:
        self._rollcall_pending = False
        if self.sm is None or self._closing:
            return
        if call.get("active"):
            if self.sm.current != "rollcall" and self.core_ok:
                log.warning("evacuation roll call: the guest flow gives way to it")
                self.close_dialogs()
                self.draft = VisitDraft()
                for screen in self.sm.screens:
                    screen.reset()
                self.go("rollcall")
            self.screen("rollcall").show(call)
        elif self.sm.current == "rollcall":
            log.info("the roll call is over: back to Welcome")
            self.reset()

