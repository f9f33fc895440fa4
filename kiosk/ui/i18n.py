"""Guest-facing text in Bahasa Indonesia and English, from ``kiosk/ui/locale/<lang>.toml``.

Every word a guest reads lives in the locale files, never in Python or kv, so a translator
edits one file and a test can check that both languages have the same keys. Keys are the
TOML table path flattened with dots (``[welcome] register = ...`` is ``welcome.register``);
texts may hold ``{name}`` placeholders filled by :meth:`Catalog.text`.

Bahasa Indonesia is the default and the fallback: a key missing in English shows the
Indonesian text rather than nothing. This module has no Kivy import, so tests and tools can
use it without opening a window.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from pathlib import Path

LANGUAGES = ("id", "en")
DEFAULT = "id"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

DAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def _flatten(table: Mapping, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, path + "."))
        elif isinstance(value, str):
            out[path] = value
        else:
            raise ValueError(f"locale key {path}: texts must be strings, got {value!r}")
    return out


class Catalog:
    """All texts of all languages, looked up by key.

    Args:
        texts: language -> flattened key -> text.
    """

    def __init__(self, texts: Mapping[str, Mapping[str, str]]) -> None:
        if DEFAULT not in texts:
            raise ValueError(f"the catalog needs the default language {DEFAULT!r}")
        self.texts = {lang: dict(table) for lang, table in texts.items()}

    @classmethod
    def load(cls, folder: Path = LOCALE_DIR) -> Catalog:
        """Read ``<lang>.toml`` and ``<lang>/*.toml`` for every supported language in ``folder``.

        The guest's texts are in ``<lang>.toml``; the guard panel's, one file per screen, in
        ``<lang>/`` (a translator of the lobby screens never wades through the registers).

        Raises:
            FileNotFoundError: The default language's file is missing.
            ValueError: A file is not valid TOML, holds something other than text, or
                repeats a key another file has.
        """
        texts = {}
        for lang in LANGUAGES:
            path = folder / f"{lang}.toml"
            if not path.exists():
                if lang == DEFAULT:
                    raise FileNotFoundError(f"{path}: the Indonesian texts are missing")
                continue
            table: dict[str, str] = {}
            for part in [path, *sorted((folder / lang).glob("*.toml"))]:
                try:
                    found = _flatten(tomllib.loads(part.read_text(encoding="utf-8")))
                except tomllib.TOMLDecodeError as exc:
                    raise ValueError(f"{part}: {exc}") from None
                twice = sorted(set(found) & set(table))
                if twice:
                    raise ValueError(f"{part}: {', '.join(twice)} already defined elsewhere")
                table.update(found)
            texts[lang] = table
        return cls(texts)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in LANGUAGES if lang in self.texts)

    def has(self, key: str) -> bool:
        return key in self.texts[DEFAULT]

    def text(self, lang: str, key: str, _default: str | None = None, **params: object) -> str:
        """The text for ``key`` in ``lang`` (else Indonesian, else ``_default`` or the key).

        Floats among ``params`` are written with one decimal and the language's decimal
        mark (36,7 in Indonesian, 36.7 in English). Placeholders left unfilled stay
        visible rather than raising: a screen must never crash over a translation.
        """
        table = self.texts.get(lang) or self.texts[DEFAULT]
        template = table.get(key, self.texts[DEFAULT].get(key))
        if template is None:
            return key if _default is None else _default
        if not params:
            return template
        params = {name: format_number(value, lang) if isinstance(value, float) else value
                  for name, value in params.items()}
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template


def format_number(value: float, lang: str, decimals: int = 1) -> str:
    """``36.7`` as the language writes it: ``36,7`` in Indonesian."""
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if lang == "id" else text


def format_datetime(moment: dt.datetime, lang: str) -> str:
    """The date and time as the lobby reads it: ``Senin, 23 November 2026 · 14.05``.

    Indonesian writes the time with a dot (PUEBI), English with a colon.
    """
    lang = lang if lang in DAYS else DEFAULT
    day = DAYS[lang][moment.weekday()]
    month = MONTHS[lang][moment.month - 1]
    sep = "." if lang == "id" else ":"
    return f"{day}, {moment.day} {month} {moment.year} · {moment:%H}{sep}{moment:%M}"
