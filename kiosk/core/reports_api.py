"""The local API for the printed books: guest book and incident book as CSV or PDF.

Guard token required: the guest book holds personal data. Each download is written to the
logbook (category ``laporan``), so who took which pages of the books out is on record.
A reversed range or one over 366 days is a 422 with ``field`` "to".
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from kiosk import reports
from kiosk.core.api import Core, Guarded
from kiosk.fonts import FontMissing

router = APIRouter(prefix="/api/v1")

From = Annotated[dt.date, Query(alias="from", description="first day, YYYY-MM-DD")]
To = Annotated[dt.date, Query(alias="to", description="last day (included), YYYY-MM-DD")]
TITLES = {"guests": "Buku tamu", "logbook": "Buku kejadian"}
# The schema names the file type a download really has, so a client (or a schema check) does
# not expect JSON.
CSV = {"response_class": Response,
       "responses": {200: {"description": "the book as CSV", "content": {"text/csv": {}}}}}
PDF = {"response_class": Response,
       "responses": {200: {"description": "the book as PDF",
                           "content": {"application/pdf": {}}}}}


def _download(core, who, book: str, fmt: str, start: dt.date, end: dt.date) -> Response:
    now = core.clock.now()
    try:
        report = reports.build(core.store, book, fmt, site=core.settings.site.name,
                               start=start, end=end, tz=now.tzinfo, now=now)
    except FontMissing as exc:  # an install problem, not the guard's: say what to install
        raise HTTPException(503, str(exc)) from None
    with core.store.transaction() as conn:
        core.logbook.append(conn, category="laporan", actor=who.name,
                            text=f"{TITLES[book]} {start} s.d. {end} diunduh "
                                 f"({fmt.upper()}, {report.rows} baris)")
    return Response(report.data, media_type=report.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{report.filename}"'})


@router.get("/reports/guests.csv", **CSV)
def guests_csv(who: Guarded, core: Core, start: From, end: To):
    return _download(core, who, "guests", "csv", start, end)


@router.get("/reports/guests.pdf", **PDF)
def guests_pdf(who: Guarded, core: Core, start: From, end: To):
    return _download(core, who, "guests", "pdf", start, end)


@router.get("/reports/logbook.csv", **CSV)
def logbook_csv(who: Guarded, core: Core, start: From, end: To):
    return _download(core, who, "logbook", "csv", start, end)


@router.get("/reports/logbook.pdf", **PDF)
def logbook_pdf(who: Guarded, core: Core, start: From, end: To):
    return _download(core, who, "logbook", "pdf", start, end)
