"""Alarm SMS through a SIM800/SIM900/SIM7600-class GSM modem, in 3GPP TS 27.005 text mode.

Wiring: the Pi's UART (GPIO14 TXD, GPIO15 RXD, with a level shifter for 5 V boards; enable the
port and disable its login shell in raspi-config) or a USB modem (``/dev/ttyUSB*``). The user
needs the ``dialout`` group. Power: the modem draws 2 A peaks while it transmits; a weak supply
makes it reboot mid-SMS (it then prints ``RDY`` again), so give it its own supply and a thick
ground, never the Pi's 3.3 V pin.

Text goes out in the IRA (ASCII) character set, which every modem converts to the GSM 7-bit
alphabet the same way. The modem's "GSM" set is avoided on purpose: in it Ξ is Ctrl-Z and the
extension table starts with ESC, which end or cancel a text-mode message.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from typing import Any

import serial

from drivers.errors import DeviceError

log = logging.getLogger(__name__)

SMS_SEPTETS = 160  # one single-part SMS in the GSM 7-bit alphabet
GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
             "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = "^{}\\[~]|€"  # sent as ESC + code: two septets each
_SENDABLE = frozenset(c for c in GSM_BASIC + GSM_EXTENDED if c < "\x7f" and c != "\r")
_TRANSLIT = str.maketrans({"\x1a": None, "\x1b": None, "\t": " ", "`": "'", "‘": "'", "’": "'",
                           "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "€": "EUR",
                           "ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "£": "GBP"})
_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_EOL = re.compile(rb"[\r\n]")
_JUNK = "".join(map(chr, range(33))) + "\x7f"  # stripped from both ends of every line read
_POLL = 0.1  # s: serial read timeout, so every wait re-checks its deadline this often
_AT_TRIES = 3
_URC_KEEP = 50
_SETUP = ("ATE0", "AT+CMEE=1", "AT+CMGF=1", 'AT+CSCS="IRA"')  # after AT; all reset by a reboot
_FINAL_ERRORS = ("+CMS ERROR:", "+CME ERROR:")

_H_HW = "power-cycle the modem and check its power supply (2 A peaks)"
_H_CABLE = "check its power supply (2 A peaks) and cable"
_H_REFUSED = "the modem refused the SMS: check the SIM has credit and SMS service"
_H_UNCONFIRMED = ("the network did not confirm the SMS and it may still arrive: check the "
                  "signal and the SIM's credit")
_H_IN_USE = "is in use by another program (is kiosk-core running? stop it first)"
_HINTS = (  # (CME codes and CMS codes from 300 up, what to do)
    ((10, 310), "power the modem off, insert the SIM firmly and power it on"),
    ((11, 12, 16, 17, 18, 311, 312, 316, 317, 318), "remove the SIM's PIN lock in a phone"),
    ((13, 15, 313, 315), "clean the SIM contacts or replace the SIM"),
    ((14, 314, *range(512, 518)), "the SIM is still starting: wait 20 s after power-up, retry"),
    ((30, 31, 32, 331, 332), "check the antenna, the signal and that the SIM is active"),
    ((330,), "set the SMS centre number with AT+CSCA or check the SIM"),
    ((20, 23, 320, 321, 322), "delete the messages stored on the SIM (AT+CMGDA) or replace it"),
    ((3, 4, 302, 303, 304, 305), "the modem refused the command: check the number and model"),
)
_CMS = {300: "ME failure", 301: "SMS service reserved", 302: "operation not allowed",
        303: "operation not supported", 304: "invalid PDU mode parameter",
        305: "invalid text mode parameter", 310: "SIM not inserted", 311: "SIM PIN required",
        312: "PH-SIM PIN required", 313: "SIM failure", 314: "SIM busy", 315: "SIM wrong",
        316: "SIM PUK required", 317: "SIM PIN2 required", 318: "SIM PUK2 required",
        320: "memory failure", 321: "invalid memory index", 322: "memory full",
        330: "SMSC address unknown", 331: "no network service", 332: "network timeout",
        500: "unknown error", **dict.fromkeys(range(512, 518), "SIMCom: SIM or SMS not ready")}
_CME = {0: "phone failure", 3: "operation not allowed", 4: "operation not supported",
        10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required",
        13: "SIM failure", 14: "SIM busy", 15: "SIM wrong", 16: "incorrect password",
        17: "SIM PIN2 required", 18: "SIM PUK2 required", 20: "memory full",
        23: "memory failure", 30: "no network service", 31: "network timeout",
        32: "network allows emergency calls only", 100: "unknown error"}


class ModemError(DeviceError):
    """The modem is missing, silent or refused a command; ``code`` is its CMS/CME number."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def from_result(cls, line: str, port: str, command: str) -> ModemError:
        """Explain a final error line (``ERROR``, ``+CMS ERROR: n``, ``+CME ERROR: n``).

        A plain ``ERROR`` to ``AT+CMGS`` comes after the modem has just been set up again (see
        :meth:`GsmModem.send_sms`), so what remains likely is the SIM's SMS service, not the
        modem's state.
        """
        kind, _, rest = line.partition(" ERROR:")
        if kind not in ("+CMS", "+CME"):
            sms = line == "ERROR" and command.startswith("AT+CMGS")
            return cls(f"GSM modem on {port} answered {line} to {command}: " + (
                _H_REFUSED if sms else "check the SIM and signal with kiosk doctor"))
        try:
            code: int | None = int(rest)
        except ValueError:  # verbose text (AT+CMEE=2) or noise
            return cls(f"{line}: {_H_HW}")
        if kind == "+CMS" and code < 300:  # a cause from the network (3GPP TS 24.011)
            meaning, hint = "rejected by the network", ("check the SIM's credit (pulsa), "
                                                        "its SMS service and the number")
        else:
            meaning = (_CMS if kind == "+CMS" else _CME).get(code, "not a listed code")
            hint = next((h for codes, h in _HINTS if code in codes), _H_HW)
        return cls(f"{kind} ERROR: {code} ({meaning}): {hint}", code)


class ModemTimeout(ModemError):
    """The modem did not answer in time: unpowered, rebooting, or the wrong port or speed."""


class SmsUnconfirmed(ModemTimeout):
    """The text was submitted but the network never confirmed it: it may still arrive.

    Callers must not resend automatically, or the police may get the alarm twice.
    """


@dataclass(frozen=True)
class ModemStatus:
    """What ``kiosk doctor`` shows; ``problem`` says why the SIM is not ready, if known."""

    sim_ready: bool
    registered: bool
    signal: int | None  # 0-31 (RSSI steps of 2 dBm from -113 dBm); None when unknown
    operator: str | None
    problem: str | None = None


def to_gsm(text: str) -> str:
    """Return ``text`` as characters every modem sends as GSM 7-bit in IRA text mode.

    Ctrl-Z and ESC are dropped (they would end or cancel the message early, letting a crafted
    text inject its own ending), accents are stripped (NFKD), typographic quotes and dashes
    become ASCII, and anything else becomes ``?``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKD", text).translate(_TRANSLIT)
    return "".join(c if c in _SENDABLE else "?" for c in text if not unicodedata.combining(c))


def septets(text: str) -> int:
    """Count GSM 7-bit septets: extension-table characters take two."""
    return sum(2 if c in GSM_EXTENDED else 1 for c in text)


def split_text(text: str, limit: int = 153) -> list[str]:
    """Split a long text at spaces into parts of at most ``limit`` septets, each one SMS.

    Parts are transliterated with :func:`to_gsm` and end in `` (1/3)`` etc.; a text that
    already fits is returned alone, without a suffix. A word longer than a part is cut.
    """
    text = to_gsm(text)
    if septets(text) <= limit:
        return [text]
    total, parts = 2, []
    while len(parts) != total:  # the suffix length depends on the number of parts
        total = max(total, len(parts))
        room = limit - len(f" ({total}/{total})")
        if room < 10:
            raise ValueError(f"split_text limit {limit} leaves no room for text")
        parts = _wrap(text, room)
    return [f"{part} ({i}/{total})" for i, part in enumerate(parts, 1)]


def _wrap(text: str, room: int) -> list[str]:
    parts: list[str] = []
    line, used = None, 0  # the part being filled and its septets
    for word in text.split(" "):
        start = 0
        while (end := _fit(word, start, room)) < len(word):  # longer than a part: cut it
            if line is not None:
                parts.append(line)
                line = None
            parts.append(word[start:end])
            start = end
        word = word[start:]
        size = septets(word)
        if line is not None and used + 1 + size > room:
            parts.append(line)
            line = None
        line, used = (word, size) if line is None else (f"{line} {word}", used + 1 + size)
    return [*parts, line] if line is not None else parts


def _fit(word: str, start: int, room: int) -> int:
    """Return where the longest run of ``word`` from ``start`` that fits in ``room`` septets ends.

    Every character takes one or two septets, so only the next ``room`` characters are looked
    at: cutting a long word then takes time in proportion to its length, not to its cube.
    """
    end = min(len(word), start + room)
    excess = septets(word[start:end]) - room
    while excess > 0:  # give back characters from the end until the run fits
        end -= 1
        excess -= septets(word[end])
    return end


class GsmModem:
    """Sends SMS through an AT-command modem; thread-safe, initialised on first use.

    A device path is opened exclusively, so ``kiosk doctor`` cannot talk to the modem while the
    core uses it: their commands would interleave and garble the alarm SMS.

    Args:
        port: A device path (``/dev/ttyUSB0``, ``/dev/serial0``, a :class:`os.PathLike`), a
            pyserial URL (``loop://``, ``spy:///dev/ttyUSB0`` to dump traffic on site), or an
            open pyserial-like object; its read timeout is set to 0.1 s so that no wait can
            block forever.
        baudrate: The modem's speed; SIM800 autobauds, so the first ATs also set it.
        timeout: Seconds to wait for the answer to an ordinary command.
        send_timeout: Seconds to wait for the network to confirm an SMS (``+CMGS``).
    """

    def __init__(self, port: Any, baudrate: int = 115200, *, timeout: float = 5.0,
                 send_timeout: float = 60.0) -> None:
        if isinstance(port, str | os.PathLike):
            self._url: str | None = os.fspath(port)
            self._serial: Any = None
            self._name = self._url
        else:
            self._url, self._serial = None, port
            self._name = str(getattr(port, "port", None) or port)
        self._baudrate = baudrate
        self._timeout = timeout
        self._send_timeout = send_timeout
        self._ready = False
        self._reboots = 0  # RDY lines seen, so that a reboot during set-up is noticed
        self._buf = bytearray()
        self._lock = threading.RLock()
        self.unsolicited: deque[str] = deque(maxlen=_URC_KEEP)

    def open(self) -> None:
        """Open the port if needed and set the modem up: echo off, numeric errors, text mode.

        A modem that reboots (``RDY``) while being set up has forgotten the settings made
        before, so it is set up once more; a second reboot means its supply is failing.
        """
        with self._lock:
            if self._ready:
                return
            if self._serial is None:
                exclusive = {} if "://" in self._url else {"exclusive": True}  # a device path
                try:
                    self._serial = serial.serial_for_url(
                        self._url, self._baudrate, timeout=_POLL, write_timeout=self._timeout,
                        **exclusive)
                except (serial.SerialException, OSError, ValueError) as exc:
                    raise self._port_error(exc, "open") from exc
                self._buf.clear()
            elif self._url is None and hasattr(self._serial, "timeout"):
                self._serial.timeout = _POLL
            for _ in range(2):
                reboots = self._reboots
                self._hello()
                for command in _SETUP:
                    self._exchange(command)
                if self._reboots == reboots:
                    self._ready = True
                    return
            raise ModemError(f"GSM modem on {self._name} rebooted twice while being set up: "
                             f"{_H_HW}")

    def send_sms(self, number: str, text: str) -> int:
        """Send one SMS and return the message reference the network gave it.

        A plain ``ERROR`` or no answer means the modem's state is unknown: SIM800 autobauds and
        then prints no ``RDY``, so a brown-out leaves it silently in PDU mode with echo on. If
        that happens before the text is submitted with Ctrl-Z, the modem is set up again and
        the SMS tried once more. After Ctrl-Z the SMS may be out, so a failure is reported,
        never retried (the modem is set up again on the next use): a retry could send it twice.

        Raises:
            ValueError: The number is not ``+`` and 3-20 digits, or the text needs more than
                one SMS (see :func:`split_text`).
            ModemError: The modem or network refused it, or the port failed.
            ModemTimeout: No answer within ``timeout``, or no confirmation within
                ``send_timeout``.
        """
        if not isinstance(number, str) or not _NUMBER.fullmatch(number):
            raise ValueError(f"SMS number {number!r} is not valid: use an optional + and "
                             "3-20 digits, e.g. +6281234567890")
        body = to_gsm(text)
        if (length := septets(body)) > SMS_SEPTETS:
            raise ValueError(f"SMS text is {length} GSM characters long, one SMS holds at most "
                             f"{SMS_SEPTETS}: shorten it or send split_text() parts")
        command = f'AT+CMGS="{number}"'
        with self._lock:
            for attempt in range(2):
                self._prepare()
                try:
                    self._exchange(command, prompt=True)
                    break
                except ModemError as exc:
                    with contextlib.suppress(ModemError):
                        self._write(b"\x1b")  # leave text entry: nothing is sent without Ctrl-Z
                    if attempt or exc.code is not None:  # a coded refusal: the state is known
                        raise
                    log.warning("%s; setting the modem up again to retry the SMS once", exc)
                    self._ready = False
            self._write(body.encode("ascii") + b"\x1a")  # from here on it may go out
            return self._confirm(command, body)

    def check(self) -> ModemStatus:
        """Ask for SIM, registration, signal and operator, for ``kiosk doctor``.

        A command the modem refuses (no SIM, say) leaves its field unknown; ``problem`` then
        says why the SIM is not ready. Only a silent or missing modem raises.
        """
        with self._lock:
            self._prepare()
            (pin, error), (creg, _), (csq, _), (cops, _) = (self._ask(c, p) for c, p in (
                ("AT+CPIN?", "+CPIN:"), ("AT+CREG?", "+CREG:"), ("AT+CSQ", "+CSQ:"),
                ("AT+COPS?", "+COPS:")))
        problem = str(error) if error else None
        if pin and pin != "READY":
            problem = f"SIM reports {pin}: " + ("remove the SIM's PIN lock in a phone" if "PIN"
                                                in pin or "PUK" in pin else "check the SIM")
        rssi = csq.split(",")[0].strip()
        fields = creg.split(",")
        stat = fields[1 if len(fields) > 1 else 0].strip()  # +CREG: <n>,<stat>[,<lac>,<ci>]
        operator = cops.split(",")[2].strip().strip('"') if cops.count(",") >= 2 else ""
        return ModemStatus(pin == "READY", stat in ("1", "5"),
                           int(rssi) if rssi.isdecimal() and int(rssi) <= 31 else None,  # 99
                           operator or None, problem)

    def close(self) -> None:
        """Close the port if this driver opened it; the next use opens it again."""
        with self._lock:
            self._ready = False
            if self._url is not None and self._serial is not None:
                with contextlib.suppress(serial.SerialException, OSError):
                    self._serial.close()
                self._serial = None

    def __enter__(self) -> GsmModem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare(self) -> None:
        if self._serial is not None:
            self._drain()  # a "RDY" waiting here means the modem rebooted: set it up again
        self.open()

    def _confirm(self, command: str, body: str) -> int:
        """Wait for ``+CMGS: <mr>`` after Ctrl-Z and return the reference.

        Only ``+CMGS`` or a final error ends the wait: an early stray ``OK`` (line noise, or
        left over from an abandoned command) is no answer, and taking it for one would report
        a sent SMS as failed and invite a duplicate. Echoed text is dropped as in
        :meth:`_collect`.
        """
        deadline = time.monotonic() + self._send_timeout
        echo = [s.strip(_JUNK) for s in body.split("\n") if s.strip(_JUNK)]
        reference, garbled = None, []
        while (line := self._read_line(deadline)) is not None:
            if echo and line == echo[0]:
                echo.pop(0)
            elif line.startswith("+CMGS:") and reference is None:  # +CMGS: <mr>[,<scts>]
                echo, mr = [], line[6:].split(",")[0].strip()
                if mr.isascii() and mr.isdecimal():
                    reference = int(mr)  # sent: wait only briefly for the OK that follows
                    deadline = min(deadline, time.monotonic() + self._timeout)
                else:
                    garbled.append(line)
            elif line == "OK" and (reference is not None or garbled):
                if reference is None:
                    raise ModemError(f"GSM modem on {self._name} confirmed the SMS without a "
                                     f"valid +CMGS reference ({garbled}): {_H_HW}")
                return reference
            elif line == "ERROR" or line.startswith(_FINAL_ERRORS):
                if reference is not None:  # the SMS is out whatever follows
                    self._note(line)
                    return reference
                raise self._refused(line, command)
            else:
                self._note(line)
        if reference is not None:
            return reference
        self._ready = False
        raise SmsUnconfirmed(f"GSM modem on {self._name} did not answer {command} within "
                             f"{self._send_timeout:g} s: {_H_UNCONFIRMED}")

    def _ask(self, command: str, prefix: str) -> tuple[str, ModemError | None]:
        try:
            return (self._exchange(command, prefix) or [""])[-1], None
        except ModemTimeout:
            raise
        except ModemError as exc:
            return "", exc

    def _hello(self) -> None:
        deadline = time.monotonic() + self._timeout
        for attempt in range(_AT_TRIES):  # a booting or autobauding modem ignores early ATs
            try:
                self._exchange("AT", timeout=(deadline - time.monotonic()) / (_AT_TRIES - attempt))
                return
            except ModemTimeout:
                continue
        raise ModemTimeout(f"GSM modem on {self._name} did not answer AT within "
                           f"{self._timeout:g} s: {_H_CABLE}")

    def _exchange(self, command: str, prefix: str | None = None, *, prompt: bool = False,
                  timeout: float | None = None) -> list[str]:
        self._drain()
        self._write(command.encode("ascii") + b"\r")
        return self._collect(command, prefix, self._timeout if timeout is None else timeout,
                             [command], prompt=prompt)

    def _collect(self, command: str, prefix: str | None, timeout: float, echo: list[str],
                 *, prompt: bool = False) -> list[str]:
        """Read lines up to the final result code (or the ``>`` prompt), keeping the info lines.

        Echoed lines are dropped only before the first real answer, so a text that reads "OK"
        cannot pass for the result. Anything unexpected is an unsolicited line. A plain error
        or no answer leaves the modem's state unknown, so it is set up again on the next use.
        """
        deadline, info, echo = time.monotonic() + timeout, [], list(echo)
        while (line := self._read_line(deadline, prompt)) is not None:
            if echo and line == echo[0]:
                echo.pop(0)
            elif prompt and line == ">":
                return info
            elif line == "OK" and not prompt:
                return info
            elif line in ("OK", "ERROR") or line.startswith(_FINAL_ERRORS):
                raise self._refused(line, command)
            elif prefix and line.startswith(prefix):
                info.append(line[len(prefix):].strip())
                echo = []
            else:
                self._note(line)
        self._ready = False
        raise ModemTimeout(f"GSM modem on {self._name} did not answer {command} within "
                           f"{timeout:g} s: {_H_CABLE}")

    def _refused(self, line: str, command: str) -> ModemError:
        """Explain a final error; one without a code may mean a silent reboot, so set up again.

        With ``AT+CMEE=1`` in effect the modem refuses with a numbered error, so a bare
        ``ERROR`` (or an ``OK`` where a prompt was due) says the settings may be gone.
        """
        error = ModemError.from_result(line, self._name, command)
        if error.code is None:
            self._ready = False
        return error

    def _read_line(self, deadline: float, prompt: bool = False) -> str | None:
        """Return the next non-blank line, ``">"`` for a prompt, or None at the deadline."""
        while True:
            found = _EOL.search(self._buf)  # CR alone ends an echoed command line
            if found:
                end = found.start()
                line = self._buf[:end].decode("latin-1").strip(_JUNK)
                del self._buf[: end + 1]
                if line:
                    return line
                continue
            if prompt and self._buf.strip(_JUNK.encode()) == b">":  # "> " has no line end
                self._buf.clear()
                return ">"
            if len(self._buf) > 4096:  # noise without line ends: do not grow forever
                self._note(self._buf.decode("latin-1")[:80] + "...")
                self._buf.clear()
            if time.monotonic() >= deadline:
                return None
            self._fill()

    def _drain(self) -> None:
        """Take what already arrived as unsolicited; drop stale results of an abandoned command."""
        self._fill(block=False)
        while (line := self._read_line(0.0)) is not None:
            if line not in ("OK", "ERROR", ">") and " ERROR:" not in line and not (
                    line.upper().startswith("AT")):  # nor the echo of an abandoned command
                self._note(line)

    def _note(self, line: str) -> None:
        log.debug("GSM modem on %s: unsolicited %r", self._name, line)
        self.unsolicited.append(line)
        if line == "RDY":  # rebooted (often a power dip): echo and text mode are reset
            self._ready = False
            self._reboots += 1

    def _fill(self, block: bool = True) -> None:
        try:
            waiting = getattr(self._serial, "in_waiting", 0)
            if waiting or block:
                self._buf += self._serial.read(waiting or 1)
        except (serial.SerialException, OSError) as exc:
            self._ready = False
            raise self._port_error(exc, "read from") from exc

    def _write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            self._ready = False
            raise self._port_error(exc, "write to") from exc

    def _port_error(self, exc: Exception, action: str) -> ModemError:
        code = getattr(exc, "errno", None)
        if action == "open" and code in (errno.EAGAIN, errno.EWOULDBLOCK):  # exclusive lock
            return ModemError(f"GSM modem port {self._name} {_H_IN_USE}")
        if code == errno.EACCES:
            hint = "permission denied: add the kiosk user to the dialout group and log in again"
        elif action == "open":
            hint = ("is the modem plugged in and powered? For the Pi UART enable the serial port "
                    "in raspi-config; for USB check the port name (ls /dev/ttyUSB*)")
        else:
            hint = "the modem was unplugged or lost power: check the cable and its 2 A supply"
        return ModemError(f"GSM modem port {self._name}: cannot {action} it ({exc}): {hint}")
