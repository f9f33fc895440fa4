"""docs/wiring.py draws the pins the kiosk really uses, and the README's picture is current."""

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from kiosk import config
from kiosk.config.settings import I2C1_PINS, UART_PINS

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docs" / "wiring.py"

# Physical pin of each BCM GPIO on the Pi's 40-pin header, as the Raspberry Pi documentation
# gives it: a second source, so a wrong table in the script cannot pass by agreeing with itself.
PHYSICAL = {2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18,
            10: 19, 9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29, 6: 31, 12: 32,
            13: 33, 19: 35, 16: 36, 26: 37, 20: 38, 21: 40}
SUPPLY_PINS = {"3V3": {1, 17}, "5V": {2, 4}, "GND": {6, 9, 14, 20, 25, 30, 34, 39}}
SUPPLY_NAMES = {"3V3": "3.3 V", "5V": "5 V", "GND": "GND"}


def draw(tmp_path, *args):
    out = tmp_path / "wiring.png"
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *args],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # e.g. no text too wide for its box
    image = Image.open(out)
    return image.convert("RGB"), json.loads(image.text["wiring"])


def check_drawn(image, wires):
    """Every wire is on the right kind of pin, and really drawn there in its colour."""
    for wire in wires:
        if wire["bcm"] is not None:
            assert wire["pin"] == PHYSICAL[wire["bcm"]], wire
        else:
            assert wire["pin"] in SUPPLY_PINS[wire["supply"]], wire
        assert image.getpixel(tuple(wire["probe"])) == tuple(wire["colour"]), wire
    pins = [wire["pin"] for wire in wires]
    assert len(pins) == len(set(pins))  # one wire per pin (a shared supply splits later)


def signals(wires):
    return {w["role"]: w["bcm"] for w in wires if not w["role"].startswith("supply.")}


def supplies(wires):
    return {terminal: w["supply"] for w in wires if w["supply"] for terminal in w["terminals"]}


def test_draws_the_default_pins(tmp_path):
    image, wires = draw(tmp_path)
    defaults = config.load(None)
    expected = {f"relays.{name}": relay.pin for name, relay in defaults.relays.items()}
    expected |= {
        "buzzer": defaults.buzzer.pin, "panic_button": defaults.panic_button.pin,
        "thermometer.sda": I2C1_PINS[0], "thermometer.scl": I2C1_PINS[1],
        "scanner.rx": UART_PINS[0], "scanner.tx": UART_PINS[1],
    }
    assert signals(wires) == expected
    check_drawn(image, wires)
    assert supplies(wires) == {
        "MLX90614: VIN": "3V3", "MLX90614: GND": "GND",
        "Relay board: VCC": "5V", "Relay board: GND": "GND",
        "Alarm buzzer: buzzer +": "5V", "Alarm buzzer: E": "GND",
        "Panic button: switch": "GND",
        "GM65 QR scanner: 5 V": "5V", "GM65 QR scanner: GND": "GND",
    }
    # No scanner in the defaults: it is drawn as optional (dashed), the rest is not.
    optional = {w["role"] for w in wires if w["optional"]}
    assert {"scanner.rx", "scanner.tx"} <= optional
    assert not optional & set(expected) - {"scanner.rx", "scanner.tx"}


def test_the_readme_picture_is_the_current_drawing(tmp_path):
    _, wires = draw(tmp_path)
    committed = Image.open(ROOT / "docs" / "wiring.png")
    assert json.loads(committed.text["wiring"]) == wires, (
        "docs/wiring.png is out of date: run python docs/wiring.py")


def test_the_readme_wiring_table_names_the_drawn_pins():
    wires = json.loads(Image.open(ROOT / "docs" / "wiring.png").text["wiring"])
    drawn = {(w["pin"], f"GPIO{w['bcm']}" if w["bcm"] is not None else SUPPLY_NAMES[w["supply"]])
             for w in wires}
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Wiring\n", 1)[1].split("\n## ", 1)[0]
    written = {(int(pin), name) for pin, name in
               re.findall(r"pin (\d+) = (GPIO\d+|5 V|3\.3 V|GND)", section)}
    assert written == drawn


def test_a_site_config_moves_the_wires(tmp_path):
    site = tmp_path / "kiosk.toml"
    site.write_text('[relays.lights]\npin = 5\n[panic_button]\npin = 24\n'
                    '[buzzer]\npin = 18\n[modem]\nport = "/dev/serial0"\n'
                    '[thermometer]\nenabled = false\n')
    image, wires = draw(tmp_path, "--config", str(site))
    assert signals(wires) == {"relays.lights": 5, "relays.gate_lock": 27, "buzzer": 18,
                              "panic_button": 24, "modem.rx": UART_PINS[0],
                              "modem.tx": UART_PINS[1]}
    check_drawn(image, wires)
    assert {w["pin"] for w in wires if w["role"] == "relays.lights"} == {29}
    assert not any(w["optional"] for w in wires)


def test_a_broken_config_is_refused_like_the_kiosk_refuses_it(tmp_path):
    site = tmp_path / "kiosk.toml"
    site.write_text("[relays.lights]\npin = 41\n")
    result = subprocess.run([sys.executable, str(SCRIPT), "--config", str(site), "--out",
                             str(tmp_path / "x.png")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "relays.lights.pin = 41: not a BCM GPIO pin (0-27)" in result.stderr
    assert not (tmp_path / "x.png").exists()
