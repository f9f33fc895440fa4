"""The guard's registers, with touches in a real window, against the real core.

A guard logs in with the PIN on the dialog's keys, opens Register from the menu, types on
the on-screen keyboard and taps the rows' buttons; each test then asks the core what it
stored: the loan and its return with the condition picked, the car in and out, the office
car's trip, the letter received and who took it.
"""

from __future__ import annotations

import pytest
from conftest import at

from kiosk.ui.guardshots.registers import SCENES
from kiosk.ui.i18n import Catalog
from kiosk.ui.screens.guard_registers import (
    CONDITIONS,
    FORMS,
    MAIL_KINDS,
    TABS,
    RegisterButton,
    RegisterChoice,
    RegisterRow,
)

from .harness import check_scenes, log_in, open_screen

WINDOW_SIZES = ("800x480",)
GUARD = "Petugas Simulasi"
REGISTERS = """
[registers]
items = ["Proyektor Epson", "Kunci ruang rapat"]
vehicles = { "B 1234 KPU" = "Toyota Innova hitam" }
"""
with_assets = pytest.mark.parametrize("core_server", [REGISTERS], indirect=True)


# -- the guard's hands -------------------------------------------------------------------------

def registers(kiosk):
    log_in(kiosk)
    return open_screen(kiosk, "guard_registers")


def wait_idle(kiosk, body) -> None:
    kiosk.wait(lambda: not kiosk.screen.busy and not body.saving, "the core's answers")


def row(kiosk, body, title: str) -> RegisterRow:
    found = [r for r in body.ids.rows.children if r.title.startswith(title)]
    assert found, f"no row {title!r}: {[r.title for r in body.ids.rows.children]}"
    return found[0]


def tap_row(kiosk, body, title: str, button: str) -> None:
    """Tap ``button`` on the row titled ``title`` (several rows have the same buttons)."""
    target = next(b for b in row(kiosk, body, title).ids.actions.children if b.text == button)
    kiosk.tap(target)


def new_entry(kiosk, body, form: str) -> None:
    """The tab's button for a new ``form`` (loan, vehicle_in, vehicle_out, mail)."""
    kiosk.tap(next(b for b in body.ids.actions.children
                   if isinstance(b, RegisterButton) and b.ref == form))
    assert body.form == form


def field(kiosk, body, name: str) -> None:
    kiosk.tap(body.fields[name])
    assert body.field == name


def choose(kiosk, body, value: str) -> None:
    kiosk.tap(next(c for c in body.ids.choices.children
                   if isinstance(c, RegisterChoice) and c.value == value))


def type_plate(kiosk, letters: str, digits: str, tail: str) -> None:
    """A plate: letters, then the digits on the 123 keys, then back to letters."""
    kiosk.type(letters)
    kiosk.key("symbols")
    kiosk.type(digits)
    kiosk.key("alpha")
    kiosk.type(tail)


def api(kiosk, path: str, **params) -> dict:
    response = kiosk.server.api("GET", path, guard=True, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# -- the registers -----------------------------------------------------------------------------

@with_assets
def test_lend_an_item_then_take_it_back_with_its_condition(kiosk):
    body = registers(kiosk)
    assert body.tab == "loans" and "Tidak ada barang atau kendaraan dinas" in kiosk.texts()
    new_entry(kiosk, body, "loan")
    assert body.choosing  # the asset is picked from the config, never typed
    assert "Kunci ruang rapat" in kiosk.texts() and "B 1234 KPU" in kiosk.texts()
    choose(kiosk, body, "Proyektor Epson")
    assert body.field == "borrower" and not body.choosing
    kiosk.type("rina marlina")  # capitals come from the keyboard's word capitals
    field(kiosk, body, "unit")
    kiosk.type("bagian umum")
    field(kiosk, body, "purpose")
    kiosk.type("rapat pleno")
    assert body.values == {"asset": "Proyektor Epson", "borrower": "Rina Marlina",
                           "unit": "Bagian Umum", "purpose": "Rapat pleno"}
    kiosk.press("Simpan")
    kiosk.wait(lambda: not body.form and body.row_count == 1, "the new loan in the list")

    loan = api(kiosk, "/registers/loans", open="true")["loans"][0]
    assert (loan["kind"], loan["asset"], loan["borrower"], loan["unit"], loan["purpose"]) == \
        ("item", "Proyektor Epson", "Rina Marlina", "Bagian Umum", "Rapat pleno")
    assert loan["lent_by"] == GUARD and loan["lent_at"].startswith("2026-11-22T10:00")
    texts = kiosk.texts()
    assert "Tercatat: Proyektor Epson dipinjam oleh Rina Marlina." in texts
    assert f"Proyektor Epson · #{loan['id']}" in texts and "sejak 10.00" in texts
    assert "Peminjaman (1)" in texts

    # Lent once at a time: the picker shows it taken.
    new_entry(kiosk, body, "loan")
    taken = next(c for c in body.ids.choices.children if c.value == "Proyektor Epson")
    assert taken.disabled and "(dipinjam)" in taken.text
    kiosk.press("Batal")
    assert not body.form and body.values == {}

    tap_row(kiosk, body, "Proyektor Epson", "Kembali")
    dialog = kiosk.dialog()
    assert "Pengembalian Proyektor Epson" in kiosk.texts(dialog)
    assert "Dari Rina Marlina" in kiosk.texts(dialog)
    kiosk.press("Rusak ringan")
    kiosk.wait(lambda: body.row_count == 0 and body.note == "registers.saved_return",
               "the return")
    back = api(kiosk, f"/registers/loans/{loan['id']}")
    assert back["returned_at"] and back["condition"] == "Rusak ringan"
    assert back["received_by"] == GUARD and back["return_recorded_by"] == GUARD
    assert "sudah kembali, kondisi rusak ringan" in kiosk.texts()


@with_assets
def test_a_guests_car_comes_in_and_leaves_and_an_office_car_makes_a_trip(kiosk):
    body = registers(kiosk)
    kiosk.press("Kendaraan")
    assert body.tab == "vehicles"
    new_entry(kiosk, body, "vehicle_in")
    assert body.field == "plate"
    type_plate(kiosk, "b", "1234", "xyz")
    assert body.values["plate"] == "B1234XYZ"  # plates are typed in capitals
    field(kiosk, body, "driver")
    kiosk.type("ahmad fauzi")
    field(kiosk, body, "purpose")
    kiosk.type("antar dokumen")
    kiosk.press("Simpan")
    kiosk.wait(lambda: not body.form and body.row_count == 1, "the car in the list")
    inside = api(kiosk, "/registers/vehicles", inside="true")["vehicles"]
    assert [(v["plate"], v["driver"], v["purpose"], v["in_by"], v["status"])
            for v in inside] == [("B 1234 XYZ", "Ahmad Fauzi", "Antar dokumen", GUARD,
                                  "inside")]
    assert "Ahmad Fauzi · Antar dokumen · masuk 10.00" in kiosk.texts()

    tap_row(kiosk, body, "B 1234 XYZ", "Keluar")  # one tap: the car has left
    kiosk.wait(lambda: body.row_count == 0 and body.note == "registers.saved_out",
               "the car gone from the list")
    left = api(kiosk, f"/registers/vehicles/{inside[0]['id']}")
    assert left["status"] == "left" and left["out_by"] == GUARD

    new_entry(kiosk, body, "vehicle_out")
    assert "Tujuan" in kiosk.texts()  # an office car's trip has a destination
    type_plate(kiosk, "b", "1234", "kpu")
    field(kiosk, body, "driver")
    kiosk.type("supardi")
    field(kiosk, body, "purpose")
    kiosk.type("kantor bupati")
    kiosk.press("Simpan")
    kiosk.wait(lambda: not body.form and body.row_count == 1, "the trip in the list")
    away = api(kiosk, "/registers/vehicles", away="true")["vehicles"]
    assert [(v["plate"], v["office"], v["driver"], v["purpose"], v["status"])
            for v in away] == [("B 1234 KPU", True, "Supardi", "Kantor Bupati", "away")]
    assert "B 1234 KPU · dinas, Toyota Innova hitam" in kiosk.texts()
    tap_row(kiosk, body, "B 1234 KPU", "Kembali")
    kiosk.wait(lambda: body.row_count == 0, "the trip closed")
    assert api(kiosk, f"/registers/vehicles/{away[0]['id']}")["status"] == "back"


def test_a_package_is_received_and_handed_to_its_addressee(kiosk):
    body = registers(kiosk)
    kiosk.press("Surat & paket")
    new_entry(kiosk, body, "mail")
    assert body.choosing and body.field == "kind"
    choose(kiosk, body, "package")
    assert body.fields["kind"].shown == "Paket" and body.field == "sender"
    kiosk.type("kantor pos subang")
    field(kiosk, body, "addressee")
    kiosk.type("ratna dewi")
    kiosk.press("Simpan")
    kiosk.wait(lambda: not body.form and body.row_count == 1, "the package in the list")
    item = api(kiosk, "/registers/mail", pending="true")["mail"][0]
    assert (item["kind"], item["sender"], item["addressee"], item["received_by"]) == \
        ("package", "Kantor Pos Subang", "Ratna Dewi", GUARD)
    assert not item["description"]  # the optional field left empty
    assert f"Paket #{item['id']} dari Kantor Pos Subang" in kiosk.texts()
    assert "Untuk Ratna Dewi · di pos 0 menit" in kiosk.texts()

    tap_row(kiosk, body, "Paket", "Ke penerima")
    assert body.form == "deliver" and body.field == "taken_by"
    assert f"Ke penerima: Paket #{item['id']}" in kiosk.texts()
    kiosk.type("ratna dewi")
    kiosk.press("Simpan")
    kiosk.wait(lambda: not body.form and body.row_count == 0, "the package handed over")
    done = api(kiosk, f"/registers/mail/{item['id']}")
    assert done["delivered_to"] == "recipient" and done["taken_by"] == "Ratna Dewi"
    assert done["delivered_by"] == GUARD and not done["pending"]
    assert "Tercatat: diserahkan kepada Ratna Dewi." in kiosk.texts()


def test_missing_fields_and_the_cores_refusal_show_beside_the_fields(kiosk):
    body = registers(kiosk)
    kiosk.press("Kendaraan")
    new_entry(kiosk, body, "vehicle_in")
    kiosk.press("Simpan")  # nothing typed: the core is not even asked
    assert body.fields["plate"].invalid and "Isi kolom yang ditandai dulu." in kiosk.texts()
    kiosk.key("symbols")
    kiosk.type("12345")
    assert not body.fields["plate"].invalid  # fixed as soon as something is typed
    kiosk.press("Simpan")
    kiosk.wait(lambda: body.core_en, "the core's refusal")
    assert body.fields["plate"].invalid and body.field == "plate"
    assert "'12345' bukan nomor polisi" in kiosk.texts()
    assert kiosk.screen.problem == ""  # said once, in the form, not again in the bar
    kiosk.press("EN")
    assert "'12345' is not a number plate" in kiosk.texts() and "Number plate" in kiosk.texts()
    assert "Vehicle in" not in kiosk.texts()  # the header shows the problem instead
    kiosk.press("ID")

    # A guest's car needs its driver: the core says which field, and that one is marked.
    for _ in range(5):
        kiosk.key("backspace")
    type_plate(kiosk, "d", "1", "a")
    kiosk.press("Simpan")
    kiosk.wait(lambda: body.fields["driver"].invalid, "the driver marked")
    assert body.field == "driver" and not body.fields["plate"].invalid
    assert "nama pengemudi" in kiosk.texts()
    assert api(kiosk, "/registers/vehicles", inside="true")["vehicles"] == []


@with_assets
def test_logging_out_drops_what_was_typed(kiosk):
    body = registers(kiosk)
    new_entry(kiosk, body, "loan")
    choose(kiosk, body, "Kunci ruang rapat")
    kiosk.type("budi")
    kiosk.tap(kiosk.screen.ids.logout)
    kiosk.wait_screen("welcome")
    assert body.form == "" and body.values == {} and not body.ids.rows.children
    body = registers(kiosk)
    assert body.form == "" and "Budi" not in kiosk.texts()


def test_the_language_toggle_redraws_the_lists(kiosk):
    core = kiosk.server.post.core
    core.registers.vehicle_in({"plate": "T 1456 KL", "driver": "Dedi Supriadi",
                               "purpose": "Rapat koordinasi"}, actor=GUARD)
    body = registers(kiosk)
    kiosk.press("Kendaraan")
    assert body.tab == "vehicles"
    assert "Dedi Supriadi · Rapat koordinasi · masuk 10.00" in kiosk.texts()
    kiosk.press("EN")
    kiosk.wait(lambda: "in at 10:00" in kiosk.texts(), "the rows in English")
    assert "Vehicles (1)" in kiosk.texts() and "Left" in kiosk.texts()
    assert "masuk" not in kiosk.texts()


def test_every_key_put_together_at_run_time_exists():
    # The locale test finds the literal keys; these are built from a name (both screens).
    built = {f"registers.heading_{tab}" for tab in TABS}
    built |= {f"registers.form_{form}" for form in FORMS if form != "deliver"}
    built |= {f"registers.form_{to}" for to in ("archive", "recipient")}
    built |= {f"registers.field_{name}" for fields in FORMS.values() for name, _r, _l in fields}
    built |= {f"registers.condition_{condition}" for condition in CONDITIONS}
    built |= {f"registers.{prefix}_{kind}" for kind in MAIL_KINDS
              for prefix in ("kind", "mail", "saved")}
    built |= {f"patrols.task_{state}" for state in ("pending", "due", "overdue")}
    catalog = Catalog.load()
    assert sorted(key for key in built if not catalog.has(key)) == []


# -- the pictures: nothing cut off, nothing on top of anything, fingertip-sized ----------------

def test_the_screenshot_scenes_fit(kiosk):
    assert check_scenes(kiosk, SCENES, "guard_registers") == {}


@with_assets
def test_the_lists_and_the_picker_fit_with_a_post_that_lends(kiosk):
    core = kiosk.server.post.core
    core.registers.lend({"kind": "item", "asset": "Proyektor Epson", "borrower": "Rina Marlina",
                         "unit": "Subbag Teknis Penyelenggaraan Pemilu dan Partisipasi "
                                 "Hubungan Masyarakat", "purpose": "Rapat pleno"}, actor=GUARD)
    core.registers.lend({"kind": "vehicle", "asset": "B 1234 KPU", "borrower": "Supardi",
                         "unit": "Sekretariat", "purpose": "Antar surat",
                         "expected_back_at": "2026-11-22T16:00:00"}, actor=GUARD)
    kiosk.server.post.to(at(17, 0))  # the office car is late: its row says so

    def loans(app, _core):
        app.go("guard_registers")

    def picker(app, _core):
        app.go("guard_registers")
        kiosk.wait(lambda: app.screen("guard_registers").content.loaded, "the assets")
        app.screen("guard_registers").content.open_form("loan")

    def give_back(app, _core):
        app.go("guard_registers")
        app.screen("guard_registers").content.ask_return(
            core.registers.loans(open_only=True)[0])

    assert check_scenes(kiosk, {"loans": loans, "picker": picker, "return": give_back},
                        "guard_registers") == {}
