"""A tiny client for systemd's notification protocol (sd_notify), with no dependency.

kiosk-core.service is ``Type=notify`` with ``WatchdogSec=``: systemd starts the core, waits
for ``READY=1`` before it counts as started, and kills and restarts it when ``WATCHDOG=1``
stops arriving. The core sends the pings from the loop that reconciles the relays, so a hung
loop (not merely a live process) is what gets restarted.

Outside systemd (a developer's terminal, the tests, ``kiosk sim``) ``$NOTIFY_SOCKET`` is unset
and every call here is a cheap no-op that returns False. A notification never raises: losing
a status line must not take the post down.

The protocol: one datagram of newline-separated ``KEY=value`` assignments to the AF_UNIX
socket named in ``$NOTIFY_SOCKET``, either a path or, when it starts with ``@``, a name in
the abstract namespace. See sd_notify(3).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _address(value: str) -> str | None:
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    # vsock: addresses (VMs) and anything else are not used on a Pi.
    return None


def notify(message: str) -> bool:
    """Send ``message`` (``KEY=value`` lines) to systemd.

    Returns:
        True if the datagram was sent, False when not running under systemd
        (``$NOTIFY_SOCKET`` unset or unusable) or the send failed.
    """
    value = os.environ.get("NOTIFY_SOCKET", "")
    address = _address(value)
    if address is None:
        if value:
            log.debug("NOTIFY_SOCKET=%r is not a unix socket address; ignored", value)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError as exc:
        log.debug("sd_notify to %s failed: %s", value, exc)
        return False
    return True


def _one_line(text: str) -> str:
    # A newline would start a new assignment: systemd would read the rest as another key.
    return " ".join(text.split())


def ready(status: str | None = None) -> bool:
    """Tell systemd that start-up is finished (``READY=1``), with an optional status line."""
    message = "READY=1"
    if status:
        message += f"\nSTATUS={_one_line(status)}"
    return notify(message)


def watchdog() -> bool:
    """Feed the service watchdog (``WATCHDOG=1``); call at :func:`watchdog_interval`."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """Set the one-line status ``systemctl status kiosk-core`` shows."""
    return notify(f"STATUS={_one_line(text)}")


def stopping() -> bool:
    """Tell systemd the core is shutting down on purpose (``STOPPING=1``)."""
    return notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """How often to call :func:`watchdog`, in seconds; None when no watchdog is expected.

    systemd sets ``$WATCHDOG_USEC`` (the unit's WatchdogSec=) and ``$WATCHDOG_PID`` (the
    process it is meant for). The recommended ping interval is half the timeout, so one late
    ping is not yet a restart. A child process that inherited the variables gets None.
    """
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000 / 2
