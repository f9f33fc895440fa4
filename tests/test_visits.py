"""Guest visits in the domain: badges, identity, watchlist, alerts, visiting rules, roll call."""

import datetime as dt
import sqlite3
import threading

import pytest
from conftest import CONFIG, WIB, at, nik, visit_body

from kiosk.auth import Guard
from kiosk.rollcall import evacuates
from kiosk.watchlist import (
    Conflict,
    Invalid,
    NotAllowed,
    name_key,
    normalise_id,
    short_name,
)

NIK = "3201012345678901"
GUARD = Guard(1, "Petugas Simulasi", "guard")


guest = visit_body


@pytest.fixture
def core(post):
    return post(at(10, 0), text=CONFIG + "[visits]\nbadges = 10\n").start()


def rows(core, sql, *params):
    with core.store.read() as conn:
        return [dict(r) for r in conn.execute(sql, params)]


def logbook_texts(core):
    return [e["text"] for e in core.logbook.entries(limit=1000)]


def test_register_gets_the_first_badge_and_waits_for_the_host(core):
    visit = core.visits.register(guest(party_size=3))
    assert visit["badge"] == "TAMU-01" and visit["status"] == "awaiting_host"
    assert visit["returning"] is False and visit["temperature_ok"] is True
    assert visit["name"] == "Budi S."
    stored = core.store.unsealed(rows(core, "SELECT * FROM visits")[0], "visits")
    assert stored["id_last4"] == "8901" and len(stored["id_hash"]) == 64
    assert stored["consent_at"] == stored["created_at"] == "2026-11-22T10:00:00.000+07:00"
    assert stored["temperature_source"] == "sensor" and stored["temperature_by"] is None
    # The row, its logbook entry and its outbox event were written together.
    kinds = [r["kind"] for r in rows(core, "SELECT kind FROM outbox ORDER BY id")]
    assert kinds[-2:] == ["logbook.appended", "visit.registered"]
    assert "kartu TAMU-01" in logbook_texts(core)[0]
    assert core.logbook.verify().ok


def test_the_full_identity_number_is_stored_nowhere(core):
    core.visits.register(guest())
    core.watchlist.add(name="Joko", institution="CV Lain", reason="ribut", actor="x",
                       id_number="3174 0000 1111 2222")
    files = [core.store.path.with_name(f"kiosk.db{s}") for s in ("", "-wal")]
    data = b"".join(f.read_bytes() for f in files if f.exists())
    assert b"TAMU-01" in data  # the badge is there: the search itself works
    for number in (NIK, "3174000011112222", "3201 0123", "31740000"):
        assert number.encode() not in data


def test_returning_guest_is_recognised_by_the_hash(core):
    first = core.visits.register(guest())
    core.visits.checkout(first["id"])
    again = core.visits.register(guest(id_number="3201-0123-4567-8901", name="Budi S"))
    assert again["returning"] is True
    assert core.visits.register(guest(id_number=nik(5)))["returning"] is False


def test_high_temperature_holds_the_visit_and_alerts_the_guard(core):
    visit = core.visits.register(guest(temperature_c=37.5))  # at the threshold
    assert visit["status"] == "held" and visit["temperature_ok"] is False
    alerts = core.alerts.list()
    assert [a["kind"] for a in alerts] == ["temperature"]
    assert "37.5 °C" in alerts[0]["text"] and alerts[0]["visit_id"] == visit["id"]
    assert any("Suhu tinggi 37.5" in t for t in logbook_texts(core))
    assert core.visits.get(visit["id"])["hold_reason"] == "temperature"


def test_watchlist_by_identity_number(core):
    entry = core.watchlist.add(name="Orang Lain", institution="Entah", reason="mengancam petugas",
                               actor="Admin", id_number="3201.0123.4567.8901")
    assert entry["id_masked"] == "••••8901"
    visit = core.visits.register(guest())  # different name, same NIK
    assert visit["status"] == "held"
    alert = core.alerts.list()[0]
    assert alert["kind"] == "watchlist" and "mengancam petugas" in alert["text"]
    assert core.visits.get(visit["id"])["hold_reason"] == "watchlist"


def test_watchlist_by_name_and_institution_ignores_case_spaces_and_punctuation(core):
    core.watchlist.add(name="budi  SANTOSO", institution="P.T. Maju-Jaya", reason="x", actor="A")
    assert core.visits.register(guest(id_number=nik(1)))["status"] == "held"
    other = core.visits.register(guest(id_number=nik(2), institution="PT Lain"))
    assert other["status"] == "awaiting_host"
    assert name_key("Budi Santoso", "PT Maju Jaya") == name_key("BUDI santoso ", "p.t. maju jaya")


def test_removed_watchlist_entry_no_longer_matches(core):
    entry = core.watchlist.add(name="Budi Santoso", institution="PT Maju Jaya", reason="x",
                               actor="A")
    core.watchlist.remove(entry["id"], actor="A")
    assert core.watchlist.list() == []
    assert core.visits.register(guest())["status"] == "awaiting_host"


def test_manual_temperature_needs_a_guard(core):
    with pytest.raises(NotAllowed):
        core.visits.register(guest(temperature_source="manual"))
    visit = core.visits.register(guest(temperature_source="manual", temperature_c=36.2),
                                 guard=GUARD)
    stored = core.visits.get(visit["id"])
    assert stored["temperature_source"] == "manual"
    assert stored["temperature_by"] == "Petugas Simulasi"


def test_admit_deny_checkout_and_badge_reuse(core):
    a, b, c = (core.visits.register(guest(id_number=nik(n))) for n in range(3))
    assert [a["badge"], b["badge"], c["badge"]] == ["TAMU-01", "TAMU-02", "TAMU-03"]
    assert core.visits.admit(a["id"], actor="Petugas")["status"] == "admitted"
    with pytest.raises(Conflict):
        core.visits.admit(a["id"], actor="Petugas")
    denied = core.visits.deny(b["id"], actor="Petugas", reason="tuan rumah tidak ada")
    assert denied["status"] == "denied" and denied["decided_by"] == "Petugas"
    out = core.visits.checkout_badge("tamu-01")
    assert out["status"] == "checked_out" and out["checked_out_at"]
    with pytest.raises(Conflict, match="already checked out"):
        core.visits.checkout(a["id"])
    with pytest.raises(Conflict, match="denied"):
        core.visits.checkout(b["id"])
    # The lowest free badges come back first: 01 (checked out) and 02 (denied).
    assert core.visits.register(guest(id_number=nik(4)))["badge"] == "TAMU-01"
    assert core.visits.register(guest(id_number=nik(5)))["badge"] == "TAMU-02"
    assert core.visits.register(guest(id_number=nik(6)))["badge"] == "TAMU-04"


def test_deciding_a_held_visit_resolves_its_alert(core):
    visit = core.visits.register(guest(temperature_c=38.0))
    core.visits.admit(visit["id"], actor="Petugas")
    alert = core.alerts.list()[0]
    assert alert["resolved_by"] == "Petugas"


def test_pool_empty_is_409_and_one_alert(core):
    for n in range(10):
        core.visits.register(guest(id_number=nik(n)))
    for n in range(2):
        with pytest.raises(Conflict, match="no guest badge free: please see the guard"):
            core.visits.register(guest(id_number=nik(20 + n)))
    assert [a["kind"] for a in core.alerts.list()] == ["badges"]
    assert len(rows(core, "SELECT id FROM visits")) == 10


def test_never_two_guests_on_one_badge_under_concurrency(core):
    results, errors = [], []
    barrier = threading.Barrier(20)

    def register(n):
        barrier.wait()
        try:
            results.append(core.visits.register(guest(id_number=nik(n)))["badge"])
        except Conflict as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=register, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10 and len(set(results)) == 10 and len(errors) == 10
    assert sorted(results) == [f"TAMU-{n:02d}" for n in range(1, 11)]


def test_the_schema_refuses_a_second_guest_on_a_badge(core):
    first = core.visits.register(guest())
    with pytest.raises(sqlite3.IntegrityError):
        with core.store.transaction() as conn:
            conn.execute("INSERT INTO visits (name, institution, phone, purpose, host, "
                         "party_size, id_type, id_last4, consent_at, badge, status, created_at) "
                         "SELECT name, institution, phone, purpose, host, party_size, id_type, "
                         "id_last4, consent_at, badge, 'admitted', created_at FROM visits")
    core.visits.checkout(first["id"])
    with core.store.transaction() as conn:  # checked-out visits may share a badge's history
        conn.execute("INSERT INTO visits (name, institution, phone, purpose, host, party_size, "
                     "id_type, id_last4, consent_at, badge, status, created_at) SELECT name, "
                     "institution, phone, purpose, host, party_size, id_type, id_last4, "
                     "consent_at, badge, 'checked_out', created_at FROM visits")


@pytest.mark.parametrize("changes, field", [
    ({"consent": False}, "consent"), ({"consent": None}, "consent"),
    ({"party_size": 0}, "party_size"), ({"party_size": 21}, "party_size"),
    ({"party_size": True}, "party_size"), ({"id_type": "KTM"}, "id_type"),
    ({"phone": "08-12"}, "phone"), ({"phone": "12345"}, "phone"), ({"phone": "1" * 21}, "phone"),
    ({"name": "B"}, "name"), ({"name": "x" * 81}, "name"), ({"name": "Bu\x00di"}, "name"),
    ({"host": "  "}, "host"), ({"temperature_c": 29.9}, "temperature_c"),
    ({"temperature_c": 45.1}, "temperature_c"), ({"temperature_c": None}, "temperature_c"),
    ({"temperature_source": "guess"}, "temperature_source"),
    ({"id_number": "12345"}, "id_number"), ({"id_type": "SIM", "id_number": "12"}, "id_number"),
    ({"institution": None}, "institution"), ({"purpose": ""}, "purpose"),
])
def test_validation_names_the_field_in_both_languages(core, changes, field):
    with pytest.raises(Invalid) as caught:
        core.visits.register(guest(**changes))
    assert caught.value.field == field
    assert str(caught.value) and caught.value.message_id != str(caught.value)


def test_helpers():
    assert short_name("Budi Santoso") == "Budi S."
    assert short_name("Siti Nur Aisyah") == "Siti N. A."
    assert short_name("Sukarno") == "Sukarno"
    assert normalise_id(" 3201.0123-4567 8901 ") == NIK
    assert normalise_id("b 123/45") == "B12345"


# -- visiting rules (SOP 7c) -----------------------------------------------------------------


def overstays(core):
    """The visiting rules' alerts (a night left running also flags missed patrols)."""
    return [a for a in core.alerts.list() if a["kind"] == "overstay"]


def test_visiting_rules_fire_once_at_1600_and_2100(post):
    p = post(at(9, 0))
    core = p.start()
    core.visits.register(guest(id_number=nik(1), name="Ani Lestari", host="Sekretaris"))
    inside = core.visits.register(guest(id_number=nik(2), host="Ketua KPU"))
    gone = core.visits.register(guest(id_number=nik(3), name="Citra Dewi"))
    core.visits.admit(inside["id"], actor="Petugas")
    core.visits.checkout(gone["id"])
    p.to(at(15, 59, 59))
    assert overstays(core) == []
    p.to(at(16, 0))
    p.to(at(16, 30))
    alerts = overstays(core)
    assert len(alerts) == 1 and alerts[0]["kind"] == "overstay"
    text = alerts[0]["text"]
    assert "1 tamu masih menunggu" in text and "Tamu #1 (kartu TAMU-01)" in text
    assert "7 jam 0 menit" in text and "Tamu #2" not in text and "Tamu #3" not in text
    assert "Ani" not in text  # alerts and their logbook entries never name a guest
    p.to(at(20, 59))
    assert len(overstays(core)) == 1
    p.to(at(21, 0))
    p.to(at(21, 5))
    alerts = overstays(core)
    assert len(alerts) == 2
    listing = alerts[1]["text"]
    assert "2 tamu masih di dalam" in listing
    assert "Tamu #1 (kartu TAMU-01) untuk Sekretaris, 12 jam 0 menit" in listing
    assert "Tamu #2 (kartu TAMU-02) untuk Ketua KPU" in listing
    assert any("Tamu #2 (kartu TAMU-02)" in t and "21:00" in t for t in logbook_texts(core))
    assert not any(n in t for t in logbook_texts(core) for n in ("Ani", "Budi", "Maju"))
    # A restart the same evening does not fire the rules again (the marker is in meta).
    p.stop()
    core = p.start()
    p.to(at(22, 0))
    assert len(overstays(core)) == 2
    # The next day they fire again for whoever is still inside.
    p.to(at(16, 0, day=23))
    assert len(overstays(core)) == 3


def test_nobody_inside_at_2100_is_logged(post):
    p = post(at(20, 0))
    core = p.start()
    core.visits.checkout(core.visits.register(guest())["id"])
    p.to(at(21, 0))
    assert core.alerts.list() == []
    assert "Pukul 21:00: semua tamu sudah keluar" in logbook_texts(core)


def test_rules_cost_nothing_once_done(post):
    p = post(at(21, 30))
    core = p.start()
    statements = []
    core.store._conn.set_trace_callback(statements.append)
    for _ in range(5):
        core.visiting_rules.check(at(21, 31))
    core.store._conn.set_trace_callback(None)
    assert statements == []


def test_old_visits_lose_their_personal_data(post):
    p = post(at(10, 0))
    core = p.start()
    old = core.visits.register(guest())
    core.visits.checkout(old["id"])
    still = core.visits.register(guest(id_number=nik(9)))
    p.to(dt.datetime(2027, 2, 19, 10, 0, tzinfo=WIB))  # 89 days later: kept
    assert core.visits.get(old["id"])["name"] == "Budi Santoso"
    p.to(dt.datetime(2027, 2, 21, 10, 0, tzinfo=WIB))  # 91 days
    purged = rows(core, "SELECT * FROM visits WHERE id = ?", old["id"])[0]
    assert purged["name"] == "" and purged["phone"] == "" and purged["id_hash"] is None
    assert core.visits.get(still["id"])["name"] == "Budi Santoso"  # still on site: kept
    assert any("Data pribadi 1 kunjungan" in t for t in logbook_texts(core))


# -- evacuation roll call --------------------------------------------------------------------


def test_roll_call_during_fire_lands_in_the_logbook(post):
    p = post(at(14, 0))
    core = p.start()
    ani = core.visits.register(guest(id_number=nik(1), name="Ani Lestari", party_size=3))
    budi = core.visits.register(guest(id_number=nik(2)))
    core.visits.checkout(core.visits.register(guest(id_number=nik(3), name="Citra"))["id"])
    core.guards.add("Petugas Jaga", "4321")
    core.sessions.start(core.guards.login("4321"))
    assert core.rollcall.current(full=True) == {"active": False, "people": []}
    alarm = core.raise_alarm("fire", actor="Petugas Jaga")
    call = core.rollcall.current(full=False)
    assert call["active"] and call["code"] == "fire" and call["total"] == 3
    people = {(x["kind"], x["id"]): x for x in call["people"]}
    assert people[("guest", ani["id"])] == {
        "kind": "guest", "id": ani["id"], "party_size": 3, "checked": False, "checked_at": None,
        "checked_by": None, "badge": "TAMU-01", "host": "Sekretaris", "name": "Ani L."}
    assert people[("guard", 1)]["name"] == "Petugas Jaga"
    ticked = core.rollcall.check_off("guest", ani["id"], actor="Petugas Jaga")
    assert ticked["checked"] is True and ticked["checked_by"] == "Petugas Jaga"
    core.rollcall.check_off("guest", ani["id"], actor="Petugas Jaga")  # twice is harmless
    core.rollcall.check_off("guard", 1, actor="Petugas Jaga")
    # A second evacuation alarm joins the same roll call.
    core.raise_alarm("evacuation", actor="Petugas Jaga")
    assert core.rollcall.current(full=True)["checked"] == 2
    p.clock.advance(20 * 60)
    core.clear(alarm.id, actor="Petugas Jaga")
    assert core.rollcall.current(full=True)["active"] is True  # evacuation still on
    core.raise_alarm("all_clear", actor="Petugas Jaga")
    assert core.rollcall.current(full=True)["active"] is False
    entry = next(t for t in logbook_texts(core) if t.startswith("Apel evakuasi selesai"))
    assert "(14:00-14:20): 2 dari 3 hadir" in entry
    present, absent = entry.split("Belum tercatat hadir:")
    assert (f"Tamu #{ani['id']} (kartu TAMU-01) (tamu, tuan rumah Sekretaris, 3 orang) 14:00 "
            "oleh") in present
    assert "Petugas Jaga (petugas" in present
    assert f"Tamu #{budi['id']} (kartu TAMU-02) (tamu, tuan rumah Sekretaris)" in absent
    assert budi["badge"] == "TAMU-02"
    assert not any(n in entry for n in ("Ani", "Budi", "Citra", "Lestari", "Santoso"))
    assert core.logbook.verify().ok


def test_roll_call_rule(post):
    settings = post(at(10, 0)).settings
    codes = {code for code, spec in settings.alarms.items() if evacuates(code, spec)}
    assert codes == {"fire", "disaster", "evacuation"}
    p = post(at(10, 0))
    core = p.start()
    core.raise_alarm("crime", actor="x")
    assert core.rollcall.current(full=True)["active"] is False
    with pytest.raises(Conflict):
        core.rollcall.check_off("guest", 1, actor="x")
