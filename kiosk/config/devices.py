"""Config sections for the devices: site, relays, buzzer, button, thermometer, camera, serial."""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from kiosk.config.fields import DAY_KEYS, BcmPin, Section, TimeOfDay, did_you_mean


class SiteSettings(Section):
    name: str = Field("Kantor KPU Kabupaten Subang", min_length=1, max_length=120)
    timezone: str = "Asia/Jakarta"
    language: Literal["id", "en"] = "id"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), 1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(
                f"unknown timezone{hint}; Indonesia uses Asia/Jakarta, Asia/Makassar "
                "or Asia/Jayapura"
            ) from None
        return value


class HardwareSettings(Section):
    simulate: bool = False


class Interval(Section):
    on: TimeOfDay
    off: TimeOfDay
    days: tuple[str, ...] = DAY_KEYS

    @field_validator("days", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"a list of days from {', '.join(DAY_KEYS)}")
        for day in value:
            if day not in DAY_KEYS:
                raise ValueError(
                    f"{day!r} is not a day{did_you_mean(day, DAY_KEYS)}; use {', '.join(DAY_KEYS)}"
                )
        return tuple(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Interval:
        if self.on == self.off:
            raise ValueError("on and off are the same time: the relay would never change")
        return self


class RelaySettings(Section):
    enabled: bool = True
    pin: BcmPin
    active_high: bool = False
    safe_state: Literal["on", "off"] = "off"
    schedule: tuple[Interval, ...] = ()


class BuzzerSettings(Section):
    enabled: bool = True
    pin: BcmPin = 22
    active_high: bool = True


class PanicButtonSettings(Section):
    enabled: bool = True
    pin: BcmPin = 23
    hold_seconds: float = Field(3.0, ge=0.5, le=30)
    press_window_seconds: float = Field(1.5, ge=0.3, le=10)
    bounce_ms: int = Field(50, ge=0, le=1000)


class ThermometerSettings(Section):
    enabled: bool = True
    bus: int = Field(1, ge=0, le=31)
    address: int = Field(0x5A, ge=0x03, le=0x77)
    threshold_c: float = 37.5
    offset_c: float = Field(0.0, ge=-5, le=5)

    @field_validator("threshold_c")
    @classmethod
    def _celsius(cls, value: float) -> float:
        if 86 <= value <= 113:
            celsius = (value - 32) * 5 / 9
            raise ValueError(
                f"looks like Fahrenheit ({value:g} °F = {celsius:.1f} °C): give it in °C, "
                "between 35 and 42"
            )
        if not 35 <= value <= 42:
            raise ValueError("a fever threshold in °C between 35 and 42 (usually 37.5)")
        return value


def _video_device(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 63:
        return value
    if isinstance(value, str) and value.startswith("/dev/"):
        return value
    raise ValueError('a camera number (0 for /dev/video0, no quotes) or a path like "/dev/video0"')


class CameraSettings(Section):
    enabled: bool = True
    device: Annotated[int | str, BeforeValidator(_video_device)] = 0
    width: int = Field(640, ge=160, le=3840)
    height: int = Field(480, ge=120, le=2160)


class SerialSettings(Section):
    port: str = ""
    baudrate: int = 9600

    @field_validator("baudrate")
    @classmethod
    def _standard_rate(cls, value: int) -> int:
        rates = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)
        if value not in rates:
            raise ValueError(f"not a standard baud rate; one of {', '.join(map(str, rates))}")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.port)


class ModemSettings(SerialSettings):
    baudrate: int = 115200


def default_relays() -> dict[str, RelaySettings]:
    return {
        "lights": RelaySettings(
            pin=17, safe_state="on",
            schedule=(Interval(on=dt.time(17, 0), off=dt.time(5, 30)),),
        ),
        "gate_lock": RelaySettings(
            pin=27, safe_state="off",
            schedule=(Interval(on=dt.time(21, 0), off=dt.time(6, 0)),),
        ),
    }
