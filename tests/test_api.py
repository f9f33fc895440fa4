"""The core's HTTP API as the UI and outside tools use it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import at
from fastapi.testclient import TestClient

from kiosk.core.api import create_app
from kiosk.core.service import ensure_guards

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def api(post):
    p = post(at(18, 0))
    core = p.start()
    ensure_guards(core, simulate=True)
    client = TestClient(create_app(core), raise_server_exceptions=False)
    client.post_ = p
    return client


def login(client, pin="1234"):
    response = client.post("/api/v1/guard/login", json={"pin": pin})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_health(api):
    body = api.get("/api/v1/health").json()
    assert body["ok"] is True and body["clock_trusted"] is True and body["simulated"] is True


def test_openapi_schema_lists_the_contract(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/health", "/api/v1/guard/login", "/api/v1/relays",
                 "/api/v1/relays/{name}/override", "/api/v1/alarms", "/api/v1/alarms/active",
                 "/api/v1/alarms/{alarm_id}/ack", "/api/v1/alarms/{alarm_id}/clear",
                 "/api/v1/temperature", "/api/v1/tasks", "/api/v1/tasks/{task_id}/done",
                 "/api/v1/logbook"):
        assert path in paths, path


def test_schema_says_how_refusals_look_and_what_the_books_are(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            refused = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert refused == {"$ref": "#/components/schemas/Problem"}, (method, path)
    for book, kind in (("guests.csv", "text/csv"), ("logbook.pdf", "application/pdf")):
        ok = paths[f"/api/v1/reports/{book}"]["get"]["responses"]["200"]
        assert list(ok["content"]) == [kind]


def test_relays_and_override(api):
    relays = {r["name"]: r for r in api.get("/api/v1/relays").json()["relays"]}
    assert relays["lights"]["on"] is True and relays["lights"]["source"] == "schedule"
    body = {"on": False, "minutes": 20, "reason": "hemat listrik"}
    assert api.post("/api/v1/relays/lights/override", json=body).status_code == 401
    response = api.post("/api/v1/relays/lights/override", json=body, headers=login(api))
    assert response.status_code == 200
    assert response.json()["on"] is False and response.json()["source"] == "override"
    relays = {r["name"]: r for r in api.get("/api/v1/relays").json()["relays"]}
    assert relays["lights"]["on"] is False
    assert relays["lights"]["override_until"].startswith("2026-11-22T18:20")


def test_bad_override_input_is_4xx(api):
    headers = login(api)
    for body in ({"on": "maybe", "reason": "x"}, {"on": True}, {"on": True, "reason": ""},
                 {"on": True, "reason": "x", "minutes": -5}, [], {"on": True, "reason": "x" * 201}):
        response = api.post("/api/v1/relays/lights/override", json=body, headers=headers)
        assert response.status_code == 422, body
    response = api.post("/api/v1/relays/pump/override", json={"on": True, "reason": "x"},
                        headers=headers)
    assert response.status_code == 404 and "pump" in response.json()["detail"]
    response = api.post("/api/v1/relays/lights/override", content=b"\xff{",
                        headers={**headers, "content-type": "application/json"})
    assert response.status_code == 400


def test_alarm_lifecycle(api):
    headers = login(api)
    response = api.post("/api/v1/alarms", json={"code": "fire"}, headers=headers)
    assert response.status_code == 201
    alarm = response.json()
    assert alarm["state"] == "raised" and alarm["raised_by"] == "Petugas Simulasi"
    active = api.get("/api/v1/alarms/active").json()["alarms"]
    assert [a["id"] for a in active] == [alarm["id"]]
    relays = {r["name"]: r for r in api.get("/api/v1/relays").json()["relays"]}
    assert relays["gate_lock"]["on"] is False and relays["gate_lock"]["source"] == "alarm"
    acked = api.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=headers).json()
    assert acked["state"] == "acknowledged" and acked["acked_by"] == "Petugas Simulasi"
    cleared = api.post(f"/api/v1/alarms/{alarm['id']}/clear", headers=headers).json()
    assert cleared["state"] == "cleared"
    assert api.get("/api/v1/alarms/active").json()["alarms"] == []


def test_alarm_errors(api):
    headers = login(api)
    response = api.post("/api/v1/alarms", json={"code": "tsunami"}, headers=headers)
    assert response.status_code == 400 and "fire" in response.json()["detail"]
    assert api.post("/api/v1/alarms/999/ack", headers=headers).status_code == 404
    assert api.post("/api/v1/alarms", json={"code": "fire"}).status_code == 401
    assert api.post("/api/v1/alarms/abc/ack", headers=headers).status_code == 422


def test_alarm_id_past_the_database_integers_is_a_422_not_a_500(api):
    headers = login(api)
    too_big = 2**63  # SQLite's integers end at 2**63 - 1: the lookup itself used to fail
    for method, path in (("GET", f"/api/v1/alarms/{too_big}"),
                         ("POST", f"/api/v1/alarms/{too_big}/ack"),
                         ("POST", f"/api/v1/alarms/{too_big}/clear")):
        response = api.request(method, path, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"][0]["loc"] == ["path", "alarm_id"]


def test_wrong_pin_lockout_survives_restart(post, tmp_path):
    p = post(at(10, 0))
    core = p.start()
    ensure_guards(core, simulate=True)
    client = TestClient(create_app(core))
    for left in (4, 3, 2, 1):
        response = client.post("/api/v1/guard/login", json={"pin": "0000"})
        assert response.status_code == 401
        assert f"{left} tr" in response.json()["detail"]
    response = client.post("/api/v1/guard/login", json={"pin": "0000"})
    assert response.status_code == 429 and "locked until 10:15" in response.json()["detail"]
    assert int(response.headers["retry-after"]) == 900
    p.stop()
    core = p.start()
    client = TestClient(create_app(core))
    response = client.post("/api/v1/guard/login", json={"pin": "1234"})  # right PIN, still locked
    assert response.status_code == 429
    p.clock.advance(15 * 60)
    assert client.post("/api/v1/guard/login", json={"pin": "1234"}).status_code == 200


def test_pins_are_stored_as_salted_scrypt(api):
    with api.post_.core.store.read() as conn:
        hashes = [row[0] for row in conn.execute("SELECT pin_hash FROM guards")]
    assert all(h.startswith("scrypt$") and "1234" not in h for h in hashes)
    assert len({h.split("$")[4] for h in hashes}) == len(hashes)  # distinct salts


def test_session_expires_when_idle(api):
    headers = login(api)
    assert api.post("/api/v1/alarms", json={"code": "crime"}, headers=headers).status_code == 201
    api.post_.clock.advance(16 * 60)
    assert api.post("/api/v1/alarms", json={"code": "crime"}, headers=headers).status_code == 401


def test_temperature(api):
    body = api.post("/api/v1/temperature").json()
    assert body == {"celsius": 36.6, "ok": True, "threshold_c": 37.5}
    api.post_.core.hw.sim.thermometer_bus.object_c = 38.4
    assert api.post("/api/v1/temperature").json()["ok"] is False
    api.post_.core.hw.sim.thermometer_bus.unplugged = True
    response = api.post("/api/v1/temperature")
    assert response.status_code == 503 and "measure by hand" in response.json()["detail"]


def test_tasks_and_logbook(api):
    tasks = api.get("/api/v1/tasks").json()["tasks"]
    flag = next(t for t in tasks if t["id"] == "2026-11-22:flag_lower")
    assert flag["status"] == "overdue"  # 18:00, due 17:00 with 15 minutes' grace
    headers = login(api)
    done = api.post(f"/api/v1/tasks/{flag['id']}/done", headers=headers).json()
    assert done["status"] == "done" and done["done_by"] == "Petugas Simulasi"
    assert api.post("/api/v1/tasks/nope/done", headers=headers).status_code == 404
    entry = api.post("/api/v1/logbook", json={"category": "kejadian", "text": "Pagar rusak"},
                     headers=headers)
    assert entry.status_code == 201
    first = entry.json()
    fix = api.post("/api/v1/logbook", json={"category": "x", "text": "Pagar samping rusak",
                                            "corrects": first["id"]}, headers=headers).json()
    assert fix["corrects"] == first["id"]
    found = api.get("/api/v1/logbook", params={"q": "pagar"}).json()["entries"]
    assert [e["id"] for e in found] == [fix["id"], first["id"]]
    assert api.post("/api/v1/logbook", json={"category": "x", "text": ""},
                    headers=headers).status_code == 422
    assert api.post("/api/v1/logbook", json={"category": "x", "text": "y", "corrects": 99999},
                    headers=headers).status_code == 400
    assert api.get("/api/v1/logbook", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/logbook", params={"since": "yesterday"}).status_code == 422


def test_logbook_refuses_what_it_could_not_store_in_one_line(api):
    headers = login(api)
    before = api.get("/api/v1/logbook").json()["entries"]
    response = api.post("/api/v1/logbook", json={"category": "umum", "text": "y",
                                                 "corrects": 2**63}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "corrects"]
    # SQLite counts a text only up to its first NUL, so the table's CHECK refused these.
    for category in ("\x00", "\x00umum", "umum\x1b[31m"):
        response = api.post("/api/v1/logbook", json={"category": category, "text": "y"},
                            headers=headers)
        assert response.status_code == 400, (category, response.text)
        assert response.json()["detail"] == ("logbook category must be printable text on one "
                                             "line (no control characters)")
    assert api.get("/api/v1/logbook").json()["entries"] == before


def test_input_json_allows_but_a_reply_cannot_hold_is_a_422_naming_the_field(api):
    """NaN and half a surrogate pair are valid to Python's JSON reader, not in a JSON reply.

    FastAPI's 422 echoed them back and failed to write itself; the refusal now names the
    field and what is wrong, without the input.
    """
    headers = {**login(api), "content-type": "application/json"}
    for path, body, field in (
            ("/api/v1/logbook", b'{"category": "umum", "text": "\\ud800"}', "text"),
            ("/api/v1/alarms", b'{"code": "\\udfff"}', "code"),
            ("/api/v1/sim/temperature", b'{"celsius": NaN}', "celsius"),
            ("/api/v1/relays/lights/override", b'{"on": true, "reason": "x", "minutes": '
                                               b'Infinity}', "minutes")):
        response = api.post(path, content=body, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.content.isascii()
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", field] and error["msg"] and "input" not in error


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kiosk_core_command_switches_the_lights_at_1700(tmp_path):
    """The exact demo command from the issue, as a real process on a simulated clock."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "core", "--simulate",
         # Two real seconds before 17.00: the core is up and waiting, even on a busy machine.
         "--clock", "2026-11-22T16:58:00+07:00", "--speed", "60",
         "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 20
        lights = None
        while time.monotonic() < deadline:
            try:
                relays = httpx.get(f"{base}/relays", timeout=1).json()["relays"]
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            lights = next(r for r in relays if r["name"] == "lights")
            if lights["on"]:
                break
            time.sleep(0.1)
        assert lights and lights["on"], lights
        assert lights["since"].startswith("2026-11-22T17:00:00")  # on time, not a tick late
        assert httpx.post(f"{base}/guard/login", json={"pin": "1234"}).status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_real_install_refuses_to_start_without_a_pin(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text("[hardware]\nsimulate = false\n")
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    env["GPIOZERO_PIN_FACTORY"] = "mock"  # no Pi here: pins mocked, the rule is what's tested
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--config", str(config), "--data-dir",
         str(tmp_path), "core", "--listen", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no guard PIN is set: run 'kiosk guard add NAME' first" in result.stderr
    assert "Traceback" not in result.stderr


def test_listen_on_the_network_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "core", "--simulate",
         "--listen", "0.0.0.0:8470"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "would expose the guard API to the network" in result.stderr


def test_unix_socket_is_group_only(tmp_path):
    sock = tmp_path / "core.sock"
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "core", "--simulate",
         "--listen", f"unix:{sock}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        client = httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                health = client.get("http://kiosk/api/v1/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health.json()["ok"] is True
        assert sock.stat().st_mode & 0o777 == 0o660
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_serial_scanner_codes_reach_the_api(api):
    assert api.get("/api/v1/scanner").json() == {"codes": []}
    assert api.post("/api/v1/sim/scan", json={"code": "GK1:INV:ABCDEFGHJKLM"}).status_code == 200
    deadline = time.monotonic() + 5
    codes = []
    while time.monotonic() < deadline and not codes:
        codes = api.get("/api/v1/scanner").json()["codes"]
        time.sleep(0.05)
    assert [c["code"] for c in codes] == ["GK1:INV:ABCDEFGHJKLM"]
    seq = codes[0]["seq"]
    assert api.get("/api/v1/scanner", params={"after": seq}).json() == {"codes": []}


def test_sim_controls_drive_the_simulated_devices(api):
    assert api.post("/api/v1/sim/temperature", json={"celsius": 38.2}).status_code == 200
    assert api.post("/api/v1/temperature").json()["ok"] is False
    state = api.get("/api/v1/sim/state").json()
    assert state["relays"] == {"lights": True, "gate_lock": False}
    assert state["temperature_c"] == 38.2 and state["buzzer"] is False
    assert api.post("/api/v1/sim/temperature", json={"celsius": 99}).status_code == 422
    assert api.post("/api/v1/sim/button", json={"action": "wiggle"}).status_code == 422


def test_a_removed_guard_is_logged_out_at_once(api):
    """`kiosk guard remove` on the console ends the session the running core holds."""
    headers = login(api)
    assert api.get("/api/v1/alerts", headers=headers).status_code == 200
    api.post_.core.guards.remove("Petugas Simulasi")
    response = api.get("/api/v1/alerts", headers=headers)
    assert response.status_code == 401 and response.json()["detail"] == (
        "log in with the guard PIN first")
    assert api.post("/api/v1/guard/login", json={"pin": "1234"}).status_code == 401
