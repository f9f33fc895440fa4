"""The README's configuration reference names every key of the settings, and nothing else.

Keys are written there as the error messages name them (``relays.NAME.schedule[].on``): a
word in capitals is a name the user chooses, ``[]`` a list of tables. A default given as one
TOML value in backticks must be the settings' default.
"""

import datetime as dt
import re
import tomllib
import typing
from pathlib import Path

from pydantic import BaseModel

from kiosk.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
NO_DEFAULT = object()


def model_keys(model: type[BaseModel], prefix: str = "", instance=None) -> dict[str, object]:
    """Every leaf key of ``model`` -> its default (``NO_DEFAULT`` when there is none)."""
    keys: dict[str, object] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if instance is not None and "*" not in path and "[]" not in path:
            default = getattr(instance, name)
        elif field.is_required():
            default = NO_DEFAULT
        else:
            default = field.get_default(call_default_factory=True)
        keys |= _keys(field.annotation, path, default)
    return keys


def _keys(annotation, path: str, default) -> dict[str, object]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_keys(annotation, path + ".",
                          default if isinstance(default, BaseModel) else None)
    if origin is dict:
        return _keys(args[1], path + ".*", NO_DEFAULT)
    if origin is tuple and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return model_keys(args[0], path + "[].")
    return {path: default}


def readme_reference(path: Path = README) -> dict[str, str]:
    """Key (capitals as ``*``) -> its default cell, from the tables headed ``| key |``."""
    text = path.read_text(encoding="utf-8")
    section = text.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    in_table = False
    for line in section.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == "key":
            in_table = True
            continue
        if not in_table or set(cells[0]) <= {"-"}:
            continue
        found = re.fullmatch(r"`([A-Za-z0-9_.\[\]]+)`", cells[0])
        assert found, f"README: {cells[0]!r} is not a key in backticks"
        key = re.sub(r"\b[A-Z][A-Z_]*\b", "*", found[1])
        assert key not in rows, f"README: {found[1]} is listed twice"
        rows[key] = cells[1]
    return rows


def toml_value(value):
    """A default as TOML reads it back: times as "HH:MM", tuples as lists."""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple | list):
        return [toml_value(v) for v in value]
    if isinstance(value, dict):
        return {k: toml_value(v) for k, v in value.items()}
    return value


def test_every_settings_key_is_in_the_readme_and_only_those():
    documented = readme_reference()
    keys = model_keys(Settings, instance=Settings())
    assert len(keys) > 90
    assert sorted(set(keys) - set(documented)) == [], "keys missing from the README"
    assert sorted(set(documented) - set(keys)) == [], "README keys the settings do not have"


def test_defaults_written_as_one_value_are_the_real_defaults():
    keys = model_keys(Settings, instance=Settings())
    checked = 0
    for key, cell in readme_reference().items():
        single = re.fullmatch(r"`([^`]+)`", cell)
        if not single:
            continue  # prose ("lights `17`, gate_lock `27`", "none"): not a single value
        assert keys[key] is not NO_DEFAULT, f"{key}: README gives a default, there is none"
        written = tomllib.loads(f"v = {single[1]}")["v"]
        assert written == toml_value(keys[key]), f"{key}: README says {single[1]}"
        checked += 1
    assert checked > 50


def test_the_reading_of_the_readme_sees_a_row_go(tmp_path):
    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `thermometer.offset_c`"))
    edited = tmp_path / "README.md"
    edited.write_text(text.replace(row + "\n", ""), encoding="utf-8")
    assert "thermometer.offset_c" in readme_reference()
    assert "thermometer.offset_c" not in readme_reference(edited)
