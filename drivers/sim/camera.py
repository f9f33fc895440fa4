"""Cameras without a camera: image files, or a rendered QR code held up like an invitation card.

Both have :class:`drivers.camera.Camera`'s interface (``read(timeout)``, ``status``,
``last_error``, ``close()``, context manager) so the UI, the QR worker and the simulator run
unchanged. They pace frames at ``fps`` like a real sensor, so a reader loop does not spin, and
``lose()`` / ``recover()`` play an unplugged camera for the "camera lost" screens.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import segno

from drivers.camera import CameraLost, FrameTimeout, Status
from drivers.errors import DeviceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SCENE_GREY = 128  # the background: a wall behind the guest
QUIET_ZONE = 4  # modules of white card around the code, as the QR standard asks


def render_qr(
    payload: str | bytes | None,
    *,
    size: tuple[int, int] = (640, 480),
    module_px: int = 6,
    angle: float = 0,
    noise: float = 0.0,
    seed: int | None = None,
) -> np.ndarray:
    """Draw a QR code on a white card in front of a grey wall, as a BGR frame.

    Args:
        payload: Text or bytes to encode; ``None`` draws the empty scene.
        size: Frame ``(width, height)``.
        module_px: Pixels per QR module; below ~3 decoders start to miss, as on a real camera.
        angle: Degrees to rotate the card about the frame centre (a card held askew).
        noise: Standard deviation of Gaussian sensor noise, as a fraction of full scale.
        seed: Seed for the noise, for repeatable frames.

    Raises:
        ValueError: If the code does not fit in the frame at this ``module_px``.
    """
    width, height = size
    frame = np.full((height, width), SCENE_GREY, np.uint8)
    if payload is not None:
        modules = np.array(segno.make_qr(payload).matrix, dtype=bool)
        card = np.pad(~modules, QUIET_ZONE, constant_values=True)  # True = white
        card = np.kron(card, np.ones((module_px, module_px), bool))
        ch, cw = card.shape
        if ch > height or cw > width:
            raise ValueError(f"a {cw}x{ch} px code does not fit a {width}x{height} frame")
        top, left = (height - ch) // 2, (width - cw) // 2
        frame[top : top + ch, left : left + cw] = np.where(card, 235, 25)
        if angle:
            turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
            frame = cv2.warpAffine(frame, turn, (width, height), borderValue=SCENE_GREY)
    if noise:
        grain = np.random.default_rng(seed).normal(0.0, noise * 255, frame.shape)
        frame = np.clip(frame + grain, 0, 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


class _SimCamera(ABC):
    """Pacing, status and fault injection shared by the fakes."""

    def __init__(self, name: str, fps: float) -> None:
        self.name = name
        self._interval = 1.0 / fps
        self._next_at = time.monotonic()
        self._status: Status = "ok"
        self._last_error: str | None = None
        self._closed = threading.Event()

    @property
    def status(self) -> Status:
        """``"ok"``, ``"lost"`` (after :meth:`lose`) or ``"closed"``."""
        return self._status

    @property
    def last_error(self) -> str | None:
        """The message :meth:`lose` was given, kept after :meth:`recover`."""
        return self._last_error

    def read(self, timeout: float = 1.0) -> np.ndarray:
        """Return the next frame when it is due, waiting at most ``timeout`` seconds.

        Raises:
            CameraLost: At once while lost or closed.
            FrameTimeout: If the next frame is not due within ``timeout``.
        """
        self._raise_if_down()
        wait = self._next_at - time.monotonic()
        if wait > timeout:
            self._closed.wait(timeout)
            raise FrameTimeout(f"{self.name} sent no new frame within {timeout:g} s")
        if wait > 0 and self._closed.wait(wait):
            self._raise_if_down()
        self._next_at = max(self._next_at + self._interval, time.monotonic())
        frame = self._frame()
        self._raise_if_down()  # lost while waiting
        return frame

    def lose(self, message: str | None = None) -> None:
        """Play an unplugged camera until :meth:`recover`."""
        self._last_error = message or f"{self.name} stopped sending frames: check its USB cable"
        self._status = "lost"

    def recover(self) -> None:
        """Play the camera coming back."""
        if self._status == "lost":
            self._status = "ok"

    def close(self) -> None:
        """Stop serving frames; a waiting ``read()`` returns at once."""
        self._status = "closed"
        self._closed.set()

    def __enter__(self) -> _SimCamera:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _raise_if_down(self) -> None:
        if self._status == "closed":
            raise CameraLost(f"{self.name} is closed")
        if self._status == "lost":
            raise CameraLost(self._last_error or f"{self.name} is lost")

    @abstractmethod
    def _frame(self) -> np.ndarray:
        """The next picture this fake shows."""


class ImageCamera(_SimCamera):
    """Serves image files in turn, cycling; all are decoded once, up front.

    Args:
        paths: A folder (its .png/.jpg/.jpeg files, sorted by name) or a list of image paths.
        fps: Frames per second to pace ``read()`` at.

    Raises:
        DeviceError: If the folder holds no images or a file cannot be decoded.
    """

    def __init__(
        self, paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, fps: float = 15.0
    ) -> None:
        if isinstance(paths, str | os.PathLike):
            folder = Path(paths)
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise DeviceError(f"no .png or .jpg images in {folder}: add some or fix the path")
            super().__init__(f"image camera {folder}", fps)
        else:
            files = [Path(p) for p in paths]
            if not files:
                raise DeviceError("image camera needs at least one image path")
            super().__init__("image camera", fps)
        self._frames = []
        for path in files:
            image = cv2.imread(str(path))
            if image is None:
                raise DeviceError(f"cannot read image {path}: missing, unreadable or not an image")
            image.flags.writeable = False  # shared by every read(), as Camera's frames are
            self._frames.append(image)
        self._index = 0

    def _frame(self) -> np.ndarray:
        frame = self._frames[self._index % len(self._frames)]
        self._index += 1
        return frame


class QRCamera(_SimCamera):
    """Shows one QR payload like a card held up to the camera; :meth:`show` changes it.

    Args:
        payload: What the card encodes; ``None`` shows the empty scene.
        width: Frame width.
        height: Frame height.
        fps: Frames per second to pace ``read()`` at.
    """

    def __init__(
        self,
        payload: str | bytes | None = None,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
    ) -> None:
        super().__init__("QR camera", fps)
        self._size = (width, height)
        self._lock = threading.Lock()
        self.show(payload)

    def show(self, payload: str | bytes | None) -> None:
        """Hold up a card with ``payload``, or take it away with ``None``."""
        frame = render_qr(payload, size=self._size)
        frame.flags.writeable = False  # shared by every read(), as Camera's frames are
        with self._lock:
            self._scene = frame

    def _frame(self) -> np.ndarray:
        with self._lock:
            return self._scene
