"""Decode invitation QR codes from camera frames, in process or in a crash-proof worker.

Decoder: zxing-cpp restricted to ``BarcodeFormat.QRCode`` (all formats: ~10x slower), on one
grayscale copy. ``bench/qr_decoders.py`` ran each candidate on the same 800 seeded 640x480
frames (modules of 2-10 px, rotation, perspective, blur, noise, JPEG, low contrast, glare, dark
mode phone screens; 160 without a code; table in docs/PERFORMANCE.md). Of 640 codes zxing-cpp
read 578 at 1.8 ms median, pyzbar (zbar) 340 at 13.3 ms and none of 89 in dark mode, OpenCV's
QRCodeDetector 379 at 21.9 ms, QRCodeDetectorAruco 412 at 18.1 ms; none read a wrong payload
or anything on a frame without a code. pyzbar is the fallback when zxing-cpp cannot be
imported, not after a miss (:data:`FALLBACK_ON_MISS`): it read 4 of zxing-cpp's 62 misses but
would add 12.5 ms to every frame without a code, the usual frame at a gate (zxing-cpp: 1.6 ms),
and a guest holding up a code gives the camera many more frames to read it from.

Texts: bytes are decoded as UTF-8, else Latin-1, so nothing raises and no byte is lost
(``text.encode("latin-1")`` gives them back); zbar transcodes non-UTF-8 data itself by guessing,
so such payloads can differ between decoders. Payloads are untrusted: they may be huge, hold
control characters or be junk. Validating them (length, alphabet, signature) is the caller's job.

The abort problem: zbar ends the whole process with ``abort()`` on some inputs (assertion
``next > syms->datalen`` in qrdectxt.c, pyzbar issues #142 and #158); no ``try`` catches that.
:class:`QRWorker` runs :func:`decode` in a long-lived child process; if the child dies or hangs,
that frame yields ``[]``, a warning names the signal, and a new child takes over. It costs
0.9 ms per frame (median) over calling :func:`decode` in process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

import cv2
import numpy as np

from drivers.errors import DeviceError

try:
    import zxingcpp
except ImportError:  # pragma: no cover - depends on the installed wheels
    zxingcpp = None
try:
    from pyzbar import pyzbar
except ImportError:  # pragma: no cover - raised as well when libzbar0 is missing
    pyzbar = None

log = logging.getLogger(__name__)

#: Run zbar when zxing-cpp finds nothing. Off: the bench shows it costs more than it saves.
FALLBACK_ON_MISS = False


def decode(image: np.ndarray) -> list[str]:
    """Return the texts of the QR codes in a frame, distinct, in the order found.

    Args:
        image: A BGR (HxWx3) or grayscale (HxW) ``uint8`` array, as OpenCV delivers frames.

    Returns:
        The decoded texts; ``[]`` when the frame holds no readable code, the usual case.

    Raises:
        ValueError: The image is not a BGR or grayscale ``uint8`` array.
        DeviceError: Neither zxing-cpp nor pyzbar can be imported.
    """
    gray = _to_gray(image)
    if zxingcpp is None and pyzbar is None:
        raise DeviceError("No QR decoder available: install zxing-cpp (or pyzbar and libzbar0).")
    found = _read_zxing(gray) if zxingcpp is not None else []
    if not found and pyzbar is not None and (zxingcpp is None or FALLBACK_ON_MISS):
        found = _read_zbar(gray)
    return list(dict.fromkeys(found))


def backends() -> list[str]:
    """The decoders that can run here, with versions, primary first (for ``kiosk doctor``)."""
    from importlib.metadata import PackageNotFoundError, version

    names = []
    for module, package in ((zxingcpp, "zxing-cpp"), (pyzbar, "pyzbar")):
        if module is not None:
            try:
                names.append(f"{package} {version(package)}")
            except PackageNotFoundError:
                names.append(package)
    return names


def _to_gray(image: Any) -> np.ndarray:
    """Check the frame and convert it to contiguous grayscale, once for every decoder."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"QR decode needs a numpy array, got {type(image).__name__}.")
    if image.dtype != np.uint8:
        raise ValueError(f"QR decode needs a uint8 image, got dtype {image.dtype}.")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim != 2:
        raise ValueError(f"QR decode needs an HxW or HxWx3 (BGR) image, got shape {image.shape}.")
    if image.size == 0:
        raise ValueError(f"QR decode needs a non-empty image, got shape {image.shape}.")
    return np.ascontiguousarray(image)


def _text(data: bytes) -> str:
    """Decode payload bytes as UTF-8, else Latin-1, which maps every byte to a character."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_zxing(gray: np.ndarray) -> list[str]:
    """Read with zxing-cpp; the raw bytes, since its text form escapes control characters."""
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    return [_text(code.bytes) for code in found]


def _read_zbar(gray: np.ndarray) -> list[str]:
    """Read with zbar, QR only: its other symbologies are slower and noisier."""
    found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [_text(code.data) for code in found]


def _serve(conn: Connection, crash_on: str | None, hang_on: str | None) -> None:
    """Child loop: decode each frame received, until the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent to handle.
    while True:
        try:
            gray = conn.recv()
        except (EOFError, OSError):
            return
        texts = decode(gray)
        if crash_on is not None and crash_on in texts:  # Test hook: a real abort().
            os.abort()
        if hang_on is not None and hang_on in texts:  # Test hook: a decoder that never ends.
            threading.Event().wait()
        conn.send(texts)


class QRWorker:
    """Runs :func:`decode` in a child process so a crashing decoder cannot take the kiosk down.

    The child is forked from multiprocessing's fork server, which has this module preloaded:
    the first start costs about half a second, a restart ~10 ms, and the UI's threads are never
    forked. Frames go to the child as grayscale, a third of the bytes of BGR. Not meant for
    concurrent use; calls from several threads are serialised.

    Args:
        _crash_on: Test only: the child calls ``os.abort()`` after decoding this text.
        _hang_on: Test only: the child never answers after decoding this text.
    """

    def __init__(self, *, _crash_on: str | None = None, _hang_on: str | None = None) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        # Global, and only heeded before the fork server starts; it then holds numpy, cv2
        # and the decoders, so each (re)started child is ready at once.
        self._ctx.set_forkserver_preload([__name__])
        self._hooks = (_crash_on, _hang_on)
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._start()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, *self._hooks), daemon=True)
        self._proc.start()
        child.close()  # So the parent sees EOF when the child dies.
        self._conn = parent

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(0.5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()

    def _restart(self, why: str) -> None:
        self._stop()
        code = self._proc.exitcode
        how = signal.Signals(-code).name if code is not None and code < 0 else f"exit code {code}"
        log.warning("QR decoder child %s (%s); frame dropped, child restarted.", why, how)
        self._start()

    def decode(self, image: np.ndarray, timeout: float = 2.0) -> list[str]:
        """Decode a frame in the child; ``[]`` if the child crashes or takes too long.

        Args:
            image: A BGR (HxWx3) or grayscale (HxW) ``uint8`` array.
            timeout: Seconds to wait for the child before killing and restarting it.

        Returns:
            The texts :func:`drivers.qr.decode` returns for the frame, or ``[]``.

        Raises:
            ValueError: The image is not a BGR or grayscale ``uint8`` array (checked here, so
                bad input never costs a child), or the worker is closed.
        """
        gray = _to_gray(image)
        with self._lock:
            if self._conn is None:
                raise ValueError("QRWorker is closed.")
            try:
                self._conn.send(gray)
                if self._conn.poll(timeout):
                    return self._conn.recv()
            except (EOFError, OSError):
                self._proc.join(1.0)  # Died: reap it so its exit signal is known.
                self._restart("died")
                return []
            self._proc.kill()
            self._proc.join()
            self._restart(f"took longer than {timeout} s")
            return []

    def close(self) -> None:
        """Stop the child; closing the pipe lets it exit by itself."""
        with self._lock:
            self._stop()

    def __enter__(self) -> QRWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
