"""Kivy's settings for a kiosk, applied before Kivy opens its window.

Kivy reads its environment when ``kivy`` is first imported and its ``Config`` when the
window is created (importing any ``kivy.uix`` widget creates it), so :func:`configure`
must run first. It sets what the kiosk depends on in memory, over whatever ``config.ini``
in ``$KIVY_HOME`` says (which still serves for what differs per screen, e.g. rotation), and
writes nothing back.
"""

from __future__ import annotations

import logging
import os

# Kivy otherwise parses sys.argv (and exits 2 on the kiosk's own options), logs to files
# under $KIVY_HOME that would wear the SD card, and (in its default log mode) takes over the
# root logger and sys.stderr, where a crash's traceback can vanish. In PYTHON mode its
# messages go through the logging the kiosk command configured, to the journal.
ENVIRONMENT = {
    "KIVY_NO_ARGS": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_LOG_MODE": "PYTHON",
}


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def _unused_input_probe(record: logging.LogRecord) -> bool:
    """Drop Kivy's tracebacks about input libraries the kiosk never uses (see below)."""
    message = str(record.msg)
    return not (message.startswith("Input: ") and "is not supported" in message)


def configure(*, size: tuple[int, int] = (1024, 600), fullscreen: bool = False) -> None:
    """Set Kivy's environment and Config for the kiosk; call before any other Kivy import."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    # Kivy imports every Linux input provider it knows and logs an error with a traceback
    # for each library that is missing (libmtdev on most systems); the kiosk uses SDL's
    # touches only, so those lines would only alarm whoever reads the journal.
    logging.getLogger("kivy").addFilter(_unused_input_probe)

    from kivy.config import Config

    # The guest must not be able to leave: Escape (or a keyboard's Back key) does nothing;
    # only the guard's PIN closes the kiosk (long-press the logo).
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "pause_on_minimize", "0")
    # No Kivy settings panel on F1, no inspector, no on-screen keyboard of Kivy's own: the
    # screens bring their own big keys.
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("kivy", "desktop", "0")

    # Exactly one touch input provider. Kivy on Linux adds a 'probesysfs' provider (hidinput
    # or mtdev on the touchscreen's /dev/input node) beside 'mouse' (the touches SDL already
    # delivers as mouse events): two providers reading one panel is why every tap arrives
    # twice on Pi touchscreens (DESIGN.md field lesson, kivy #3801), which here means a
    # double-typed letter or a guest skipping a screen. So drop every provider the config
    # file or Kivy's defaults bring and keep SDL's; disable_multitouch stops a long or
    # right press from leaving a red multitouch-emulation dot on the screen.
    for key, _ in Config.items("input"):
        Config.remove_option("input", key)
    Config.set("input", "mouse", "mouse,disable_multitouch")

    width, height = size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0" if fullscreen else "1")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "borderless", "1" if fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    # Frame cap: enough for the preview (15 fps) and smooth presses, and it leaves the Pi's
    # CPU to the QR decoder.
    Config.set("graphics", "maxfps", "30")
