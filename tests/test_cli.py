"""The ``kiosk`` command as an installer meets it: real processes, real exit codes."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARDWARE_LIBS = {"gpiozero", "smbus2", "serial", "cv2", "pyzbar", "zxingcpp", "lgpio"}


def kiosk(*args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if k not in ("GPIOZERO_PIN_FACTORY", "KIOSK_CONFIG")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
        env=env, cwd=ROOT, timeout=timeout,
    )


def test_broken_config_stops_every_command_with_exit_2(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[relays.lights]\npin = 41\n[site]\ntimezone = "Asia/Jakart"\n')
    for command in ("config", "doctor", "sim"):
        result = kiosk("--config", str(path), command)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert lines[0] == f"{path}: site.timezone = \"Asia/Jakart\": unknown timezone " \
            "(did you mean Asia/Jakarta?); Indonesia uses Asia/Jakarta, Asia/Makassar or " \
            "Asia/Jayapura"
        assert lines[1] == f"{path}: relays.lights.pin = 41: not a BCM GPIO pin (0-27)"
        assert "Traceback" not in result.stderr + result.stdout


def test_missing_config_file_via_environment(tmp_path):
    result = kiosk("config", env_extra={"KIOSK_CONFIG": str(tmp_path / "gone.toml")})
    assert result.returncode == 2
    assert "gone.toml: file not found" in result.stderr


def test_config_without_file_uses_simulator_defaults(tmp_path):
    result = kiosk("--data-dir", str(tmp_path), "config")
    assert result.returncode == 0, result.stderr
    assert "built-in simulator defaults" in result.stdout
    assert "relay lights: GPIO17, on 17:00 off 05:30" in result.stdout
    assert "relay gate_lock: GPIO27, on 21:00 off 06:00" in result.stdout
    assert f"data dir: {tmp_path}" in result.stdout


def test_doctor_without_hardware_fails_clearly_one_line_per_device():
    result = kiosk("doctor", timeout=90)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines()
             if line.split() and line.split()[0] in ("OK", "FAIL", "SKIP", "WARN")}
    for device in ("gpio", "relays.lights", "relays.gate_lock", "buzzer", "panic_button",
                   "thermometer", "camera", "qr_decoder", "scanner", "modem"):
        assert device in lines, result.stdout
    assert lines["gpio"].startswith("FAIL")
    assert lines["thermometer"].startswith("FAIL") and "enable I2C" in lines["thermometer"]
    assert lines["camera"].startswith("FAIL")
    assert lines["qr_decoder"].startswith("OK")
    assert lines["scanner"].startswith("SKIP") and lines["modem"].startswith("SKIP")


def test_doctor_reports_a_configured_serial_port_that_is_missing(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[modem]\nport = "/dev/ttyUSB97"\n[scanner]\nport = "/dev/ttyACM97"\n')
    result = kiosk("--config", str(path), "doctor", timeout=90)
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.strip()}
    assert lines["modem"].startswith("FAIL") and "ttyUSB97" in lines["modem"]
    assert lines["scanner"].startswith("FAIL") and "ttyACM97" in lines["scanner"]
    assert "Traceback" not in result.stdout + result.stderr


def test_doctor_on_the_simulated_set_is_all_ok():
    result = kiosk("doctor", "--simulate", "--relays", "--buzzer", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    body = [line for line in result.stdout.splitlines() if not line.startswith("note:")]
    assert len(body) == 9
    assert all(line.startswith("OK") for line in body), result.stdout
    assert any("clicked" in line for line in body)


def test_sim_once_exercises_every_device():
    result = kiosk("sim", "--once", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "relay lights (GPIO17): switched on -> on" in out
    assert "panic button: pressed 3 times -> reported [3]" in out
    assert "reads 36.7 °C" in out
    assert "decoded ['INV-2026-000123']" in out
    assert "read 'PASS-7F3A9C'" in out
    assert "the modem got ('+6281234567890', 'Tes alarm pos jaga')" in out


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package,forbidden", [("kiosk", HARDWARE_LIBS), ("drivers", {"kiosk"})])
def test_layering(package, forbidden):
    offenders = {
        str(path.relative_to(ROOT)): sorted(set(_imports(path)) & forbidden)
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_guard_add_and_logbook_verify(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "guard", "add", "Budi",
         "--pin-stdin"], input="4821\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "added guard Budi" in result.stdout
    again = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "guard", "add", "Ani",
         "--pin-stdin"], input="4821\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert again.returncode == 1 and "another guard already uses this PIN" in again.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "guard", "add", "Ani",
         "--pin-stdin"], input="12\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 1 and "4 to 8 digits" in bad.stderr



def test_logbook_verify_names_the_first_broken_entry(tmp_path):
    import datetime as dt
    import sqlite3

    from kiosk.store import Logbook, Store

    store = Store(tmp_path / "kiosk.db", now=lambda: dt.datetime.now(dt.UTC)).open()
    with store.transaction() as conn:
        for text in ("satu", "dua", "tiga"):
            Logbook(store).append(conn, category="tes", text=text, actor="Budi")
    store.close()
    result = kiosk("--data-dir", str(tmp_path), "logbook", "verify")
    assert result.returncode == 0 and "3 entries, hash chain intact" in result.stdout

    conn = sqlite3.connect(tmp_path / "kiosk.db")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")  # what someone with a shell on the Pi could do
    conn.execute("UPDATE logbook SET text = 'diubah' WHERE text = 'dua'")
    conn.commit()
    conn.close()
    result = kiosk("--data-dir", str(tmp_path), "logbook", "verify")
    assert result.returncode == 1
    assert "logbook BROKEN at entry 2" in result.stdout


def test_logbook_verify_without_a_database(tmp_path):
    result = kiosk("--data-dir", str(tmp_path), "logbook", "verify")
    assert result.returncode == 1 and "no database" in result.stderr


def test_config_firmware_lines():
    result = kiosk("config", "--firmware")
    assert result.returncode == 0
    assert "gpio=17,27=op,dh" in result.stdout and "dtparam=i2c_arm=on" in result.stdout


def test_guard_pin_remove_and_list(tmp_path):
    """A forgotten PIN at 02.00 and a guard who left: the admin fixes both from the console."""
    import datetime as dt

    from kiosk.auth import AuthError, Guards
    from kiosk.store import Store

    def guard(*args, pin=None):
        return subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path),
                               "guard", *args], input=pin, capture_output=True, text=True,
                              cwd=ROOT, timeout=60)

    assert guard("add", "Budi", "--pin-stdin", pin="1234\n").returncode == 0
    assert guard("add", "Ani", "--admin", "--pin-stdin", pin="5678\n").returncode == 0
    taken = guard("pin", "Budi", "--pin-stdin", pin="5678\n")
    assert taken.returncode == 1
    assert taken.stderr.strip() == ("kiosk guard pin: another guard already uses this PIN: "
                                    "choose a different one")
    unknown = guard("remove", "Budy")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "kiosk guard remove: no guard named 'Budy' (known: Ani, Budi)"
    assert guard("pin", "Budi", "--pin-stdin", pin="2468\n").stdout.strip() == (
        "new PIN for guard Budi")
    assert guard("remove", "Ani").returncode == 0
    assert guard("remove", "Ani").stderr.strip() == "kiosk guard remove: Ani was removed already"
    last = guard("remove", "Budi")
    assert last.returncode == 1 and "only guard left: add another first" in last.stderr
    assert guard("list").stdout.split() == ["guard", "Budi"]
    elsewhere = subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir",
                                str(tmp_path / "typo"), "guard", "list"],
                               capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert elsewhere.returncode == 1 and "is --data-dir right?" in elsewhere.stderr
    assert not (tmp_path / "typo" / "kiosk.db").exists()
    now = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    with Store(tmp_path / "kiosk.db", now=now) as store:
        guards = Guards(store, now=now)
        assert guards.login("2468").name == "Budi"
        for pin in ("1234", "5678"):  # the old PIN and the removed admin's
            with pytest.raises(AuthError):
                guards.login(pin)
    assert guard("pin", "Ani", "--pin-stdin", pin="1357\n").returncode == 0  # back again
    assert guard("list").stdout.split() == ["admin", "Ani", "guard", "Budi"]
