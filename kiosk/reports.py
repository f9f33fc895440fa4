"""The books on paper: the guest book (buku tamu) and the incident book (Buku Kejadian/Mutasi).

The office keeps its books on paper, where an inspector reads them and the head of general
affairs signs them (SOP 2, 7a). These reports give the kiosk's records that shape for any
range of days, as a PDF to print and sign or a CSV for a spreadsheet. No HTTP and no Kivy
here: the API and ``kiosk report`` both call :func:`build`.

CSV: UTF-8 with a byte-order mark, because Excel reads a CSV without one in the Windows code
page and garbles "Đặng"; comma-separated with one header row; dates as YYYY-MM-DD so every
locale sorts them. Guests type their own name, institution and purpose, so a cell that a
spreadsheet would run as a formula (starting with =, +, @ or -x) gets a leading apostrophe.

PDF: A4 pages ready to print and sign, laid out in :mod:`kiosk.report_pdf`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.store.db import iso
from kiosk.watchlist import Invalid, masked

MAX_DAYS = 366
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")
STATUS = {"awaiting_host": "menunggu", "held": "ditahan", "admitted": "di dalam",
          "denied": "ditolak", "checked_out": "keluar"}
PURGED = "(data dihapus)"
FORMULA_START = ("=", "+", "@", "\t", "\r")

GUEST_COLUMNS = ("Tanggal", "Jam masuk", "Jam keluar", "Nama", "Instansi", "Keperluan",
                 "Yang dikunjungi", "Jumlah orang", "Kartu tamu", "Suhu (°C)", "Identitas",
                 "Status")
LOGBOOK_COLUMNS = ("No.", "Tanggal", "Jam", "Kategori", "Pelaku", "Uraian", "Mengoreksi entri",
                   "Dikoreksi oleh entri")
BOOKS = {"guests": ("buku-tamu", "BUKU TAMU"),
         "logbook": ("buku-kejadian", "BUKU KEJADIAN / MUTASI")}
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Report:
    """A finished report: the bytes, a file name to save it under, and its media type."""

    data: bytes
    filename: str
    media_type: str
    rows: int


# -- date ranges ----------------------------------------------------------------------------


def check_range(start: dt.date, end: dt.date) -> None:
    """A report covers ``start`` to ``end``, both included, at most a year (366 days).

    Raises:
        Invalid: reversed, or longer than 366 days (field ``to``).
    """
    if end < start:
        raise Invalid(f"the range ends ({end}) before it starts ({start})",
                      f"tanggal akhir ({end}) sebelum tanggal awal ({start})", "to")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise Invalid(f"the range is {days} days; at most {MAX_DAYS} in one report",
                      f"rentang {days} hari; maksimal {MAX_DAYS} hari per laporan", "to")


def day_window(start: dt.date | None, end: dt.date | None,
               tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Whole days in the site's time as instants: ``[start 00:00, the day after end 00:00)``.

    Raises:
        Invalid: ``end`` before ``start``.
    """
    if start is not None and end is not None and end < start:
        raise Invalid(f"'to' ({end}) is before 'from' ({start})",
                      f"'to' ({end}) sebelum 'from' ({start})", "to")
    since = dt.datetime.combine(start, dt.time(), tz) if start else None
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz) if end else None
    return since, until


def spoken_date(day: dt.date) -> str:
    """``2026-11-22`` -> ``22 November 2026``, as dates are written in Indonesian letters."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _local(stamp: str, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp).astimezone(tz)


# -- the records ----------------------------------------------------------------------------


def guest_book(store, start: dt.date, end: dt.date, tz: dt.tzinfo) -> list[dict[str, str]]:
    """Visits that arrived within the days, oldest first, keyed by :data:`GUEST_COLUMNS`."""
    since, until = day_window(start, end, tz)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT * FROM visits WHERE julianday(created_at) >= julianday(?) AND "
            "julianday(created_at) < julianday(?) ORDER BY julianday(created_at), id",
            (iso(since), iso(until))).fetchall()
    out = []
    for row in rows:
        row = store.unsealed(row, "visits")  # names are sealed at rest
        came = _local(row["created_at"], tz)
        left = _local(row["checked_out_at"], tz) if row["checked_out_at"] else None
        if left is None:
            out_time = ""
        elif left.date() == came.date():
            out_time = f"{left:%H:%M}"
        else:
            out_time = f"{left:%Y-%m-%d %H:%M}"
        identity = " ".join(filter(None, (row["id_type"], masked(row["id_last4"]))))
        out.append({
            "Tanggal": came.date().isoformat(), "Jam masuk": f"{came:%H:%M}",
            "Jam keluar": out_time, "Nama": row["name"] or PURGED,
            "Instansi": row["institution"], "Keperluan": row["purpose"],
            "Yang dikunjungi": row["host"], "Jumlah orang": str(row["party_size"]),
            "Kartu tamu": row["badge"],
            "Suhu (°C)": "" if row["temperature_c"] is None else f"{row['temperature_c']:.1f}",
            "Identitas": identity, "Status": STATUS.get(row["status"], row["status"]),
        })
    return out


def incident_book(store, start: dt.date, end: dt.date, tz: dt.tzinfo) -> list[dict[str, str]]:
    """Logbook entries within the days in chain order, keyed by :data:`LOGBOOK_COLUMNS`.

    "Dikoreksi oleh entri" lists corrections made at any time, also after the range: a
    printed entry that was later corrected must say so. Each row also carries its ``hash``.
    """
    since, until = day_window(start, end, tz)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT id, ts, category, actor, text, corrects, hash FROM logbook WHERE "
            "julianday(ts) >= julianday(?) AND julianday(ts) < julianday(?) ORDER BY id",
            (iso(since), iso(until))).fetchall()
        fixes: dict[int, list[str]] = {}
        if rows:
            for fix in conn.execute(
                    "SELECT id, corrects FROM logbook WHERE corrects BETWEEN ? AND ? ORDER BY id",
                    (rows[0]["id"], rows[-1]["id"])):
                fixes.setdefault(fix["corrects"], []).append(str(fix["id"]))
    out = []
    for row in rows:
        at = _local(row["ts"], tz)
        out.append({
            "No.": str(row["id"]), "Tanggal": at.date().isoformat(), "Jam": f"{at:%H:%M:%S}",
            "Kategori": row["category"], "Pelaku": row["actor"], "Uraian": row["text"],
            "Mengoreksi entri": "" if row["corrects"] is None else str(row["corrects"]),
            "Dikoreksi oleh entri": ", ".join(fixes.get(row["id"], [])),
            "hash": row["hash"],
        })
    return out


# -- CSV ------------------------------------------------------------------------------------


def safe_cell(value: str) -> str:
    """The text, with an apostrophe in front if a spreadsheet would run it as a formula."""
    if value.startswith(FORMULA_START) or (value.startswith("-") and len(value) > 1):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row[name]) for name in columns])
    return buffer.getvalue().encode("utf-8-sig")


# -- both -----------------------------------------------------------------------------------


def build(store, book: str, fmt: str, *, site: str, start: dt.date, end: dt.date,
          tz: dt.tzinfo, now: dt.datetime) -> Report:
    """The ``book`` ("guests" or "logbook") for the days, as ``fmt`` ("csv" or "pdf").

    Raises:
        Invalid: the range is reversed or longer than 366 days.
        ValueError: an unknown book or format.
    """
    if book not in BOOKS or fmt not in MEDIA_TYPES:
        raise ValueError(f"no report {book!r} as {fmt!r}: use guests or logbook, csv or pdf")
    check_range(start, end)
    if book == "guests":
        rows, columns = guest_book(store, start, end, tz), GUEST_COLUMNS
    else:
        rows, columns = incident_book(store, start, end, tz), LOGBOOK_COLUMNS
    if fmt == "csv":
        data = to_csv(columns, rows)
    else:
        from kiosk import report_pdf  # fpdf2 takes seconds to import: only when asked for

        layout = report_pdf.guests_pdf if book == "guests" else report_pdf.logbook_pdf
        data = layout(rows, site=site, start=start, end=end, printed=now)
    return Report(data=data, filename=f"{BOOKS[book][0]}_{start}_{end}.{fmt}",
                  media_type=MEDIA_TYPES[fmt], rows=len(rows))
