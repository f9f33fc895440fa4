"""Running as a service: sd_notify, the firmware's boot pin states, the units, the installer.

The installer runs for real against fake root directories: twice with whatever tools this
machine has (useradd/systemctl when present and allowed), twice with those tools hidden from
PATH so it must edit the account files and make the unit symlinks itself, once onto an
existing config that puts the scanner on the GPIO UART, and once as a dry run. The runs of
each round go in parallel, to keep this module quick.
"""

import configparser
import os
import shutil
import socket
import struct
import subprocess
import tomllib
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import config
from kiosk.core import sdnotify
from kiosk.firmware import (
    BEGIN_MARKER,
    END_MARKER,
    boot_config_lines,
    merge_config_txt,
)
from kiosk.store.sealed import read_key

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
INSTALL = SYSTEMD / "install.sh"
GROUPS = ("gpio", "i2c", "dialout", "video", "render", "input")
UNITS = ("kiosk-core.service", "kiosk-ui.service")  # installed on the Pi by install.sh
ALL_UNITS = (*UNITS, "kiosk-hq.service")  # hq's, for the central office's server
HIDDEN_TOOLS = {"useradd", "groupadd", "usermod", "systemctl"}
IS_ROOT = os.geteuid() == 0

# A Raspberry Pi OS Bookworm config.txt, shortened: comments, a board filter, [all] at the end.
CONFIG_TXT = """\
# For more options and information see http://rptl.io/configtxt
#dtparam=i2c_arm=on
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
arm_boost=1

[cm4]
otg_mode=1

[all]
"""
CMDLINE_TXT = ("console=serial0,115200 console=tty1 root=PARTUUID=0a1b2c3d-02 rootfstype=ext4 "
               "fsck.repair=yes rootwait\n")


# --------------------------------------------------------------------------------------
# sd_notify


@pytest.fixture
def clean_notify_env(monkeypatch):
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.settimeout(5)
    return sock


def _receive(sock: socket.socket) -> tuple[str, int]:
    """One datagram and the pid the kernel vouches sent it (what NotifyAccess=main checks)."""
    data, ancillary, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _uid, _gid = struct.unpack("iII", payload[:12])
    return data.decode(), pid


def test_notify_outside_systemd_is_a_noop(clean_notify_env):
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.ready("up") is False
    assert sdnotify.watchdog() is False
    assert sdnotify.status("x") is False
    assert sdnotify.stopping() is False


def test_notify_to_a_path_socket(clean_notify_env, tmp_path):
    path = tmp_path / "notify.sock"
    with _receiver(str(path)) as sock:
        clean_notify_env.setenv("NOTIFY_SOCKET", str(path))
        assert sdnotify.ready("core ready on unix:/run/kiosk/core.sock\n(hardware)") is True
        message, pid = _receive(sock)
        assert message == "READY=1\nSTATUS=core ready on unix:/run/kiosk/core.sock (hardware)"
        assert pid == os.getpid()
        assert sdnotify.watchdog() is True
        assert _receive(sock)[0] == "WATCHDOG=1"
        assert sdnotify.status("lights on (schedule)") is True
        assert _receive(sock)[0] == "STATUS=lights on (schedule)"
        assert sdnotify.stopping() is True
        assert _receive(sock)[0] == "STOPPING=1"
        assert sdnotify.ready() is True
        assert _receive(sock)[0] == "READY=1"


def test_notify_to_an_abstract_socket(clean_notify_env):
    name = f"kiosk-test-{uuid.uuid4().hex}"
    with _receiver("\0" + name) as sock:
        clean_notify_env.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("WATCHDOG=1") is True
        message, pid = _receive(sock)
        assert message == "WATCHDOG=1"
        assert pid == os.getpid()


def test_notify_failures_never_raise(clean_notify_env, tmp_path):
    clean_notify_env.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert sdnotify.watchdog() is False
    for unusable in ("relative/path", "@", "vsock:2:1234"):
        clean_notify_env.setenv("NOTIFY_SOCKET", unusable)
        assert sdnotify.ready("x") is False


def test_watchdog_interval(clean_notify_env):
    assert sdnotify.watchdog_interval() is None
    clean_notify_env.setenv("WATCHDOG_USEC", "30000000")
    assert sdnotify.watchdog_interval() == 15.0
    clean_notify_env.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 15.0
    # Meant for another process (a child that inherited the environment): not ours to feed.
    clean_notify_env.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    clean_notify_env.setenv("WATCHDOG_PID", "not-a-pid")
    assert sdnotify.watchdog_interval() is None
    clean_notify_env.delenv("WATCHDOG_PID")
    for bad in ("0", "-5", "thirty", ""):
        clean_notify_env.setenv("WATCHDOG_USEC", bad)
        assert sdnotify.watchdog_interval() is None


# --------------------------------------------------------------------------------------
# config.txt lines


def test_firmware_lines_for_the_default_config():
    assert boot_config_lines(config.load(None)) == [
        "gpio=17,27=op,dh",  # active-low relays: released
        "gpio=22=op,dl",  # active-high buzzer: silent
        "dtparam=i2c_arm=on",
        "dtparam=watchdog=on",
    ]


def test_firmware_lines_for_the_example_config():
    settings = config.load(ROOT / "config" / "kiosk.example.toml")
    assert boot_config_lines(settings)[:2] == ["gpio=17,27=op,dh", "gpio=22=op,dl"]


def test_active_high_relays_are_driven_low():
    settings = config.parse(
        "[relays.lights]\nactive_high = true\n[relays.gate_lock]\nactive_high = true\n")
    assert boot_config_lines(settings)[0] == "gpio=17,22,27=op,dl"
    settings = config.parse("[relays.gate_lock]\nactive_high = true\n"
                            "[buzzer]\nactive_high = false\npin = 5\n")
    assert boot_config_lines(settings)[:2] == ["gpio=5,17=op,dh", "gpio=27=op,dl"]


def test_disabled_devices_are_left_alone():
    settings = config.parse("[relays.lights]\nenabled = false\n")
    assert boot_config_lines(settings)[:2] == ["gpio=27=op,dh", "gpio=22=op,dl"]
    settings = config.parse(
        "[relays.lights]\nenabled = false\n[relays.gate_lock]\nenabled = false\n"
        "[buzzer]\nenabled = false\n[thermometer]\nenabled = false\n")
    assert boot_config_lines(settings) == ["dtparam=watchdog=on"]


def test_extra_relay_joins_its_group():
    settings = config.parse("[relays.siren]\npin = 24\n")
    assert boot_config_lines(settings)[0] == "gpio=17,24,27=op,dh"


@pytest.mark.parametrize("section, port, uart", [
    ("scanner", "/dev/serial0", True),
    ("modem", "/dev/ttyAMA0", True),
    ("modem", "/dev/ttyS0", True),
    ("scanner", "spy:///dev/serial0", True),
    ("scanner", "/dev/ttyACM0", False),
    ("modem", "/dev/ttyUSB0", False),
    ("modem", "", False),
])
def test_uart_enabled_only_for_the_gpio_serial_port(section, port, uart):
    settings = config.parse(f'[{section}]\nport = "{port}"\n')
    assert ("enable_uart=1" in boot_config_lines(settings)) is uart


def test_firmware_module_and_cli_print_the_same_lines(tmp_path, capsys, monkeypatch):
    """install.sh takes the lines from `kiosk config --firmware`, else `-m kiosk.firmware`."""
    from kiosk import cli, firmware

    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    path = tmp_path / "kiosk.toml"
    path.write_text('[relays.lights]\nactive_high = true\n[scanner]\nport = "/dev/serial0"\n')
    expected = "\n".join(boot_config_lines(config.load(path))) + "\n"
    assert "enable_uart=1" in expected
    assert firmware.main(["--config", str(path)]) == 0
    assert capsys.readouterr().out == expected
    assert cli.main(["--config", str(path), "config", "--firmware"]) == 0
    assert capsys.readouterr().out == expected
    path.write_text("[relays.lights]\npin = 41\n")
    assert firmware.main(["--config", str(path)]) == 2
    assert "relays.lights.pin = 41" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# merging the block into config.txt

LINES = ["gpio=17,27=op,dh", "gpio=22=op,dl", "dtparam=watchdog=on"]


def test_merge_appends_one_block_and_keeps_the_file():
    merged = merge_config_txt(CONFIG_TXT, LINES)
    assert merged.startswith(CONFIG_TXT)
    block = merged[len(CONFIG_TXT):]
    assert block == (f"\n{BEGIN_MARKER}\n"
                     "# Written by the kiosk installer from /etc/kiosk/kiosk.toml; edits inside "
                     "this block are replaced.\n"
                     "[all]\ngpio=17,27=op,dh\ngpio=22=op,dl\ndtparam=watchdog=on\n"
                     f"{END_MARKER}\n")
    assert merge_config_txt(merged, LINES) == merged


def test_merge_replaces_the_block_where_it_stands():
    before = "dtparam=audio=on\n"
    after = "# added by hand later\n[pi4]\narm_boost=1\n"
    first = merge_config_txt(before, LINES) + after
    second = merge_config_txt(first, ["gpio=5=op,dl", "dtparam=watchdog=on"])
    assert second.startswith(before)
    assert second.endswith(after)
    assert second.count(BEGIN_MARKER) == second.count(END_MARKER) == 1
    assert "gpio=5=op,dl" in second and "gpio=17,27=op,dh" not in second
    assert merge_config_txt(second, ["gpio=5=op,dl", "dtparam=watchdog=on"]) == second


def test_merge_edge_cases():
    # No trailing newline: the last line stays a line of its own.
    assert merge_config_txt("arm_64bit=1", LINES).startswith("arm_64bit=1\n\n" + BEGIN_MARKER)
    assert merge_config_txt("", LINES).startswith(BEGIN_MARKER)
    # Two blocks (copied by hand): one is left, where the first stood.
    one = merge_config_txt("a=1\n", LINES)
    doubled = one + "b=2\n" + one[len("a=1\n"):]
    assert merge_config_txt(doubled, LINES) == one + "b=2\n\n"
    with pytest.raises(ValueError, match="without"):
        merge_config_txt(f"a=1\n{BEGIN_MARKER}\ngpio=17=op,dh\n", LINES)
    with pytest.raises(ValueError, match="single"):
        merge_config_txt("a=1\n", ["gpio=17=op,dh\ngpio=27=op,dh"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\t"),
                        max_size=30), max_size=15),
       st.lists(st.from_regex(r"[a-z_]{1,12}=[a-z0-9,]{1,12}", fullmatch=True), max_size=5))
def test_merge_is_idempotent_and_keeps_every_other_line(other_lines, lines):
    existing = "".join(line + "\n" for line in other_lines if BEGIN_MARKER not in line
                       and END_MARKER not in line)
    merged = merge_config_txt(existing, lines)
    assert merged.startswith(existing)
    assert merged.count(BEGIN_MARKER) == 1
    assert merge_config_txt(merged, lines) == merged


# --------------------------------------------------------------------------------------
# unit files


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def _all_values(name: str, key: str) -> list[str]:
    """Every value of a key systemd lets repeat (configparser keeps only the last)."""
    return [line.split("=", 1)[1].strip()
            for line in (SYSTEMD / name).read_text().splitlines()
            if line.startswith(f"{key}=")]


def test_core_unit():
    unit = _unit("kiosk-core.service")
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["WatchdogSec"] == "30"
    assert service["ExecStart"] == \
        "/opt/kiosk/.venv/bin/kiosk --config /etc/kiosk/kiosk.toml core"
    assert service["Restart"] == "always"
    assert service["RestartSec"] == "2"
    # Start limits live in [Unit]; in [Service] they would be ignored or legacy.
    assert unit["Unit"]["StartLimitAction"] == "reboot"
    assert int(unit["Unit"]["StartLimitBurst"]) >= 3
    assert unit["Unit"]["StartLimitIntervalSec"]
    assert "StartLimitAction" not in service
    assert (service["User"], service["Group"]) == ("kiosk", "kiosk")
    assert service["SupplementaryGroups"].split() == ["gpio", "i2c", "dialout"]
    assert service["StateDirectory"] == "kiosk" and service["StateDirectoryMode"] == "0750"
    assert service["RuntimeDirectory"] == "kiosk" and service["RuntimeDirectoryMode"] == "0750"
    assert service["ConfigurationDirectory"] == "kiosk"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                "RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["RestrictAddressFamilies"].split() == \
        ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"]
    assert service["DevicePolicy"] == "closed"
    allowed = _all_values("kiosk-core.service", "DeviceAllow")
    for group in ("char-gpiochip", "char-i2c", "char-ttyUSB", "char-ttyACM", "char-ttyAMA",
                  "char-ttyS"):
        assert f"{group} rw" in allowed
    for spec in allowed:
        node, access = spec.split()
        assert node.startswith(("/dev/", "char-", "block-")) and set(access) <= set("rwm")
    # lgpio's FIFOs go to a writable directory, not the read-only /.
    assert service["WorkingDirectory"] == "/run/kiosk"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_ui_unit():
    unit = _unit("kiosk-ui.service")
    service = unit["Service"]
    after = " ".join(_all_values("kiosk-ui.service", "After")).split()
    assert "kiosk-core.service" in after
    assert "Requires" not in unit["Unit"] and "BindsTo" not in unit["Unit"]
    assert service["ExecStart"] == "/opt/kiosk/.venv/bin/kiosk --config /etc/kiosk/kiosk.toml ui"
    assert service["Restart"] == "always"
    # A crash comes back; a guard's PIN exit (and a broken config) stays down.
    from kiosk.ui import CLOSED_BY_GUARD

    assert service["RestartPreventExitStatus"].split() == ["2", str(CLOSED_BY_GUARD)]
    assert (service["User"], service["Group"]) == ("kiosk", "kiosk")
    assert service["SupplementaryGroups"].split() == ["video", "render", "input"]
    environment = _all_values("kiosk-ui.service", "Environment")
    assert "SDL_VIDEODRIVER=kmsdrm" in environment
    assert "KIVY_NO_ARGS=1" in environment  # Kivy must not parse the kiosk's own options
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_watchdog_dropin():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((SYSTEMD / "system.conf.d" / "kiosk-watchdog.conf").read_text())
    timeout = parser["Manager"]["RuntimeWatchdogSec"]
    assert timeout.endswith("s") and 0 < int(timeout[:-1]) <= 15  # bcm2835 maximum
    assert parser["Manager"]["RebootWatchdogSec"]


def test_units_pass_systemd_analyze_when_available(tmp_path):
    """systemd's own parser, when this machine has it; the INI checks above run regardless."""
    analyze = shutil.which("systemd-analyze")
    for name in ALL_UNITS:
        _unit(name)  # at least parses as INI everywhere
    if analyze is None:
        return
    fake = tmp_path / "kiosk"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    paths = []
    for name in ALL_UNITS:
        text = (SYSTEMD / name).read_text().replace("/opt/kiosk/.venv/bin/kiosk", str(fake))
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    result = subprocess.run([analyze, "verify", "--man=no", *paths],
                            capture_output=True, text=True, timeout=60)
    ours = [line for line in result.stderr.splitlines()
            if any(name in line for name in ALL_UNITS)]
    assert result.returncode == 0, result.stderr
    assert ours == [], result.stderr


# --------------------------------------------------------------------------------------
# install.sh against fake roots


def _fake_root(path: Path, *, accounts: bool = True) -> Path:
    (path / "boot" / "firmware").mkdir(parents=True)
    (path / "boot" / "firmware" / "config.txt").write_text(CONFIG_TXT)
    (path / "boot" / "firmware" / "cmdline.txt").write_text(CMDLINE_TXT)
    if accounts:
        (path / "etc").mkdir()
        (path / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/bash\n"
            "pi:x:1000:1000:,,,:/home/pi:/bin/bash\n")
        (path / "etc" / "group").write_text(
            "root:x:0:\ndialout:x:20:pi\nvideo:x:44:pi\npi:x:1000:\n")
    return path


def _path_without(tools: set[str], bin_dir: Path) -> str:
    """A PATH holding every command of this one except ``tools``: as if not installed."""
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name in tools or target.exists() or target.is_symlink():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                target.symlink_to(entry.path)
    return str(bin_dir)


def _start(root: Path, *extra: str, path: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "PYTHONPATH")}
    if path is not None:
        env["PATH"] = path
    return subprocess.Popen(
        ["bash", str(INSTALL), "--root", str(root), *extra], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=root)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    return out


def _snapshot(root: Path) -> dict[str, tuple]:
    tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        content = (os.readlink(path) if path.is_symlink()
                   else path.read_bytes() if path.is_file() else None)
        tree[str(path.relative_to(root))] = (info.st_mode, info.st_uid, info.st_gid, content)
    return tree


@pytest.fixture(scope="module")
def installs(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    tools = _fake_root(base / "tools")
    fallback = _fake_root(base / "fallback", accounts=False)
    uart = _fake_root(base / "uart")
    (uart / "etc" / "kiosk").mkdir(parents=True)
    (uart / "etc" / "kiosk" / "kiosk.toml").write_text(
        '[site]\nname = "Pos Jaga Uji"\n[hardware]\nsimulate = false\n'
        '[scanner]\nport = "/dev/serial0"\n')
    (uart / "etc" / "kiosk" / "kiosk.toml").chmod(0o644)
    dry = _fake_root(base / "dry")
    dry_before = _snapshot(dry)
    no_tools = _path_without(HIDDEN_TOOLS, base / "bin")

    first = {
        "tools": _start(tools),
        "fallback": _start(fallback, path=no_tools),
        "uart": _start(uart),
        "dry": _start(dry, "--dry-run"),
    }
    outputs = {name: [_finish(process)] for name, process in first.items()}
    snapshots = {name: _snapshot(root) for name, root in
                 (("tools", tools), ("fallback", fallback))}
    second = {"tools": _start(tools), "fallback": _start(fallback, path=no_tools)}
    for name, process in second.items():
        outputs[name].append(_finish(process))
    return {
        "roots": {"tools": tools, "fallback": fallback, "uart": uart, "dry": dry},
        "outputs": outputs,
        "first_snapshots": snapshots,
        "dry_before": dry_before,
    }


def _accounts(root: Path) -> tuple[dict, dict]:
    users = {}
    for line in (root / "etc" / "passwd").read_text().splitlines():
        name, _x, uid, gid, _comment, home, shell = line.split(":")
        users[name] = (int(uid), int(gid), home, shell)
    groups = {}
    for line in (root / "etc" / "group").read_text().splitlines():
        name, _x, gid, members = line.split(":")
        groups[name] = (int(gid), [m for m in members.split(",") if m])
    return users, groups


def _check_installed_tree(root: Path) -> None:
    users, groups = _accounts(root)
    uid, gid, home, shell = users["kiosk"]
    assert 100 <= uid <= 999 and home == "/var/lib/kiosk" and shell == "/usr/sbin/nologin"
    assert groups["kiosk"][0] == gid
    for group in GROUPS:
        assert "kiosk" in groups[group][1], group
        assert groups[group][1].count("kiosk") == 1
    assert groups["dialout"][1] == ["pi", "kiosk"] if "pi" in users else True
    gshadow = (root / "etc" / "gshadow").read_text()
    shadow = (root / "etc" / "shadow").read_text()
    assert any(line.startswith("kiosk:!") for line in shadow.splitlines())
    for group in GROUPS:
        entry = next(line for line in gshadow.splitlines() if line.startswith(f"{group}:"))
        assert "kiosk" in entry.split(":")[3].split(",")

    conf = root / "etc" / "kiosk" / "kiosk.toml"
    assert conf.stat().st_mode & 0o777 == 0o640
    data = tomllib.loads(conf.read_text())
    assert data["hardware"]["simulate"] is False
    assert data["api"]["listen"] == "unix:/run/kiosk/core.sock"
    settings_ = config.load(conf)  # the kiosk accepts what was installed
    assert settings_.hardware.simulate is False
    assert data["security"]["key_file"] == "/etc/kiosk/data.key"
    key = root / "etc" / "kiosk" / "data.key"
    assert key.stat().st_size == 32 and key.stat().st_mode & 0o777 == 0o600
    assert read_key(key) == key.read_bytes()  # the core accepts the key as made
    state = root / "var" / "lib" / "kiosk"
    assert state.is_dir() and state.stat().st_mode & 0o777 == 0o750
    if IS_ROOT:
        assert (conf.stat().st_uid, conf.stat().st_gid) == (0, gid)
        assert (state.stat().st_uid, state.stat().st_gid) == (uid, gid)
        assert (key.stat().st_uid, key.stat().st_gid) == (uid, gid)

    units = root / "etc" / "systemd" / "system"
    for name in UNITS:
        assert (units / name).read_text() == (SYSTEMD / name).read_text()
        link = units / "multi-user.target.wants" / name
        assert link.is_symlink() and os.readlink(link) == f"/etc/systemd/system/{name}"
    dropin = root / "etc" / "systemd" / "system.conf.d" / "kiosk-watchdog.conf"
    assert "RuntimeWatchdogSec=" in dropin.read_text()
    modules = (root / "etc" / "modules-load.d" / "kiosk.conf").read_text().split()
    assert {"i2c-dev", "usbserial", "cdc_acm"} <= set(modules)

    app = root / "opt" / "kiosk"
    assert (app / "kiosk" / "firmware.py").is_file() and (app / "uv.lock").is_file()
    assert not (app / "tests").exists() and not (app / ".git").exists()
    assert not (app / ".venv").exists()  # skipped under --root without --with-venv
    assert not list(app.rglob("__pycache__"))

    text = (root / "boot" / "firmware" / "config.txt").read_text()
    assert text.startswith(CONFIG_TXT)  # every original line kept, in place
    assert text.count(BEGIN_MARKER) == 1 and text.count(END_MARKER) == 1
    block = text[text.index(BEGIN_MARKER):]
    for line in ("gpio=17,27=op,dh", "gpio=22=op,dl", "dtparam=i2c_arm=on",
                 "dtparam=watchdog=on"):
        assert f"\n{line}\n" in block
    assert "enable_uart=1" not in block
    assert (root / "boot" / "firmware" / "config.txt.kiosk-orig").read_text() == CONFIG_TXT
    # No UART in use: the serial console is none of the installer's business.
    assert (root / "boot" / "firmware" / "cmdline.txt").read_text() == CMDLINE_TXT


def test_install_with_this_machines_tools(installs):
    root = installs["roots"]["tools"]
    first, second = installs["outputs"]["tools"]
    _check_installed_tree(root)
    steps = [line.split()[0] for line in first.split("\n\n")[0].splitlines()]
    assert steps == ["root", "packages", "groups", "user", "app", "venv", "config", "data",
                     "key", "modules", "units", "firmware", "serial", "i2c"]
    if IS_ROOT and shutil.which("useradd"):
        assert "(useradd)" in first
    if shutil.which("systemctl"):
        assert "(systemctl --root)" in first
    assert "Next steps:" in first and "guard add" in first and "doctor --relays" in first
    assert "skipped under --root" in first


def test_install_without_useradd_or_systemctl(installs):
    root = installs["roots"]["fallback"]
    first, _second = installs["outputs"]["fallback"]
    _check_installed_tree(root)
    assert "edited" in first and "(symlinks)" in first
    # The fake root had no account files: minimal ones were made, root kept first.
    users, groups = _accounts(root)
    assert users["root"][:2] == (0, 0) and list(users)[0] == "root"
    assert len({gid for gid, _members in groups.values()}) == len(groups)  # no id twice


@pytest.mark.parametrize("kind", ["tools", "fallback"])
def test_install_twice_changes_nothing(installs, kind):
    root = installs["roots"][kind]
    _first, second = installs["outputs"][kind]
    assert _snapshot(root) == installs["first_snapshots"][kind]
    assert "block unchanged" in second
    assert "kept (never overwritten)" in second
    assert "present, in gpio" in second
    assert "/etc/kiosk/data.key kept (never replaced)" in second  # a new key loses the data


def test_install_keeps_an_existing_config_and_frees_the_uart(installs):
    root = installs["roots"]["uart"]
    out = installs["outputs"]["uart"][0]
    conf = root / "etc" / "kiosk" / "kiosk.toml"
    assert conf.read_text().startswith('[site]\nname = "Pos Jaga Uji"\n')
    assert "/dev/serial0" in conf.read_text()
    assert conf.stat().st_mode & 0o777 == 0o640  # permissions put right, content untouched
    assert "kept (never overwritten)" in out
    # The kept config names no key file: the core keeps its key in its data directory.
    assert "security.key_file not set" in out
    assert not (root / "etc" / "kiosk" / "data.key").exists()
    text = (root / "boot" / "firmware" / "config.txt").read_text()
    assert "\nenable_uart=1\n" in text[text.index(BEGIN_MARKER):]
    cmdline = (root / "boot" / "firmware" / "cmdline.txt").read_text()
    assert "console=serial0" not in cmdline
    assert cmdline == CMDLINE_TXT.replace("console=serial0,115200 ", "")
    assert (root / "boot" / "firmware" / "cmdline.txt.kiosk-orig").read_text() == CMDLINE_TXT
    assert "serial console removed" in out


def test_dry_run_changes_nothing(installs):
    root = installs["roots"]["dry"]
    out = installs["outputs"]["dry"][0]
    assert _snapshot(root) == installs["dry_before"]
    assert "dry run" in out
    assert "would create system user kiosk" in out
    assert "would create /etc/kiosk/data.key (32 random bytes) 0600 kiosk:kiosk" in out
    assert "would set the kiosk block in /boot/firmware/config.txt: gpio=17,27=op,dh" in out


def test_install_refuses_bad_arguments(tmp_path):
    result = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "no such directory" in result.stderr
    result = subprocess.run(["bash", str(INSTALL), "--bogus"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "unknown argument" in result.stderr
    result = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path), "--source",
                             str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "not a kiosk checkout" in result.stderr


def test_a_damaged_database_set_aside_leaves_the_post_running_without_guards(post):
    """The PINs went with the damaged file; the relays and alarms must not stop for that."""
    from conftest import at

    from kiosk.core.service import StartError, ensure_guards

    fresh = post(at(10, 0))
    with pytest.raises(StartError, match="kiosk guard add"):  # a new install: add one first
        ensure_guards(fresh.start(), simulate=False)
    fresh.stop()
    fresh.path.write_bytes(b"not a database at all, the SD card lost this block" * 100)
    core = fresh.start()
    assert core.status.database_recovered_from
    ensure_guards(core, simulate=False)
    fresh.stop()
    core = fresh.start()  # a power cut later: the database is healthy, still without guards
    assert not core.status.database_recovered_from
    ensure_guards(core, simulate=False)  # runs again, and the alert is not doubled
    alerts = [a for a in core.alerts.list() if a["kind"] == "no_guards"]
    assert len(alerts) == 1 and "kiosk guard add" in alerts[0]["text"]


def test_a_database_from_a_newer_kiosk_stops_the_core_for_good(tmp_path):
    """Exit 2 (systemd does not restart it) rather than a restart loop that reboots the Pi."""
    import sqlite3
    import sys

    with sqlite3.connect(tmp_path / "kiosk.db") as db:
        db.execute("PRAGMA user_version = 999")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path),
                          "core", "--simulate", "--listen", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("kiosk core: ")
    assert "newer than this kiosk" in run.stderr and "update the kiosk software" in run.stderr
