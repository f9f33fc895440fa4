#!/usr/bin/env bash
# Install the gatehouse kiosk on Raspberry Pi OS Bookworm (64-bit, Lite).
#
#   sudo systemd/install.sh                   install on this Pi
#   systemd/install.sh --dry-run              show what would be done, change nothing
#   systemd/install.sh --root DIR             install into a directory tree (an image, tests)
#
# Every step is idempotent: run it again after `git pull` to update the app and units. It
# never overwrites /etc/kiosk/kiosk.toml once it exists.
#
# Steps, one output line each:
#   packages  apt-get install python3-venv libzbar0 i2c-tools
#   groups    gpio i2c dialout video render input (created if missing)
#   user      system user kiosk, home /var/lib/kiosk, no login, in those groups
#   app       the checkout's app files copied to /opt/kiosk
#   venv      /opt/kiosk/.venv from uv.lock with uv (bootstrapped with pip if missing)
#   config    /etc/kiosk/kiosk.toml from config/kiosk.example.toml with hardware.simulate =
#             false, the API on the unix socket /run/kiosk/core.sock and security.key_file =
#             /etc/kiosk/data.key; 0640 root:kiosk
#   data      /var/lib/kiosk 0750 kiosk:kiosk
#   key       the file security.key_file names (the key sealing guests' personal data in the
#             database): 32 random bytes made once and never replaced, 0600 kiosk:kiosk
#   modules   /etc/modules-load.d/kiosk.conf: i2c-dev, usbserial, cdc_acm at boot
#   units     kiosk-core.service, kiosk-ui.service and the hardware watchdog drop-in
#             (/etc/systemd/system.conf.d/kiosk-watchdog.conf); both units enabled
#   firmware  the marked block in /boot/firmware/config.txt: relay and buzzer pins at their
#             inactive level from power-on, I2C, the UART if used, the hardware watchdog
#   serial    when the scanner or modem is on the GPIO UART: no login console on it
#   i2c       raspi-config nonint do_i2c 0 (loads I2C now instead of after the reboot)
#
# With --root DIR (for tests, or a mounted image) paths are taken inside DIR: apt-get and
# raspi-config are skipped with a log line, the venv is skipped unless --with-venv (its
# scripts then name DIR/opt/kiosk/.venv, so that is for tests), accounts are made with
# `useradd --root` (needs root) or, failing that, by editing DIR/etc/passwd, group, shadow
# and gshadow directly, and units are enabled with `systemctl --root` (works offline) or by
# making the same symlinks. A fake root gets minimal passwd/group/shadow/gshadow files if
# it has none.
#
# The config.txt lines come from `kiosk config --firmware` when the venv exists; otherwise
# from `python -m kiosk.firmware` run from the checkout (PYTHONPATH=--source) with
# $KIOSK_PYTHON, else the checkout's .venv/bin/python, else python3 (which then needs the
# kiosk's dependencies, pydantic above all; the installer says so if they are missing).
# The block is merged by kiosk.firmware.merge_config_txt with the system's python3 (that
# module needs nothing outside the standard library), leaving the rest of the file as it was.

set -euo pipefail
umask 022

APP_DIR=/opt/kiosk
CONF_DIR=/etc/kiosk
CONF_FILE=$CONF_DIR/kiosk.toml
KEY_FILE=$CONF_DIR/data.key
DATA_DIR=/var/lib/kiosk
UNIT_DIR=/etc/systemd/system
WATCHDOG_DROPIN=/etc/systemd/system.conf.d/kiosk-watchdog.conf
MODULES_FILE=/etc/modules-load.d/kiosk.conf
API_SOCKET=/run/kiosk/core.sock
KIOSK_USER=kiosk
KIOSK_GROUPS=(gpio i2c dialout video render input)
APT_PACKAGES=(python3-venv libzbar0 i2c-tools)
UNITS=(kiosk-core.service kiosk-ui.service)
# What of the checkout makes the app (tests, benchmarks, docs and caches stay behind).
APP_ITEMS=(pyproject.toml uv.lock README.md kiosk drivers config systemd)

ROOT=""
SOURCE=""
DRY_RUN=0
WITH_VENV=0

usage() {
    cat <<EOF
usage: $0 [--root DIR] [--source DIR] [--dry-run] [--with-venv]

  --root DIR     install into DIR instead of / (tests, a mounted image)
  --source DIR   the kiosk checkout to install (default: this script's parent directory)
  --dry-run      print what would be done, change nothing
  --with-venv    with --root: create the venv anyway
EOF
}

die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

# One line per step: the step's name, then what happened.
say() {
    printf '%-9s %s\n' "$1" "$2"
}

# A path inside the target root.
R() {
    printf '%s%s' "$ROOT" "$1"
}

while (($#)); do
    case $1 in
        --root) [[ $# -ge 2 ]] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
        --root=*) ROOT=${1#*=}; shift ;;
        --source) [[ $# -ge 2 ]] || die "--source needs a directory"; SOURCE=$2; shift 2 ;;
        --source=*) SOURCE=${1#*=}; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --with-venv) WITH_VENV=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

if [[ -z $SOURCE ]]; then
    SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
[[ -d $SOURCE ]] || die "--source $SOURCE: no such directory"
SOURCE=$(cd "$SOURCE" && pwd)
[[ -f $SOURCE/pyproject.toml && -d $SOURCE/kiosk ]] \
    || die "--source $SOURCE: not a kiosk checkout (no pyproject.toml and kiosk/)"

if [[ -n $ROOT ]]; then
    [[ -d $ROOT ]] || die "--root $ROOT: no such directory"
    ROOT=$(cd "$ROOT" && pwd)
    [[ $ROOT != / ]] || ROOT=""
fi

IS_ROOT_USER=0
[[ $EUID -eq 0 ]] && IS_ROOT_USER=1
if [[ -z $ROOT ]]; then
    ((IS_ROOT_USER || DRY_RUN)) || die "run as root (sudo $0), or use --dry-run or --root DIR"
    # `su` without `-` keeps a PATH without sbin, where useradd and friends live.
    PATH=$PATH:/usr/sbin:/sbin
fi
command -v python3 >/dev/null || die "python3 is needed (apt-get install python3)"

# Use a system tool, or edit the files ourselves? On the real system the tools are required;
# under --root, useradd/groupadd/usermod chroot into DIR, which only root may do.
have_tool() {
    command -v "$1" >/dev/null 2>&1 || return 1
    [[ -z $ROOT || $1 == systemctl ]] && return 0
    ((IS_ROOT_USER))
}

need_tool() {
    have_tool "$1" || die "$1 not found: install it (apt-get install $2)"
}

# Run a command quietly; show its output only if it fails.
quiet() {
    local out
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "failed: $*"
    fi
}

root_args=()
[[ -n $ROOT ]] && root_args=(--root "$ROOT")

# ---------------------------------------------------------------------------------------
# Accounts

# Field 4 of a group entry (its members) or nothing.
group_members() {
    awk -F: -v g="$1" '$1 == g { print $4 }' "$(R /etc/group)" 2>/dev/null || true
}

group_exists() {
    [[ -f $(R /etc/group) ]] && grep -q "^$1:" "$(R /etc/group)"
}

user_exists() {
    [[ -f $(R /etc/passwd) ]] && grep -q "^$1:" "$(R /etc/passwd)"
}

user_id() {
    awk -F: -v u="$1" '$1 == u { print $3 }' "$(R /etc/passwd)"
}

group_id() {
    awk -F: -v g="$1" '$1 == g { print $3 }' "$(R /etc/group)"
}

# Without useradd & co (or without the right to chroot): edit the account files directly,
# the way `useradd --system` would: ids counted down from 999, locked passwords.
edit_accounts() {
    python3 - "$(R /etc)" "$@" <<'PY'
import os
import sys
import time

etc, action, *args = sys.argv[1:]


def load(name):
    path = os.path.join(etc, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def save(name, lines):
    path = os.path.join(etc, name)
    mode = os.stat(path).st_mode & 0o777
    tmp = path + ".kiosk-new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def names(lines):
    return {line.split(":")[0] for line in lines or []}


def ids(lines):
    return {int(line.split(":")[2]) for line in lines or [] if line.split(":")[2].isdigit()}


def free_id(used, prefer=None):
    if prefer is not None and prefer not in used:
        return prefer
    for candidate in range(999, 99, -1):
        if candidate not in used:
            return candidate
    raise SystemExit("no free system id between 100 and 999")


def add_group(name, prefer=None):
    group, gshadow = load("group"), load("gshadow")
    if name in names(group):
        return
    gid = free_id(ids(group), prefer)
    save("group", group + [f"{name}:x:{gid}:"])
    if gshadow is not None:
        save("gshadow", gshadow + [f"{name}:!::"])


today = int(time.time() // 86400)
if action == "group":
    add_group(args[0])
elif action == "user":
    user, home, shell, comment = args
    passwd, shadow = load("passwd"), load("shadow")
    if user not in names(passwd):
        uid = free_id(ids(passwd))
        add_group(user, prefer=uid if uid not in ids(load("group")) else None)
        gid = next(line.split(":")[2] for line in load("group") if line.split(":")[0] == user)
        save("passwd", passwd + [f"{user}:x:{uid}:{gid}:{comment}:{home}:{shell}"])
        if shadow is not None:
            save("shadow", shadow + [f"{user}:!:{today}::::::"])
elif action == "member":
    user, groups = args[0], args[1].split(",")
    for name in ("group", "gshadow"):
        lines = load(name)
        if lines is None:
            continue
        changed = False
        for i, line in enumerate(lines):
            fields = line.split(":")
            if fields[0] in groups and len(fields) == 4:
                members = [m for m in fields[3].split(",") if m]
                if user not in members:
                    fields[3] = ",".join(members + [user])
                    lines[i] = ":".join(fields)
                    changed = True
        if changed:
            save(name, lines)
else:
    raise SystemExit(f"unknown action {action}")
PY
}

# A fake root may have no account files at all; useradd needs them to exist. Missing shadow
# files are made from passwd and group, locked.
seed_fake_root_accounts() {
    [[ -n $ROOT ]] || return 0
    mkdir -p "$(R /etc)"
    [[ -e $(R /etc/passwd) ]] || printf 'root:x:0:0:root:/root:/bin/bash\n' >"$(R /etc/passwd)"
    [[ -e $(R /etc/group) ]] || printf 'root:x:0:\n' >"$(R /etc/group)"
    if [[ ! -e $(R /etc/shadow) ]]; then
        awk -F: -v d="$(($(date +%s) / 86400))" '{ print $1 ":*:" d ":0:99999:7:::" }' \
            "$(R /etc/passwd)" >"$(R /etc/shadow)"
        chmod 0640 "$(R /etc/shadow)"
    fi
    if [[ ! -e $(R /etc/gshadow) ]]; then
        awk -F: '{ print $1 ":*::" $4 }' "$(R /etc/group)" >"$(R /etc/gshadow)"
        chmod 0640 "$(R /etc/gshadow)"
    fi
}

step_groups() {
    local missing=() group
    for group in "${KIOSK_GROUPS[@]}"; do
        group_exists "$group" || missing+=("$group")
    done
    if ((${#missing[@]} == 0)); then
        say groups "present: ${KIOSK_GROUPS[*]}"
        return
    fi
    if ((DRY_RUN)); then
        say groups "would create: ${missing[*]}"
        return
    fi
    local how
    if have_tool groupadd; then
        how=groupadd
        for group in "${missing[@]}"; do quiet groupadd "${root_args[@]}" --system "$group"; done
    else
        [[ -n $ROOT ]] || need_tool groupadd passwd
        how="edited $(R /etc/group)"
        for group in "${missing[@]}"; do edit_accounts group "$group"; done
    fi
    say groups "created: ${missing[*]} ($how)"
}

step_user() {
    local joined missing=() group how=""
    joined=$(IFS=,; echo "${KIOSK_GROUPS[*]}")
    if ((DRY_RUN)); then
        if user_exists "$KIOSK_USER"; then
            say user "would check $KIOSK_USER is in: ${KIOSK_GROUPS[*]}"
        else
            say user "would create system user $KIOSK_USER in: ${KIOSK_GROUPS[*]}"
        fi
        return
    fi
    local created=0
    if ! user_exists "$KIOSK_USER"; then
        if have_tool useradd; then
            how=useradd
            quiet useradd "${root_args[@]}" --system --user-group --home-dir "$DATA_DIR" \
                --no-create-home --shell /usr/sbin/nologin --comment "Gatehouse kiosk" \
                "$KIOSK_USER"
        else
            [[ -n $ROOT ]] || need_tool useradd passwd
            how="edited $(R /etc/passwd)"
            edit_accounts user "$KIOSK_USER" "$DATA_DIR" /usr/sbin/nologin "Gatehouse kiosk"
        fi
        created=1
    fi
    for group in "${KIOSK_GROUPS[@]}"; do
        [[ ,$(group_members "$group"), == *",$KIOSK_USER,"* ]] || missing+=("$group")
    done
    if ((${#missing[@]})); then
        if have_tool usermod; then
            quiet usermod "${root_args[@]}" --append --groups "$joined" "$KIOSK_USER"
            how=${how:-usermod}
        else
            [[ -n $ROOT ]] || need_tool usermod passwd
            edit_accounts member "$KIOSK_USER" "$joined"
            how=${how:-"edited $(R /etc/group)"}
        fi
    fi
    local ids
    ids="uid $(user_id "$KIOSK_USER"), gid $(group_id "$KIOSK_USER")"
    if ((created)); then
        say user "created $KIOSK_USER ($ids) in ${KIOSK_GROUPS[*]} ($how)"
    elif ((${#missing[@]})); then
        say user "$KIOSK_USER ($ids) added to ${missing[*]} ($how)"
    else
        say user "$KIOSK_USER ($ids) present, in ${KIOSK_GROUPS[*]}"
    fi
}

# chown by the ids in the target root's account files: under --root, the names mean
# nothing to this machine. Without root privileges (tests) ownership is left as it is.
OWNERSHIP_NOTE=""
chown_ids() {
    local owner=$1 group=$2
    shift 2
    if ((!IS_ROOT_USER)); then
        OWNERSHIP_NOTE=" (ownership not set: not running as root)"
        return 0
    fi
    local uid gid
    if [[ $owner == root ]]; then uid=0; else uid=$(user_id "$owner"); fi
    gid=$(group_id "$group")
    [[ -n $uid && -n $gid ]] || die "no ids for $owner:$group in $(R /etc/passwd)"
    chown "$uid:$gid" "$@"
}

# ---------------------------------------------------------------------------------------
# Packages, app, venv

step_packages() {
    if [[ -n $ROOT ]]; then
        say packages "skipped under --root: apt-get install ${APT_PACKAGES[*]}"
        return
    fi
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        say packages "installed: ${APT_PACKAGES[*]}"
    elif ((DRY_RUN)); then
        say packages "would apt-get install ${missing[*]}"
    else
        quiet apt-get update -qq
        DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"
        say packages "installed ${missing[*]}"
    fi
}

step_app() {
    local dest item
    dest=$(R "$APP_DIR")
    if [[ -d $dest && $(cd "$dest" && pwd -P) == $(cd "$SOURCE" && pwd -P) ]]; then
        say app "$APP_DIR is the source itself: nothing to copy"
        return
    fi
    for item in "${APP_ITEMS[@]}"; do
        [[ -e $SOURCE/$item ]] || die "--source $SOURCE: $item is missing"
    done
    if ((DRY_RUN)); then
        say app "would copy ${APP_ITEMS[*]} from $SOURCE to $APP_DIR"
        return
    fi
    mkdir -p "$dest"
    for item in "${APP_ITEMS[@]}"; do
        rm -rf "${dest:?}/$item"
        cp -R "$SOURCE/$item" "$dest/"
    done
    find "$dest" -name __pycache__ -prune -exec rm -rf {} +
    chmod -R u+rwX,go+rX,go-w "$dest"
    ((IS_ROOT_USER)) && chown -R 0:0 "$dest"
    say app "copied ${APP_ITEMS[*]} to $APP_DIR"
}

step_venv() {
    if [[ -n $ROOT ]] && ((!WITH_VENV)); then
        say venv "skipped under --root (use --with-venv to create $APP_DIR/.venv)"
        return
    fi
    local dest uv
    dest=$(R "$APP_DIR")
    if ((DRY_RUN)); then
        say venv "would create $APP_DIR/.venv from uv.lock with uv"
        return
    fi
    uv=$(command -v uv || true)
    if [[ -z $uv ]]; then
        # As the Makefile does: a private uv, installed with pip into its own venv.
        [[ -x $dest/.uv/bin/uv ]] || {
            quiet python3 -m venv "$dest/.uv"
            quiet "$dest/.uv/bin/pip" install -q uv
        }
        uv=$dest/.uv/bin/uv
    fi
    # Not editable and precompiled: /opt is read-only for the services (ProtectSystem=strict).
    # The app itself is always rebuilt: uv would otherwise keep a wheel of the old source.
    (cd "$dest" && UV_PROJECT_ENVIRONMENT="$dest/.venv" UV_PYTHON_DOWNLOADS=never \
        UV_PYTHON_PREFERENCE=only-system \
        quiet "$uv" sync --frozen --no-editable --reinstall-package gatehouse-kiosk \
        --compile-bytecode -p 3.11 -q)
    say venv "$APP_DIR/.venv synced from uv.lock ($("$dest/.venv/bin/python" --version 2>&1))"
}

# ---------------------------------------------------------------------------------------
# Config and data

# The example config made into this Pi's: real hardware, the API on the unix socket. Edited
# line by line (the comments stay) and checked with tomllib.
make_config() {
    python3 - "$SOURCE/config/kiosk.example.toml" "$1" "$API_SOCKET" "$KEY_FILE" <<'PY'
import os
import re
import sys
import tomllib

example, target, socket_path, key_file = sys.argv[1:]
with open(example, encoding="utf-8") as f:
    lines = f.read().splitlines(keepends=True)


def set_key(table, key, literal):
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{table}]"), None)
    if start is None:
        lines.extend(["\n", f"[{table}]\n", f"{key} = {literal}\n"])
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    for i in range(start + 1, end):
        if re.match(rf"\s*{key}\s*=", lines[i]):
            lines[i] = f"{key} = {literal}\n"
            return
    lines.insert(start + 1, f"{key} = {literal}\n")


set_key("hardware", "simulate", "false")
set_key("api", "listen", f'"unix:{socket_path}"')
set_key("ui", "core_url", f'"unix:{socket_path}"')
set_key("security", "key_file", f'"{key_file}"')
text = "".join(lines)
data = tomllib.loads(text)
assert data["hardware"]["simulate"] is False
assert data["security"]["key_file"] == key_file
assert data["api"]["listen"] == f"unix:{socket_path}"
assert data["ui"]["core_url"] == f"unix:{socket_path}"
tmp = target + ".kiosk-new"
with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
os.chmod(tmp, 0o640)
os.replace(tmp, target)
PY
}

step_config() {
    local conf
    conf=$(R "$CONF_FILE")
    if ((DRY_RUN)); then
        if [[ -e $conf ]]; then
            say config "would keep $CONF_FILE and set it 0640 root:$KIOSK_USER"
        else
            local plan="simulate = false, API on unix:$API_SOCKET, key in $KEY_FILE"
            say config "would create $CONF_FILE ($plan)"
        fi
        return
    fi
    mkdir -p "$(R "$CONF_DIR")"
    chmod 0755 "$(R "$CONF_DIR")"
    local what
    if [[ -e $conf ]]; then
        what="kept (never overwritten)"
    else
        make_config "$conf"
        what="created from config/kiosk.example.toml: simulate = false, API on unix:$API_SOCKET,"
        what+=" key in $KEY_FILE"
    fi
    OWNERSHIP_NOTE=""
    chmod 0640 "$conf"
    chown_ids root "$KIOSK_USER" "$conf"
    say config "$CONF_FILE $what; 0640 root:$KIOSK_USER$OWNERSHIP_NOTE"
}

step_data() {
    if ((DRY_RUN)); then
        say data "would create $DATA_DIR 0750 $KIOSK_USER:$KIOSK_USER"
        return
    fi
    mkdir -p "$(R "$DATA_DIR")"
    chmod 0750 "$(R "$DATA_DIR")"
    OWNERSHIP_NOTE=""
    chown_ids "$KIOSK_USER" "$KIOSK_USER" "$(R "$DATA_DIR")"
    say data "$DATA_DIR 0750 $KIOSK_USER:$KIOSK_USER$OWNERSHIP_NOTE"
}

# security.key_file from the installed config ("" when not set), or the default under dry
# run when there is no config yet.
configured_key_file() {
    local conf
    conf=$(R "$CONF_FILE")
    if [[ ! -f $conf ]]; then
        printf '%s\n' "$KEY_FILE"
        return
    fi
    python3 - "$conf" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f).get("security", {}).get("key_file", ""))
PY
}

# 32 random bytes, 0600 from the moment the file exists; never over an existing file.
make_key() {
    python3 - "$1" <<'PY'
import os
import sys

fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
try:
    os.fchmod(fd, 0o600)
    assert os.write(fd, os.urandom(32)) == 32
    os.fsync(fd)
finally:
    os.close(fd)
PY
}

# The key that seals guests' personal data in the database. Made once and never replaced:
# a new key would leave the data sealed under the old one unreadable.
step_key() {
    local path key
    path=$(configured_key_file)
    if [[ -z $path ]]; then
        local default=$DATA_DIR/data.key
        say key "security.key_file not set in $CONF_FILE: the core makes its key in $default"
        return
    fi
    key=$(R "$path")
    if ((DRY_RUN)); then
        if [[ -e $key ]]; then
            say key "would keep $path and set it 0600 $KIOSK_USER:$KIOSK_USER"
        else
            say key "would create $path (32 random bytes) 0600 $KIOSK_USER:$KIOSK_USER"
        fi
        return
    fi
    local what
    if [[ -e $key ]]; then
        [[ -f $key && $(stat -c %s "$key") -eq 32 ]] \
            || die "$path is not a 32-byte key file: restore the kiosk's key from backup"
        what="kept (never replaced)"
    else
        mkdir -p "$(dirname "$key")"
        make_key "$key"
        what="created: back it up apart from the SD card"
    fi
    OWNERSHIP_NOTE=""
    chmod 0600 "$key"
    chown_ids "$KIOSK_USER" "$KIOSK_USER" "$key"
    say key "$path $what; 0600 $KIOSK_USER:$KIOSK_USER$OWNERSHIP_NOTE"
}

# ---------------------------------------------------------------------------------------
# Units, modules, watchdog

step_modules() {
    if ((DRY_RUN)); then
        say modules "would write $MODULES_FILE: i2c-dev usbserial cdc_acm"
        return
    fi
    mkdir -p "$(dirname "$(R "$MODULES_FILE")")"
    cat >"$(R "$MODULES_FILE")" <<'EOF'
# Written by the kiosk installer (systemd/install.sh).
# Loaded at boot, before kiosk-core.service: its DeviceAllow=char-i2c/char-ttyUSB/char-ttyACM
# only match device groups whose driver is already loaded, and /dev/i2c-* needs i2c-dev.
i2c-dev
usbserial
cdc_acm
EOF
    chmod 0644 "$(R "$MODULES_FILE")"
    say modules "$MODULES_FILE: i2c-dev usbserial cdc_acm"
}

# WantedBy= targets from a unit's [Install] section.
wanted_by() {
    sed -n '/^\[Install\]/,/^\[/{s/^WantedBy=//p}' "$1" | tr ' ' '\n' | sed '/^$/d'
}

step_units() {
    local unit target unit_dir
    unit_dir=$(R "$UNIT_DIR")
    for unit in "${UNITS[@]}"; do
        [[ -f $SOURCE/systemd/$unit ]] || die "--source $SOURCE: systemd/$unit is missing"
    done
    if ((DRY_RUN)); then
        say units "would install and enable ${UNITS[*]}; $WATCHDOG_DROPIN"
        return
    fi
    mkdir -p "$unit_dir" "$(dirname "$(R "$WATCHDOG_DROPIN")")"
    for unit in "${UNITS[@]}"; do
        install -m 0644 "$SOURCE/systemd/$unit" "$unit_dir/$unit"
    done
    install -m 0644 "$SOURCE/systemd/system.conf.d/kiosk-watchdog.conf" "$(R "$WATCHDOG_DROPIN")"
    local how
    if have_tool systemctl; then
        if [[ -n $ROOT ]]; then
            quiet systemctl --root="$ROOT" enable "${UNITS[@]}"
            how="systemctl --root"
        else
            quiet systemctl daemon-reload
            quiet systemctl enable "${UNITS[@]}"
            how=systemctl
        fi
    else
        [[ -n $ROOT ]] || need_tool systemctl systemd
        for unit in "${UNITS[@]}"; do
            while read -r target; do
                mkdir -p "$unit_dir/$target.wants"
                ln -sfn "$UNIT_DIR/$unit" "$unit_dir/$target.wants/$unit"
            done < <(wanted_by "$unit_dir/$unit")
        done
        how="symlinks"
    fi
    say units "installed and enabled ${UNITS[*]} ($how); hardware watchdog $WATCHDOG_DROPIN"
}

# ---------------------------------------------------------------------------------------
# Firmware: config.txt, serial console, I2C

CONFIG_TXT=""
FIRMWARE_LINES=""

find_config_txt() {
    local candidate
    for candidate in /boot/firmware/config.txt /boot/config.txt; do
        if [[ -f $(R "$candidate") ]]; then
            CONFIG_TXT=$candidate
            return 0
        fi
    done
    return 1
}

# Only config.txt directives pass, whatever else a command may print.
directives() {
    grep -E '^(\[[a-z0-9_]+\]|[A-Za-z0-9_]+=.*)$' || true
}

firmware_lines() {
    local conf kiosk venv_python python out
    conf=$(R "$CONF_FILE")
    [[ -f $conf ]] || conf=$SOURCE/config/kiosk.example.toml
    kiosk=$(R "$APP_DIR/.venv/bin/kiosk")
    venv_python=$(R "$APP_DIR/.venv/bin/python")
    if [[ -x $kiosk ]] && out=$("$kiosk" --config "$conf" config --firmware 2>/dev/null) \
        && out=$(directives <<<"$out") && [[ -n $out ]]; then
        printf '%s\n' "$out"
        return
    fi
    if [[ -x $venv_python ]]; then
        python=$venv_python
    elif [[ -n ${KIOSK_PYTHON:-} ]]; then
        python=$KIOSK_PYTHON
    elif [[ -x $SOURCE/.venv/bin/python ]]; then
        python=$SOURCE/.venv/bin/python
    else
        python=python3
    fi
    if ! out=$(PYTHONPATH=$SOURCE "$python" -m kiosk.firmware --config "$conf" 2>&1); then
        printf '%s\n' "$out" >&2
        die "cannot work out the config.txt lines from $conf with $python (it needs the" \
            "kiosk's dependencies: run without --root, add --with-venv, or set KIOSK_PYTHON)"
    fi
    directives <<<"$out"
}

# argv: config.txt, then one argument per line.
MERGE_PY='
import os, shutil, sys
from kiosk.firmware import BEGIN_MARKER, merge_config_txt

path, lines = sys.argv[1], sys.argv[2:]
with open(path, encoding="utf-8", newline="") as f:
    old = f.read()
new = merge_config_txt(old, lines)
if new == old:
    print("unchanged")
    raise SystemExit(0)
backup = path + ".kiosk-orig"
if BEGIN_MARKER not in old and not os.path.exists(backup):
    shutil.copy2(path, backup)
tmp = path + ".kiosk-new"
with open(tmp, "w", encoding="utf-8", newline="") as f:
    f.write(new)
    f.flush()
    os.fsync(f.fileno())
shutil.copymode(path, tmp)
os.replace(tmp, path)
print("updated" if BEGIN_MARKER in old else "added")
'

merge_config_txt() {
    local path=$1 lines
    mapfile -t lines <<<"$FIRMWARE_LINES"
    PYTHONPATH=$SOURCE python3 -c "$MERGE_PY" "$path" "${lines[@]}"
}

step_firmware() {
    FIRMWARE_LINES=$(firmware_lines)
    local summary
    summary=$(paste -sd ';' <<<"$FIRMWARE_LINES" | sed 's/;/; /g')
    if ! find_config_txt; then
        say firmware "skipped: no /boot/firmware/config.txt (not Raspberry Pi OS?); lines: $summary"
        return
    fi
    if ((DRY_RUN)); then
        say firmware "would set the kiosk block in $CONFIG_TXT: $summary"
        return
    fi
    local result
    result=$(merge_config_txt "$(R "$CONFIG_TXT")") || die "could not update $CONFIG_TXT"
    say firmware "$CONFIG_TXT block $result: $summary"
}

raspi_config_usable() {
    [[ -z $ROOT ]] && command -v raspi-config >/dev/null 2>&1
}

# Remove the login console from the GPIO UART (the scanner or modem owns it).
drop_serial_console() {
    python3 - "$1" <<'PY'
import os
import re
import shutil
import sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    old = f.read()
pattern = re.compile(r"console=(serial0|serial1|ttyAMA0|ttyS0)(,\S*)?$")
tokens = old.split()
kept = [token for token in tokens if not pattern.match(token)]
if kept == tokens:
    print("no serial console")
    raise SystemExit(0)
if not os.path.exists(path + ".kiosk-orig"):
    shutil.copy2(path, path + ".kiosk-orig")
tmp = path + ".kiosk-new"
with open(tmp, "w", encoding="utf-8") as f:
    f.write(" ".join(kept) + "\n")
    f.flush()
    os.fsync(f.fileno())
shutil.copymode(path, tmp)
os.replace(tmp, path)
print("serial console removed")
PY
}

step_serial() {
    if ! grep -qx 'enable_uart=1' <<<"$FIRMWARE_LINES"; then
        say serial "GPIO UART not used by the scanner or modem: left as it is"
        return
    fi
    if ((DRY_RUN)); then
        say serial "would enable the GPIO UART and remove its login console"
        return
    fi
    if raspi_config_usable && raspi-config nonint do_serial_hw 0 >/dev/null 2>&1 \
        && raspi-config nonint do_serial_cons 1 >/dev/null 2>&1; then
        say serial "GPIO UART enabled, login console off (raspi-config)"
        return
    fi
    local cmdline result
    cmdline=${CONFIG_TXT%config.txt}cmdline.txt
    if [[ -z $CONFIG_TXT || ! -f $(R "$cmdline") ]]; then
        say serial "enable_uart=1 set; no cmdline.txt found to check for a serial console"
        return
    fi
    result=$(drop_serial_console "$(R "$cmdline")")
    say serial "enable_uart=1 set; $cmdline: $result"
}

step_i2c() {
    if ! grep -qx 'dtparam=i2c_arm=on' <<<"$FIRMWARE_LINES"; then
        say i2c "thermometer disabled: I2C left as it is"
    elif ((DRY_RUN)); then
        say i2c "would enable I2C (config.txt block, i2c-dev at boot)"
    elif raspi_config_usable && raspi-config nonint do_i2c 0 >/dev/null 2>&1; then
        say i2c "enabled now and at boot (raspi-config nonint do_i2c 0)"
    else
        say i2c "enabled at the next boot (dtparam=i2c_arm=on, i2c-dev in $MODULES_FILE)"
    fi
}

# ---------------------------------------------------------------------------------------

main() {
    ((DRY_RUN)) && say mode "dry run: nothing is changed"
    [[ -n $ROOT ]] && say root "installing into $ROOT"
    step_packages
    if ((!DRY_RUN)); then seed_fake_root_accounts; fi
    step_groups
    step_user
    step_app
    step_venv
    step_config
    step_data
    step_key
    step_modules
    step_units
    step_firmware
    step_serial
    step_i2c
    local kiosk="$APP_DIR/.venv/bin/kiosk --config $CONF_FILE" pins
    pins=$(sed -n 's/^gpio=\([0-9,]*\)=.*/\1/p' <<<"$FIRMWARE_LINES" | paste -sd ,)
    cat <<EOF

Next steps:
  1. Edit $CONF_FILE for this post (site name, relay wiring, alarm contacts), then check it:
       sudo -u $KIOSK_USER $kiosk config
  2. Add the guards and at least one admin, each with a PIN (the core will not start without):
       sudo -u $KIOSK_USER $kiosk --data-dir $DATA_DIR guard add "Name" --admin
  3. Check every device (stop kiosk-core first if it is running: it holds the pins);
     --relays clicks each relay for half a second, so the gate may move:
       sudo -u $KIOSK_USER $kiosk doctor --relays --buzzer
  4. Reboot, so the firmware sets the relay pins and the hardware watchdog is armed:
       sudo reboot
     then check: systemctl status kiosk-core kiosk-ui; pinctrl get ${pins:-<pins>}; wdctl
  5. Back up the key file (security.key_file, $KEY_FILE on a new install) somewhere off
     this Pi: without it the guests' data in the database cannot be read.
EOF
}

main
