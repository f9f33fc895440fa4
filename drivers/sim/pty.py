"""The far end of a serial line, played by a thread on a pseudo-terminal.

The driver under test opens :attr:`PtyPeer.port` like any serial device, so pyserial's real
code (open, flush on open, timeouts, partial reads) runs. Raw mode matters: without it the
pty's line discipline would echo and translate bytes, which no real device does.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyPeer:
    """A pty pair whose master side is read and written by a device simulation.

    Subclasses override :meth:`on_bytes`, called on the peer's thread with whatever the
    driver wrote. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.port = os.ttyname(self._slave)
        self._closed = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"pty-peer {self.port}", daemon=True)
        self._thread.start()

    def on_bytes(self, data: bytes) -> None:
        """Handle bytes the driver sent; the default device ignores them."""

    def write(self, data: bytes) -> None:
        """Send bytes to the driver, as the device would."""
        with self._write_lock:
            view = memoryview(data)
            while view:
                written = os.write(self._master, view)
                view = view[written:]

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self._master, 4096)
            except OSError:
                return
            if data:
                self.on_bytes(data)

    def close(self) -> None:
        """Stop the peer and release both ends of the pty."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(timeout=1)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtyPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
