"""Procedures (SOP) on the guard's panel, with touches in a real window, against the real core.

The guard logs in on Welcome with the PIN pad, opens "Prosedur (SOP)" from the menu and
carries runs through their steps with taps; each test then asks the core what it stored:
the passes with their answers (the escort's yes/no loop), the overdue flag after the core's
clock moved on, the cancel reason, the report's minutes. The helpers at the top (logging in,
opening a screen, the layout check of the screenshot scenes) serve the other panel modules.
"""

from __future__ import annotations

import datetime as dt

import pytest
from kivy.uix.behaviors import ButtonBehavior

from kiosk.ui.guardshots.sop import SCENES
from kiosk.ui.screens.guard_sop import SopProcedureButton, SopRunRow, SopStepRow

from .harness import check_scenes, log_in, open_screen

WINDOW_SIZES = ("800x480",)
MIN_TARGET = 44  # px at 800x480: a fingertip
GUARD, ADMIN = "Petugas Simulasi", "Admin Simulasi"
ESCORT, CRIME = "pengawalan-pejabat", "penanganan-tindak-pidana"
# The core's clock moves by hours here; a session would run out after 15 idle minutes of it.
LONG_SESSION = "[security]\nsession_minutes = 600\n"
long_session = pytest.mark.parametrize("core_server", [LONG_SESSION], indirect=True)


def idle(kiosk) -> None:
    kiosk.wait(lambda: not kiosk.screen.busy, "the core's answers")
    kiosk.pump(3)


def tap_exact(kiosk, text: str) -> None:
    """Tap the button reading exactly ``text`` (the language toggle's "ID" and "EN")."""
    kiosk.tap(next(w for w in kiosk.widgets() if isinstance(w, ButtonBehavior)
                   and getattr(w, "text", None) == text))
    kiosk.pump(3)


def core(kiosk):
    return kiosk.server.post.core


def move_clock(kiosk, minutes: float) -> None:
    clock = kiosk.server.post.clock
    clock.jump(clock.now() + dt.timedelta(minutes=minutes))


# -- SOP helpers -------------------------------------------------------------------------------

def sop_screen(kiosk):
    log_in(kiosk)
    return open_screen(kiosk, "guard_sop")


def start_by_taps(kiosk, body, sop_id: str, title: str = "") -> int:
    """Tap the procedure, type the optional title, "Mulai": returns the new run's id."""
    kiosk.tap(next(b for b in body.ids.procedures.children
                   if isinstance(b, SopProcedureButton) and b.sop_id == sop_id))
    assert body.page == "typing"
    if title:
        kiosk.type(title)
    kiosk.press("Mulai")
    kiosk.wait(lambda: body.page == "run", "the new run")
    idle(kiosk)
    return int(kiosk.screen._run["id"])


def current(kiosk, run_id: int) -> dict:
    return core(kiosk).sops.get(run_id)["current"]


def tap_and_wait(kiosk, body, button, run_id: int) -> None:
    """Tap one of the step's buttons and wait until the core's answer is drawn."""
    before = len(core(kiosk).sops.get(run_id)["passes"])
    kiosk.tap(button)
    kiosk.wait(lambda: not body.sending and len(kiosk.screen._run["passes"]) > before,
               "the step done")
    kiosk.pump(2)


def open_row(body) -> SopStepRow:
    rows = [r for r in body.ids.steps.children if isinstance(r, SopStepRow) and r.state == "open"]
    assert len(rows) == 1, [r.state for r in body.ids.steps.children]
    return rows[0]


# -- the tests ---------------------------------------------------------------------------------

def test_the_escort_loops_back_on_no_and_goes_on_on_yes(kiosk):
    body = sop_screen(kiosk)
    texts = kiosk.texts()
    assert "Pengawalan pejabat atau orang penting" in texts and "11 langkah" in texts
    assert "Tidak ada SOP yang sedang berjalan." in texts
    run_id = start_by_taps(kiosk, body, ESCORT, "kunjungan bupati")
    assert core(kiosk).sops.get(run_id)["title"] == "Kunjungan bupati"
    assert "SOP #1 · Kunjungan bupati" in kiosk.texts()
    assert open_row(body).detail.startswith("Pelaksana: Camat · standar 1 jam")

    for _ in range(3):  # the two orders received, the draft written
        assert kiosk.shown(body.ids.done) and not kiosk.shown(body.ids.yes)
        tap_and_wait(kiosk, body, body.ids.done, run_id)
    # The decision: Sekcam checks the draft. Two answers instead of "Selesai".
    assert current(kiosk, run_id)["id"] == "verifikasi-draft"
    assert kiosk.shown(body.ids.yes) and kiosk.shown(body.ids.no)
    assert not kiosk.shown(body.ids.done)
    assert "keputusan: jawab Ya atau Tidak" in open_row(body).heading
    tap_and_wait(kiosk, body, body.ids.no, run_id)  # corrections: back to the draft
    step = current(kiosk, run_id)
    assert (step["id"], step["round"]) == ("susun-draft", 2)
    assert "putaran ke-2" in open_row(body).heading
    tap_and_wait(kiosk, body, body.ids.done, run_id)
    tap_and_wait(kiosk, body, body.ids.yes, run_id)  # initialled: on to the signature

    run = core(kiosk).sops.get(run_id)
    assert [(p["step_id"], p["answer"], p["state"]) for p in run["passes"]] == [
        ("terima-perintah-walikota", None, "done"), ("terima-perintah-camat", None, "done"),
        ("susun-draft", None, "done"), ("verifikasi-draft", "no", "done"),
        ("susun-draft", None, "done"), ("verifikasi-draft", "yes", "done"),
        ("tanda-tangan", None, "open")]
    assert {p["done_by"] for p in run["passes"] if p["done_at"]} == {GUARD}
    details = [r.detail for r in reversed(body.ids.steps.children)]
    assert details[3].endswith("jawaban: tidak") and details[5].endswith("jawaban: ya")
    # The list shows the run where it is now.
    kiosk.press("Kembali")
    kiosk.wait(lambda: body.page == "list" and body.has_running, "the list")
    idle(kiosk)
    row = next(r for r in body.ids.running.children if isinstance(r, SopRunRow))
    assert row.run_id == run_id and row.detail.startswith("Langkah 7: Camat")


@long_session
def test_an_overdue_step_is_flagged_after_the_clock_moves_on(kiosk):
    body = sop_screen(kiosk)
    run_id = start_by_taps(kiosk, body, CRIME)
    assert not open_row(body).flag
    move_clock(kiosk, 25)  # "amankan TKP" has 10 minutes
    assert current(kiosk, run_id)["overdue"]
    kiosk.press("Kembali")  # the list, loaded anew, says so...
    kiosk.wait(lambda: body.page == "list" and body.has_running, "the list")
    idle(kiosk)
    row = next(r for r in body.ids.running.children if isinstance(r, SopRunRow))
    assert row.warn and "LEWAT WAKTU" in row.detail and "25 mnt dari 10 mnt" in row.detail
    kiosk.tap(row)  # ...and so does the run
    kiosk.wait(lambda: body.page == "run", "the run")
    idle(kiosk)
    assert open_row(body).flag == "LEWAT WAKTU 15 mnt"
    assert "berjalan 25 mnt" in open_row(body).detail
    tap_and_wait(kiosk, body, body.ids.done, run_id)
    assert not open_row(body).flag  # the next step has just opened
    passes = core(kiosk).sops.report(run_id)["passes"]
    assert (passes[0]["actual_minutes"], passes[0]["result"]) == (25.0, "over")


@long_session
def test_a_run_done_to_the_end_shows_its_report(kiosk):
    body = sop_screen(kiosk)
    run_id = start_by_taps(kiosk, body, CRIME, "helm hilang")
    for minutes in (8, 20, 15, 5):  # standards 10, 15, 15, 10 (and 10 for the last)
        move_clock(kiosk, minutes)
        tap_and_wait(kiosk, body, body.ids.done, run_id)
    move_clock(kiosk, 10)
    kiosk.tap(body.ids.done)  # the last step: the run ends and its report opens
    kiosk.wait(lambda: body.page == "report", "the report")
    idle(kiosk)
    report = core(kiosk).sops.report(run_id)
    assert report["run"]["status"] == "finished"
    assert report["totals"]["actual_minutes"] == 58.0 and report["totals"]["over"] == 1
    texts = kiosk.texts()
    assert "SOP #1 · Helm hilang" in texts and "Selesai 10.58 oleh Petugas Simulasi" in texts
    assert "5 langkah · aktual 58 mnt · standar 1 jam · selisih -2 mnt" in texts
    assert "+5 mnt" in texts and "-2 mnt" in texts  # the arrest took longer than its 15
    over = [r for r in body.ids.report_rows.children if r.over]
    assert [r.step for r in over] == ["2. Menangkap dan mengamankan pelaku (dalam hal "
                                      "tertangkap tangan)"]
    # In the list it is among the ended runs, and its report opens again from there.
    kiosk.press("Kembali")
    kiosk.wait(lambda: body.page == "list" and body.has_ended, "the list")
    kiosk.tap(next(r for r in body.ids.ended.children if isinstance(r, SopRunRow)))
    kiosk.wait(lambda: body.page == "report", "the report again")


def test_cancelling_needs_a_reason_which_the_core_keeps(kiosk):
    body = sop_screen(kiosk)
    run_id = start_by_taps(kiosk, body, CRIME)
    kiosk.tap(body.ids.cancel)
    assert body.page == "typing" and "Alasan membatalkan SOP #1" in kiosk.texts()
    kiosk.press("Batalkan SOP")
    assert "Tulis dulu alasan pembatalannya." in kiosk.texts()
    assert core(kiosk).sops.get(run_id)["status"] == "running"
    kiosk.type("salah pilih prosedur")
    kiosk.press("Batalkan SOP")
    kiosk.wait(lambda: body.page == "report", "the cancelled run's report")
    run = core(kiosk).sops.get(run_id)
    assert (run["status"], run["cancel_reason"], run["ended_by"]) == \
        ("cancelled", "Salah pilih prosedur", GUARD)
    assert "Dibatalkan 10.00 oleh Petugas Simulasi: Salah pilih prosedur" in kiosk.texts()


def test_going_back_from_typing_starts_nothing(kiosk):
    body = sop_screen(kiosk)
    kiosk.tap(next(b for b in body.ids.procedures.children if b.sop_id == ESCORT))
    kiosk.type("batal")
    kiosk.press("Kembali")
    kiosk.wait(lambda: body.page == "list", "the list")
    assert core(kiosk).sops.runs(open_only=False) == []


def test_a_colleague_finishing_the_step_first_is_not_done_twice(kiosk):
    body = sop_screen(kiosk)
    run_id = start_by_taps(kiosk, body, CRIME)
    core(kiosk).sops.complete(run_id, "amankan-tkp", actor=ADMIN)  # on another screen
    kiosk.tap(body.ids.done)  # still showing "amankan TKP": the core refuses, the run reloads
    kiosk.wait(lambda: not body.sending and kiosk.screen._run["current"]["id"] ==
               "amankan-pelaku", "the run as the core has it")
    assert "bukan 'amankan-tkp'" in kiosk.screen.problem
    passes = core(kiosk).sops.get(run_id)["passes"]
    assert [(p["step_id"], p["done_by"]) for p in passes] == [("amankan-tkp", ADMIN),
                                                               ("amankan-pelaku", None)]


def test_the_toggle_shows_the_run_in_english(kiosk):
    body = sop_screen(kiosk)
    start_by_taps(kiosk, body, ESCORT)
    tap_exact(kiosk, "EN")
    row = open_row(body)
    assert row.words.startswith("The head of public order receives the Mayor's order")
    assert row.detail.startswith("Carried out by: Camat · standard 1 h")
    assert body.ids.done.text == "Done" and body.ids.cancel.text == "Cancel"
    tap_exact(kiosk, "ID")
    assert open_row(body).words.startswith("Kasi Trantib menerima perintah Walikota")


def test_the_screenshot_scenes_fit(kiosk):
    assert check_scenes(kiosk, SCENES, "guard_sop", min_target=MIN_TARGET) == {}
