import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import config
from kiosk.config import ConfigError, Settings, load, parse
from kiosk.config.messages import _model_of

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "kiosk.example.toml"


def problems(text):
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value.problems


def test_example_config_equals_the_simulator_defaults():
    assert load(EXAMPLE) == load(None)
    assert load(None).hardware.simulate is True


def test_example_documents_every_key():
    """Every field of every section appears in its own table of the example, not elsewhere."""
    import tomllib

    from pydantic import BaseModel

    example = tomllib.loads(EXAMPLE.read_text())
    missing = []

    def check(model, data, where):
        for name, field in model.model_fields.items():
            if name not in data:
                missing.append(f"{where}{name}")
                continue
            inner = _model_of(field.annotation)
            value = data[name]
            if inner is None:
                continue
            origin = getattr(field.annotation, "__origin__", None)
            if origin is dict:
                for key, item in value.items():
                    check(inner, item, f"{where}{name}.{key}.")
            elif isinstance(value, list):
                assert value, f"{where}{name} is an empty list: show one entry"
                for i, item in enumerate(value):
                    check(inner, item, f"{where}{name}[{i}].")
            elif isinstance(inner, type) and issubclass(inner, BaseModel):
                check(inner, value, f"{where}{name}.")

    check(Settings, example, "")
    assert missing == []


def test_defaults_follow_the_sop():
    s = load(None)
    lights, gate = s.relays["lights"], s.relays["gate_lock"]
    assert (lights.schedule[0].on, lights.schedule[0].off) == (dt.time(17), dt.time(5, 30))
    assert (gate.schedule[0].on, gate.schedule[0].off) == (dt.time(21), dt.time(6))
    assert s.site.timezone == "Asia/Jakarta" and s.site.language == "id"


def test_settings_are_immutable():
    s = load(None)
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        s.thermometer.threshold_c = 40.0


def test_the_issue_example_line():
    assert problems("[relays.lights]\npin = 41\n") == [
        "kiosk.toml: relays.lights.pin = 41: not a BCM GPIO pin (0-27)"
    ]


def test_file_name_is_the_path_given(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[buzzer]\npin = 99\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.problems == [f"{path}: buzzer.pin = 99: not a BCM GPIO pin (0-27)"]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found: copy config/kiosk.example.toml"):
        load(tmp_path / "nope.toml")


def test_invalid_toml_names_the_line():
    (line,) = problems("[site]\nname = \n")
    assert line.startswith("kiosk.toml: not valid TOML:") and "line 2" in line


def test_two_devices_on_one_pin():
    assert problems("[buzzer]\npin = 17\n") == [
        "kiosk.toml: buzzer.pin = 17: GPIO17 is already used by relays.lights.pin"
    ]


def test_disabled_device_frees_its_pin():
    s = parse("[relays.lights]\nenabled = false\n[buzzer]\npin = 17\n")
    assert s.buzzer.pin == 17


def test_i2c_and_uart_pins_are_reserved():
    assert "thermometer's I2C bus" in problems("[panic_button]\npin = 2\n")[0]
    found = problems('[modem]\nport = "/dev/serial0"\n[panic_button]\npin = 14\n')
    assert "serial port" in found[0]
    assert parse("[thermometer]\nenabled = false\n[panic_button]\npin = 2\n").panic_button.pin == 2


def test_unknown_key_with_did_you_mean():
    (line,) = problems("[thermometer]\nthreshhold_c = 37.5\n")
    assert line.startswith(
        "kiosk.toml: thermometer.threshhold_c: unknown key; did you mean 'threshold_c'?"
    )
    (line,) = problems("[relays.lights]\nactive_hi = false\n")
    assert "did you mean 'active_high'?" in line
    (line,) = problems("[camra]\ndevice = 0\n")
    assert "did you mean 'camera'?" in line


@pytest.mark.parametrize("value", ['"25:00"', '"17:60"', '"5:30"', '"noon"', "1700"])
def test_bad_times(value):
    (line,) = problems(f"[[relays.lights.schedule]]\non = {value}\noff = \"05:30\"\n")
    assert line == (
        f"kiosk.toml: relays.lights.schedule[0].on = {value}: "
        'not a time of day: use "HH:MM" from 00:00 to 23:59'
    )


def test_toml_native_times_and_several_intervals():
    s = parse(
        "[[relays.lights.schedule]]\non = 17:00:00\noff = 22:00:00\n"
        '[[relays.lights.schedule]]\non = "04:30"\noff = "05:30"\ndays = ["mon", "fri"]\n'
    )
    first, second = s.relays["lights"].schedule
    assert (first.on, first.off) == (dt.time(17), dt.time(22))
    assert second.days == ("mon", "fri")


def test_bad_weekday_suggests():
    (line,) = problems('[[relays.lights.schedule]]\non = "17:00"\noff = "05:30"\ndays = ["Mon"]\n')
    assert "'Mon' is not a day (did you mean 'mon'?)" in line


def test_unknown_timezone_suggests():
    (line,) = problems('[site]\ntimezone = "Asia/Jakart"\n')
    assert line.startswith('kiosk.toml: site.timezone = "Asia/Jakart": unknown timezone')
    assert "did you mean Asia/Jakarta?" in line
    (line,) = problems('[site]\ntimezone = "WIB"\n')
    assert "Asia/Makassar" in line


def test_fahrenheit_threshold_is_caught():
    (line,) = problems("[thermometer]\nthreshold_c = 99.5\n")
    assert line == (
        "kiosk.toml: thermometer.threshold_c = 99.5: looks like Fahrenheit "
        "(99.5 °F = 37.5 °C): give it in °C, between 35 and 42"
    )
    (line,) = problems("[thermometer]\nthreshold_c = 20\n")
    assert "between 35 and 42" in line


def test_integer_threshold_is_fine():
    assert parse("[thermometer]\nthreshold_c = 38\n").thermometer.threshold_c == 38


def test_wrong_types_are_explained():
    found = problems('[buzzer]\nactive_high = "yes"\n[site]\nname = 5\n')
    assert 'kiosk.toml: buzzer.active_high = "yes": must be true or false (no quotes)' in found
    assert "kiosk.toml: site.name = 5: must be text in quotes" in found


def test_literal_choices_listed():
    (line,) = problems('[site]\nlanguage = "jv"\n')
    assert line == "kiosk.toml: site.language = \"jv\": must be one of 'id' or 'en'"


def test_i2c_address_shown_in_hex():
    (line,) = problems("[thermometer]\naddress = 0x99\n")
    assert line.startswith("kiosk.toml: thermometer.address = 0x99: not an I2C address")


def test_every_problem_reported_at_once():
    found = problems(
        '[relays.lights]\npin = 41\n[buzzer]\npin = -1\n[site]\ntimezone = "Mars/Base"\n'
    )
    assert len(found) == 3


def test_new_relay_needs_a_pin():
    (line,) = problems("[relays.pump]\nactive_high = true\n")
    assert line == "kiosk.toml: relays.pump.pin: is required"
    s = parse("[relays.pump]\npin = 5\n")
    assert s.relays["pump"].pin == 5 and set(s.relays) == {"lights", "gate_lock", "pump"}


def test_kiosk_config_env(monkeypatch, tmp_path):
    path = tmp_path / "k.toml"
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    assert config.find_config(None) == path
    assert config.find_config("other.toml") == Path("other.toml")


toml_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(
    section=st.sampled_from(["site", "buzzer", "thermometer", "camera", "modem", "panic_button",
                             "relays.lights", "hardware", "scanner"]),
    key=st.sampled_from(["name", "pin", "timezone", "threshold_c", "address", "device", "port",
                         "baudrate", "enabled", "hold_seconds", "simulate", "bogus", "on"]),
    value=toml_scalars,
)
def test_any_value_is_accepted_or_explained_in_one_line(section, key, value):
    import json

    rendered = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
    text = f"[{section}]\n{key} = {rendered}\n"
    try:
        parse(text)
    except ConfigError as exc:
        assert exc.problems
        for line in exc.problems:
            assert line.startswith("kiosk.toml: ") and "\n" not in line


def _leaf_keys(value, where=()):
    """Every key of the example that holds a value, as a path of names."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_keys(item, (*where, key))
    else:
        yield where


def _entry_fields(value, where=()):
    """(path, field) for each field of the first entry of every list of tables."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _entry_fields(item, (*where, key))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for field in value[0]:
            yield where, field


def _toml(value) -> str:
    """``value`` written as TOML (an inline table for a dict)."""
    import json

    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)  # inf and nan are TOML floats too
    if isinstance(value, str):  # a JSON string is a TOML basic string, once DEL is escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return "{" + ", ".join(f"{_toml(key)} = {_toml(item)}" for key, item in value.items()) + "}"


def _example():
    import tomllib

    return tomllib.loads(EXAMPLE.read_text())


toml_values = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(), st.text(max_size=30),
        st.sampled_from(["", " ", "07:00", "24:00", "17:00-06:00", "Asia/Jakarta", "0x5a",
                         "/dev/ttyUSB0", "+6281100000001", "mon", "x" * 300]),
        st.dates(), st.times(),
        st.datetimes(timezones=st.sampled_from([None, dt.UTC,
                                                dt.timezone(dt.timedelta(hours=7))]))),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.from_regex(r"[a-z_]{1,10}", fullmatch=True), inner, max_size=3),
    max_leaves=6)


def _check_named(problems, section, key):
    """One line per problem, and one of them names the key: "visits.out_by = ...", or from a
    check of the whole table "visits: wait_until must be earlier than out_by"."""
    for line in problems:
        assert line.startswith("kiosk.toml: ") and "\n" not in line, line
    assert any(line.startswith(f"kiosk.toml: {section}") and key in line for line in problems), \
        (section, key, problems)


@settings(max_examples=250, deadline=None)
@given(key=st.sampled_from(sorted(set(_leaf_keys(_example())))), value=toml_values)
def test_every_key_takes_any_toml_value_or_says_what_is_wrong_with_it(key, value):
    """Any TOML value for any key of the example: settings, or one line per problem naming the
    key, never another exception (a mistyped config must not crash the post at boot)."""
    named = ".".join(key)
    try:
        parse(f"{named} = {_toml(value)}\n")
    except ConfigError as exc:
        _check_named(exc.problems, key[0], key[-1])


@settings(max_examples=150, deadline=None)
@given(where=st.sampled_from(sorted(set(_entry_fields(_example())))), value=toml_values)
def test_every_list_entry_field_takes_any_toml_value_or_names_it(where, value):
    path, field = where
    entries = _example()
    for name in path:
        entries = entries[name]
    entries[0][field] = value
    named = ".".join(path)
    try:
        parse(f"{named} = {_toml(entries)}\n")
    except ConfigError as exc:
        _check_named(exc.problems, path[0], field)


# --- sections for running the post --------------------------------------------------------


def test_default_alarm_codes_follow_the_sop():
    s = load(None)
    assert list(s.alarms) == ["fire", "disaster", "crime", "evacuation", "all_clear"]
    for code in ("fire", "evacuation"):
        assert s.alarms[code].relays == {"gate_lock": False, "lights": True}
    assert s.alarms["crime"].button == "hold"
    assert s.alarms["all_clear"].clears
    assert len({(a.pattern, a.repeat) for a in s.alarms.values()}) == 5


def test_api_refuses_the_network_unless_allowed():
    (line,) = problems('[api]\nlisten = "0.0.0.0:8470"\n')
    assert "would expose the guard API to the network" in line
    assert parse('[api]\nlisten = "0.0.0.0:8470"\nallow_network = true\n').api.allow_network
    assert parse('[api]\nlisten = "unix:/run/kiosk/core.sock"\n').api.listen.startswith("unix:")
    assert parse('[api]\nlisten = "[::1]:8470"\n')
    (line,) = problems('[api]\nlisten = "8470"\n')
    assert 'use "HOST:PORT"' in line


def test_sync_settings_say_what_to_fix():
    ok = parse('[sync]\nurl = "https://hq.example.go.id/"\ntoken_file = "/etc/kiosk/hq.token"\n'
               'every = "2h"\n').sync
    assert ok.url == "https://hq.example.go.id" and ok.every_seconds == 7200
    assert parse('[sync]\nurl = "http://127.0.0.1:8480"\ntoken = "' + "t" * 43 + '"\n')
    (line,) = problems('[sync]\nurl = "http://hq.example.go.id"\ntoken = "' + "t" * 43 + '"\n')
    assert "unencrypted: use https://" in line
    (line,) = problems('[sync]\nurl = "https://hq.example.go.id"\n')
    assert "no token: set sync.token_file" in line
    (line,) = problems('[sync]\nevery = "15 minutes"\n')
    assert 'e.g. "15m"' in line
    (line,) = problems('[sync]\ntoken = "' + "t" * 43 + '"\ntoken_file = "/x"\n')
    assert "not both" in line
    assert problems('[sync]\nhq_key = "short"\n')


def test_alarm_references_are_checked():
    found = problems(
        '[alarms.fire]\nnotify = ["firemen"]\nrelays = { gate = false }\nbutton = "hold"\n'
    )
    assert any('alarms.fire.notify = "firemen": no such group in [contacts]' in f for f in found)
    assert any("alarms.fire.relays.gate: no such relay" in f for f in found)
    assert any('alarms.crime.button = "hold": already raises alarms.fire' in f for f in found)


def test_alarms_must_sound_different():
    (line,) = problems("[alarms.disaster]\npattern = [[0.5, 0.5]]\n")
    assert "alarms.disaster.pattern: sounds exactly like alarms.fire" in line


def test_bad_gesture_and_pattern():
    found = problems('[alarms.fire]\nbutton = "presses:1"\npattern = [[0, 1]]\n')
    assert any('use "hold", "presses:2" to "presses:9"' in f for f in found)
    assert any("never sounds" in f for f in found)


def test_new_alarm_code_needs_its_fields():
    found = problems('[alarms.flood]\nlabel_id = "Banjir"\n')
    assert "kiosk.toml: alarms.flood.label_en: is required" in found
    assert "kiosk.toml: alarms.flood.pattern: is required" in found


def test_contacts_numbers():
    s = parse('[contacts]\npolice = ["+62 21 110", "110"]\n')
    assert s.contacts["police"] == ("+62 21 110", "110")
    (line,) = problems('[contacts]\nleadership = ["kepala kantor"]\n')
    assert "'kepala kantor' is not a phone number" in line


def test_holidays():
    s = parse('[calendar]\nholidays = ["2026-12-25", 2027-01-01]\n')
    assert s.holidays == frozenset({dt.date(2026, 12, 25), dt.date(2027, 1, 1)})
    (line,) = problems('[calendar]\nholidays = ["25-12-2026"]\n')
    assert line.startswith('kiosk.toml: calendar.holidays[0] = "25-12-2026": not a date')


def test_at_least_three_patrols():
    windows = '[{ start = "22:00", end = "04:00", count = 2 }]'
    (line,) = problems(f"[tasks.patrols]\nwindows = {windows}\n")
    assert "at least 3 patrols" in line
    s = parse('[tasks.patrols]\nwindows = [{ start = "22:00", end = "04:00", count = 3 }]\n')
    assert s.tasks.patrols.windows[0].count == 3


def test_duplicate_task_ids():
    text = "".join(
        f'[[tasks.daily]]\nid = "flag"\ntitle_id = "x"\ntitle_en = "x"\nat = "0{i}:00"\n'
        for i in range(2)
    )
    (line,) = problems(text)
    assert "task id 'flag' is used twice" in line


def test_control_characters_stay_on_one_line():
    text = '[site]\ntimezone = "Asia/Jakarta\\n"\n[relays."a\\u001b[31m"]\npin = 5\n'
    found = problems(text)
    assert found[0] == ('kiosk.toml: site.timezone = "Asia/Jakarta\\n": unknown timezone '
                        "(did you mean Asia/Jakarta?); Indonesia uses Asia/Jakarta, "
                        "Asia/Makassar or Asia/Jayapura")
    assert all("\n" not in line and "\x1b" not in line for line in found)


def test_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_bytes(b"\xef\xbb\xbf[site]\nname = \"Kantor KPU\"\n")
    assert load(path).site.name == "Kantor KPU"


def test_pin_clash_reported_with_the_other_mistakes():
    found = problems("[relays.lights]\npin = 41\n[buzzer]\npin = 27\nactive_high = 1\n")
    assert found == [
        "kiosk.toml: relays.lights.pin = 41: not a BCM GPIO pin (0-27)",
        "kiosk.toml: buzzer.active_high = 1: must be true or false (no quotes)",
        "kiosk.toml: buzzer.pin = 27: GPIO27 is already used by relays.gate_lock.pin",
    ]


@pytest.mark.parametrize("value", ["0.5", '"0"', "-1", "true"])
def test_camera_device(value):
    (line,) = problems(f"[camera]\ndevice = {value}\n")
    assert line.endswith('a camera number (0 for /dev/video0, no quotes) or a path like '
                         '"/dev/video0"')
    assert parse('[camera]\ndevice = "/dev/video2"\n').camera.device == "/dev/video2"


def test_empty_text_and_single_table_mistakes():
    assert problems('[site]\nname = ""\n') == ['kiosk.toml: site.name = "": must not be empty']
    (line,) = problems('[relays.lights.schedule]\non = "17:00"\noff = "05:30"\n')
    assert "write [[relays.lights.schedule]] (double brackets)" in line
