"""Value types shared by every config section, each with the one-line message its error shows."""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A day key for dates listed in [calendar] holidays: an interval with "holiday" in its days
# runs on holidays, whatever weekday they fall on.
DAY_KEYS = (*WEEKDAYS, "holiday")


def did_you_mean(value: object, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing."""
    close = difflib.get_close_matches(str(value).lower(), [str(c) for c in choices], 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
