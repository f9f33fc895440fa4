"""The whole config: every section, and the checks that need more than one section."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from kiosk.config.devices import (
    BuzzerSettings,
    CameraSettings,
    HardwareSettings,
    ModemSettings,
    PanicButtonSettings,
    RelaySettings,
    SerialSettings,
    SiteSettings,
    ThermometerSettings,
    default_relays,
)
from kiosk.config.fields import Section
from kiosk.config.post import (
    AlarmSettings,
    ApiSettings,
    CalendarSettings,
    Contacts,
    RegistersSettings,
    RosterSettings,
    SecuritySettings,
    SopSettings,
    TasksSettings,
    UiSettings,
    VisitsSettings,
    default_alarms,
    default_contacts,
)
from kiosk.config.sync import SyncSettings

# GPIO2/3 carry I2C-1 (the thermometer); GPIO14/15 carry the Pi's UART.
I2C1_PINS = (2, 3)
UART_PINS = (14, 15)
UART_PORTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")


class Settings(Section):
    site: SiteSettings = SiteSettings()
    hardware: HardwareSettings = HardwareSettings()
    relays: dict[str, RelaySettings] = Field(default_factory=default_relays)
    buzzer: BuzzerSettings = BuzzerSettings()
    panic_button: PanicButtonSettings = PanicButtonSettings()
    thermometer: ThermometerSettings = ThermometerSettings()
    camera: CameraSettings = CameraSettings()
    scanner: SerialSettings = SerialSettings()
    modem: ModemSettings = ModemSettings()
    calendar: CalendarSettings = CalendarSettings()
    api: ApiSettings = ApiSettings()
    security: SecuritySettings = SecuritySettings()
    contacts: Contacts = Field(default_factory=default_contacts)
    alarms: dict[str, AlarmSettings] = Field(default_factory=default_alarms)
    tasks: TasksSettings = TasksSettings()
    visits: VisitsSettings = VisitsSettings()
    sync: SyncSettings = SyncSettings()
    sop: SopSettings = SopSettings()
    roster: RosterSettings = RosterSettings()
    registers: RegistersSettings = RegistersSettings()
    ui: UiSettings = UiSettings()

    @field_validator("relays", "alarms", "contacts")
    @classmethod
    def _names(cls, value: dict) -> dict:
        for name in value:
            if not name.replace("_", "").isalnum() or not name.isascii():
                raise ValueError(f"name {name!r}: use letters, digits and _ only")
        return value

    @property
    def holidays(self) -> frozenset[dt.date]:
        return frozenset(self.calendar.holidays)


def simulator_defaults() -> Settings:
    """What runs with no config file at all: everything simulated."""
    return Settings(hardware=HardwareSettings(simulate=True))


def cross_checks(settings: Settings) -> list[str]:
    """Problems that involve two sections, as ``key = value: problem`` lines."""
    return (pin_conflicts(settings.model_dump()) + _alarm_references(settings)
            + settings.roster.problems())


def pin_conflicts(data: dict) -> list[str]:
    """Two devices on one pin would fight; the I2C and UART pins belong to their buses.

    Works on the raw merged config too, so a pin clash is reported in the same round as
    the other mistakes, not after they are fixed. Values that are not pins are skipped:
    their own error says what is wrong with them.
    """
    def table(value) -> dict:
        return value if isinstance(value, dict) else {}

    users: list[tuple[str, object]] = [
        (f"relays.{name}.pin", table(relay).get("pin"))
        for name, relay in table(data.get("relays")).items()
        if table(relay).get("enabled", True) is not False
    ]
    for section in ("buzzer", "panic_button"):
        device = table(data.get(section))
        if device.get("enabled", True) is not False:
            users.append((f"{section}.pin", device.get("pin")))
    thermometer = table(data.get("thermometer"))
    i2c_busy = thermometer.get("enabled", True) is not False and thermometer.get("bus", 1) == 1
    serial_ports = (table(data.get("scanner")).get("port"), table(data.get("modem")).get("port"))
    uart_busy = any(port in UART_PORTS for port in serial_ports)
    problems: list[str] = []
    seen: dict[int, str] = {}
    for key, pin in users:
        if not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= 27:
            continue
        if pin in seen:
            problems.append(f"{key} = {pin}: GPIO{pin} is already used by {seen[pin]}")
        else:
            seen[pin] = key
        if i2c_busy and pin in I2C1_PINS:
            problems.append(
                f"{key} = {pin}: GPIO2/3 are the thermometer's I2C bus; pick another pin"
            )
        if uart_busy and pin in UART_PINS:
            problems.append(
                f"{key} = {pin}: GPIO14/15 are the serial port in use; pick another pin"
            )
    return problems


def _alarm_references(settings: Settings) -> list[str]:
    """Alarm codes name relays, contact groups and button gestures defined elsewhere."""
    problems: list[str] = []
    gestures: dict[str, str] = {}
    for code, alarm in settings.alarms.items():
        for relay in alarm.relays:
            if relay not in settings.relays:
                problems.append(
                    f"alarms.{code}.relays.{relay}: no such relay; relays are "
                    f"{', '.join(settings.relays)}"
                )
        for group in alarm.notify:
            if group not in settings.contacts:
                problems.append(
                    f"alarms.{code}.notify = \"{group}\": no such group in [contacts]; groups are "
                    f"{', '.join(settings.contacts)}"
                )
        if alarm.button:
            if alarm.button in gestures:
                problems.append(
                    f"alarms.{code}.button = \"{alarm.button}\": already raises "
                    f"alarms.{gestures[alarm.button]}"
                )
            gestures[alarm.button] = code
        pattern = (alarm.pattern, alarm.repeat)
        for other, earlier in settings.alarms.items():
            if other == code:
                break
            if (earlier.pattern, earlier.repeat) == pattern:
                problems.append(
                    f"alarms.{code}.pattern: sounds exactly like alarms.{other}: people must "
                    "hear which emergency it is"
                )
    return problems
