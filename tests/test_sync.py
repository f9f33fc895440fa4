"""Sync with hq over real HTTP: down for a whole run, a flaky link, tokens, the chain, invitations.

hq runs for real (FastAPI over SQLite, or PostgreSQL when ``KIOSK_TEST_POSTGRES`` names a
server, as CI does) and the kiosk's core on its simulated clock pushes to it through
uvicorn on 127.0.0.1, sometimes through :class:`netfaults.FlakyProxy`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from conftest import CONFIG, DATABASES, api_client, at, hq_database_url, visit_body
from fastapi.testclient import TestClient
from netfaults import FlakyProxy, Served
from sqlalchemy import text, update

from kiosk import invitations
from kiosk.hq.api import create_app
from kiosk.hq.db import Hq, HqError, connect, events
from kiosk.sync import Link, Scheduler, SyncFailed


class HqUnderTest:
    def __init__(self, url: str, key: bytes) -> None:
        self.db = Hq(connect(url))
        self.key = key
        self.app = create_app(self.db, signing_key=key)
        self.server = Served(self.app)
        self.admin = self.db.add("Admin Provinsi", admin=True)

    def read(self, path: str, token: str | None = None):
        with TestClient(self.app) as client:
            return client.get(path, headers={"Authorization": f"Bearer {token or self.admin}"})


@pytest.fixture(params=DATABASES)
def hq(request, tmp_path):
    made = HqUnderTest(hq_database_url(request.param, tmp_path), invitations.new_key())
    made.server.start()
    yield made
    made.server.stop()
    made.db.engine.dispose()


def sync_config(url: str, token: str, every: str = "15m") -> str:
    return CONFIG + f'\n[sync]\nurl = "{url}"\ntoken = "{token}"\nevery = "{every}"\n'


def kiosk_events(core) -> dict[str, dict]:
    with core.store.read() as conn:
        rows = conn.execute("SELECT event_id, kind, payload FROM outbox").fetchall()
    return {r["event_id"]: {"kind": r["kind"],
                            "payload": json.loads(core.store.unseal(r["payload"]))}
            for r in rows}


def hq_events(hq: HqUnderTest, name: str = "Kantor A") -> list[dict]:
    return list(hq.db.events(hq.db.kiosk_id(name)))


def kiosk_of(post, hq):
    """A kiosk registered at ``hq`` and syncing to it: (post, core, token)."""
    token = hq.db.add("Kantor A")
    p = post(at(9, 0), text=sync_config(hq.server.url, token))
    return p, p.start(), token


def busy_day(p) -> None:
    """A morning's worth of events: guests, an alarm raised and cleared, logbook entries."""
    from test_api import login

    client = api_client(p)
    guard = login(client)
    for i in range(3):
        assert client.post("/api/v1/visits", json=visit_body(name=f"Tamu {i}")).status_code == 201
    alarm = client.post("/api/v1/alarms", json={"code": "fire"}, headers=guard).json()
    assert client.post(f"/api/v1/alarms/{alarm['id']}/clear", headers=guard).status_code == 200


def test_hq_down_for_a_whole_run_then_up_everything_arrives_once(post, hq):
    p, core, token = kiosk_of(post, hq)
    busy_day(p)
    hq.server.stop()
    before = core.sync.backlog()
    with pytest.raises(SyncFailed, match="did not answer"):
        core.sync_once()
    status = core.sync_status()
    assert status["backlog"] >= before > 0 and status["sent"] == 0  # nothing marked sent
    assert "did not answer" in status["last_error"] and status["last_success"] is None

    hq.server.start()
    core.sync_once()
    core.sync_once()  # a second run sends nothing again
    status = core.sync_status()
    assert status["backlog"] == 0 and status["last_error"] is None
    assert status["last_success"].startswith("2026-11-22T09:00")
    local = kiosk_events(core)
    held = hq_events(hq)
    assert sorted(e["event_id"] for e in held) == sorted(local)
    assert all(e["payload"] == local[e["event_id"]]["payload"] for e in held)
    listing = hq.read("/api/v1/kiosks").json()["kiosks"]
    assert listing[0]["name"] == "Kantor A" and listing[0]["events"] == len(local)
    assert listing[0]["chain_ok"] is True and listing[0]["last_sync"]
    assert listing[0]["guests_on_site"] == 3 and listing[0]["active_alarms"] == []


def test_a_flaky_link_during_a_50000_event_backlog_leaves_hq_with_exactly_the_kiosks_events(
        post, hq):
    token = hq.db.add("Kantor A")
    proxy = FlakyProxy(hq.server.port, rate=0.35, stall_seconds=1.5).start()
    try:
        p = post(at(9, 0), text=sync_config(proxy.url, token))
        link = Link(proxy.url, token, timeout=1.0)
        core = p.start(sync_link=link)
        with core.store.transaction() as conn:
            for i in range(50_000):
                core.store.emit(conn, "load.test", {"i": i, "note": "ñ" * (i % 7)})
        expected = kiosk_events(core)
        attempts = failures = 0
        while core.sync.backlog() and attempts < 2000:
            attempts += 1
            try:
                core.sync.push()
            except SyncFailed:
                failures += 1
        assert core.sync.backlog() == 0
        assert failures > 5 and all(proxy.seen[f] for f in ("drop", "lose_answer", "stall",
                                                             "duplicate", "reorder"))
    finally:
        proxy.stop()
    held = hq_events(hq)
    ids = [e["event_id"] for e in held]
    assert len(ids) == len(set(ids)) == len(expected)  # none twice, none missing
    assert set(ids) == set(expected)
    assert all(e["payload"] == expected[e["event_id"]]["payload"] for e in held)
    listing = hq.read("/api/v1/kiosks").json()["kiosks"]
    assert listing[0]["events"] == len(expected)


def test_a_wrong_or_revoked_token_is_refused_and_nothing_is_marked_sent(post, hq):
    token = hq.db.add("Kantor A")
    p = post(at(9, 0), text=sync_config(hq.server.url, "x" * 43))
    core = p.start()
    with pytest.raises(SyncFailed, match="refused this kiosk's token"):
        core.sync_once()
    assert core.sync_status()["sent"] == 0
    link = Link(hq.server.url, token)
    link.push(core.store.outbox_pending(1))  # the right token works
    hq.db.revoke("Kantor A")
    with pytest.raises(SyncFailed, match=r"\(401\)"):
        link.push(core.store.outbox_pending(1))
    assert hq.read("/api/v1/kiosks", token).status_code == 401
    assert hq.read("/api/v1/kiosks", "nonsense").status_code == 401
    fresh = hq.db.add("Kantor A")  # revoked: a new token for the same kiosk and its events
    assert Link(hq.server.url, fresh).push(core.store.outbox_pending(1)) and fresh != token
    with pytest.raises(HqError, match="already exists"):
        hq.db.add("Kantor A")


def test_tokens_are_for_their_holder_only(hq):
    kiosk = hq.db.add("Kantor A")
    assert hq.read("/api/v1/kiosks", kiosk).status_code == 403  # a kiosk reads no one
    with TestClient(hq.app) as client:
        admin = {"Authorization": f"Bearer {hq.admin}"}
        assert client.post("/api/v1/events", json={"events": []}, headers=admin).status_code \
            == 403  # an admin pushes nothing in a kiosk's name
        assert client.get("/api/v1/kiosks").status_code == 401
        assert client.get("/").status_code == 401
        page = client.get("/", auth=("admin", hq.admin))
        assert page.status_code == 200 and "Kantor A" in page.text
    stored = {r.token_hash for r in hq.db.engine.connect().execute(text(
        "SELECT token_hash FROM kiosks"))}
    assert kiosk not in stored and hq.admin not in stored  # only hashes are kept


def test_a_tampered_logbook_is_detected_at_hq(post, hq):
    p, core, token = kiosk_of(post, hq)
    busy_day(p)
    core.sync_once()
    assert hq.read("/api/v1/kiosks").json()["kiosks"][0]["chain_ok"] is True

    # Someone edits an entry of hq's copy: the chain names it.
    entry = next(e for e in hq_events(hq) if e["kind"] == "logbook.appended"
                 and e["payload"]["id"] == 2)
    forged = {**entry["payload"], "text": "Tidak ada kejadian"}
    with hq.db.engine.begin() as conn:
        conn.execute(update(events).where(events.c.event_id == entry["event_id"])
                     .values(payload=json.dumps(forged)))
    kiosk = hq.read("/api/v1/kiosks").json()["kiosks"][0]
    assert kiosk["chain_ok"] is False and "entry 2" in kiosk["chain"]


def test_a_forged_entry_pushed_from_the_kiosk_breaks_the_chain(post, hq):
    p, core, token = kiosk_of(post, hq)
    core.sync_once()
    last = max((e["payload"] for e in hq_events(hq) if e["kind"] == "logbook.appended"),
               key=lambda e: e["id"])
    fake = {**last, "id": last["id"] + 1, "text": "tidak ada apa-apa", "prev_hash": "0" * 64}
    Link(hq.server.url, token).push([{"event_id": uuid.uuid4().hex, "id": 10**6,
                                      "kind": "logbook.appended", "payload": fake,
                                      "created_at": "2026-11-22T09:00:00+07:00"}],
                                    core.sync.store_id())
    kiosk = hq.read("/api/v1/kiosks").json()["kiosks"][0]
    assert kiosk["chain_ok"] is False and "prev_hash" in kiosk["chain"]


def test_an_invitation_made_at_hq_is_pulled_and_accepted_at_the_kiosk(post, hq):
    p, core, token = kiosk_of(post, hq)
    with TestClient(hq.app) as client:
        made = client.post("/api/v1/invitations", headers={
            "Authorization": f"Bearer {hq.admin}"}, json={
            "kiosk": "Kantor A", "name": "Dewi Lestari", "institution": "KPU Provinsi",
            "host": "Sekretaris", "purpose": "Supervisi", "valid_on": "2026-11-22"})
    assert made.status_code == 201, made.text
    core.sync_once()
    status = core.sync_status()
    assert status["kiosk"] == "Kantor A"
    found = core.visits.resolve_code(made.json()["qr_payload"])
    assert found["kind"] == "invitation" and found["name"] == "Dewi Lestari"
    short = core.visits.resolve_code(f"GK1:INV:{made.json()['code']}")
    assert short["code"] == made.json()["code"]  # also known by its code once pulled
    import sqlite3

    raw = sqlite3.connect(p.path).execute("SELECT name FROM invitations").fetchall()
    assert raw and all("Dewi" not in row[0] for row in raw)  # sealed at rest like the kiosk's


def test_a_signed_invitation_is_accepted_offline_and_forgeries_are_refused(post, tmp_path):
    from kiosk.watchlist import GuestError, NotFound

    key = invitations.new_key()
    text_ = CONFIG + (f'\n[sync]\nurl = "https://hq.example.go.id"\ntoken = "{"t" * 43}"\n'
                      f'hq_key = "{invitations.public_key(key)}"\n[site]\nname = "Kantor A"\n')
    p = post(at(9, 0), text=text_)
    core = p.start()  # never reaches hq: the address does not exist here
    fields = dict(kiosk="Kantor A", name="Dewi Lestari", institution="KPU", host="Sekretaris",
                  purpose="Supervisi")
    good = invitations.sign(key, valid_on=dt.date(2026, 11, 22), **fields)
    assert core.visits.resolve_code(good)["name"] == "Dewi Lestari"

    body, sig = good.split(".")
    tampered = invitations.PREFIX + invitations._b64(
        invitations._unb64(body[len(invitations.PREFIX):]).replace(b"Dewi", b"Mala")) + "." + sig
    with pytest.raises(NotFound, match="not signed by hq"):
        core.visits.resolve_code(tampered)
    other_key = invitations.sign(invitations.new_key(), valid_on=dt.date(2026, 11, 22), **fields)
    with pytest.raises(NotFound, match="not signed by hq"):
        core.visits.resolve_code(other_key)
    elsewhere = invitations.sign(key, valid_on=dt.date(2026, 11, 22),
                                 **{**fields, "kiosk": "Kantor B"})
    with pytest.raises(GuestError, match="for Kantor B"):
        core.visits.resolve_code(elsewhere)
    tomorrow = invitations.sign(key, valid_on=dt.date(2026, 11, 23), **fields)
    with pytest.raises(GuestError, match="not today"):
        core.visits.resolve_code(tomorrow)


def test_sync_status_and_sync_now_in_the_api(post, hq):
    token = hq.db.add("Kantor A")
    p = post(at(9, 0), text=sync_config(hq.server.url, token))
    p.start()
    client = api_client(p)
    status = client.get("/api/v1/sync").json()
    assert {"backlog", "sent", "last_success", "last_error"} <= set(status)
    assert status["backlog"] > 0
    assert client.post("/api/v1/sync").status_code == 401  # starting one needs a guard
    from test_api import login

    answer = client.post("/api/v1/sync", headers=login(client))
    assert answer.status_code == 202
    import time

    deadline = time.monotonic() + 15
    while not client.get("/api/v1/sync").json()["last_success"] and time.monotonic() < deadline:
        time.sleep(0.05)
    status = client.get("/api/v1/sync").json()
    assert status["backlog"] == 0 and status["sent"] > 0 and status["last_success"]


def test_sync_now_without_sync_set_up_says_what_to_set(post):
    p = post(at(9, 0))
    p.start()
    client = api_client(p)
    from test_api import login

    answer = client.post("/api/v1/sync", headers=login(client))
    assert answer.status_code == 409 and "sync.url" in answer.json()["detail"]
    assert client.get("/api/v1/sync").json()["configured"] is False


def test_backoff_doubles_with_jitter_up_to_the_schedule():
    draws = iter([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    scheduler = Scheduler(900, rng=lambda: next(draws))
    waits = [scheduler.failed() for _ in range(8)]
    assert waits[0] == 30 and waits[1] == 30  # 60 s ceiling, lowest draw: half of it
    assert waits[2:] == [120, 240, 480, 900, 900, 900]
    assert scheduler.succeeded() == 900 and scheduler.failures == 0


def test_hq_keeps_no_personal_data_past_its_retention(hq):
    token = hq.db.add("Kantor A")
    Link(hq.server.url, token).push([{
        "event_id": uuid.uuid4().hex, "id": 1, "kind": "visit.registered",
        "created_at": "2026-01-01T09:00:00+07:00",
        "payload": {"id": 1, "name": "Budi Santoso", "phone": "+62812", "status": "admitted",
                    "badge": "TAMU-01"}}])
    assert hq.db.purge(30) == 0  # just arrived
    later = hq.db.now() + dt.timedelta(days=31)
    hq.db.now = lambda: later
    assert hq.db.purge(30) == 1
    body = hq_events(hq)[0]["payload"]
    assert body["name"] == "" and body["phone"] == "" and body["badge"] == "TAMU-01"
    assert hq.db.purge(30) == 0  # once


def test_the_commands_an_installer_runs(tmp_path):
    """`kiosk hq add-kiosk`, `kiosk hq --listen`, then `kiosk sync` against it, for real."""
    import subprocess
    import sys
    import time

    import httpx
    from netfaults import free_port
    from test_cli import ROOT, kiosk

    hq_dir, kiosk_dir = tmp_path / "hq", tmp_path / "kiosk"
    added = kiosk("--data-dir", str(hq_dir), "hq", "add-kiosk", "Kantor A")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and token not in (hq_dir / "hq.db").read_bytes().decode("latin-1")
    twice = kiosk("--data-dir", str(hq_dir), "hq", "add-kiosk", "Kantor A")
    assert twice.returncode == 1 and "already exists" in twice.stderr

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(hq_dir), "hq",
         "--listen", f"127.0.0.1:{port}"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        config = tmp_path / "kiosk.toml"
        (tmp_path / "hq.token").write_text(token + "\n")
        config.write_text(CONFIG + f'[sync]\nurl = "http://127.0.0.1:{port}"\n'
                                   f'token_file = "{tmp_path / "hq.token"}"\n')
        base = ("--config", str(config), "--data-dir", str(kiosk_dir))
        assert kiosk(*base, "sync").returncode == 1  # no database yet: nothing was recorded
        added = subprocess.run([sys.executable, "-m", "kiosk.cli", *base, "guard", "add",
                                "Budi", "--pin-stdin"], input="4321\n", cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr  # the first events to send
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        synced = kiosk(*base, "sync")
        assert synced.returncode == 0, synced.stderr
        assert "sync OK" in synced.stdout and "backlog 0" in synced.stdout
    finally:
        server.terminate()
        server.wait(10)
    down = kiosk(*base, "sync")  # hq gone: says so in one line, exit 1
    assert down.returncode == 1 and "did not answer" in down.stderr
    assert len(down.stderr.strip().splitlines()[-1]) < 300


def test_contacts_staff_and_roster_from_hq_replace_the_configs_at_once_and_after_a_restart(
        post, hq):
    from test_api import login

    p, core, token = kiosk_of(post, hq)
    admin = {"Authorization": f"Bearer {hq.admin}"}
    with TestClient(hq.app) as client:
        for kind, body in (
                ("contacts", {"leadership": ["+6281299990000"], "police": ["110"],
                              "fire_brigade": ["113"]}),
                ("staff", {"staff": [{"name": "Kasubag Umum", "unit": "Umum"}]}),
                ("roster", {"guards": {"Budi Santoso": "+6281200000001",
                                       "Asep Sunandar": "+6281200000002",
                                       "Dedi Kurnia": "+6281200000003"},
                            "duty": {"sun": [{"shift": "pagi", "guard": "Budi Santoso",
                                              "backups": ["Asep Sunandar", "Dedi Kurnia"]}]}}),
                # A roster naming a shift the post does not have is refused, the last one kept.
                ("roster", {"duty": {"sun": [{"shift": "siang", "guard": "Budi Santoso",
                                              "backups": ["Asep Sunandar", "Dedi Kurnia"]}]}})):
            answer = client.post("/api/v1/updates", headers=admin,
                                 json={"kiosk": "Kantor A", "kind": kind, "payload": body})
            assert answer.status_code == 201, answer.text
    core.sync_once()

    api = api_client(p)
    assert api.get("/api/v1/staff").json()["staff"] == [{"name": "Kasubag Umum",
                                                         "unit": "Umum"}]
    guest = api.post("/api/v1/visits", json=visit_body(host="Kasubag Umum"))
    assert guest.status_code == 201, guest.text
    on_duty = api.get("/api/v1/roster/now", headers=login(api)).json()["on_duty"]
    assert [d["guard"] for d in on_duty] == ["Budi Santoso"]  # 22 Nov 2026 is a Sunday
    alarm = api.post("/api/v1/alarms", json={"code": "fire"}, headers=login(api)).json()
    numbers = {s["number"] for s in api.get(f"/api/v1/alarms/{alarm['id']}").json()["sms"]}
    assert "+6281299990000" in numbers and "+6281100000001" not in numbers
    with core.store.read() as conn:
        refused = conn.execute("SELECT value FROM sync_state WHERE key = 'update_refused'"
                               ).fetchone()[0]
    assert refused.startswith("hq update roster: ") and "no such shift" in refused

    p.stop()
    core = p.start()  # the updates are in the database: a restart keeps them
    assert [s.name for s in core.settings.visits.staff] == ["Kasubag Umum"]
    assert core.settings.contacts["leadership"] == ("+6281299990000",)


def test_a_kiosk_that_had_to_start_a_fresh_database_keeps_two_intact_chains_at_hq(post, hq):
    p, core, token = kiosk_of(post, hq)
    core.sync_once()
    p.stop()
    p.path.write_bytes(b"this SD card lost its database")  # set aside at start, a fresh one made
    core = p.start()
    assert core.store.recovered_from is not None
    core.sync_once()
    kiosk = hq.read("/api/v1/kiosks").json()["kiosks"][0]
    assert kiosk["chain_ok"] is True and "2 databases" in kiosk["chain"]


def test_hq_brings_an_older_database_up_to_date_at_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'hq.db'}"
    connect(url).dispose()
    import sqlite3

    old = sqlite3.connect(tmp_path / "hq.db")
    old.execute("ALTER TABLE events DROP COLUMN store")  # as an hq before that column made it
    old.close()
    db = Hq(connect(url))
    token = db.add("Kantor A")
    held, new = db.store(db.holder(token)["id"], [{
        "event_id": uuid.uuid4().hex, "seq": 1, "kind": "x", "payload": {}, "store": None,
        "created_at": "2026-11-22T09:00:00+07:00"}])
    assert new == 1 and len(held) == 1
