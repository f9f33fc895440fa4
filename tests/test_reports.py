"""The guest book and the incident book as CSV and PDF, and the logbook search."""

import codecs
import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import WIB, api_client, at, nik, visit_body
from fastapi.testclient import TestClient
from test_api import login

from kiosk import reports
from kiosk.core.api import create_app
from kiosk.reports import GUEST_COLUMNS, LOGBOOK_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 11, 22)
GUESTS = {  # day -> names; the 22nd's are the report's, the others must stay out of it
    21: ["Agus Salim"],
    22: ["Đặng Thị Hương", "Zoë Ñúñez-Çelik", "Пётр Иванов", "Budi Santoso"],
    23: ["Siti Rahayu"],
}


def pdf_text(data: bytes) -> list[str]:
    """The text shown by an fpdf2 PDF, one string per positioned run (``Td``), in order.

    fpdf2 writes text in an embedded TrueType font as two-byte glyph codes; the font's
    ToUnicode map turns them back into characters. The page total ("dari N") is a run of
    its own after the rest of the footer, without a new position: it joins its line.
    """
    streams = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    to_unicode = {}
    for stream in streams:
        if b"beginbfchar" in stream:
            for code, char in re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]+)>", stream):
                to_unicode[bytes.fromhex(code.decode())] = bytes.fromhex(
                    char.decode()).decode("utf-16-be")
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    out: list[str] = []
    for stream in streams:
        for move, literal in re.findall(rb"( Td )|\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.S):
            if move:
                out.append("")
                continue
            raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: escapes.get(m.group(1)) or (
                bytes([int(m.group(1), 8)]) if m.group(1).isdigit() else m.group(1)), literal)
            out[-1] += "".join(to_unicode.get(raw[i:i + 2], "?") for i in range(0, len(raw), 2))
    return [text for text in out if text]


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


def fill(core, post):
    """Guests on the 21st, 22nd and 23rd; all check out, Budi only the next morning."""
    n = 0
    overnight = None
    for day, names in GUESTS.items():
        if overnight:
            post.to(at(8, 15, day=day))
            core.visits.checkout(overnight)
        post.to(at(9, 0, day=day))
        for name in names:
            n += 1
            visit = core.visits.register(visit_body(
                name=name, id_number=nik(n), party_size=n % 3 + 1,
                purpose=f"Koordinasi logistik pemilu {n}", temperature_c=36.0 + n / 10))
            core.visits.admit(visit["id"], actor="Petugas")
            if name == "Budi Santoso":
                overnight = visit["id"]
            else:
                post.to(at(9, 30 + n, day=day))
                core.visits.checkout(visit["id"])


@pytest.fixture
def filled(post):
    p = post(at(8, 0, day=21))
    core = p.start()
    fill(core, p)
    return p, core


@pytest.fixture
def api(filled):
    client = api_client(filled[0])
    client.guard = login(client)
    return client


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def build(core, book, fmt, start=DAY, end=DAY):
    return reports.build(core.store, book, fmt, site=core.settings.site.name, start=start,
                         end=end, tz=WIB, now=core.clock.now())


# -- the guest book -------------------------------------------------------------------------


def test_guest_book_csv_equals_the_stored_visits_of_the_range(filled):
    _, core = filled
    rows = read_csv(build(core, "guests", "csv").data)
    assert rows[0] == list(GUEST_COLUMNS)
    with core.store.read() as conn:
        stored = [core.store.unsealed(row, "visits") for row in conn.execute(
            "SELECT * FROM visits WHERE created_at LIKE '2026-11-22T%' ORDER BY id")]
    assert [r[3] for r in rows[1:]] == GUESTS[22] == [s["name"] for s in stored]
    for row, visit in zip(rows[1:], stored, strict=True):
        out = visit["checked_out_at"]
        assert row == [
            "2026-11-22", visit["created_at"][11:16],
            out[11:16] if out[:10] == "2026-11-22" else f"{out[:10]} {out[11:16]}",
            visit["name"], visit["institution"], visit["purpose"], visit["host"],
            str(visit["party_size"]), visit["badge"], f"{visit['temperature_c']:.1f}",
            f"KTP ••••{visit['id_last4']}", "keluar"]
    budi = rows[-1]
    assert budi[3] == "Budi Santoso" and budi[2] == "2026-11-23 08:15"


def test_guest_book_over_several_days_and_an_empty_one(filled):
    _, core = filled
    rows = read_csv(build(core, "guests", "csv", DAY - dt.timedelta(days=1),
                          DAY + dt.timedelta(days=1)).data)
    assert [r[3] for r in rows[1:]] == GUESTS[21] + GUESTS[22] + GUESTS[23]
    empty = build(core, "guests", "csv", dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert read_csv(empty.data) == [list(GUEST_COLUMNS)] and empty.rows == 0
    pdf = build(core, "guests", "pdf", dt.date(2026, 12, 1), dt.date(2026, 12, 31)).data
    assert "Tidak ada tamu pada periode ini" in pdf_text(pdf)


def test_guest_book_pdf_prints_every_name_and_the_signature_lines(filled):
    _, core = filled
    report = build(core, "guests", "pdf")
    assert report.data.startswith(b"%PDF-") and report.media_type == "application/pdf"
    assert report.filename == "buku-tamu_2026-11-22_2026-11-22.pdf"
    text = pdf_text(report.data)
    assert page_count(report.data) == 1
    for name in GUESTS[22]:
        assert name in text
    assert "Agus Salim" not in text and "Siti Rahayu" not in text
    for words in ("Kantor KPU Kabupaten Subang", "BUKU TAMU", "Tanggal 22 November 2026",
                  "Petugas Keamanan", "Kasubbag Umum", "Jumlah: 4 kunjungan, 9 orang."):
        assert words in text, words
    assert any("Halaman 1 dari 1" in line for line in text)
    # A4 landscape: 297 mm x 210 mm is 841.89 x 595.28 pt.
    assert re.search(rb"/MediaBox \[0 0 841.89 595.28\]", report.data)


def test_a_long_guest_book_runs_over_pages_with_headers_and_numbers(post):
    p = post(at(7, 0))
    core = p.start()
    for n in range(70):
        purpose = "".join(chr(0x41 + (n + i) % 26) for i in range(200))  # one long word
        visit = core.visits.register(visit_body(name=f"Tamu Ke-{n:02d} Đặng", id_number=nik(n),
                                                purpose=purpose))
        core.visits.checkout(visit["id"])
    data = build(core, "guests", "pdf").data
    pages = page_count(data)
    assert pages >= 3
    text = pdf_text(data)
    assert text.count("BUKU TAMU") == pages
    assert text.count("Keperluan") in (pages, pages - 1)  # the signatures may have a page
    for page in range(1, pages + 1):
        assert any(f"Halaman {page} dari {pages}" in line for line in text)
    joined = "".join(text)
    for n in range(70):  # the whole purpose, wrapped, never cut
        assert f"Tamu Ke-{n:02d} Đặng" in text
        assert "".join(chr(0x41 + (n + i) % 26) for i in range(200)) in joined


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(post):
    p = post(at(9, 0))
    core = p.start()
    core.visits.register(visit_body(name="=HYPERLINK(\"http://x\")", institution="+1+1",
                                    purpose="@SUM(A1)", id_number=nik(1)))
    core.visits.register(visit_body(name="Budi", institution="-", purpose="-2+3",
                                    id_number=nik(2)))
    rows = read_csv(build(core, "guests", "csv").data)
    assert rows[1][3:6] == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'@SUM(A1)"]
    assert rows[2][3:6] == ["Budi", "-", "'-2+3"]


# -- the incident book ----------------------------------------------------------------------


def test_logbook_csv_equals_the_stored_entries_and_shows_corrections(post):
    p = post(at(20, 0, day=21))
    core = p.start()
    with core.store.transaction() as conn:
        core.logbook.append(conn, category="kejadian", actor="Petugas", text="Hujan deras")
    p.to(at(22, 0))
    with core.store.transaction() as conn:
        wrong = core.logbook.append(conn, category="kejadian", actor="Petugas",
                                    text="Pagar samping rusak,\n\"kunci\" hilang")
    p.to(at(7, 0, day=23))
    with core.store.transaction() as conn:
        fix = core.logbook.correct(conn, wrong["id"], "Pagar belakang rusak", "Petugas")
    rows = read_csv(build(core, "logbook", "csv").data)
    assert rows[0] == list(LOGBOOK_COLUMNS)
    with core.store.read() as conn:
        stored = conn.execute("SELECT * FROM logbook ORDER BY id").fetchall()
    local = [(s, dt.datetime.fromisoformat(s["ts"]).astimezone(WIB)) for s in stored]
    expected = [[str(s["id"]), ts.date().isoformat(), f"{ts:%H:%M:%S}", s["category"],
                 s["actor"], s["text"], "" if s["corrects"] is None else str(s["corrects"]),
                 str(fix["id"]) if s["id"] == wrong["id"] else ""]
                for s, ts in local if ts.date() == DAY]
    assert rows[1:] == expected
    assert len(expected) > 5 and any(r[5] == wrong["text"] for r in rows)
    assert all(r[0] != str(fix["id"]) for r in rows)  # the 23rd's correction is outside

    both = build(core, "logbook", "pdf", DAY, DAY + dt.timedelta(days=1)).data
    text = pdf_text(both)
    assert f"[KOREKSI atas entri #{wrong['id']}] Pagar belakang rusak" in text
    assert f"[Dikoreksi oleh entri #{fix['id']}]" in text
    assert "BUKU KEJADIAN / MUTASI" in text
    assert "Periode 22 November 2026 s.d. 23 November 2026" in text
    assert any(line.startswith("Hash entri terakhir: ") for line in text)


def test_a_logbook_entry_taller_than_a_page_is_split_never_cut(post):
    p = post(at(9, 0))
    core = p.start()
    lines = [f"baris {n:03d}" for n in range(160)]
    with core.store.transaction() as conn:
        entry = core.logbook.append(conn, category="kejadian", actor="Petugas",
                                    text="\n".join(lines))
        core.logbook.append(conn, category="kejadian", actor="Petugas",
                            text="".join(f"x{n:03d}" for n in range(800)))  # one long word
    data = build(core, "logbook", "pdf").data
    text = pdf_text(data)
    assert [line for line in text if line.startswith("baris ")] == lines
    assert "lanj." in text and str(entry["id"]) in text
    word = "".join(line for line in text if "x" in line and set(line) <= set("x0123456789"))
    assert word == "".join(f"x{n:03d}" for n in range(800))
    assert page_count(data) >= 3


# -- the reports API ------------------------------------------------------------------------


def test_reports_api_serves_csv_and_pdf(api):
    params = {"from": "2026-11-22", "to": "2026-11-22"}
    response = api.get("/api/v1/reports/guests.csv", params=params, headers=api.guard)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == \
        'attachment; filename="buku-tamu_2026-11-22_2026-11-22.csv"'
    assert [r[3] for r in read_csv(response.content)[1:]] == GUESTS[22]
    pdf = api.get("/api/v1/reports/guests.pdf", params=params, headers=api.guard)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "Zoë Ñúñez-Çelik" in pdf_text(pdf.content)
    book = api.get("/api/v1/reports/logbook.csv", params=params, headers=api.guard)
    assert book.status_code == 200 and read_csv(book.content)[0] == list(LOGBOOK_COLUMNS)
    book_pdf = api.get("/api/v1/reports/logbook.pdf", params=params, headers=api.guard)
    assert book_pdf.status_code == 200 and book_pdf.content.startswith(b"%PDF-")
    downloads = [e["text"] for e in api.core.logbook.entries(limit=1000)
                 if e["category"] == "laporan"]
    assert len(downloads) == 4
    assert "Buku tamu 2026-11-22 s.d. 2026-11-22 diunduh (CSV, 4 baris)" in downloads


@pytest.mark.parametrize("params, status, words", [
    ({"from": "2026-11-23", "to": "2026-11-22"}, 422, "before it starts"),
    ({"from": "2025-11-22", "to": "2026-11-23"}, 422, "at most 366"),
    ({"from": "2026-11-22"}, 422, None),
    ({"from": "2026-13-01", "to": "2026-12-01"}, 422, None),
    ({"from": "kemarin", "to": "2026-12-01"}, 422, None),
])
def test_reports_api_refuses_bad_ranges(api, params, status, words):
    for url in ("/api/v1/reports/guests.csv", "/api/v1/reports/logbook.pdf"):
        response = api.get(url, params=params, headers=api.guard)
        assert response.status_code == status, response.text
        if words:
            assert words in response.json()["detail"] and response.json()["field"] == "to"


def test_reports_api_takes_a_full_year_and_needs_the_token(api):
    year = {"from": "2025-11-23", "to": "2026-11-23"}  # 366 days, both ends included
    assert api.get("/api/v1/reports/guests.csv", params=year,
                   headers=api.guard).status_code == 200
    for url in ("guests.csv", "guests.pdf", "logbook.csv", "logbook.pdf"):
        assert api.get(f"/api/v1/reports/{url}", params=year).status_code == 401


# -- the logbook search ---------------------------------------------------------------------


def test_logbook_search_by_category_text_and_days(post):
    p = post(at(8, 0, day=20))
    core = p.start()
    api = TestClient(create_app(core), raise_server_exceptions=False)
    for day, text in ((20, "Pagar depan rusak"), (22, "Pagar samping dicat"),
                      (22, "Lampu taman mati"), (24, "Pagar belakang diperbaiki")):
        p.to(at(10, 0, day=day))
        with core.store.transaction() as conn:
            core.logbook.append(conn, category="kejadian", actor="Petugas", text=text)
    get = lambda **params: api.get("/api/v1/logbook", params=params)  # noqa: E731
    found = get(category="kejadian").json()["entries"]
    assert [e["text"] for e in found] == ["Pagar belakang diperbaiki", "Lampu taman mati",
                                          "Pagar samping dicat", "Pagar depan rusak"]
    assert [e["text"] for e in get(category="KEJADIAN", q="pagar", **{"from": "2026-11-21"},
                                   to="2026-11-23").json()["entries"]] == ["Pagar samping dicat"]
    assert [e["text"] for e in get(category="kejadian", to="2026-11-21").json()["entries"]] \
        == ["Pagar depan rusak"]
    day = get(**{"from": "2026-11-22", "to": "2026-11-22"}).json()["entries"]
    assert day and all(e["ts"].startswith("2026-11-22") for e in day)
    assert {"Lampu taman mati", "Pagar samping dicat"} <= {e["text"] for e in day}
    # The old parameters still work, alone and narrowed by the days.
    since = get(since="2026-11-22T10:00:00", category="kejadian").json()["entries"]
    assert len(since) == 3
    both = get(since="2026-11-22T10:00:00", to="2026-11-22", category="kejadian").json()
    assert len(both["entries"]) == 2 and set(both) == {"entries"}
    assert get(category="tidak-ada").json() == {"entries": []}
    assert len(get(category="sistem").json()["entries"]) >= 2
    assert len(get(category="sistem", limit=1).json()["entries"]) == 1
    reversed_days = get(**{"from": "2026-11-23", "to": "2026-11-22"})
    assert reversed_days.status_code == 422 and reversed_days.json()["field"] == "to"
    assert get(to="kemarin").status_code == 422
    assert get(category="x" * 65).status_code == 422


# -- the command line -----------------------------------------------------------------------


def kiosk(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("GPIOZERO_PIN_FACTORY",
                                                             "KIOSK_CONFIG")}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


def test_kiosk_report_writes_the_books(filled, tmp_path):
    p, core = filled
    p.stop()
    out = tmp_path / "tamu.csv"
    result = kiosk("--data-dir", str(tmp_path), "report", "guests", "--from", "2026-11-22",
                   "--to", "2026-11-22", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} (csv, 4 rows)" in result.stdout
    assert [r[3] for r in read_csv(out.read_bytes())[1:]] == GUESTS[22]
    assert out.stat().st_mode & 0o777 == 0o600

    book = tmp_path / "buku.dat"
    result = kiosk("--data-dir", str(tmp_path), "report", "logbook", "--from", "2026-11-21",
                   "--to", "2026-11-23", "--format", "pdf", "--out", str(book))
    assert result.returncode == 0, result.stderr
    assert book.read_bytes().startswith(b"%PDF-")
    assert "Periode 21 November 2026 s.d. 23 November 2026" in pdf_text(book.read_bytes())

    reversed_range = kiosk("--data-dir", str(tmp_path), "report", "guests", "--from",
                           "2026-11-23", "--to", "2026-11-22", "--out", str(out))
    assert reversed_range.returncode == 1 and "before it starts" in reversed_range.stderr
    bad_date = kiosk("--data-dir", str(tmp_path), "report", "guests", "--from", "22-11-2026",
                     "--to", "2026-11-22", "--out", str(out))
    assert bad_date.returncode == 2 and "not a date" in bad_date.stderr
    nowhere = kiosk("--data-dir", str(tmp_path / "empty"), "report", "guests", "--from",
                    "2026-11-22", "--to", "2026-11-22", "--out", str(out))
    assert nowhere.returncode == 1 and "no database" in nowhere.stderr
    assert "Traceback" not in reversed_range.stderr + bad_date.stderr + nowhere.stderr


def test_a_pdf_without_a_unicode_font_says_what_to_install(api, monkeypatch, tmp_path):
    from kiosk import fonts

    fonts.unicode_font.cache_clear()
    monkeypatch.setattr(fonts.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(fonts, "SYSTEM_FONT_DIRS", (tmp_path,))
    try:
        params = {"from": str(DAY), "to": str(DAY)}
        response = api.get("/api/v1/reports/guests.pdf", params=params, headers=api.guard)
        assert response.status_code == 503
        assert "fonts-dejavu-core" in response.json()["detail"]
        csv_book = api.get("/api/v1/reports/guests.csv", params=params, headers=api.guard)
        assert csv_book.status_code == 200  # the CSV needs no font
    finally:
        fonts.unicode_font.cache_clear()
