"""A guest's way through the kiosk, with touches in a real window, against the real core.

Each test taps the screen as a guest would and then asks the core (as the guard panel
does) what it stored: the details, the temperature and how it was taken, the badge, the
consent time and the status.
"""

from __future__ import annotations

import time

import cv2

from drivers import qr
from kiosk.ui.lang import tr

from .harness import save_screenshot

WINDOW_SIZES = ("800x480",)


def fill_details(kiosk, *, name="Budi Santoso", institution="Dinas Pendidikan",
                 phone="081234567890", purpose="Rapat anggaran", host="Sekretaris",
                 extra_people=1, id_type="KTP", id_number="3201012345678901"):
    details = kiosk.app.screen("details")
    for text in (name, institution):
        kiosk.type(text)
        kiosk.press("Lanjut")
    for digit in phone:
        kiosk.key(digit)
    kiosk.press("Lanjut")
    kiosk.type(purpose)
    kiosk.press("Lanjut")
    assert details.field == "host"
    kiosk.press(host)
    assert details.field == "party_size"
    for _ in range(extra_people):
        kiosk.tap(details.ids.plus)
    kiosk.press("Lanjut")
    kiosk.press(id_type)
    for char in id_number:
        kiosk.key(char)
    kiosk.press("Lanjut")
    assert details.reviewing, details.error


def sensor(kiosk):
    return kiosk.server.post.core.hw.sim.thermometer_bus


def stored(kiosk, visit_id):
    return next(v for v in kiosk.server.visits() if v["id"] == visit_id)


def test_registration_end_to_end(kiosk, tmp_path):
    sensor(kiosk).object_c = 36.6
    kiosk.press("Daftar tamu")
    kiosk.wait_screen("details")
    fill_details(kiosk)
    review = kiosk.texts()
    assert "Budi Santoso" in review and "081234567890" in review
    assert "•••• 8901" in review and "3201012345678901" not in review  # masked on screen
    kiosk.press("Benar, lanjut")
    kiosk.wait_screen("temperature")
    kiosk.press("Ukur")
    temperature = kiosk.app.screen("temperature")
    kiosk.wait(lambda: temperature.state == "ok", "a steady reading")
    assert "36,6 °C" in kiosk.texts()
    kiosk.press("Lanjut")
    kiosk.wait_screen("consent")
    assert "90 hari" in kiosk.texts() and "27 Tahun 2022" in kiosk.texts()
    kiosk.press("Saya setuju")
    kiosk.wait_screen("done")
    done = kiosk.app.screen("done")
    assert done.badge == "TAMU-01" and "TAMU-01" in kiosk.texts()
    assert "Serahkan kartu identitas Anda kepada petugas" in kiosk.texts()

    visit = stored(kiosk, int(done.visit_id))
    assert visit["name"] == "Budi Santoso"
    assert visit["institution"] == "Dinas Pendidikan"
    assert visit["phone"] == "081234567890"
    assert visit["purpose"] == "Rapat anggaran"
    assert visit["host"] == "Sekretaris"
    assert visit["party_size"] == 2
    assert visit["id_type"] == "KTP" and visit["id_masked"] == "••••8901"
    assert visit["temperature_c"] == 36.6 and visit["temperature_source"] == "sensor"
    assert visit["consent_at"].startswith("2026-11-22T10:00")
    assert visit["badge"] == "TAMU-01" and visit["status"] == "awaiting_host"
    assert kiosk.app.draft.is_empty()  # nothing typed stays in the kiosk

    # The pass on screen is what a phone photographs: read it back from the window's pixels
    # and the core knows the guest by it next time.
    kiosk.pump(3)
    shot = save_screenshot(tmp_path / "done.png")
    payloads = qr.decode(cv2.imread(str(shot)))
    assert len(payloads) == 1 and payloads[0].startswith(f"GK1:PASS:{visit['id']}:")
    known = kiosk.server.api("GET", f"/codes/{payloads[0]}").json()
    assert known["kind"] == "pass" and known["name"] == "Budi Santoso"

    # The guard admits: the waiting guest reads it on the same screen.
    response = kiosk.server.api("POST", f"/visits/{visit['id']}/admit", guard=True)
    assert response.status_code == 200, response.text
    kiosk.wait(lambda: done.status == "admitted", "the host's answer")
    assert tr._("done.admitted") in kiosk.texts()


def test_the_staff_directory_is_the_cores_including_one_hq_sent(kiosk):
    from kiosk import config

    core = kiosk.server.post.core
    core.apply_settings(config.overlay(core.settings, {"staff": {"staff": [
        {"name": "Kasubag Umum", "unit": "Umum"}]}}))
    kiosk.press("Daftar tamu")
    kiosk.wait(lambda: kiosk.app.screen("details").staff, "the core's staff directory")
    fill_details(kiosk, host="Kasubag Umum")
    assert kiosk.app.draft.host == "Kasubag Umum"
    assert "Sekretaris" not in kiosk.texts()  # the config's directory is replaced


def test_invitation_qr_prefills_the_details(kiosk):
    made = kiosk.server.api("POST", "/invitations", guard=True, json={
        "name": "Siti Aminah", "institution": "Bawaslu Kabupaten Subang",
        "host": "Kasubbag Teknis", "purpose": "Rapat koordinasi", "valid_on": "2026-11-22"})
    assert made.status_code == 201, made.text
    invitation = made.json()
    kiosk.press("Saya punya undangan")
    kiosk.wait_screen("scan")
    kiosk.camera.show(invitation["qr_payload"])
    kiosk.wait_screen("details", timeout=20)
    details = kiosk.app.screen("details")
    assert kiosk.app.draft.name == "Siti Aminah" and kiosk.app.draft.host == "Kasubbag Teknis"
    assert details.field == "phone"  # the first thing the invitation did not say
    for digit in "085712345678":
        kiosk.key(digit)
    kiosk.press("Lanjut")
    kiosk.press("Lanjut")  # the purpose from the invitation is fine
    kiosk.press("Kasubbag Teknis")
    kiosk.press("Lanjut")
    kiosk.press("SIM")
    for digit in "123456789012":
        kiosk.key(digit)
    kiosk.press("Lanjut")
    assert details.reviewing
    kiosk.press("Benar, lanjut")
    kiosk.press("Ukur")
    kiosk.wait(lambda: kiosk.app.screen("temperature").state == "ok", "a reading")
    kiosk.press("Lanjut")
    kiosk.press("Saya setuju")
    kiosk.wait_screen("done")
    visit = stored(kiosk, int(kiosk.app.screen("done").visit_id))
    assert visit["name"] == "Siti Aminah" and visit["institution"] == "Bawaslu Kabupaten Subang"
    assert visit["invitation"] == invitation["code"]
    assert visit["id_type"] == "SIM" and visit["id_masked"] == "••••9012"


def test_high_temperature_is_held_but_looks_the_same_to_the_guest(kiosk):
    sensor(kiosk).object_c = 38.4
    kiosk.press("Daftar tamu")
    fill_details(kiosk, name="Andi Wijaya")
    kiosk.press("Benar, lanjut")
    kiosk.press("Ukur")
    temperature = kiosk.app.screen("temperature")
    kiosk.wait(lambda: temperature.state == "high", "the high reading")
    assert "38,4 °C" in kiosk.texts() and "Petugas akan menemui Anda" in kiosk.texts()
    kiosk.press("Lanjut")
    kiosk.press("Saya setuju")
    kiosk.wait_screen("done")
    done = kiosk.app.screen("done")
    visit = stored(kiosk, int(done.visit_id))
    assert visit["status"] == "held" and visit["hold_reason"] == "temperature"
    assert visit["temperature_c"] == 38.4
    # Held reads exactly like waiting for the host.
    assert tr._("done.waiting") in kiosk.texts()
    kiosk.pump(40)
    assert done.status == "held" and tr._("done.waiting") in kiosk.texts()


def test_sensor_unavailable_the_guard_measures_by_hand(kiosk):
    sensor(kiosk).unplugged = True
    kiosk.press("Daftar tamu")
    fill_details(kiosk, name="Rina Marlina", extra_people=0)
    kiosk.press("Benar, lanjut")
    kiosk.press("Ukur")
    temperature = kiosk.app.screen("temperature")
    kiosk.wait(lambda: temperature.state == "unavailable", "the sensor's absence")
    assert "secara manual" in kiosk.texts()
    kiosk.press("Diukur petugas")
    for digit in "9999":  # a wrong PIN first
        kiosk.key(digit)
    kiosk.press("OK")
    kiosk.wait(lambda: kiosk.dialog().error, "the wrong-PIN message")
    assert "PIN salah" in kiosk.dialog().error
    for digit in "1234":
        kiosk.key(digit)
    kiosk.press("OK")
    kiosk.wait(lambda: kiosk.dialog().mode == "celsius", "the guard's login")
    for key in ("3", "6", ",", "8"):
        kiosk.key(key)
    kiosk.press("OK")
    kiosk.wait(lambda: temperature.state == "manual", "the hand reading")
    assert "36,8 °C" in kiosk.texts()
    kiosk.press("Lanjut")
    kiosk.press("Saya setuju")
    kiosk.wait_screen("done")
    visit = stored(kiosk, int(kiosk.app.screen("done").visit_id))
    assert visit["temperature_c"] == 36.8 and visit["temperature_source"] == "manual"
    assert visit["temperature_by"] == "Petugas Simulasi" and visit["party_size"] == 1


def register_by_api(kiosk, name, nik):
    response = kiosk.server.api("POST", "/visits", json={
        "name": name, "institution": "PT Maju Jaya", "phone": "081298765432",
        "purpose": "Rapat", "host": "Sekretaris", "party_size": 1, "id_type": "KTP",
        "id_number": nik, "temperature_c": 36.5, "temperature_source": "sensor",
        "consent": True})
    assert response.status_code == 201, response.text
    return response.json()


def test_checkout_by_scanning_the_badge(kiosk):
    visit = register_by_api(kiosk, "Budi Santoso", "3201012345678901")
    kiosk.press("Keluar")
    kiosk.wait_screen("checkout")
    kiosk.camera.show(visit["badge"])
    kiosk.wait(lambda: kiosk.dialog() is not None, "the confirmation", timeout=20)
    assert "Budi S." in kiosk.texts(kiosk.dialog()) and visit["badge"] in kiosk.texts()
    kiosk.press("Ya, saya keluar")
    checkout = kiosk.app.screen("checkout")
    kiosk.wait(lambda: checkout.finished, "the check-out")
    assert "Terima kasih atas kunjungan Anda" in kiosk.texts()
    assert stored(kiosk, visit["id"])["status"] == "checked_out"


def test_checkout_by_picking_a_shortened_name(kiosk):
    register_by_api(kiosk, "Budi Santoso Wijaya", "3201012345678901")
    second = register_by_api(kiosk, "Sri Lestari", "3201012345678902")
    kiosk.press("Keluar")
    checkout = kiosk.app.screen("checkout")
    kiosk.wait(lambda: len(checkout.ids.guests.children) == 2, "the list of guests")
    names = kiosk.texts()
    assert "Budi S. W." in names and "Santoso" not in names and "Lestari" not in names
    kiosk.press("Sri L.")
    kiosk.press("Ya, saya keluar")
    kiosk.wait(lambda: checkout.finished, "the check-out")
    assert stored(kiosk, second["id"])["status"] == "checked_out"
    assert sum(v["status"] == "awaiting_host" for v in kiosk.server.visits()) == 1


def test_inactivity_returns_to_welcome_and_drops_the_half_entered_visit(kiosk):
    kiosk.press("EN")
    kiosk.press("Register as a guest")
    kiosk.type("Budi San")
    assert kiosk.app.draft.name == "Budi San"
    kiosk.app.last_touch = time.monotonic() - 25  # not yet the 30 s configured
    kiosk.pump(40)
    assert kiosk.app.sm.current == "details"
    kiosk.app.last_touch = time.monotonic() - 31
    kiosk.wait_screen("welcome", timeout=5)
    assert kiosk.app.draft.is_empty() and kiosk.app.screen("details").value == ""
    assert kiosk.app.lang == "id" and "Daftar tamu" in kiosk.texts()  # the site's language
    kiosk.press("Daftar tamu")
    assert "Budi" not in kiosk.texts()


def test_language_toggle_changes_every_text(kiosk):
    welcome = kiosk.texts()
    assert "Selamat datang" in welcome
    kiosk.press("EN")
    english = kiosk.texts()
    assert "Welcome" in english and "Register as a guest" in english
    assert "Selamat datang" not in english and "Daftar tamu" not in english
    kiosk.press("Register as a guest")
    assert "What is your full name?" in kiosk.texts()
    kiosk.press("ID")
    assert "Siapa nama lengkap Anda?" in kiosk.texts()


def test_validation_messages_beside_the_field(kiosk):
    kiosk.press("Daftar tamu")
    details = kiosk.app.screen("details")
    kiosk.press("Lanjut")
    assert details.field == "name" and "Mohon isi nama Anda." in kiosk.texts()
    kiosk.type("B")
    kiosk.press("Lanjut")
    assert "Nama terlalu pendek" in kiosk.texts()
    kiosk.press("EN")
    assert "That name is very short" in kiosk.texts()
    kiosk.type("udi")
    assert "very short" not in kiosk.texts()  # the message goes once it is fixed
    kiosk.press("Next")
    kiosk.type("Pribadi")
    kiosk.press("Next")
    for digit in "0812":
        kiosk.key(digit)
    kiosk.press("Next")
    assert details.field == "phone" and "number of digits" in kiosk.texts()


def test_an_unknown_code_says_why_in_the_guests_language(kiosk):
    kiosk.press("Saya punya undangan")
    scan = kiosk.app.screen("scan")
    kiosk.camera.show("GK1:INV:AAAAAAAAAAAA")
    kiosk.wait(lambda: scan.status == "scan.refused", "the core's answer", timeout=20)
    assert "Undangan tidak dikenal" in kiosk.texts() and kiosk.app.sm.current == "scan"
    kiosk.press("EN")
    assert "Unknown invitation" in kiosk.texts()


def test_camera_lost_offers_the_manual_way(kiosk):
    kiosk.camera.lose("camera 0 stopped sending frames: check its USB cable")
    kiosk.press("Saya punya undangan")
    scan = kiosk.app.screen("scan")
    kiosk.wait(lambda: scan.camera_state == "lost", "the camera to count as lost")
    assert "Kamera sedang tidak dapat dipakai" in kiosk.texts()
    assert "USB" not in kiosk.texts()  # the guard's words are for the log, not the guest
    kiosk.press("Tidak punya QR")
    kiosk.wait_screen("details")
    assert kiosk.app.screen("details").field == "name"
    kiosk.camera.recover()


def test_core_unreachable_screen_appears_and_recovers_by_itself(kiosk):
    kiosk.press("Daftar tamu")
    kiosk.type("Budi")
    kiosk.server.stop()
    kiosk.wait_screen("unreachable", timeout=10)
    assert "Silakan hubungi petugas keamanan" in kiosk.texts()
    kiosk.server.start()
    kiosk.wait_screen("details", timeout=10)  # back where the guest was, nothing lost
    assert kiosk.app.draft.name == "Budi"


def test_one_slow_answer_is_not_a_lost_core(kiosk):
    """A call that timed out makes the app ask /health; the core answers, the guest stays."""
    from kiosk.ui.client import CoreSlow

    kiosk.press("Daftar tamu")
    kiosk.type("Budi")
    failed = []

    def slow():
        raise CoreSlow("the core did not answer in time: timed out")

    kiosk.app.background.submit(slow, failed=failed.append)
    kiosk.wait(lambda: failed, "the slow call's failure")
    kiosk.wait(lambda: not kiosk.app._health_pending, "the health check it asked for")
    assert kiosk.app.sm.current == "details" and kiosk.app.core_ok
    assert kiosk.app.draft.name == "Budi"


def test_leaving_needs_a_guard_pin(kiosk, monkeypatch):
    stopped = []
    monkeypatch.setattr(kiosk.app, "stop", lambda *a: stopped.append(True))
    from kivy.core.window import Window

    Window.dispatch("on_key_down", 27, 41, None, [])  # Escape
    assert Window.dispatch("on_request_close") is True  # the window's close button
    kiosk.pump(3)
    assert not stopped and kiosk.app.sm.current == "welcome"
    logo = next(w for w in kiosk.widgets() if type(w).__name__ == "Logo")
    kiosk.tap(logo, hold=1.0)  # too short: nothing
    assert kiosk.dialog() is None
    kiosk.tap(logo, hold=3.2)
    assert kiosk.dialog() is not None and "PIN" in kiosk.texts(kiosk.dialog())
    for digit in "4321":
        kiosk.key(digit)
    kiosk.press("OK")
    kiosk.wait(lambda: kiosk.dialog().error, "the wrong-PIN message")
    assert not stopped
    for digit in "1234":
        kiosk.key(digit)
    kiosk.press("OK")
    kiosk.wait(lambda: stopped, "the app to stop")
    from kiosk.ui import CLOSED_BY_GUARD

    assert kiosk.app.exit_code == CLOSED_BY_GUARD  # systemd then leaves the screen closed


def test_evacuation_roll_call_takes_over_and_the_guard_ticks_people_off(kiosk):
    from conftest import visit_body

    response = kiosk.server.api("POST", "/visits", json=visit_body(name="Rahmat Hidayat"))
    assert response.status_code == 201, response.text
    badge = response.json()["badge"]
    kiosk.press("Daftar tamu")
    kiosk.type("Siti")  # a guest half-way through the form when the alarm goes
    alarm = kiosk.server.api("POST", "/alarms", json={"code": "fire"}, guard=True).json()
    kiosk.wait_screen("rollcall", timeout=10)
    assert kiosk.app.draft.is_empty()  # everyone leaves: the half-typed form is gone
    screen = kiosk.app.screen("rollcall")
    kiosk.wait(lambda: screen.total >= 2, "the people on site")
    row = kiosk.button(f"{badge} · Rahmat H.")
    assert "Rahmat Hidayat" not in kiosk.texts()  # the lobby reads short names only

    kiosk.tap(row)
    assert "PIN" in kiosk.texts(kiosk.dialog())
    for digit in "1234":
        kiosk.key(digit)
    kiosk.press("OK")
    kiosk.wait(lambda: kiosk.dialog() is None and any(
        r.checked for r in screen.ids.people.children if r.words.startswith(badge)), "the tick")
    call = kiosk.server.api("GET", "/rollcall", guard=True).json()
    guest = next(p for p in call["people"] if p["kind"] == "guest")
    assert guest["checked"] and guest["checked_by"] == "Petugas Simulasi"
    kiosk.wait(lambda: "1 dari" in kiosk.texts(), "the count of people seen")

    kiosk.server.api("POST", f"/alarms/{alarm['id']}/clear", guard=True)
    kiosk.wait_screen("welcome", timeout=10)
    book = kiosk.server.api("GET", "/logbook", guard=True).json()
    closing = [e["text"] for e in book["entries"] if "Apel evakuasi selesai" in e["text"]]
    # The logbook is kept for good: it names the guest by visit and badge, never by name.
    visit_id = response.json()["id"]
    assert closing and f"Tamu #{visit_id} (kartu {badge})" in closing[0]
    assert "Rahmat" not in closing[0]
