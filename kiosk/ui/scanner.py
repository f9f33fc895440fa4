"""Camera frames for the preview, and QR codes decoded from them, without touching the UI thread.

Two worker threads, so neither the preview nor the decoding waits for the other:

- the *grabber* reads the camera (``read(timeout)`` of :mod:`drivers.camera` or a simulated
  camera) while a screen wants it, and keeps only the newest frame;
- the *decoder* takes the newest frame it has not seen yet and hands it to a
  :class:`drivers.qr.QRWorker`, whose child process survives a decoder crash. On a slow Pi
  it simply skips frames; the preview still gets every one.

The UI polls :meth:`Scanner.latest` from a Kivy Clock at about 15 fps and blits the frame
into a texture on the main thread. Decoded codes go to ``on_code(payload, source)`` on the
decoder thread; the app moves them to the UI thread. The same payload seen again within
``repeat_after`` seconds is dropped, so a card held still is one scan, not fifteen a second.

The serial scanner: the core owns the serial port (drivers/scanner.py). When the core
forwards scanned codes to the UI, pass each to :meth:`Scanner.feed` with ``source="serial"``
and the screens handle it exactly like a camera code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

log = logging.getLogger(__name__)

State = Literal["off", "starting", "ok", "lost", "none"]
READ_TIMEOUT = 0.5
LOST_RETRY = 0.5


class Scanner:
    """The camera as the kiosk screens use it: latest frame, status, decoded codes.

    Args:
        camera: An opened camera (``read(timeout)``, ``status``, ``last_error``, ``close()``),
            a no-argument callable that opens one (called on the grabber thread, so a slow
            camera never delays the first frame of the UI), or ``None`` for a kiosk without
            a camera (the status is then ``"none"``).
        on_code: Called with ``(payload, source)`` on a worker thread for each new code.
        decoder_factory: Makes the decoder (``decode(frame) -> list[str]``, ``close()``);
            defaults to :class:`drivers.qr.QRWorker`.
        repeat_after: Seconds before the same payload counts as a new scan.
        close_camera: Close the camera in :meth:`close` (leave it open when the caller
            passed in a camera it goes on using).
    """

    def __init__(self, camera: Any = None, *,
                 on_code: Callable[[str, str], None] | None = None,
                 decoder_factory: Callable[[], Any] | None = None,
                 repeat_after: float = 3.0, close_camera: bool = True) -> None:
        self._camera_arg = camera
        self._camera: Any = None if callable(camera) and not hasattr(camera, "read") else camera
        self.on_code = on_code
        self._decoder_factory = decoder_factory
        self._decoder: Any = None
        self._decoder_lock = threading.Lock()
        self._repeat_after = repeat_after
        self._close_camera = close_camera
        self._cond = threading.Condition()
        self._active = False
        self._closed = False
        self._frame: Any = None
        self._seq = 0
        self._state: State = "none" if camera is None else "off"
        self._error: str | None = None
        self._seen: dict[str, float] = {}
        self.frames_read = 0
        self.frames_decoded = 0
        self.codes_found = 0
        self._threads: list[threading.Thread] = []

    # -- what the screens call ---------------------------------------------------------------

    @property
    def state(self) -> State:
        """``"none"`` (no camera), ``"off"``, ``"starting"``, ``"ok"`` or ``"lost"``."""
        return self._state

    @property
    def last_error(self) -> str | None:
        return self._error

    @property
    def has_camera(self) -> bool:
        return self._camera_arg is not None

    def start(self) -> None:
        """Read and decode until :meth:`stop`; threads are started on first use."""
        if self._camera_arg is None or self._closed:
            return
        with self._cond:
            self._active = True
            self._seen.clear()
            if self._state in ("off", "none"):
                self._state = "starting"
            self._cond.notify_all()
        if not self._threads:
            for name, target in (("grabber", self._grab), ("decoder", self._decode)):
                thread = threading.Thread(target=target, name=f"ui-camera-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """Pause reading and decoding (the camera stays open for the next guest)."""
        with self._cond:
            self._active = False
            self._frame = None
            if self._state != "lost":
                self._state = "off" if self._camera_arg is not None else "none"

    def latest(self) -> tuple[int, Any]:
        """``(sequence number, newest frame or None)``; the frame is shared: do not modify it."""
        with self._cond:
            return self._seq, self._frame

    def warm_up(self) -> None:
        """Start the decoder's child process now, off the UI thread (it takes ~0.5 s)."""
        if self._camera_arg is not None and not self._closed:
            threading.Thread(target=self._warm, name="ui-qr-warm-up", daemon=True).start()

    def _warm(self) -> None:
        try:
            self._ensure_decoder()
        except Exception:  # noqa: BLE001 - decoding will try again and log it then
            log.exception("starting the QR decoder")

    def feed(self, payload: str, source: str = "serial") -> None:
        """Hand in a code read elsewhere (the serial scanner); same rules as a camera code."""
        self._found(payload, source)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._active = False
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(1.0)
        with self._decoder_lock:
            decoder, self._decoder = self._decoder, None
        if decoder is not None:
            try:
                decoder.close()
            except Exception:  # noqa: BLE001 - closing must not fail the UI's shutdown
                log.exception("closing the QR decoder")
        camera = self._camera
        if camera is not None and self._close_camera:
            try:
                camera.close()
            except Exception:  # noqa: BLE001
                log.exception("closing the camera")

    # -- threads -----------------------------------------------------------------------------

    def _wait_active(self) -> bool:
        with self._cond:
            while not self._active and not self._closed:
                self._cond.wait()
            return not self._closed

    def _grab(self) -> None:
        from drivers.camera import CameraLost

        if self._camera is None:
            try:
                self._camera = self._camera_arg()
            except Exception as exc:  # noqa: BLE001 - a camera that cannot open is "lost"
                self._lose(f"camera could not be opened: {exc}")
                return
        camera = self._camera
        while self._wait_active():
            try:
                frame = camera.read(READ_TIMEOUT)
            except CameraLost as exc:
                if getattr(camera, "status", "lost") in ("lost", "closed"):
                    self._lose(str(exc))
                    time.sleep(LOST_RETRY)
                continue
            with self._cond:
                if not self._active:
                    continue
                self._frame = frame
                self._seq += 1
                self.frames_read += 1
                self._state = "ok"
                self._cond.notify_all()

    def _lose(self, message: str) -> None:
        with self._cond:
            if self._state != "lost":
                log.warning("camera lost: %s", message)
            self._state = "lost"
            self._error = message
            self._frame = None

    def _decode(self) -> None:
        done = 0
        while True:
            with self._cond:
                while (not self._closed
                       and (not self._active or self._seq == done or self._frame is None)):
                    self._cond.wait(0.5)
                if self._closed:
                    return
                frame, done = self._frame, self._seq
            try:
                texts = self._ensure_decoder().decode(frame)
            except Exception:  # noqa: BLE001 - one bad frame must not stop scanning
                log.exception("QR decoding failed on a frame")
                time.sleep(0.2)
                continue
            self.frames_decoded += 1
            for text in texts:
                self._found(text, "camera")

    def _ensure_decoder(self) -> Any:
        with self._decoder_lock:
            if self._closed:
                raise RuntimeError("the scanner is closed")
            if self._decoder is None:
                if self._decoder_factory is not None:
                    self._decoder = self._decoder_factory()
                else:
                    from drivers.qr import QRWorker

                    self._decoder = QRWorker()
            return self._decoder

    def _found(self, payload: str, source: str) -> None:
        now = time.monotonic()
        with self._cond:
            if not self._active and source == "camera":
                return
            last = self._seen.get(payload)
            if last is not None and now - last < self._repeat_after:
                self._seen[payload] = now
                return
            self._seen[payload] = now
            self.codes_found += 1
        if self.on_code is not None:
            self.on_code(payload, source)
