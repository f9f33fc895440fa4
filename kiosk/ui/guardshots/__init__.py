"""Scenes of the guard's panel for ``python -m kiosk.ui.screenshots``.

Unlike the guests' screens (pictured against canned answers), the panel is pictured
against a real core on simulated hardware and a frozen simulated clock, filled with a
realistic shift by each scene through the core's own domain objects: the picture shows
what the API really returns. One module per screen; each has ``SCENES``, a dict of scene
name (``guard-...``) to ``scene(app, core)``, which seeds what it needs, opens the screen
and may return the number of frames to wait before the picture.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable


def scenes() -> dict[str, Callable]:
    found: dict[str, Callable] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        found.update(getattr(importlib.import_module(f"{__name__}.{module}"), "SCENES", {}))
    return found
