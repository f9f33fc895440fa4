"""Every screen at 800x480, 1024x600 and 1920x1080, in both languages: big enough targets,
nothing cut off, nothing outside the window, no buttons on top of each other.

The states are the screenshot script's scenes (kiosk/ui/screenshots.py), so what is checked
here is what docs/screenshots shows.
"""

from __future__ import annotations

import pytest
from kivy.core.window import Window
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label

from kiosk.ui.screenshots import scenes

WINDOW_SIZES = ("800x480", "1024x600", "1920x1080")
MIN_TARGET = 48  # px: a fingertip


def visible_widgets(kiosk):
    roots = [kiosk.dialog()] if kiosk.dialog() else [kiosk.screen]
    return [w for root in roots for w in root.walk(restrict=True) if kiosk.shown(w)]


def problems(kiosk) -> list[str]:
    found = []
    width, height = Window.size
    widgets = visible_widgets(kiosk)
    buttons = [w for w in widgets if isinstance(w, ButtonBehavior) and not w.disabled
               and w.to_window(w.x, w.y)[0] < width]
    for w in widgets:
        x0, y0 = w.to_window(w.x, w.y)
        x1, y1 = w.to_window(w.right, w.top)
        name = f"{type(w).__name__} {getattr(w, 'text', '')[:40]!r}"
        if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0:
            continue  # parked off the window until needed: not on screen at all
        if x0 < -1 or y0 < -1 or x1 > width + 1 or y1 > height + 1:
            found.append(f"{name} is outside the window: {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f}")
        if w in buttons and min(w.size) < MIN_TARGET:
            found.append(f"{name} is {w.width:.0f}x{w.height:.0f}, under {MIN_TARGET} px")
        if isinstance(w, Label) and w.text and not w.shorten:
            w.texture_update()
            content_w, content_h = w._label.content_size
            room_w = (w.text_size[0] or w.width) if w.text_size[0] else w.width
            room_h = (w.text_size[1] or w.height) if w.text_size[1] else w.height
            if content_w > room_w + 2 or content_h > room_h + 2:
                found.append(f"{name} does not fit: text {content_w:.0f}x{content_h:.0f} in "
                             f"{room_w:.0f}x{room_h:.0f}")
    for i, a in enumerate(buttons):
        for b in buttons[i + 1:]:
            if a in b.walk_reverse() or b in a.walk_reverse():
                continue
            ax0, ay0 = a.to_window(a.x, a.y)
            bx0, by0 = b.to_window(b.x, b.y)
            if (ax0 + 1 < bx0 + b.width and bx0 + 1 < ax0 + a.width
                    and ay0 + 1 < by0 + b.height and by0 + 1 < ay0 + a.height):
                found.append(f"buttons overlap: {getattr(a, 'text', '')[:30]!r} and "
                             f"{getattr(b, 'text', '')[:30]!r}")
    return found


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
