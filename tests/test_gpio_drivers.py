import threading
import time

import pytest

from drivers.button import PanicButton
from drivers.buzzer import BuzzerPattern, PatternBuzzer
from drivers.relays import Relay


def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


# --- relays -----------------------------------------------------------------------------


@pytest.mark.parametrize("initial", [False, True])
def test_active_low_relay_starts_in_requested_state_without_a_glitch(pin_factory, initial):
    pin = pin_factory.pin(17)
    pin.clear_states()
    relay = Relay("gate_lock", 17, initial_value=initial, active_high=False,
                  pin_factory=pin_factory)
    # Active-low: energised means the pin is low. The pin must go straight to that level.
    expected_level = not initial
    assert [s.state for s in pin.states[1:]] in ([expected_level], [])
    assert pin.state == expected_level
    assert relay.is_active is initial


def test_active_low_relay_switches_with_inverted_level(pin_factory):
    relay = Relay("lights", 17, initial_value=False, active_high=False, pin_factory=pin_factory)
    pin = pin_factory.pin(17)
    relay.on()
    assert pin.state is False and relay.is_active
    relay.off()
    assert pin.state is True and not relay.is_active


def test_active_high_relay(pin_factory):
    relay = Relay("lights", 5, initial_value=True, active_high=True, pin_factory=pin_factory)
    assert pin_factory.pin(5).state is True
    relay.off()
    assert pin_factory.pin(5).state is False


def test_relay_refuses_to_guess_its_initial_state(pin_factory):
    with pytest.raises(TypeError, match="initial_value must be True or False"):
        Relay("lights", 17, initial_value=None, pin_factory=pin_factory)


# --- buzzer -----------------------------------------------------------------------------


def test_pattern_validation():
    with pytest.raises(ValueError, match="at least one"):
        BuzzerPattern(steps=())
    with pytest.raises(ValueError, match=">= 0"):
        BuzzerPattern(steps=((-1, 0),))
    with pytest.raises(ValueError, match="count >= 1"):
        BuzzerPattern(steps=((0.1, 0.1),), repeat=0)
    with pytest.raises(ValueError, match="sound at least once"):
        BuzzerPattern(steps=((0, 0.1),))


def test_buzzer_plays_pattern_then_falls_silent(pin_factory):
    buzzer = PatternBuzzer(22, pin_factory=pin_factory)
    pin = pin_factory.pin(22)
    pin.clear_states()
    buzzer.play(BuzzerPattern(steps=((0.03, 0.02), (0.06, 0.02)), repeat=2))
    assert wait_for(lambda: not buzzer.is_playing)
    levels = [s.state for s in pin.states]
    # off at start, then on/off four times (two steps x two repeats)
    assert levels.count(True) == 4
    assert pin.state is False
    # MockPin timestamps are the time since the previous state change.
    ons = [b.timestamp for a, b in zip(pin.states, pin.states[1:], strict=False) if a.state]
    assert len(ons) == 4
    assert ons[0] >= 0.03 and ons[1] >= 0.06  # never cut short
    assert ons[1] > ons[0] and ons[3] > ons[2]  # the long step stays longer than the short


def test_new_pattern_replaces_old_and_stop_is_immediate(pin_factory):
    buzzer = PatternBuzzer(22, pin_factory=pin_factory)
    forever = BuzzerPattern(steps=((5.0, 0.1),), repeat=None)
    buzzer.play(forever)
    assert wait_for(lambda: buzzer.output.value == 1)
    other = BuzzerPattern(steps=((0.01, 5.0),), repeat=None)
    started = time.monotonic()
    buzzer.play(other)
    assert time.monotonic() - started < 0.5
    assert buzzer.pattern is other
    assert wait_for(lambda: buzzer.output.value == 0)  # in the new pattern's long pause
    buzzer.play(forever)
    assert wait_for(lambda: buzzer.output.value == 1)
    started = time.monotonic()
    buzzer.stop()
    assert time.monotonic() - started < 0.5
    assert buzzer.output.value == 0
    assert not buzzer.is_playing
    time.sleep(0.05)
    assert buzzer.output.value == 0  # nothing left running to switch it back on
    assert threading.active_count() < 50


# --- panic button -----------------------------------------------------------------------


def make_button(pin_factory, **kwargs):
    events = []
    button = PanicButton(23, pin_factory=pin_factory, **kwargs)
    button.when_pressed = lambda: events.append("press")
    button.when_presses = lambda n: events.append(("presses", n))
    button.when_held = lambda: events.append("held")
    return button, pin_factory.pin(23), events


def test_button_uses_pull_up_and_debounce(pin_factory):
    button, pin, _ = make_button(pin_factory, bounce_time=0.05)
    assert pin.pull == "up"
    assert pin.bounce == 0.05
    assert not button.is_pressed  # idle line is high through the pull-up


def tap(pin, times, gap=0.02):
    for _ in range(times):
        pin.drive_low()
        time.sleep(gap)
        pin.drive_high()
        time.sleep(gap)


def test_presses_within_window_are_counted_once(pin_factory):
    button, pin, events = make_button(pin_factory, window=0.15, hold_time=1.0)
    tap(pin, 3)
    assert wait_for(lambda: ("presses", 3) in events)
    assert events.count("press") == 3
    time.sleep(0.3)
    assert [e for e in events if e != "press"] == [("presses", 3)]


def test_separate_bursts_are_separate_counts(pin_factory):
    button, pin, events = make_button(pin_factory, window=0.1, hold_time=1.0)
    tap(pin, 2)
    assert wait_for(lambda: ("presses", 2) in events)
    tap(pin, 1)
    assert wait_for(lambda: ("presses", 1) in events)
    assert [e for e in events if e != "press"] == [("presses", 2), ("presses", 1)]


def test_long_hold_reports_held_and_no_press_count(pin_factory):
    button, pin, events = make_button(pin_factory, window=0.1, hold_time=0.15)
    pin.drive_low()
    assert wait_for(lambda: "held" in events)
    pin.drive_high()
    time.sleep(0.3)
    assert events == ["press", "held"]


def test_press_during_window_extends_it_from_another_thread(pin_factory):
    button, pin, events = make_button(pin_factory, window=0.2, hold_time=1.0)
    # Real edges arrive on the pin factory's thread, not the test's.
    worker = threading.Thread(target=tap, args=(pin, 4, 0.03))
    worker.start()
    worker.join()
    assert wait_for(lambda: any(isinstance(e, tuple) for e in events))
    time.sleep(0.3)
    assert [e for e in events if e != "press"] == [("presses", 4)]


def test_stop_wins_against_a_player_preempted_before_switching_on(pin_factory):
    """The player passes its stop check, is preempted, and only then switches on."""
    buzzer = PatternBuzzer(22, pin_factory=pin_factory)
    output = buzzer.output
    entered, release = threading.Event(), threading.Event()
    original_on = output.on

    def slow_on():
        entered.set()
        release.wait(1)  # stands in for the scheduler parking the player thread here
        original_on()

    output.on = slow_on
    buzzer.play(BuzzerPattern(steps=((1.0, 0.1),), repeat=None))
    assert entered.wait(1)
    stopper = threading.Thread(target=buzzer.stop)
    stopper.start()
    time.sleep(0.05)
    release.set()
    stopper.join(2)
    time.sleep(0.05)
    assert output.value == 0


def test_hold_reported_after_release_does_not_eat_the_next_press(pin_factory):
    button, pin, events = make_button(pin_factory, window=0.1, hold_time=5)
    pin.drive_low()
    pin.drive_high()  # released first ...
    button._held()  # ... then gpiozero's hold thread fires late, as it can
    time.sleep(0.2)
    tap(pin, 1)
    assert wait_for(lambda: ("presses", 1) in events)
    assert "held" not in events
