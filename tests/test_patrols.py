"""Patrol rounds with QR checkpoints (SOP 13), through the API on a simulated clock."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from conftest import CONFIG, CountingStore, api_client, at
from PIL import Image
from test_api import login

from kiosk.config import parse
from kiosk.patrols import Patrols
from kiosk.store.db import iso

ROOT = Path(__file__).resolve().parent.parent
ROUTE = """
[[tasks.patrols.checkpoints]]
id = "gerbang"
name = "Gerbang depan"
[[tasks.patrols.checkpoints]]
id = "gudang"
name = "Gudang logistik"
[[tasks.patrols.checkpoints]]
id = "ruang-server"
name = "Ruang server"
"""
# One-minute windows: each patrol falls on the window's first minute, 21.00, 23.00 and 01.00.
FIXED_PATROLS = """
[tasks.patrols]
windows = [
    { start = "21:00", end = "21:01", count = 1 },
    { start = "23:00", end = "23:01", count = 1 },
    { start = "01:00", end = "01:01", count = 1 },
]
"""
PATROL_CONFIG = CONFIG + FIXED_PATROLS + ROUTE


@pytest.fixture
def api(post):
    p = post(at(18, 0), text=PATROL_CONFIG)
    p.start()
    client = api_client(p)
    client.guard = login(client)
    return client


def go(api, moment):
    """Move the clock, then log in again: the guard's session idles out in 15 minutes."""
    api.post_.to(moment)
    api.guard = login(api)


def patrols_of_tonight(core):
    """The patrol tasks of the night starting on the 22nd, in time order."""
    return [t for t in core.tasks.around(at(23, 0)) if t.kind == "patrol" and
            t.day == "2026-11-22"]


def missed_alerts(core):
    return [a for a in core.alerts.list() if a["kind"] == "patrol_missed"]


def patroli_lines(core, words):
    return [e for e in core.logbook.entries(limit=1000)
            if e["category"] == "patroli" and words in e["text"]]


def outbox_kinds(core):
    return [e["kind"] for e in core.store.outbox_pending(limit=1000)]


def test_a_round_visits_checkpoints_records_the_missed_one_and_does_the_patrol(api):
    core = api.core
    first = patrols_of_tonight(core)[0]
    go(api, first.due_at + dt.timedelta(minutes=5))
    started = api.post("/api/v1/patrols", headers=api.guard)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["task_id"] == first.id and body["title_id"] == first.title_id
    assert body["status"] == "open" and body["started_by"] == "Petugas Simulasi"
    assert [c["id"] for c in body["missed"]] == ["gerbang", "gudang", "ruang-server"]
    round_id = body["id"]
    scan_url = f"/api/v1/patrols/{round_id}/checkpoints"

    go(api, first.due_at + dt.timedelta(minutes=8))
    gate_at = iso(core.clock.now())
    gate = api.post(scan_url, json={"payload": "GK1:CP:gerbang"}, headers=api.guard)
    assert gate.status_code == 200, gate.text
    assert gate.json()["checkpoint"] == {"id": "gerbang", "name": "Gerbang depan",
                                         "scanned_at": gate_at,
                                         "scanned_by": "Petugas Simulasi", "again": False}
    go(api, first.due_at + dt.timedelta(minutes=15))
    store_at = iso(core.clock.now())
    # Scanners add whitespace and some send upper case: still the same checkpoint.
    assert api.post(scan_url, json={"payload": " gk1:cp:GUDANG\n"},
                    headers=api.guard).status_code == 200
    go(api, first.due_at + dt.timedelta(minutes=17))
    again = api.post(scan_url, json={"payload": "GK1:CP:gerbang"}, headers=api.guard).json()
    assert again["checkpoint"]["again"] is True and again["checkpoint"]["scanned_at"] == gate_at

    go(api, first.due_at + dt.timedelta(minutes=31))
    done = api.post(f"/api/v1/patrols/{round_id}/finish", json={"note": "Aman terkendali"},
                    headers=api.guard)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "finished" and result["finished_at"] == iso(core.clock.now())
    assert [(c["id"], c["scanned_at"]) for c in result["visited"]] == [
        ("gerbang", gate_at), ("gudang", store_at)]
    assert result["missed"] == [{"id": "ruang-server", "name": "Ruang server"}]
    assert result["note"] == "Aman terkendali"

    tasks = {t["id"]: t for t in api.get("/api/v1/tasks").json()["tasks"]}
    assert tasks[first.id]["status"] == "done"
    assert tasks[first.id]["done_by"] == "Petugas Simulasi"
    # Finished 31 minutes after it was due, but started within the grace: not late.
    assert [e["text"] for e in core.logbook.entries(query=first.title_id)
            if e["category"] == "tugas"] == [f"{first.title_id} selesai"]
    finished = patroli_lines(core, f"Ronde patroli #{round_id}")
    assert len(finished) == 1
    assert "2 dari 3 titik diperiksa; terlewat: Ruang server. Catatan: Aman terkendali" \
        in finished[0]["text"]
    assert len(patroli_lines(core, f"{first.title_id} dimulai (ronde #{round_id}")) == 1
    kinds = outbox_kinds(core)
    assert kinds.count("patrol.started") == 1 and kinds.count("patrol.finished") == 1
    assert kinds.count("patrol.checkpoint") == 2 and "task.done" in kinds

    day = result["started_at"][:10]
    listed = api.get("/api/v1/patrols", params={"day": day}, headers=api.guard).json()["rounds"]
    assert [r["id"] for r in listed] == [round_id]
    assert listed[0]["missed"] == result["missed"]
    assert api.get(f"/api/v1/patrols/{round_id}", headers=api.guard).json() == result

    # A finished round takes no more scans and cannot be finished twice.
    assert api.post(scan_url, json={"payload": "GK1:CP:ruang-server"},
                    headers=api.guard).status_code == 409
    assert api.post(f"/api/v1/patrols/{round_id}/finish", headers=api.guard).status_code == 409
    assert missed_alerts(core) == []


def test_a_round_started_after_the_grace_is_late(api):
    core = api.core
    first = patrols_of_tonight(core)[0]
    go(api, first.overdue_at + dt.timedelta(minutes=1))  # flagged as missed by now
    assert len(missed_alerts(core)) == 1
    round_id = api.post("/api/v1/patrols", headers=api.guard).json()["id"]
    assert api.get(f"/api/v1/patrols/{round_id}", headers=api.guard).json()["task_id"] == first.id
    api.post(f"/api/v1/patrols/{round_id}/finish", headers=api.guard)
    assert [e["text"] for e in core.logbook.entries(query=first.title_id)
            if e["category"] == "tugas"] == [f"{first.title_id} selesai (terlambat)"]


def test_extra_rounds_and_choosing_the_patrol(api):
    core = api.core
    first, second = patrols_of_tonight(core)[:2]
    # 18.00: no patrol is due, so the round is an extra one.
    extra = api.post("/api/v1/patrols", json={}, headers=api.guard).json()
    assert extra["task_id"] is None and extra["title_id"] == "Patroli tambahan"
    assert extra["title_en"] == "Extra patrol"
    blocked = api.post("/api/v1/patrols", headers=api.guard)
    assert blocked.status_code == 409 and f"round {extra['id']}" in blocked.json()["detail"]
    api.post(f"/api/v1/patrols/{extra['id']}/finish", headers=api.guard)

    early = api.post("/api/v1/patrols", json={"task_id": first.id}, headers=api.guard)
    assert early.status_code == 409 and f"{first.due_at:%H:%M}" in early.json()["detail"]
    assert api.post("/api/v1/patrols", json={"task_id": "2026-11-22:flag_lower"},
                    headers=api.guard).status_code == 404
    assert api.post("/api/v1/patrols", json={"task_id": "no such task"},
                    headers=api.guard).status_code == 404
    both = api.post("/api/v1/patrols", json={"task_id": first.id, "extra": True},
                    headers=api.guard)
    assert both.status_code == 422 and both.json()["field"] == "task_id"

    go(api, first.due_at + dt.timedelta(minutes=1))
    asked_extra = api.post("/api/v1/patrols", json={"extra": True}, headers=api.guard).json()
    assert asked_extra["task_id"] is None
    api.post(f"/api/v1/patrols/{asked_extra['id']}/finish", headers=api.guard)
    linked = api.post("/api/v1/patrols", headers=api.guard).json()
    assert linked["task_id"] == first.id
    api.post(f"/api/v1/patrols/{linked['id']}/finish", headers=api.guard)
    taken = api.post("/api/v1/patrols", json={"task_id": first.id}, headers=api.guard)
    assert taken.status_code == 409  # done, and it has its round

    # Once the second patrol is due, a plain start picks it.
    go(api, second.due_at + dt.timedelta(minutes=2))
    assert api.post("/api/v1/patrols", headers=api.guard).json()["task_id"] == second.id


def test_a_missed_patrol_is_flagged_once_also_after_a_restart(post):
    p = post(at(18, 0), text=PATROL_CONFIG)
    core = p.start()
    first, second, third = patrols_of_tonight(core)
    assert [t.due_at for t in (first, second, third)] == [at(21, 0), at(23, 0),
                                                          at(1, 0, day=23)]
    p.to(first.due_at)
    round_id = core.patrols.start(actor="Budi")["id"]
    core.patrols.finish(round_id, actor="Budi")

    p.to(second.overdue_at - dt.timedelta(seconds=1))
    assert missed_alerts(core) == []
    p.to(second.overdue_at + dt.timedelta(minutes=1))
    alerts = missed_alerts(core)
    assert len(alerts) == 1 and alerts[0]["text"].startswith(f"{second.title_id} (jadwal ")
    assert len(patroli_lines(core, "terlewat: belum ada ronde")) == 1
    for minutes in (2, 3, 4):
        p.to(second.overdue_at + dt.timedelta(minutes=minutes))
        core.patrols.check()
    assert len(missed_alerts(core)) == 1

    p.stop()
    core = p.start()
    p.to(second.overdue_at + dt.timedelta(minutes=10))
    assert len(missed_alerts(core)) == 1
    assert len(patroli_lines(core, "terlewat: belum ada ronde")) == 1
    assert outbox_kinds(core).count("patrol.missed") == 1

    # The core was down when the third patrol ran out: it is flagged at the next start.
    p.stop()
    p.clock.jump(third.overdue_at + dt.timedelta(minutes=5))
    core = p.start()
    assert [a["text"].split(" (")[0] for a in missed_alerts(core)] == [second.title_id,
                                                                     third.title_id]


def test_the_loop_reads_the_store_only_when_a_patrol_can_be_missed(post):
    p = post(at(18, 0), text=PATROL_CONFIG)
    core = p.start()
    first = patrols_of_tonight(core)[0]
    store = CountingStore(core.store)
    patrols = Patrols(store, core.settings, now=core.clock.now, alerts=core.alerts)
    assert patrols.check(at(18, 0)) == 0 and store.uses
    store.uses = 0
    for moment in (at(18, 1), at(20, 0), first.due_at, first.overdue_at - dt.timedelta(seconds=1)):
        assert patrols.check(moment) == 0
    assert store.uses == 0
    assert patrols.check(first.overdue_at) == 1 and store.uses


def test_a_fresh_kiosk_does_not_flag_patrols_nobody_was_told_about(post):
    p = post(at(8, 0, day=23), text=PATROL_CONFIG)  # last night's patrols are all overdue
    core = p.start()
    assert missed_alerts(core) == []
    assert patroli_lines(core, "terlewat") == []


@pytest.mark.parametrize("payload, status", [
    ("GK1:CP:atap", 404),  # well formed, not on the route
    ("GK1:INV:ABCDEFGHJKLM", 422),  # another kind of kiosk code
    ("https://example.com/GK1:CP:gerbang", 422),
    ("TAMU-01", 422),
    ("", 422),
    ("GK1:CP:", 422),
    ("GK1:CP:" + "a" * 41, 422),
    ("GK1:CP:../../etc/passwd", 422),
    ("GK1:CP:gerbang' OR '1'='1", 422),
    ("GK1:CP:gerbang\x00", 422),
    ("GK1:CP:ger\nbang", 422),
    ("GK1:CP:ｇｅｒｂａｎｇ", 422),  # full-width letters look alike, are not the id
    ("GK1:CP:gerbang:extra", 422),
    ("x" * 513, 422),
])
def test_hostile_payloads_are_clear_4xx_and_record_nothing(api, payload, status):
    round_id = api.post("/api/v1/patrols", headers=api.guard).json()["id"]
    response = api.post(f"/api/v1/patrols/{round_id}/checkpoints", json={"payload": payload},
                        headers=api.guard)
    assert response.status_code == status, response.text
    if len(payload) <= 512:  # longer ones the request model refuses before the domain
        body = response.json()
        assert body["field"] == "payload" and body["detail_id"]  # in Bahasa Indonesia too
    assert api.get(f"/api/v1/patrols/{round_id}", headers=api.guard).json()["visited"] == []


def test_malformed_requests_never_500(api):
    round_id = api.post("/api/v1/patrols", headers=api.guard).json()["id"]
    url = f"/api/v1/patrols/{round_id}/checkpoints"
    for body in ({"payload": 123}, {"payload": None}, {}, [], "GK1:CP:gerbang"):
        assert api.post(url, json=body, headers=api.guard).status_code == 422, body
    assert api.post(url, content=b"\xff{", headers={**api.guard, "content-type":
                                                     "application/json"}).status_code == 400
    for bad in ("0", "-1", "abc", str(2**63)):
        assert api.post(f"/api/v1/patrols/{bad}/checkpoints", json={"payload": "GK1:CP:gudang"},
                        headers=api.guard).status_code == 422, bad
    assert api.post("/api/v1/patrols/999/checkpoints", json={"payload": "GK1:CP:gudang"},
                    headers=api.guard).status_code == 404
    assert api.post("/api/v1/patrols/999/finish", headers=api.guard).status_code == 404
    assert api.post(f"/api/v1/patrols/{round_id}/finish", json={"note": "x" * 501},
                    headers=api.guard).status_code == 422
    assert api.get("/api/v1/patrols", params={"day": "kemarin"},
                   headers=api.guard).status_code == 422


def test_patrols_need_the_guard_token(api):
    for method, url in (("post", "/api/v1/patrols"), ("get", "/api/v1/patrols"),
                        ("get", "/api/v1/patrols/checkpoints"), ("get", "/api/v1/patrols/1"),
                        ("post", "/api/v1/patrols/1/checkpoints"),
                        ("post", "/api/v1/patrols/1/finish")):
        assert getattr(api, method)(url).status_code == 401, url


def test_checkpoints_endpoint_lists_the_route(api):
    body = api.get("/api/v1/patrols/checkpoints", headers=api.guard).json()
    assert body == {"checkpoints": [
        {"id": "gerbang", "name": "Gerbang depan", "payload": "GK1:CP:gerbang"},
        {"id": "gudang", "name": "Gudang logistik", "payload": "GK1:CP:gudang"},
        {"id": "ruang-server", "name": "Ruang server", "payload": "GK1:CP:ruang-server"}]}
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/patrols", "/api/v1/patrols/checkpoints",
                 "/api/v1/patrols/{round_id}/checkpoints", "/api/v1/patrols/{round_id}/finish"):
        assert path in paths, path


def test_a_round_keeps_its_route_when_the_config_changes(post):
    p = post(at(18, 0), text=PATROL_CONFIG)
    core = p.start()
    round_id = core.patrols.start(actor="Budi")["id"]
    p.stop()
    p.settings = parse(CONFIG + FIXED_PATROLS + "checkpoints = []\n")
    core = p.start()
    assert core.patrols.checkpoints() == []
    out = core.patrols.finish(round_id, actor="Budi")
    assert [c["id"] for c in out["missed"]] == ["gerbang", "gudang", "ruang-server"]


def test_config_refuses_a_checkpoint_id_twice_or_unprintable():
    from kiosk.config import ConfigError

    twice = ROUTE + '[[tasks.patrols.checkpoints]]\nid = "gudang"\nname = "Gudang 2"\n'
    with pytest.raises(ConfigError) as info:
        parse(twice)
    assert "checkpoint id 'gudang' is used twice" in "\n".join(info.value.problems)
    with pytest.raises(ConfigError):
        parse('[[tasks.patrols.checkpoints]]\nid = "Gudang Utama"\nname = "Gudang"\n')


def test_kiosk_checkpoints_writes_a_readable_card_per_checkpoint(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text("[hardware]\nsimulate = true\n" + ROUTE.replace(
        "Ruang server", "Ruang server & arsip Đặng Thị — lantai dua, sebelah tangga darurat"))
    env = {k: v for k, v in os.environ.items() if k not in ("GPIOZERO_PIN_FACTORY",
                                                             "KIOSK_CONFIG")}
    out = tmp_path / "cards"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--config", str(config), "--data-dir",
         str(tmp_path), "checkpoints", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == ["checkpoint-gerbang.png", "checkpoint-gudang.png",
                                       "checkpoint-ruang-server.png"]
    for path in files:
        assert str(path) in result.stdout
        image = Image.open(path)
        assert image.info["dpi"][0] == pytest.approx(300, abs=1)
        found = zxingcpp.read_barcodes(np.asarray(image.convert("L")))
        assert [code.text for code in found] == [f"GK1:CP:{path.stem.split('-', 1)[1]}"]
        assert image.height > image.width  # the name is printed under the code
