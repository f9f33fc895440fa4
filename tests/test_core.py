"""The core on simulated hardware and a simulated clock: relays, alarms, button, SMS, restarts."""

import datetime as dt
import time
from pathlib import Path

import pytest
from conftest import WIB, at

from drivers import hardware
from drivers.errors import DeviceError
from kiosk.clock import Trust
from kiosk.core.daemon import Core
from kiosk.store import Logbook, Store


def test_start_at_1810_comes_up_with_lights_on_and_no_glitch(post):
    p = post(at(18, 10))
    core = p.start()
    assert p.relay("lights") is True
    assert p.relay("gate_lock") is False
    # The relay pins went straight to their level: no click at start-up.
    pins = core.hw.sim.pin_factory
    # Active-low: energised = low. The lights pin was never high, so the relay never dropped.
    assert {s.state for s in pins.pin(17).states} == {False}
    gate = [s.state for s in pins.pin(27).states]
    assert gate[-1] is True and gate.count(True) == 1  # driven high once, and left there
    assert core.status.relays["lights"].source == "schedule"


def test_day_boundaries(post):
    p = post(at(16, 59, 59))
    p.start()
    assert p.relay("lights") is False
    p.to(at(17, 0, 0))
    assert p.relay("lights") is True
    p.to(at(20, 59, 59))
    assert p.relay("gate_lock") is False
    p.to(at(21, 0, 0))
    assert p.relay("gate_lock") is True
    p.to(at(5, 29, 59, day=23))
    assert p.relay("lights") is True
    p.to(at(5, 30, 0, day=23))
    assert p.relay("lights") is False
    assert p.relay("gate_lock") is True
    p.to(at(6, 0, 0, day=23))
    assert p.relay("gate_lock") is False


def test_clock_jumps_back_and_forward(post):
    p = post(at(18, 0))
    p.start()
    assert p.relay("lights")
    p.to(at(12, 0))
    assert not p.relay("lights")
    p.to(at(23, 0))
    assert p.relay("lights") and p.relay("gate_lock")


def test_every_change_is_logged_with_its_cause(post):
    p = post(at(16, 59))
    core = p.start()
    p.to(at(17, 0))
    with core.store.read() as conn:
        rows = conn.execute("SELECT relay, is_on, source FROM relay_log ORDER BY id").fetchall()
    assert [tuple(r) for r in rows][-1] == ("lights", 1, "schedule")
    texts = [e["text"] for e in core.logbook.entries(query="lights")]
    assert any("Relay lights ON (schedule: on 17:00-05:30)" in t for t in texts)


@pytest.mark.parametrize("hour", [0, 3, 5, 6, 9, 12, 17, 20, 21, 23])
def test_restart_at_any_time_of_day_comes_back_right(post, hour):
    p = post(at(hour, 30))
    p.start()
    expected_lights = hour >= 17 or hour < 5
    expected_gate = hour >= 21 or hour < 6
    assert (p.relay("lights"), p.relay("gate_lock")) == (expected_lights, expected_gate)
    p.stop()
    p.clock.advance(3600)
    p.start()
    hour = (hour + 1) % 24
    assert p.relay("lights") == (hour >= 17 or hour < 5)
    assert p.relay("gate_lock") == (hour >= 21 or hour < 6)


def test_untrusted_clock_holds_safe_state_and_says_why(post):
    p = post(dt.datetime(2000, 1, 1, 12, 0, tzinfo=WIB), trusted=False)
    core = p.start(ntp=lambda: False)
    assert core.status.clock_trusted is False
    assert "before this software was built" in core.status.clock_reason
    assert p.relay("lights") is True  # safe state "on"
    assert p.relay("gate_lock") is False  # safe state "off": released
    assert core.status.relays["lights"].source == "safe_state"
    assert any("Jam:" in e["text"] and "safe state" in e["text"]
               for e in core.logbook.entries())


def test_override_until_minutes_then_schedule_again(post):
    p = post(at(18, 0))
    core = p.start()
    core.override("lights", on=False, minutes=30, reason="lampu taman rusak", actor="Budi")
    assert p.relay("lights") is False
    assert core.status.relays["lights"].source == "override"
    p.to(at(18, 29))
    assert p.relay("lights") is False
    p.to(at(18, 30))
    assert p.relay("lights") is True


def test_override_until_next_scheduled_change(post):
    p = post(at(12, 0))
    core = p.start()
    found = core.override("gate_lock", on=True, minutes=None, reason="rapat", actor="Budi")
    assert found.expires_at == at(21, 0)
    assert p.relay("gate_lock") is True
    p.to(at(20, 59))
    assert p.relay("gate_lock") is True
    p.to(at(6, 0, day=23))
    assert p.relay("gate_lock") is False


def test_fire_unlocks_gate_and_lights_on_whatever_the_schedule(post):
    p = post(at(23, 0))
    core = p.start()
    assert p.relay("gate_lock") is True
    alarm = core.raise_alarm("fire", actor="Budi")
    assert p.relay("gate_lock") is False and p.relay("lights") is True
    assert core.hw.buzzer.is_playing
    core.acknowledge(alarm.id, actor="Budi")
    assert not core.hw.buzzer.is_playing  # acknowledged: silenced
    assert p.relay("gate_lock") is False  # still active: gate stays open
    core.clear(alarm.id, actor="Budi")
    assert p.relay("gate_lock") is True


def test_raised_alarm_keeps_sounding_across_restart(post):
    p = post(at(23, 0))
    core = p.start()
    core.raise_alarm("evacuation", actor="Budi")
    p.stop()
    core = p.start()
    assert core.hw.buzzer.is_playing
    assert core.hw.buzzer.pattern.steps == ((3.0, 1.0),)
    assert p.relay("gate_lock") is False
    (active,) = core.alarms.active()
    assert active.code == "evacuation" and active.state == "raised"


def test_all_clear_ends_every_alarm(post):
    p = post(at(10, 0))
    core = p.start()
    core.raise_alarm("fire", actor="Budi")
    core.raise_alarm("crime", actor="Budi")
    core.raise_alarm("all_clear", actor="Budi")
    assert core.alarms.active() == []
    assert core.hw.buzzer.pattern is None or core.hw.buzzer.pattern.repeat == 1


def test_same_alarm_twice_is_not_doubled(post):
    p = post(at(10, 0))
    core = p.start()
    first = core.raise_alarm("crime", actor="Budi")
    again = core.raise_alarm("crime", actor="Ani")
    assert first.id == again.id
    assert len(core.alarms.sms_for(first.id)) == 2  # leadership + police, once each


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_panic_button_hold_raises_crime_with_buzzer_and_sms(post):
    p = post(at(2, 0))
    core = p.start()
    pin = core.settings.panic_button.pin
    core.hw.sim.press_button(pin)
    assert wait_for(lambda: core.alarms.active())
    core.hw.sim.release_button(pin)
    (alarm,) = core.alarms.active()
    assert alarm.code == "crime" and alarm.source == "panic_button"
    assert wait_for(lambda: core.hw.buzzer.is_playing)
    assert core.hw.buzzer.pattern.steps == ((0.2, 0.2), (0.2, 0.2), (0.2, 1.4))
    assert wait_for(lambda: len(core.hw.sim.modem.sent) == 2, timeout=10)
    numbers = sorted(number for number, _ in core.hw.sim.modem.sent)
    assert numbers == ["+6281100000001", "110"]
    assert all("TINDAK PIDANA" in text for _, text in core.hw.sim.modem.sent)
    assert wait_for(lambda: all(s["status"] == "sent" for s in core.alarms.sms_for(alarm.id)))


def test_panic_button_three_presses_raise_fire(post):
    p = post(at(22, 0))
    core = p.start()
    pin = core.settings.panic_button.pin
    for _ in range(3):
        core.hw.sim.press_button(pin)
        time.sleep(0.03)
        core.hw.sim.release_button(pin)
        time.sleep(0.03)
    assert wait_for(lambda: core.alarms.active())
    assert core.alarms.active()[0].code == "fire"
    assert wait_for(lambda: p.relay("gate_lock") is False)


def test_sms_failure_is_retried_then_recorded(post):
    p = post(at(10, 0))
    core = p.start()
    core.hw.sim.modem.cms_error = 330
    alarm = core.raise_alarm("disaster", actor="Budi")
    core.send_pending_sms()
    (sms,) = core.alarms.sms_for(alarm.id)
    assert sms["status"] == "pending" and sms["attempts"] == 1 and "330" in sms["error"]
    core.hw.sim.modem.cms_error = None
    core._sms_next_try.clear()
    core.send_pending_sms()
    (sms,) = core.alarms.sms_for(alarm.id)
    assert sms["status"] == "sent" and sms["attempts"] == 2 and sms["reference"]


def test_unplugged_thermometer_while_running_keeps_the_rest_working(post):
    p = post(at(10, 0))
    core = p.start()
    assert core.measure_temperature() == pytest.approx(36.6, abs=0.1)
    core.hw.sim.thermometer_bus.unplugged = True
    with pytest.raises(DeviceError, match="thermometer"):
        core.measure_temperature()
    p.to(at(17, 0))
    assert p.relay("lights") is True


def test_missing_device_at_start_is_reported_not_fatal(post, tmp_path):
    p = post(at(18, 0))
    store = Store(tmp_path / "other.db", now=p.clock.now)

    def broken_thermometer(initial):
        hw = hardware.build(p.settings, simulate=True, initial_states=initial)
        hw.thermometer = None
        hw.problems["thermometer"] = "I2C bus 1 not found"
        return hw

    core = Core(p.settings, store=store, clock=p.clock, build_hardware=broken_thermometer,
                trust=lambda now: Trust(True, "test"))
    core.start()
    try:
        assert core.status.devices == {"thermometer": "I2C bus 1 not found"}
        assert core.hw.relays["lights"].is_active
        with pytest.raises(DeviceError, match="measure by hand"):
            core.measure_temperature()
        assert any("thermometer tidak tersedia" in e["text"] for e in core.logbook.entries())
    finally:
        core.stop()


def test_tasks_planned_and_flagged(post):
    p = post(at(16, 0))
    core = p.start()
    tasks = {t.id.split(":")[1]: t for t in core.tasks.around() if t.day == "2026-11-22"}
    assert {"flag_lower", "rooms_locked", "guests_out", "flag_raise"} <= set(tasks)
    patrols = [t for t in core.tasks.around() if t.kind == "patrol" and t.day == "2026-11-22"]
    assert len(patrols) == 3
    for patrol in patrols:
        assert at(21, 0) <= patrol.due_at < at(5, 0, day=23)
    flag = tasks["flag_lower"]
    assert flag.status(at(16, 59)) == "pending"
    assert flag.status(at(17, 5)) == "due"
    assert flag.status(at(17, 15)) == "overdue"
    p.to(at(17, 20))
    done = core.tasks.mark_done(flag.id, actor="Budi")
    assert done.status(at(17, 20)) == "done"
    assert any("(terlambat)" in e["text"] for e in core.logbook.entries())


def test_patrol_times_survive_restart(post):
    p = post(at(20, 0))
    core = p.start()
    before = sorted(t.due_at for t in core.tasks.around() if t.kind == "patrol")
    p.stop()
    core = p.start()
    after = sorted(t.due_at for t in core.tasks.around() if t.kind == "patrol")
    assert before == after


def test_logbook_chain_valid_after_a_busy_day(post):
    p = post(at(16, 0))
    core = p.start()
    for hour in range(17, 24):
        p.to(at(hour, 0))
    alarm = core.raise_alarm("fire", actor="Budi")
    core.clear(alarm.id, actor="Budi")
    result = Logbook(core.store).verify()
    assert result.ok and result.checked > 5


def test_corrupt_database_is_set_aside_and_the_guard_told(post, tmp_path):
    p = post(at(18, 0))
    p.path.write_bytes(b"this is not a database, the SD card ate it" * 100)
    core = p.start()
    assert core.status.database_recovered_from
    assert Path(core.status.database_recovered_from).exists()
    assert p.relay("lights") is True  # the post carries on
    assert any("Database rusak disisihkan" in e["text"] for e in core.logbook.entries())


def test_unconfirmed_sms_is_not_resent(post):
    p = post(at(10, 0))
    core = p.start()
    core.hw.modem._send_timeout = 0.3
    core.hw.sim.modem.send_delay = 1.0  # the network confirms after the driver gave up
    alarm = core.raise_alarm("disaster", actor="Budi")
    core.send_pending_sms()
    (sms,) = core.alarms.sms_for(alarm.id)
    assert sms["status"] == "failed" and sms["attempts"] == 1
    assert "may still arrive" in sms["error"]
    time.sleep(1.2)
    core._sms_next_try.clear()
    core.send_pending_sms()
    assert len(core.hw.sim.modem.sent) == 1  # delivered once, never twice


def test_core_holds_the_modem_port_from_the_start(post):
    from drivers.modem import GsmModem, ModemError

    p = post(at(10, 0))
    core = p.start()
    with pytest.raises(ModemError, match="in use by another program"):
        GsmModem(core.hw.sim.modem.port).open()


def test_a_restart_logs_a_relay_only_when_it_really_changed(post):
    """A power cut is not a switch: the book (and hq, and the soak's count) see one ON at 17.00."""
    p = post(at(18, 10))
    p.start()
    p.stop()
    p.clock.jump(at(19, 0))
    core = p.start()
    with core.store.read() as conn:
        lights = conn.execute("SELECT ts FROM relay_log WHERE relay = 'lights'").fetchall()
    assert len(lights) == 1
    assert core.status.relays["lights"].since == lights[0]["ts"]  # on since before the cut
    p.stop()
    p.clock.jump(at(6, 0) + dt.timedelta(days=1))  # down across 05.30: the restart switches
    core = p.start()
    with core.store.read() as conn:
        states = [r["is_on"] for r in conn.execute(
            "SELECT is_on FROM relay_log WHERE relay = 'lights' ORDER BY id")]
    assert states == [1, 0]


def test_pin_hashing_holds_its_memory_once_whichever_thread_logs_in(tmp_path):
    """scrypt takes 16 MiB; glibc kept it in every API thread that ever checked a PIN."""
    import subprocess
    import sys

    script = (
        "import threading\n"
        "from kiosk.auth import hash_pin, verify_pin\n"
        "def rss():\n"
        "    line = [x for x in open('/proc/self/status') if x.startswith('VmRSS')][0]\n"
        "    return int(line.split()[1]) // 1024\n"
        "stored = hash_pin('1234')\n"
        "before = rss()\n"
        "threads = [threading.Thread(target=verify_pin, args=('1234', stored))\n"
        "           for _ in range(8)]\n"
        "for t in threads: t.start()\n"
        "for t in threads: t.join()\n"
        "print(rss() - before)\n")
    grown = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               check=True, cwd=Path(__file__).parent.parent).stdout)
    assert grown < 40  # MiB: 16 held once; before, every thread kept its own 16


def test_an_alarm_sms_outlives_an_hour_without_the_modem(post):
    """Retries run on the core's clock and go on for hours, not minutes."""
    p = post(at(10, 0))
    core = p.start()
    core.hw.sim.modem.cms_error = 42  # congestion: refused at once, every time
    alarm = core.raise_alarm("disaster", actor="Budi")
    core.send_pending_sms()
    for _ in range(16):  # 80 minutes in steps of 5
        p.clock.advance(300)
        core.send_pending_sms()
    (sms,) = core.alarms.sms_for(alarm.id)
    assert sms["status"] == "pending" and sms["attempts"] >= 12
    core.hw.sim.modem.cms_error = None
    core.send_pending_sms()  # not yet: the next try is due on the core's clock
    assert core.alarms.sms_for(alarm.id)[0]["status"] == "pending"
    p.clock.advance(300)
    core.send_pending_sms()
    assert core.alarms.sms_for(alarm.id)[0]["status"] == "sent"
