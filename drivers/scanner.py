"""QR scanner module on a serial line: one invitation code per line.

Typical hardware is a GM65 / GM861-class scan engine (Hangzhou Grow GM65-S user manual) in
UART "serial output" mode, factory default 9600 8N1, wired as 3.3 V TTL to the Pi's UART:
scanner TX to GPIO15/RXD, scanner RX to GPIO14/TXD, GND to GND, port ``/dev/serial0`` (a 5 V
TTL scanner needs a level shifter). Or the same engine, or a boxed scanner, in USB-CDC
("virtual serial port") mode, seen as ``/dev/ttyACM0``. Either way the module decodes the QR
itself and sends the payload as text followed by its configured end mark: CR, LF or CRLF
(make sure one is enabled). A line is the only framing the protocol has, so the driver reads
lines and accepts all three endings.

The line is noisy in practice: a wrong baud rate or a loose ground yields NULs and invalid
UTF-8, and a scanner stuck in continuous mode can send without ever ending a line. The driver
drops such bytes with one warning per code and bounds every line to ``max_length`` bytes, so
the kiosk never crashes or grows memory because of what arrives on the wire.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import time
import unicodedata
from typing import Any

import serial

from drivers.errors import DeviceError

log = logging.getLogger(__name__)

READ_CHUNK = 4096  # most bytes taken per read: at least one UART FIFO's or USB packet's worth


class ScannerError(DeviceError):
    """The QR scanner's port is missing, not accessible, or went away while reading."""


def _open_hint(exc: OSError) -> str:
    if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):  # another holder of the exclusive lock
        return "is in use by another program (is kiosk-core running? stop it first)"
    if exc.errno == errno.ENOENT:
        return "not found: check its USB cable, or the scanner port in the config"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: add the kiosk user to the dialout group"
    return f"cannot be opened ({exc}): check its cable and the scanner port in the config"


def _find_end(data: bytes | bytearray) -> int:
    """Index of the first CR or LF in ``data``, or -1."""
    ends = [i for i in (data.find(b"\r"), data.find(b"\n")) if i >= 0]
    return min(ends, default=-1)


def _clean(raw: bytes) -> tuple[str, int]:
    """Decode a line, dropping what cannot be text; return it and how many characters went.

    Invalid UTF-8 becomes lone surrogates (``surrogateescape``) so that it can be told apart
    from a genuine U+FFFD in the payload; those and control characters except TAB go.
    """
    text = raw.decode("utf-8", errors="surrogateescape")
    kept = "".join(c for c in text if c == "\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    return kept.strip(), len(text) - len(kept)


class SerialScanner:
    """Reads QR codes, one per line, from a serial QR scanner module.

    Args:
        port: An open pyserial-like port (left open by :meth:`close`, its owner closes it),
            or a device name or pyserial URL (``/dev/serial0``, ``loop://``) that is opened
            here and closed by :meth:`close`. The scanner sets the port's ``timeout``. A
            device is opened exclusively: two readers of one port would each get some codes.
        baudrate: Used only when opening ``port``; 9600 is the modules' factory setting.
        max_length: Longest line accepted, in bytes. QR payloads we issue are far shorter,
            so anything longer is noise or a stuck scanner and is discarded.

    Raises:
        ScannerError: The port cannot be opened, or another program has it open.
    """

    def __init__(self, port: Any, baudrate: int = 9600, *, max_length: int = 1024) -> None:
        self._max_length = max_length
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line: drop until the next terminator
        if isinstance(port, str | os.PathLike):
            port = self._name = os.fspath(port)
            exclusive = {} if "://" in port else {"exclusive": True}  # a device, not a URL
            try:
                self._port = serial.serial_for_url(port, baudrate, timeout=0, **exclusive)
            except ValueError as exc:  # unknown URL scheme, bad baud rate
                msg = f"QR scanner port {port!r} is invalid ({exc}): fix the config"
                raise ScannerError(msg) from exc
            except OSError as exc:  # serial.SerialException is an OSError
                raise ScannerError(f"QR scanner port {port} {_open_hint(exc)}") from exc
            self._owned = True
        else:
            self._port, self._name, self._owned = port, getattr(port, "name", repr(port)), False

    def read_code(self, timeout: float) -> str | None:
        """Return the next code, or None if no complete code arrived within ``timeout`` seconds.

        The timeout covers the whole call, however the bytes trickle in. Bytes of an
        unfinished line stay buffered for the next call, so polling with short timeouts
        never loses part of a code. There is no "wait forever": a reader blocked with no
        timeout could not be stopped, so the kiosk's shutdown would hang until it is killed.

        Raises:
            ValueError: ``timeout`` is None or not a finite number of seconds.
            ScannerError: The port failed while reading (scanner unplugged).
        """
        if not isinstance(timeout, int | float) or not math.isfinite(timeout):
            raise ValueError(f"timeout must be a number of seconds, not {timeout!r}: poll "
                             "with a short timeout in a loop to wait for a code")
        deadline = time.monotonic() + timeout
        while (code := self._take_line()) is None:
            remaining = deadline - time.monotonic()
            self._feed(self._read(max(remaining, 0.0)))
            if remaining <= 0:  # out of time: what was already waiting has been read
                return self._take_line()
        return code

    def _read(self, wait: float) -> bytes:
        try:
            self._port.timeout = wait
            return self._port.read(min(max(self._port.in_waiting, 1), READ_CHUNK))
        except OSError as exc:  # serial.SerialException is an OSError
            raise ScannerError(f"QR scanner on {self._name} is gone: check its USB cable") from exc

    def _feed(self, data: bytes) -> None:
        """Buffer ``data``; while discarding a line, keep only what follows its terminator."""
        if self._discarding:
            end = _find_end(data)
            if end < 0:
                return
            self._discarding, data = False, data[end:]
        self._buffer += data

    def _take_line(self) -> str | None:
        """Pop complete lines off the buffer until one holds a code."""
        while True:
            end = _find_end(self._buffer)
            if end < 0:
                if len(self._buffer) > self._max_length:
                    log.warning("QR scanner line over %d bytes: discarded", self._max_length)
                    self._buffer.clear()
                    self._discarding = True
                return None
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if len(raw) > self._max_length:
                log.warning("QR scanner line over %d bytes: discarded", self._max_length)
                continue
            code, dropped = _clean(raw)
            if dropped:
                log.warning("QR scanner noise: dropped %d non-text characters", dropped)
            if code:
                return code

    def close(self) -> None:
        """Close the port if this scanner opened it."""
        if self._owned:
            self._port.close()

    def __enter__(self) -> SerialScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
