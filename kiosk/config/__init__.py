"""The kiosk's one TOML config file, loaded into typed, immutable settings.

The person reading a config error is an installer at a district office, often over the
phone. So every problem becomes one line naming the file, the key, the value and what is
allowed (``kiosk.toml: relays.lights.pin = 41: not a BCM GPIO pin (0-27)``), all problems are
reported at once, and nothing starts with a half-valid config.

The file is deep-merged over the defaults: a key left out keeps its default, a table left
out keeps all of its defaults, and a list given replaces the default list.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from kiosk.config.devices import Interval, RelaySettings
from kiosk.config.fields import DAY_KEYS, WEEKDAYS
from kiosk.config.messages import describe
from kiosk.config.post import AlarmSettings, PatrolWindow, TaskSettings
from kiosk.config.settings import Settings, cross_checks, pin_conflicts, simulator_defaults

__all__ = [
    "DAY_KEYS", "WEEKDAYS", "AlarmSettings", "ConfigError", "Interval", "PatrolWindow",
    "RelaySettings", "Settings", "TaskSettings", "find_config", "load", "parse",
    "simulator_defaults",
]

SYSTEM_CONFIG = Path("/etc/kiosk/kiosk.toml")


class ConfigError(Exception):
    """The config cannot be used; ``problems`` holds one printable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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
        text = path.read_text(encoding="utf-8-sig")  # Notepad saves UTF-8 with a BOM
    except FileNotFoundError:
        raise ConfigError([
            f"{path}: file not found: copy config/kiosk.example.toml there, or pass --config"
        ]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory: give the path of the .toml file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text: save it as UTF-8"
        raise ConfigError([f"{path}: cannot read: {reason}"]) from None
    return parse(text, str(path))


def parse(text: str, name: str = "kiosk.toml") -> Settings:
    """Validate TOML ``text``; ``name`` is what error lines call the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: not valid TOML: {exc}"]) from None
    merged = _deep_merge(Settings().model_dump(mode="python"), _tuples(data))
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = [describe(name, err) for err in exc.errors()]
        problems += [f"{name}: {line}" for line in pin_conflicts(merged)]
        raise ConfigError(problems) from None
    problems = [f"{name}: {line}" for line in cross_checks(settings)]
    if problems:
        raise ConfigError(problems)
    return settings


# What hq may send to replace parts of the config (the office's people change more often
# than its wiring): the SMS recipients, the staff directory guests pick their host from, and
# the duty roster. Everything else stays as the config file says.
PULLED = ("contacts", "staff", "roster")
ROSTER_KEYS = ("guards", "duty", "shifts", "checkin_grace_minutes")


def overlay(settings: Settings, pulled: dict[str, dict], *, name: str = "") -> Settings:
    """``settings`` with hq's newest ``contacts``, ``staff`` and ``roster`` in place.

    Checked exactly like the config file (one line per problem, cross-checks included), so
    hq cannot give the post a roster naming an unknown shift or an alarm with no recipients.

    Raises:
        ConfigError: naming the update and the key at fault.
    """
    data = settings.model_dump(mode="python")
    for kind, body in pulled.items():
        if kind not in PULLED or not isinstance(body, dict):
            raise ConfigError([f"hq update {kind!r}: not one of {', '.join(PULLED)}"])
        body = _tuples(body)
        if kind == "contacts":
            data["contacts"] = body
        elif kind == "staff":
            data["visits"] = {**data["visits"], "staff": body.get("staff", ())}
        else:
            data["roster"] = {**data["roster"],
                              **{k: body[k] for k in ROSTER_KEYS if k in body}}
    name = name or "hq update " + "+".join(pulled)
    try:
        updated = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([describe(name, err) for err in exc.errors()]) from None
    problems = [f"{name}: {line}" for line in cross_checks(updated)]
    if problems:
        raise ConfigError(problems)
    return updated


def _tuples(value):
    """TOML arrays as tuples: the settings are immutable, and strict mode takes only tuples."""
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
