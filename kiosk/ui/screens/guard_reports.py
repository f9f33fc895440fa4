"""The books on a USB stick: the guest book or the incident book, for a range of days.

The office keeps its books on paper (SOP 2, 7a); the core makes them as a PDF to print and
sign or a CSV for a spreadsheet (``/reports/...``). The guard picks the book, one of a few
ranges a post actually asks for (today, yesterday, the last seven days, this month, last
month) and the format, and "Simpan ke flashdisk" writes the file to the first writable USB
drive mounted under :data:`USB_ROOTS`. No file manager, no path to type: the one line under
the button says which file went onto which drive, or that no drive is plugged in.

The drive is looked for before anything is downloaded: the core writes every download into
the logbook, which must not list a book taken out that never reached a stick. The ranges
count from the core's date (``/health``), not the touchscreen's: the books are the core's.
The file is written beside its final name, synced, then renamed, so a stick pulled out too
early holds no half a report under the real name.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.i18n import MONTHS
from kiosk.ui.screens.guard import GuardBody, GuardScreen

# Where a desktop mounts removable drives: /media/<user>/<label> (Raspberry Pi OS, Debian)
# and /run/media/<user>/<label> (udisks elsewhere). Tests point this at a temporary folder.
USB_ROOTS: tuple[Path, ...] = (Path("/media"), Path("/run/media"))
BOOKS = {"guests": "buku-tamu", "logbook": "buku-kejadian"}  # as the core names the files
RANGES = ("today", "yesterday", "week", "month", "last_month")
FORMATS = ("pdf", "csv")


class NoDrive(Exception):
    """No writable USB drive is mounted."""


def date_range(span: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day (both included) of ``span`` as seen on ``today``.

    ``week`` is today and the six days before it: a week back from now, which is what a
    guard asked for "the last seven days" means.
    """
    if span == "today":
        return today, today
    if span == "yesterday":
        day = today - dt.timedelta(days=1)
        return day, day
    if span == "week":
        return today - dt.timedelta(days=6), today
    if span == "month":
        return today.replace(day=1), today
    if span == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(f"unknown range {span!r}; ranges are {', '.join(RANGES)}")


def find_drive(roots: tuple[Path, ...] | None = None) -> Path | None:
    """The first writable drive under ``roots`` (``<root>/<user>/<label>``), mounts first.

    The desktop makes these folders when a drive is mounted and removes them when it is
    unmounted, so a writable folder there is a drive; a real mount point is still
    preferred, in case an old folder was left behind.
    """
    found = []
    for root in USB_ROOTS if roots is None else roots:
        try:
            found += sorted(p for p in Path(root).glob("*/*") if p.is_dir())
        except OSError:
            continue
    usable = [p for p in found if os.access(p, os.W_OK | os.X_OK)]
    mounted = [p for p in usable if os.path.ismount(p)]
    return (mounted or usable or [None])[0]


def file_name(book: str, fmt: str, start: dt.date, end: dt.date) -> str:
    """``buku-tamu_2026-11-01_2026-11-30.pdf``: the name the core gives the same report."""
    return f"{BOOKS[book]}_{start.isoformat()}_{end.isoformat()}.{fmt}"


def write_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name``: beside it first, synced, then renamed into place."""
    target = folder / name
    partial = folder / f".{name}.part"
    try:
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:  # the rename itself on the stick; not every filesystem lets a folder be synced
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError:
        pass
    return target


def save_report(client: Any, token: str | None, book: str, fmt: str, start: dt.date,
                end: dt.date) -> dict[str, Any]:
    """Find a drive, download the report from the core, write it there (a worker's job).

    Raises:
        NoDrive: nothing to write to (nothing was downloaded).
        ApiError, CoreUnreachable: the core refused or did not answer.
        OSError: the drive would not take the file (full, read-only, pulled out).
    """
    drive = find_drive()
    if drive is None:
        raise NoDrive()
    data = client.download(f"/reports/{book}.{fmt}", token=token,
                           params={"from": start.isoformat(), "to": end.isoformat()})
    path = write_file(drive, file_name(book, fmt, start, end), data)
    return {"drive": drive.name, "file": path.name, "path": str(path), "size": len(data)}


class ReportsBody(GuardBody, BoxLayout):
    """The choices, the range in words, the button and the outcome; the screen fills them."""

    book = StringProperty("guests")
    span = StringProperty("today")
    fmt = StringProperty("pdf")
    range_words = StringProperty("")
    status = StringProperty("")
    tone = StringProperty("")  # "good" after a save, "warn" when it did not happen
    saving = StringProperty("")  # the file being saved, while it is


class ReportsScreen(GuardScreen):
    body = "ReportsBody"
    title_key = "nav.reports"
    _today: dt.date | None = None
    _outcome: Callable[[], str] | None = None
    last_saved: dict | None = None  # the last file written (``path`` among its keys)

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        for name in ("book", "span", "fmt"):
            self.content.bind(**{name: lambda *_args: self._choice_changed()})

    def reset(self) -> None:
        super().reset()
        self._outcome = None
        if getattr(self, "content", None) is not None:
            self.content.saving = self.content.status = self.content.tone = ""

    def refresh(self) -> None:
        self._draw()
        self.app.call(self.app.client.health, done=self._got_health, failed=lambda _exc: None)

    def relabel(self) -> None:
        self._draw()

    def _got_health(self, health: dict) -> None:
        try:
            self._today = dt.datetime.fromisoformat(health["now"]).date()
        except (KeyError, TypeError, ValueError):
            self._today = None
        self._draw()

    @property
    def today(self) -> dt.date:
        return self._today or self.app._now().date()

    def _choice_changed(self) -> None:
        self._outcome = None
        self._draw()

    def _draw(self) -> None:
        body, lang = self.content, self.app.lang
        start, end = date_range(body.span, self.today)
        if start == end:
            body.range_words = self.app.text("reports.range_day", day=spoken(start, lang))
        else:
            body.range_words = self.app.text("reports.range_days", start=spoken(start, lang),
                                             end=spoken(end, lang))
        body.status = self._outcome() if self._outcome else ""
        if not self._outcome:
            body.tone = ""

    # -- saving ------------------------------------------------------------------------------

    def save(self) -> None:
        """"Simpan ke flashdisk": download through the core and write to the stick."""
        body = self.content
        if body.saving:
            return
        self.problem = ""
        self._outcome = None
        start, end = date_range(body.span, self.today)
        book, fmt = body.book, body.fmt
        body.saving = file_name(book, fmt, start, end)
        body.status, body.tone = self.app.text("reports.saving", file=body.saving), ""
        self.busy = True
        self.app.call(save_report, self.app.client, self.token, book, fmt, start, end,
                      done=self._saved, failed=self._not_saved)

    def _saved(self, result: dict) -> None:
        self.busy = False
        self.content.saving = ""
        self.last_saved = result
        size = max(1, round(result["size"] / 1024))
        self._outcome = lambda: self.app.text("reports.saved", drive=result["drive"],
                                              file=result["file"], size=size)
        self.content.tone = "good"
        self._draw()

    def _not_saved(self, exc: Exception) -> None:
        self.busy = False
        self.content.saving = ""
        if isinstance(exc, NoDrive):
            self._outcome = lambda: self.app.text("reports.no_drive")
        elif isinstance(exc, OSError):
            reason = exc.strerror or type(exc).__name__
            self._outcome = lambda: self.app.text("reports.write_failed", reason=reason)
        else:  # the core refused or is away: said in the bar (or the unreachable screen)
            self._outcome = None
            self.show_problem(exc)
        self.content.tone = "warn" if self._outcome else ""
        self._draw()


def spoken(day: dt.date, lang: str) -> str:
    """``23 November 2026``; the month in the guard's language."""
    months = MONTHS.get(lang, MONTHS["id"])
    return f"{day.day} {months[day.month - 1]} {day.year}"

