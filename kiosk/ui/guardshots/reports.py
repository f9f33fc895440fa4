"""The reports screen: choosing a book, a file saved on a stick, and no stick plugged in.

The stick is a temporary folder standing in for ``/media/<user>/<label>`` (the screen's
:data:`~kiosk.ui.screens.guard_reports.USB_ROOTS` pointed at it), so the picture shows the
real download from the core written to a real file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kiosk.ui.guardshots.seed import seed_guests


def _stick(label: str | None) -> None:
    """Point the screen at a fresh folder, holding a drive called ``label`` (or none)."""
    from kiosk.ui.screens import guard_reports  # not at import: the scene list has no Kivy

    root = Path(tempfile.mkdtemp(prefix="kiosk-shots-usb-"))
    if label:
        (root / "petugas" / label).mkdir(parents=True)
    guard_reports.USB_ROOTS = (root,)


def reports(app, core):
    seed_guests(core)
    app.go("guard_reports")
    body = app.screen("guard_reports").content
    body.book, body.span, body.fmt = "logbook", "week", "pdf"
    return 20


def reports_saved(app, core):
    seed_guests(core)
    _stick("FLASHDISK")
    app.go("guard_reports")
    screen = app.screen("guard_reports")
    screen.content.book, screen.content.span, screen.content.fmt = "guests", "today", "csv"
    screen.save()
    return 40


def reports_no_drive(app, core):
    _stick(None)
    app.go("guard_reports")
    screen = app.screen("guard_reports")
    screen.content.book, screen.content.span, screen.content.fmt = "guests", "month", "pdf"
    screen.save()
    return 30


SCENES = {"guard-reports": reports, "guard-reports-saved": reports_saved,
          "guard-reports-no-drive": reports_no_drive}
