"""Relay channels (lights, gate lock) on a relay board driven from GPIO.

Most cheap 5 V relay boards for the Pi are *active-low*: the relay pulls in when the GPIO is
low. A gpiozero ``OutputDevice`` built with ``initial_value=None`` leaves the pin as it finds
it, and an active-low board then energises at start-up: that has opened real gates. So the
initial state is a required argument here, decided by the caller from the schedule, and the
pin is driven to it in the same call that makes it an output. Before this process runs, the
pins follow the firmware: the install script sets their boot state in config.txt.
"""

from __future__ import annotations

from gpiozero import OutputDevice


class Relay(OutputDevice):
    """One relay channel that never changes state on its own at construction.

    Args:
        name: the channel's name in config (``lights``, ``gate_lock``), for messages.
        pin: BCM GPIO number.
        initial_value: the state the relay must be in from the first instant (``True`` =
            energised). Required, because guessing it is what makes gates open at boot.
        active_high: ``False`` for the common active-low boards.
        pin_factory: gpiozero pin factory; tests pass a ``MockFactory``.
    """

    def __init__(
        self,
        name: str,
        pin: int,
        *,
        initial_value: bool,
        active_high: bool = False,
        pin_factory=None,
    ) -> None:
        if not isinstance(initial_value, bool):
            raise TypeError(
                f"relay {name}: initial_value must be True or False, not {initial_value!r}"
            )
        self.name = name
        super().__init__(
            pin, active_high=active_high, initial_value=initial_value, pin_factory=pin_factory
        )

    def __repr__(self) -> str:
        try:
            state = "on" if self.is_active else "off"
            return f"<Relay {self.name} on {self.pin.info.name} {state}>"
        except Exception:
            return f"<Relay {self.name} closed>"
