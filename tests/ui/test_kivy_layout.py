"""Every screen at 800x480, 1024x600 and 1920x1080, in both languages: big enough targets,
nothing cut off, nothing outside the window, no buttons on top of each other.

The states are the screenshot script's scenes (kiosk/ui/screenshots.py), so what is checked
here is what docs/screenshots shows.
"""

from __future__ import annotations

import pytest

from kiosk.ui.screenshots import scenes

from .harness import layout_problems

WINDOW_SIZES = ("800x480", "1024x600", "1920x1080")
MIN_TARGET = 48  # px: a fingertip


def problems(kiosk) -> list[str]:
    return layout_problems(kiosk, kiosk.dialog() or kiosk.screen, MIN_TARGET)


# The guard panel's scenes run against a real core (their own modules check their layout);
# the simulator's needs its panel (test_kivy_simpanel.py).
@pytest.mark.parametrize("scene", [name for name in scenes()
                                   if not name.startswith("guard-") and name != "sim"])
def test_screen_layout(demo_kiosk, scene):
    app = demo_kiosk.app
    app.core_ok = True
    demo_kiosk.camera.recover()
    wait = scenes()[scene](app)
    app.last_touch = float("inf")  # no inactivity reset while looking
    demo_kiosk.pump(wait or 6)
    found = {"id": problems(demo_kiosk)} if app.lang == "id" else {}
    app.set_language("en")
    demo_kiosk.pump(4)
    found["en"] = problems(demo_kiosk)
    app.close_dialogs()
    assert found == {lang: [] for lang in found}
