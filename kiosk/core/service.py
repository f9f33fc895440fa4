"""``kiosk core``: build the core from the config and serve its API until told to stop.

Start order: store, clock, hardware (relays driven straight to their scheduled state), the
loop, then the API; systemd hears READY=1 only when the API answers. Stop order is the
reverse. The API listens on 127.0.0.1 or a unix socket (0660, group kiosk) unless the config
explicitly allows the network.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from pathlib import Path

import uvicorn

from drivers import hardware
from kiosk.clock import SimulatedClock, SystemClock, Trust
from kiosk.config.post import ApiSettings
from kiosk.core import sdnotify
from kiosk.core.api import create_app
from kiosk.core.daemon import Core
from kiosk.store import Store
from kiosk.store.db import SchemaTooNew

log = logging.getLogger(__name__)

GUARDS_LOST = "guards.lost_with"  # meta: the damaged database the PINs went with
SIM_GUARDS = (("Petugas Simulasi", "1234", "guard"), ("Admin Simulasi", "9876", "admin"))


class StartError(Exception):
    """The core cannot start; the message says what to do. Exit code 2."""


def build_core(settings, *, data_dir: Path, simulate: bool, start=None, speed: float = 1.0):
    """A :class:`Core` wired from the config; ``start`` runs it on a simulated clock."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.site.timezone)
    clock = SimulatedClock(start, speed=speed, tz=tz) if start else SystemClock(tz)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    store = Store(data_dir / "kiosk.db", now=clock.now,
                  key_file=settings.security.key_path(data_dir))

    def build_hardware(initial):
        return hardware.build(settings, simulate=simulate, initial_states=initial)

    # A simulated clock is set on purpose for a demo or a test: trust it.
    trust = (lambda now: Trust(True, "simulated clock")) if start else None
    return Core(settings, store=store, clock=clock, build_hardware=build_hardware, trust=trust)


def ensure_guards(core: Core, *, simulate: bool) -> None:
    """Refuse a real install without a guard, except after a damaged database was set aside.

    That database took the PINs with it, but the lights, the gate, the alarms and the panic
    button must go on: the core runs, on that start and every later one (``meta`` remembers,
    as the next start sees a healthy database), and an alert says what the admin must do.
    """
    if core.guards.any():
        return
    if simulate:
        for name, pin, role in SIM_GUARDS:
            core.guards.add(name, pin, role)
        return
    with core.store.transaction() as conn:
        lost = conn.execute("SELECT value FROM meta WHERE key = ?", (GUARDS_LOST,)).fetchone()
        if core.status.database_recovered_from and lost is None:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)",
                         (GUARDS_LOST, core.status.database_recovered_from))
            lost = True
    if lost:
        message = ("no guard PIN in the new database (the damaged one was set aside): "
                   "run 'kiosk guard add NAME --admin' to log in again")
        log.error(message)
        with core.store.transaction() as conn:
            core.alerts.add(conn, "no_guards", "Belum ada PIN petugas: database baru "
                                               "setelah kerusakan. Admin menjalankan "
                                               "'kiosk guard add'.", once=True)
        return
    raise StartError("no guard PIN is set: run 'kiosk guard add NAME' first")


def serve(settings, *, data_dir: Path, simulate: bool, listen: str | None = None,
          start=None, speed: float = 1.0) -> int:
    api = ApiSettings(listen=listen or settings.api.listen,
                      allow_network=settings.api.allow_network)
    core = build_core(settings, data_dir=data_dir, simulate=simulate, start=start, speed=speed)
    try:
        core.start()
    except SchemaTooNew as exc:  # exit 2: systemd restarting it would never help
        raise StartError(str(exc)) from None
    try:
        ensure_guards(core, simulate=simulate)
        app = create_app(core)
        if api.listen.startswith("unix:"):
            listener = _unix_listener(Path(api.listen[5:]))
            config = uvicorn.Config(app, fd=listener.fileno(), log_level="warning")
        else:
            host, _, port = api.listen.rpartition(":")
            config = uvicorn.Config(app, host=host.strip("[]"), port=int(port),
                                    log_level="warning")
        server = uvicorn.Server(config)
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; with the default
        # handlers that would kill the process before the core stops (buzzer off, store
        # closed). These handlers make the re-raise a plain request to exit.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: setattr(server, "should_exit", True))
        threading.Thread(target=_announce, args=(server, core, api.listen), daemon=True,
                         name="core-ready").start()
        server.run()
        return 0 if server.started else 1
    finally:
        sdnotify.stopping()
        core.stop()


def _unix_listener(path: Path) -> socket.socket:
    """A unix socket, 0660 from the moment it exists: the kiosk group (the UI) may connect.

    Bound here rather than by uvicorn, which makes its sockets 0666.
    """
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(64)
    return listener


def _announce(server: uvicorn.Server, core: Core, listen: str) -> None:
    while not server.started and not server.should_exit:
        threading.Event().wait(0.05)
    if server.started:
        mode = "simulated hardware" if core.hw.sim else "hardware"
        message = f"core ready on {listen} ({mode}, clock {core.clock.now():%Y-%m-%d %H:%M})"
        print(message, flush=True)
        sdnotify.ready(message)
