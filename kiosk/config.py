"""The kiosk's one TOML config file, loaded into typed, immutable settings.

The person reading a config error is an installer at a district office, often over the
phone. So every problem becomes one line naming the file, the key, the value and what is
allowed (``kiosk.toml: relays.lights.pin = 41: not a BCM GPIO pin (0-27)``), all problems are
reported at once, and nothing starts with a half-valid config.

The file is deep-merged over the defaults: a key left out keeps its default, a table left
out keeps all of its defaults, and a list given replaces the default list.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

SYSTEM_CONFIG = Path("/etc/kiosk/kiosk.toml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# GPIO2/3 carry I2C-1 (the thermometer); GPIO14/15 carry the Pi's UART.
I2C1_PINS = (2, 3)
UART_PINS = (14, 15)
UART_PORTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")


class ConfigError(Exception):
    """The config cannot be used; ``problems`` holds one printable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _time_of_day(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(microsecond=0)
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) == 2 and all(p.isdigit() and len(p) == 2 for p in parts):
            hour, minute = int(parts[0]), int(parts[1])
            if hour < 24 and minute < 60:
                return dt.time(hour, minute)
    raise ValueError("not a time of day: use \"HH:MM\" from 00:00 to 23:59")


TimeOfDay = Annotated[dt.time, BeforeValidator(_time_of_day)]


def _bcm_pin(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not a BCM GPIO pin (a whole number 0-27, no quotes)")
    if not 0 <= value <= 27:
        raise ValueError("not a BCM GPIO pin (0-27)")
    return value


BcmPin = Annotated[int, BeforeValidator(_bcm_pin)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


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
    days: tuple[str, ...] = WEEKDAYS

    @field_validator("days", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"a list of weekdays from {', '.join(WEEKDAYS)}")
        for day in value:
            if day not in WEEKDAYS:
                close = difflib.get_close_matches(str(day).lower(), WEEKDAYS, 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"{day!r} is not a weekday{hint}; use {', '.join(WEEKDAYS)}")
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
    # TOML gives lists; strict mode would only take tuples here.
    schedule: tuple[Interval, ...] = Field((), strict=False)


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


class CameraSettings(Section):
    enabled: bool = True
    device: int | str = 0
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


def _default_relays() -> dict[str, RelaySettings]:
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


class Settings(Section):
    site: SiteSettings = SiteSettings()
    hardware: HardwareSettings = HardwareSettings()
    relays: dict[str, RelaySettings] = Field(default_factory=_default_relays)
    buzzer: BuzzerSettings = BuzzerSettings()
    panic_button: PanicButtonSettings = PanicButtonSettings()
    thermometer: ThermometerSettings = ThermometerSettings()
    camera: CameraSettings = CameraSettings()
    scanner: SerialSettings = SerialSettings()
    modem: ModemSettings = ModemSettings()

    @field_validator("relays")
    @classmethod
    def _relay_names(cls, value: dict[str, RelaySettings]) -> dict[str, RelaySettings]:
        for name in value:
            if not name.replace("_", "").isalnum() or not name.isascii():
                raise ValueError(f"relay name {name!r}: use letters, digits and _ only")
        return value


def simulator_defaults() -> Settings:
    """What runs with no config file at all: everything simulated."""
    return Settings(hardware=HardwareSettings(simulate=True))


def find_config(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config to use: ``--config``, else ``$KIOSK_CONFIG``, else /etc/kiosk/kiosk.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get("KIOSK_CONFIG"):
        return Path(os.environ["KIOSK_CONFIG"])
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def load(path: str | os.PathLike | None) -> Settings:
    """Load and validate ``path``; ``None`` gives the simulator's defaults.

    Raises:
        ConfigError: with every problem found, one line each.
    """
    if path is None:
        return simulator_defaults()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([
            f"{path}: file not found: copy config/kiosk.example.toml there, or pass --config"
        ]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"{path}: cannot read: {reason}"]) from None
    return parse(text, str(path))


def parse(text: str, name: str = "kiosk.toml") -> Settings:
    """Validate TOML ``text``; ``name`` is what error lines call the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: not valid TOML: {exc}"]) from None
    base = Settings().model_dump(mode="python")
    merged = _deep_merge(base, data)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError([_describe(name, err, merged) for err in exc.errors()]) from None
    problems = [f"{name}: {line}" for line in _pin_conflicts(settings)]
    if problems:
        raise ConfigError(problems)
    return settings


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _pin_conflicts(settings: Settings) -> list[str]:
    """Two devices on one pin would fight; the I2C and UART pins belong to their buses."""
    users: list[tuple[str, int]] = [
        (f"relays.{name}.pin", relay.pin) for name, relay in settings.relays.items()
        if relay.enabled
    ]
    for section in ("buzzer", "panic_button"):
        device = getattr(settings, section)
        if device.enabled:
            users.append((f"{section}.pin", device.pin))
    problems: list[str] = []
    seen: dict[int, str] = {}
    for key, pin in users:
        if pin in seen:
            problems.append(f"{key} = {pin}: GPIO{pin} is already used by {seen[pin]}")
        else:
            seen[pin] = key
        if settings.thermometer.enabled and settings.thermometer.bus == 1 and pin in I2C1_PINS:
            problems.append(
                f"{key} = {pin}: GPIO2/3 are the thermometer's I2C bus; pick another pin"
            )
        serial_ports = (settings.scanner.port, settings.modem.port)
        if pin in UART_PINS and any(port in UART_PORTS for port in serial_ports):
            problems.append(
                f"{key} = {pin}: GPIO14/15 are the serial port in use; pick another pin"
            )
    return problems


_FRIENDLY = {
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false (no quotes)",
    "string_type": "must be text in quotes",
    "missing": "is required",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "tuple_type": "must be a list",
    "literal_error": None,
}


def _describe(name: str, err: dict, data: dict) -> str:
    loc = err["loc"]
    key = _key(loc)
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, 1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{name}: {key}: unknown key; {hint}allowed here: {', '.join(allowed)}"
    if err["type"] == "missing":
        return f"{name}: {key}: is required"
    message = err["msg"].removeprefix("Value error, ")
    friendly = _FRIENDLY.get(err["type"])
    if friendly:
        message = friendly
    elif err["type"] == "literal_error":
        message = "must be one of " + err["ctx"]["expected"]
    elif err["type"] in ("greater_than_equal", "less_than_equal"):
        message = _range_message(loc)
    value = err.get("input")
    if isinstance(value, dict):
        return f"{name}: {key}: {message}"
    hexadecimal = loc[-1] == "address" and isinstance(value, int)
    shown = f"{value:#04x}" if hexadecimal else _toml_value(value)
    return f"{name}: {key} = {shown}: {message}"


def _range_message(loc: tuple) -> str:
    field = _field_at(loc)
    bounds = {type(m).__name__: m for m in (field.metadata if field else [])}
    low, high = getattr(bounds.get("Ge"), "ge", None), getattr(bounds.get("Le"), "le", None)
    if isinstance(low, int) and loc[-1] == "address":
        return f"not an I2C address ({low:#04x}-{high:#04x}; the MLX90614 ships as 0x5a)"
    return f"out of range ({low:g} to {high:g})"


def _field_at(loc: tuple):
    model: Any = Settings
    field = None
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            model = _model_of(field.annotation) if field else None
        else:
            model = None
    return field


def _model_of(annotation: Any) -> Any:
    """The model class a field holds, looking inside dict[...] and tuple[...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(loc: tuple) -> list[str]:
    model: Any = Settings
    for part in loc:
        if model is Settings and part == "relays":
            model = "relays"
        elif model == "relays":
            model = RelaySettings
        elif isinstance(part, int):
            continue
        elif isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            model = _model_of(field.annotation) if field else None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _key(loc: tuple) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)
