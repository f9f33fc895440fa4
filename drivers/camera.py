"""The kiosk camera: a USB UVC webcam or a Raspberry Pi CSI module, read through OpenCV.

USB cameras are UVC devices the kernel exposes as ``/dev/videoN`` (V4L2). CSI modules are driven
by libcamera on current Raspberry Pi OS; OpenCV reaches them through libcamera's V4L2
compatibility layer (start the UI under ``libcamerify``). Either way the source is an index
(``0`` = ``/dev/video0``) or a device path; a video file also works, which is how tests run.

We depend on ``opencv-python-headless`` only: Kivy owns the display, and the GUI build of
OpenCV (Qt/GTK) fights it and shares the same ``cv2`` package, so installing both breaks one.

Why a grabber thread: OpenCV keeps answering ``read() -> True`` after a USB camera is unplugged
(handing back the last frame again), and ``read()`` can block forever inside the driver. So
one daemon thread per opened capture does nothing but read, and a watchdog thread checks that
frames keep arriving (*stale*) and keep changing (*frozen*). Identical frames alone prove
nothing: a healthy camera with noise reduction sends them of a dark, still lobby at night. So
they only count when the device node is gone too (files and URLs have no node: for them the
frames are enough). On either it marks the camera lost, abandons that capture (a thread stuck
in C cannot be killed; it releases its capture if it ever returns, and nobody else touches it
again) and reopens with backoff. A device that wedges every capture would pile up stuck
threads and open captures, so once one abandoned grabber is still stuck when a second one
wedges, the camera stays lost as *stuck* until one of them returns (a replug usually does
that). Callers never block longer than their timeout and get :class:`CameraLost` with a
message a guard can act on.

Defaults: 640x480 (enough for an invitation QR at arm's length, cheap to decode on a Pi), lost
after 2 s without a frame (4 s for the first one after opening) or 5 s of identical frames from
a device whose node has disappeared.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, Literal

import cv2
import numpy as np

from drivers.errors import DeviceError

# OpenCV's own warnings ("can't open camera by index") repeat on every reopen attempt and say
# less than CameraLost's message does; errors still get through.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

Status = Literal["starting", "ok", "lost", "closed"]

BACKOFF_FIRST = 0.5  # seconds before the first reopen; doubles until frames flow for stale_after
BACKOFF_MAX = 10.0
CLOSE_JOIN = 0.5  # how long close() waits for a grabber stuck in read() before abandoning it
START_GRACE = 2.0  # a capture may take this many times stale_after to deliver its first frame
CHECKSUM_STEP = 8  # sample every 8th pixel in both directions for the frozen-frame checksum
MAX_ABANDONED = 1  # grabbers left stuck in read() before we stop opening new captures


class CameraLost(DeviceError):
    """The camera is not delivering frames; the driver is already trying to reopen it."""


class FrameTimeout(CameraLost):
    """No new frame within ``read()``'s timeout, though not lost (yet); caught as CameraLost."""


class Camera:
    """Latest-frame access to one camera, with unplug detection and automatic reopening.

    Args:
        source: Device index (``0`` = ``/dev/video0``), device path or video file.
        width: Requested frame width; the device may pick the nearest size it supports.
        height: Requested frame height.
        stale_after: Seconds without any frame (including a ``read()`` stuck inside OpenCV)
            before the camera counts as lost; twice that for the first frame after opening.
        frozen_after: Seconds of byte-identical frames before the camera counts as lost (if
            ``device_present`` says it is gone), or ``None`` to disable (for a source that may
            legitimately repeat, like a test file).
        capture_factory: Called with ``source`` to open a capture; defaults to
            ``cv2.VideoCapture``. Anything with ``isOpened()``, ``read()``, ``set()`` and
            ``release()`` works, which is how tests play an unplugged or hung camera.
        device_present: Asked once frames have been identical for ``frozen_after``: ``False``
            makes the camera lost, ``True`` keeps it ok with a note in ``last_error``. Defaults
            to checking that the device node (``/dev/videoN`` for an index, or a ``/dev/``
            path) still exists; a file or URL has none, so its frozen frames always count.
    """

    def __init__(
        self,
        source: int | str = 0,
        *,
        width: int = 640,
        height: int = 480,
        stale_after: float = 2.0,
        frozen_after: float | None = 5.0,
        capture_factory: Callable[[Any], Any] | None = None,
        device_present: Callable[[], bool] | None = None,
    ) -> None:
        self._source = source
        self._size = (width, height)
        self._stale_after = stale_after
        self._frozen_after = frozen_after
        self._factory = capture_factory or cv2.VideoCapture
        node = _device_node(source)
        if device_present is None and node is not None:
            device_present = functools.partial(os.path.exists, node)
        self._device_present = device_present
        self.name = f"camera {source}"
        self._cond = threading.Condition()
        self._status: Status = "starting"
        self._last_error: str | None = None
        self._generation = 0  # bumped to abandon a capture: its grabber's results are ignored
        self._failed = False  # the current grabber gave up by itself
        self._frame: np.ndarray | None = None
        self._seq = 0  # counts frames published, so each reader can ask for a newer one
        self._first_at: float | None = None  # monotonic time of the current capture's first frame
        self._frame_at: float | None = None  # monotonic time of the newest frame
        self._changed_at: float | None = None  # monotonic time the picture last changed
        self._checksum: int | None = None
        self._grabber: threading.Thread | None = None
        self._abandoned: list[threading.Thread] = []  # only the watchdog touches this
        self._closed = threading.Event()
        self._local = threading.local()
        limits = [t for t in (stale_after, frozen_after) if t is not None]
        self._poll = min(0.1, max(0.01, min(limits) / 5))
        self._watchdog = threading.Thread(
            target=self._watch, name=f"{self.name} watchdog", daemon=True
        )
        self._watchdog.start()

    @property
    def status(self) -> Status:
        """``"starting"`` until the first frame, then ``"ok"``, ``"lost"`` or ``"closed"``."""
        return self._status

    @property
    def last_error(self) -> str | None:
        """The most recent problem as one actionable line; kept after recovery for the log."""
        return self._last_error

    def read(self, timeout: float = 1.0) -> np.ndarray:
        """Return a BGR frame newer than the last one this thread got, waiting up to ``timeout``.

        Each thread tracks its own position, so a preview and a QR worker can both read. The
        frame is read-only because readers share it; copy it before drawing on it.

        Raises:
            CameraLost: At once while the camera is lost or closed.
            FrameTimeout: If no new frame arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        seen = getattr(self._local, "seq", 0)
        with self._cond:
            while True:
                if self._status == "closed":
                    raise CameraLost(f"{self.name} is closed")
                if self._status == "lost":
                    raise CameraLost(self._last_error or f"{self.name} is lost; retrying")
                if self._seq > seen and self._frame is not None:
                    self._local.seq = self._seq
                    return self._frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FrameTimeout(f"{self.name} sent no new frame within {timeout:g} s")
                self._cond.wait(remaining)

    def close(self) -> None:
        """Stop both threads and release the capture; waits at most about a second."""
        with self._cond:
            if self._status == "closed":
                return
            self._status = "closed"
            self._generation += 1
            self._cond.notify_all()
        self._closed.set()
        self._watchdog.join(CLOSE_JOIN)  # it stops the grabber on its way out
        if self._grabber is not None:
            self._grabber.join(CLOSE_JOIN)  # a stuck one stays behind as a daemon

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- watchdog thread -------------------------------------------------------------------

    def _watch(self) -> None:
        delay = BACKOFF_FIRST
        while not self._closed.is_set():
            if not self._wait_while_stuck():
                return
            with self._cond:
                if self._status == "closed":
                    return
                self._generation += 1
                generation = self._generation
                self._failed = False
                self._first_at = self._frame_at = self._changed_at = self._checksum = None
                started = time.monotonic()
                stop = threading.Event()
                grabber = self._grabber = threading.Thread(
                    target=self._grab,
                    args=(generation, stop),
                    name=f"{self.name} grabber {generation}",
                    daemon=True,
                )
                grabber.start()
            problem = None
            while problem is None and not self._closed.wait(self._poll):
                problem = self._check(generation, started)
            stop.set()
            with self._cond:
                if self._closed.is_set() or self._status == "closed":
                    return
                first, last = self._first_at, self._frame_at
                if first is not None and last is not None and last - first >= self._stale_after:
                    delay = BACKOFF_FIRST  # it worked for a while: retry soon
                self._generation += 1  # abandon this capture before reporting
                if not self._failed:
                    self._lose(problem)
            self._abandoned.append(grabber)  # gone by the next attempt unless stuck in the driver
            if self._closed.wait(delay):
                return
            delay = min(delay * 2, BACKOFF_MAX)

    def _wait_while_stuck(self) -> bool:
        """Open no capture while too many abandoned grabbers are stuck; ``False`` once closed."""
        stuck = f"{self.name} is stuck: unplug and replug it, or restart the kiosk"
        while True:
            self._abandoned = [thread for thread in self._abandoned if thread.is_alive()]
            if len(self._abandoned) <= MAX_ABANDONED:
                return True
            with self._cond:
                if self._status == "closed":
                    return False
                if self._status != "lost" or self._last_error != stuck:
                    self._lose(stuck)
            if self._closed.wait(self._poll):
                return False

    def _check(self, generation: int, started: float) -> str | None:
        now = time.monotonic()
        with self._cond:
            if self._failed or generation != self._generation:
                return self._last_error or "gave up"
            if self._frame_at is None:
                if now - started > self._stale_after * START_GRACE:
                    return self._unplugged("did not start sending frames")
            elif now - self._frame_at > self._stale_after:
                return self._unplugged("stopped sending frames")
            frozen = self._frozen_after
            if frozen is None or not self._changed_at or now - self._changed_at <= frozen:
                return None
            unchanged = now - self._changed_at
        # OpenCV repeats the last frame after an unplug, but a healthy camera also sends
        # identical frames of a still, dark scene: only a vanished device node tells them apart.
        if self._device_present is None or not self._device_present():
            return self._unplugged("keeps sending the same picture (frozen)")
        with self._cond:
            if generation == self._generation:
                self._last_error = (
                    f"{self.name} picture unchanged for {unchanged:.0f} s: is the lens covered?"
                )
        return None

    def _unplugged(self, what: str) -> str:
        return f"{self.name} {what}: check its USB cable; retrying"

    def _lose(self, message: str) -> None:
        """Mark the camera lost; the caller holds ``self._cond``."""
        self._status = "lost"
        self._last_error = message
        self._cond.notify_all()

    # --- grabber thread --------------------------------------------------------------------

    def _grab(self, generation: int, stop: threading.Event) -> None:
        try:
            capture = self._factory(self._source)
        except Exception as exc:  # cv2.error, OSError: whatever the factory raises
            self._fail(generation, self._open_problem(exc))
            return
        try:
            if not capture.isOpened():
                self._fail(generation, self._open_problem(None))
                return
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
            while not stop.is_set():
                ok, frame = capture.read()
                if stop.is_set():
                    return
                if not ok or frame is None:
                    self._fail(generation, self._unplugged("stopped sending frames"))
                    return
                self._publish(generation, frame)
        except Exception as exc:  # the driver raised from read(): treat as unplugged
            self._fail(generation, self._unplugged(f"failed ({exc})"))
        finally:
            capture.release()  # only this thread ever touches this capture

    def _publish(self, generation: int, frame: np.ndarray) -> None:
        view = frame.view()
        view.flags.writeable = False
        sample = np.ascontiguousarray(frame[::CHECKSUM_STEP, ::CHECKSUM_STEP])
        checksum = zlib.crc32(sample.data)
        with self._cond:
            if generation != self._generation:
                return
            now = time.monotonic()
            if checksum != self._checksum:
                self._checksum, self._changed_at = checksum, now
            if self._first_at is None:
                self._first_at = now
            self._frame, self._frame_at = view, now
            self._seq += 1
            self._status = "ok"
            self._cond.notify_all()

    def _fail(self, generation: int, message: str) -> None:
        with self._cond:
            if generation == self._generation:
                self._failed = True
                self._lose(message)

    def _open_problem(self, exc: BaseException | None) -> str:
        """Say why the source did not open, in words an installer can act on."""
        path = _device_node(self._source) or os.fspath(self._source)
        if isinstance(exc, PermissionError) or (
            os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK)
        ):
            return f"no permission to open {path}: add the kiosk user to the video group"
        if "://" not in path and not os.path.exists(path):
            return f"no camera at {path}: plug in the USB camera or enable the CSI camera"
        detail = f" ({exc})" if exc is not None else ""
        return f"{self.name} could not be opened{detail}: close other programs using it, replug it"


def _device_node(source: int | str) -> str | None:
    """The V4L2 device node behind ``source``, or ``None`` for a video file or a URL."""
    if isinstance(source, int):
        return f"/dev/video{source}"
    path = os.fspath(source)
    return path if path.startswith("/dev/") else None
