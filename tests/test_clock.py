import datetime as dt
import subprocess
import threading
import time
from zoneinfo import ZoneInfo

import pytest

from kiosk.clock import (
    BUILD_DATE,
    Clock,
    SimulatedClock,
    SystemClock,
    Trust,
    clock_trust,
    ntp_synchronized,
    parse_clock_arg,
)

WIB = ZoneInfo("Asia/Jakarta")
START = dt.datetime(2026, 11, 22, 16, 59, 50, tzinfo=WIB)


def test_both_clocks_satisfy_the_protocol():
    assert isinstance(SystemClock(WIB), Clock)
    assert isinstance(SimulatedClock(START), Clock)


def test_system_clock_reads_the_site_zone():
    clock = SystemClock(WIB)
    now = clock.now()
    assert now.tzinfo is WIB and clock.tz is WIB
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    before = clock.monotonic()
    clock.sleep(0.01)
    clock.sleep(-1)  # a negative wait is no wait, not an exception
    assert clock.monotonic() - before >= 0.01


def test_frozen_clock_moves_only_when_told():
    clock = SimulatedClock(START, speed=0)
    mono = clock.monotonic()
    time.sleep(0.02)
    assert clock.now() == START and clock.monotonic() == mono
    clock.advance(10)
    assert clock.now() == START + dt.timedelta(seconds=10)
    assert clock.monotonic() == mono + 10
    clock.advance(0)
    assert clock.now().tzinfo is WIB


def test_speed_runs_clock_time_faster_than_real_time():
    clock = SimulatedClock(START, speed=600)
    real = time.monotonic()
    clock.sleep(60)  # a simulated minute: a tenth of a real second
    elapsed = time.monotonic() - real
    assert 0.09 <= elapsed < 1.0
    assert clock.now() - START >= dt.timedelta(seconds=60)
    assert clock.now() - START < dt.timedelta(seconds=60 + 600 * 1.0)


def test_speed_can_change_without_a_jump():
    clock = SimulatedClock(START, speed=0)
    clock.speed = 1000
    time.sleep(0.05)
    clock.speed = 0
    moved = clock.now() - START
    assert dt.timedelta(seconds=40) <= moved < dt.timedelta(seconds=1000)
    time.sleep(0.02)
    assert clock.now() - START == moved and clock.speed == 0


def test_jump_forward_and_back_leaves_monotonic_alone():
    clock = SimulatedClock(START, speed=0)
    mono = clock.monotonic()
    later = dt.datetime(2026, 11, 23, 6, 0, tzinfo=WIB)
    clock.jump(later)
    assert clock.now() == later
    clock.jump(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert clock.now() == dt.datetime(2000, 1, 1, 7, 0, tzinfo=WIB)
    assert clock.now().tzinfo is WIB
    assert clock.monotonic() == mono
    clock.jump(dt.datetime(2026, 11, 22, 21, 0))  # naive: taken in the clock's zone
    assert clock.now() == dt.datetime(2026, 11, 22, 21, 0, tzinfo=WIB)


def test_running_clock_keeps_running_after_a_jump():
    clock = SimulatedClock(START, speed=100)
    target = dt.datetime(2026, 11, 23, 5, 29, 50, tzinfo=WIB)
    clock.jump(target)
    clock.sleep(5)
    assert target + dt.timedelta(seconds=5) <= clock.now() < target + dt.timedelta(seconds=60)


def test_start_in_another_zone_reads_in_tz():
    clock = SimulatedClock(START.astimezone(dt.UTC), speed=0, tz=WIB)
    assert clock.now() == START and clock.now().tzinfo is WIB
    naive = SimulatedClock(dt.datetime(2026, 11, 22, 17), speed=0, tz=WIB)
    assert naive.now() == dt.datetime(2026, 11, 22, 17, tzinfo=WIB)


@pytest.mark.parametrize("speed", [-1, float("nan"), float("inf")])
def test_bad_speed_is_refused(speed):
    with pytest.raises(ValueError, match="speed"):
        SimulatedClock(START, speed=speed)


def test_naive_start_without_tz_and_backward_advance_are_refused():
    with pytest.raises(ValueError, match="timezone"):
        SimulatedClock(dt.datetime(2026, 11, 22, 17))
    with pytest.raises(ValueError, match="advance"):
        SimulatedClock(START, speed=0).advance(-1)


def sleeper(clock, seconds):
    done = threading.Event()

    def run():
        clock.sleep(seconds)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return done


def test_sleep_on_a_frozen_clock_waits_for_advance():
    clock = SimulatedClock(START, speed=0)
    done = sleeper(clock, 10)
    assert not done.wait(0.05)
    clock.advance(9)
    assert not done.wait(0.05)
    clock.advance(1)
    assert done.wait(2)


def test_jump_wakes_sleepers_so_loops_re_read_the_time():
    clock = SimulatedClock(START, speed=0)
    done = sleeper(clock, 3600)
    assert not done.wait(0.05)
    clock.jump(START + dt.timedelta(hours=2))
    assert done.wait(2)


def test_speeding_up_wakes_sleepers_sooner():
    clock = SimulatedClock(START, speed=1)
    done = sleeper(clock, 3600)
    assert not done.wait(0.05)
    clock.speed = 1_000_000
    assert done.wait(2)


def test_thread_safe_under_concurrent_advance_and_reads():
    clock = SimulatedClock(START, speed=0)
    problems = []

    def advance():
        for _ in range(500):
            clock.advance(1)

    def read():
        last_now, last_mono = clock.now(), clock.monotonic()
        for _ in range(2000):
            now, mono = clock.now(), clock.monotonic()
            if now < last_now or mono < last_mono:
                problems.append((last_now, now))
            last_now, last_mono = now, mono

    threads = [threading.Thread(target=advance) for _ in range(4)]
    threads += [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    assert clock.now() == START + dt.timedelta(seconds=2000)
    assert clock.monotonic() == 2000


def test_running_clock_is_monotonic_across_threads():
    clock = SimulatedClock(START, speed=60)
    problems = []

    def read():
        last = clock.monotonic()
        for _ in range(3000):
            value = clock.monotonic()
            if value < last:
                problems.append((last, value))
            last = value

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(50):
        clock.speed = 60 if clock.speed == 120 else 120
    for thread in threads:
        thread.join()
    assert problems == []


# --- parse_clock_arg ----------------------------------------------------------------------


def test_parse_clock_arg_with_offset():
    assert parse_clock_arg("2026-11-22T16:59:50+07:00") == START
    assert parse_clock_arg(" 2026-11-22T09:59:50Z ") == START
    parsed = parse_clock_arg("2026-11-22T09:59:50+00:00", WIB)
    assert parsed == START and parsed.tzinfo is WIB


def test_parse_clock_arg_without_offset_takes_the_site_zone():
    parsed = parse_clock_arg("2026-11-22T16:59:50", WIB)
    assert parsed == START and parsed.tzinfo is WIB
    assert parse_clock_arg("2026-11-22 16:59", WIB) == START.replace(second=0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("2026-11-22T16:59:50", "no UTC offset"),
        ("kemarin", "not an ISO 8601"),
        ("", "not an ISO 8601"),
        ("2026-13-01T10:00:00+07:00", "not an ISO 8601"),
        ("22/11/2026 16:59", "not an ISO 8601"),
        ("2026-11-22", "without a time of day"),
    ],
)
def test_parse_clock_arg_errors(text, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_clock_arg(text)
    assert "2026-11-22T16:59:50+07:00" in str(info.value)  # every error shows an example


# --- trust ---------------------------------------------------------------------------------


def test_build_date():
    assert BUILD_DATE == dt.date(2026, 11, 22)


def test_ntp_synchronised_clock_is_trusted_whatever_it_reads():
    trust = clock_trust(dt.datetime(2000, 1, 1, tzinfo=WIB), build_date=BUILD_DATE,
                        ntp_synchronized=True)
    assert trust == Trust(True, "clock synchronised (NTP)")


def test_clock_after_the_build_date_is_trusted_without_ntp():
    trust = clock_trust(dt.datetime(2026, 11, 23, 0, 0, tzinfo=WIB), build_date=BUILD_DATE,
                        ntp_synchronized=False)
    assert trust.trusted and "after this software was built (2026-11-22)" in trust.reason


def test_clock_before_or_on_the_build_date_is_untrusted_without_ntp():
    trust = clock_trust(dt.datetime(2000, 1, 1, tzinfo=WIB), build_date=BUILD_DATE,
                        ntp_synchronized=False)
    assert trust == Trust(
        False,
        "clock not synchronised (NTP) and reads 2000-01-01, before this software was built "
        "(2026-11-22): relays hold their safe state",
    )
    same_day = clock_trust(dt.datetime(2026, 11, 22, 23, 59, tzinfo=WIB),
                           build_date=BUILD_DATE, ntp_synchronized=False)
    assert not same_day.trusted and "the day this software was built" in same_day.reason


def fake_run(stdout="", returncode=0, raises=None):
    calls = []

    def run(args, **kwargs):
        calls.append((args, kwargs))
        if raises is not None:
            raise raises
        return subprocess.CompletedProcess(args, returncode, stdout=stdout, stderr="")

    run.calls = calls
    return run


def test_ntp_flag_file_is_enough(tmp_path):
    flag = tmp_path / "synchronized"
    flag.touch()
    run = fake_run(raises=AssertionError("timedatectl should not be asked"))
    assert ntp_synchronized(flag, run) is True


def test_ntp_falls_back_to_timedatectl(tmp_path):
    missing = tmp_path / "synchronized"
    run = fake_run("yes\n")
    assert ntp_synchronized(missing, run) is True
    args, kwargs = run.calls[0]
    assert args == ["timedatectl", "show", "-p", "NTPSynchronized", "--value"]
    assert 0 < kwargs["timeout"] <= 5
    assert ntp_synchronized(missing, fake_run("no\n")) is False


@pytest.mark.parametrize(
    "run",
    [
        fake_run(raises=FileNotFoundError("timedatectl")),
        fake_run(raises=subprocess.TimeoutExpired("timedatectl", 3)),
        fake_run(raises=PermissionError("denied")),
        fake_run("yes\n", returncode=1),
        fake_run(""),
    ],
)
def test_any_failure_means_not_synchronised(tmp_path, run):
    assert ntp_synchronized(tmp_path / "synchronized", run) is False
