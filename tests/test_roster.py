"""The duty roster, backups, call-out and handover, through the API and the core's loop."""

import time

import pytest
from conftest import CONFIG, CountingStore, api_client, at, visit_body
from test_api import login

from kiosk import auth
from kiosk.config import ConfigError, parse
from kiosk.handover import REGISTERS, Handover, core_sources
from kiosk.roster import Roster

# 2026-11-23 is a Monday; the 25th, a Wednesday, is a holiday.
ROSTER = CONFIG + """
[calendar]
holidays = ["2026-11-25"]
[roster.guards]
"Budi Santoso" = "+62 812-0000-0001"
"Asep Sunandar" = "+6281200000002"
"Dedi Kurnia" = "+6281200000003"
"Eko Prasetyo" = "+6281200000004"
[roster.duty]
mon = [
    { shift = "pagi", guard = "Budi Santoso", backups = ["Asep Sunandar", "Dedi Kurnia"] },
    { shift = "malam", guard = "Asep Sunandar", backups = ["Budi Santoso", "Dedi Kurnia"] },
]
wed = [
    { shift = "pagi", guard = "Eko Prasetyo", backups = ["Budi Santoso", "Dedi Kurnia"] },
]
holiday = [
    { shift = "malam", guard = "Dedi Kurnia", backups = ["Budi Santoso", "Eko Prasetyo"] },
]
"""
BUDI, ASEP, DEDI, EKO = "2468", "1357", "4321", "8642"
PHONES = {"Budi Santoso": "+6281200000001", "Asep Sunandar": "+6281200000002",
          "Dedi Kurnia": "+6281200000003", "Eko Prasetyo": "+6281200000004"}
ADMIN, NOBODY = "9876", "1234"  # the simulator's admin, and its guard who is not on the roster


@pytest.fixture
def make(post, monkeypatch):
    # Cheap hashes for the six test guards; the stored parameters keep verification honest.
    monkeypatch.setattr(auth, "SCRYPT_N", 2**4)

    def start(moment, text=ROSTER):
        p = post(moment, text=text)
        core = p.start()
        api = api_client(p)
        for name, pin in (("Budi Santoso", BUDI), ("Asep Sunandar", ASEP),
                          ("Dedi Kurnia", DEDI), ("Eko Prasetyo", EKO)):
            core.guards.add(name, pin)
        return p, core, api
    return start


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def roster_sms(core):
    with core.store.read() as conn:
        return [dict(r) for r in conn.execute(
            "SELECT number, text, status FROM sms WHERE alarm_id IS NULL ORDER BY id")]


def delivered(core, count):
    """What the simulated modem got, once the core's sender has worked through the queue.

    The core's SMS thread runs send_pending_sms() every second; a second caller here could
    pick up the same pending row in the same moment and send it twice.
    """
    assert wait_for(lambda: not core.alarms.pending_sms()
                    and len(core.hw.sim.modem.sent) >= count)
    return sorted(core.hw.sim.modem.sent)


def on_duty(api):
    response = api.get("/api/v1/roster/now", headers=login(api, NOBODY))
    assert response.status_code == 200, response.text
    return [(d["date"], d["shift"], d["guard"], d["backups"]) for d in response.json()["on_duty"]]


def test_routes_need_a_token_and_are_in_the_schema(make):
    _, _, api = make(at(10, 0, day=23))
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/roster", "/api/v1/roster/now", "/api/v1/roster/{day}",
                 "/api/v1/roster/checkin", "/api/v1/roster/callouts", "/api/v1/handover",
                 "/api/v1/handover/summary"):
        assert path in paths, path
    assert api.get("/api/v1/roster").status_code == 401
    assert api.get("/api/v1/handover/summary").status_code == 401
    assert api.post("/api/v1/roster/checkin").status_code == 401


def test_duty_now_across_midnight_and_on_a_holiday(make):
    p, core, api = make(at(10, 0, day=23))
    assert on_duty(api) == [
        ("2026-11-23", "pagi", "Budi Santoso", ["Asep Sunandar", "Dedi Kurnia"])]
    p.to(at(2, 0, day=24))  # Monday's night shift is still Monday's duty on Tuesday morning
    assert on_duty(api) == [
        ("2026-11-23", "malam", "Asep Sunandar", ["Budi Santoso", "Dedi Kurnia"])]
    p.to(at(10, 0, day=24))  # Tuesday has nobody on the roster
    assert on_duty(api) == []
    p.to(at(10, 0, day=25))  # the holiday's duty replaces Wednesday's
    assert on_duty(api) == []
    p.to(at(3, 0, day=26))
    assert on_duty(api) == [
        ("2026-11-25", "malam", "Dedi Kurnia", ["Budi Santoso", "Eko Prasetyo"])]

    headers = login(api, NOBODY)
    week = api.get("/api/v1/roster", params={"start": "2026-11-23"}, headers=headers).json()
    assert week["today"] == "2026-11-26" and len(week["days"]) == 7
    assert [(d["date"], d["day_key"], d["holiday"]) for d in week["days"][:3]] == [
        ("2026-11-23", "mon", False), ("2026-11-24", "tue", False),
        ("2026-11-25", "holiday", True)]
    monday = week["days"][0]["duties"]
    assert [(d["shift"], d["start"], d["end"]) for d in monday] == [
        ("pagi", "2026-11-23T08:00:00+07:00", "2026-11-23T17:00:00+07:00"),
        ("malam", "2026-11-23T17:00:00+07:00", "2026-11-24T08:00:00+07:00")]
    assert week["on_duty"][0]["guard"] == "Dedi Kurnia"
    assert week["guards"] == list(PHONES)
    assert [s["name"] for s in week["shifts"]] == ["pagi", "malam"]


def test_missed_checkin_texts_each_backup_once_even_after_a_restart(make):
    p, core, api = make(at(7, 0, day=23))
    p.to(at(8, 14, day=23))
    assert roster_sms(core) == []
    p.to(at(8, 16, day=23))  # 15 minutes after 08:00 and Budi has not checked in
    assert sorted(s["number"] for s in roster_sms(core)) == [PHONES["Asep Sunandar"],
                                                              PHONES["Dedi Kurnia"]]
    sent = delivered(core, 2)
    assert [number for number, _ in sent] == [PHONES["Asep Sunandar"], PHONES["Dedi Kurnia"]]
    assert all("Budi Santoso belum hadir" in text and len(text) <= 160 for _, text in sent)

    headers = login(api, NOBODY)
    alerts = [a for a in api.get("/api/v1/alerts", headers=headers).json()["alerts"]
              if a["kind"] == "roster_missed"]
    assert len(alerts) == 1
    assert "Asep Sunandar dan Dedi Kurnia" in alerts[0]["text"]
    lines = api.get("/api/v1/logbook", params={"q": "tidak hadir"}).json()["entries"]
    assert [e["category"] for e in lines] == ["piket"]
    (duty,) = api.get("/api/v1/roster/now", headers=headers).json()["on_duty"]
    assert duty["backups_called_at"].startswith("2026-11-23T08:16")

    p.to(at(8, 40, day=23))  # later ticks do not text again
    assert len(roster_sms(core)) == 2

    p.stop()
    core = p.start()
    p.to(at(9, 0, day=23))
    assert len(roster_sms(core)) == 2 and not core.alarms.pending_sms()
    core.send_pending_sms()  # nothing queued, so no race with the core's sender
    time.sleep(1.2)  # and one pass of the core's own sender
    assert core.hw.sim.modem.sent == []


def test_no_sms_when_the_guard_checked_in(make):
    p, core, api = make(at(7, 30, day=23))
    response = api.post("/api/v1/roster/checkin", headers=login(api, BUDI))
    assert response.status_code == 200, response.text
    checkin = response.json()
    assert checkin == {"day": "2026-11-23", "shift": "pagi", "guard": "Budi Santoso",
                       "role": "guard", "via": "checkin", "at": "2026-11-23T07:30:00.000+07:00"}
    again = api.post("/api/v1/roster/checkin", headers=login(api, BUDI))
    assert again.json() == checkin
    p.to(at(8, 30, day=23))
    p.to(at(12, 0, day=23))
    assert roster_sms(core) == []
    headers = login(api, NOBODY)
    alerts = api.get("/api/v1/alerts", headers=headers).json()["alerts"]
    assert [a for a in alerts if a["kind"] == "roster_missed"] == []
    (duty,) = api.get("/api/v1/roster/now", headers=headers).json()["on_duty"]
    assert duty["checkins"][0]["guard"] == "Budi Santoso" and duty["backups_called_at"] is None
    response = api.post("/api/v1/roster/checkin", headers=headers)
    assert response.status_code == 409 and response.json()["detail_id"]


def test_a_backup_standing_in_covers_the_shift(make):
    p, core, api = make(at(8, 5, day=23))
    response = api.post("/api/v1/roster/checkin", headers=login(api, DEDI))
    assert response.json()["role"] == "backup" and response.json()["shift"] == "pagi"
    p.to(at(9, 0, day=23))
    assert roster_sms(core) == []


def test_nothing_is_sent_while_the_clock_is_untrusted(make):
    p, core, api = make(at(7, 0, day=23))
    p.clock.jump(at(9, 0, day=23))
    Roster(core.store, core.settings, now=core.clock.now, alerts=core.alerts,
           trusted=lambda: False).check()
    assert roster_sms(core) == []


def test_the_loop_reads_the_store_only_when_a_checkin_can_fall_due(make):
    p, core, api = make(at(7, 0, day=23))
    store = CountingStore(core.store)
    roster = Roster(store, core.settings, now=core.clock.now, alerts=core.alerts)
    roster.check(at(7, 0, day=23))
    assert store.uses
    store.uses = 0
    for moment in [at(7, m, day=23) for m in range(0, 60, 5)] + [at(8, m, day=23)
                                                                  for m in range(15)]:
        roster.check(moment)
    assert store.uses == 0 and roster_sms(core) == []
    roster.check(at(8, 15, day=23))  # Budi's grace has run out
    assert store.uses and len(roster_sms(core)) == 2
    store.uses = 0
    roster.check(at(12, 0, day=23))
    assert store.uses == 0
    roster.check(at(8, 10, day=23))  # a clock set back looks again
    assert store.uses and len(roster_sms(core)) == 2


def test_admin_override_wins_over_the_config(make):
    p, core, api = make(at(7, 0, day=23))
    body = {"duties": [{"shift": "pagi", "guard": "eko prasetyo",
                        "backups": ["Budi Santoso", "Dedi Kurnia"]}],
            "reason": "Budi cuti"}
    response = api.put("/api/v1/roster/2026-11-23", json=body, headers=login(api, NOBODY))
    assert response.status_code == 403
    admin = login(api, ADMIN)
    response = api.put("/api/v1/roster/2026-11-23", json=body, headers=admin)
    assert response.status_code == 200, response.text
    day = response.json()
    assert day["source"] == "override" and day["override"]["reason"] == "Budi cuti"
    assert [(d["shift"], d["guard"], d["source"]) for d in day["duties"]] == [
        ("pagi", "Eko Prasetyo", "override")]  # the roster's spelling; no night shift that day

    p.to(at(8, 16, day=23))
    admin = login(api, ADMIN)
    assert on_duty(api) == [
        ("2026-11-23", "pagi", "Eko Prasetyo", ["Budi Santoso", "Dedi Kurnia"])]
    assert sorted(s["number"] for s in roster_sms(core)) == [PHONES["Budi Santoso"],
                                                              PHONES["Dedi Kurnia"]]
    assert all("Eko Prasetyo belum hadir" in s["text"] for s in roster_sms(core))

    bad = dict(body, duties=[dict(body["duties"][0], guard="Siapa")])
    response = api.put("/api/v1/roster/2026-11-24", json=bad, headers=admin)
    assert response.status_code == 422 and response.json()["field"] == "duties[0]"
    twice = dict(body, duties=[dict(body["duties"][0], backups=["Budi Santoso", "Budi Santoso"])])
    assert api.put("/api/v1/roster/2026-11-24", json=twice, headers=admin).status_code == 422

    response = api.delete("/api/v1/roster/2026-11-23", headers=admin)
    assert response.status_code == 200 and response.json()["source"] == "config"
    assert on_duty(api)[0][2] == "Budi Santoso"
    assert api.delete("/api/v1/roster/2026-11-23", headers=admin).status_code == 404
    assert api.get("/api/v1/logbook", params={"q": "Jadwal piket 23-11-2026 diubah"}
                   ).json()["entries"]


def test_callout_texts_the_off_duty_guards(make):
    p, core, api = make(at(10, 0, day=22))  # a Sunday: nobody on the roster, no backups texted
    body = {"date": "2026-11-23", "time": "19:00", "note": "Rapat pleno rekapitulasi",
            "guards": None}
    assert api.post("/api/v1/roster/callouts", json=body,
                    headers=login(api, BUDI)).status_code == 403
    admin = login(api, ADMIN)
    response = api.post("/api/v1/roster/callouts", json=body, headers=admin)
    assert response.status_code == 201, response.text
    callout = response.json()
    # Asep has the night shift at 19:00; the others are off duty then.
    assert [g["name"] for g in callout["guards"]] == ["Budi Santoso", "Dedi Kurnia",
                                                      "Eko Prasetyo"]
    assert callout["event_at"] == "2026-11-23T19:00:00.000+07:00"
    sent = delivered(core, 3)
    assert [number for number, _ in sent] == [PHONES["Budi Santoso"], PHONES["Dedi Kurnia"],
                                              PHONES["Eko Prasetyo"]]
    assert all(text.startswith("PANGGILAN TUGAS: mohon hadir 23-11-2026 pukul 19:00. Rapat "
                               "pleno rekapitulasi.") for _, text in sent)

    chosen = dict(body, guards=["eko  prasetyo"])
    response = api.post("/api/v1/roster/callouts", json=chosen, headers=admin)
    assert [g["name"] for g in response.json()["guards"]] == ["Eko Prasetyo"]
    listed = api.get("/api/v1/roster/callouts", headers=admin).json()["callouts"]
    assert [c["id"] for c in listed] == [2, 1]
    assert {g["sms_status"] for g in listed[1]["guards"]} == {"sent"}
    unknown = dict(body, guards=["Siapa"])
    assert api.post("/api/v1/roster/callouts", json=unknown, headers=admin).status_code == 422
    past = dict(body, date="2026-11-21")
    assert api.post("/api/v1/roster/callouts", json=past, headers=admin).status_code == 422
    assert api.get("/api/v1/logbook", params={"q": "Panggilan tugas #1"}).json()["entries"]


def test_handover_summary_lists_what_is_open(make):
    p, core, api = make(at(16, 50, day=23))
    headers = login(api, BUDI)
    guest = api.post("/api/v1/visits", json=visit_body())
    assert guest.status_code == 201, guest.text
    assert api.post("/api/v1/alarms", json={"code": "crime"}, headers=headers).status_code == 201
    override = {"on": True, "minutes": 30, "reason": "perbaikan pagar"}
    assert api.post("/api/v1/relays/gate_lock/override", json=override,
                    headers=headers).status_code == 200

    summary = api.get("/api/v1/handover/summary", headers=headers).json()
    sections = summary["sections"]
    assert [(g["badge"], g["name"], g["host"]) for g in sections["guests"]] == [
        (guest.json()["badge"], "Budi S.", "Sekretaris")]
    assert [(a["code"], a["state"]) for a in sections["alarms"]] == [("crime", "raised")]
    assert [(o["relay"], o["on"], o["reason"]) for o in sections["overrides"]] == [
        ("gate_lock", True, "perbaikan pagar")]
    assert summary["counts"]["guests"] == 1 and summary["counts"]["alarms"] == 1
    open_alerts = [a for a in api.get("/api/v1/alerts", headers=headers).json()["alerts"]
                   if a["resolved_at"] is None]
    assert [a["id"] for a in sections["alerts"]] == [a["id"] for a in open_alerts]
    assert summary["counts"]["alerts"] == len(open_alerts) and summary["unavailable"] == {}
    for name in ("sop_runs", "items_lent", "vehicles_lent", "vehicles_inside", "packages",
                 "tasks"):
        assert name in sections, name


def test_handover_with_the_incoming_pin(make):
    p, core, api = make(at(16, 50, day=23))
    outgoing = login(api, BUDI)
    api.post("/api/v1/visits", json=visit_body())
    response = api.post("/api/v1/handover", json={"incoming_pin": ASEP, "note": "Kunci gudang "
                                                  "dipegang Kasubbag Umum"}, headers=outgoing)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["outgoing"]["name"] == "Budi Santoso"
    assert record["incoming"]["name"] == "Asep Sunandar" and record["role"] == "guard"
    assert record["at"] == "2026-11-23T16:50:00.000+07:00"
    assert record["summary"]["counts"]["guests"] == 1
    assert record["checkin"] == {"day": "2026-11-23", "shift": "malam", "guard": "Asep Sunandar",
                                 "role": "guard", "via": "handover",
                                 "at": "2026-11-23T16:50:00.000+07:00"}
    assert api.get("/api/v1/roster/now", headers=outgoing).status_code == 401  # ended
    incoming = {"Authorization": f"Bearer {record['token']}"}
    (past,) = api.get("/api/v1/handover", headers=incoming).json()["handovers"]
    assert past["id"] == record["id"] and past["note"] == "Kunci gudang dipegang Kasubbag Umum"
    assert past["summary"] == record["summary"]
    (guest,) = past["summary"]["sections"]["guests"]  # named by visit and badge only
    assert guest["badge"] and "name" not in guest

    (line,) = api.get("/api/v1/logbook", params={"q": "Serah terima tugas jaga"}).json()["entries"]
    assert line["category"] == "serah-terima" and line["actor"] == "Budi Santoso"
    assert "dari Budi Santoso kepada Asep Sunandar" in line["text"]
    assert "tamu di lokasi: 1" in line["text"] and "Catatan: Kunci gudang" in line["text"]
    kinds = [e["kind"] for e in core.store.outbox_pending(1000)]
    assert "handover.accepted" in kinds and "roster.checkin" in kinds

    p.to(at(17, 30, day=23))  # Asep took over: the night shift needs no backups
    assert [s for s in roster_sms(core) if "shift malam" in s["text"]] == []
    assert core.logbook.verify().ok


def test_a_broken_source_does_not_block_the_handover(make):
    p, core, api = make(at(16, 50, day=22))

    def packages():
        raise RuntimeError("register offline")

    handover = Handover(core.store, now=core.clock.now, guards=core.guards, roster=core.roster,
                        sources={"alarms": lambda: [{"id": 7, "code": "fire"}],
                                 "packages": packages})
    summary = handover.summary()
    assert summary["sections"] == {"alarms": [{"id": 7, "code": "fire"}]}
    assert summary["counts"] == {"alarms": 1}
    assert summary["unavailable"] == {"packages": "register offline"}
    outgoing = core.guards.login(BUDI)
    record, incoming = handover.accept(outgoing, incoming_pin=DEDI, note="")
    assert incoming.name == "Dedi Kurnia" and record["checkin"] is None  # no shift on Sunday
    (line,) = core.logbook.entries(query="Serah terima tugas jaga")
    assert "alarm aktif: 1" in line["text"] and "Tidak tersedia: packages" in line["text"]


def test_the_summary_reads_the_registers_in_one_go(make, monkeypatch):
    p, core, api = make(at(16, 50, day=23))
    reads = []
    outstanding = core.registers.outstanding
    monkeypatch.setattr(core.registers, "outstanding", lambda: reads.append(1) or outstanding())
    handover = Handover(core.store, now=core.clock.now, guards=core.guards, roster=core.roster,
                        sources=core_sources(core))
    summary = handover.summary()
    assert len(reads) == 1 and summary["unavailable"] == {}
    assert [name for name in summary["sections"] if name in REGISTERS] == list(REGISTERS)


def test_handover_refuses_a_wrong_pin_and_locks_out(make):
    p, core, api = make(at(16, 50, day=23))
    outgoing = login(api, BUDI)
    own = api.post("/api/v1/handover", json={"incoming_pin": BUDI}, headers=outgoing)
    assert own.status_code == 422 and own.json()["field"] == "incoming_pin"
    for left in (4, 3, 2, 1):
        response = api.post("/api/v1/handover", json={"incoming_pin": "0000"}, headers=outgoing)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "incoming_pin"
        assert f"{left} {'try' if left == 1 else 'tries'} left" in response.json()["detail"]
    response = api.post("/api/v1/handover", json={"incoming_pin": "0000"}, headers=outgoing)
    assert response.status_code == 429 and "locked" in response.json()["detail"]
    response = api.post("/api/v1/handover", json={"incoming_pin": ASEP}, headers=outgoing)
    assert response.status_code == 429  # the lockout holds even for the right PIN
    assert api.get("/api/v1/handover", headers=outgoing).json()["handovers"] == []


def config_problems(text):
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value.problems


def test_config_errors_are_one_line():
    guards = '[roster.guards]\nBudi = "+6281200000001"\nAsep = "+6281200000002"\n' \
             'Dedi = "+6281200000003"\n'
    assert config_problems(
        guards + '[roster.duty]\nmon = [{ shift = "pagi", guard = "Budy", '
                 'backups = ["Asep", "Dedi"] }]\n') == [
        "kiosk.toml: roster.duty.mon[0].guard = \"Budy\": not in [roster.guards] "
        "(did you mean 'Budi'?); guards are Budi, Asep, Dedi"]
    assert config_problems(
        guards + '[roster.duty]\nmon = [{ shift = "siang", guard = "Budi", '
                 'backups = ["Asep", "Dedi"] }]\n') == [
        'kiosk.toml: roster.duty.mon[0].shift = "siang": no such shift in roster.shifts; '
        "shifts are pagi, malam"]
    assert config_problems(
        guards + '[roster.duty]\nsen = [{ shift = "pagi", guard = "Budi", '
                 'backups = ["Asep", "Dedi"] }]\n') == [
        "kiosk.toml: roster.duty.sen: not a day (did you mean 'sun'?); use mon, tue, wed, thu, "
        "fri, sat, sun, holiday"]
    (line,) = config_problems('[roster.guards]\nBudi = "0812345678"\n')
    assert line.startswith('kiosk.toml: roster.guards: Budi = "0812345678": not a mobile number')
    (line,) = config_problems(guards + '[roster.duty]\nmon = [{ shift = "pagi", guard = "Budi", '
                                       'backups = ["Asep"] }]\n')
    assert line.endswith("name two backups (SOP 20: the two other guards stand in)")
    for problem in config_problems('[roster]\ncheckin_grace_minutes = 0\nshifts = [{ name = '
                                   '"pagi", start = "08:00", end = "25:00" }]\n'):
        assert "\n" not in problem and problem.startswith("kiosk.toml: roster.")


def test_an_empty_roster_is_valid_and_quiet(make):
    p, core, api = make(at(7, 0, day=23), text=CONFIG)
    p.to(at(9, 0, day=23))
    assert on_duty(api) == []
    assert api.post("/api/v1/roster/checkin", headers=login(api, NOBODY)).status_code == 409
    assert roster_sms(core) == []
