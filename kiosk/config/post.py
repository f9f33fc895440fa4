"""Config sections for running the post: calendar, API, security, contacts, alarms, SOP tasks.

The defaults follow the office security SOP (seeds/README.md): alarm codes for fire, natural
disaster, crime, evacuation and all-clear (SOP 15, 14), reminders to lower the flag at 17.00
and raise it at 06.00 (SOP 10, 17), to lock the rooms after work (SOP 11), to see the guests
out by 21.00 (SOP 7c), and at least three patrols at random times each night (SOP 13).
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from kiosk.config.fields import DAY_KEYS, Section, TimeOfDay, did_you_mean

PHONE = re.compile(r"\+?[0-9]{3,20}")
GESTURE = re.compile(r"hold|presses:[2-9]")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("not a date: use YYYY-MM-DD, e.g. 2026-12-25")


Date = Annotated[dt.date, BeforeValidator(_date)]


def _once(names: list[str], what: str) -> None:
    """Refuse a ``what`` ("task id", "shift name") given twice: the first repeated one is named."""
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"{what} {twice[0]!r} is used twice: {what.split()[-1]}s must be unique")


class CalendarSettings(Section):
    # Public holidays (hari libur nasional) and office closures; relay intervals whose days
    # include "holiday" run on these dates instead of the weekday's intervals.
    holidays: tuple[Date, ...] = ()


class ApiSettings(Section):
    listen: str = "127.0.0.1:8470"
    allow_network: bool = False

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if value.startswith("unix:"):
            if not value[5:].startswith("/"):
                raise ValueError(
                    'a unix socket needs an absolute path, e.g. "unix:/run/kiosk/core.sock"'
                )
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535 or not host:
            raise ValueError('use "HOST:PORT" (e.g. "127.0.0.1:8470") or "unix:/path/to/socket"')
        return value

    @model_validator(mode="after")
    def _loopback_only(self) -> ApiSettings:
        if self.listen.startswith("unix:") or self.allow_network:
            return self
        host = self.listen.rpartition(":")[0].strip("[]")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"listening on {host} would expose the guard API to the network: use 127.0.0.1 "
                "or a unix socket, or set api.allow_network = true"
            )
        return self


class SecuritySettings(Section):
    session_minutes: int = Field(15, ge=1, le=720)
    max_pin_failures: int = Field(5, ge=3, le=20)
    lockout_minutes: int = Field(15, ge=1, le=1440)
    # The key that seals guests' personal data in the database (kiosk.store.sealed), kept
    # apart from it; "" = data.key in the core's data directory. On a Pi: /etc/kiosk/data.key.
    key_file: str = Field("", max_length=400)

    @field_validator("key_file")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError(f"{value!r}: give the key file's full path, e.g. "
                             '"/etc/kiosk/data.key", or "" for the data directory')
        return value

    def key_path(self, data_dir: Path) -> Path:
        """Where the core keeps its key: ``key_file``, or ``data.key`` beside the database."""
        return Path(self.key_file) if self.key_file else Path(data_dir) / "data.key"


class SopSettings(Section):
    # Directory of procedure files (*.toml, see kiosk.procedures); "" = the config/sop
    # directory that comes with the kiosk.
    dir: str = Field("", max_length=400)


class AlarmSettings(Section):
    label_id: str = Field(min_length=1, max_length=40)
    label_en: str = Field(min_length=1, max_length=40)
    # Buzzer steps as [on seconds, off seconds]; each code must sound different.
    pattern: tuple[tuple[float, float], ...] = Field(min_length=1)
    # How often the pattern plays; 0 = until the alarm is acknowledged.
    repeat: int = Field(0, ge=0, le=100)
    # Relay states forced while the alarm is active, e.g. { gate_lock = false, lights = true }.
    relays: dict[str, bool] = Field(default_factory=dict)
    # Contact groups from [contacts] that get the SMS.
    notify: tuple[str, ...] = ()
    # SMS text; {site} and {time} are filled in. One SMS: at most 160 plain characters.
    message: str = Field("", max_length=300)
    # Panic-button gesture that raises this code: "hold", "presses:N" (2-9), or "" for none.
    button: str = ""
    # Raising this code ends every active alarm (the all-clear).
    clears: bool = False

    @field_validator("pattern")
    @classmethod
    def _steps(cls, value: tuple) -> tuple:
        for on, off in value:
            if not (0 <= on <= 60 and 0 <= off <= 60):
                raise ValueError("each step is [on seconds, off seconds], 0-60 each")
        if all(on == 0 for on, _ in value):
            raise ValueError("the pattern never sounds: give at least one step an on time")
        return value

    @field_validator("button")
    @classmethod
    def _gesture(cls, value: str) -> str:
        if value and not GESTURE.fullmatch(value):
            raise ValueError('use "hold", "presses:2" to "presses:9", or "" for no button')
        return value


def default_alarms() -> dict[str, AlarmSettings]:
    out = {"gate_lock": False, "lights": True}  # people must get out, and see
    return {
        "fire": AlarmSettings(
            label_id="Kebakaran", label_en="Fire", pattern=((0.5, 0.5),), relays=out,
            notify=("leadership", "fire_brigade"), button="presses:3",
            message="KEBAKARAN di {site} pukul {time}. Evakuasi berlangsung."),
        "disaster": AlarmSettings(
            label_id="Bencana", label_en="Natural disaster", pattern=((2.0, 1.0),), relays=out,
            notify=("leadership",),
            message="BENCANA di {site} pukul {time}. Petugas sedang menangani."),
        "crime": AlarmSettings(
            label_id="Tindak pidana", label_en="Crime",
            pattern=((0.2, 0.2), (0.2, 0.2), (0.2, 1.4)), relays={"lights": True},
            notify=("leadership", "police"), button="hold",
            message="TINDAK PIDANA di {site} pukul {time}. Mohon bantuan segera."),
        "evacuation": AlarmSettings(
            label_id="Evakuasi", label_en="Evacuation", pattern=((3.0, 1.0),), relays=out,
            notify=("leadership",), button="presses:5",
            message="EVAKUASI di {site} pukul {time}. Semua orang keluar gedung."),
        "all_clear": AlarmSettings(
            label_id="Aman", label_en="All clear", pattern=((1.5, 0.0),), repeat=1,
            notify=("leadership",), clears=True,
            message="AMAN: keadaan di {site} terkendali pukul {time}."),
    }


def _phones(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for group, numbers in value.items():
        for number in numbers if isinstance(numbers, list | tuple) else [numbers]:
            if not isinstance(number, str) or not PHONE.fullmatch(number.replace(" ", "")):
                raise ValueError(
                    f"{group}: {number!r} is not a phone number: use +62 and digits, "
                    'e.g. "+6281234567890"'
                )
    return value


class TaskSettings(Section):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    title_id: str = Field(min_length=1, max_length=80)
    title_en: str = Field(min_length=1, max_length=80)
    at: TimeOfDay
    # Minutes after `at` when the task is flagged overdue.
    grace_minutes: int = Field(15, ge=1, le=720)
    days: tuple[str, ...] = DAY_KEYS

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple) -> tuple:
        for day in value:
            if day not in DAY_KEYS:
                raise ValueError(f"{day!r} is not a day{did_you_mean(day, DAY_KEYS)}")
        return value


class PatrolWindow(Section):
    start: TimeOfDay
    end: TimeOfDay
    count: int = Field(1, ge=1, le=12)


class Checkpoint(Section):
    # The id is printed in the checkpoint's QR code (GK1:CP:<id>): changing it means
    # printing that code again.
    id: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=80)


def default_checkpoints() -> tuple[Checkpoint, ...]:
    return (
        Checkpoint(id="gerbang", name="Gerbang depan"),
        Checkpoint(id="parkir", name="Area parkir"),
        Checkpoint(id="gudang", name="Gudang logistik"),
        Checkpoint(id="belakang", name="Halaman belakang"),
    )


class PatrolSettings(Section):
    # Patrols start at random times within these windows, drawn anew each night, so nobody
    # outside can learn the rounds. A window may cross midnight.
    windows: tuple[PatrolWindow, ...] = Field(
        (PatrolWindow(start=dt.time(21, 0), end=dt.time(0, 0), count=1),
         PatrolWindow(start=dt.time(0, 0), end=dt.time(5, 0), count=2)))
    grace_minutes: int = Field(30, ge=5, le=180)
    # QR codes along the route, scanned during a round; () for rounds without them.
    checkpoints: tuple[Checkpoint, ...] = Field(default_factory=default_checkpoints,
                                                max_length=50)

    @field_validator("windows")
    @classmethod
    def _enough(cls, value: tuple) -> tuple:
        if sum(w.count for w in value) < 3:
            raise ValueError("the SOP asks for at least 3 patrols a night: raise the counts")
        return value

    @field_validator("checkpoints")
    @classmethod
    def _unique_checkpoints(cls, value: tuple) -> tuple:
        _once([checkpoint.id for checkpoint in value], "checkpoint id")
        return value


def default_tasks() -> tuple[TaskSettings, ...]:
    return (
        TaskSettings(id="flag_lower", title_id="Turunkan bendera Merah Putih",
                     title_en="Lower the national flag", at=dt.time(17, 0), grace_minutes=15),
        TaskSettings(id="rooms_locked", title_id="Kunci pintu ruangan yang sudah kosong",
                     title_en="Lock the empty rooms", at=dt.time(17, 30), grace_minutes=60),
        TaskSettings(id="guests_out", title_id="Pastikan semua tamu sudah keluar",
                     title_en="See every guest out", at=dt.time(21, 0), grace_minutes=15),
        TaskSettings(id="flag_raise", title_id="Naikkan bendera Merah Putih",
                     title_en="Raise the national flag", at=dt.time(6, 0), grace_minutes=15),
    )


class TasksSettings(Section):
    daily: tuple[TaskSettings, ...] = Field(default_factory=default_tasks)
    patrols: PatrolSettings = PatrolSettings()

    @field_validator("daily")
    @classmethod
    def _unique(cls, value: tuple) -> tuple:
        _once([task.id for task in value], "task id")
        return value


Contacts = Annotated[dict[str, tuple[str, ...]], BeforeValidator(_phones)]


def default_contacts() -> dict[str, tuple[str, ...]]:
    return {"leadership": (), "police": (), "fire_brigade": ()}


class StaffMember(Section):
    name: str = Field(min_length=1, max_length=80)
    unit: str = Field("", max_length=80)


def default_staff() -> tuple[StaffMember, ...]:
    return (
        StaffMember(name="Ketua KPU", unit="Pimpinan"),
        StaffMember(name="Sekretaris", unit="Sekretariat"),
        StaffMember(name="Kasubbag Umum", unit="Subbagian Umum"),
        StaffMember(name="Kasubbag Teknis", unit="Subbagian Teknis"),
        StaffMember(name="Bagian Keuangan", unit="Subbagian Keuangan"),
    )


class VisitsSettings(Section):
    # Guest badges (kartu tamu) in the pool, labelled badge_prefix + number: TAMU-01 ...
    badges: int = Field(30, ge=1, le=999)
    badge_prefix: str = Field("TAMU-", max_length=10)
    # SOP 7c: a guest whose host is away may wait until wait_until; everyone out by out_by.
    wait_until: TimeOfDay = dt.time(16, 0)
    out_by: TimeOfDay = dt.time(21, 0)
    id_types: tuple[str, ...] = Field(("KTP", "SIM", "Paspor", "Kartu pegawai", "Lainnya"),
                                      min_length=1)
    # Days after which a visit's personal data (name, phone, identity) is purged.
    retention_days: int = Field(90, ge=1, le=3650)
    # The people guests come to see, searchable on the kiosk.
    staff: tuple[StaffMember, ...] = Field(default_factory=default_staff)

    @model_validator(mode="after")
    def _order(self) -> VisitsSettings:
        if self.wait_until >= self.out_by:
            raise ValueError("wait_until must be earlier than out_by")
        return self


class UiSettings(Section):
    # Where the touchscreen finds the core: "http://127.0.0.1:8470" or "unix:/run/kiosk/core.sock".
    core_url: str = "http://127.0.0.1:8470"
    fullscreen: bool = True
    # Seconds without a touch before the screen returns to Welcome and drops what was typed.
    inactivity_seconds: int = Field(90, ge=15, le=1800)
    # Window size when not fullscreen (development, the simulator), "WIDTHxHEIGHT".
    window: str = Field("1024x600", pattern=r"^[0-9]{3,4}x[0-9]{3,4}$")


PLATE = re.compile(r"([A-Z]{1,2})([0-9]{1,4})([A-Z]{0,3})")


def plate(text: str) -> str | None:
    """``"b 1234 xyz"`` -> ``"B 1234 XYZ"``; None for anything that is not a number plate.

    Indonesian plates (TNKB) are a region code of one or two letters, one to four digits and
    up to three letters. Guards type them in a hurry, with or without spaces, dots or dashes;
    one spelling per vehicle is what lets the register find it again when it leaves.
    """
    squeezed = re.sub(r"[\s.\-]", "", text).upper()
    found = PLATE.fullmatch(squeezed)
    return " ".join(part for part in found.groups() if part) if found else None


class RegistersSettings(Section):
    # Office inventory the guard lends out (SOP 3), one name per item as on its label.
    items: tuple[str, ...] = ()
    # Office vehicles (kendaraan dinas), number plate -> description.
    vehicles: dict[str, str] = Field(default_factory=dict)

    @field_validator("items")
    @classmethod
    def _items(cls, value: tuple) -> tuple:
        names: list[str] = []
        for name in value:
            text = " ".join(name.split())
            if not 1 <= len(text) <= 80:
                raise ValueError(f"item {name!r}: a name of 1 to 80 characters")
            if text.casefold() in (n.casefold() for n in names):
                raise ValueError(f"item {text!r} is listed twice: give each item its own name")
            names.append(text)
        return tuple(names)

    @field_validator("vehicles")
    @classmethod
    def _plates(cls, value: dict) -> dict:
        out: dict[str, str] = {}
        for key, description in value.items():
            found = plate(key)
            if found is None:
                raise ValueError(f"{key!r} is not a number plate: write it as on the vehicle, "
                                 'e.g. "B 1234 XYZ"')
            if found in out:
                raise ValueError(f"plate {found} is listed twice")
            text = " ".join(description.split())
            if not 1 <= len(text) <= 80:
                raise ValueError(f"{found}: describe the vehicle in 1 to 80 characters, e.g. "
                                 '"Toyota Innova hitam"')
            out[found] = text
        return out


# -- the duty roster (SOP 1, 20, 21) ---------------------------------------------------------

SHIFT_NAME = r"^[a-z0-9_]{1,20}$"
# International form, so the modem dials the same number from any network: + and 8-15 digits.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ShiftSettings(Section):
    name: str = Field(pattern=SHIFT_NAME)
    start: TimeOfDay
    end: TimeOfDay

    @model_validator(mode="after")
    def _not_empty(self) -> ShiftSettings:
        if self.start == self.end:
            raise ValueError("start and end are the same time: a shift needs a length")
        return self


class DutySettings(Section):
    shift: str = Field(min_length=1, max_length=20)
    guard: str = Field(min_length=1, max_length=60)
    # SOP 20: when the guard cannot come, the two other guards back them up.
    backups: tuple[str, ...]

    @field_validator("backups")
    @classmethod
    def _two(cls, value: tuple) -> tuple:
        if len(value) != 2:
            raise ValueError("name two backups (SOP 20: the two other guards stand in)")
        return value

    @model_validator(mode="after")
    def _others(self) -> DutySettings:
        names = [folded(n) for n in (self.guard, *self.backups)]
        if len(set(names)) != len(names):
            raise ValueError("the guard and the two backups must be three different people")
        return self


def default_shifts() -> tuple[ShiftSettings, ...]:
    # SOP 6: the lobby during work hours, 08.00-17.00; SOP 5: the post after hours, 17.00-08.00.
    return (ShiftSettings(name="pagi", start=dt.time(8, 0), end=dt.time(17, 0)),
            ShiftSettings(name="malam", start=dt.time(17, 0), end=dt.time(8, 0)))


def folded(name: str) -> str:
    """A name as compared: case and repeated spaces do not make a different person."""
    return " ".join(name.split()).casefold()


class RosterSettings(Section):
    shifts: tuple[ShiftSettings, ...] = Field(default_factory=default_shifts)
    # Guard name -> mobile number for the backup and call-out SMS.
    guards: dict[str, str] = Field(default_factory=dict)
    # Day key (mon .. sun, holiday) -> the shifts staffed that day.
    duty: dict[str, tuple[DutySettings, ...]] = Field(default_factory=dict)
    checkin_grace_minutes: int = Field(15, ge=1, le=240)

    @field_validator("shifts")
    @classmethod
    def _unique(cls, value: tuple) -> tuple:
        _once([shift.name for shift in value], "shift name")
        return value

    @field_validator("guards", mode="before")
    @classmethod
    def _phones(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for name, number in value.items():
            if not name.strip() or len(name) > 60 or CONTROL.search(name):
                raise ValueError(f"{name!r}: a guard's name is 1 to 60 characters")
            plain = re.sub(r"[\s-]", "", number) if isinstance(number, str) else ""
            if not E164.fullmatch(plain):
                raise ValueError(f'{name} = "{number}": not a mobile number in international '
                                 'form: use + and the country code, e.g. "+6281234567890"')
            if any(folded(other) == folded(name) for other in out):
                raise ValueError(f"{name!r} is listed twice (names differ only in case or spaces)")
            out[name] = plain
        return out

    def problems(self) -> list[str]:
        """Days, shifts and names in ``duty`` that point nowhere, as ``key = value: problem``."""
        lines: list[str] = []
        shifts = [shift.name for shift in self.shifts]
        guards = {folded(name): name for name in self.guards}
        for day, duties in self.duty.items():
            if day not in DAY_KEYS:
                lines.append(f"roster.duty.{day}: not a day{did_you_mean(day, DAY_KEYS)}; use "
                             f"{', '.join(DAY_KEYS)}")
                continue
            seen: set[str] = set()
            for i, duty in enumerate(duties):
                key = f"roster.duty.{day}[{i}]"
                if duty.shift not in shifts:
                    lines.append(f'{key}.shift = "{duty.shift}": no such shift in roster.shifts'
                                 f"{did_you_mean(duty.shift, shifts)}; shifts are "
                                 f"{', '.join(shifts) or '(none)'}")
                elif duty.shift in seen:
                    lines.append(f'{key}.shift = "{duty.shift}": this shift is given twice '
                                 f"on {day}")
                seen.add(duty.shift)
                for field, name in (("guard", duty.guard),
                                    *((f"backups[{n}]", b) for n, b in enumerate(duty.backups))):
                    if folded(name) not in guards:
                        close = difflib.get_close_matches(folded(name), list(guards), 1)
                        hint = f" (did you mean {guards[close[0]]!r}?)" if close else ""
                        lines.append(f'{key}.{field} = "{name}": not in [roster.guards]{hint}; '
                                     f"guards are {', '.join(self.guards) or '(none yet)'}")
        return lines

    def phone(self, name: str) -> str | None:
        """The number of the guard called ``name`` (case and spacing aside), if listed."""
        wanted = folded(name)
        return next((number for guard, number in self.guards.items()
                     if folded(guard) == wanted), None)
