"""The guard's registers (SOP 3-6) through the API, on a real core and a simulated clock."""

import datetime as dt
import sqlite3
import threading

import pytest
from conftest import CONFIG, api_client, at
from fastapi.testclient import TestClient
from test_api import login

from kiosk.core.api import create_app

REGISTERS = """
[registers]
items = ["Proyektor Epson", "Kunci ruang rapat", "Kamera Canon"]
vehicles = { "b1234xyz" = "Toyota Innova hitam", "D 1 A" = "Honda Vario" }
"""
GUARD = "Petugas Simulasi"
ITEMS = "Proyektor Epson, Kunci ruang rapat, Kamera Canon"


def client_for(p):
    """A client on ``p``'s started core, logged in as the simulator's guard."""
    client = api_client(p)
    client.headers.update(login(client))
    return client


def later(api, post_, moment):
    """Jump the clock; a guard session ends after 15 idle minutes, so log in again."""
    post_.to(moment)
    api.headers.update(login(api))


@pytest.fixture
def post_(post):
    p = post(at(9, 0), text=CONFIG + REGISTERS)
    p.start()
    return p


@pytest.fixture
def api(post_):
    return client_for(post_)


def lend(api, asset="Proyektor Epson", kind="item", **changes):
    body = {"kind": kind, "asset": asset, "borrower": "Andi Pratama", "unit": "Subbagian Teknis",
            "purpose": "Rapat pleno"}
    body.update(changes)
    return api.post("/api/v1/registers/loans", json=body)


def vehicle(api, direction, plate, **changes):
    body = {"plate": plate, "driver": "Dedi Kurniawan", "purpose": "Antar dokumen"}
    body.update(changes)
    return api.post(f"/api/v1/registers/vehicles/{direction}", json=body)


def mail(api, kind="letter", **changes):
    body = {"kind": kind, "sender": "Bawaslu Kabupaten Subang", "addressee": "Sekretaris",
            "description": "Undangan rapat koordinasi"}
    body.update(changes)
    response = api.post("/api/v1/registers/mail", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def register_entries(api):
    entries = api.get("/api/v1/logbook", params={"q": "register"}).json()["entries"]
    return [e for e in reversed(entries) if e["category"] == "register"]


def test_openapi_lists_the_registers_contract(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/registers/outstanding", "/api/v1/registers/assets",
                 "/api/v1/registers/loans", "/api/v1/registers/loans/{loan_id}/return",
                 "/api/v1/registers/vehicles/in", "/api/v1/registers/vehicles/out",
                 "/api/v1/registers/vehicles/{vehicle_id}/out",
                 "/api/v1/registers/vehicles/{vehicle_id}/in", "/api/v1/registers/vehicles",
                 "/api/v1/registers/mail", "/api/v1/registers/mail/{mail_id}/deliver"):
        assert path in paths, path


def test_every_route_needs_the_guard_token(post_):
    bare = TestClient(create_app(post_.core), raise_server_exceptions=False)
    calls = [("get", "/outstanding"), ("get", "/assets"), ("post", "/loans"),
             ("post", "/loans/1/return"), ("get", "/loans"), ("get", "/loans/1"),
             ("post", "/vehicles/in"), ("post", "/vehicles/out"), ("post", "/vehicles/1/out"),
             ("post", "/vehicles/1/in"), ("get", "/vehicles"), ("get", "/vehicles/1"),
             ("post", "/mail"), ("post", "/mail/1/deliver"), ("get", "/mail"),
             ("get", "/mail/1")]
    for method, path in calls:
        response = getattr(bare, method)(f"/api/v1/registers{path}")
        assert response.status_code == 401, path
    expired = {"Authorization": "Bearer not-a-token"}
    assert bare.get("/api/v1/registers/outstanding", headers=expired).status_code == 401
    body = {"kind": "item", "asset": "Proyektor Epson", "borrower": "A", "unit": "B",
            "purpose": "C"}
    assert bare.post("/api/v1/registers/loans", json=body).status_code == 401
    with post_.core.store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM loans").fetchone()[0] == 0


def test_borrow_and_return_on_the_simulated_clock(api, post_):
    response = lend(api, "proyektor  EPSON", expected_back_at="2026-11-22T15:00")
    assert response.status_code == 201, response.text
    loan = response.json()
    assert loan["asset"] == "Proyektor Epson" and loan["kind"] == "item"
    assert loan["lent_at"] == "2026-11-22T09:00:00.000+07:00" and loan["lent_by"] == GUARD
    assert loan["expected_back_at"] == "2026-11-22T15:00:00.000+07:00"
    assert loan["open"] is True and loan["overdue"] is False and loan["returned_at"] is None

    later(api, post_, at(15, 30))
    (open_loan,) = api.get("/api/v1/registers/loans", params={"open": "true"}).json()["loans"]
    assert open_loan["id"] == loan["id"] and open_loan["overdue"] is True

    later(api, post_, at(16, 5))
    returned = api.post(f"/api/v1/registers/loans/{loan['id']}/return",
                        json={"condition": "baik, lengkap dengan kabel"})
    assert returned.status_code == 200, returned.text
    back = returned.json()
    assert back["returned_at"] == "2026-11-22T16:05:00.000+07:00"
    assert back["condition"] == "baik, lengkap dengan kabel"
    assert back["received_by"] == GUARD and back["return_recorded_by"] == GUARD
    assert back["open"] is False and back["overdue"] is False
    again = api.post(f"/api/v1/registers/loans/{loan['id']}/return", json={"condition": "baik"})
    assert again.status_code == 409 and "already returned at 16:05" in again.json()["detail"]

    assert api.get("/api/v1/registers/loans", params={"open": "true"}).json()["loans"] == []
    today = api.get("/api/v1/registers/loans").json()["loans"]
    assert [x["id"] for x in today] == [loan["id"]]
    other_day = api.get("/api/v1/registers/loans", params={"day": "2026-11-21"}).json()
    assert other_day == {"loans": []}
    assert api.get(f"/api/v1/registers/loans/{loan['id']}").json() == back


def test_the_guard_names_who_received_it_back(api):
    loan = lend(api, "Kamera Canon").json()
    back = api.post(f"/api/v1/registers/loans/{loan['id']}/return",
                    json={"condition": "lensa tergores", "received_by": "Kasubbag Umum"}).json()
    assert back["received_by"] == "Kasubbag Umum" and back["return_recorded_by"] == GUARD


def test_an_item_is_never_lent_twice_at_once(api, post_):
    first = lend(api).json()
    later(api, post_, at(9, 20))
    second = lend(api, borrower="Siti Rahma", unit="Subbagian Umum")
    assert second.status_code == 409
    body = second.json()
    assert body["field"] == "asset"
    assert body["detail"] == ("Proyektor Epson is already lent out (loan 1 since 09:00, "
                              "Subbagian Teknis): record its return first")
    assert "sedang dipinjam" in body["detail_id"]
    api.post(f"/api/v1/registers/loans/{first['id']}/return", json={"condition": "baik"})
    assert lend(api, borrower="Siti Rahma", unit="Subbagian Umum").status_code == 201


def test_concurrent_lending_gives_one_loan(api, post_):
    results = []
    barrier = threading.Barrier(12)

    def one(n):
        barrier.wait()
        response = lend(api, borrower=f"Pegawai {n}")
        results.append(response.status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 11
    with post_.core.store.read() as conn:
        rows = conn.execute("SELECT COUNT(*) FROM loans").fetchone()[0]
    assert rows == 1


def test_the_database_itself_refuses_a_second_open_loan(api, post_):
    lend(api)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        with post_.core.store.transaction() as conn:
            conn.execute("INSERT INTO loans (kind, asset, borrower, unit, purpose, lent_at, "
                         "lent_by) VALUES ('item', 'Proyektor Epson', 'X', 'Y', 'Z', ?, 'g')",
                         ("2026-11-22T09:01:00.000+07:00",))


def test_unknown_assets_are_refused_naming_the_known_ones(api):
    response = lend(api, "Laptop Dell")
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "asset"
    assert body["detail"] == f"'Laptop Dell' is not an office item: the items are {ITEMS}"
    assert body["detail_id"] == f"'Laptop Dell' bukan barang inventaris: barang yang ada: {ITEMS}"
    car = lend(api, "B 9999 ZZ", kind="vehicle").json()
    assert car["detail"] == ("B 9999 ZZ is not an office vehicle: the office vehicles are "
                             "B 1234 XYZ (Toyota Innova hitam), D 1 A (Honda Vario)")
    assert lend(api, "b-1234-xyz", kind="vehicle").json()["asset"] == "B 1234 XYZ"


def test_a_post_without_configured_items_says_so(post):
    p = post(at(9, 0))
    p.start()
    response = lend(client_for(p))
    assert response.status_code == 422
    assert "[registers] items" in response.json()["detail"]


LOAN_MISTAKES = [
    ({"kind": "barang"}, "kind"),
    ({"borrower": ""}, "borrower"),
    ({"borrower": None}, "borrower"),
    ({"unit": "x" * 81}, "unit"),
    ({"purpose": "rapat\x00"}, "purpose"),
    ({"expected_back_at": "2026-11-22T08:00"}, "expected_back_at"),
    ({"expected_back_at": "2027-01-30T08:00"}, "expected_back_at"),
]


def test_loan_fields_are_checked(api):
    for changes, field in LOAN_MISTAKES:
        response = lend(api, **changes)
        assert response.status_code == 422, changes
        assert response.json()["field"] == field and response.json()["detail_id"], changes
    assert api.get("/api/v1/registers/loans?open=true").json() == {"loans": []}


def test_malformed_bodies_are_4xx_never_500(api):
    for url in ("/api/v1/registers/loans", "/api/v1/registers/vehicles/in",
                "/api/v1/registers/mail", "/api/v1/registers/loans/1/return",
                "/api/v1/registers/mail/1/deliver"):
        for body in ([], "x", {"plate": 5, "kind": 3}, {}):
            assert api.post(url, json=body).status_code in (404, 422), (url, body)
    assert lend(api, expected_back_at="tomorrow").status_code == 422
    for url in ("/api/v1/registers/loans/0", "/api/v1/registers/vehicles/99999999999999999999",
                "/api/v1/registers/mail/-1"):
        assert api.get(url).status_code == 422, url
    assert api.get("/api/v1/registers/loans/7").status_code == 404
    assert api.get("/api/v1/registers/vehicles?inside=maybe").status_code == 422


PLATES = [("b 1234 xyz", "B 1234 XYZ"), ("B1234XYZ", "B 1234 XYZ"), (" d-1-a ", "D 1 A"),
          ("ab 12 c", "AB 12 C"), ("RI 1", "RI 1"), ("t.4321.ab", "T 4321 AB")]
NOT_PLATES = ["", "1234", "B 12345 XY", "B 1234 WXYZ", "ABC 1 A", "B XYZ", "B 1234 XY!",
              "\u0411 1234"]


def test_plates_are_normalised(api):
    for typed, stored in PLATES:
        response = vehicle(api, "in", typed)
        assert response.status_code == 200, response.text
        assert response.json()["plate"] == stored, typed
        api.post(f"/api/v1/registers/vehicles/{response.json()['id']}/out")


def test_bad_plates_are_refused_with_an_example(api):
    for typed in NOT_PLATES:
        response = vehicle(api, "in", typed)
        assert response.status_code == 422, typed
        body = response.json()
        assert body["field"] == "plate" and "e.g. B 1234 XYZ" in body["detail"], typed
        assert "bukan nomor polisi" in body["detail_id"], typed
    assert vehicle(api, "in", None).json()["detail"].startswith("that is not a number plate")


def test_vehicles_inside(api, post_):
    first = vehicle(api, "in", "B 5555 KJ").json()
    assert first["status"] == "inside" and first["office"] is False
    assert first["in_at"] == "2026-11-22T09:00:00.000+07:00" and first["in_by"] == GUARD
    later(api, post_, at(9, 30))
    second = vehicle(api, "in", "F 77 AB", driver="Rina", purpose="Kurir paket").json()
    twice = vehicle(api, "in", "f77ab")
    assert twice.status_code == 409
    assert twice.json()["detail"] == f"F 77 AB is already recorded inside since 09:30 (entry " \
                                     f"{second['id']})"
    inside = api.get("/api/v1/registers/vehicles", params={"inside": "true"}).json()["vehicles"]
    assert [v["plate"] for v in inside] == ["B 5555 KJ", "F 77 AB"]
    assert inside[1]["driver"] == "Rina" and inside[1]["purpose"] == "Kurir paket"

    later(api, post_, at(10, 15))
    left = api.post(f"/api/v1/registers/vehicles/{first['id']}/out").json()
    assert left["status"] == "left" and left["out_at"] == "2026-11-22T10:15:00.000+07:00"
    gone = api.post(f"/api/v1/registers/vehicles/{first['id']}/out")
    assert gone.status_code == 409 and "already closed" in gone.json()["detail"]
    by_plate = vehicle(api, "out", "F 77 AB", driver=None, purpose=None).json()
    assert by_plate["id"] == second["id"] and by_plate["status"] == "left"
    assert api.get("/api/v1/registers/vehicles?inside=true").json() == {"vehicles": []}

    missing = vehicle(api, "in", "", driver="")
    assert missing.status_code == 422
    no_driver = vehicle(api, "in", "B 1 C", driver="")
    assert no_driver.status_code == 422 and no_driver.json()["field"] == "driver"
    # A car that came in before anyone wrote it down can still be seen out.
    unseen = vehicle(api, "out", "E 4 F", driver=None, purpose=None).json()
    assert unseen["status"] == "left" and unseen["in_at"] is None
    assert api.get("/api/v1/registers/vehicles?inside=true").json() == {"vehicles": []}
    today = api.get("/api/v1/registers/vehicles").json()["vehicles"]
    assert [v["plate"] for v in today] == ["E 4 F", "F 77 AB", "B 5555 KJ"]
    assert api.get("/api/v1/registers/vehicles?day=2026-11-23").json() == {"vehicles": []}
    assert api.post("/api/v1/registers/vehicles/99/out").status_code == 404


def test_office_vehicle_trip_links_its_loan(api, post_):
    loan = lend(api, "B 1234 XYZ", kind="vehicle", purpose="Dinas ke KPU Provinsi").json()
    assert loan["description"] == "Toyota Innova hitam"
    not_ours = vehicle(api, "out", "B 5555 KJ", loan_id=loan["id"])
    assert not_ours.status_code == 422 and not_ours.json()["field"] == "loan_id"
    wrong = vehicle(api, "out", "D 1 A", loan_id=loan["id"], purpose="Bandung")
    assert wrong.status_code == 422 and wrong.json()["field"] == "loan_id"
    assert vehicle(api, "out", "D1A", purpose="").json()["field"] == "purpose"

    later(api, post_, at(9, 10))
    trip = vehicle(api, "out", "b 1234 xyz", purpose="KPU Provinsi Jawa Barat").json()
    assert trip["office"] is True and trip["status"] == "away"
    assert trip["loan_id"] == loan["id"] and trip["description"] == "Toyota Innova hitam"
    assert trip["out_at"] == "2026-11-22T09:10:00.000+07:00" and trip["in_at"] is None
    away = api.get("/api/v1/registers/vehicles", params={"away": "true"}).json()["vehicles"]
    assert [v["id"] for v in away] == [trip["id"]]
    assert api.get("/api/v1/registers/vehicles?inside=true").json() == {"vehicles": []}
    assets = api.get("/api/v1/registers/assets").json()
    assert assets["vehicles"] == [
        {"plate": "B 1234 XYZ", "description": "Toyota Innova hitam", "loan_id": loan["id"],
         "trip_id": trip["id"]},
        {"plate": "D 1 A", "description": "Honda Vario", "loan_id": None, "trip_id": None}]
    assert assets["items"][0] == {"name": "Proyektor Epson", "loan_id": None}
    twice = vehicle(api, "out", "B 1234 XYZ", purpose="lagi")
    assert twice.status_code == 409 and "already recorded out since 09:10" in twice.text

    later(api, post_, at(14, 40))
    back = vehicle(api, "in", "B1234XYZ", driver=None, purpose=None).json()
    assert back["id"] == trip["id"] and back["status"] == "back"
    assert back["in_at"] == "2026-11-22T14:40:00.000+07:00"
    # Coming back does not close the loan: the condition is written when the keys come back.
    assert api.get(f"/api/v1/registers/loans/{loan['id']}").json()["open"] is True

    # An office car whose departure nobody wrote down is recorded back, not refused.
    back_unseen = vehicle(api, "in", "D 1 A", driver=None, purpose=None).json()
    assert back_unseen["status"] == "back" and back_unseen["out_at"] is None
    scooter = vehicle(api, "out", "D 1 A", driver="Ujang", purpose="Kantor pos").json()
    closed_other_way = api.post(f"/api/v1/registers/vehicles/{scooter['id']}/out")
    assert closed_other_way.status_code == 409
    assert api.post(f"/api/v1/registers/vehicles/{scooter['id']}/in").json()["status"] == "back"


def test_mail_received_and_handed_over(api, post_):
    later(api, post_, at(8, 0))
    letter = mail(api)
    assert letter["received_by"] == GUARD and letter["pending"] is True
    assert letter["received_at"] == "2026-11-22T08:00:00.000+07:00"
    later(api, post_, at(9, 0))
    parcel = mail(api, "package", sender="JNE", addressee="Bagian Keuangan", description=None)
    assert parcel["description"] == ""

    later(api, post_, at(11, 0))
    pending = api.get("/api/v1/registers/mail", params={"pending": "true"}).json()["mail"]
    assert [(m["id"], m["age_minutes"]) for m in pending] == [(letter["id"], 180),
                                                              (parcel["id"], 120)]
    done = api.post(f"/api/v1/registers/mail/{letter['id']}/deliver",
                    json={"to": "archive", "taken_by": "Rina (arsip)"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["delivered_to"] == "archive" and body["taken_by"] == "Rina (arsip)"
    assert body["delivered_by"] == GUARD and body["pending"] is False
    assert body["delivered_at"] == "2026-11-22T11:00:00.000+07:00" and body["age_minutes"] == 180
    again = api.post(f"/api/v1/registers/mail/{letter['id']}/deliver",
                     json={"to": "recipient", "taken_by": "Sekretaris"})
    assert again.status_code == 409 and "already handed over at 11:00" in again.json()["detail"]
    bad = api.post(f"/api/v1/registers/mail/{parcel['id']}/deliver",
                   json={"to": "satpam", "taken_by": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "to"
    nobody = api.post(f"/api/v1/registers/mail/{parcel['id']}/deliver", json={"to": "recipient"})
    assert nobody.status_code == 422 and nobody.json()["field"] == "taken_by"
    pending = api.get("/api/v1/registers/mail?pending=true").json()["mail"]
    assert [m["id"] for m in pending] == [parcel["id"]]
    today = api.get("/api/v1/registers/mail").json()["mail"]
    assert [m["id"] for m in today] == [parcel["id"], letter["id"]]
    assert api.post("/api/v1/registers/mail", json={"kind": "fax"}).json()["field"] == "kind"
    assert api.post("/api/v1/registers/mail/9/deliver",
                    json={"to": "archive", "taken_by": "x"}).status_code == 404


def test_outstanding_is_what_the_next_guard_takes_over(api, post_):
    empty = api.get("/api/v1/registers/outstanding").json()
    assert empty == {"items_lent": [], "vehicles_lent": [], "vehicles_inside": [],
                     "packages": []}
    key = lend(api, "Kunci ruang rapat").json()
    projector = lend(api).json()
    car = lend(api, "D 1 A", kind="vehicle").json()
    guest_car = vehicle(api, "in", "B 5555 KJ").json()
    vehicle(api, "in", "F 77 AB")
    parcel = mail(api, "package")
    delivered = mail(api)
    api.post(f"/api/v1/registers/mail/{delivered['id']}/deliver",
             json={"to": "recipient", "taken_by": "Sekretaris"})
    api.post(f"/api/v1/registers/loans/{key['id']}/return", json={"condition": "baik"})
    api.post("/api/v1/registers/vehicles/out", json={"plate": "F 77 AB"})
    later(api, post_, at(10, 0))

    out = api.get("/api/v1/registers/outstanding").json()
    assert set(out) == {"items_lent", "vehicles_lent", "vehicles_inside", "packages"}
    assert [x["id"] for x in out["items_lent"]] == [projector["id"]]
    assert out["items_lent"][0]["borrower"] == "Andi Pratama"
    assert [x["id"] for x in out["vehicles_lent"]] == [car["id"]]
    assert out["vehicles_lent"][0]["description"] == "Honda Vario"
    assert [x["id"] for x in out["vehicles_inside"]] == [guest_car["id"]]
    assert [(x["id"], x["age_minutes"]) for x in out["packages"]] == [(parcel["id"], 60)]
    assert out == post_.core.registers.outstanding()


def test_each_change_writes_a_logbook_line_and_an_event(api, post_):
    before = {e["event_id"] for e in post_.core.store.outbox_pending(limit=1000)}
    loan = lend(api, expected_back_at="2026-11-23T10:00:00+07:00").json()
    api.post(f"/api/v1/registers/loans/{loan['id']}/return", json={"condition": "baik"})
    car = vehicle(api, "in", "B 5555 KJ").json()
    api.post(f"/api/v1/registers/vehicles/{car['id']}/out")
    trip = vehicle(api, "out", "B 1234 XYZ", purpose="KPU Provinsi").json()
    vehicle(api, "in", "B 1234 XYZ")
    letter = mail(api)
    later(api, post_, at(10, 30))
    api.post(f"/api/v1/registers/mail/{letter['id']}/deliver",
             json={"to": "archive", "taken_by": "Rina"})

    lines = [(e["actor"], e["text"]) for e in register_entries(api)]
    assert lines == [
        (GUARD, "Peminjaman #1: Proyektor Epson dipinjam oleh Subbagian Teknis, rencana "
                "kembali 23-11-2026 pukul 10.00"),
        (GUARD, "Peminjaman #1 selesai: Proyektor Epson dikembalikan, kondisi: baik"),
        (GUARD, f"Kendaraan B 5555 KJ masuk (catatan #{car['id']})"),
        (GUARD, f"Kendaraan B 5555 KJ keluar (catatan #{car['id']}, masuk pukul 09.00)"),
        (GUARD, f"Kendaraan dinas B 1234 XYZ keluar, tujuan: KPU Provinsi (catatan "
                f"#{trip['id']})"),
        (GUARD, f"Kendaraan dinas B 1234 XYZ kembali (catatan #{trip['id']}, keluar pukul "
                "09.00)"),
        (GUARD, f"Surat #{letter['id']} diterima di pos jaga"),
        (GUARD, f"Surat #{letter['id']} diserahkan ke bagian arsip setelah 1 jam 30 menit di "
                "pos"),
    ]
    logbook = api.get("/api/v1/logbook").text
    for name in ("Andi", "Dedi", "Rina"):  # names stay in the registers, not the logbook
        assert name not in logbook

    events = [e for e in post_.core.store.outbox_pending(limit=1000)
              if e["event_id"] not in before and e["kind"] != "logbook.appended"]
    assert [e["kind"] for e in events] == ["loan.lent", "loan.returned", "vehicle.in",
                                           "vehicle.out", "vehicle.out", "vehicle.in",
                                           "mail.received", "mail.delivered"]
    assert events[0]["payload"]["borrower"] == "Andi Pratama"
    assert events[0]["payload"]["by"] == GUARD
    assert events[-1]["payload"]["delivered_to"] == "archive"
    assert api.get("/api/v1/logbook").json()["entries"]  # the chain still verifies below
    assert post_.core.logbook.verify().ok


def test_restart_keeps_everything(api, post_):
    loan = lend(api).json()
    car = vehicle(api, "in", "B 5555 KJ").json()
    trip = vehicle(api, "out", "D 1 A", purpose="Kantor pos").json()
    parcel = mail(api, "package")
    before = api.get("/api/v1/registers/outstanding").json()

    post_.stop()
    post_.start()
    again = client_for(post_)
    assert again.get("/api/v1/registers/outstanding").json() == before
    away = again.get("/api/v1/registers/vehicles?away=true").json()["vehicles"]
    assert [v["id"] for v in away] == [trip["id"]]
    assert lend(again).status_code == 409  # still lent, after the restart too
    assert again.post(f"/api/v1/registers/loans/{loan['id']}/return",
                      json={"condition": "baik"}).status_code == 200
    assert again.post(f"/api/v1/registers/vehicles/{car['id']}/out").status_code == 200
    assert again.post(f"/api/v1/registers/mail/{parcel['id']}/deliver",
                      json={"to": "recipient", "taken_by": "Bagian Keuangan"}).status_code == 200


def test_config_normalises_plates_and_refuses_mistakes():
    from kiosk.config import ConfigError, parse

    settings = parse('[registers]\nitems = [" Proyektor   Epson "]\n'
                     'vehicles = { "b.1234.xyz" = "Toyota  Innova" }\n')
    assert settings.registers.items == ("Proyektor Epson",)
    assert settings.registers.vehicles == {"B 1234 XYZ": "Toyota Innova"}
    for text, words in [
        ('vehicles = { "12345" = "Avanza" }', "'12345' is not a number plate"),
        ('vehicles = { "B 1 A" = "x", "b1a" = "y" }', "plate B 1 A is listed twice"),
        ('vehicles = { "B 1 A" = "" }', "B 1 A: describe the vehicle"),
        ('items = ["Kunci", "KUNCI"]', "item 'KUNCI' is listed twice"),
    ]:
        with pytest.raises(ConfigError) as info:
            parse(f"[registers]\n{text}\n")
        (line,) = info.value.problems
        assert line.startswith("kiosk.toml: registers.") and words in line, line


def test_guests_cars_are_forgotten_after_the_retention_period(api, post_):
    guest = vehicle(api, "in", "B 5555 KJ").json()
    still_inside = vehicle(api, "in", "F 77 AB", driver="Rina").json()
    api.post(f"/api/v1/registers/vehicles/{guest['id']}/out")
    later(api, post_, at(9, 0, day=22) + dt.timedelta(days=30))  # within 90 days: kept
    assert post_.core.registers.purge(post_.clock.now()) == 0
    post_.clock.jump(at(9, 0, day=22) + dt.timedelta(days=91))
    post_.core.reconcile()  # the daily check in the core's loop does it
    api.headers.update(login(api))
    gone = api.get(f"/api/v1/registers/vehicles/{guest['id']}").json()
    assert (gone["plate"], gone["driver"], gone["purpose"]) == ("-", "", "")
    kept = api.get(f"/api/v1/registers/vehicles/{still_inside['id']}").json()
    assert kept["plate"] == "F 77 AB" and kept["driver"] == "Rina"  # still on site
    assert any("kendaraan tamu lebih dari 90 hari dihapus" in e["text"]
               for e in register_entries(api))
    assert post_.core.registers.purge(post_.clock.now()) == 0  # once
