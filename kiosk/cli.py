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
    check.add_argument("--firmware", action="store_true",
                       help="print the /boot/firmware/config.txt lines for the configured pins")
    check.set_defaults(run=cmd_config)

    core = commands.add_parser("core", help="run the core daemon and its local API")
    core.add_argument("--simulate", action="store_true",
                      help="simulated hardware, whatever the config says")
    core.add_argument("--clock", metavar="ISO8601",
                      help="run on a simulated clock starting here, e.g. 2026-11-22T16:59:50+07:00")
    core.add_argument("--speed", type=float, default=1.0,
                      help="simulated clock speed (with --clock), e.g. 60 = an hour a minute")
    core.add_argument("--listen", metavar="HOST:PORT|unix:PATH",
                      help="API address (default: api.listen in the config)")
    core.set_defaults(run=cmd_core)

    ui = commands.add_parser("ui", help="run the touchscreen UI (a client of the core's API)")
    ui.add_argument("--core-url", metavar="URL",
                    help="the core's API: http://HOST:PORT or unix:/path (default: from config)")
    ui.set_defaults(run=cmd_ui)

    book = commands.add_parser("logbook", help="the incident book (Buku Kejadian/Mutasi)")
    book_commands = book.add_subparsers(dest="logbook_command", required=True)
    verify = book_commands.add_parser("verify", help="check the hash chain; names the first "
                                      "broken entry")
    verify.set_defaults(run=cmd_logbook_verify)

    guard = commands.add_parser("guard", help="manage the guards who may log in")
    guard_commands = guard.add_subparsers(dest="guard_command", required=True)
    add = guard_commands.add_parser("add", help="add a guard; asks for the PIN twice")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="an admin (secretary, head of GA)")
    add.add_argument("--pin-stdin", action="store_true",
                     help="read the PIN from standard input (for install scripts)")
    add.set_defaults(run=cmd_guard_add)
    new_pin = guard_commands.add_parser(
        "pin", help="give a guard a new PIN (forgotten, or known to others); asks twice")
    new_pin.add_argument("name")
    new_pin.add_argument("--pin-stdin", action="store_true",
                         help="read the PIN from standard input")
    new_pin.set_defaults(run=cmd_guard_pin)
    remove = guard_commands.add_parser(
        "remove", help="stop a guard from logging in (left the post); the books keep the name")
    remove.add_argument("name")
    remove.set_defaults(run=cmd_guard_remove)
    listing = guard_commands.add_parser("list", help="the guards who may log in")
    listing.set_defaults(run=cmd_guard_list)

    doctor = commands.add_parser(
        "doctor", help="check each configured device for real, one line each")
    doctor.add_argument("--relays", action="store_true",
                        help="click each relay briefly (the gate may move!)")
    doctor.add_argument("--buzzer", action="store_true", help="beep the buzzer")
    doctor.add_argument("--simulate", action="store_true",
                        help="check the simulated devices instead of the real ones")
    doctor.set_defaults(run=cmd_doctor)

    sim = commands.add_parser(
        "sim", help="check every simulated device, then run the core on simulated hardware")
    sim.add_argument("--once", action="store_true",
                     help="exercise every simulated device once and exit")
    sim.set_defaults(run=cmd_sim)

    report = commands.add_parser(
        "report", help="write the guest book or the incident book for a range of days, "
                       "as PDF (to print and sign) or CSV")
    report.add_argument("book", choices=("guests", "logbook"),
                        help="guests: buku tamu; logbook: buku kejadian/mutasi")
    report.add_argument("--from", dest="start", required=True, type=_day, metavar="YYYY-MM-DD",
                        help="first day")
    report.add_argument("--to", dest="end", required=True, type=_day, metavar="YYYY-MM-DD",
                        help="last day (included; at most 366 days in all)")
    report.add_argument("--format", choices=("pdf", "csv"),
                        help="default: from the --out file's suffix, else pdf")
    report.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    report.set_defaults(run=cmd_report)

    cards = commands.add_parser(
        "checkpoints", help="write a printable QR code (PNG, 300 dpi) for each patrol checkpoint")
    cards.add_argument("--out", required=True, metavar="DIR",
                       help="directory for the PNG files (created if missing)")
    cards.set_defaults(run=cmd_checkpoints)

    sync = commands.add_parser(
        "sync", help="push every unsent event to hq and pull its updates, once; exit 0 only "
                     "when nothing is left to send")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    sync.set_defaults(run=cmd_sync)

    hq = commands.add_parser(
        "hq", help="the central collector kiosks sync to (needs the hq extra)")
    database = {"metavar": "URL", "help": "sqlite:///PATH or postgresql://USER@HOST/DB "
                                          "(default: SQLite hq.db in the data dir)"}
    hq.add_argument("--database", **database)
    hq.add_argument("--listen", default="127.0.0.1:8480", metavar="HOST:PORT",
                    help="address to serve on (default 127.0.0.1:8480)")
    hq.add_argument("--key-file", metavar="PATH",
                    help="invitation signing key (default: hq-signing.key in the data dir)")
    hq.add_argument("--retention-days", type=int, default=365, metavar="N",
                    help="blank guests' personal data in events older than N days (default 365)")
    hq.add_argument("--certfile", metavar="PEM", help="serve HTTPS with this certificate")
    hq.add_argument("--keyfile", metavar="PEM", help="... and this private key")
    hq.set_defaults(run=cmd_hq)
    hq_commands = hq.add_subparsers(dest="hq_command", metavar="COMMAND")
    for name, text in (("add-kiosk", "register a kiosk; prints its token once, as the last "
                                      "line (only its hash is kept)"),
                       ("add-admin", "make a token for a person or tool that reads all kiosks "
                                     "and creates invitations; printed once"),
                       ("revoke", "revoke a kiosk's or admin's token at once")):
        command = hq_commands.add_parser(name, help=text)
        command.add_argument("name")
        command.add_argument("--database", default=argparse.SUPPRESS, **database)
        command.set_defaults(run=cmd_hq_token)
    return parser


def _day(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


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
    except BrokenPipeError:  # `kiosk doctor | head -1`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


def cmd_config(args, settings: config.Settings, path: Path | None) -> int:
    if args.firmware:
        from kiosk.firmware import boot_config_lines

        print("\n".join(boot_config_lines(settings)))
        return EXIT_OK
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
        where = "in the config" if path else "(no config file: the simulator's defaults)"
        print(f"note: hardware.simulate is true {where}; checking the real devices anyway",
              flush=True)
    failed = False
    for check in doctor.run(settings, simulate=args.simulate, click_relays=args.relays,
                            sound_buzzer=args.buzzer):
        print(check.line(), flush=True)
        failed |= check.status == doctor.FAIL
    return EXIT_FAILED if failed else EXIT_OK


def cmd_sim(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk import simulator

    return simulator.run(settings, data_dir=data_dir(args.data_dir), once=args.once,
                         config_path=path)


def cmd_core(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk.clock import parse_clock_arg
    from kiosk.core.service import StartError, serve

    start = None
    if args.clock:
        from zoneinfo import ZoneInfo

        try:
            start = parse_clock_arg(args.clock, ZoneInfo(settings.site.timezone))
        except ValueError as exc:
            print(f"--clock: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    if not 0 < args.speed <= 10000:
        print(f"--speed {args.speed:g}: give a speed above 0 and at most 10000", file=sys.stderr)
        return EXIT_CONFIG
    if args.listen:
        from pydantic import ValidationError

        from kiosk.config.post import ApiSettings

        try:
            ApiSettings(listen=args.listen, allow_network=settings.api.allow_network)
        except ValidationError as exc:
            print(f"--listen {args.listen}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}",
                  file=sys.stderr)
            return EXIT_CONFIG
    simulate = args.simulate or settings.hardware.simulate
    try:
        return serve(settings, data_dir=data_dir(args.data_dir), simulate=simulate,
                     listen=args.listen, start=start, speed=args.speed)
    except StartError as exc:
        print(f"kiosk core: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def cmd_ui(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk import ui

    return ui.run(settings, core_url=args.core_url)


def _open_store(args, settings: config.Settings, *, recover: bool):
    """The kiosk's store, or None after saying why on stderr.

    A tool that only reads (``recover=False``) needs the database to be there already:
    creating an empty one would only hide a wrong ``--data-dir``.
    """
    from zoneinfo import ZoneInfo

    from kiosk.clock import SystemClock
    from kiosk.store import Store, StoreError

    folder = data_dir(args.data_dir)
    db = folder / "kiosk.db"
    if not recover and not db.exists():
        print(f"kiosk: no database at {db}: is --data-dir right?", file=sys.stderr)
        return None
    clock = SystemClock(ZoneInfo("UTC"))
    # The core's own key: without it a tool would see guests' data as "(terkunci)". Only
    # an existing key is used here (key_file=None when there is none): a tool never makes one.
    key = settings.security.key_path(folder)
    store = Store(db, now=clock.now, recover=recover, key_file=key if key.exists() else None)
    try:
        store.open()
    except StoreError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return None
    return store


def cmd_logbook_verify(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk.store import Logbook

    store = _open_store(args, settings, recover=False)
    if store is None:
        return EXIT_FAILED
    with store:
        result = Logbook(store).verify()
    if result.ok:
        print(f"logbook OK: {result.checked} entries, hash chain intact")
        return EXIT_OK
    print(f"logbook BROKEN at entry {result.first_bad_id}: {result.reason} "
          f"({result.checked} entries checked)")
    return EXIT_FAILED


def _read_pin(args) -> str | None:
    import getpass

    if getattr(args, "pin_stdin", False) or not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    pin = getpass.getpass("PIN (4-8 digits): ")
    if getpass.getpass("PIN again: ") != pin:
        print("the two PINs differ; nothing saved", file=sys.stderr)
        return None
    return pin


def _with_guards(args, settings: config.Settings, action, *, pin: bool,
                 new: bool = False) -> int:
    """Open the store, run ``action(guards, pin)``, print its line; one-line errors, exit 1.

    Only ``add`` (``new``) may create the database or set a damaged one aside: the others
    with a wrong ``--data-dir`` must say so, not answer from an empty new database.
    """
    from zoneinfo import ZoneInfo

    from kiosk.auth import Guards
    from kiosk.clock import SystemClock

    given = _read_pin(args) if pin else None
    if pin and given is None:
        return EXIT_FAILED
    store = _open_store(args, settings, recover=new)
    if store is None:
        return EXIT_FAILED
    clock = SystemClock(ZoneInfo(settings.site.timezone))
    with store:
        try:
            print(action(Guards(store, now=clock.now), given))
        except (KeyError, ValueError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            print(f"kiosk guard {args.guard_command}: {message}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def cmd_guard_add(args, settings: config.Settings, path: Path | None) -> int:
    def add(guards, pin):
        guard = guards.add(args.name, pin, "admin" if args.admin else "guard")
        return f"added {guard.role} {guard.name}"
    return _with_guards(args, settings, add, pin=True, new=True)


def cmd_guard_pin(args, settings: config.Settings, path: Path | None) -> int:
    def change(guards, pin):
        guard = guards.set_pin(args.name, pin)
        return f"new PIN for {guard.role} {guard.name}"
    return _with_guards(args, settings, change, pin=True)


def cmd_guard_remove(args, settings: config.Settings, path: Path | None) -> int:
    def remove(guards, _pin):
        guard = guards.remove(args.name)
        return f"removed {guard.role} {guard.name}: the PIN no longer logs in"
    return _with_guards(args, settings, remove, pin=False)


def cmd_guard_list(args, settings: config.Settings, path: Path | None) -> int:
    def listing(guards, _pin):
        rows = guards.listing()
        return "\n".join(f"{g.role:<6} {g.name}" for g in rows) or "no guards yet"
    return _with_guards(args, settings, listing, pin=False)


def cmd_report(args, settings: config.Settings, path: Path | None) -> int:
    from zoneinfo import ZoneInfo

    from kiosk.clock import SystemClock
    from kiosk.reports import build
    from kiosk.store import atomic_write
    from kiosk.watchlist import GuestError

    out = Path(args.out)
    fmt = args.format or ("csv" if out.suffix.lower() == ".csv" else "pdf")
    if not out.parent.is_dir():
        print(f"kiosk report: {out.parent} is not a directory", file=sys.stderr)
        return EXIT_FAILED
    store = _open_store(args, settings, recover=False)
    if store is None:
        return EXIT_FAILED
    clock = SystemClock(ZoneInfo(settings.site.timezone))
    with store:
        try:
            report = build(store, args.book, fmt, site=settings.site.name, start=args.start,
                           end=args.end, tz=clock.tz, now=clock.now())
        except GuestError as exc:
            print(f"kiosk report: {exc}", file=sys.stderr)
            return EXIT_FAILED
    # Private (0600): the guest book holds personal data.
    atomic_write(out, report.data)
    print(f"wrote {out} ({fmt}, {report.rows} rows)")
    return EXIT_OK


def cmd_checkpoints(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk.patrols import write_cards

    checkpoints = settings.tasks.patrols.checkpoints
    if not checkpoints:
        print("kiosk checkpoints: no [[tasks.patrols.checkpoints]] in the config",
              file=sys.stderr)
        return EXIT_FAILED
    for written in write_cards(checkpoints, Path(args.out), site=settings.site.name):
        print(written)
    return EXIT_OK


def cmd_sync(args, settings: config.Settings, path: Path | None) -> int:
    from zoneinfo import ZoneInfo

    from kiosk.clock import SystemClock
    from kiosk.sync import Sync, SyncFailed

    if not settings.sync.url:
        print("kiosk sync: sync is not set up: set sync.url and sync.token_file in "
              f"{path or 'the config'}", file=sys.stderr)
        return EXIT_CONFIG
    store = _open_store(args, settings, recover=False)
    if store is None:
        return EXIT_FAILED
    clock = SystemClock(ZoneInfo(settings.site.timezone))
    show = not args.quiet and sys.stderr.isatty()

    def progress(sent: int, total: int) -> None:
        if show:
            done = int(30 * sent / total) if total else 30
            print(f"\r[{'#' * done}{' ' * (30 - done)}] {sent}/{total} events",
                  end="", file=sys.stderr, flush=True)

    with store:
        sync = Sync(store, settings, now=clock.now)
        backlog = sync.backlog()
        if not args.quiet:
            print(f"{backlog} events to send to {settings.sync.url}", file=sys.stderr)
        try:
            status = sync.run(progress)
        except SyncFailed as exc:
            if show:
                print(file=sys.stderr)
            left = sync.backlog()
            print(f"kiosk sync: {exc} ({backlog - left} sent, {left} still to send)",
                  file=sys.stderr)
            return EXIT_FAILED
    if show:
        print(file=sys.stderr)
    print(f"sync OK: {backlog} sent, {status['sent']} in all, backlog {status['backlog']}")
    return EXIT_OK if status["backlog"] == 0 else EXIT_FAILED


def _hq_database(args) -> str | None:
    from kiosk import hq

    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        print("kiosk hq: the hq extra is not installed: pip install 'gatehouse-kiosk[hq]'",
              file=sys.stderr)
        return None
    return hq.database_url(args.database, data_dir(args.data_dir))


def cmd_hq(args, settings: config.Settings, path: Path | None) -> int:
    from kiosk import hq

    url = _hq_database(args)
    if url is None:
        return EXIT_CONFIG
    host, sep, port = args.listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        print(f"--listen {args.listen}: use HOST:PORT, e.g. 0.0.0.0:8480", file=sys.stderr)
        return EXIT_CONFIG
    if bool(args.certfile) != bool(args.keyfile):
        print("give both --certfile and --keyfile for HTTPS, or neither", file=sys.stderr)
        return EXIT_CONFIG
    if not 1 <= args.retention_days <= 3650:
        print(f"--retention-days {args.retention_days}: give 1 to 3650", file=sys.stderr)
        return EXIT_CONFIG
    key_file = Path(args.key_file) if args.key_file else data_dir(args.data_dir) / hq.KEY_FILE
    try:
        hq.serve(url, key_file=key_file, host=host.strip("[]"), port=int(port),
                 retention_days=args.retention_days, certfile=args.certfile,
                 keyfile=args.keyfile)
    except (ValueError, OSError) as exc:
        print(f"kiosk hq: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_hq_token(args, settings: config.Settings, path: Path | None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from kiosk import hq
    from kiosk.hq.db import HqError

    url = _hq_database(args)
    if url is None:
        return EXIT_CONFIG
    try:
        found = hq.open_hq(url)
        if args.hq_command == "revoke":
            found.revoke(args.name)
            print(f"revoked {args.name}: its token is refused from now on")
            return EXIT_OK
        token = found.add(args.name, admin=args.hq_command == "add-admin")
    except HqError as exc:
        print(f"kiosk hq {args.hq_command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        print(f"kiosk hq: the database at {url} cannot be used: {exc.__class__.__name__}: "
              f"{str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    what = "admin" if args.hq_command == "add-admin" else "kiosk"
    print(f"added {what} {args.name}; its token (shown once, keep it secret):")
    print(token)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
