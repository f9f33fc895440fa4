"""``kiosk sim``: the kiosk on simulated hardware, for a demo or a developer's machine.

First it builds the same driver objects the core uses, on simulated buses, and drives each
one through its far side the way a person would (a guest's forehead in front of the
thermometer, a code on the scanner, three presses of the panic button, an SMS through the
modem), so a broken install shows at once. Then it runs the core on simulated hardware with
its API on 127.0.0.1, in a data directory of its own so it never mixes with a real post's.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from drivers import hardware, qr
from drivers.buzzer import BuzzerPattern
from drivers.sim.camera import QRCamera


def run(settings: Any, *, data_dir: Path, once: bool = False, config_path: Path | None = None,
        out=print) -> int:
    """Exercise every simulated device; unless ``once``, then run the core (and the UI).

    With a display, the core runs as a child process and the touchscreen in a window here
    (Kivy wants the main thread, and so does the core's server); without one, the core alone.
    """
    hw = hardware.build(settings, simulate=True)
    try:
        out(f"{settings.site.name}: simulated hardware")
        for name, problem in hw.problems.items():
            out(f"  {name}: {problem}")
        _demo(settings, hw, out)
    finally:
        hw.close()
    if once:
        return 0 if not hw.problems else 1
    from kiosk.core.service import SIM_GUARDS, serve

    listen = settings.api.listen if not settings.api.listen.startswith("unix:") else (
        "127.0.0.1:8470")
    guards = ", ".join(f"{name} PIN {pin}" for name, pin, _ in SIM_GUARDS)
    out(f"starting the core: API on http://{listen}/docs ({guards}); Ctrl-C to stop")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        out("no display: running the core only (start the touchscreen with 'kiosk ui')")
        return serve(settings, data_dir=data_dir / "sim", simulate=True, listen=listen)
    return _core_and_ui(settings, data_dir=data_dir / "sim", listen=listen,
                        config_path=config_path, out=out)


def _core_and_ui(settings: Any, *, data_dir: Path, listen: str, config_path: Path | None,
                 out) -> int:
    import subprocess
    import sys

    import httpx

    command = [sys.executable, "-m", "kiosk.cli"]
    if config_path:
        command += ["--config", str(config_path)]
    command += ["--data-dir", str(data_dir), "core", "--simulate", "--listen", listen]
    core = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and core.poll() is None:
            try:
                httpx.get(f"http://{listen}/api/v1/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        if core.poll() is not None:
            out("the core did not start: see the lines above")
            return core.returncode or 1
        from kiosk import ui

        windowed = settings.model_copy(
            update={"ui": settings.ui.model_copy(update={"fullscreen": False})})
        cam = settings.camera
        with QRCamera(None, width=cam.width, height=cam.height) as camera:
            ui.run(windowed, core_url=f"http://{listen}", camera=camera, sim_panel=True)
            return 0  # closing the window with the guard's PIN is how a demo ends
    finally:
        core.terminate()
        try:
            core.wait(10)
        except subprocess.TimeoutExpired:
            core.kill()


def _demo(settings: Any, hw: hardware.Hardware, out) -> None:
    sim = hw.sim
    for name, relay in hw.relays.items():
        relay.on()
        out(f"  relay {name} ({relay.pin.info.name}): switched on -> "
            f"{'on' if relay.is_active else 'off'}")
        relay.off()
    if hw.buzzer is not None:
        hw.buzzer.play(BuzzerPattern(steps=((0.05, 0.05),), repeat=3))
        time.sleep(0.4)
        out(f"  buzzer: played 3 beeps, now {'sounding' if hw.buzzer.is_playing else 'silent'}")
    if hw.panic_button is not None:
        pin = settings.panic_button.pin
        counted = threading.Event()
        gestures: list[int] = []
        hw.panic_button.when_presses = lambda n: (gestures.append(n), counted.set())
        for _ in range(3):
            sim.press_button(pin)
            time.sleep(0.05)
            sim.release_button(pin)
            time.sleep(0.05)
        counted.wait(settings.panic_button.press_window_seconds + 1)
        out(f"  panic button: pressed 3 times -> reported {gestures or 'nothing'}")
    if hw.thermometer is not None:
        sim.thermometer_bus.object_c = 36.7
        out(f"  thermometer: guest at 36.7 °C reads {hw.thermometer.object_c():.1f} °C")
    with QRCamera("INV-2026-000123") as camera:
        out(f"  camera + QR: decoded {qr.decode(camera.read(timeout=2))}")
    if hw.scanner is not None:
        sim.scanner.scan("PASS-7F3A9C")
        out(f"  serial scanner: read {hw.scanner.read_code(timeout=2)!r}")
    if hw.modem is not None:
        reference = hw.modem.send_sms("+6281234567890", "Tes alarm pos jaga")
        out(f"  modem: SMS sent, reference {reference}; the modem got {sim.modem.sent[-1]}")
