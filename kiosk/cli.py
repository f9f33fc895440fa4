"""The ``kiosk`` command: one entry point for every process and tool on the post.

Every command loads the config first and stops there, with exit code 2 and one line per
problem, if it is broken: a kiosk must never run half-configured.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from kiosk import config

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def data_dir(explicit: str | None) -> Path:
    """Where the kiosk keeps its state.

    ``--data-dir``, else ``$KIOSK_DATA_DIR``, else systemd's ``$STATE_DIRECTORY`` (the unit's
    StateDirectory=), else ``~/.local/share/kiosk`` for a developer.
    """
    for candidate in (explicit, os.environ.get("KIOSK_DATA_DIR"),
                      os.environ.get("STATE_DIRECTORY")):
        if candidate:
            return Path(candidate)
    return Path.home() / ".local" / "share" / "kiosk"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk", description="Gatehouse kiosk for an office security post.")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml, "
                             "else the built-in simulator defaults)")
    parser.add_argument("--data-dir", metavar="PATH",
                        help="state directory (default: $KIOSK_DATA_DIR, $STATE_DIRECTORY, "
                             "or ~/.local/share/kiosk)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("config", help="check the config file and print a summary")
    check.set_defaults(run=cmd_config)

    doctor = commands.add_parser(
        "doctor", help="check each configured device for real, one line each")
    doctor.add_argument("--relays", action="store_true",
                        help="click each relay briefly (the gate may move!)")
    doctor.add_argument("--buzzer", action="store_true", help="beep the buzzer")
    doctor.add_argument("--simulate", action="store_true",
                        help="check the simulated devices instead of the real ones")
    doctor.set_defaults(run=cmd_doctor)

    sim = commands.add_parser(
        "sim", help="run the kiosk on simulated hardware (no Raspberry Pi needed)")
    sim.add_argument("--once", action="store_true",
                     help="exercise every simulated device once and exit")
    sim.set_defaults(run=cmd_sim)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = config.find_config(args.config)
    try:
        settings = config.load(path)
    except config.ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    try:
        return args.run(args, settings, path)
    except KeyboardInterrupt:
        return EXIT_OK


def cmd_config(args, settings: config.Settings, path: Path | None) -> int:
    source = str(path) if path else "built-in simulator defaults (no config file)"
    print(f"config OK: {source}")
    site = settings.site
    print(f"site: {site.name} ({site.timezone}, language {site.language})")
    print(f"hardware: {'simulated' if settings.hardware.simulate else 'real'}")
    for name, relay in settings.relays.items():
        times = ", ".join(f"on {i.on:%H:%M} off {i.off:%H:%M}" for i in relay.schedule) or "manual"
        state = f"GPIO{relay.pin}" if relay.enabled else "disabled"
        print(f"relay {name}: {state}, {times}, safe state {relay.safe_state}")
    print(f"data dir: {data_dir(args.data_dir)}")
    return EXIT_OK


def cmd_doctor(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk import doctor

    if settings.hardware.simulate and not args.simulate:
        print("note: hardware.simulate is true in the config; checking the real devices anyway",
              flush=True)
    failed = False
    for check in doctor.run(settings, simulate=args.simulate, click_relays=args.relays,
                            sound_buzzer=args.buzzer):
        print(check.line(), flush=True)
        failed |= check.status == doctor.FAIL
    return EXIT_FAILED if failed else EXIT_OK


def cmd_sim(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk import simulator

    return simulator.run(settings, once=args.once)


if __name__ == "__main__":
    sys.exit(main())
