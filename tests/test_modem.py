"""GsmModem against SimulatedModem on a real pty: pyserial's own code runs on both ends."""

import errno
import pathlib
import re
import threading
import time

import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import drivers.modem
from drivers.errors import DeviceError
from drivers.modem import (
    SMS_SEPTETS,
    GsmModem,
    ModemError,
    ModemTimeout,
    septets,
    split_text,
    to_gsm,
)
from drivers.sim.modem import BOOT_URCS, SimulatedModem

NUMBER = "+6281234567890"
CMGS = f'AT+CMGS="{NUMBER}"'
URC = '+CMTI: "SM",3'
IN_USE = "is in use by another program (is kiosk-core running? stop it first)"
REFUSED = "the modem refused the SMS: check the SIM has credit and SMS service"


@pytest.fixture
def rig():
    """Make a simulated modem with the given quirks and a driver on its port."""
    made = []

    def make(*, timeout=1.0, send_timeout=2.0, **quirks):
        sim = SimulatedModem(**quirks)
        modem = GsmModem(sim.port, timeout=timeout, send_timeout=send_timeout)
        made.append((sim, modem))
        return sim, modem

    yield make
    for sim, modem in made:
        modem.close()
        sim.close()


# --- sending ------------------------------------------------------------------------------


def test_send_returns_reference_and_the_modem_gets_exactly_the_text(rig):
    sim, modem = rig()
    assert modem.send_sms(NUMBER, "ALARM: suhu 38.5 C di pos jaga") == 1
    assert modem.send_sms("0812345678", "kedua") == 2
    assert sim.sent == [(NUMBER, "ALARM: suhu 38.5 C di pos jaga"), ("0812345678", "kedua")]
    assert sim.echo is False and sim.text_mode and sim.errors_numeric and sim.charset == "IRA"


@pytest.mark.parametrize("echo", [True, False])
@pytest.mark.parametrize("text", ["OK", "ERROR", "Pintu gerbang\nterbuka"])
def test_echo_is_dropped_even_when_the_text_looks_like_a_result(rig, text, echo):
    sim, modem = rig()
    modem.open()
    sim.echo = echo  # as if ATE0 had been lost: the command and the SMS text come back
    assert modem.send_sms(NUMBER, text) == 1
    assert modem.check().sim_ready
    assert sim.sent == [(NUMBER, text)]
    assert not [line for line in modem.unsolicited if "AT" in line or line in text]


def test_booting_modem_ignores_the_first_at_and_prints_its_urcs(rig):
    sim, modem = rig(boot_urcs=BOOT_URCS, deaf_commands=1)
    assert modem.send_sms(NUMBER, "boot") == 1
    assert list(modem.unsolicited) == list(BOOT_URCS)


def test_urcs_between_commands_are_kept_not_mistaken_for_answers(rig):
    sim, modem = rig()
    modem.open()
    for line in ("RING", '+CLIP: "+6281111",145,"",0,"",0', "NO CARRIER", "", URC):
        sim.inject_urc(line)
    assert modem.send_sms(NUMBER, "antara") == 1
    assert list(modem.unsolicited) == ["RING", '+CLIP: "+6281111",145,"",0,"",0', "NO CARRIER",
                                       URC]


@pytest.mark.parametrize("split_writes", [False, True])
def test_urcs_around_the_prompt_and_inside_responses(rig, split_writes):
    sim, modem = rig(urc_inside_response=True, split_writes=split_writes)
    assert modem.send_sms(NUMBER, "di dalam") == 1
    status = modem.check()
    assert (status.sim_ready, status.registered, status.signal) == (True, True, 20)
    assert status.operator == "TELKOMSEL"
    assert sim.sent == [(NUMBER, "di dalam")]
    # before the prompt, after it, before OK of +CMGS, then +CPIN/+CREG/+CSQ/+COPS
    assert list(modem.unsolicited) == [URC] * 7


def test_urc_while_the_network_takes_its_time(rig):
    sim, modem = rig(send_delay=0.3)
    modem.open()
    timer = threading.Timer(0.1, sim.inject_urc, ["UNDER-VOLTAGE WARNNING"])
    timer.start()
    started = time.monotonic()
    assert modem.send_sms(NUMBER, "lambat") == 1
    timer.join()
    assert time.monotonic() - started >= 0.3
    assert "UNDER-VOLTAGE WARNNING" in modem.unsolicited


def test_late_prompt_without_line_end_and_bytes_split_across_reads(rig):
    sim, modem = rig(prompt_delay=0.2, split_writes=True)
    assert modem.send_sms(NUMBER, "pelan-pelan") == 1
    assert sim.sent == [(NUMBER, "pelan-pelan")]


def test_reboot_is_noticed_and_the_modem_set_up_again(rig):
    sim, modem = rig()
    modem.send_sms(NUMBER, "satu")
    sim.reboot()  # RDY: echo back on, PDU mode
    time.sleep(0.1)  # a real reboot takes seconds: RDY is in before the next alarm
    assert modem.send_sms(NUMBER, "dua") == 2
    assert sim.text_mode and not sim.echo


def test_unannounced_reboot_is_set_up_again_and_the_sms_retried_once(rig, caplog):
    sim, modem = rig()
    modem.send_sms(NUMBER, "satu")
    sim.reboot(announce=False)  # SIM800 on autobaud prints no RDY: PDU mode, echo on again
    commands = []
    sim.on_command = commands.append
    assert modem.send_sms(NUMBER, "dua") == 2
    assert sim.sent == [(NUMBER, "satu"), (NUMBER, "dua")]
    assert sim.text_mode and not sim.echo and sim.errors_numeric
    assert commands == [CMGS, "AT", "ATE0", "AT+CMEE=1", "AT+CMGF=1", 'AT+CSCS="IRA"', CMGS]
    assert "setting the modem up again to retry the SMS once" in caplog.text
    assert modem.send_sms(NUMBER, "tiga") == 3  # and in step from then on


def test_a_modem_that_keeps_refusing_is_retried_once_then_the_sim_is_blamed(rig):
    sim, modem = rig()
    commands = []

    def refuse_sms(line):
        commands.append(line)
        if line.startswith("AT+CMGS"):
            sim.text_mode = False  # so it answers a bare ERROR however often it is set up

    sim.on_command = refuse_sms
    with pytest.raises(ModemError) as caught:
        modem.send_sms(NUMBER, "dua")
    assert caught.value.code is None
    assert str(caught.value) == f"GSM modem on {sim.port} answered ERROR to {CMGS}: {REFUSED}"
    assert commands.count(CMGS) == 2 and "AT+CMGF=1" in commands[commands.index(CMGS):]
    assert sim.sent == []


def test_plain_error_to_the_text_is_not_retried_and_the_modem_set_up_again(rig):
    sim, modem = rig(cms_error=38)
    modem.open()
    sim.errors_numeric = False  # a bare ERROR: AT+CMEE=1 is gone, so the settings may be too
    commands = []
    sim.on_command = commands.append
    with pytest.raises(ModemError) as caught:
        modem.send_sms(NUMBER, "satu")
    assert str(caught.value).endswith(f"answered ERROR to {CMGS}: {REFUSED}")
    assert "signal" not in str(caught.value)
    assert commands == [CMGS]  # after Ctrl-Z the SMS may be out: never sent again
    sim.cms_error = None
    assert modem.send_sms(NUMBER, "dua") == 1
    assert sim.errors_numeric and sim.sent == [(NUMBER, "dua")]


def test_brown_out_after_the_text_is_reported_never_resent_and_then_recovered(rig):
    sim, modem = rig(send_timeout=0.5)
    modem.open()

    def brown_out(number, text):
        sim.on_sms = None
        sim.reboot(announce=False)  # out on the air, but never confirmed

    sim.on_sms = brown_out
    with pytest.raises(ModemTimeout) as caught:
        modem.send_sms(NUMBER, "satu")
    assert str(caught.value) == (f"GSM modem on {sim.port} did not answer {CMGS} within 0.5 s: "
                                 "the network did not confirm the SMS and it may still arrive: "
                                 "check the signal and the SIM's credit")
    assert sim.sent == [(NUMBER, "satu")]  # a retry would have sent it twice
    assert modem.send_sms(NUMBER, "dua") == 2  # the timeout made it set the modem up again
    assert sim.sent == [(NUMBER, "satu"), (NUMBER, "dua")]


def test_reboot_while_being_set_up_is_set_up_once_more(rig):
    sim, modem = rig()

    def brown_out(line):
        if line == 'AT+CSCS="IRA"':
            sim.on_command = None
            sim.reboot()  # RDY: ATE0, AT+CMEE and AT+CMGF before it are undone

    sim.on_command = brown_out
    modem.open()
    assert "RDY" in modem.unsolicited
    assert sim.text_mode and not sim.echo and sim.errors_numeric
    assert modem.send_sms(NUMBER, "satu") == 1


def test_a_modem_that_reboots_at_every_set_up_is_blamed_on_its_supply(rig):
    sim, modem = rig()
    sim.on_command = lambda line: line == 'AT+CSCS="IRA"' and sim.reboot()
    with pytest.raises(ModemError, match="rebooted twice while being set up: power-cycle"):
        modem.open()


def test_concurrent_senders_are_serialised(rig):
    sim, modem = rig()
    references = []

    def send(who):
        for i in range(3):
            references.append(modem.send_sms(NUMBER, f"{who} {i}"))

    threads = [threading.Thread(target=send, args=(who,)) for who in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(references) == [1, 2, 3, 4, 5, 6]
    assert sorted(text for _, text in sim.sent) == ["a 0", "a 1", "a 2", "b 0", "b 1", "b 2"]


def test_a_path_object_is_a_port_name(rig):
    sim = SimulatedModem()
    try:
        with GsmModem(pathlib.Path(sim.port), timeout=1.0) as modem:
            assert modem.send_sms(NUMBER, "jalur") == 1
    finally:
        sim.close()


def test_a_port_in_use_by_another_driver_is_refused_not_shared(rig):
    sim, modem = rig()
    modem.open()
    other = GsmModem(sim.port, timeout=1.0)  # kiosk doctor while the core holds the modem
    with pytest.raises(ModemError) as caught:
        other.check()
    assert str(caught.value) == f"GSM modem port {sim.port} {IN_USE}"
    assert not isinstance(caught.value, ModemTimeout)
    assert modem.send_sms(NUMBER, "tetap") == 1
    modem.close()
    assert other.send_sms(NUMBER, "giliran") == 2
    other.close()


def test_an_open_port_object_is_used_and_left_open(rig):
    sim = SimulatedModem()
    try:
        port = serial.Serial(sim.port, 115200, timeout=None)
        modem = GsmModem(port, timeout=1.0)
        assert modem.send_sms(NUMBER, "objek") == 1
        assert port.timeout == pytest.approx(0.1)  # no read can block forever
        modem.close()
        assert port.is_open
        port.close()
    finally:
        sim.close()


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "expected"), [
    (330, "+CMS ERROR: 330 (SMSC address unknown): set the SMS centre number with AT+CSCA"),
    (310, "+CMS ERROR: 310 (SIM not inserted): power the modem off, insert the SIM"),
    (500, "+CMS ERROR: 500 (unknown error): power-cycle the modem"),
    (42, "+CMS ERROR: 42 (rejected by the network): check the SIM's credit"),
])
def test_cms_error_names_code_meaning_and_remedy(rig, code, expected):
    sim, modem = rig(cms_error=code)
    with pytest.raises(ModemError) as caught:
        modem.send_sms(NUMBER, "gagal")
    assert isinstance(caught.value, DeviceError) and not isinstance(caught.value, ModemTimeout)
    assert caught.value.code == code
    assert str(caught.value).startswith(expected)
    assert sim.sent == []
    sim.cms_error = None  # the driver is still in step with the modem
    assert modem.send_sms(NUMBER, "lagi") == 1


@pytest.mark.parametrize(("code", "expected"), [
    (10, "+CME ERROR: 10 (SIM not inserted)"),
    (11, "+CME ERROR: 11 (SIM PIN required): remove the SIM's PIN lock"),
])
def test_cme_error_on_the_sim_shows_in_the_status(rig, code, expected):
    sim, modem = rig(cme_error=code, registered=False, signal=99)
    status = modem.check()
    assert not status.sim_ready and not status.registered
    assert status.signal is None and status.operator is None
    assert status.problem.startswith(expected)


def test_silent_modem_times_out_instead_of_hanging(rig):
    sim, modem = rig(silent=True, timeout=0.6)
    started = time.monotonic()
    with pytest.raises(ModemTimeout) as caught:
        modem.send_sms(NUMBER, "halo?")
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.2
    assert str(caught.value) == (f"GSM modem on {sim.port} did not answer AT within 0.6 s: "
                                 "check its power supply (2 A peaks) and cable")
    with pytest.raises(ModemTimeout):
        modem.check()


def test_network_that_never_confirms_times_out_after_send_timeout(rig):
    sim, modem = rig(send_delay=5, send_timeout=0.4)
    modem.open()
    started = time.monotonic()
    with pytest.raises(ModemTimeout, match="did not answer AT\\+CMGS.* within 0.4 s"):
        modem.send_sms(NUMBER, "tidak sampai")
    assert 0.35 <= time.monotonic() - started < 1.0


@pytest.mark.parametrize("kind", [str, pathlib.Path])
def test_missing_port_says_what_to_check(tmp_path, kind):
    missing = str(tmp_path / "ttyUSB7")
    modem = GsmModem(kind(missing))
    with pytest.raises(ModemError) as caught:
        modem.send_sms(NUMBER, "x")
    message = str(caught.value)
    assert not isinstance(caught.value, ModemTimeout)
    assert missing in message and "plugged in" in message and "\n" not in message


def test_permission_denied_points_at_the_dialout_group(monkeypatch, tmp_path):
    # pyserial's own error for a port the user may not open (tests may run as root)
    def refuse(url, *args, **kwargs):
        raise serial.SerialException(errno.EACCES, f"could not open port {url}: Permission denied")

    monkeypatch.setattr(serial, "serial_for_url", refuse)
    with pytest.raises(ModemError, match="dialout group"):
        GsmModem(str(tmp_path / "ttyAMA0")).open()


def test_modem_unplugged_mid_session(rig):
    sim, modem = rig()
    modem.open()
    sim.close()  # both ends of the pty go away, as when the USB modem is pulled out
    with pytest.raises(ModemError, match="unplugged") as caught:
        modem.send_sms(NUMBER, "x")
    assert not isinstance(caught.value, ModemTimeout)


def test_spy_url_dumps_the_traffic_for_on_site_debugging(tmp_path):
    dump = tmp_path / "modem.txt"
    with SimulatedModem() as sim:
        modem = GsmModem(f"spy://{sim.port}?file={dump}", timeout=1.0)
        assert modem.send_sms(NUMBER, "mata-mata") == 1
        modem.close()
    assert "AT+CMGS" in dump.read_text()


def test_loop_url_is_accepted_and_its_echo_is_not_taken_for_an_answer():
    modem = GsmModem("loop://", timeout=0.3)  # constructing does not touch the port
    started = time.monotonic()
    with pytest.raises(ModemTimeout, match="on loop:// did not answer AT"):
        modem.open()
    assert time.monotonic() - started < 1.0
    modem.close()


# --- text and numbers ---------------------------------------------------------------------


def test_ctrl_z_and_esc_cannot_end_or_cancel_the_message_early(rig):
    sim, modem = rig()
    assert modem.send_sms(NUMBER, 'Tes\x1a\r\nAT+CMGS="+1"\x1bX') == 1
    assert sim.sent == [(NUMBER, 'Tes\nAT+CMGS="+1"X')]


@pytest.mark.parametrize("number", ["", "12", "+62 812 3456", '+62";AT+CFUN=0;"', "0812-34",
                                    "+" + "1" * 21, "٠٨١٢٣٤٥٦", None])
def test_bad_numbers_are_refused_before_anything_is_sent(number):
    modem = GsmModem("loop://")
    with pytest.raises(ValueError, match="3-20 digits"):
        modem.send_sms(number, "x")


def test_too_long_text_is_refused_with_its_length_and_the_limit(rig):
    sim, modem = rig()
    with pytest.raises(ValueError, match="161 GSM characters .* at most 160"):
        modem.send_sms(NUMBER, "x" * 161)
    with pytest.raises(ValueError, match="162 GSM characters"):
        modem.send_sms(NUMBER, "[" * 81)  # extension characters take two septets
    assert modem.send_sms(NUMBER, "[" * 80) == 1
    assert sim.sent == [(NUMBER, "[" * 80)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Café Ñandú Ängel", "Cafe Nandu Angel"),
    ("“Suhu” 38.5 – tinggi…", '"Suhu" 38.5 - tinggi...'),
    ("harga €5, Straße, Øre", "harga EUR5, Strasse, Ore"),
    ("温度 ☺", "?? ?"),
    ("a\tb\r\nc\rd", "a b\nc\nd"),
    ("x\x1ay\x1bz\x00", "xyz?"),
    ("{[~|^\\]}", "{[~|^\\]}"),
])
def test_transliteration_to_the_gsm_alphabet(text, expected):
    assert to_gsm(text) == expected


def test_septets_count_extension_characters_twice():
    assert septets("{[ok]}") == 10
    assert septets("abc") == 3


@given(st.text())
def test_transliteration_is_sendable_and_stable(text):
    gsm = to_gsm(text)
    assert all(c == "\n" or " " <= c < "\x7f" for c in gsm) and "`" not in gsm
    assert to_gsm(gsm) == gsm


words = st.lists(st.text(st.sampled_from("abcXYZ09.,[]€é"), min_size=1, max_size=20),
                 min_size=1, max_size=80)


@given(words)
def test_split_text_parts_each_fit_and_reassemble(parts_of_text):
    text = to_gsm(" ".join(parts_of_text))
    parts = split_text(text)
    if septets(text) <= 153:
        assert parts == [text]
        return
    total = len(parts)
    bodies = []
    for i, part in enumerate(parts, 1):
        assert septets(part) <= 153 <= SMS_SEPTETS
        body, suffix = part.rsplit(" ", 1)
        assert suffix == f"({i}/{total})"
        bodies.append(body)
    assert " ".join(bodies) == text


def test_split_text_cuts_a_word_longer_than_a_part():
    parts = split_text("y" * 400, limit=100)
    assert [p.rsplit(" ", 1)[1] for p in parts] == ["(1/5)", "(2/5)", "(3/5)", "(4/5)", "(5/5)"]
    assert all(septets(p) <= 100 for p in parts)
    assert "".join(p.rsplit(" ", 1)[0] for p in parts) == "y" * 400


def test_split_text_cuts_a_very_long_word_in_linear_time(monkeypatch):
    word = "abcdefg[" * 2500  # 20,000 characters, one in eight taking two septets
    counted = [0]

    def counting_septets(text):
        counted[0] += len(text)
        assert counted[0] <= 10 * len(word), "split_text rescans the word for every cut"
        return septets(text)

    monkeypatch.setattr(drivers.modem, "septets", counting_septets)
    parts = split_text(word)
    total = len(parts)
    assert total == 158  # 22,500 septets at 143 a part
    bodies = []
    for i, part in enumerate(parts, 1):
        assert septets(part) <= 153
        body, suffix = part.rsplit(" ", 1)
        assert suffix == f"({i}/{total})"
        bodies.append(body)
    assert "".join(bodies) == word
    assert all(septets(body) >= 152 - len(f" ({total}/{total})") for body in bodies[:-1])


def test_split_parts_can_be_sent(rig):
    sim, modem = rig()
    text = "Alarm panik di pos jaga utama. " * 8
    for part in split_text(text):
        modem.send_sms(NUMBER, part)
    assert [t for _, t in sim.sent] == split_text(text)


# --- garbage from the modem ---------------------------------------------------------------

protocolish = st.sampled_from([
    b"OK", b"ERROR", b"> ", b">", b"+CMS ERROR: x", b"+CME ERROR: 99999999999999999999",
    b"+CMGS: \xb2", b"+CMGS: 7,\"x\"", b"+CSQ: \xb2\xb2,0", b"+CREG: ", b"+COPS: ,,", b"RDY",
    b"+CPIN: SIM PIN", b"\x1a\x1b", b"AT", b"\r", b"\n" * 3,
])


@pytest.mark.parametrize(("line", "outcome"), [
    (b"+CMGS: \xb2", 1),  # a superscript digit is no reference; the real one still counts
    (b"> ", 1),
    (b"OK", 1),  # a stray "OK" before +CMGS is not the answer: the SMS went out
    (b"+CMS ERROR: zz", None),
    (b"+CME ERROR: 99999999999999999999", 99999999999999999999),
])
def test_odd_lines_around_the_reference(rig, line, outcome):
    sim, modem = rig()
    modem.open()
    sim.noise = [b"", line, line]  # before the prompt, before +CMGS, before OK
    if outcome == 1:
        assert modem.send_sms(NUMBER, "aneh") == 1
    else:
        with pytest.raises(ModemError) as caught:
            modem.send_sms(NUMBER, "aneh")
        assert caught.value.code == outcome
    assert sim.sent == [(NUMBER, "aneh")]


garbage = st.lists(st.one_of(st.binary(max_size=30), protocolish), max_size=4)


def _fakes_an_answer(noise):
    """Whether the noise holds a line the modem could mean: a final error or a +CMGS."""
    lines = (line.decode("latin-1").strip("".join(map(chr, range(33))) + "\x7f")
             for item in noise for line in re.split(rb"[\r\n]", bytes(item)))
    return any(line == "ERROR" or line.startswith(("+CMS ERROR", "+CME ERROR", "+CMGS:"))
               for line in lines)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage, garbage, garbage)
def test_garbage_lines_never_report_a_sent_sms_as_failed(at_open, at_send, at_check):
    with SimulatedModem() as sim:
        modem = GsmModem(sim.port, timeout=0.2, send_timeout=1.0)
        sim.noise = list(at_open)
        try:
            modem.open()
        except ModemError:
            pass
        sim.noise = list(at_send)
        try:
            reference = modem.send_sms(NUMBER, "acak")
        except ModemError:
            reference = None
        if sim.sent and not _fakes_an_answer(at_send):
            assert reference == 1, "a sent SMS was reported failed: it would be sent again"
        sim.noise = list(at_check)
        try:
            status = modem.check()
            assert status.signal is None or 0 <= status.signal <= 31
        except ModemError:
            pass
        modem.close()


def _harmless(line: str) -> bool:
    text = line.strip()
    return text not in ("OK", "ERROR") and not text.startswith(
        (">", "+CMS ERROR", "+CME ERROR", "+CMGS:"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
                .filter(_harmless), max_size=8))
def test_harmless_noise_lines_never_stop_the_sms(noise):
    with SimulatedModem() as sim:
        sim.noise = list(noise)
        modem = GsmModem(sim.port, timeout=1.0, send_timeout=1.0)
        assert modem.send_sms(NUMBER, "tetap terkirim") == 1
        assert sim.sent == [(NUMBER, "tetap terkirim")]
        modem.close()


class ScriptedPort:
    """A pyserial-like port with no modem behind it: each command written gets the next of
    ``answers`` back, whatever it was, and then nothing, like a port whose modem went quiet."""

    port = "scripted"

    def __init__(self, answers):
        self.answers = list(answers)
        self.pending = bytearray()
        self.timeout = None

    @property
    def in_waiting(self):
        return len(self.pending)

    def read(self, size=1):
        if not self.pending:
            time.sleep(0.001)  # a read timeout, shortened
            return b""
        data = bytes(self.pending[:size])
        del self.pending[:size]
        return data

    def write(self, data):
        if self.answers:
            self.pending += self.answers.pop(0)
        return len(data)


# What a SIM800 answers to open(), send_sms() and check(), one answer per command written; the
# property test garbles it, so the driver gets deep into each exchange before the noise.
SCRIPT = [b"\r\nOK\r\n"] * 5 + [  # AT and the four set-up commands
    b"\r\n> ", b"\r\n+CMGS: 12\r\n\r\nOK\r\n",  # the prompt, then the text is confirmed
    b"\r\n+CPIN: READY\r\n\r\nOK\r\n", b"\r\n+CREG: 0,1\r\n\r\nOK\r\n",
    b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n", b'\r\n+COPS: 0,0,"TELKOMSEL"\r\n\r\nOK\r\n']
noise = st.one_of(
    st.binary(max_size=40),
    st.lists(protocolish, min_size=1, max_size=4).map(b"\r\n".join),
    st.builds(lambda chunk, times: chunk * times, st.binary(min_size=1, max_size=4),
              st.integers(0, 1500)),  # a stream without line ends, past the driver's 4 KB cap
)
changes = st.lists(st.tuples(st.integers(0, len(SCRIPT)), st.booleans(), noise), max_size=4)


def garbled(edits):
    """SCRIPT with each edit's noise put in place of (or before) the answer at its index."""
    script = list(SCRIPT)
    for at, replace, bad in edits:
        script[at:at + replace] = [bad]
    return script


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes)
def test_any_bytes_from_the_port_end_in_an_answer_or_a_modem_error_never_a_hang(edits):
    """Whatever comes back, kiosk doctor and an alarm get a result or a ModemError in time."""
    modem = GsmModem(ScriptedPort(garbled(edits)), timeout=0.02, send_timeout=0.05)
    started = time.monotonic()
    results = []
    for use in (modem.open, lambda: modem.send_sms(NUMBER, "uji"), modem.check):
        try:
            results.append(use())
        except ModemError as exc:
            assert str(exc) and "\n" not in str(exc)
            results.append(exc)
    assert time.monotonic() - started < 5, "every wait is bounded by timeout or send_timeout"
    modem.close()
    if not edits:  # the script as written: the SMS goes out and the status is read
        assert results[:2] == [None, 12] and results[2].signal == 20
