"""A QR scanner module on the far end of a pty, sending codes the way a GM65 does."""

from __future__ import annotations

import time

from drivers.sim.pty import PtyPeer


class SimulatedScanner(PtyPeer):
    """Sends scanned codes as text lines; open :attr:`port` with the real driver.

    Args:
        chunk_size: If set, send this many bytes at a time with ``pause`` seconds between
            chunks, as a slow UART or a USB scanner's small packets do, so the driver sees a
            code split over several reads. Sending then blocks for that long.
        pause: Seconds between chunks.
    """

    def __init__(self, *, chunk_size: int | None = None, pause: float = 0.005) -> None:
        super().__init__()
        self.chunk_size = chunk_size
        self.pause = pause

    def scan(self, code: str, ending: str = "\r\n") -> None:
        """Send ``code`` as a scan: its UTF-8 bytes, then ``ending`` (CR, LF or CRLF)."""
        self.send_raw(code.encode("utf-8") + ending.encode("ascii"))

    def send_raw(self, data: bytes) -> None:
        """Send arbitrary bytes, such as line noise or a stuck scanner's output."""
        step = self.chunk_size or len(data) or 1
        for start in range(0, len(data), step):
            if start:
                time.sleep(self.pause)
            self.write(data[start : start + step])
