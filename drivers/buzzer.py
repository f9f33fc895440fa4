"""An active buzzer (or a siren relay) that plays coded on/off patterns in the background.

Each alarm code has its own pattern so that people who cannot see the screen still know
*which* emergency it is (SOP step 15). A new alarm must take over the buzzer at once and an
all-clear must silence it at once, so :meth:`PatternBuzzer.play` replaces whatever is playing
and :meth:`PatternBuzzer.stop` switches the output off before it returns.

Wiring: an active 5 V buzzer through a transistor (or a relay channel for a siren) on the
configured GPIO; active-high unless the board says otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from gpiozero import DigitalOutputDevice


@dataclass(frozen=True)
class BuzzerPattern:
    """A sequence of (on seconds, off seconds) steps, played ``repeat`` times or forever."""

    steps: tuple[tuple[float, float], ...]
    repeat: int | None = 1

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a buzzer pattern needs at least one (on, off) step")
        for on, off in self.steps:
            if on < 0 or off < 0:
                raise ValueError(f"buzzer step ({on}, {off}): durations must be >= 0 seconds")
        if all(on == 0 for on, _ in self.steps):
            raise ValueError("a buzzer pattern must sound at least once (an on time > 0)")
        if self.repeat is not None and self.repeat < 1:
            raise ValueError(f"buzzer repeat {self.repeat}: use a count >= 1, or None for forever")

    @property
    def cycle_seconds(self) -> float:
        return sum(on + off for on, off in self.steps)


class PatternBuzzer:
    """Plays :class:`BuzzerPattern` s on one output pin, one at a time.

    Args:
        pin: BCM GPIO number.
        active_high: ``False`` if the buzzer sounds when the pin is low.
        pin_factory: gpiozero pin factory; tests pass a ``MockFactory``.
    """

    def __init__(self, pin: int, *, active_high: bool = True, pin_factory=None) -> None:
        self._output = DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        self._lock = threading.Lock()
        # Held around "check stop, switch on" in the player and around "switch off" in stop():
        # without it the player could pass its check, be preempted, and switch the buzzer on
        # just after stop() switched it off.
        self._io_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pattern: BuzzerPattern | None = None

    @property
    def output(self) -> DigitalOutputDevice:
        return self._output

    @property
    def is_playing(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def play(self, pattern: BuzzerPattern) -> None:
        """Start ``pattern`` now, cutting off whatever was playing."""
        with self._lock:
            self._halt()
            self._stop = threading.Event()
            self.pattern = pattern
            self._thread = threading.Thread(
                target=self._run, args=(pattern, self._stop), name="buzzer", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Silence the buzzer before returning."""
        with self._lock:
            self._halt()

    def close(self) -> None:
        self.stop()
        self._output.close()

    def _halt(self) -> None:
        self._stop.set()
        with self._io_lock:
            self._output.off()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        self._thread = None
        self.pattern = None

    def _run(self, pattern: BuzzerPattern, stop: threading.Event) -> None:
        played = 0
        try:
            while not stop.is_set() and (pattern.repeat is None or played < pattern.repeat):
                for on, off in pattern.steps:
                    if on > 0:
                        with self._io_lock:
                            if stop.is_set():
                                return
                            self._output.on()
                        if stop.wait(on):
                            return
                    self._output.off()
                    if off > 0 and stop.wait(off):
                        return
                    if stop.is_set():
                        return
                played += 1
        finally:
            if not stop.is_set():
                self._output.off()
