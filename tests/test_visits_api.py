"""The guests' API as the kiosk, the guard panel and outside tools use it."""

import functools
import threading

import pytest
from conftest import CONFIG, at, nik, visit_body
from fastapi.testclient import TestClient
from test_api import login

from kiosk.core.api import create_app
from kiosk.core.service import ensure_guards

NIK = "3201012345678901"


guest = functools.partial(visit_body, party_size=2)


@pytest.fixture
def api(post):
    p = post(at(10, 0), text=CONFIG + "[visits]\nbadges = 10\n")
    core = p.start()
    ensure_guards(core, simulate=True)
    client = TestClient(create_app(core), raise_server_exceptions=False)
    client.post_ = p
    return client


def register(api, **changes):
    response = api.post("/api/v1/visits", json=guest(**changes))
    assert response.status_code == 201, response.text
    return response.json()


def test_openapi_lists_the_guest_contract(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/visits", "/api/v1/visits/{visit_id}/admit",
                 "/api/v1/visits/{visit_id}/deny", "/api/v1/visits/{visit_id}/checkout",
                 "/api/v1/badges/{badge}/checkout", "/api/v1/watchlist",
                 "/api/v1/watchlist/{entry_id}", "/api/v1/alerts",
                 "/api/v1/alerts/{alert_id}/resolve", "/api/v1/invitations",
                 "/api/v1/codes/{payload}", "/api/v1/rollcall",
                 "/api/v1/rollcall/{kind}/{ref}/check"):
        assert path in paths, path


def test_register(api):
    visit = register(api)
    assert visit["badge"] == "TAMU-01" and visit["status"] == "awaiting_host"
    assert visit["id"] == 1 and visit["returning"] is False
    assert visit["pass_payload"].startswith("GK1:PASS:1:")
    assert NIK not in api.get("/api/v1/logbook").text


@pytest.mark.parametrize("changes, field, words", [
    ({"consent": False}, "consent", "privacy notice"),
    ({"party_size": 0}, "party_size", "1 to 20"),
    ({"party_size": 21}, "party_size", "1 to 20"),
    ({"id_type": "KTM"}, "id_type", "KTP, SIM, Paspor"),
    ({"phone": "call me"}, "phone", "digits, + and spaces"),
    ({"name": "B"}, "name", "2 to 80"),
    ({"host": ""}, "host", "person you are visiting"),
    ({"temperature_c": 46}, "temperature_c", "between 30 and 45"),
    ({"id_number": "12"}, "id_number", "16 digits"),
    ({"name": None}, "name", "full name"),
])
def test_invalid_fields_are_422_with_a_friendly_message(api, changes, field, words):
    response = api.post("/api/v1/visits", json=guest(**changes))
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field and words in body["detail"] and body["detail_id"]


def test_malformed_bodies_are_4xx_never_500(api):
    for body in ([], {"party_size": "many"}, {"consent": "perhaps"}, "x",
                 {"temperature_source": "thermogun"}, {}):
        response = api.post("/api/v1/visits", json=body)
        assert response.status_code == 422, body
    response = api.post("/api/v1/visits", content=b"\xff{",
                        headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert api.get("/api/v1/visits?on_site=maybe").status_code == 422
    for url in ("/api/v1/visits/99999999999999999999999/checkout", "/api/v1/visits/0/checkout",
                "/api/v1/visits/-1/checkout"):
        assert api.post(url).status_code == 422, url


def test_high_temperature_is_held_and_the_guard_alerted(api):
    visit = register(api, temperature_c=38.4)
    assert visit["status"] == "held" and visit["temperature_ok"] is False
    assert api.get("/api/v1/alerts").status_code == 401
    headers = login(api)
    alerts = api.get("/api/v1/alerts", headers=headers).json()["alerts"]
    assert [(a["kind"], a["visit_id"]) for a in alerts] == [("temperature", visit["id"])]
    resolved = api.post(f"/api/v1/alerts/{alerts[0]['id']}/resolve", headers=headers).json()
    assert resolved["resolved_by"] == "Petugas Simulasi"
    assert api.post("/api/v1/alerts/99/resolve", headers=headers).status_code == 404
    later = register(api, id_number=nik(1))
    api.post(f"/api/v1/visits/{later['id']}/checkout")
    assert api.post("/api/v1/alerts/1/resolve").status_code == 401


def test_watchlist_match_by_number_and_by_name(api):
    headers = login(api)
    body = {"name": "Orang Lain", "institution": "-", "id_number": NIK, "reason": "mengancam"}
    assert api.post("/api/v1/watchlist", json=body).status_code == 401
    by_number = api.post("/api/v1/watchlist", json=body, headers=headers)
    assert by_number.status_code == 201 and by_number.json()["id_masked"] == "••••8901"
    by_name = api.post("/api/v1/watchlist", headers=headers, json={
        "name": "SITI  aminah", "institution": "CV. Sumber-Rejeki", "reason": "penipuan"}).json()
    listed = api.get("/api/v1/watchlist", headers=headers).json()["watchlist"]
    assert [e["name"] for e in listed] == ["Orang Lain", "SITI aminah"]
    assert NIK not in api.get("/api/v1/watchlist", headers=headers).text

    first = register(api)  # the guest's flow finishes normally
    second = register(api, name="Siti Aminah", institution="cv sumber rejeki", id_number=nik(2))
    assert first["status"] == second["status"] == "held"
    assert "watchlist" not in str(first) and "mengancam" not in str(first)
    alerts = api.get("/api/v1/alerts", headers=headers).json()["alerts"]
    assert [a["kind"] for a in alerts] == ["watchlist", "watchlist"]
    assert "penipuan" in alerts[1]["text"]

    assert api.delete(f"/api/v1/watchlist/{by_name['id']}", headers=headers).status_code == 204
    assert api.delete(f"/api/v1/watchlist/{by_name['id']}", headers=headers).status_code == 404
    third = register(api, name="Siti Aminah", institution="CV Sumber Rejeki", id_number=nik(3))
    assert third["status"] == "awaiting_host"
    bad = api.post("/api/v1/watchlist", headers=headers, json={**body, "reason": " "})
    assert bad.status_code == 422 and bad.json()["field"] == "reason"


def test_manual_temperature_needs_the_guard(api):
    response = api.post("/api/v1/visits", json=guest(temperature_source="manual"))
    assert response.status_code == 403 and "guard" in response.json()["detail"]
    headers = login(api)
    response = api.post("/api/v1/visits", json=guest(temperature_source="manual",
                                                     temperature_c=36.1), headers=headers)
    assert response.status_code == 201
    visit = api.get(f"/api/v1/visits/{response.json()['id']}", headers=headers).json()
    assert visit["temperature_source"] == "manual"
    assert visit["temperature_by"] == "Petugas Simulasi" and visit["temperature_c"] == 36.1
    expired = {"Authorization": "Bearer not-a-token"}
    assert api.post("/api/v1/visits", json=guest(temperature_source="manual"),
                    headers=expired).status_code == 401


def test_admit_deny_and_checkout(api):
    a = register(api)
    b = register(api, id_number=nik(1))
    c = register(api, id_number=nik(2))
    assert api.post(f"/api/v1/visits/{a['id']}/admit").status_code == 401
    assert api.post(f"/api/v1/visits/{b['id']}/deny").status_code == 401
    headers = login(api)
    admitted = api.post(f"/api/v1/visits/{a['id']}/admit", headers=headers).json()
    assert admitted["status"] == "admitted" and admitted["decided_by"] == "Petugas Simulasi"
    assert admitted["decided_at"] == "2026-11-22T10:00:00.000+07:00"
    again = api.post(f"/api/v1/visits/{a['id']}/admit", headers=headers)
    assert again.status_code == 409
    denied = api.post(f"/api/v1/visits/{b['id']}/deny", json={"reason": "tuan rumah cuti"},
                      headers=headers).json()
    assert denied["status"] == "denied"
    api.post_.clock.advance(90 * 60)
    out = api.post(f"/api/v1/visits/{a['id']}/checkout")  # the guest, no PIN
    assert out.status_code == 200 and out.json()["checked_out_at"].startswith("2026-11-22T11:30")
    twice = api.post(f"/api/v1/visits/{a['id']}/checkout")
    assert twice.status_code == 409 and "already checked out at 11:30" in twice.json()["detail"]
    by_badge = api.post(f"/api/v1/badges/{c['badge']}/checkout")
    assert by_badge.status_code == 200 and by_badge.json()["id"] == c["id"]
    assert api.post(f"/api/v1/badges/{c['badge']}/checkout").status_code == 409
    assert api.post("/api/v1/badges/TAMU-99/checkout").status_code == 404
    assert api.post("/api/v1/badges/TAMU-09/checkout").status_code == 404  # never used
    assert api.post("/api/v1/visits/999/checkout").status_code == 404
    # Every badge is free again; the lowest comes first.
    assert register(api, id_number=nik(3))["badge"] == "TAMU-01"
    assert api.get("/api/v1/badges", headers=headers).status_code == 401  # idle 90 minutes
    pool = api.get("/api/v1/badges", headers=login(api)).json()
    assert pool["free"] == 9 and pool["badges"][0] == {"badge": "TAMU-01", "visit_id": 4}


def test_twenty_guests_at_once_for_ten_badges(api):
    results = []
    barrier = threading.Barrier(20)

    def one(n):
        barrier.wait()
        response = api.post("/api/v1/visits", json=guest(id_number=nik(n)))
        results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in results)
    assert codes == [201] * 10 + [409] * 10
    badges = [body["badge"] for code, body in results if code == 201]
    assert sorted(badges) == [f"TAMU-{n:02d}" for n in range(1, 11)]
    assert {body["detail"] for code, body in results if code == 409} == {
        "no guest badge free: please see the guard"}
    alerts = api.get("/api/v1/alerts", headers=login(api)).json()["alerts"]
    assert [a["kind"] for a in alerts] == ["badges"]


def test_on_site_list_for_the_lobby_and_for_the_guard(api):
    a = register(api)
    register(api, name="Siti Nur Aisyah", id_number=nik(7), party_size=1)
    api.post(f"/api/v1/visits/{register(api, id_number=nik(8))['id']}/checkout")
    lobby = api.get("/api/v1/visits", params={"on_site": "true"})
    assert lobby.status_code == 200
    visits = lobby.json()["visits"]
    assert [v["name"] for v in visits] == ["Budi S.", "Siti N. A."]
    assert set(visits[0]) == {"id", "badge", "status", "host", "party_size", "name",
                              "created_at", "decided_at", "checked_out_at"}
    assert "812" not in lobby.text and "8901" not in lobby.text and "Santoso" not in lobby.text
    full = api.get("/api/v1/visits?on_site=true", headers=login(api)).json()["visits"]
    assert full[0]["name"] == "Budi Santoso" and full[0]["phone"] == "+62 812 3456 7890"
    assert full[0]["id_masked"] == "••••8901" and full[0]["id"] == a["id"]
    assert all(NIK not in str(v) and "id_hash" not in v for v in full)
    # The whole day's list is for the guard.
    assert api.get("/api/v1/visits").status_code == 401
    day = api.get("/api/v1/visits", params={"day": "2026-11-22"}, headers=login(api)).json()
    assert len(day["visits"]) == 3
    assert api.get(f"/api/v1/visits/{a['id']}").json()["name"] == "Budi S."


def test_codes_invitation_badge_pass_and_garbage(api):
    headers = login(api)
    body = {"name": "Dewi Kartika", "institution": "Bawaslu", "host": "Ketua KPU",
            "purpose": "Koordinasi", "valid_on": "2026-11-22"}
    assert api.post("/api/v1/invitations", json=body).status_code == 401
    made = api.post("/api/v1/invitations", json=body, headers=headers)
    assert made.status_code == 201
    invitation = made.json()
    assert invitation["qr_payload"] == f"GK1:INV:{invitation['code']}"
    assert len(invitation["code"]) == 12
    found = api.get(f"/api/v1/codes/{invitation['qr_payload']}").json()
    assert found == {"kind": "invitation", "code": invitation["code"], "valid_on": "2026-11-22",
                     "name": "Dewi Kartika", "institution": "Bawaslu", "host": "Ketua KPU",
                     "purpose": "Koordinasi"}
    visit = register(api, name="Dewi Kartika", invitation=invitation["code"])
    assert api.get(f"/api/v1/visits/{visit['id']}", headers=headers).json()["invitation"] \
        == invitation["code"]

    tomorrow = api.post("/api/v1/invitations", json={**body, "valid_on": "2026-11-23"},
                        headers=headers).json()
    response = api.get(f"/api/v1/codes/{tomorrow['qr_payload']}")
    assert response.status_code == 400 and "for 2026-11-23, not today" in response.json()["detail"]
    past = api.post("/api/v1/invitations", json={**body, "valid_on": "2026-11-21"},
                    headers=headers)
    assert past.status_code == 422 and past.json()["field"] == "valid_on"

    badge = api.get(f"/api/v1/codes/{visit['badge']}").json()
    assert badge["kind"] == "badge" and badge["visit_id"] == visit["id"]
    assert api.get("/api/v1/codes/GK1:BADGE:TAMU-01").json()["visit_id"] == visit["id"]
    assert api.get("/api/v1/codes/TAMU-05").status_code == 404  # not checked in

    passed = api.get(f"/api/v1/codes/{visit['pass_payload']}").json()
    assert passed == {"kind": "pass", "visit_id": visit["id"], "name": "Dewi Kartika",
                      "institution": "PT Maju Jaya", "purpose": "Rapat anggaran",
                      "host": "Sekretaris", "party_size": 2, "id_type": "KTP"}
    forged = visit["pass_payload"][:-4] + "0000"
    assert api.get(f"/api/v1/codes/{forged}").status_code == 404

    for payload, status, words in (
            ("hello", 404, "unknown code"), ("GK1:INV:AAAAAAAAAAAA", 404, "unknown invitation"),
            ("GK1:PASS:abc:def", 404, "unknown code"), ("GK1:PASS:99:" + "0" * 20, 404, ""),
            ("x" * 513, 400, "too long"), ("GK1:INV:%00AB", 400, "control characters"),
            ("TAMU-01%0A", 400, "control characters"), ("a/b/../c", 404, "unknown"),
            ("%F0%9F%98%80", 404, "unknown"), ("GK1:INV:" + "A" * 500, 404, ""),
            ("GK1:PASS:1:%C3%BC", 404, "unknown pass"), ("GK1:PASS:" + "9" * 30 + ":0", 404, ""),
            ("GK1:PASS:%C2%B2:0", 404, "unknown code"), ("GK1:BADGE:", 404, "unknown")):
        response = api.get(f"/api/v1/codes/{payload}")
        assert response.status_code == status, payload
        assert words in response.json()["detail"], payload


def test_roll_call_during_a_fire(api):
    guest_a = register(api)
    guest_b = register(api, id_number=nik(1), name="Ani Lestari")
    assert api.get("/api/v1/rollcall").json() == {"active": False, "people": []}
    headers = login(api)
    alarm = api.post("/api/v1/alarms", json={"code": "fire"}, headers=headers).json()
    call = api.get("/api/v1/rollcall").json()  # the kiosk shows it, no PIN
    assert call["active"] is True and call["total"] == 3 and call["checked"] == 0
    people = {(p["kind"], p["id"]): p for p in call["people"]}
    assert people[("guest", guest_a["id"])]["name"] == "Budi S."
    assert people[("guest", guest_a["id"])]["badge"] == "TAMU-01"
    assert people[("guest", guest_a["id"])]["party_size"] == 2
    assert people[("guard", 1)]["name"] == "Petugas Simulasi"
    url = f"/api/v1/rollcall/guest/{guest_b['id']}/check"
    assert api.post(url).status_code == 401
    ticked = api.post(url, headers=headers).json()
    assert ticked["checked"] is True and ticked["name"] == "Ani Lestari"
    assert api.post("/api/v1/rollcall/guest/99/check", headers=headers).status_code == 404
    assert api.post("/api/v1/rollcall/visitor/1/check", headers=headers).status_code == 422
    full = api.get("/api/v1/rollcall", headers=headers).json()
    assert full["checked"] == 1 and any(p["name"] == "Budi Santoso" for p in full["people"])
    api.post(f"/api/v1/alarms/{alarm['id']}/clear", headers=headers)
    assert api.get("/api/v1/rollcall").json()["active"] is False
    assert api.post(url, headers=headers).status_code == 409
    entries = api.get("/api/v1/logbook", params={"q": "Apel evakuasi selesai"}).json()["entries"]
    assert len(entries) == 1
    assert "1 dari 3 hadir" in entries[0]["text"]
    present = entries[0]["text"].split("Belum")[0]
    assert f"Tamu #{guest_b['id']} (kartu TAMU-02)" in present
    # The logbook is kept for good: guests are named by visit and badge, never by name.
    assert "Ani" not in entries[0]["text"] and "Budi" not in entries[0]["text"]


def test_visiting_rules_reach_the_guard(api):
    register(api)
    api.post_.to(at(16, 0))
    alerts = api.get("/api/v1/alerts", headers=login(api)).json()["alerts"]
    assert [a["kind"] for a in alerts] == ["overstay"]
    assert "Tamu #1 (kartu TAMU-01) untuk Sekretaris" in alerts[0]["text"]
    assert "Budi" not in alerts[0]["text"] and "Maju" not in alerts[0]["text"]
