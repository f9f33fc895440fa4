"""The Raspberry Pi firmware settings the kiosk needs, as /boot/firmware/config.txt lines.

Between power-on and the moment the core opens its pins, a relay pin is whatever the firmware
leaves it: an input, floating or pulled. An active-low relay board reads that as "on", and a
gate lock that clicks open at every boot has opened real gates. ``gpio=`` lines make the
firmware drive each relay (and the buzzer) pin as an output at its *inactive* level within
the first second after power-on, before Linux starts:

- active-low board (the usual 5 V modules): drive high (``dh``) = relay released;
- active-high board or buzzer transistor: drive low (``dl``) = off.

The core then constructs its outputs with their desired initial value, so the pin never
passes through the active level. After a reboot, ``pinctrl get 17`` shows what the firmware
did (``op dh``).

The same block switches on the I2C bus for the thermometer, the GPIO UART when the scanner or
modem is on it, and the SoC's hardware watchdog (systemd feeds it; see
systemd/system.conf.d/kiosk-watchdog.conf).

This module imports nothing from the kiosk at load time, so the installer can call
:func:`merge_config_txt` with the system's python3 before the kiosk's venv exists.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

BEGIN_MARKER = "# BEGIN gatehouse-kiosk"
END_MARKER = "# END gatehouse-kiosk"
BLOCK_NOTE = (
    "# Written by the kiosk installer from /etc/kiosk/kiosk.toml; edits inside this block are "
    "replaced."
)
# The serial ports that are the Pi's GPIO14/15 UART (config.UART_PORTS, repeated here so this
# module needs no pydantic).
UART_PORTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")


def boot_config_lines(settings: Any) -> list[str]:
    """The config.txt lines for ``settings`` (the kiosk's config; read by attribute only).

    Pins are grouped by level, each group sorted: ``gpio=17,27=op,dh`` for the default
    active-low relays and ``gpio=22=op,dl`` for the active-high buzzer. Disabled devices are
    left alone.
    """
    drive_high: set[int] = set()  # active-low devices: high = inactive
    drive_low: set[int] = set()  # active-high devices: low = inactive
    outputs = [relay for relay in settings.relays.values() if relay.enabled]
    if settings.buzzer.enabled:
        outputs.append(settings.buzzer)
    for device in outputs:
        (drive_low if device.active_high else drive_high).add(device.pin)
    lines = []
    if drive_high:
        lines.append(f"gpio={_pins(drive_high)}=op,dh")
    if drive_low:
        lines.append(f"gpio={_pins(drive_low)}=op,dl")
    if settings.thermometer.enabled:
        lines.append("dtparam=i2c_arm=on")
    ports = (settings.scanner.port, settings.modem.port)
    if any(_device_path(port) in UART_PORTS for port in ports):
        lines.append("enable_uart=1")
    lines.append("dtparam=watchdog=on")
    return lines


def _pins(pins: set[int]) -> str:
    return ",".join(str(pin) for pin in sorted(pins))


def _device_path(port: str) -> str:
    # pyserial URLs wrap a device: "spy:///dev/serial0" is /dev/serial0.
    _scheme, sep, rest = port.partition("://")
    return rest if sep and rest.startswith("/") else port


def render_block(lines: list[str]) -> str:
    """The marked block for ``lines``, newline-terminated.

    It starts with ``[all]`` so that a conditional section left open above it (``[pi4]``,
    ``[cm5]``...) does not limit the kiosk's lines to one board model.
    """
    for line in lines:
        if "\n" in line or "\r" in line or line.strip() in (BEGIN_MARKER, END_MARKER):
            raise ValueError(f"not a single config.txt line: {line!r}")
    return "\n".join([BEGIN_MARKER, BLOCK_NOTE, "[all]", *lines, END_MARKER]) + "\n"


def merge_config_txt(existing: str, lines: list[str]) -> str:
    """``existing`` config.txt text with the kiosk's block set to ``lines``.

    A block already there (between ``# BEGIN gatehouse-kiosk`` and ``# END gatehouse-kiosk``)
    is replaced where it stands, and any duplicate block is dropped; otherwise the block is
    appended at the end, where later lines win. Every other line is kept byte for byte, so
    merging twice gives the same text as merging once.

    Raises:
        ValueError: a BEGIN marker without its END (the file was hand-edited); fixing it by
            guessing could swallow the rest of the file, so the installer stops instead.
    """
    block = render_block(lines)
    kept: list[str] = []
    inside = False
    placed = False
    for line in existing.splitlines(keepends=True):
        marker = line.strip()
        if not inside and marker == BEGIN_MARKER:
            inside = True
            if not placed:
                kept.append(block)
                placed = True
            continue
        if inside:
            if marker == END_MARKER:
                inside = False
            elif marker == BEGIN_MARKER:
                raise ValueError(f"config.txt: '{BEGIN_MARKER}' twice without '{END_MARKER}'")
            continue
        kept.append(line)
    if inside:
        raise ValueError(
            f"config.txt: '{BEGIN_MARKER}' without '{END_MARKER}': fix the file by hand")
    if placed:
        return "".join(kept)
    text = existing
    if text and not text.endswith("\n"):
        text += "\n"
    if text.strip() and not text.endswith("\n\n"):
        text += "\n"
    return text + block


def main(argv: list[str] | None = None) -> int:
    """``python -m kiosk.firmware [--config PATH]``: print the lines, one per line."""
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.firmware",
        description="print the /boot/firmware/config.txt lines for a kiosk config")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: as the kiosk command finds it)")
    args = parser.parse_args(argv)
    from kiosk import config  # needs pydantic: only here, not at import

    try:
        settings = config.load(config.find_config(args.config))
    except config.ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    for line in boot_config_lines(settings):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
