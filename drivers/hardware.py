"""The one place that builds the device set, real or simulated, from the settings.

The settings object is the kiosk's config (read by attribute only: drivers do not import
the kiosk). A device that fails to open does not stop the others: it is left out and its
problem recorded, so a post with an unplugged thermometer still switches its lights.

The simulated set uses the same driver classes on simulated buses: gpiozero's MockFactory
for pins, an SMBus with a simulated MLX90614, and pty peers that speak the scanner's and the
modem's protocols. :class:`SimControls` is the handle the simulator's panel and tests use to
press the button, change the temperature, scan a code or read the SMS sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.button import PanicButton
from drivers.buzzer import PatternBuzzer
from drivers.errors import DeviceError
from drivers.modem import GsmModem
from drivers.relays import Relay
from drivers.scanner import SerialScanner
from drivers.thermometer import MLX90614

log = logging.getLogger(__name__)


@dataclass
class SimControls:
    """The far side of every simulated device."""

    pin_factory: Any
    thermometer_bus: Any
    scanner: Any
    modem: Any

    def press_button(self, pin: int) -> None:
        self.pin_factory.pin(pin).drive_low()

    def release_button(self, pin: int) -> None:
        self.pin_factory.pin(pin).drive_high()

    def close(self) -> None:
        for peer in (self.scanner, self.modem):
            peer.close()


@dataclass
class Hardware:
    """The devices the core owns. ``problems`` maps a device name to why it is missing."""

    relays: dict[str, Relay] = field(default_factory=dict)
    buzzer: PatternBuzzer | None = None
    panic_button: PanicButton | None = None
    thermometer: MLX90614 | None = None
    scanner: SerialScanner | None = None
    modem: GsmModem | None = None
    problems: dict[str, str] = field(default_factory=dict)
    sim: SimControls | None = None

    def close(self) -> None:
        devices = [*self.relays.values(), self.buzzer, self.panic_button, self.thermometer,
                   self.scanner, self.modem]
        for device in devices:
            if device is not None:
                try:
                    device.close()
                except Exception as exc:  # closing must go on for the others
                    log.warning("closing %r: %s", device, exc)
        if self.sim is not None:
            self.sim.close()


def real_pin_factory():
    """Gpiozero's lgpio factory, or a DeviceError that says why GPIO is not usable here.

    ``GPIOZERO_PIN_FACTORY`` still wins when set, as gpiozero documents.
    """
    if os.environ.get("GPIOZERO_PIN_FACTORY"):
        return None
    try:
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError:
        raise DeviceError(
            "GPIO library lgpio is not installed (not a Raspberry Pi?): run with --simulate "
            "or set hardware.simulate = true"
        ) from None
    try:
        return LGPIOFactory()
    except PermissionError:
        raise DeviceError(
            "no permission for /dev/gpiochip*: add the kiosk user to the gpio group"
        ) from None
    except Exception as exc:
        raise DeviceError(
            f"GPIO is not available ({exc}): is this a Raspberry Pi? Otherwise use --simulate"
        ) from None


def simulated_pin_factory():
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


def gpio_error(exc: Exception, what: str, pin: int) -> DeviceError:
    """Turn gpiozero's exceptions into one actionable line."""
    from gpiozero.exc import GPIOPinInUse

    if isinstance(exc, GPIOPinInUse) or "busy" in str(exc).lower():
        return DeviceError(
            f"{what} on GPIO{pin} is in use by another program: stop it (is kiosk-core "
            "already running?)"
        )
    if isinstance(exc, PermissionError):
        return DeviceError(f"{what} on GPIO{pin}: no permission: add the user to the gpio group")
    return DeviceError(f"{what} on GPIO{pin}: {exc}")


def build(
    settings: Any,
    *,
    simulate: bool | None = None,
    initial_states: Mapping[str, bool] | None = None,
) -> Hardware:
    """Open every enabled device the settings describe.

    Args:
        settings: the kiosk settings (``relays``, ``buzzer``, ``panic_button``,
            ``thermometer``, ``scanner``, ``modem`` sections).
        simulate: overrides ``settings.hardware.simulate``.
        initial_states: relay name -> state from the first instant; a relay not named
            starts in its configured safe state.
    """
    simulate = settings.hardware.simulate if simulate is None else simulate
    hw = Hardware()
    if simulate:
        from drivers.sim.modem import SimulatedModem
        from drivers.sim.scanner import SimulatedScanner
        from drivers.sim.smbus import FakeMLX90614Bus

        hw.sim = SimControls(
            pin_factory=simulated_pin_factory(),
            thermometer_bus=FakeMLX90614Bus(address=settings.thermometer.address),
            scanner=SimulatedScanner(),
            modem=SimulatedModem(),
        )
        factory = hw.sim.pin_factory
    else:
        try:
            factory = real_pin_factory()
        except DeviceError as exc:
            factory = exc

    initial_states = dict(initial_states or {})
    for name, relay in settings.relays.items():
        if relay.enabled:
            state = initial_states.get(name, relay.safe_state == "on")
            _open(hw, f"relays.{name}", factory, relay.pin, lambda f, r=relay, n=name, s=state:
                  Relay(n, r.pin, initial_value=s, active_high=r.active_high, pin_factory=f))
    if settings.buzzer.enabled:
        b = settings.buzzer
        hw.buzzer = _open(hw, "buzzer", factory, b.pin, lambda f: PatternBuzzer(
            b.pin, active_high=b.active_high, pin_factory=f))
    if settings.panic_button.enabled:
        p = settings.panic_button
        hw.panic_button = _open(hw, "panic_button", factory, p.pin, lambda f: PanicButton(
            p.pin, hold_time=p.hold_seconds, window=p.press_window_seconds,
            bounce_time=p.bounce_ms / 1000 or None, pin_factory=f))
    if settings.thermometer.enabled:
        t = settings.thermometer
        bus = hw.sim.thermometer_bus if hw.sim else t.bus
        hw.thermometer = _attempt(hw, "thermometer", lambda: MLX90614(bus, t.address))
    if hw.sim or settings.scanner.port:
        port = hw.sim.scanner.port if hw.sim else settings.scanner.port
        hw.scanner = _attempt(hw, "scanner", lambda: SerialScanner(
            port, settings.scanner.baudrate))
    if hw.sim or settings.modem.port:
        port = hw.sim.modem.port if hw.sim else settings.modem.port
        hw.modem = _attempt(hw, "modem", lambda: GsmModem(port, settings.modem.baudrate))
    return hw


def _open(hw: Hardware, name: str, factory: Any, pin: int, make) -> Any:
    if isinstance(factory, DeviceError):
        hw.problems[name] = str(factory)
        return None
    try:
        device = make(factory)
    except DeviceError as exc:
        hw.problems[name] = str(exc)
        return None
    except Exception as exc:
        hw.problems[name] = str(gpio_error(exc, name, pin))
        return None
    if name.startswith("relays."):
        hw.relays[name.removeprefix("relays.")] = device
    return device


def _attempt(hw: Hardware, name: str, make) -> Any:
    try:
        return make()
    except DeviceError as exc:
        hw.problems[name] = str(exc)
    except (OSError, ValueError) as exc:
        hw.problems[name] = f"{name}: {exc}"
    return None
