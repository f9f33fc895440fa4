"""The shift handover on the guard's panel, with touches in a real window, against the real core.

The outgoing guard logs in, opens "Serah terima", reads the summary, types a note and taps
"Serah terima"; the incoming guard types their PIN on the pad. Each test asks the core what
it recorded: both names and the note, the outgoing session ended, the incoming one working;
or, for a wrong PIN, nothing at all.
"""

from __future__ import annotations

import httpx
from conftest import visit_body

from kiosk.ui.guardshots.handover import SCENES
from kiosk.ui.widgets import GuardDialog

from .harness import check_scenes, log_in, open_screen

WINDOW_SIZES = ("800x480",)
GUARD, ADMIN = "Petugas Simulasi", "Admin Simulasi"


def handover_screen(kiosk):
    log_in(kiosk)
    return open_screen(kiosk, "guard_handover")


def pin_pad(kiosk, body) -> GuardDialog:
    kiosk.tap(body.ids.hand_over)
    dialog = kiosk.dialog()
    assert isinstance(dialog, GuardDialog) and "PIN petugas pengganti" in kiosk.texts(dialog)
    return dialog


def enter(kiosk, dialog: GuardDialog, pin: str) -> None:
    for digit in pin:
        kiosk.key(digit)
    kiosk.press("OK")


def handovers(kiosk) -> list[dict]:
    response = kiosk.server.api("GET", "/handover", guard=True)
    assert response.status_code == 200, response.text
    return response.json()["handovers"]


def test_a_handover_to_the_admin_is_recorded_with_both_names(kiosk):
    made = kiosk.server.api("POST", "/visits", json=visit_body(name="Rahmat Hidayat"))
    assert made.status_code == 201, made.text
    body = handover_screen(kiosk)
    texts = kiosk.texts()
    assert "Tamu di lokasi (1)" in texts and "TAMU-01 · Rahmat H." in texts
    assert "Nihil: alarm aktif" in texts  # the empty parts share one line
    outgoing_token = kiosk.app.guard["token"]

    kiosk.tap(body.ids.note)
    assert body.page == "typing"
    kiosk.type("kunci gudang di laci meja")
    kiosk.press("Simpan")
    assert body.page == "summary" and body.note == "Kunci gudang di laci meja"

    dialog = pin_pad(kiosk, body)
    assert "dari Petugas Simulasi" in kiosk.texts(dialog)
    enter(kiosk, dialog, "9876")
    kiosk.wait(lambda: (kiosk.app.guard or {}).get("name") == ADMIN and kiosk.dialog() is None,
               "the panel to go on as the incoming guard")
    kiosk.wait(lambda: not kiosk.screen.busy, "the summary again")

    record = handovers(kiosk)[0]
    assert (record["outgoing"]["name"], record["incoming"]["name"]) == (GUARD, ADMIN)
    assert record["note"] == "Kunci gudang di laci meja"
    assert record["summary"]["counts"]["guests"] == 1
    assert kiosk.app.guard["role"] == "admin" and kiosk.screen.is_admin
    texts = kiosk.texts()
    assert "Serah terima #1 tercatat pukul 10.00: dari Petugas Simulasi kepada Admin " \
           "Simulasi." in texts
    assert "Admin Simulasi" in texts and body.note == ""  # the bar, and a fresh note
    # The outgoing guard's session is over; the incoming guard's works.
    old = httpx.get(f"{kiosk.server.url}/api/v1/handover/summary", timeout=10,
                    headers={"Authorization": f"Bearer {outgoing_token}"})
    assert old.status_code == 401
    new = httpx.get(f"{kiosk.server.url}/api/v1/handover/summary", timeout=10,
                    headers={"Authorization": f"Bearer {kiosk.app.guard['token']}"})
    assert new.status_code == 200
    book = kiosk.server.api("GET", "/logbook", guard=True).json()["entries"]
    assert any("dari Petugas Simulasi kepada Admin Simulasi" in e["text"] for e in book)


def test_a_wrong_incoming_pin_is_refused_and_nothing_is_recorded(kiosk):
    body = handover_screen(kiosk)
    dialog = pin_pad(kiosk, body)
    enter(kiosk, dialog, "5555")
    kiosk.wait(lambda: dialog.error, "the wrong-PIN message")
    assert dialog.error.startswith("PIN petugas pengganti salah")
    assert dialog.value == "" and kiosk.dialog() is dialog
    enter(kiosk, dialog, "1234")  # the outgoing guard's own PIN does not do either
    kiosk.wait(lambda: "bukan PIN Anda" in dialog.error, "the own-PIN message")
    kiosk.press("Batal")
    assert kiosk.dialog() is None
    assert (kiosk.app.guard or {}).get("name") == GUARD  # still the outgoing guard's panel
    assert handovers(kiosk) == []
    kiosk.tap(body.ids.hand_over)  # and the panel still works for them
    assert isinstance(kiosk.dialog(), GuardDialog)


def test_the_summary_follows_the_language_toggle(kiosk):
    made = kiosk.server.api("POST", "/visits", json=visit_body(name="Rahmat Hidayat"))
    assert made.status_code == 201, made.text
    handover_screen(kiosk)
    toggle = next(w for w in kiosk.widgets() if getattr(w, "text", None) == "EN")
    kiosk.tap(toggle)
    kiosk.pump(3)
    texts = kiosk.texts()
    assert "Guests on site (1)" in texts and "TAMU-01 · Rahmat H. · for Sekretaris" in texts
    assert "Hand over" in texts


def test_the_screenshot_scenes_fit(kiosk):
    assert check_scenes(kiosk, SCENES, "guard_handover", min_target=44) == {}
