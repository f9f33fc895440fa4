"""The TrueType font for printed matter: reports and checkpoint cards.

Guests' names come in every script the kiosk keyboard can type (Đặng, Zoë, Ñúñez), and the
PDF core fonts know Latin-1 only, so a printed guest book needs an embedded Unicode font.
Kivy, a dependency of the kiosk anyway, ships DejaVu Sans; it is found through the package's
location without importing Kivy, which would start its window and logging machinery. Debian
and Raspberry Pi OS also install DejaVu Sans system-wide (fonts-dejavu-core), the fallback.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

FONT_FILE = "DejaVuSans.ttf"
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)


class FontMissing(RuntimeError):
    """No Unicode TrueType font was found; the message says what to install."""


@functools.cache
def unicode_font() -> Path:
    """The DejaVu Sans file to embed, looked for once (a missing one again at each call).

    Raises:
        FontMissing: neither Kivy's copy nor a system copy exists.
    """
    candidates: list[Path] = []
    spec = importlib.util.find_spec("kivy")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(location) / "data" / "fonts" / FONT_FILE)
    candidates += [directory / FONT_FILE for directory in SYSTEM_FONT_DIRS]
    for path in candidates:
        if path.is_file():
            return path
    raise FontMissing(f"{FONT_FILE} not found (looked in {', '.join(map(str, candidates))}): "
                      "reinstall the kiosk, or install the fonts-dejavu-core package")
