import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.config import DAY_KEYS, WEEKDAYS, Interval, RelaySettings, Settings
from kiosk.schedule import (
    Desired,
    Override,
    day_key,
    desired_state,
    next_change,
    override_expiry,
    scheduled_on,
)

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
DEFAULTS = Settings().relays
LIGHTS = DEFAULTS["lights"]
GATE = DEFAULTS["gate_lock"]
SUNDAY = dt.date(2026, 11, 22)
CHRISTMAS = dt.date(2026, 12, 25)  # a Friday
NO_HOLIDAYS: frozenset[dt.date] = frozenset()


def at(day, hh, mm=0, ss=0, tz=WIB):
    return dt.datetime.combine(day, dt.time(hh, mm, ss), tzinfo=tz)


def relay(*intervals, safe_state="off"):
    return RelaySettings(pin=5, safe_state=safe_state, schedule=tuple(intervals))


def interval(on, off, days=DAY_KEYS):
    return Interval(on=on, off=off, days=tuple(days))


def desired(name, rel, now, **kw):
    kw.setdefault("trusted", True)
    kw.setdefault("overrides", {})
    kw.setdefault("alarm_effects", {})
    kw.setdefault("holidays", NO_HOLIDAYS)
    return desired_state(name, rel, now, **kw)


def test_defaults_are_the_issue_times():
    assert [(i.on, i.off) for i in LIGHTS.schedule] == [(dt.time(17), dt.time(5, 30))]
    assert [(i.on, i.off) for i in GATE.schedule] == [(dt.time(21), dt.time(6))]


@pytest.mark.parametrize("day", [SUNDAY, dt.date(2026, 11, 25), CHRISTMAS])
def test_whole_day_minute_by_minute(day):
    holidays = frozenset({CHRISTMAS})
    for minute in range(24 * 60):
        now = at(day, 0) + dt.timedelta(minutes=minute)
        lights = desired("lights", LIGHTS, now, holidays=holidays)
        gate = desired("gate_lock", GATE, now, holidays=holidays)
        assert lights.on == (minute >= 17 * 60 or minute < 5 * 60 + 30), now
        assert gate.on == (minute >= 21 * 60 or minute < 6 * 60), now
        assert lights.source == gate.source == "schedule"


@pytest.mark.parametrize(
    ("rel", "hms", "expected"),
    [
        (LIGHTS, (16, 59, 59), False),
        (LIGHTS, (17, 0, 0), True),
        (LIGHTS, (5, 29, 59), True),
        (LIGHTS, (5, 30, 0), False),
        (GATE, (20, 59, 59), False),
        (GATE, (21, 0, 0), True),
        (GATE, (5, 59, 59), True),
        (GATE, (6, 0, 0), False),
        (LIGHTS, (23, 59, 59), True),
        (LIGHTS, (0, 0, 0), True),
        (GATE, (23, 59, 59), True),
        (GATE, (0, 0, 0), True),
    ],
)
def test_exact_boundaries(rel, hms, expected):
    assert scheduled_on(rel, at(SUNDAY, *hms)) is expected


def test_boundaries_hold_to_the_microsecond():
    just_before = at(SUNDAY, 17) - dt.timedelta(microseconds=1)
    assert not scheduled_on(LIGHTS, just_before)
    assert scheduled_on(LIGHTS, at(SUNDAY, 5, 30) - dt.timedelta(microseconds=1))


def test_midnight_keeps_both_relays_on_and_reason():
    before, after = at(SUNDAY, 23, 59, 59), at(SUNDAY + dt.timedelta(days=1), 0)
    for now in (before, after):
        state = desired("lights", LIGHTS, now)
        assert state == Desired(True, "schedule", "schedule: on 17:00-05:30")


def test_off_reason_names_the_next_change():
    assert desired("lights", LIGHTS, at(SUNDAY, 12)).reason == "schedule: off until 17:00"
    weekly = relay(interval(dt.time(8), dt.time(9), ["mon"]))
    assert desired("x", weekly, at(SUNDAY, 12)).reason == "schedule: off until 08:00"
    assert desired("x", weekly, at(SUNDAY, 7)).reason == "schedule: off until 2026-11-23 08:00"
    assert desired("x", relay(), at(SUNDAY, 12)).reason.startswith("schedule: off (no interval")


def test_time_is_read_in_the_timezone_of_now():
    utc_noon = dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC)  # 17:30 WIB, 19:30 WIT
    assert scheduled_on(LIGHTS, utc_noon.astimezone(WIB))
    assert not scheduled_on(relay(interval(dt.time(19), dt.time(20))), utc_noon.astimezone(WIB))
    assert scheduled_on(relay(interval(dt.time(19), dt.time(20))), utc_noon.astimezone(WIT))
    with pytest.raises(ValueError, match="no timezone"):
        scheduled_on(LIGHTS, dt.datetime(2026, 11, 22, 17))


def test_weekday_intervals():
    office = relay(interval(dt.time(7, 30), dt.time(16), ["mon", "tue", "wed", "thu", "fri"]))
    monday, saturday = dt.date(2026, 11, 23), dt.date(2026, 11, 28)
    assert scheduled_on(office, at(monday, 8))
    assert not scheduled_on(office, at(saturday, 8))
    assert not scheduled_on(office, at(SUNDAY, 8))


def test_overnight_interval_belongs_to_its_start_day():
    friday_nights = relay(interval(dt.time(22), dt.time(2), ["fri"]))
    friday, saturday = dt.date(2026, 11, 27), dt.date(2026, 11, 28)
    assert scheduled_on(friday_nights, at(saturday, 1, 59, 59))
    assert not scheduled_on(friday_nights, at(saturday, 2))
    assert not scheduled_on(friday_nights, at(friday, 1))  # would be Thursday's interval
    assert not scheduled_on(friday_nights, at(saturday, 22))


def test_holiday_replaces_the_weekday():
    holidays = frozenset({CHRISTMAS})
    weekdays_only = relay(interval(dt.time(17), dt.time(5, 30), WEEKDAYS))
    eve, boxing_day = CHRISTMAS - dt.timedelta(days=1), CHRISTMAS + dt.timedelta(days=1)
    assert day_key(CHRISTMAS, holidays) == "holiday" and day_key(CHRISTMAS) == "fri"
    # Thursday's interval starts on the holiday eve and runs into the holiday morning.
    assert scheduled_on(weekdays_only, at(eve, 17), holidays)
    assert scheduled_on(weekdays_only, at(CHRISTMAS, 5, 29, 59), holidays)
    assert not scheduled_on(weekdays_only, at(CHRISTMAS, 5, 30), holidays)
    # No interval starts on the holiday itself, so its evening and the next morning are dark.
    assert not scheduled_on(weekdays_only, at(CHRISTMAS, 17), holidays)
    assert not scheduled_on(weekdays_only, at(boxing_day, 4), holidays)
    assert scheduled_on(weekdays_only, at(boxing_day, 17), holidays)
    # Without the holiday it is an ordinary Friday.
    assert scheduled_on(weekdays_only, at(CHRISTMAS, 17))


def test_holiday_only_interval_runs_from_the_holiday_into_the_next_day():
    holidays = frozenset({CHRISTMAS})
    holiday_nights = relay(interval(dt.time(18), dt.time(6), ["holiday"]))
    eve, boxing_day = CHRISTMAS - dt.timedelta(days=1), CHRISTMAS + dt.timedelta(days=1)
    assert not scheduled_on(holiday_nights, at(eve, 19), holidays)
    assert scheduled_on(holiday_nights, at(CHRISTMAS, 18), holidays)
    assert scheduled_on(holiday_nights, at(boxing_day, 5, 59, 59), holidays)
    assert not scheduled_on(holiday_nights, at(boxing_day, 6), holidays)
    assert not scheduled_on(holiday_nights, at(boxing_day, 18), holidays)
    assert next_change(holiday_nights, at(eve, 12), holidays) == at(CHRISTMAS, 18)
    assert next_change(holiday_nights, at(eve, 12)) is None


def test_several_and_overlapping_intervals():
    split = relay(interval(dt.time(6), dt.time(8)), interval(dt.time(18), dt.time(22)))
    expected = {5: False, 6: True, 7: True, 8: False, 17: False, 18: True, 21: True, 22: False}
    for hour, on in expected.items():
        assert scheduled_on(split, at(SUNDAY, hour)) is on, hour
    overlapping = relay(interval(dt.time(17), dt.time(5, 30)), interval(dt.time(5), dt.time(6)))
    assert scheduled_on(overlapping, at(SUNDAY, 5, 45))
    assert next_change(overlapping, at(SUNDAY, 1)) == at(SUNDAY, 6)
    touching = relay(interval(dt.time(8), dt.time(12)), interval(dt.time(12), dt.time(13)))
    assert scheduled_on(touching, at(SUNDAY, 12))
    assert next_change(touching, at(SUNDAY, 9)) == at(SUNDAY, 13)


def test_next_change_across_midnight_and_days():
    monday = SUNDAY + dt.timedelta(days=1)
    assert next_change(LIGHTS, at(SUNDAY, 12)) == at(SUNDAY, 17)
    assert next_change(LIGHTS, at(SUNDAY, 16, 59, 59)) == at(SUNDAY, 17)
    assert next_change(LIGHTS, at(SUNDAY, 17)) == at(monday, 5, 30)
    assert next_change(LIGHTS, at(SUNDAY, 23, 59, 59)) == at(monday, 5, 30)
    assert next_change(GATE, at(monday, 0)) == at(monday, 6)
    assert next_change(LIGHTS, at(SUNDAY, 12)).tzinfo is WIB
    weekly = relay(interval(dt.time(8), dt.time(9), ["mon"]))
    assert next_change(weekly, at(monday, 9)) == at(monday + dt.timedelta(days=7), 8)
    sunday_late = relay(interval(dt.time(23), dt.time(1), ["sun"]))
    assert next_change(sunday_late, at(SUNDAY, 23, 30)) == at(monday, 1)
    assert next_change(sunday_late, at(monday, 1)) == at(SUNDAY + dt.timedelta(days=7), 23)


def test_next_change_none_when_nothing_changes():
    assert next_change(relay(), at(SUNDAY, 12)) is None
    always = relay(interval(dt.time(0), dt.time(12)), interval(dt.time(12), dt.time(0)))
    assert scheduled_on(always, at(SUNDAY, 3)) and next_change(always, at(SUNDAY, 3)) is None
    assert desired("x", always, at(SUNDAY, 3)).on


def test_override_beats_schedule_until_it_expires():
    now = at(SUNDAY, 16)
    override = Override("lights", True, "lampu taman", "Budi", at(SUNDAY, 18, 30))
    state = desired("lights", LIGHTS, now, overrides={"lights": override})
    assert state == Desired(True, "override", "override by Budi until 18:30: lampu taman")
    dark = Override("lights", False, "hemat listrik", "Sari", at(SUNDAY, 18))
    assert not desired("lights", LIGHTS, at(SUNDAY, 17, 59, 59), overrides={"lights": dark}).on
    expired = desired("lights", LIGHTS, at(SUNDAY, 18), overrides={"lights": dark})
    assert expired.on and expired.source == "schedule"
    # An override for one relay leaves the other alone.
    assert desired("gate_lock", GATE, now, overrides={"lights": override}).source == "schedule"


def test_override_until_cancelled_and_across_days():
    forever = Override("gate_lock", True, "renovasi", "Budi", None)
    state = desired("gate_lock", GATE, at(SUNDAY, 12), overrides={"gate_lock": forever})
    assert state.on and state.reason == "override by Budi until cancelled: renovasi"
    long = Override("gate_lock", False, "acara", "Budi", at(SUNDAY, 12) + dt.timedelta(days=2))
    state = desired("gate_lock", GATE, at(SUNDAY, 22), overrides={"gate_lock": long})
    assert not state.on and "until 2026-11-24 12:00" in state.reason


def test_override_beats_untrusted_clock():
    override = Override("gate_lock", True, "malam", "Budi", None)
    state = desired("gate_lock", GATE, at(SUNDAY, 12), trusted=False,
                    overrides={"gate_lock": override})
    assert state.on and state.source == "override"


def test_alarm_beats_everything():
    override = Override("gate_lock", True, "kunci", "Budi", None)
    for trusted in (True, False):
        state = desired("gate_lock", GATE, at(SUNDAY, 23), trusted=trusted,
                        overrides={"gate_lock": override},
                        alarm_effects={"gate_lock": (False, "alarm fire")})
        assert state == Desired(False, "alarm", "alarm fire")
    lights = desired("lights", LIGHTS, at(SUNDAY, 12),
                     alarm_effects={"lights": (True, "alarm evacuation")})
    assert lights == Desired(True, "alarm", "alarm evacuation")


def test_untrusted_clock_holds_the_safe_state():
    reason = "clock not synchronised (NTP) and reads 2000-01-01"
    lights = desired("lights", LIGHTS, at(SUNDAY, 12), trusted=False, trust_reason=reason)
    assert lights == Desired(True, "safe_state", f"clock untrusted: {reason}")
    gate = desired("gate_lock", GATE, at(SUNDAY, 23), trusted=False)
    assert gate == Desired(False, "safe_state", "clock untrusted")


def test_override_expiry():
    now = at(SUNDAY, 16)
    assert override_expiry(LIGHTS, now, minutes=30, holidays=NO_HOLIDAYS) == at(SUNDAY, 16, 30)
    assert override_expiry(LIGHTS, now, minutes=None, holidays=NO_HOLIDAYS) == at(SUNDAY, 17)
    late = at(SUNDAY, 22)
    tomorrow = SUNDAY + dt.timedelta(days=1)
    assert override_expiry(GATE, late, minutes=None, holidays=NO_HOLIDAYS) == at(tomorrow, 6)
    assert override_expiry(relay(), now, minutes=None, holidays=NO_HOLIDAYS) is None
    with pytest.raises(ValueError, match="positive"):
        override_expiry(LIGHTS, now, minutes=0, holidays=NO_HOLIDAYS)


# --- properties -------------------------------------------------------------------------

times = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
relays = st.lists(
    st.tuples(times, times, st.lists(st.sampled_from(DAY_KEYS), min_size=1, unique=True))
    .filter(lambda t: t[0] != t[1]),
    max_size=3,
).map(lambda specs: relay(*(interval(*spec) for spec in specs)))
moments = st.builds(
    lambda offset, tz: (at(SUNDAY, 0) + dt.timedelta(seconds=offset)).replace(tzinfo=tz),
    st.integers(0, 21 * 86400), st.sampled_from([WIB, WIT]),
)
holiday_sets = st.frozensets(
    st.builds(lambda n: SUNDAY + dt.timedelta(days=n), st.integers(-2, 30)), max_size=6
)


def reference_on(rel, now, holidays):
    """An independent oracle: minutes of the day and the day keys of today and yesterday."""
    def key(day):
        return "holiday" if day in holidays else WEEKDAYS[day.weekday()]

    t = now.time().replace(tzinfo=None)
    today, yesterday = key(now.date()), key(now.date() - dt.timedelta(days=1))
    for i in rel.schedule:
        if i.on < i.off and today in i.days and i.on <= t < i.off:
            return True
        if i.off < i.on and ((today in i.days and t >= i.on)
                             or (yesterday in i.days and t < i.off)):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(relays, moments, holiday_sets)
def test_scheduled_on_matches_the_reference(rel, now, holidays):
    assert scheduled_on(rel, now, holidays) == reference_on(rel, now, holidays)


@settings(max_examples=300, deadline=None)
@given(relays, moments, holiday_sets, st.lists(st.floats(0, 1), min_size=3, max_size=6))
def test_constant_until_next_change_then_flips(rel, now, holidays, fractions):
    state = scheduled_on(rel, now, holidays)
    change = next_change(rel, now, holidays)
    end = change if change is not None else now + dt.timedelta(days=8)
    assert end > now
    samples = [now + (end - now) * f for f in fractions] + [end - dt.timedelta(seconds=1)]
    for sample in samples:
        if now <= sample < end:
            assert scheduled_on(rel, sample, holidays) == state, sample
    if change is not None:
        assert change - now <= dt.timedelta(days=8)
        assert scheduled_on(rel, change, holidays) != state
