"""Driving the kiosk app in a real (offscreen) window against a real core, for Kivy tests.

Only imported in a Kivy test process (see conftest.py): importing Kivy opens the window.
The core runs in-process on simulated hardware and a frozen simulated clock (tests'
``post`` fixture), served by uvicorn on a free 127.0.0.1 port in a thread, so the UI talks
real HTTP to it exactly as on the Pi. The app is not ``run()``: the test owns the main
thread and turns Kivy's event loop one frame at a time (``pump``), with real touches
(``UnitTestTouch``) at widgets' positions in the window.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import CONFIG, at
from kivy.app import App
from kivy.base import EventLoop
from kivy.core.window import Window
from kivy.lang.builder import global_idmap
from kivy.tests.common import UnitTestTouch
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import ScreenManager
from kivy.uix.scrollview import ScrollView

from drivers.sim.camera import QRCamera
from kiosk.core.api import create_app
from kiosk.core.service import ensure_guards
from kiosk.ui.app import KioskApp
from kiosk.ui.client import CoreClient
from kiosk.ui.scanner import Scanner
from kiosk.ui.screens.guard import NavButton
from kiosk.ui.widgets import FieldBox

GUARD_PIN = "1234"


class CoreServer:
    """The core's API over HTTP on 127.0.0.1; :meth:`stop` and :meth:`start` play a restart."""

    def __init__(self, core) -> None:
        self.core = core
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        config = uvicorn.Config(create_app(self.core), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True, name="test-core-api")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the core's API did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None

    # -- the API as a test (or the guard panel) sees it --------------------------------------

    def api(self, method: str, path: str, *, guard: bool = False, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"} if guard else {}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=10,
                             **kwargs)

    def token(self) -> str:
        response = httpx.post(f"{self.url}/api/v1/guard/login", json={"pin": GUARD_PIN},
                              timeout=10)
        response.raise_for_status()
        return response.json()["token"]

    def visits(self) -> list[dict]:
        """Every visit of the core's day, in full (as the guard sees them)."""
        response = self.api("GET", "/visits", guard=True)
        response.raise_for_status()
        return response.json()["visits"]


class Kiosk:
    """The app in the test's window, and the hands of a guest."""

    def __init__(self, app: KioskApp, camera: QRCamera, server: CoreServer) -> None:
        self.app = app
        self.camera = camera
        self.server = server

    # -- the event loop ----------------------------------------------------------------------

    def start(self) -> None:
        EventLoop.ensure_window()
        self.app._run_prepare()  # build, add to the window, on_start: what App.run() does first
        self.settle(3)

    def pump(self, frames: int = 1) -> None:
        for _ in range(frames):
            EventLoop.idle()

    def wait(self, condition: Callable[[], object], what: str, timeout: float = 15) -> None:
        """Turn the event loop until ``condition()`` holds (answers from the core arrive)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                                     f"(screen {self.app.sm.current!r})")
            EventLoop.idle()
        self.pump(2)

    def wait_screen(self, name: str, timeout: float = 15) -> None:
        self.wait(lambda: self.app.sm.current == name, f"screen {name!r}", timeout)

    def settle(self, frames: int = 1) -> None:
        """Pump until no screen change is under way: a ScreenManager ignores touches then."""
        self.pump(frames)
        for _ in range(30):
            managers = [w for child in Window.children for w in child.walk(restrict=True)
                        if isinstance(w, ScreenManager)]
            if not any(m.transition.is_active for m in managers):
                return
            self.pump(1)

    def close(self) -> None:
        # on_stop also makes kv's "app" forget this app (kv caches the running app until then).
        self.app.dispatch("on_stop")
        for child in list(Window.children):
            Window.remove_widget(child)
        # As GraphicUnitTest does between tests: no touch may survive into the next one.
        EventLoop.touches.clear()
        for module in EventLoop.postproc_modules:
            for name in ("touches", "last_touches"):
                if hasattr(module, name):
                    getattr(module, name).clear()
        self.pump(2)
        # What App.run() does on its way out, so the next test's app is kv's "app" (kv's
        # proxy caches the running app and forgets it only when that app stops).
        App._running_app = None
        object.__setattr__(global_idmap["app"], "_obj", None)

    # -- finding things on screen ------------------------------------------------------------

    @property
    def screen(self):
        return self.app.sm.current_screen

    def dialog(self) -> ModalView | None:
        return next((c for c in Window.children if isinstance(c, ModalView)), None)

    def shown(self, widget) -> bool:
        """On the current screen (or the open dialog), visible and with a size."""
        node = widget
        while node is not None:
            if getattr(node, "opacity", 1) == 0 or node.width <= 1 or node.height <= 1:
                return False
            if node is self.screen or isinstance(node, ModalView):
                return True
            node = node.parent
        return False

    def widgets(self, root=None):
        root = root or self.dialog() or self.screen
        return [w for w in root.walk(restrict=True) if self.shown(w)]

    def button(self, text: str, root=None):
        """The visible button whose text contains ``text`` (markup ignored)."""
        found = [w for w in self.widgets(root) if isinstance(w, ButtonBehavior)
                 and not isinstance(w, FieldBox)  # a field showing that text is no button
                 and text.lower() in _plain(getattr(w, "text", "")).lower()]
        if not found:
            shown = [_plain(getattr(w, "text", "")) for w in self.widgets(root)
                     if isinstance(w, ButtonBehavior)]
            raise AssertionError(f"no button {text!r} on {self.app.sm.current!r}: {shown}")
        return found[0]

    def texts(self, root=None) -> str:
        """Every visible text, one per line (what a guest can read)."""
        return "\n".join(_plain(w.text) for w in self.widgets(root)
                         if getattr(w, "text", "") and hasattr(w, "texture_size"))

    # -- touching ----------------------------------------------------------------------------

    def tap(self, widget, hold: float = 0.0) -> None:
        """Touch the middle of ``widget`` (window coordinates), as a finger does."""
        assert self.shown(widget), f"{widget} is not visible"
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        if hold:
            end = time.monotonic() + hold
            while time.monotonic() < end:
                self.pump(1)
        touch.touch_up()
        self.settle()
        if any(isinstance(node, ScrollView) for node in _ancestors(widget)):
            # A ScrollView waits to see whether a touch is a scroll, then replays the tap
            # to its child 0.2 s later (Kivy's scroll_timeout): let that happen first.
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                self.pump(1)

    def press(self, text: str) -> None:
        self.tap(self.button(text))

    def key(self, code: str) -> None:
        """Tap a key of the on-screen keyboard (or the number pad of a dialog)."""
        root = self.dialog() or self.screen
        keys = [w for w in self.widgets(root) if getattr(w, "code", None) == code]
        if not keys:  # the dialog's number pad has plain buttons
            keys = [w for w in self.widgets(root) if isinstance(w, ButtonBehavior)
                    and getattr(w, "text", None) == code]
        assert keys, f"no key {code!r} on {self.app.sm.current!r}"
        self.tap(keys[0])

    def type(self, text: str) -> None:
        """Type on the big keys; capitals come from the keyboard's own word capitals."""
        for char in text:
            if char == " ":
                self.key("space")
            else:
                self.key(char.lower() if char.isalpha() else char)


def _ancestors(widget):
    node = widget.parent
    while node is not None and node is not node.parent:
        yield node
        node = node.parent


def _plain(text: str) -> str:
    import re

    return re.sub(r"\[/?[a-z]+(=[^\]]*)?\]", "", text)


def settings_text(extra: str = "") -> str:
    return CONFIG + "[ui]\ninactivity_seconds = 30\n" + extra


@pytest.fixture
def core_server(post, request):
    """The core on simulated hardware at 10.00, its API on a free port."""
    extra = getattr(request, "param", "")
    p = post(at(10, 0), text=settings_text(extra))
    core = p.start()
    ensure_guards(core, simulate=True)
    server = CoreServer(core)
    server.post = p
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kiosk(core_server, request, tmp_path_factory):
    """The kiosk app in the window, its camera a simulated one showing nothing yet."""
    settings = core_server.post.settings
    camera = QRCamera(None)
    scanner = Scanner(camera, close_camera=False)
    client = CoreClient(core_server.url)
    app = KioskApp(settings, client=client, scanner=scanner, health_seconds=0.5)
    kiosk = Kiosk(app, camera, core_server)
    kiosk.start()
    yield kiosk
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:  # what the guest saw when it went wrong
        folder = tmp_path_factory.mktemp("failed-screens")
        print("screen at failure:", save_screenshot(folder / f"{request.node.name}.png"))
    kiosk.close()
    scanner.close()
    camera.close()
    client.close()


def save_screenshot(path: Path) -> Path:
    taken = Path(Window.screenshot(name=str(path)))
    return taken


@pytest.fixture(scope="module")
def demo_kiosk():
    """The kiosk against the canned demo core (screens full of realistic content)."""
    from kiosk.config import parse
    from kiosk.ui.demo import DemoCore
    from kiosk.ui.screenshots import MOMENT

    settings = parse(settings_text())
    camera = QRCamera("GK1:INV:K7QM3XW9PB2D")
    scanner = Scanner(camera, close_camera=False, decoder_factory=_NoDecoder)
    app = KioskApp(settings, client=DemoCore(), scanner=scanner, now=lambda: MOMENT,
                   health_seconds=3600)
    kiosk = Kiosk(app, camera, None)
    kiosk.start()
    yield kiosk
    kiosk.close()
    scanner.close()
    camera.close()


class _NoDecoder:
    def decode(self, frame):
        return []

    def close(self):
        pass


# -- the guard's hands, for the panel's modules ------------------------------------------------

def log_in(kiosk, pin: str = GUARD_PIN) -> None:
    """Welcome's "Petugas", the PIN on the dialog's keys, OK: the panel opens."""
    kiosk.wait_screen("welcome")
    kiosk.press("Petugas")
    for digit in pin:
        kiosk.key(digit)
    kiosk.press("OK")
    kiosk.wait(lambda: kiosk.app.guard is not None and kiosk.dialog() is None, "the login")
    kiosk.settle(2)


def open_screen(kiosk, target: str):
    """Tap the menu's entry for ``target``; returns the screen's body once it has loaded."""
    entry = next(w for w in kiosk.widgets(kiosk.screen) if isinstance(w, NavButton)
                 and w.target == target)
    kiosk.tap(entry)
    kiosk.wait_screen(target)
    body = kiosk.app.screen(target).content
    kiosk.wait(lambda: loaded(kiosk.app.screen(target)), f"{target} to load")
    kiosk.pump(3)
    return body


def loaded(screen) -> bool:
    """No call to the core in flight (and the body's first load done, where it keeps one)."""
    return not screen.busy and getattr(screen.content, "loaded", True)


# -- layout: nothing cut off, nothing on top of anything, fingertip-sized --------------------

def _rect(w) -> tuple[float, float, float, float]:
    x0, y0 = w.to_window(w.x, w.y)
    return x0, y0, x0 + w.width, y0 + w.height


def _visible(w) -> tuple[float, float, float, float] | None:
    """The part of ``w`` a person can see: clipped by the scroll views it is in."""
    x0, y0, x1, y1 = _rect(w)
    node = w.parent
    while node is not None and node is not node.parent:
        if isinstance(node, ScrollView):
            sx0, sy0, sx1, sy1 = _rect(node)
            x0, y0, x1, y1 = max(x0, sx0), max(y0, sy0), min(x1, sx1), min(y1, sy1)
        node = node.parent
    return (x0, y0, x1, y1) if x1 - x0 > 1 and y1 - y0 > 1 else None


def layout_problems(kiosk, root, min_target: float = 48) -> list[str]:
    """Text that does not fit, widgets off the window, small or overlapping buttons.

    Only what is under ``root`` and can be seen: scrolled out of view or parked off the
    window (until needed) does not count.
    """
    found = []
    width, height = Window.size
    widgets = [w for w in root.walk(restrict=True) if kiosk.shown(w)]
    buttons = [w for w in widgets if isinstance(w, ButtonBehavior) and not w.disabled]
    for w in widgets:
        seen = _visible(w)
        if seen is None or seen[0] >= width or seen[1] >= height:
            continue
        name = f"{type(w).__name__} {getattr(w, 'text', '')[:40]!r}"
        x0, y0, x1, y1 = seen
        if x0 < -1 or y0 < -1 or x1 > width + 1 or y1 > height + 1:
            found.append(f"{name} is outside the window: {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f}")
        if w in buttons and min(w.size) < min_target:
            found.append(f"{name} is {w.width:.0f}x{w.height:.0f}, under {min_target} px")
        if isinstance(w, Label) and w.text and not w.shorten:
            w.texture_update()
            content_w, content_h = w._label.content_size
            room_w = w.text_size[0] or w.width
            room_h = w.text_size[1] or w.height
            if content_w > room_w + 2 or content_h > room_h + 2:
                found.append(f"{name} does not fit: text {content_w:.0f}x{content_h:.0f} in "
                             f"{room_w:.0f}x{room_h:.0f}")
    shown = [(b, _visible(b)) for b in buttons]
    shown = [(b, r) for b, r in shown if r is not None and r[0] < width]
    for i, (a, ra) in enumerate(shown):
        for b, rb in shown[i + 1:]:
            if a in b.walk_reverse() or b in a.walk_reverse():
                continue
            if ra[0] + 1 < rb[2] and rb[0] + 1 < ra[2] and ra[1] + 1 < rb[3] and rb[1] + 1 < ra[3]:
                found.append(f"buttons overlap: {getattr(a, 'text', '')[:30]!r} and "
                             f"{getattr(b, 'text', '')[:30]!r}")
    return found


def check_scenes(kiosk, scenes: dict, screen_name: str,
                 min_target: float = 48) -> dict[str, list[str]]:
    """Each screenshot scene against this test's core, in both languages: what does not fit."""
    app = kiosk.app
    found = {}
    for name, scene in scenes.items():
        app.reset()
        app.guard = app.client.login(GUARD_PIN)
        kiosk.pump(scene(app, kiosk.server.post.core) or 6)
        kiosk.wait(lambda: loaded(app.screen(screen_name)), f"scene {name}")
        kiosk.pump(6)
        for lang in ("id", "en"):
            app.set_language(lang)
            kiosk.wait(lambda: loaded(app.screen(screen_name)), f"scene {name} in {lang}")
            kiosk.pump(6)
            root = kiosk.dialog() or app.screen(screen_name).content
            problems = layout_problems(kiosk, root, min_target)
            if problems:
                found[f"{name} ({lang})"] = problems
        app.set_language("id")
        app.close_dialogs()
    return found

