"""The camera driver against a real OpenCV capture of a video file, and against fake devices
that hang, freeze or vanish the way unplugged USB cameras do; plus the simulated cameras."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest

from drivers.camera import Camera, CameraLost, FrameTimeout
from drivers.errors import DeviceError
from drivers.sim.camera import ImageCamera, QRCamera, render_qr

FAST = {"stale_after": 0.3, "frozen_after": 0.4}


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class FakeDevice:
    """A camera the test can unplug, hang or freeze while the driver is running.

    Modes: "live" (noisy frames at ~100 fps), "hang" (read() blocks until the test ends),
    "wedge" (each capture sends ``wedge_after`` frames, then read() blocks like "hang" while the
    device stays plugged in), "frozen" (read() keeps returning True with the same last frame,
    as OpenCV does after an unplug and a camera does of a still, dark scene), "eof" (read()
    returns False) and "gone" (the capture does not open).
    """

    def __init__(self, mode: str = "live") -> None:
        self.mode = mode
        self.wedge_after = 3
        self.captures: list[FakeCapture] = []
        self.opened_at: list[float] = []
        self.unhang = threading.Event()

    def open(self, source: object) -> FakeCapture:
        capture = FakeCapture(self, seed=len(self.captures))
        self.captures.append(capture)
        self.opened_at.append(time.monotonic())
        return capture


class FakeCapture:
    def __init__(self, device: FakeDevice, seed: int) -> None:
        self.device = device
        self.opened = device.mode != "gone"
        self.released = False
        self.reads = 0
        self.settings: dict[int, float] = {}
        self.last: np.ndarray | None = None
        self.rng = np.random.default_rng(seed)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.settings[prop] = value
        return True

    def release(self) -> None:
        self.released = True

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.reads += 1
        mode = self.device.mode
        if mode == "hang" or (mode == "wedge" and self.reads > self.device.wedge_after):
            self.device.unhang.wait()
            return False, None
        if mode in ("eof", "gone"):
            return False, None
        time.sleep(0.01)
        if mode == "frozen" and self.last is not None:
            return True, self.last
        self.last = self.rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        return True, self.last


@pytest.fixture
def cameras() -> Iterator[list[Camera]]:
    opened: list[Camera] = []
    yield opened
    for camera in opened:
        camera.close()


@pytest.fixture
def device(cameras) -> Iterator[FakeDevice]:
    fake = FakeDevice()
    yield fake
    fake.unhang.set()  # let abandoned grabber threads finish before the cameras close


def make_camera(cameras: list[Camera], device: FakeDevice, **kwargs: object) -> Camera:
    camera = Camera(0, capture_factory=device.open, **{**FAST, **kwargs})  # type: ignore[arg-type]
    cameras.append(camera)
    return camera


def write_video(path: str, levels: list[int], size: tuple[int, int] = (160, 120)) -> None:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert writer.isOpened()
    for level in levels:
        writer.write(np.full((size[1], size[0], 3), level, np.uint8))
    writer.release()


class Paced:
    """A real cv2.VideoCapture slowed to camera speed: a file otherwise decodes in microseconds."""

    def __init__(self, source: str) -> None:
        self.capture = cv2.VideoCapture(source)

    def __getattr__(self, name: str) -> object:
        return getattr(self.capture, name)

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(0.02)
        return self.capture.read()


# --- Camera on a real OpenCV capture ---------------------------------------------------------


def test_reads_each_new_frame_of_a_real_video_file(tmp_path, cameras):
    path = str(tmp_path / "guest.avi")
    levels = [40 + 4 * i for i in range(40)]
    write_video(path, levels)
    camera = Camera(path, capture_factory=Paced)
    cameras.append(camera)

    means = [float(camera.read(timeout=1.0).mean()) for _ in range(10)]

    assert camera.status == "ok"
    assert all(min(abs(m - level) for level in levels) < 2 for m in means)  # really decoded
    assert means == sorted(means) and len(set(np.round(means))) == 10  # each read is newer


def test_default_factory_opens_the_file_and_frames_are_read_only(tmp_path, cameras):
    path = str(tmp_path / "guest.avi")
    write_video(path, [90] * 60, size=(320, 240))
    camera = Camera(path, frozen_after=None)
    cameras.append(camera)

    frame = camera.read(timeout=2.0)

    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert abs(float(frame.mean()) - 90) < 2
    with pytest.raises(ValueError):
        frame[0, 0] = 0  # shared with other readers: copy before drawing


def test_missing_file_with_the_real_factory_is_reported_as_no_camera(tmp_path, cameras):
    path = str(tmp_path / "video9")
    camera = Camera(path)
    cameras.append(camera)

    assert wait_for(lambda: camera.status == "lost")
    expected = f"no camera at {path}: plug in the USB camera or enable the CSI camera"
    assert camera.last_error == expected


# --- unplugged, hung and frozen cameras --------------------------------------------------------


def test_read_never_blocks_past_its_timeout_when_the_capture_hangs(device, cameras):
    device.mode = "hang"
    camera = make_camera(cameras, device)

    started = time.monotonic()
    with pytest.raises(FrameTimeout):
        camera.read(timeout=0.1)
    assert time.monotonic() - started < 0.25
    assert camera.status == "starting"

    started = time.monotonic()
    with pytest.raises(CameraLost, match="did not start sending frames: check its USB cable"):
        camera.read(timeout=1.0)  # lost after twice stale_after for a first frame (0.6 s)
    assert time.monotonic() - started < 1.1
    assert camera.status == "lost"


def test_a_capture_that_hangs_mid_stream_is_abandoned_and_reopened(device, cameras):
    camera = make_camera(cameras, device)
    camera.read(timeout=1.0)
    device.mode = "hang"

    assert wait_for(lambda: camera.status == "lost", 1.0)
    started = time.monotonic()
    with pytest.raises(CameraLost, match="camera 0 stopped sending frames"):
        camera.read(timeout=1.0)
    assert time.monotonic() - started < 0.05  # at once while lost
    assert wait_for(lambda: len(device.captures) >= 2, 1.5)  # retrying in the background
    stuck = device.captures[0]
    assert not stuck.released  # still inside read(): nobody touches it

    device.unhang.set()
    assert wait_for(lambda: stuck.released)  # released by its own thread once it returns


def test_identical_frames_from_an_unplugged_usb_camera_count_as_lost(device, cameras):
    camera = make_camera(cameras, device, device_present=lambda: False)  # its node is gone
    camera.read(timeout=1.0)
    device.mode = "frozen"

    assert wait_for(lambda: camera.status == "lost", 2.0)
    assert "keeps sending the same picture" in camera.last_error
    with pytest.raises(CameraLost):
        camera.read()


def test_identical_frames_from_a_plugged_in_camera_are_a_dark_still_scene(device, cameras):
    camera = make_camera(cameras, device, device_present=lambda: True)
    camera.read(timeout=1.0)
    device.mode = "frozen"  # a night lobby: noise reduction leaves nothing changing

    time.sleep(1.0)  # well past frozen_after

    assert camera.status == "ok"
    camera.read(timeout=0.5)
    note = r"camera 0 picture unchanged for \d+ s: is the lens covered\?"
    assert re.fullmatch(note, camera.last_error)
    assert len(device.captures) == 1  # never reopened


def test_by_default_the_device_node_tells_a_still_scene_from_an_unplug(
    device, cameras, monkeypatch
):
    nodes = {"/dev/video99": True}
    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda path: nodes.get(path, False) or exists(path))
    camera = Camera(99, capture_factory=device.open, **FAST)
    cameras.append(camera)
    camera.read(timeout=1.0)
    device.mode = "frozen"

    time.sleep(0.8)
    assert camera.status == "ok"

    nodes["/dev/video99"] = False  # unplugged: OpenCV keeps repeating the last frame
    assert wait_for(lambda: camera.status == "lost", 1.0)
    assert "camera 99 keeps sending the same picture" in camera.last_error


def test_identical_frames_from_a_file_or_url_count_as_lost(device, cameras):
    camera = Camera("rtsp://gate/stream", capture_factory=device.open, **FAST)
    cameras.append(camera)
    camera.read(timeout=1.0)
    device.mode = "frozen"

    assert wait_for(lambda: camera.status == "lost", 2.0)
    assert "keeps sending the same picture" in camera.last_error


def test_frozen_detection_can_be_disabled(device, cameras):
    device.mode = "frozen"
    camera = make_camera(cameras, device, frozen_after=None)
    camera.read(timeout=1.0)

    time.sleep(0.8)

    assert camera.status == "ok"
    camera.read(timeout=0.5)  # repeated frames still arrive


def test_read_returning_false_means_lost(device, cameras):
    camera = make_camera(cameras, device)
    camera.read(timeout=1.0)
    device.mode = "eof"

    assert wait_for(lambda: camera.status == "lost", 1.0)
    assert camera.last_error == "camera 0 stopped sending frames: check its USB cable; retrying"


def test_a_camera_that_wedges_every_capture_leaves_at_most_two_stuck(device, cameras):
    device.mode = "wedge"  # plugged in, but every capture hangs after a few frames
    camera = Camera(5, capture_factory=device.open, device_present=lambda: True, **FAST)
    cameras.append(camera)

    def grabbers() -> int:
        return sum(t.name.startswith("camera 5 grabber") for t in threading.enumerate())

    threads = captures = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        threads = max(threads, grabbers())
        captures = max(captures, sum(not c.released for c in device.captures))
        time.sleep(0.02)

    assert threads <= 2 and captures <= 2
    assert len(device.captures) == 2
    message = "camera 5 is stuck: unplug and replug it, or restart the kiosk"
    assert wait_for(lambda: camera.last_error == message, 1.0)
    assert camera.status == "lost"
    with pytest.raises(CameraLost, match="camera 5 is stuck"):
        camera.read()

    device.mode = "live"
    device.unhang.set()  # a replug makes the stuck read() calls return
    assert wait_for(lambda: camera.status == "ok", 2.0)
    assert all(c.released for c in device.captures[:2])


def test_backoff_keeps_growing_while_captures_fail_after_a_few_frames(device, cameras):
    device.mode = "wedge"
    device.unhang.set()  # read() fails at once after the first frames instead of hanging
    camera = make_camera(cameras, device)

    assert wait_for(lambda: len(device.opened_at) >= 3, 3.0)
    first, second, third = device.opened_at[:3]
    assert third - second > 1.5 * (second - first)  # 0.5 s, then 1 s: frames never flowed long
    assert camera.last_error == "camera 0 stopped sending frames: check its USB cable; retrying"


def test_a_source_that_does_not_open_is_lost_with_an_actionable_message(device, cameras):
    device.mode = "gone"
    camera = Camera(99, capture_factory=device.open, **FAST)  # no /dev/video99 anywhere
    cameras.append(camera)

    assert wait_for(lambda: camera.status == "lost", 1.0)
    message = "no camera at /dev/video99: plug in the USB camera or enable the CSI camera"
    assert camera.last_error == message
    started = time.monotonic()
    with pytest.raises(CameraLost) as raised:
        camera.read(timeout=1.0)
    assert str(raised.value) == message and time.monotonic() - started < 0.05


def test_permission_denied_points_at_the_video_group(cameras):
    def factory(source: object) -> object:
        raise PermissionError(13, "Permission denied", "/dev/video0")

    camera = Camera(0, capture_factory=factory)
    cameras.append(camera)

    assert wait_for(lambda: camera.status == "lost", 1.0)
    message = "no permission to open /dev/video0: add the kiosk user to the video group"
    assert camera.last_error == message


def test_recovers_by_itself_when_the_camera_is_plugged_back_in(device, cameras):
    device.mode = "gone"
    camera = make_camera(cameras, device)
    assert wait_for(lambda: camera.status == "lost", 1.0)

    device.mode = "live"

    assert wait_for(lambda: camera.status == "ok", 2.0)  # first retry after 0.5 s
    first, second = camera.read(timeout=1.0), camera.read(timeout=1.0)
    assert not np.array_equal(first, second)
    assert device.captures[0].released


def test_recovers_after_a_hang_while_the_stuck_thread_stays_behind(device, cameras):
    camera = make_camera(cameras, device)
    camera.read(timeout=1.0)
    device.mode = "hang"
    assert wait_for(lambda: camera.status == "lost", 1.0)

    device.mode = "live"

    assert wait_for(lambda: camera.status == "ok", 2.5)
    camera.read(timeout=1.0)
    assert not device.captures[0].released  # the stuck capture is left alone
    size = {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480}
    assert device.captures[-1].settings == size


def test_close_is_prompt_and_stops_the_named_daemon_threads(device, cameras):
    camera = make_camera(cameras, device)
    camera.read(timeout=1.0)
    threads = [t for t in threading.enumerate() if t.name.startswith("camera 0 ")]
    assert {t.name.split()[2] for t in threads} == {"watchdog", "grabber"}
    assert all(t.daemon for t in threads)

    started = time.monotonic()
    camera.close()

    assert time.monotonic() - started < 0.5
    assert camera.status == "closed"
    assert not any(t.is_alive() for t in threads)
    assert device.captures[0].released
    with pytest.raises(CameraLost, match="closed"):
        camera.read()


def test_close_does_not_wait_long_for_a_hung_capture(device):
    device.mode = "hang"
    with Camera(0, capture_factory=device.open, stale_after=5.0) as camera:
        time.sleep(0.05)
        started = time.monotonic()
    assert time.monotonic() - started < 0.8
    assert camera.status == "closed"


def test_a_waiting_reader_is_woken_by_close(device, cameras):
    device.mode = "hang"
    camera = make_camera(cameras, device, stale_after=5.0)
    threading.Timer(0.1, camera.close).start()

    started = time.monotonic()
    with pytest.raises(CameraLost, match="closed"):
        camera.read(timeout=3.0)
    assert time.monotonic() - started < 0.5


# --- simulated cameras -------------------------------------------------------------------------


def test_image_camera_cycles_through_a_folder_in_name_order(tmp_path):
    for name, level in (("b.png", 20), ("a.jpg", 200), ("c.png", 120)):
        cv2.imwrite(str(tmp_path / name), np.full((30, 40, 3), level, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")

    with ImageCamera(tmp_path, fps=200) as camera:
        means = [round(float(camera.read().mean())) for _ in range(4)]
        assert camera.status == "ok"

    assert [abs(m - e) < 3 for m, e in zip(means, (200, 20, 120, 200), strict=True)] == [True] * 4
    assert camera.status == "closed"
    with pytest.raises(CameraLost):
        camera.read()


def test_image_camera_names_the_file_it_cannot_read(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DeviceError, match="cannot read image .*broken.png"):
        ImageCamera([broken])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeviceError, match="no .png or .jpg images"):
        ImageCamera(empty)


def test_qr_camera_frames_change_after_show():
    detector = cv2.QRCodeDetector()
    with QRCamera("INV-0001", fps=200) as camera:
        first = camera.read()
        assert detector.detectAndDecode(first)[0] == "INV-0001"
        camera.show("INV-0002")
        second = camera.read()
        assert detector.detectAndDecode(second)[0] == "INV-0002"
        camera.show(None)
        empty = camera.read()

    assert first.shape == (480, 640, 3)
    assert not np.array_equal(first, second)
    assert empty.min() == empty.max()  # nothing held up: just the wall


def test_qr_camera_plays_an_unplugged_camera():
    with QRCamera("INV-0001", fps=200) as camera:
        camera.lose()
        with pytest.raises(CameraLost, match="check its USB cable"):
            camera.read()
        assert camera.status == "lost"
        camera.recover()
        camera.read()
        assert camera.status == "ok"


def test_render_qr_tilted_and_noisy_still_shows_the_code():
    frame = render_qr("INV-0003", angle=15, noise=0.03, seed=1)
    assert cv2.QRCodeDetector().detectAndDecode(frame)[0] == "INV-0003"
    with pytest.raises(ValueError, match="does not fit"):
        render_qr("x" * 500, module_px=12)
