"""Where the kiosk gets the time, and whether that time can be believed.

Every rule about 17.00 or 21.00 reads the time from a ``Clock`` passed in, never from
``datetime.now()``, so the same code runs on the Pi's clock, on a fast simulated clock for
demos, and on a frozen clock that unit tests move by hand.

A Raspberry Pi has no battery-backed clock: after a power cut it boots reading whatever
fake-hwclock saved, or 1970, until NTP answers. ``clock_trust`` decides whether the time is
good enough to switch a gate lock by; until it is, relays hold their configured safe state.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol, runtime_checkable

# A clock reading on or before this day cannot be right: this software did not exist yet.
BUILD_DATE = date(2026, 11, 22)
# systemd-timesyncd creates this file once it has synchronised the clock since boot.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
TIMEDATECTL = ("timedatectl", "show", "-p", "NTPSynchronized", "--value")
EXAMPLE = "2026-11-22T16:59:50+07:00"


@runtime_checkable
class Clock(Protocol):
    """What the kiosk needs from a clock; real and simulated ones are interchangeable."""

    @property
    def tz(self) -> tzinfo:
        """The site's timezone, in which ``now()`` answers."""
        ...

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware, in ``tz``."""
        ...

    def monotonic(self) -> float:
        """Seconds that only ever increase, for timeouts that a clock jump must not break."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The machine's own clock, read in the site's timezone."""

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz

    @property
    def tz(self) -> tzinfo:
        return self._tz

    def now(self) -> datetime:
        return datetime.now(self._tz)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock that starts at a chosen moment and runs at ``speed`` times real time.

    Demos start it a few seconds before 17.00 at 60x to watch the lights switch; unit tests
    use ``speed=0`` and move it only with ``advance`` and ``jump``. All methods are
    thread-safe. ``monotonic()`` counts simulated seconds and, like the real one, ignores
    ``jump``: a wall-clock jump must not fire or cancel every pending timeout.
    """

    def __init__(self, start: datetime, *, speed: float = 1.0, tz: tzinfo | None = None) -> None:
        zone = tz or start.tzinfo
        if zone is None:
            raise ValueError("a simulated clock needs a timezone: give an aware start or tz=")
        self._tz = zone
        self._speed = _checked_speed(speed)
        self._cond = threading.Condition()
        self._real0 = time.monotonic()
        self._wall0 = _aware(start, zone).astimezone(UTC)
        self._mono0 = 0.0
        self._jumps = 0

    @property
    def tz(self) -> tzinfo:
        return self._tz

    @property
    def speed(self) -> float:
        """Simulated seconds per real second; 0 is a frozen clock."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = _checked_speed(value)
        with self._cond:
            self._rebase()
            self._speed = value
            self._cond.notify_all()

    def now(self) -> datetime:
        with self._cond:
            wall = self._wall0 + timedelta(seconds=self._elapsed())
        return wall.astimezone(self._tz)

    def monotonic(self) -> float:
        with self._cond:
            return self._mono0 + self._elapsed()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (``seconds / speed`` of real time).

        On a frozen clock this waits until ``advance`` has moved the clock far enough. A
        ``jump`` ends every sleep early, so a loop re-reads the time at once, as it would
        on its next tick after the real clock is set.
        """
        if seconds <= 0:
            return
        with self._cond:
            target = self._mono0 + self._elapsed() + seconds
            jumps = self._jumps
            while self._jumps == jumps:
                remaining = target - (self._mono0 + self._elapsed())
                if remaining <= 0:
                    return
                speed = self._speed
                self._cond.wait(min(remaining / speed, threading.TIMEOUT_MAX) if speed else None)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``, waking sleepers whose time has come."""
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"advance takes a finite number of seconds >= 0, not {seconds!r}")
        with self._cond:
            self._rebase()
            self._wall0 += timedelta(seconds=seconds)
            self._mono0 += seconds
            self._cond.notify_all()

    def jump(self, to: datetime) -> None:
        """Set the wall clock to ``to``, forward or back, as NTP or a guard might."""
        with self._cond:
            self._rebase()
            self._wall0 = _aware(to, self._tz).astimezone(UTC)
            self._jumps += 1
            self._cond.notify_all()

    def _elapsed(self) -> float:
        return (time.monotonic() - self._real0) * self._speed

    def _rebase(self) -> None:
        """Fold the time run so far into the anchors, before changing speed or position."""
        real = time.monotonic()
        elapsed = (real - self._real0) * self._speed
        self._real0 = real
        self._wall0 += timedelta(seconds=elapsed)
        self._mono0 += elapsed


def _checked_speed(speed: float) -> float:
    if not speed >= 0 or math.isinf(speed):
        raise ValueError(f"speed must be a finite number >= 0 (0 = frozen), not {speed!r}")
    return float(speed)


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def parse_clock_arg(text: str, tz: tzinfo | None = None) -> datetime:
    """Read a start time such as ``2026-11-22T16:59:50+07:00`` given on the command line.

    A time without an offset is taken in ``tz`` (the site's timezone); with no ``tz`` the
    offset is required, since guessing would shift every relay by hours.

    Raises:
        ValueError: naming the text and showing a valid example.
    """
    stripped = text.strip()
    try:
        date.fromisoformat(stripped)
    except ValueError:
        pass
    else:
        raise ValueError(f"{text!r}: a date without a time of day; use e.g. {EXAMPLE}")
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"{text!r}: not an ISO 8601 date and time; use e.g. {EXAMPLE}"
        ) from None
    if moment.tzinfo is None:
        if tz is None:
            raise ValueError(f"{text!r}: no UTC offset; add one, e.g. {EXAMPLE}")
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz) if tz is not None else moment


@dataclass(frozen=True)
class Trust:
    """Whether relays may follow the clock; ``reason`` is shown to the guard and logged."""

    trusted: bool
    reason: str


def clock_trust(now: datetime, *, build_date: date = BUILD_DATE, ntp_synchronized: bool) -> Trust:
    """Decide whether ``now`` is good enough to switch relays by.

    NTP having synchronised is proof. Without it, a date after the build date is taken as
    good, since a Pi without network keeps its time across a reboot only roughly (through
    fake-hwclock) and an office offline for days must still lock its gate. A date on or
    before the build date is certainly wrong: the relays then hold their safe state.
    """
    today = now.date()
    if ntp_synchronized:
        return Trust(True, "clock synchronised (NTP)")
    if today > build_date:
        return Trust(
            True,
            f"clock not synchronised (NTP) but reads {today}, after this software was built "
            f"({build_date})",
        )
    when = "the day" if today == build_date else "before"
    return Trust(
        False,
        f"clock not synchronised (NTP) and reads {today}, {when} this software was built "
        f"({build_date}): relays hold their safe state",
    )


def ntp_synchronized(
    flag: Path = TIMESYNC_FLAG,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> bool:
    """Whether the system clock has been synchronised by NTP since boot.

    systemd-timesyncd's flag file is the cheap answer; ``timedatectl`` also covers chrony
    and ntpd. Any failure to find out counts as not synchronised, because trusting a wrong
    clock could unlock the gate at night.
    """
    try:
        if flag.exists():
            return True
        result = run(list(TIMEDATECTL), capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and result.stdout.strip() == "yes"
