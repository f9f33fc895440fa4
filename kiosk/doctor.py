"""``kiosk doctor``: check each configured device for real, one line each.

Written for the installer standing at the post with a screwdriver: every line says OK, or
what is wrong and the next thing to try (enable I2C, join a group, check a wire). Nothing
moves unless asked: relays click only with ``--relays`` and the buzzer sounds only with
``--buzzer``, because the core may be running the gate right now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from drivers import hardware, qr
from drivers.button import PanicButton
from drivers.buzzer import BuzzerPattern, PatternBuzzer
from drivers.camera import Camera
from drivers.errors import DeviceError
from drivers.modem import GsmModem
from drivers.relays import Relay
from drivers.scanner import SerialScanner
from drivers.sim.camera import render_qr
from drivers.thermometer import MLX90614

log = logging.getLogger(__name__)

OK, FAIL, SKIP, WARN = "OK", "FAIL", "SKIP", "WARN"


@dataclass(frozen=True)
class Check:
    status: str
    device: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<5} {self.device:<20} {self.detail}"


def run(
    settings: Any,
    *,
    simulate: bool = False,
    click_relays: bool = False,
    sound_buzzer: bool = False,
    camera_timeout: float = 5.0,
) -> Iterator[Check]:
    """Yield one :class:`Check` per device, as soon as it is known."""
    if simulate:
        hw = hardware.build(settings, simulate=True)
        try:
            yield from _checks(settings, hw.sim.pin_factory, click_relays, sound_buzzer,
                               thermometer_bus=hw.sim.thermometer_bus, hw=hw,
                               camera_timeout=camera_timeout)
        finally:
            hw.close()
        return
    try:
        factory = hardware.real_pin_factory()
        yield Check(OK, "gpio", "GPIO available (lgpio)")
    except DeviceError as exc:
        factory = exc
        yield Check(FAIL, "gpio", str(exc))
    yield from _checks(settings, factory, click_relays, sound_buzzer,
                       camera_timeout=camera_timeout)


def _checks(settings, factory, click_relays, sound_buzzer, *, thermometer_bus=None, hw=None,
            camera_timeout=5.0) -> Iterator[Check]:
    for name, relay in settings.relays.items():
        yield _guard(f"relays.{name}", lambda n=name, r=relay: _relay(
            n, r, factory, click_relays, hw))
    yield _guard("buzzer", lambda: _buzzer(settings.buzzer, factory, sound_buzzer, hw))
    yield _guard("panic_button", lambda: _button(settings.panic_button, factory, hw))
    yield _guard("thermometer", lambda: _thermometer(settings.thermometer, thermometer_bus))
    yield _guard("camera", lambda: _camera(settings.camera, hw, camera_timeout))
    yield _guard("qr_decoder", _qr_decoder)
    yield _guard("scanner", lambda: _scanner(settings.scanner, hw))
    yield _guard("modem", lambda: _modem(settings.modem, hw))


def _guard(device: str, check: Callable[[], tuple[str, str]]) -> Check:
    """Run one check; whatever it raises becomes a FAIL line, never a traceback."""
    try:
        status, detail = check()
    except DeviceError as exc:
        status, detail = FAIL, str(exc)
    except Exception as exc:
        log.debug("doctor check %s failed", device, exc_info=True)
        status, detail = FAIL, f"unexpected {type(exc).__name__}: {exc}"
    return Check(status, device, detail.replace("\n", " "))


def _gpio_device(name: str, pin: int, factory, make):
    if isinstance(factory, DeviceError):
        raise DeviceError(f"GPIO{pin}: not checked, GPIO is unavailable")
    try:
        return make()
    except DeviceError:
        raise
    except Exception as exc:
        raise hardware.gpio_error(exc, name, pin) from None


def _relay(name, relay, factory, click, hw) -> tuple[str, str]:
    if not relay.enabled:
        return SKIP, "disabled in config"
    if not click:
        if isinstance(factory, DeviceError):
            return FAIL, f"GPIO{relay.pin}: not checked, GPIO is unavailable"
        return SKIP, f"GPIO{relay.pin}: not switched; run kiosk doctor --relays to click it"
    safe = relay.safe_state == "on"
    if hw is not None:
        device = hw.relays[name]
    else:
        device = _gpio_device(name, relay.pin, factory, lambda: Relay(
            name, relay.pin, initial_value=safe, active_high=relay.active_high,
            pin_factory=factory))
    try:
        device.value = not safe
        time.sleep(0.5)
        device.value = safe
    finally:
        if hw is None:
            device.close()
    moved = "off" if safe else "on"
    return OK, f"GPIO{relay.pin} clicked {moved} for 0.5 s and back: listen for it"


def _buzzer(settings, factory, sound, hw) -> tuple[str, str]:
    if not settings.enabled:
        return SKIP, "disabled in config"
    if not sound:
        if isinstance(factory, DeviceError):
            return FAIL, f"GPIO{settings.pin}: not checked, GPIO is unavailable"
        return SKIP, f"GPIO{settings.pin}: not sounded; run kiosk doctor --buzzer to beep it"
    buzzer = hw.buzzer if hw is not None else _gpio_device(
        "buzzer", settings.pin, factory, lambda: PatternBuzzer(
            settings.pin, active_high=settings.active_high, pin_factory=factory))
    try:
        buzzer.play(BuzzerPattern(steps=((0.2, 0.1),), repeat=2))
        time.sleep(0.7)
    finally:
        if hw is None:
            buzzer.close()
    return OK, f"GPIO{settings.pin} beeped twice: listen for it"


def _button(settings, factory, hw) -> tuple[str, str]:
    if not settings.enabled:
        return SKIP, "disabled in config"
    button = hw.panic_button if hw is not None else _gpio_device(
        "panic_button", settings.pin, factory, lambda: PanicButton(settings.pin,
                                                                   pin_factory=factory))
    try:
        pressed = button.is_pressed
    finally:
        if hw is None:
            button.close()
    if pressed:
        return WARN, (f"GPIO{settings.pin} reads pressed: check the wiring (normally open, "
                      "to GND) or a stuck button")
    return OK, f"GPIO{settings.pin} released (pull-up on)"


def _thermometer(settings, bus) -> tuple[str, str]:
    if not settings.enabled:
        return SKIP, "disabled in config"
    with MLX90614(bus if bus is not None else settings.bus, settings.address) as sensor:
        ambient, obj = sensor.ambient_c(), sensor.object_c()
    where = "the simulated bus" if bus is not None else f"I2C bus {settings.bus}"
    return OK, (f"MLX90614 at {settings.address:#04x} on {where}: "
                f"object {obj:.1f} °C, ambient {ambient:.1f} °C")


def _camera(settings, hw, timeout) -> tuple[str, str]:
    if not settings.enabled:
        return SKIP, "disabled in config"
    if hw is not None:
        from drivers.sim.camera import QRCamera

        camera = QRCamera("doctor")
    else:
        camera = Camera(settings.device, width=settings.width, height=settings.height)
    try:
        frame = camera.read(timeout=timeout)
    finally:
        camera.close()
    return OK, f"camera {settings.device}: {frame.shape[1]}x{frame.shape[0]} frames"


def _qr_decoder() -> tuple[str, str]:
    payload = "kiosk-doctor"
    found = qr.decode(render_qr(payload))
    if found != [payload]:
        return FAIL, f"decoded {found!r} from a test code: reinstall zxing-cpp and libzbar0"
    names = qr.backends()
    if len(names) < 2:
        return WARN, f"{names[0]} works; no fallback decoder: apt-get install libzbar0"
    return OK, f"{names[0]}, fallback {names[1]}"


def _scanner(settings, hw) -> tuple[str, str]:
    if hw is not None:  # the simulated set has it open already, and ports are exclusive
        if hw.scanner is None:
            return FAIL, hw.problems.get("scanner", "not opened")
        return OK, f"simulated scanner on {hw.sim.scanner.port}"
    if not settings.port:
        return SKIP, "not configured (scanner.port is empty)"
    with SerialScanner(settings.port, settings.baudrate):
        pass
    return OK, (f"{settings.port} opened at {settings.baudrate} baud "
                "(scan a code on the kiosk to test)")


def _modem(settings, hw) -> tuple[str, str]:
    if hw is not None:  # the simulated set has it open already, and ports are exclusive
        if hw.modem is None:
            return FAIL, hw.problems.get("modem", "not opened")
        port, status = hw.sim.modem.port, hw.modem.check()
    elif not settings.port:
        return SKIP, "not configured (modem.port is empty)"
    else:
        port = settings.port
        with GsmModem(port, settings.baudrate) as modem:
            status = modem.check()
    if not status.sim_ready:
        why = status.problem or "SIM not ready: insert the SIM card or remove its PIN lock"
        return FAIL, f"{port}: {why}"
    if not status.registered:
        return FAIL, f"{port}: not registered on a network: check the antenna and SIM credit"
    signal = "unknown" if status.signal is None else f"{status.signal}/31"
    operator = f", {status.operator}" if status.operator else ""
    return OK, f"{port}: SIM ready, registered{operator}, signal {signal}"
