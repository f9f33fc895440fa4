"""drivers.qr: decoding real rendered codes, the fallback, and a worker whose child really dies."""

from __future__ import annotations

import logging
import signal

import cv2
import numpy as np
import pytest
import segno

from drivers import qr
from drivers.errors import DeviceError


def code(payload: str | bytes, px: int = 4) -> np.ndarray:
    """A grayscale QR code with its 4-module quiet zone, ``px`` pixels per module."""
    modules = np.pad(np.array(segno.make(payload, micro=False).matrix, np.uint8), 4)
    return np.where(np.kron(modules, np.ones((px, px), np.uint8)) > 0, 0, 255).astype(np.uint8)


def frame(*codes: tuple[np.ndarray, int, int], size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A grey 640x480 camera frame with each code pasted at (x, y)."""
    img = np.full(size, 120, np.uint8)
    for c, x, y in codes:
        img[y:y + c.shape[0], x:x + c.shape[1]] = c
    return img


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    centre = (img.shape[1] / 2, img.shape[0] / 2)
    m = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderValue=120)


def test_decodes_a_bgr_frame():
    bgr = cv2.cvtColor(frame((code("INV-000123"), 200, 120)), cv2.COLOR_GRAY2BGR)
    assert qr.decode(bgr) == ["INV-000123"]


def test_decodes_a_grayscale_frame():
    assert qr.decode(frame((code("INV-000456"), 50, 60))) == ["INV-000456"]


def test_several_codes_in_one_frame_come_back_once_each():
    img = frame((code("INV-A"), 10, 10), (code("INV-B"), 330, 10), (code("INV-A"), 10, 250),
                (code("INV-C"), 330, 250))
    found = qr.decode(img)
    assert sorted(found) == ["INV-A", "INV-B", "INV-C"]


@pytest.mark.parametrize("degrees", [30, 90, 135, 180, 300])
def test_rotated_code(degrees):
    img = rotate(frame((code("INV-ROT-42"), 230, 150)), degrees)
    assert qr.decode(img) == ["INV-ROT-42"]


def test_two_pixel_modules():
    img = frame((code("https://tamu.example.go.id/i/x9Qe2LrTzKp0aWbV", px=2), 300, 200))
    assert qr.decode(img) == ["https://tamu.example.go.id/i/x9Qe2LrTzKp0aWbV"]


def test_small_modules_blurred_and_noisy():
    img = frame((code("INV-SMALL-7", px=3), 400, 300)).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 0.8) + np.random.default_rng(3).normal(0, 4, img.shape)
    assert qr.decode(np.clip(img, 0, 255).astype(np.uint8)) == ["INV-SMALL-7"]


@pytest.mark.parametrize("img", [
    np.zeros((480, 640, 3), np.uint8),
    np.full((480, 640), 255, np.uint8),
    np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8),
], ids=["black", "white", "noise"])
def test_frame_without_a_code_gives_nothing(img):
    assert qr.decode(img) == []


def test_utf8_payload():
    text = "Undangan: Café Ω, ключ"
    assert qr.decode(frame((code(text), 100, 100))) == [text]


def test_binary_payload_comes_back_as_latin1_without_losing_a_byte():
    raw = b"\x00\xff\xfe\x80\x81 not utf-8"
    [text] = qr.decode(frame((code(raw), 100, 100)))
    assert text.encode("latin-1") == raw


def test_control_characters_are_returned_as_they_are():
    assert qr.decode(frame((code(b"\x1b[2J\x07INV\r\n"), 100, 100))) == ["\x1b[2J\x07INV\r\n"]


def test_very_long_payload():
    payload = "v1." + "A1b2C3d4-_" * 200  # 2,003 characters: a version-37 code
    img = frame((code(payload, px=3), 20, 20), size=(600, 600))
    assert qr.decode(img) == [payload]


@pytest.mark.parametrize("bad", [
    [[0, 255], [255, 0]],
    None,
    np.zeros((480, 640), np.float32),
    np.zeros((480, 640), np.uint16),
    np.zeros((480, 640, 4), np.uint8),
    np.zeros((480, 640, 1), np.uint8),
    np.zeros(640, np.uint8),
    np.zeros((0, 640), np.uint8),
], ids=["list", "None", "float32", "uint16", "bgra", "one-channel", "1-d", "empty"])
def test_bad_input_raises_a_one_line_value_error(bad):
    with pytest.raises(ValueError, match="QR decode needs") as info:
        qr.decode(bad)
    assert "\n" not in str(info.value)


def test_pyzbar_decodes_when_zxing_cpp_is_not_importable(monkeypatch):
    monkeypatch.setattr(qr, "zxingcpp", None)
    assert qr.decode(frame((code("INV-FALLBACK"), 200, 150))) == ["INV-FALLBACK"]


def test_a_zxing_cpp_miss_does_not_cost_a_zbar_pass_by_default(monkeypatch):
    calls = []
    monkeypatch.setattr(qr, "_read_zxing", lambda gray: [])
    monkeypatch.setattr(qr, "_read_zbar", lambda gray: calls.append(gray) or ["never"])
    assert qr.decode(frame((code("INV-MISS"), 200, 150))) == []
    assert calls == []


def test_pyzbar_runs_on_a_zxing_cpp_miss_when_enabled(monkeypatch):
    monkeypatch.setattr(qr, "_read_zxing", lambda gray: [])
    monkeypatch.setattr(qr, "FALLBACK_ON_MISS", True)
    assert qr.decode(frame((code("INV-SECOND-TRY"), 200, 150))) == ["INV-SECOND-TRY"]


def test_no_decoder_at_all_is_a_device_error(monkeypatch):
    monkeypatch.setattr(qr, "zxingcpp", None)
    monkeypatch.setattr(qr, "pyzbar", None)
    with pytest.raises(DeviceError, match="zxing-cpp"):
        qr.decode(frame())


# ---------------------------------------------------------------- QRWorker


def test_worker_decodes_frames_and_rejects_bad_input_in_the_parent():
    with qr.QRWorker() as worker:
        bgr = cv2.cvtColor(frame((code("INV-W1"), 100, 100)), cv2.COLOR_GRAY2BGR)
        assert worker.decode(bgr) == ["INV-W1"]
        assert worker.decode(frame()) == []
        pid = worker._proc.pid
        with pytest.raises(ValueError, match="uint8"):
            worker.decode(np.zeros((480, 640), np.float32))
        assert worker._proc.pid == pid and worker._proc.is_alive()
    assert not worker._proc.is_alive()
    with pytest.raises(ValueError, match="closed"):
        worker.decode(frame())


def test_worker_survives_its_child_aborting(caplog):
    caplog.set_level(logging.WARNING, logger="drivers.qr")
    with qr.QRWorker(_crash_on="CRASH-ME") as worker:
        first = worker._proc
        assert worker.decode(frame((code("CRASH-ME"), 100, 100))) == []
        assert first.exitcode == -signal.SIGABRT  # really delivered to the child
        assert "SIGABRT" in caplog.text
        assert worker.decode(frame((code("INV-AFTER"), 100, 100))) == ["INV-AFTER"]
        assert worker._proc.pid != first.pid


def test_worker_restarts_a_child_that_hangs(caplog):
    caplog.set_level(logging.WARNING, logger="drivers.qr")
    with qr.QRWorker(_hang_on="HANG") as worker:
        assert worker.decode(frame((code("HANG"), 100, 100)), timeout=0.5) == []
        assert "took longer than 0.5 s" in caplog.text
        assert worker.decode(frame((code("INV-NEXT"), 100, 100))) == ["INV-NEXT"]


def test_worker_recovers_from_a_child_killed_while_idle(caplog):
    caplog.set_level(logging.WARNING, logger="drivers.qr")
    with qr.QRWorker() as worker:
        worker._proc.kill()
        worker._proc.join()
        assert worker.decode(frame((code("INV-LOST"), 100, 100))) == []
        assert "SIGKILL" in caplog.text
        assert worker.decode(frame((code("INV-BACK"), 100, 100))) == ["INV-BACK"]
