"""Every guest text exists in both languages, and every key the screens use is there."""

import ast
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.ui.i18n import LOCALE_DIR, Catalog, format_datetime, format_number

UI = Path(__file__).resolve().parents[2] / "kiosk" / "ui"
WIB = ZoneInfo("Asia/Jakarta")


def used_keys() -> set[str]:
    """Literal keys in kv and Python: tr._("x.y"), app.text("x.y"), "x.y" keys of locale."""
    found = set()
    for path in [*UI.rglob("*.kv"), *UI.rglob("*.py")]:
        text = path.read_text()
        found |= set(re.findall(r'(?:tr\._|\.text|_dialog\.fail|\.fail)\(\s*"([a-z_]+\.[a-z_]+)"',
                                text))
        found |= set(re.findall(r'"((?:error|temp|consent|scan|checkout|guard|cancel|exit|'
                                r'done|details|review|welcome|common|unreachable)\.[a-z_]+)"',
                                text))
    # File names (welcome.kv) and prefixes completed at run time ("details.q_" + field).
    return {key for key in found if not key.endswith(("_", ".kv", ".py"))}


def built_keys() -> set[str]:
    """Keys put together in kv from a prefix and a field name (STEPS, read without Kivy)."""
    tree = ast.parse((UI / "screens" / "details.py").read_text())
    STEPS = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "STEPS" for t in node.targets))
    keys = set()
    for field in STEPS:
        keys |= {f"details.q_{field}", f"details.ph_{field}", f"details.hint_{field}",
                 f"review.{field}"}
    return keys | {"details.hint_id_number_ktp"}


def test_both_languages_have_the_same_keys():
    catalog = Catalog.load()
    assert set(catalog.texts["id"]) == set(catalog.texts["en"])
    assert catalog.languages == ("id", "en")


def test_every_key_the_screens_use_exists():
    catalog = Catalog.load()
    missing = sorted(key for key in used_keys() | built_keys() if not catalog.has(key))
    assert missing == []


def test_placeholders_match_between_languages():
    catalog = Catalog.load()
    for key, text in catalog.texts["id"].items():
        names = set(re.findall(r"\{(\w+)\}", text))
        assert names == set(re.findall(r"\{(\w+)\}", catalog.texts["en"][key])), key


def test_no_square_brackets_outside_markup():
    # Labels that use markup would read [anything] as a tag.
    for path in LOCALE_DIR.glob("*.toml"):
        for line in path.read_text().splitlines():
            if line.startswith("[") or line.startswith("#"):
                continue
            stripped = re.sub(r"\[/?b\]", "", line)
            assert "[" not in stripped, (path.name, line)


def test_dates_as_the_lobby_reads_them():
    moment = dt.datetime(2026, 11, 23, 14, 5, tzinfo=WIB)
    assert format_datetime(moment, "id") == "Senin, 23 November 2026 · 14.05"
    assert format_datetime(moment, "en") == "Monday, 23 November 2026 · 14:05"
    assert format_datetime(dt.datetime(2027, 8, 17, 9, 0, tzinfo=WIB), "id") == \
        "Selasa, 17 Agustus 2027 · 09.00"


def test_numbers_use_the_languages_decimal_mark():
    catalog = Catalog.load()
    assert format_number(36.65, "id") in ("36,6", "36,7")
    assert catalog.text("id", "temp.value", celsius=36.7) == "36,7 °C"
    assert catalog.text("en", "temp.value", celsius=36.7) == "36.7 °C"
    assert catalog.text("en", "no.such_key") == "no.such_key"
    assert catalog.text("en", "id_type.Lainnya") == "Other"
    assert catalog.text("en", "id_type.Custom", _default="Custom") == "Custom"
