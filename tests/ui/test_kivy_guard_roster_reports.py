"""The roster and the reports on the guard's panel, with touches, against the real core.

Roster: the guard on duty checks in with one tap, a guard with no shift now is told why
not, and the admin calls two guards in for an event with the form's buttons and a reason
typed on the big keys; the core is asked what it recorded (the check-in, the call-out and
its SMS). Reports: the guest book goes onto a "USB stick" (a temporary folder standing in
for ``/media/<user>/<label>``) and is read back as CSV; the incident book as PDF; with no
stick, a plain message and nothing taken out of the books.
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from kiosk.ui.guardshots.reports import SCENES as REPORT_SCENES
from kiosk.ui.guardshots.roster import SCENES as ROSTER_SCENES
from kiosk.ui.screens import guard_reports
from kiosk.ui.screens.guard_reports import date_range
from kiosk.ui.screens.guard_roster import RosterGuardToggle

from .harness import check_scenes, log_in, open_screen

WINDOW_SIZES = ("800x480",)
GUARD, ADMIN = "Petugas Simulasi", "Admin Simulasi"
# The test core's day, 2026-11-22, is a Sunday.
ROSTER = """
[roster.guards]
"Petugas Simulasi" = "+6281200000001"
"Admin Simulasi" = "+6281200000002"
"Budi Santoso" = "+6281200000003"
"Dedi Kurnia" = "+6281200000004"
[roster.duty]
sun = [
    { shift = "pagi", guard = "Petugas Simulasi", backups = ["Budi Santoso", "Dedi Kurnia"] },
    { shift = "malam", guard = "Budi Santoso", backups = ["Dedi Kurnia", "Petugas Simulasi"] },
]
mon = [
    { shift = "pagi", guard = "Dedi Kurnia", backups = ["Budi Santoso", "Petugas Simulasi"] },
]
"""
with_roster = pytest.mark.parametrize("core_server", [ROSTER], indirect=True)


def api(kiosk, path: str, **params) -> dict:
    response = kiosk.server.api("GET", path, guard=True, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# -- the roster ------------------------------------------------------------------------------

@with_roster
def test_the_guard_on_duty_checks_in_with_one_tap(kiosk):
    log_in(kiosk)
    body = open_screen(kiosk, "guard_roster")
    texts = kiosk.texts()
    assert "Pagi 08.00-17.00: Petugas Simulasi" in texts
    assert "Cadangan: Budi Santoso, Dedi Kurnia" in texts
    assert "Belum ada yang check-in." in texts
    cells = [(c.main, c.sub) for c in reversed(body.ids.week.children)]
    assert cells[:6] == [("Hari", ""), ("Pagi 08.00-17.00", ""), ("Malam 17.00-08.00", ""),
                         ("Min 22/11", ""), ("Petugas Simulasi", "cad. Budi S., Dedi K."),
                         ("Budi Santoso", "cad. Dedi K., Petugas S.")]
    assert cells[6:9] == [("Sen 23/11", ""), ("Dedi Kurnia", "cad. Budi S., Petugas S."),
                          ("–", "")]
    assert not kiosk.shown(body.ids.callout)  # the call-out is the admin's

    kiosk.press("Absen hadir")
    kiosk.wait(lambda: "Anda tercatat hadir" in body.status, "the check-in")
    kiosk.wait(lambda: not kiosk.screen.busy, "the roster again")
    assert body.status == "Anda tercatat hadir: shift pagi Min 22/11, pukul 10.00."
    assert "Hadir: Petugas Simulasi (10.00)" in kiosk.texts()
    duty = api(kiosk, "/roster/now")["on_duty"][0]
    assert [(c["guard"], c["role"], c["via"]) for c in duty["checkins"]] == \
        [(GUARD, "guard", "checkin")]


@with_roster
def test_a_guard_with_no_shift_now_is_told_why(kiosk):
    log_in(kiosk, "9876")
    body = open_screen(kiosk, "guard_roster")
    kiosk.press("Absen hadir")
    kiosk.wait(lambda: kiosk.screen.problem, "the core's refusal")
    assert "tidak terjadwal piket sekarang" in kiosk.screen.problem
    assert body.status == ""
    assert api(kiosk, "/roster/now")["on_duty"][0]["checkins"] == []


@with_roster
def test_the_admin_calls_two_guards_in_for_an_event(kiosk):
    log_in(kiosk, "9876")
    body = open_screen(kiosk, "guard_roster")
    kiosk.press("Panggil petugas")
    assert body.page == "callout"
    assert body.callout_date == "Minggu, 22 November 2026"
    assert "semua petugas yang tidak bertugas" in body.callout_hint
    kiosk.tap(body.ids.day_on)  # tomorrow
    assert body.callout_date == "Senin, 23 November 2026"
    start = kiosk.screen._minutes
    kiosk.tap(body.ids.time_on)  # half an hour later
    assert kiosk.screen._minutes == start + 30
    for name in ("Budi Santoso", "Dedi Kurnia"):
        kiosk.tap(next(t for t in body.ids.callout_guards.children
                       if isinstance(t, RosterGuardToggle) and t.name == name))
    assert body.chosen == ["Budi Santoso", "Dedi Kurnia"] and body.callout_hint == \
        "2 petugas dipilih."
    kiosk.press("Kirim SMS")  # no reason yet: the SMS would not say why
    assert body.callout_error == "Isi dulu keperluannya."
    assert api(kiosk, "/roster/callouts")["callouts"] == []

    kiosk.tap(body.ids.callout_note)
    kiosk.type("rapat pleno")
    kiosk.press("Simpan")
    assert body.page == "callout" and body.callout_note == "Rapat pleno"
    kiosk.press("Kirim SMS")
    kiosk.wait(lambda: body.page == "roster" and "Panggilan #1" in body.status, "the call-out")

    call = api(kiosk, "/roster/callouts")["callouts"][0]
    when = dt.datetime.fromisoformat(call["event_at"])
    assert when.date() == dt.date(2026, 11, 23)
    assert when.hour * 60 + when.minute == start + 30
    assert (call["note"], call["created_by"]) == ("Rapat pleno", ADMIN)
    assert [g["name"] for g in call["guards"]] == ["Budi Santoso", "Dedi Kurnia"]
    assert {g["sms_status"] for g in call["guards"]} <= {"pending", "sent"}  # the sim modem
    assert "dikirim lewat SMS kepada: Budi Santoso, Dedi Kurnia." in body.status


@with_roster
def test_the_admin_changes_tomorrows_duty_and_puts_it_back(kiosk):
    log_in(kiosk, "9876")
    body = open_screen(kiosk, "guard_roster")
    screen = kiosk.screen
    kiosk.press("Ubah jadwal")
    kiosk.wait(lambda: body.page == "override" and screen._slots, "today's duty")
    assert body.override_date == "Minggu, 22 November 2026"
    kiosk.tap(body.ids.change_on)
    kiosk.wait(lambda: screen._slots and screen._change_view["date"] == "2026-11-23",
               "tomorrow's duty")
    assert screen._slots == {"pagi": ["Dedi Kurnia", "Budi Santoso", "Petugas Simulasi"],
                             "malam": ["", "", ""]}
    assert [s.text for s in slots(body, "malam")] == ["petugas jaga", "cadangan", "cadangan"]
    assert slots(body, "pagi")[0].selected  # the first box waits for a name
    kiosk.tap(guard_button(body, "Admin Simulasi"))
    assert [s.name for s in slots(body, "pagi")] == \
        ["Admin Simulasi", "Budi Santoso", "Petugas Simulasi"]
    assert slots(body, "pagi")[1].selected  # on to the next box
    kiosk.tap(body.ids.override_save)
    assert body.override_error == "Isi dulu alasan perubahannya."
    kiosk.tap(body.ids.override_reason)
    kiosk.type("dedi cuti")
    kiosk.press("Simpan")
    assert body.page == "override" and body.override_reason == "Dedi cuti"
    kiosk.tap(body.ids.override_save)
    kiosk.wait(lambda: body.page == "roster" and "diubah" in body.status, "the change")
    assert body.status == "Jadwal Senin, 23 November 2026 diubah."

    day = core(kiosk).roster.day_view(dt.date(2026, 11, 23))
    assert day["source"] == "override"
    assert (day["override"]["reason"], day["override"]["by"]) == ("Dedi cuti", ADMIN)
    assert [(d["shift"], d["guard"], d["backups"]) for d in day["duties"]] == \
        [("pagi", "Admin Simulasi", ["Budi Santoso", "Petugas Simulasi"])]
    kiosk.wait(lambda: not screen.busy, "the week again")
    assert any(c.main == "Sen 23/11" and c.sub == "diubah" for c in body.ids.week.children)

    kiosk.press("Ubah jadwal")  # and back to the usual duty
    kiosk.tap(body.ids.change_on)
    kiosk.wait(lambda: body.overridden, "the change in force")
    assert body.override_state == "Sudah diubah oleh Admin Simulasi: Dedi cuti"
    kiosk.tap(body.ids.override_reset)
    kiosk.wait(lambda: body.page == "roster" and "jadwal tetap" in body.status, "the reset")
    assert core(kiosk).roster.day_view(dt.date(2026, 11, 23))["source"] == "config"


def slots(body, shift: str):
    row = next(r for r in body.ids.override_shifts.children if r.shift == shift)
    return list(reversed(row.ids.slots.children))


def guard_button(body, name: str):
    return next(t for t in body.ids.override_guards.children if t.name == name)


def core(kiosk):
    return kiosk.server.post.core


def test_without_a_roster_the_screen_says_so(kiosk):
    log_in(kiosk)
    open_screen(kiosk, "guard_roster")
    assert "Jadwal jaga belum diisi di konfigurasi kiosk." in kiosk.texts()


def test_the_roster_scenes_fit(kiosk):
    assert check_scenes(kiosk, ROSTER_SCENES, "guard_roster", min_target=44) == {}


# -- the reports ------------------------------------------------------------------------------

@pytest.fixture
def stick(tmp_path, monkeypatch):
    """A USB stick called FLASHDISK, mounted where the desktop would put it."""
    drive = tmp_path / "media" / "petugas" / "FLASHDISK"
    drive.mkdir(parents=True)
    monkeypatch.setattr(guard_reports, "USB_ROOTS", (tmp_path / "media",))
    return drive


def book_entries(kiosk, words: str) -> list[dict]:
    return [e for e in api(kiosk, "/logbook")["entries"] if words in e["text"]]


def test_the_guest_book_is_saved_on_the_stick_and_reads_back_as_csv(kiosk, stick):
    from conftest import visit_body

    made = kiosk.server.api("POST", "/visits", json=visit_body(name="Rahmat Hidayat"))
    assert made.status_code == 201, made.text
    log_in(kiosk)
    body = open_screen(kiosk, "guard_reports")
    assert body.range_words == "Tanggal 22 November 2026"  # the core's day, not the Pi's
    kiosk.press("Buku tamu")
    kiosk.press("Hari ini")
    kiosk.press("CSV")
    kiosk.press("Simpan ke flashdisk")
    kiosk.wait(lambda: body.tone, "the outcome")
    saved = stick / "buku-tamu_2026-11-22_2026-11-22.csv"
    assert body.tone == "good", body.status
    assert body.status.startswith("Tersimpan di flashdisk FLASHDISK: "
                                  "buku-tamu_2026-11-22_2026-11-22.csv")
    assert [p.name for p in stick.iterdir()] == [saved.name]  # no half-written file beside it
    with open(saved, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert (rows[0]["Nama"], rows[0]["Kartu tamu"], rows[0]["Tanggal"]) == \
        ("Rahmat Hidayat", "TAMU-01", "2026-11-22")
    taken = book_entries(kiosk, "diunduh")
    assert [(e["actor"], e["text"]) for e in taken] == \
        [(GUARD, "Buku tamu 2026-11-22 s.d. 2026-11-22 diunduh (CSV, 1 baris)")]


def test_the_incident_book_of_the_week_is_saved_as_pdf(kiosk, stick):
    log_in(kiosk)
    body = open_screen(kiosk, "guard_reports")
    kiosk.press("Buku kejadian")
    kiosk.press("7 hari")
    assert body.range_words == "16 November 2026 sampai 22 November 2026"
    kiosk.press("Simpan ke flashdisk")  # PDF is the first format
    kiosk.wait(lambda: body.tone, "the outcome", timeout=60)
    assert body.tone == "good", body.status
    saved = stick / "buku-kejadian_2026-11-16_2026-11-22.pdf"
    assert saved.read_bytes().startswith(b"%PDF")


def test_no_stick_says_so_and_takes_nothing_out_of_the_books(kiosk, tmp_path, monkeypatch):
    (tmp_path / "media").mkdir()
    monkeypatch.setattr(guard_reports, "USB_ROOTS", (tmp_path / "media", tmp_path / "nowhere"))
    log_in(kiosk)
    body = open_screen(kiosk, "guard_reports")
    kiosk.press("Simpan ke flashdisk")
    kiosk.wait(lambda: body.tone, "the outcome")
    assert (body.tone, body.status) == (
        "warn", "Flashdisk tidak ditemukan. Colokkan flashdisk, lalu tekan Simpan lagi.")
    assert book_entries(kiosk, "diunduh") == []
    kiosk.press("Kemarin")  # another choice: the old outcome goes
    assert body.status == ""


def test_the_ranges_a_post_asks_for():
    sunday = dt.date(2026, 11, 22)
    assert date_range("today", sunday) == (sunday, sunday)
    assert date_range("yesterday", sunday) == (dt.date(2026, 11, 21),) * 2
    assert date_range("week", sunday) == (dt.date(2026, 11, 16), sunday)
    assert date_range("month", sunday) == (dt.date(2026, 11, 1), sunday)
    assert date_range("last_month", sunday) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert date_range("last_month", dt.date(2027, 1, 5)) == \
        (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def test_the_reports_scenes_fit(kiosk, monkeypatch):
    monkeypatch.setattr(guard_reports, "USB_ROOTS", guard_reports.USB_ROOTS)  # put back after
    assert check_scenes(kiosk, REPORT_SCENES, "guard_reports", min_target=44) == {}
