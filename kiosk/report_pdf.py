"""The PDF layout of the books: A4 pages ready to print, sign and file.

fpdf2 with DejaVu Sans embedded (:mod:`kiosk.fonts`), so any name prints. The table is laid
out here rather than with fpdf2's ``table()``, which refuses a row taller than a page: a
logbook entry holds up to 4000 characters, and it must wrap onto the next page, never be cut.
Every page repeats the header and the column headings and says "Halaman n dari N"; the last
page has the signature lines for the guard and the head of general affairs (Kasubbag Umum).
Imported only when a PDF is asked for: fpdf2 and its font tools take seconds to import on
a Pi, which the core's start must not wait for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

from kiosk.fonts import unicode_font
from kiosk.reports import spoken_date

FONT = "dejavu"
LINE = 3.6  # mm per line of table text at 7.5 pt
PAD = 0.6  # mm above and below the text in a table row


class _Book(FPDF):
    """An A4 book page: header with the office, title and period; numbered footer."""

    def __init__(self, *, orientation: str, site: str, title: str, period: str,
                 printed: str) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.add_font(FONT, fname=str(unicode_font()))
        self.set_margins(10, 10, 10)
        # Rows are placed by hand (see _row), so fpdf2 never breaks a page on its own.
        self.set_auto_page_break(False, margin=12)
        self.set_title(f"{title}: {site}, {period}")
        self.set_creator("Gatehouse kiosk")
        self.site, self.book_title, self.period, self.printed = site, title, period, printed
        self.headings: Sequence[str] | None = None
        self.widths: Sequence[float] = ()
        self.body_top = 0.0

    def header(self) -> None:
        self.set_font(FONT, size=12)
        self.cell(0, 6, self.site, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=11)
        self.cell(0, 6, self.book_title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=9)
        self.cell(0, 5, self.period, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        self.set_font(FONT, size=7.5)
        if self.headings:
            lines = self._wrap(self.headings)
            self._draw(lines, 0, max(len(cell) for cell in lines), fill=True)
        self.body_top = self.get_y()

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, size=7)
        self.cell(0, 4, f"Dicetak {self.printed}  ·  Halaman {self.page_no()} dari "
                        f"{self.str_alias_nb_pages}", align="C")
        self.set_font(FONT, size=7.5)

    def book_table(self, headings: Sequence[str], widths: Sequence[float],
                   rows: Sequence[Sequence[str]], empty: str) -> None:
        """Start the table on a new page and add ``rows``; ``widths`` are scaled to the page."""
        scale = self.epw / sum(widths)
        self.headings, self.widths = headings, [w * scale for w in widths]
        self.add_page()
        for cells in rows:
            self._row(cells)
        if not rows:
            self._row_full(empty)
        self.headings = None

    def _row(self, cells: Sequence[str]) -> None:
        """One row; a row taller than what is left moves to the next page, or is split."""
        lines = self._wrap(cells)
        total = max(len(cell) for cell in lines)
        label = lines[0][0]
        done = 0
        while done < total:
            room = int((self.page_break_trigger - self.get_y() - 2 * PAD + 1e-6) // LINE)
            left = total - done
            fresh = self.get_y() <= self.body_top + 0.01
            whole_page = int((self.page_break_trigger - self.body_top - 2 * PAD) // LINE)
            if not fresh and (room < 1 or (done == 0 and room < left <= whole_page)):
                self.add_page()
                continue
            take = min(left, max(room, 1))
            if done:  # a row carried over: say whose lines these are
                lines[0] = [""] * done + [label, "lanj."]
            self._draw(lines, done, take)
            done += take
            if done < total:
                self.add_page()

    def _row_full(self, text: str) -> None:
        self.cell(self.epw, LINE + 2 * PAD, text, border=1, align="C",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _wrap(self, cells: Sequence[str]) -> list[list[str]]:
        return [self.multi_cell(width, LINE, text, dry_run=True,
                                output=MethodReturnValue.LINES) or [""]
                for width, text in zip(self.widths, cells, strict=True)]

    def _draw(self, lines: list[list[str]], first: int, count: int, fill: bool = False) -> None:
        x, y = self.l_margin, self.get_y()
        height = count * LINE + 2 * PAD
        if fill:
            self.set_fill_color(225, 225, 225)
        for width, cell in zip(self.widths, lines, strict=True):
            self.rect(x, y, width, height, style="DF" if fill else "D")
            for n, line in enumerate(cell[first:first + count]):
                self.set_xy(x, y + PAD + n * LINE)
                self.cell(width, LINE, line)
            x += width
        self.set_xy(self.l_margin, y + height)

    def closing(self, summary: Sequence[str]) -> None:
        """The summary lines and the signature lines, kept together on one page."""
        self.set_font(FONT, size=9)
        need = 8 + 5 * len(summary) + 42
        if self.page_break_trigger - self.get_y() < need:
            self.add_page()
        self.ln(4)
        for line in summary:
            self.multi_cell(0, 5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(6)
        half = self.epw / 2
        top = self.get_y()
        for n, (role, above) in enumerate((("Petugas Keamanan", "Dibuat oleh,"),
                                           ("Kasubbag Umum", "Mengetahui,"))):
            x = self.l_margin + n * half
            self.set_xy(x, top)
            self.cell(half, 5, above, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.cell(half, 5, role, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_xy(x, top + 30)
            self.cell(half, 5, "( ..................................................... )",
                      align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            if role == "Kasubbag Umum":
                self.cell(half, 5, "NIP. ..................................................",
                          align="C")


def _period(start: dt.date, end: dt.date) -> str:
    if start == end:
        return f"Tanggal {spoken_date(start)}"
    return f"Periode {spoken_date(start)} s.d. {spoken_date(end)}"


def _short(day: str) -> str:
    """``2026-11-22`` -> ``22-11-2026``, the order Indonesian forms use."""
    return dt.date.fromisoformat(day).strftime("%d-%m-%Y")


def guests_pdf(rows: Sequence[dict[str, str]], *, site: str, start: dt.date, end: dt.date,
               printed: dt.datetime) -> bytes:
    """The guest book on A4 landscape."""
    pdf = _Book(orientation="L", site=site, title="BUKU TAMU", period=_period(start, end),
                printed=f"{printed:%d-%m-%Y %H:%M}")
    headings = ("No", "Tanggal", "Masuk", "Keluar", "Nama", "Instansi", "Keperluan",
                "Yang dikunjungi", "Jml", "Kartu", "Suhu °C", "Identitas", "Status")
    widths = (8, 18, 11, 14, 36, 32, 50, 28, 8, 16, 10, 25, 14)
    table = []
    for n, row in enumerate(rows, 1):
        out_time = row["Jam keluar"]
        if len(out_time) > 5:  # left on a later day: "2026-11-23 07:10" -> "23-11 07:10"
            out_time = f"{out_time[8:10]}-{out_time[5:7]} {out_time[11:]}"
        table.append((str(n), _short(row["Tanggal"]), row["Jam masuk"], out_time, row["Nama"],
                      row["Instansi"], row["Keperluan"], row["Yang dikunjungi"],
                      row["Jumlah orang"], row["Kartu tamu"], row["Suhu (°C)"],
                      row["Identitas"], row["Status"]))
    pdf.book_table(headings, widths, table, "Tidak ada tamu pada periode ini")
    people = sum(int(row["Jumlah orang"]) for row in rows)
    pdf.closing([f"Jumlah: {len(rows)} kunjungan, {people} orang."])
    return bytes(pdf.output())


def logbook_pdf(rows: Sequence[dict[str, str]], *, site: str, start: dt.date, end: dt.date,
                printed: dt.datetime) -> bytes:
    """The incident book on A4 portrait; corrections are marked on both entries."""
    pdf = _Book(orientation="P", site=site, title="BUKU KEJADIAN / MUTASI",
                period=_period(start, end), printed=f"{printed:%d-%m-%Y %H:%M}")
    headings = ("No.", "Waktu", "Kategori", "Pelaku", "Uraian")
    widths = (11, 19, 19, 27, 114)
    table = []
    for row in rows:
        text = row["Uraian"]
        if row["Mengoreksi entri"]:
            text = f"[KOREKSI atas entri #{row['Mengoreksi entri']}] {text}"
        if row["Dikoreksi oleh entri"]:
            fixes = ", ".join(f"#{n}" for n in row["Dikoreksi oleh entri"].split(", "))
            text = f"{text}\n[Dikoreksi oleh entri {fixes}]"
        table.append((row["No."], f"{_short(row['Tanggal'])}\n{row['Jam']}", row["Kategori"],
                      row["Pelaku"], text))
    pdf.book_table(headings, widths, table, "Tidak ada entri pada periode ini")
    summary = [f"Jumlah: {len(rows)} entri."]
    if rows:
        summary = [f"Jumlah: {len(rows)} entri (#{rows[0]['No.']} s.d. #{rows[-1]['No.']}).",
                   f"Hash entri terakhir: {rows[-1]['hash']}"]
    pdf.closing(summary)
    return bytes(pdf.output())
