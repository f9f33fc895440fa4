"""SerialScanner against a simulated scanner on a real pty (and pyserial's loop://)."""

from __future__ import annotations

import errno
import logging
import re
import threading
import time

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceError
from drivers.scanner import ScannerError, SerialScanner
from drivers.sim.scanner import SimulatedScanner


@pytest.fixture
def sim():
    with SimulatedScanner() as peer:
        yield peer


@pytest.fixture
def scanner(sim):
    with SerialScanner(sim.port) as reader:
        yield reader


def warnings_from(caplog):
    return [
        r for r in caplog.records if r.name == "drivers.scanner" and r.levelno == logging.WARNING
    ]


def in_background(fn, *args):
    thread = threading.Thread(target=fn, args=args)
    thread.start()
    return thread


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_each_line_ending_yields_each_code_once(sim, scanner, ending):
    sim.scan("INV-0001", ending=ending)
    sim.scan("INV-0002", ending=ending)
    assert scanner.read_code(1) == "INV-0001"
    assert scanner.read_code(1) == "INV-0002"
    assert scanner.read_code(0.05) is None  # no empty code from the LF of a CRLF


def test_two_codes_in_one_burst_come_back_from_two_calls(sim, scanner):
    sim.send_raw(b"INV-A\r\nINV-B\r\n")
    assert scanner.read_code(1) == "INV-A"
    assert scanner.read_code(1) == "INV-B"


def test_blank_lines_and_surrounding_whitespace_are_skipped(sim, scanner):
    sim.send_raw(b"\r\n\r\n  \t \r  INV-C \t\r\n")
    assert scanner.read_code(1) == "INV-C"
    assert scanner.read_code(0.05) is None


def test_code_split_over_several_reads_is_assembled(sim):
    port = serial.serial_for_url(sim.port, timeout=0)
    reads = []
    real_read = port.read

    def spy(size):
        data = real_read(size)
        reads.append(data)
        return data

    port.read = spy
    sim.chunk_size, sim.pause = 3, 0.02
    sender = in_background(sim.scan, "INV-2024-000123")
    try:
        assert SerialScanner(port).read_code(2) == "INV-2024-000123"
    finally:
        sender.join()
        port.close()
    assert len([r for r in reads if r]) > 1


def test_timeout_returns_none_and_a_later_call_completes_the_line(sim, scanner):
    sim.send_raw(b"INV-")
    assert scanner.read_code(0.05) is None
    sim.send_raw(b"42\r\nINV-")  # bytes after the terminator stay buffered
    assert scanner.read_code(1) == "INV-42"
    assert scanner.read_code(0.05) is None
    sim.send_raw(b"43\r")
    assert scanner.read_code(1) == "INV-43"


def test_timeout_is_overall_not_per_byte(sim, scanner):
    sim.chunk_size, sim.pause = 1, 0.01
    sender = in_background(sim.send_raw, b"X" * 60)  # dribbles for ~0.6 s, no line end
    start = time.monotonic()
    assert scanner.read_code(0.15) is None
    elapsed = time.monotonic() - start
    sender.join()
    assert 0.15 <= elapsed < 0.4
    sim.send_raw(b"\r")
    assert scanner.read_code(1) == "X" * 60


def test_control_bytes_are_dropped_with_one_warning(sim, scanner, caplog):
    sim.send_raw(b"\x00\x00INV\x07-\x1b7\x00\x7f\r\n")
    assert scanner.read_code(1) == "INV-7"
    assert len(warnings_from(caplog)) == 1


def test_tab_inside_a_code_is_text_not_noise(sim, scanner, caplog):
    sim.scan("NIP\t198703152010011002")
    assert scanner.read_code(1) == "NIP\t198703152010011002"
    assert warnings_from(caplog) == []


def test_line_of_only_noise_is_skipped(sim, scanner, caplog):
    sim.send_raw(b"\x00\xff\x00\x00\r\nINV-8\r\n")
    assert scanner.read_code(1) == "INV-8"
    assert len(warnings_from(caplog)) == 1


def test_invalid_utf8_is_dropped_and_the_rest_kept(sim, scanner, caplog):
    sim.send_raw(b"\xffJos\xc3\xa9\xc3 \xfe\r")
    assert scanner.read_code(1) == "José"
    assert len(warnings_from(caplog)) == 1


def test_utf8_names_come_back_intact(sim, scanner, caplog):
    names = ["Dr. Ir. Siti Nurhaliza, M.Sc.", "José Ramos-Horta", "Nguyễn Thị Ánh", "渡辺 さくら"]
    for name in names:
        sim.scan(f"INV|{name}|2024-08-17")
    assert [scanner.read_code(1) for _ in names] == [f"INV|{n}|2024-08-17" for n in names]
    assert warnings_from(caplog) == []


def test_over_long_line_is_discarded_then_next_code_read(sim, caplog):
    with SerialScanner(sim.port, max_length=32) as scanner:
        sim.send_raw(b"Z" * 500)  # a stuck scanner, no line end
        assert scanner.read_code(0.1) is None
        assert len(scanner._buffer) <= 32  # memory stays bounded
        sim.send_raw(b"Z" * 500 + b"\r\nINV-9\r\n")
        assert scanner.read_code(1) == "INV-9"
        sim.send_raw(b"Y" * 40 + b"\rINV-10\r")  # over-long but terminated, in one burst
        assert scanner.read_code(1) == "INV-10"
        assert scanner.read_code(0.05) is None
    assert len(warnings_from(caplog)) == 2


def test_unplugged_scanner_raises_actionable_error(sim, scanner):
    sim.close()
    with pytest.raises(
        ScannerError, match=re.escape(f"QR scanner on {sim.port} is gone: check its USB cable")
    ):
        scanner.read_code(1)


def test_a_port_in_use_by_another_reader_is_refused_not_shared(sim, scanner):
    # kiosk doctor while the core reads: each would get some of the codes
    message = f"QR scanner port {sim.port} is in use by another program (is kiosk-core running? "
    with pytest.raises(ScannerError, match=re.escape(message + "stop it first)") + "$"):
        SerialScanner(sim.port)
    sim.scan("INV-11")
    assert scanner.read_code(1) == "INV-11"
    scanner.close()
    with SerialScanner(sim.port) as second:  # free again once the first one let go
        sim.scan("INV-12")
        assert second.read_code(1) == "INV-12"


@pytest.mark.parametrize("timeout", [None, float("nan"), float("inf"), "1"])
def test_read_without_a_finite_timeout_is_refused(scanner, timeout):
    # waiting forever could not be interrupted: the kiosk would hang on shutdown
    with pytest.raises(ValueError, match="^timeout must be a number of seconds"):
        scanner.read_code(timeout)


def test_missing_port_raises_actionable_error():
    with pytest.raises(ScannerError, match="/dev/ttyNOPE9 not found: check its USB cable"):
        SerialScanner("/dev/ttyNOPE9")


def test_permission_denied_names_the_dialout_group(monkeypatch):
    # Tests run as root here, so reproduce what pyserial raises for a port without rights.
    def denied(url, *args, **kwargs):
        raise serial.SerialException(
            errno.EACCES, f"could not open port {url}: [Errno 13] Permission denied: '{url}'"
        )

    monkeypatch.setattr(serial, "serial_for_url", denied)
    with pytest.raises(ScannerError, match="permission denied: add the kiosk user to the dialout"):
        SerialScanner("/dev/ttyACM0")


def test_unknown_url_scheme_is_a_scanner_error():
    with pytest.raises(ScannerError, match="invalid.*fix the config"):
        SerialScanner("nosuch://scanner")


def test_scanner_error_is_a_device_error():
    assert issubclass(ScannerError, DeviceError)


def test_loop_url_round_trip_and_open_port_left_open():
    port = serial.serial_for_url("loop://", timeout=0)
    port.write("INV-LOOP-ß\r\n".encode())
    with SerialScanner(port) as scanner:
        assert scanner.read_code(1) == "INV-LOOP-ß"
        assert scanner.read_code(0) is None
    assert port.is_open  # the caller's port is the caller's to close
    port.close()
    with SerialScanner("loop://") as scanner:
        assert scanner.read_code(0) is None


MAX = 64
codes = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), include_characters="\t"),
    min_size=1,
    max_size=MAX // 4,
).filter(lambda s: s == s.strip())
terminators = st.sampled_from([b"\r", b"\n", b"\r\n"])
segments = st.lists(
    st.one_of(
        st.binary(max_size=2 * MAX).map(lambda b: (None, b)),
        st.tuples(codes, terminators, terminators).map(
            lambda t: (t[0], t[1] + t[0].encode() + t[2])
        ),
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(segments=segments, data=st.data())
def test_random_noise_never_raises_and_framed_codes_survive(segments, data):
    stream = b"".join(raw for _, raw in segments)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    port = serial.serial_for_url("loop://", timeout=0)
    got = []
    with SerialScanner(port, max_length=MAX) as scanner:
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            port.write(stream[start:end])
            while (code := scanner.read_code(0)) is not None:
                got.append(code)
    port.close()
    remaining = iter(got)
    expected = [code for code, _ in segments if code is not None]
    assert all(code in remaining for code in expected), (expected, got)
