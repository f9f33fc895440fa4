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
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import ScreenManager
from kivy.uix.scrollview import ScrollView

from drivers.sim.camera import QRCamera
from kiosk.core.api import create_app
from kiosk.core.service import ensure_guards
from kiosk.ui.app import KioskApp
from kiosk.ui.client import CoreClient
from kiosk.ui.scanner import Scanner
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
