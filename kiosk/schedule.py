"""What each relay should be doing right now, as a pure function of the time and the post's state.

The core does not switch relays on timers. It asks ``desired_state`` again and again and
makes the relay match, so a start at 18.10, a clock jump or a missed tick all end in the right
state. Nothing here reads the clock, touches hardware or keeps state.

An interval belongs to the day it starts on: "17:00-05:30" on a Friday runs from Friday 17:00
to Saturday 05:30. It applies on date D when D's day key is in its ``days``; the day key is
"holiday" for a date in the holidays set and the weekday ("mon".."sun") otherwise, so a
holiday runs the holiday intervals instead of that weekday's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from kiosk.config import WEEKDAYS, Interval, RelaySettings

# How far ahead next_change looks; a week covers every weekday pattern, the extra day covers
# an interval that starts late on the same weekday a week on.
HORIZON = timedelta(days=8)


@dataclass(frozen=True)
class Override:
    """A guard's explicit decision for one relay, which beats the schedule until it expires."""

    relay: str
    on: bool
    reason: str
    actor: str
    expires_at: datetime | None  # None: until cancelled


@dataclass(frozen=True)
class Desired:
    """The state a relay should be in and why, for the log line and the dashboard."""

    on: bool
    source: str  # "schedule" | "override" | "alarm" | "safe_state"
    reason: str


def day_key(day: date, holidays: frozenset[date] = frozenset()) -> str:
    """The key that decides which intervals start on ``day``."""
    return "holiday" if day in holidays else WEEKDAYS[day.weekday()]


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{now!r} has no timezone: pass the clock's aware time")


def _at(day: date, when: time, like: datetime) -> datetime:
    """``day`` at ``when`` in ``like``'s timezone, as a UTC instant for safe comparison."""
    return datetime.combine(day, when, tzinfo=like.tzinfo).astimezone(UTC)


def _runs(
    relay: RelaySettings, first: date, last: date, like: datetime, holidays: frozenset[date]
) -> Iterator[tuple[Interval, datetime, datetime]]:
    """Every (interval, start, end) of ``relay`` that starts on a day from ``first`` to ``last``."""
    day = first
    while day <= last:
        key = day_key(day, holidays)
        for interval in relay.schedule:
            if key in interval.days:
                end_day = day + timedelta(days=1) if interval.off < interval.on else day
                yield interval, _at(day, interval.on, like), _at(end_day, interval.off, like)
        day += timedelta(days=1)


def _applying(
    relay: RelaySettings, now: datetime, holidays: frozenset[date]
) -> Interval | None:
    """The first interval that has the relay on at ``now``, if any."""
    _require_aware(now)
    instant = now.astimezone(UTC)
    today = now.date()
    for interval, start, end in _runs(relay, today - timedelta(days=1), today, now, holidays):
        if start <= instant < end:
            return interval
    return None


def scheduled_on(
    relay: RelaySettings, now: datetime, holidays: frozenset[date] = frozenset()
) -> bool:
    """Whether the schedule has ``relay`` on at ``now``.

    Intervals include their on instant and exclude their off instant, so 17:00:00 is on and
    05:30:00 is off. Days are taken in ``now``'s timezone, which must be the site's.
    """
    return _applying(relay, now, holidays) is not None


def next_change(
    relay: RelaySettings, now: datetime, holidays: frozenset[date] = frozenset()
) -> datetime | None:
    """The first instant after ``now`` at which ``scheduled_on`` flips, in ``now``'s timezone.

    None when it stays the same for the next eight days (no schedule, an always-on
    schedule, or intervals only on days that do not come up, such as holidays).
    """
    _require_aware(now)
    today = now.date()
    instant = now.astimezone(UTC)
    limit = instant + HORIZON
    edges = set()
    for _, start, end in _runs(relay, today - timedelta(days=1), today + HORIZON, now, holidays):
        edges.update(edge for edge in (start, end) if instant < edge <= limit)
    current = scheduled_on(relay, now, holidays)
    # scheduled_on only changes at interval edges; an edge can be no change where intervals
    # overlap or meet, so each is checked.
    for edge in sorted(edges):
        local = edge.astimezone(now.tzinfo)
        if scheduled_on(relay, local, holidays) != current:
            return local
    return None


def override_expiry(
    relay: RelaySettings, now: datetime, *, minutes: int | None, holidays: frozenset[date]
) -> datetime | None:
    """When a guard's override made at ``now`` ends.

    ``minutes`` from now, or with None at the next scheduled change, so that switching the
    lights on early hands back to the schedule by itself. None (until cancelled) when the
    relay has no scheduled change to hand back to.
    """
    _require_aware(now)
    if minutes is not None:
        if minutes <= 0:
            raise ValueError(f"an override lasts a positive number of minutes, not {minutes}")
        return now + timedelta(minutes=minutes)
    return next_change(relay, now, holidays)


def desired_state(
    relay_name: str,
    relay: RelaySettings,
    now: datetime,
    *,
    trusted: bool,
    trust_reason: str = "",
    overrides: Mapping[str, Override],
    alarm_effects: Mapping[str, tuple[bool, str]],
    holidays: frozenset[date],
) -> Desired:
    """The state ``relay_name`` should be in at ``now``, and why.

    Precedence, strongest first: an alarm effect (people must get out, so fire unlocks the
    gate even on an untrusted clock); a guard's unexpired override (an explicit decision by
    someone looking at the gate); the configured safe state while the clock is untrusted;
    the schedule. ``alarm_effects`` maps a relay name to (on, reason), e.g.
    ``(False, "alarm fire")``; the reason is used as given.
    """
    _require_aware(now)
    if relay_name in alarm_effects:
        on, reason = alarm_effects[relay_name]
        return Desired(on, "alarm", reason)
    override = overrides.get(relay_name)
    if override is not None and (override.expires_at is None or override.expires_at > now):
        until = "cancelled" if override.expires_at is None else _when(override.expires_at, now)
        reason = f"override by {override.actor} until {until}: {override.reason}"
        return Desired(override.on, "override", reason)
    if not trusted:
        reason = f"clock untrusted: {trust_reason}" if trust_reason else "clock untrusted"
        return Desired(relay.safe_state == "on", "safe_state", reason)
    interval = _applying(relay, now, holidays)
    if interval is not None:
        return Desired(True, "schedule", f"schedule: on {_hm(interval.on)}-{_hm(interval.off)}")
    if not relay.schedule:
        return Desired(False, "schedule", "schedule: off (no intervals configured)")
    change = next_change(relay, now, holidays)
    reason = f"schedule: off until {_when(change, now)}" if change else "schedule: off"
    return Desired(False, "schedule", reason)


def _hm(when: time) -> str:
    return when.strftime("%H:%M:%S" if when.second else "%H:%M")


def _when(moment: datetime, now: datetime) -> str:
    """A time of day when it is within a day of ``now`` (unambiguous then), else with a date."""
    local = moment.astimezone(now.tzinfo)
    if timedelta(0) <= local - now < timedelta(days=1):
        return _hm(local.time())
    return f"{local.date()} {_hm(local.time())}"
