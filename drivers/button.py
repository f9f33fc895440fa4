"""The panic button: a momentary switch from a GPIO to ground, read with the internal pull-up.

A guard under threat may not reach the screen, so press patterns on one button map to alarm
codes (the mapping lives in the core's config): a number of presses within a short window,
or a long hold (e.g. 3 s = crime). This module reports those gestures; it does not know what
they mean.

Wiring: one leg to the configured GPIO, the other to GND; no resistor needed (pull-up on).
Debouncing is gpiozero's ``bounce_time`` on the real pin factories.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from gpiozero import Button


class PanicButton:
    """Turns raw presses into gestures: single presses, press counts and long holds.

    Callbacks run on background threads (gpiozero's edge thread or the window timer); the
    receiver must hand work off rather than block.

    Args:
        pin: BCM GPIO number.
        hold_time: seconds of holding that count as a long hold.
        window: seconds after a release within which another press joins the same count.
        bounce_time: seconds of contact bounce to ignore.
        pin_factory: gpiozero pin factory; tests pass a ``MockFactory``.
    """

    def __init__(
        self,
        pin: int,
        *,
        hold_time: float = 3.0,
        window: float = 1.5,
        bounce_time: float = 0.05,
        pin_factory=None,
    ) -> None:
        self.window = window
        self.when_pressed: Callable[[], None] | None = None
        self.when_presses: Callable[[int], None] | None = None
        self.when_held: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._count = 0
        self._holding = False
        self._timer: threading.Timer | None = None
        self._generation = 0
        self.button = Button(
            pin, pull_up=True, bounce_time=bounce_time, hold_time=hold_time,
            pin_factory=pin_factory,
        )
        self.button.when_pressed = self._pressed
        self.button.when_released = self._released
        self.button.when_held = self._held

    @property
    def is_pressed(self) -> bool:
        return self.button.is_pressed

    def close(self) -> None:
        with self._lock:
            self._cancel_timer()
        self.button.close()

    def _pressed(self) -> None:
        with self._lock:
            self._cancel_timer()
            self._holding = False
            self._count += 1
        _call(self.when_pressed)

    def _held(self) -> None:
        # gpiozero fires when_held without looking at the pin again: for a press of about
        # hold_time the release may already have been handled, and a stale hold would eat
        # the next press.
        if not self.button.is_pressed:
            return
        with self._lock:
            self._holding = True
            self._count = 0
        _call(self.when_held)

    def _released(self) -> None:
        with self._lock:
            if self._holding:
                self._holding = False
                return
            self._generation += 1
            self._timer = threading.Timer(
                self.window, self._window_closed, args=(self._generation,)
            )
            self._timer.name = "panic-button-window"
            self._timer.daemon = True
            self._timer.start()

    def _window_closed(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or self._timer is None:
                return  # a press arrived while this timer was firing: its window goes on
            count, self._count = self._count, 0
            self._timer = None
        if count:
            _call(self.when_presses, count)

    def _cancel_timer(self) -> None:
        self._generation += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _call(callback, *args) -> None:
    if callback is not None:
        callback(*args)
