"""Personal data sealed at rest, the key file, and local retention once synced.

What a copy of the database alone shows is checked the way someone holding the SD card would
look: plain sqlite3 on copied files, and a byte search of the database and its -wal.
"""

import datetime as dt
import json
import os
import shutil
import sqlite3

import pytest
from conftest import CONFIG, WIB, api_client, at, visit_body
from test_api import login

from kiosk.store import Store
from kiosk.store.sealed import (
    KEY_SIZE,
    LOCKED,
    TAG,
    Sealer,
    SealError,
    create_key,
    load_key,
    read_key,
)

NAME, INSTITUTION, PHONE = "Budi Santoso", "PT Maju Jaya", "+62 812 3456 7890"
NIK = "3201012345678901"
INVITED, WATCHED = "Dewi Kartika", "Joko Widarto"
# What must not be readable in a copy of the database (phone and NIK also as digits only).
SECRETS = (NAME, "Santoso", INSTITUTION, PHONE, "812 3456", "81234567890", NIK, "3201 0123",
           INVITED, "Kartika", WATCHED, "Widarto", "Sumber Rejeki", "Bawaslu")
SYNCED = CONFIG + '[sync]\nurl = "http://127.0.0.1:9"\ntoken = "' + "t" * 43 + '"\n'


def later(days: int) -> dt.datetime:
    return dt.datetime(2026, 11, 22, 10, 0, tzinfo=WIB) + dt.timedelta(days=days)


def logbook_texts(core) -> list[str]:
    return [e["text"] for e in core.logbook.entries(limit=1000)]


@pytest.fixture
def api(post):
    p = post(at(10, 0))
    p.start()
    return api_client(p)


def fill(api) -> dict:
    """A guest, an invitation and a watchlist entry, all through the API as on the post."""
    guard = login(api)
    visit = api.post("/api/v1/visits", json=visit_body(id_number="3201 0123 4567 8901"))
    assert visit.status_code == 201, visit.text
    invitation = api.post("/api/v1/invitations", headers=guard, json={
        "name": INVITED, "institution": "Bawaslu", "host": "Ketua KPU", "purpose": "Audit",
        "valid_on": "2026-11-23"})
    assert invitation.status_code == 201, invitation.text
    watched = api.post("/api/v1/watchlist", headers=guard, json={
        "name": WATCHED, "institution": "CV Sumber Rejeki", "id_number": "3174 0000 1111 2222",
        "reason": "mengancam petugas"})
    assert watched.status_code == 201, watched.text
    return {"guard": guard, "visit": visit.json(), "invitation": invitation.json(),
            "watched": watched.json()}


def copy_of_database(store: Store, target) -> list:
    """Every text value of every table, read with plain sqlite3 from a copy of the files."""
    target.mkdir()
    for suffix in ("", "-wal"):
        source = store.path.with_name(store.path.name + suffix)
        if source.exists():
            shutil.copyfile(source, target / f"kiosk.db{suffix}")
    conn = sqlite3.connect(target / "kiosk.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                             "'table'")]
        return [value for table in tables for row in conn.execute(f"SELECT * FROM {table}")
                for value in row if isinstance(value, str)]
    finally:
        conn.close()


# -- the sealer and the key file ------------------------------------------------------------


def test_seal_and_open():
    sealer = Sealer(os.urandom(KEY_SIZE))
    one, two = sealer.seal(NAME), sealer.seal(NAME)
    assert one.startswith(TAG) and one != two  # a fresh nonce every time
    assert NAME not in one and sealer.open(one) == sealer.open(two) == NAME
    assert sealer.seal("") == ""  # a purged field stays visibly purged
    assert sealer.open("Nama lama") == "Nama lama"  # from before sealing: as it is
    assert sealer.open(sealer.seal("Đặng Thị Hương")) == "Đặng Thị Hương"
    with pytest.raises(SealError, match="another key"):
        Sealer(os.urandom(KEY_SIZE)).open(one)
    tampered = one[:-6] + ("A" if one[-6] != "A" else "B") + one[-5:]
    with pytest.raises(SealError):
        sealer.open(tampered)
    with pytest.raises(SealError, match="damaged"):
        sealer.open(TAG + "not base64!")
    with pytest.raises(ValueError):
        Sealer(b"short")


def test_key_file_is_made_once_0600_and_checked(tmp_path):
    path = tmp_path / "keys" / "data.key"
    assert load_key(path, create=False) is None and not path.exists()
    key = load_key(path, create=True)
    assert len(key) == KEY_SIZE and path.read_bytes() == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key(path, create=True) == key  # never replaced
    with pytest.raises(FileExistsError):
        create_key(path)
    path.chmod(0o644)
    with pytest.raises(ValueError, match=r"mode 0644.*chmod 600") as refused:
        read_key(path)
    assert "\n" not in str(refused.value)
    path.chmod(0o600)
    path.write_bytes(key[:16])
    with pytest.raises(ValueError, match="holds 16 bytes, not 32: restore"):
        read_key(path)


# -- what a copy of the database shows ------------------------------------------------------


def test_a_copy_of_the_database_alone_reveals_no_personal_data(api, tmp_path):
    filled = fill(api)
    store = api.core.store
    values = copy_of_database(store, tmp_path / "copy")
    assert any(v == "TAMU-01" for v in values)  # the copy is readable: the check itself works
    for secret in SECRETS:
        assert not [v for v in values if secret in v], secret
    with sqlite3.connect(tmp_path / "copy" / "kiosk.db") as conn:
        visit = conn.execute("SELECT name, phone, id_last4 FROM visits").fetchone()
        assert all(value.startswith(TAG) for value in visit)  # "8901" too
        (last4,) = conn.execute("SELECT id_last4 FROM watchlist").fetchone()
        assert last4.startswith(TAG)
        payloads = [r[0] for r in conn.execute("SELECT payload FROM outbox")]
        assert payloads and all(p.startswith(TAG) for p in payloads)
    # The raw bytes, free pages and the -wal included, once SQLite has checkpointed.
    with store.read() as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    data = b"".join(store.path.with_name(store.path.name + s).read_bytes()
                    for s in ("", "-wal") if store.path.with_name(store.path.name + s).exists())
    assert b"TAMU-01" in data
    for secret in SECRETS:
        assert secret.encode() not in data, secret
    # With the key, everything reads in full: the guard's API ...
    guard = filled["guard"]
    visit = api.get(f"/api/v1/visits/{filled['visit']['id']}", headers=guard).json()
    assert (visit["name"], visit["institution"], visit["phone"], visit["id_masked"]) == (
        NAME, INSTITUTION, PHONE, "••••8901")
    assert api.get("/api/v1/visits/1").json()["name"] == "Budi S."  # the lobby's short form
    listed = api.get("/api/v1/watchlist", headers=guard).json()["watchlist"]
    assert [(e["name"], e["institution"], e["id_masked"]) for e in listed] == [
        (WATCHED, "CV Sumber Rejeki", "••••2222")]
    # ... and sync, which sends hq plain JSON over HTTPS.
    events = {e["kind"]: e["payload"] for e in store.outbox_pending(1000)}
    assert events["visit.registered"]["name"] == NAME
    assert events["visit.registered"]["phone"] == PHONE


def test_invitations_and_watchlist_match_on_opened_values(api):
    filled = fill(api)
    code = filled["invitation"]["code"]
    api.post_.to(at(9, 0, day=23))
    scanned = api.get(f"/api/v1/codes/GK1:INV:{code}").json()
    assert (scanned["name"], scanned["institution"]) == (INVITED, "Bawaslu")
    # Same folding as ever: case, spaces and punctuation do not matter.
    held = api.post("/api/v1/visits", json=visit_body(
        name="joko  WIDARTO", institution="C.V. Sumber-Rejeki", id_number="3201000000000007"))
    assert held.json()["status"] == "held"
    guard = login(api)  # the evening's session has long ended
    alert = next(a for a in api.get("/api/v1/alerts", headers=guard).json()["alerts"]
                 if a["kind"] == "watchlist")
    assert f"Tamu #{held.json()['id']} (kartu {held.json()['badge']})" in alert["text"]
    assert "mengancam petugas" in alert["text"]
    assert "Joko" not in alert["text"] and "WIDARTO" not in alert["text"]
    texts = logbook_texts(api.core)
    assert not [t for t in texts if any(s.lower() in t.lower() for s in ("Widarto", "Santoso"))]


def test_a_database_from_before_sealing_keeps_working_and_is_sealed(post, tmp_path):
    p = post(at(10, 0))
    core = p.start()
    core.visits.register(visit_body())
    p.stop()
    # As written by a kiosk without sealing: plain values and payloads.
    with sqlite3.connect(p.path) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'sealed.check'")
        conn.execute("UPDATE visits SET name = ?, phone = ?, id_last4 = '8901'", (NAME, PHONE))
        conn.execute("UPDATE outbox SET payload = '{\"name\": \"Budi Santoso\"}' "
                     "WHERE kind = 'visit.registered'")
    conn.close()
    core = p.start()
    assert core.visits.get(1)["name"] == NAME and core.visits.get(1)["id_masked"] == "••••8901"
    with sqlite3.connect(p.path) as conn:
        assert conn.execute("SELECT name FROM visits").fetchone()[0].startswith(TAG)
        assert all(r[0].startswith(TAG) for r in conn.execute("SELECT payload FROM outbox"))
    conn.close()
    assert any(e["payload"] == {"name": NAME} for e in core.store.outbox_pending(1000))


# -- without the key ------------------------------------------------------------------------


def restart(p):
    p.stop()
    core = p.start()
    return core, api_client(p)


def test_a_missing_key_is_not_replaced_and_locks_only_guest_data(post):
    p = post(at(10, 0))
    p.start()
    first = api_client(p)
    visit = fill(first)["visit"]
    key = p.key_file.read_bytes()
    p.stop()
    p.key_file.unlink()
    core = p.start()  # the post starts: lights and alarms need no personal data
    api = api_client(p)
    assert not p.key_file.exists()  # no new key: it would lose the sealed data for good
    assert core.store.locked and core.status.personal_data_locked
    refused = api.post("/api/v1/visits", json=visit_body(id_number="3201000000000009"))
    assert refused.status_code == 503
    detail = refused.json()["detail"]
    assert "restore the key file from backup" in detail and "\n" not in detail
    assert refused.json()["detail_id"]
    guard = login(api)
    assert api.post("/api/v1/watchlist", headers=guard, json={
        "name": "X Y", "institution": "-", "reason": "r"}).status_code == 503
    shown = api.get(f"/api/v1/visits/{visit['id']}", headers=guard).json()
    assert shown["name"] == shown["phone"] == LOCKED and shown["badge"] == "TAMU-01"
    assert api.get("/api/v1/visits", params={"on_site": True}).status_code == 200
    assert api.get("/api/v1/watchlist", headers=guard).json()["watchlist"][0]["name"] == LOCKED
    # The guest already inside can still leave; the event carries no placeholder name.
    assert api.post(f"/api/v1/visits/{visit['id']}/checkout").status_code == 200
    alarm = api.post("/api/v1/alarms", json={"code": "fire"}, headers=guard)
    assert alarm.status_code == 201
    pending = core.store.outbox_pending(1000)
    kinds = {e["kind"] for e in pending}
    assert {"visit.checked_out", "alarm.raised"} <= kinds and "visit.registered" not in kinds
    out = next(e["payload"] for e in pending if e["kind"] == "visit.checked_out")
    assert "name" not in out and out["badge"] == "TAMU-01"
    assert any("Data pribadi tamu terkunci" in t for t in logbook_texts(core))
    # The key back from backup: everything reads again, the waiting events included.
    p.key_file.write_bytes(key)
    p.key_file.chmod(0o600)
    core, api = restart(p)
    assert core.store.locked is None
    assert core.visits.get(visit["id"])["name"] == NAME
    assert "visit.registered" in {e["kind"] for e in core.store.outbox_pending(1000)}
    assert api.post("/api/v1/visits", json=visit_body(id_number="3201000000000009")
                    ).status_code == 201


def test_another_key_is_refused(post):
    p = post(at(10, 0))
    core = p.start()
    core.visits.register(visit_body())
    p.stop()
    p.key_file.unlink()
    create_key(p.key_file)
    core = p.start()
    api = api_client(p)
    refused = api.post("/api/v1/visits", json=visit_body(id_number="3201000000000009"))
    assert refused.status_code == 503
    assert "is not the key of this database" in refused.json()["detail"]
    assert core.visits.get(1)["name"] == LOCKED


def test_a_key_file_others_can_read_is_refused(post):
    p = post(at(10, 0))
    p.start()
    p.stop()
    p.key_file.chmod(0o644)
    core = p.start()
    api = api_client(p)
    refused = api.post("/api/v1/visits", json=visit_body())
    assert refused.status_code == 503
    assert f"chmod 600 {p.key_file}" in refused.json()["detail"]
    assert core.store.locked and "mode 0644" in core.store.locked


# -- retention ------------------------------------------------------------------------------


def test_an_old_visit_is_kept_until_its_events_reached_hq(post):
    p = post(at(10, 0), text=SYNCED)
    core = p.start()
    visit = core.visits.register(visit_body())
    core.visits.checkout(visit["id"])
    p.to(later(91))
    assert core.store.outbox_pending(1)  # hq was never reached
    assert core.visits.get(visit["id"])["name"] == NAME  # kept: hq has no copy yet
    assert any("1 kunjungan lama disimpan sampai datanya diterima pusat" in t
               for t in logbook_texts(core))
    sent = [e["event_id"] for e in core.store.outbox_pending(10_000)]
    core.store.mark_sent(sent, later(91))
    p.to(later(92))
    purged = core.visits.get(visit["id"])
    assert purged["name"] == purged["phone"] == "" and purged["id_masked"] is None
    assert any(t.startswith("Data pribadi 1 kunjungan/undangan lebih dari 90 hari dihapus")
               for t in logbook_texts(core))
    # Sent events older than the retention period are gone; newer ones stay until then.
    with core.store.read() as conn:
        left = conn.execute("SELECT min(created_at), count(*) FROM outbox WHERE sent_at IS NOT "
                            "NULL").fetchone()
        assert conn.execute("SELECT count(*) FROM outbox WHERE visit_id = ?",
                            (visit["id"],)).fetchone()[0] == 0
    assert left[1] > 0
    assert dt.datetime.fromisoformat(left[0]) > later(92) - dt.timedelta(days=90)
    purge = [e for e in core.store.outbox_pending(100) if e["kind"] == "visits.purged"]
    assert purge[-1]["payload"]["count"] == 1 and purge[-1]["payload"]["events"] > 0


def test_without_sync_age_alone_decides_and_unsent_events_lose_the_details(post):
    p = post(at(10, 0))
    core = p.start()
    visit = core.visits.register(visit_body())
    core.visits.checkout(visit["id"])
    p.to(later(91))
    assert core.visits.get(visit["id"])["name"] == ""
    events = [e["payload"] for e in core.store.outbox_pending(10_000)
              if e["kind"].startswith("visit.")]
    assert len(events) == 2
    assert all(e["name"] == e["phone"] == e["institution"] == "" for e in events)
    assert all(e["badge"] == "TAMU-01" for e in events)  # what is not personal stays
    with sqlite3.connect(p.path) as conn:
        assert all(r[0].startswith(TAG) for r in conn.execute("SELECT payload FROM outbox"))
    conn.close()
    assert json.dumps(events).count("Budi") == 0
