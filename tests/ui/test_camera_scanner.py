"""Camera frames to codes off the UI thread: the preview's frames, decoding, loss, the hook."""

import threading
import time

import pytest

from drivers.sim.camera import QRCamera
from kiosk.ui.scanner import Scanner


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def camera():
    with QRCamera(None, fps=30) as cam:
        yield cam


def test_codes_from_the_camera_once_each(camera):
    codes = []
    scanner = Scanner(camera, on_code=lambda p, s: codes.append((p, s, threading.current_thread())))
    try:
        scanner.start()
        wait_for(lambda: scanner.state == "ok" and scanner.latest()[1] is not None)
        camera.show("GK1:INV:K7QM3XW9PB2D")
        wait_for(lambda: codes)
        time.sleep(0.5)  # the card is still held up: not a second scan
        assert [(p, s) for p, s, _ in codes] == [("GK1:INV:K7QM3XW9PB2D", "camera")]
        assert codes[0][2] is not threading.main_thread()
        assert scanner.frames_decoded > 0 and scanner.frames_read >= scanner.frames_decoded
    finally:
        scanner.close()


def test_stopped_scanner_reads_nothing(camera):
    codes = []
    scanner = Scanner(camera, on_code=lambda p, s: codes.append(p))
    try:
        scanner.start()
        wait_for(lambda: scanner.frames_read > 2)
        scanner.stop()
        read = scanner.frames_read
        camera.show("TAMU-01")
        time.sleep(0.4)
        assert scanner.frames_read <= read + 1 and codes == []
        assert scanner.latest()[1] is None and scanner.state == "off"
    finally:
        scanner.close()


def test_camera_lost_and_back(camera):
    scanner = Scanner(camera)
    try:
        scanner.start()
        wait_for(lambda: scanner.state == "ok")
        camera.lose("camera 0 stopped sending frames: check its USB cable")
        wait_for(lambda: scanner.state == "lost")
        assert "USB" in scanner.last_error and scanner.latest()[1] is None
        camera.recover()
        wait_for(lambda: scanner.state == "ok")
    finally:
        scanner.close()


def test_no_camera_and_a_camera_that_cannot_open():
    assert Scanner(None).state == "none"

    def broken():
        raise OSError("no /dev/video0")

    scanner = Scanner(broken)
    try:
        scanner.start()
        wait_for(lambda: scanner.state == "lost")
        assert "no /dev/video0" in scanner.last_error
    finally:
        scanner.close()


def test_serial_scanner_hook_feeds_codes_like_the_camera():
    codes = []
    scanner = Scanner(None, on_code=lambda p, s: codes.append((p, s)))
    scanner.feed("TAMU-07")
    scanner.feed("TAMU-07")  # a second read of the same card right away
    assert codes == [("TAMU-07", "serial")]


def test_the_callers_camera_stays_open(camera):
    scanner = Scanner(camera, close_camera=False)
    scanner.start()
    wait_for(lambda: scanner.frames_read > 0)
    scanner.close()
    assert camera.status == "ok"
