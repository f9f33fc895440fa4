"""The guest touchscreen (Kivy): a client of the core's local API that owns the camera.

``kiosk ui`` calls :func:`run`. Nothing here is imported until then: importing Kivy opens
a window, and the rest of the kiosk (core, CLI, tests) must never do that by accident.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

DEFAULT_CORE_URL = "http://127.0.0.1:8470"
# The exit status of a guard closing the kiosk with a PIN: kiosk-ui.service lists it in
# RestartPreventExitStatus, so the screen stays closed (for maintenance) instead of coming
# back three seconds later; a crash still restarts it.
CLOSED_BY_GUARD = 10
# The simulator's hardware panel beside the kiosk, in px at the 800x480 design size. Here,
# not in kiosk.ui.simpanel: the window's size is needed before Kivy may be imported.
SIM_PANEL_WIDTH = 300


def core_url_for(settings: Any) -> str:
    """Where the UI finds the core: ``ui.core_url``, or where ``api.listen`` says the core is.

    ``ui.core_url`` left at its default follows ``api.listen``, so a post whose core listens
    on ``unix:/run/kiosk/core.sock`` needs no second setting; any other value wins.
    """
    ui = settings.ui
    if ui.core_url != DEFAULT_CORE_URL:
        return ui.core_url
    listen = settings.api.listen
    return listen if listen.startswith("unix:") else f"http://{listen}"


def open_camera(settings: Any):
    """The configured camera, opened lazily by the scanner; ``None`` when disabled.

    With ``hardware.simulate`` it is a :class:`drivers.sim.camera.QRCamera` showing an
    empty scene (``kiosk sim`` passes its own, whose cards it can change).
    """
    if not settings.camera.enabled:
        return None
    cam = settings.camera
    if settings.hardware.simulate:
        def opener():
            from drivers.sim.camera import QRCamera

            return QRCamera(None, width=cam.width, height=cam.height)
    else:
        def opener():
            from drivers.camera import Camera

            return Camera(cam.device, width=cam.width, height=cam.height)
    return opener


def poll_serial_scanner(client: Any, scanner: Any, stop: threading.Event,
                        every: float = 0.5) -> None:
    """Hand codes from the core's serial scanner to the UI, as if the camera had read them.

    The core owns the serial port; codes read before the UI started are skipped, so a code
    scanned while the screen was restarting does not act on the next guest.
    """
    seq = None
    while not stop.wait(every if seq is not None else 0):
        try:
            codes = client.scanned_codes(after=seq or 0)
        except Exception:  # core restarting: the unreachable screen tells the guest
            continue
        if seq is None:
            seq = max((c["seq"] for c in codes), default=0)
            continue
        for code in codes:
            seq = max(seq, code["seq"])
            scanner.feed(code["code"], "serial")


def run(settings: Any, *, camera: Any = None, core_url: str | None = None,
        sim_panel: bool = False) -> int:
    """Run the touchscreen until a guard closes it with a PIN or SIGTERM stops it.

    Returns the exit status: :data:`CLOSED_BY_GUARD` after the guard's PIN (systemd
    leaves the screen closed then), 0 when stopped by a signal.

    Args:
        settings: The kiosk's settings (``kiosk.config.Settings``).
        camera: An opened camera to use (``read(timeout)``, ``status``, ``close()``; e.g. a
            ``QRCamera`` from ``kiosk sim``); the caller keeps owning it. ``None`` opens the
            configured one.
        core_url: ``http://HOST:PORT`` or ``unix:/path``; ``None`` uses :func:`core_url_for`.
        sim_panel: Show the simulator's hardware panel beside the kiosk (``kiosk sim``; the
            core must run on simulated hardware and ``camera`` be a simulated one).
    """
    from kiosk.ui import boot

    ui = settings.ui
    size = boot.parse_size(ui.window)
    if sim_panel:  # the kiosk keeps its configured size; the panel is added beside it
        scale = min(size[0] / 800, size[1] / 480)
        size = (size[0] + round(SIM_PANEL_WIDTH * scale), size[1])
    boot.configure(size=size, fullscreen=ui.fullscreen)

    from kiosk.ui.app import KioskApp
    from kiosk.ui.client import CoreClient
    from kiosk.ui.scanner import Scanner

    url = core_url or core_url_for(settings)
    client = CoreClient(url)
    source = camera if camera is not None else open_camera(settings)
    scanner = Scanner(source, close_camera=camera is None)
    panel = {}
    if sim_panel:
        from kiosk.core.service import SIM_GUARDS
        from kiosk.ui.simpanel import panel_factory

        panel = {"panel": panel_factory(core_url=url, camera=camera,
                                        guard_pin=SIM_GUARDS[0][1]),
                 "panel_width": SIM_PANEL_WIDTH}
    app = KioskApp(settings, client=client, scanner=scanner, **panel)
    stop_polling = threading.Event()
    threading.Thread(target=poll_serial_scanner, args=(client, scanner, stop_polling),
                     name="ui-serial-scanner", daemon=True).start()
    # systemd stops the UI with SIGTERM: leave the loop properly, so the camera is released
    # and the QR decoder's process ends, instead of dying mid-frame.
    previous = signal.signal(signal.SIGTERM, lambda *_: app.stop_from_signal())
    try:
        app.run()
    finally:
        stop_polling.set()
        signal.signal(signal.SIGTERM, previous)
        scanner.close()
        client.close()
    return app.exit_code
