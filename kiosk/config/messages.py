"""Turning pydantic's validation errors into the one-line messages an installer can act on."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from typing import Any

from pydantic import BaseModel

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
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def describe(name: str, err: dict) -> str:
    """One line for one pydantic error: file, key, value, and what is allowed."""
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
    value = err.get("input")
    if err["type"] == "tuple_type" and isinstance(value, dict):
        message = f"must be a list: write [[{key}]] (double brackets), once per entry"
    elif friendly:
        message = friendly
    elif err["type"] == "string_too_short":
        message = "must not be empty" if err["ctx"]["min_length"] == 1 else (
            f"needs at least {err['ctx']['min_length']} characters")
    elif err["type"] == "string_too_long":
        message = f"is too long (at most {err['ctx']['max_length']} characters)"
    elif err["type"] == "too_short":
        message = "needs at least one entry"
    elif err["type"] == "string_pattern_mismatch":
        message = "has characters that are not allowed here"
    elif err["type"] == "literal_error":
        message = "must be one of " + err["ctx"]["expected"]
    elif err["type"] in ("greater_than_equal", "less_than_equal"):
        message = _range_message(loc)
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


def _walk(loc: tuple) -> tuple[Any, Any]:
    """The (field, model) that ``loc`` leads to, stepping over dict keys and list indexes."""
    from kiosk.config.settings import Settings

    model: Any = Settings
    field = None
    skip_key = False
    for part in loc:
        if skip_key or isinstance(part, int):
            skip_key = False
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return field, None
        field = model.model_fields.get(str(part))
        if field is None:
            return None, None
        skip_key = getattr(field.annotation, "__origin__", None) is dict
        model = _model_of(field.annotation)
    return field, model


def _field_at(loc: tuple):
    return _walk(loc)[0]


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
    model = _walk(loc)[1]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _key(loc: tuple) -> str:
    """The key as TOML writes it; odd characters quoted and escaped, so it stays one line."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            continue
        text = str(part) if BARE_KEY.fullmatch(str(part)) else _quoted(str(part))
        key += f".{text}" if key else text
    return key


def _quoted(text: str) -> str:
    r"""A TOML basic string: JSON's escapes (\\n, \\u001b, \\") are TOML's too."""
    return json.dumps(text, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)
