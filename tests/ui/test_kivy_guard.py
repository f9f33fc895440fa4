"""The guard's panel in a real window against the real core: login, dashboard, alarms,
the incident book, and the panel closing itself when left alone.
"""

from __future__ import annotations

import time

import pytest
from conftest import visit_body

from . import harness

WINDOW_SIZES = ("800x480",)


def log_in(kiosk):
    harness.log_in(kiosk)
    kiosk.wait_screen("guard_dashboard")  # the panel opens on the dashboard


def test_a_guard_admits_a_waiting_guest_from_the_dashboard(kiosk):
    visit = kiosk.server.api("POST", "/visits", json=visit_body(name="Rahmat Hidayat")).json()
    log_in(kiosk)
    assert kiosk.app.guard["name"] == "Petugas Simulasi"
    kiosk.wait(lambda: "Rahmat Hidayat" in kiosk.texts(), "the waiting guest")
    kiosk.press("Izinkan")
    kiosk.wait(lambda: kiosk.server.post.core.visits.get(visit["id"])["status"] == "admitted",
               "the admission")
    entry = kiosk.server.post.core.visits.get(visit["id"])
    assert entry["decided_by"] == "Petugas Simulasi"


def test_one_tap_overrides_a_relay_for_an_hour(kiosk):
    log_in(kiosk)
    kiosk.wait(lambda: "Lampu: MATI" in kiosk.texts(), "the relay rows")
    button = kiosk.button("Nyalakan 1 jam")
    scroll = kiosk.app.screen("guard_dashboard").content.children[0]
    scroll.scroll_to(button, animate=False)  # as a finger scrolls the cards up
    kiosk.pump(3)
    kiosk.tap(button)
    kiosk.wait(lambda: kiosk.server.post.relay("lights"), "the lights to switch on")
    overrides = kiosk.server.post.core.active_overrides()
    assert overrides["lights"].on and overrides["lights"].reason == "Diubah dari panel petugas"


OFFLINE_HQ = '[sync]\nurl = "http://127.0.0.1:9"\ntoken = "' + "t" * 43 + '"\nevery = "1h"\n'


@pytest.mark.parametrize("core_server", [OFFLINE_HQ], indirect=True)
def test_the_dashboard_shows_the_sync_and_the_guard_can_sync_now(kiosk):
    core = kiosk.server.post.core
    runs = []
    run_once = core.sync_once
    core.sync_once = lambda: (runs.append(1), run_once())[1]  # the sync thread's only call
    log_in(kiosk)
    kiosk.wait(lambda: "Belum terkirim:" in kiosk.texts(), "the sync card")
    assert "Belum pernah berhasil." in kiosk.texts()  # hq was never reached
    button = kiosk.button("Sinkron sekarang")
    scroll = kiosk.app.screen("guard_dashboard").content.children[0]
    scroll.scroll_to(button, animate=False)
    kiosk.pump(3)
    before = len(runs)
    kiosk.tap(button)
    kiosk.wait(lambda: len(runs) > before, "the sync the guard asked for")
    kiosk.wait(lambda: "did not answer" in kiosk.texts(), "the reason it failed")
    assert core.sync_status()["backlog"] > 0  # nothing marked sent


def test_an_alarm_is_raised_only_by_holding_its_button(kiosk):
    log_in(kiosk)
    kiosk.press("Alarm")
    kiosk.wait_screen("guard_alarms")
    kiosk.wait(lambda: "Tindak pidana" in kiosk.texts(), "the alarm buttons")
    button = kiosk.button("Tindak pidana")
    kiosk.tap(button, hold=0.5)  # a brush: nothing
    kiosk.pump(5)
    assert kiosk.server.post.core.alarms.active() == []
    kiosk.tap(button, hold=2.4)
    kiosk.wait(lambda: kiosk.server.post.core.alarms.active(), "the crime alarm")
    assert [a.code for a in kiosk.server.post.core.alarms.active()] == ["crime"]
    kiosk.wait(lambda: "berbunyi" in kiosk.texts(), "the active alarm row")
    kiosk.press("Selesai")
    kiosk.wait(lambda: not kiosk.server.post.core.alarms.active(), "the alarm cleared")


def test_writing_searching_and_correcting_the_incident_book(kiosk):
    log_in(kiosk)
    kiosk.press("Buku mutasi")
    kiosk.wait_screen("guard_logbook")
    kiosk.press("Tulis")
    kiosk.press("kejadian")
    kiosk.type("pagar belakang terbuka")
    kiosk.press("Simpan")
    screen = kiosk.app.screen("guard_logbook")
    kiosk.wait(lambda: screen.mode == "browse", "the entry saved")
    core = kiosk.server.post.core
    entries = core.logbook.entries(query="pagar")
    assert [(e["category"], e["actor"], e["text"]) for e in entries] == [
        ("kejadian", "Petugas Simulasi", "Pagar belakang terbuka")]
    kiosk.wait(lambda: "Pagar belakang terbuka" in kiosk.texts(), "the entry listed")

    kiosk.tap(next(r for r in screen.content.ids.entries.children
                   if "Pagar belakang" in r.text))
    assert screen.mode == "write" and screen.corrects == entries[0]["id"]
    kiosk.type("pagar sudah dikunci")
    kiosk.press("Simpan")
    kiosk.wait(lambda: screen.mode == "browse", "the correction saved")
    corrections = [e for e in core.logbook.entries(query="dikunci")]
    assert corrections and corrections[0]["corrects"] == entries[0]["id"]

    kiosk.tap(screen.content.ids.search)
    kiosk.type("dikunci")
    kiosk.wait(lambda: all("dikunci" in r.text.lower()
                           for r in screen.content.ids.entries.children), "the search")


def test_the_panel_logs_out_when_left_alone(kiosk):
    log_in(kiosk)
    token = kiosk.app.guard["token"]
    minutes = kiosk.app.settings.security.session_minutes
    kiosk.app.last_touch = time.monotonic() - minutes * 60 - 1
    kiosk.wait_screen("welcome", timeout=5)
    assert kiosk.app.guard is None
    kiosk.wait(lambda: kiosk.server.post.core.sessions.guard(token) is None,
               "the core to forget the login")


def test_the_dashboard_alarm_and_logbook_scenes_fit(kiosk):
    from kiosk.ui.guardshots import alarms, dashboard, logbook

    found = {}
    for module, screen_name in ((dashboard, "guard_dashboard"), (alarms, "guard_alarms"),
                                (logbook, "guard_logbook")):
        found.update(harness.check_scenes(kiosk, module.SCENES, screen_name))
    assert found == {}
