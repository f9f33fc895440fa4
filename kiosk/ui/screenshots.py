"""Pictures of every screen at the kiosk's screen sizes: ``python -m kiosk.ui.screenshots``.

Renders the real app (same kv, same widgets) against :class:`kiosk.ui.demo.DemoCore` and
a simulated camera holding up an invitation, puts each screen in a realistic state, and
writes ``<screen>-<W>x<H>.png``. No display is needed: without one, SDL renders
offscreen (Mesa llvmpipe). The README shows these files; run this after changing a screen
and look at them as a guest would.

Usage: ``python -m kiosk.ui.screenshots [--out docs/screenshots] [--sizes 800x480,1024x600]
[--only welcome,done]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

SIZES = ((800, 480), (1024, 600))
LARGE = (1920, 1080)  # the Welcome screen on a full-HD lobby monitor as well
SIM = (1100, 480)  # ``kiosk sim``: the kiosk at 800x480 and the hardware panel beside it
MOMENT = dt.datetime(2026, 11, 23, 14, 5, tzinfo=ZoneInfo("Asia/Jakarta"))
INVITATION_CODE = "GK1:INV:K7QM3XW9PB2D"
SETTLE_FRAMES = 6  # frames between setting a scene up and taking its picture


class _NoDecoder:
    """Keeps the preview running without acting on the code it shows."""

    def decode(self, frame) -> list[str]:
        return []

    def close(self) -> None:
        pass


def scenes() -> dict[str, Callable]:
    """Scene name -> function putting the app into that state (returns frames to wait).

    ``guard-...`` scenes are the guard's panel's (:mod:`kiosk.ui.guardshots`): they take
    ``(app, core)`` and run against a real core.
    """

    def welcome(app):
        app.reset()

    def welcome_en(app):
        app.reset()
        app.set_language("en")

    def scan(app):
        app.reset()
        app.start_scan()
        return 14  # let the camera deliver frames to the preview

    def scan_camera_lost(app):
        app.reset()
        app.scanner._camera.lose()
        app.start_scan()
        return 10

    def details(step, **values):
        def setup(app):
            app.reset()
            app.start_registration()
            for key, value in values.items():
                setattr(app.draft, key, value)
            screen = app.screen("details")
            screen.show_step(step)
            return None
        return setup

    def details_error(app):
        details(2, name="Siti Aminah", institution="Bawaslu Kabupaten Subang",
                phone="0812 34")(app)
        app.screen("details").next()  # too short: the friendly message shows

    def details_host(app):
        details(4, name="Siti Aminah", institution="Bawaslu Kabupaten Subang",
                phone="081234567890", purpose="Rapat koordinasi")(app)

    def details_host_search(app):
        details_host(app)
        screen = app.screen("details")
        screen.show_keyboard()
        for key in "kasub":
            screen.on_key(key)

    def review(app):
        from kiosk.ui.demo import INVITATION

        app.reset()
        app.prefill(INVITATION)
        app.draft.phone, app.draft.party_size = "081234567890", 2
        app.draft.id_type, app.draft.id_number = "KTP", "3213012345678901"
        app.screen("details").open_review()

    def review_problems(app):
        app.reset()
        app.start_registration()
        app.draft.name, app.draft.institution = "Siti Aminah", "Pribadi"
        app.draft.phone, app.draft.purpose = "0812", "Mengantar surat undangan"
        app.draft.host, app.draft.id_type = "Sekretaris", "KTP"
        app.draft.id_number = "32130123"
        screen = app.screen("details")
        screen.open_review()
        screen.confirm()

    def temperature(state, celsius=36.7, problem="temp.unavailable"):
        def setup(app):
            app.reset()
            app.go("temperature")
            screen = app.screen("temperature")
            screen.celsius = celsius
            screen.problem = problem
            screen.state = state
            return 8 if state == "measuring" else None
        return setup

    def temperature_guard(app):
        temperature("unavailable")(app)
        app.screen("temperature").manual()
        dialog = _dialog(app)
        dialog.value = "1234"

    def temperature_guard_value(app):
        temperature("unavailable")(app)
        screen = app.screen("temperature")
        screen.manual()
        screen._logged_in({"token": "demo", "name": "Petugas Simulasi"})
        _dialog(app).value = "36,5"

    def consent(app):
        app.reset()
        app.draft.name = "Siti Aminah"
        app.go("consent")

    def done(status):
        def setup(app):
            app.reset()
            screen = app.screen("done")
            screen.show({"id": 44, "badge": "TAMU-07", "status": status,
                         "pass_payload": "GK1:PASS:44:3f9a0c6d2b7e81f4a5c0"}, party_size=2)
            app.go("done")
            screen._stop()  # keep the pictured status; no polling
        return setup

    def checkout(app):
        app.reset()
        app.start_checkout()
        return 14

    def checkout_confirm(app):
        checkout(app)
        screen = app.screen("checkout")
        screen._confirm("44", "TAMU-07", "Andi W. K.")
        return 14

    def checkout_thanks(app):
        checkout(app)
        screen = app.screen("checkout")
        screen.finished = True
        return 6

    def unreachable(app):
        app.reset()
        app.core_lost(None)

    def rollcall(app):
        app.reset()
        app.client.evacuating = True
        app.poll_rollcall()
        return 10

    def sim(app):
        app.reset()
        panel = app.panel
        panel._show_state({"relays": {"lights": True, "gate_lock": False}, "buzzer": True,
                           "buzzer_pattern": [[0.5, 0.5]], "temperature_c": 36.6,
                           "button_pressed": False,
                           "sms": [{"number": "+6281100000001",
                                    "text": "KEBAKARAN di Kantor KPU Kab. Subang 14.05"}]})
        panel._invitation = INVITATION_CODE
        panel._pass = "GK1:PASS:44:3f9a0c6d2b7e81f4a5c0"
        panel._set_cards(["TAMU-03", "TAMU-05"])
        app.start_scan()
        return 14

    def cancel_question(app):
        details(1, name="Siti Aminah")(app)
        app.ask_cancel()

    def exit_pin(app):
        app.reset()
        app.ask_exit()
        _dialog(app).value = "12"

    return {
        "welcome": welcome, "welcome-en": welcome_en, "scan": scan,
        "scan-camera-lost": scan_camera_lost,
        "details-name": details(0, name="Siti Amin"),
        "details-phone-error": details_error,
        "details-host": details_host, "details-host-search": details_host_search,
        "details-party": details(5, party_size=2),
        "details-id-type": details(6, id_type="KTP"),
        "details-id-number": details(7, id_type="KTP", id_number="321301234567"),
        "review": review, "review-problems": review_problems,
        "temperature": temperature("ready"), "temperature-measuring": temperature("measuring"),
        "temperature-ok": temperature("ok", 36.7), "temperature-high": temperature("high", 38.1),
        "temperature-unavailable": temperature("unavailable"),
        "temperature-guard-pin": temperature_guard,
        "temperature-guard-value": temperature_guard_value,
        "consent": consent, "done": done("awaiting_host"), "done-admitted": done("admitted"),
        "checkout": checkout, "checkout-confirm": checkout_confirm,
        "checkout-thanks": checkout_thanks, "unreachable": unreachable,
        "cancel-question": cancel_question, "exit-pin": exit_pin, "rollcall": rollcall,
        "sim": sim,
        **guard_scenes(),
    }


def guard_scenes() -> dict[str, Callable]:
    from kiosk.ui.guardshots import scenes as found

    return found()


def _dialog(app):
    from kivy.core.window import Window

    from kiosk.ui.widgets import GuardDialog

    return next(c for c in Window.children if isinstance(c, GuardDialog))


def plan(sizes, only=None) -> list[tuple[tuple[int, int], list[str]]]:
    """(size, scenes) in the order taken; Welcome also at 1920x1080."""
    names = [n for n in scenes() if (not only or n in only) and n != "sim"
             and not n.startswith("guard-")]
    guard = [n for n in scenes() if (not only or n in only) and n.startswith("guard-")]
    shots = [(size, names) for size in sizes if names]
    shots += [(size, guard) for size in sizes if guard]
    if (not only or "welcome" in only) and LARGE not in sizes:
        shots.append((LARGE, ["welcome"]))
    if not only or "sim" in only:
        shots.append((SIM, ["sim"]))
    return shots


def _parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        width, _, height = part.strip().lower().partition("x")
        out.append((int(width), int(height)))
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.ui.screenshots",
                                     description="Render every kiosk screen to PNG files.")
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES))
    parser.add_argument("--only", default="", help="comma-separated scene names")
    parser.add_argument("--one-size", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = _parse_sizes(args.sizes)
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(scenes())
    if unknown:
        parser.error(f"unknown scene(s) {', '.join(sorted(unknown))}; "
                     f"known: {', '.join(scenes())}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one_size:
        return _render_here(sizes[0], only or list(scenes()), args.out)
    # One process per size: a window cannot grow past the size it was opened at offscreen,
    # and Kivy opens one window per process.
    env = dict(os.environ)
    env.setdefault("SDL_VIDEODRIVER", "offscreen")
    env.setdefault("KIVY_NO_CONFIG", "1")  # nothing to keep from a throwaway run
    env.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kiosk-kivy-"))
    failed = 0
    for (width, height), names in plan(sizes, only):
        command = [sys.executable, "-m", "kiosk.ui.screenshots", "--one-size",
                   "--out", str(args.out), "--sizes", f"{width}x{height}",
                   "--only", ",".join(names)]
        failed += subprocess.run(command, env=env).returncode != 0
    return 1 if failed else 0


def _render_here(size: tuple[int, int], names: list[str], out: Path) -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kiosk-kivy-"))
    from kiosk.ui import boot

    boot.configure(size=size, fullscreen=False)
    # Only errors: the scenes lose the camera and the core on purpose. (Kivy resets its
    # logger's level on start; a filter stays.)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("kivy").addFilter(lambda record: record.levelno >= logging.ERROR)
    written = _render(names, size, out)
    for path in written:
        print(path)
    return 0 if len(written) == len(names) else 1


def _render(names: list[str], size: tuple[int, int], out: Path) -> list[Path]:
    from kivy.core.window import Window

    from drivers.sim.camera import QRCamera
    from kiosk.config import simulator_defaults
    from kiosk.ui.app import KioskApp
    from kiosk.ui.demo import DemoCore
    from kiosk.ui.scanner import Scanner

    settings = simulator_defaults()
    if names and all(name.startswith("guard-") for name in names):
        return _render_guard(names, size, out, settings)
    camera = QRCamera(INVITATION_CODE)
    scanner = Scanner(camera, decoder_factory=_NoDecoder)
    panel = {}
    if names == ["sim"]:  # the panel's state is set by the scene; nothing answers it
        from kiosk.ui import SIM_PANEL_WIDTH
        from kiosk.ui.simpanel import panel_factory

        panel = {"panel": panel_factory(core_url="http://127.0.0.1:9", camera=camera,
                                        guard_pin=""), "panel_width": SIM_PANEL_WIDTH}
    app = KioskApp(settings, client=DemoCore(), scanner=scanner, now=lambda: MOMENT,
                   health_seconds=3600, **panel)
    setups = scenes()
    written: list[Path] = []

    def steps() -> Iterator[int]:
        yield SETTLE_FRAMES
        for name in names:
            camera.recover()
            app.core_ok = True
            app.client.evacuating = False
            wait = setups[name](app)
            app.last_touch = float("inf")  # no inactivity reset mid-shot
            yield wait or SETTLE_FRAMES
            target = out / f"{name}-{size[0]}x{size[1]}.png"
            taken = Path(Window.screenshot(name=str(out / f".{name}.png")))
            taken.replace(target)
            written.append(target)
            app.close_dialogs()
            yield 1

    _run_script(app, steps())
    scanner.close()
    camera.close()
    return written


def _render_guard(names: list[str], size: tuple[int, int], out: Path, settings) -> list[Path]:
    """The guard's panel against a real core (simulated hardware, clock frozen at MOMENT)."""
    import socket
    import threading
    import time

    import uvicorn
    from kivy.core.window import Window

    from kiosk.core.api import create_app
    from kiosk.core.service import SIM_GUARDS, build_core, ensure_guards
    from kiosk.ui.app import KioskApp
    from kiosk.ui.client import CoreClient

    data = Path(tempfile.mkdtemp(prefix="kiosk-shots-core-"))
    core = build_core(settings, data_dir=data, simulate=True, start=MOMENT, speed=0)
    core.start()
    ensure_guards(core, simulate=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(create_app(core), log_level="warning",
                                           lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    client = CoreClient(f"http://127.0.0.1:{sock.getsockname()[1]}")
    app = KioskApp(settings, client=client, now=lambda: MOMENT, health_seconds=3600)
    setups = scenes()
    written: list[Path] = []
    pin = SIM_GUARDS[0][1]

    def steps() -> Iterator[int]:
        yield SETTLE_FRAMES
        for name in names:
            app.reset()
            app.guard = client.login(pin)
            wait = setups[name](app, core)
            app.last_touch = float("inf")
            yield wait or SETTLE_FRAMES * 2
            target = out / f"{name}-{size[0]}x{size[1]}.png"
            Path(Window.screenshot(name=str(out / f".{name}.png"))).replace(target)
            written.append(target)
            app.close_dialogs()
            yield 1

    try:
        _run_script(app, steps())
    finally:
        server.should_exit = True
        client.close()
        core.stop()
        shutil.rmtree(data, ignore_errors=True)
    return written


def _run_script(app, script: Iterator[int]) -> None:
    """Run the app, advancing ``script`` (frames to wait) each frame; stop at its end."""
    from kivy.clock import Clock

    waiting = [0]

    def tick(_dt):
        if waiting[0] > 0:
            waiting[0] -= 1
            return None
        try:
            waiting[0] = next(script)
        except StopIteration:
            app.stop()
            return False
        return None

    Clock.schedule_interval(tick, 0)
    app.run()


if __name__ == "__main__":
    sys.exit(main())
