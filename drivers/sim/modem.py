"""A SIM800-class GSM modem on the far end of a pty, speaking AT commands in SMS text mode.

Like OctoPrint's virtual printer, it talks the real protocol byte for byte, and the habits of
real modems can be switched on to see that the driver copes: echo, unsolicited lines at any
moment, the ``> `` prompt without a line end, slow networks, error codes, reboots, silence.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable

from drivers.sim.pty import PtyPeer

log = logging.getLogger(__name__)

BOOT_URCS = ("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")
_CTRL_Z, _ESC, _CR, _LF = 0x1A, 0x1B, 0x0D, 0x0A
_CMGS = re.compile(r'AT\+CMGS="(\+?[0-9]+)"(?:,[0-9]+)?', re.IGNORECASE)
_SETTING = re.compile(r"AT\+(CMEE|CMGF)=([0-9])", re.IGNORECASE)


class SimulatedModem(PtyPeer):
    """Answers AT commands like a SIM800; open :attr:`port` with the real driver.

    Every argument is also an attribute that can be changed while the modem runs.

    Args:
        echo: Echo what the driver types, as modems do until ``ATE0``.
        boot_urcs: Lines printed as the first bytes arrive: the modem finishes booting just as
            the driver starts talking (pyserial flushes whatever came before it opened).
        deaf_commands: How many command lines to ignore at first, as a booting modem does.
        urc_inside_response: Put :attr:`urc` before the ``>`` prompt, right after it, and
            before the ``OK`` of every answer that has information lines (``+CMGS``, ``+CSQ``).
        cms_error: Answer the SMS text with ``+CMS ERROR: <n>`` instead of sending it.
        cme_error: Answer ``AT+CPIN?`` with ``+CME ERROR: <n>`` (10: SIM not inserted).
        silent: Never answer, not even the echo: unpowered, or the wrong port or speed.
        prompt_delay: Seconds before the ``>`` prompt.
        send_delay: Seconds before ``+CMGS``: networks take seconds to accept an SMS.
        split_writes: Send everything one byte at a time, so the driver sees every split.
        signal: What ``AT+CSQ`` reports (0-31, 99 unknown).
        registered: Whether ``AT+CREG?`` reports the home network.
        operator: What ``AT+COPS?`` names.
        on_sms: Called with ``(number, text)`` for each SMS sent, on the modem's thread,
            before it is confirmed: a :meth:`reboot` from here sends it but never confirms it,
            as a brown-out at the 2 A transmit peak does.
        on_command: Called with each command line before it is answered, on the modem's
            thread: to count commands, or to reboot or change a setting at an exact step.

    Attributes:
        sent: ``(number, text)`` of every SMS sent, in order.
        noise: Raw lines (bytes or str) to emit one before each reply line, until used up.
        urc: The unsolicited line that ``urc_inside_response`` uses.
    """

    def __init__(self, *, echo: bool = True, boot_urcs: Iterable[str] = (),
                 deaf_commands: int = 0, urc_inside_response: bool = False,
                 cms_error: int | None = None, cme_error: int | None = None,
                 silent: bool = False, prompt_delay: float = 0.0, send_delay: float = 0.0,
                 split_writes: bool = False, signal: int = 20, registered: bool = True,
                 operator: str = "TELKOMSEL",
                 on_sms: Callable[[str, str], None] | None = None,
                 on_command: Callable[[str], None] | None = None) -> None:
        self.echo, self.boot_urcs, self.deaf_commands = echo, list(boot_urcs), deaf_commands
        self.urc_inside_response, self.urc = urc_inside_response, '+CMTI: "SM",3'
        self.cms_error, self.cme_error, self.silent = cms_error, cme_error, silent
        self.prompt_delay, self.send_delay = prompt_delay, send_delay
        self.split_writes = split_writes
        self.signal, self.registered, self.operator = signal, registered, operator
        self.on_sms, self.on_command = on_sms, on_command
        self.sent: list[tuple[str, str]] = []
        self.noise: list[bytes | str] = []
        self.text_mode, self.errors_numeric, self.charset = False, False, "IRA"
        self._booted, self._reference, self._boots = False, 0, 0
        self._line, self._number = bytearray(), ""
        self._text: bytearray | None = None  # the SMS being typed after the prompt
        self._out_lock = threading.RLock()
        self._stop = threading.Event()
        super().__init__()  # starts the thread: everything above must exist first

    def inject_urc(self, line: str) -> None:
        """Print an unsolicited line now, as ``RING`` or ``+CMTI`` arrive at any moment."""
        self._send_line(line)

    def reboot(self, *, announce: bool = True) -> None:
        """Restart as after a power dip: echo on, PDU mode, and ``RDY`` etc. if ``announce``.

        An SMS being sent meanwhile is never confirmed; SIM800 on autobaud announces nothing.
        """
        with self._out_lock:
            self._boots += 1  # an SMS in progress is never confirmed
            self.echo, self.text_mode, self.errors_numeric, self._text = True, False, False, None
            self._line.clear()
            for line in (self.boot_urcs or BOOT_URCS) if announce else ():
                self._send_line(line)

    def close(self) -> None:
        """Stop, interrupting any delay in progress, and release the pty."""
        self._stop.set()
        super().close()

    def on_bytes(self, data: bytes) -> None:
        """Take what the driver typed: command lines, or the text of an SMS after ``>``."""
        if self.silent:
            return
        if not self._booted:
            self._booted = True
            for line in self.boot_urcs:
                self._send_line(line)
        for byte in data:
            if self._text is not None:
                self._text_byte(byte)
            elif byte == _CR:
                self._echo(byte)
                line = self._line.decode("ascii", "replace").strip()
                self._line.clear()
                if line:
                    self._command(line)
            elif 0x20 <= byte < 0x7F:  # LF, a stray ESC and other controls are ignored
                self._echo(byte)
                self._line.append(byte)

    def _command(self, line: str) -> None:
        if self.deaf_commands > 0:
            self.deaf_commands -= 1
            return
        if self.on_command is not None:
            self.on_command(line)
        upper = line.upper()
        if upper in ("AT", "ATE0", "ATE1"):
            self.echo = self.echo if upper == "AT" else upper == "ATE1"
            self._reply("OK")
        elif match := _SETTING.fullmatch(line):
            if match[1].upper() == "CMEE":
                self.errors_numeric = match[2] != "0"
            else:
                self.text_mode = match[2] == "1"
            self._reply("OK")
        elif upper.startswith("AT+CSCS="):
            self.charset = line[8:].strip('"')
            self._reply("OK")
        elif upper == "AT+CPIN?":
            if self.cme_error is not None:
                self._reply(f"+CME ERROR: {self.cme_error}" if self.errors_numeric else "ERROR")
            else:
                self._reply("+CPIN: READY", "OK")
        elif upper == "AT+CREG?":
            self._reply(f"+CREG: 0,{1 if self.registered else 2}", "OK")
        elif upper == "AT+CSQ":
            self._reply(f"+CSQ: {self.signal},0", "OK")
        elif upper == "AT+COPS?":
            named = self.registered and self.operator
            self._reply(f'+COPS: 0,0,"{self.operator}"' if named else "+COPS: 0", "OK")
        elif (match := _CMGS.fullmatch(line)) and self.text_mode:  # in PDU mode: ERROR
            self._number, self._text = match[1], bytearray()
            self._wait(self.prompt_delay)
            self._prompt()
        else:
            self._reply("ERROR")

    def _text_byte(self, byte: int) -> None:
        assert self._text is not None
        if byte == _CTRL_Z:
            text, self._text = self._text.decode("ascii", "replace"), None
            self._submit(text)
        elif byte == _ESC:  # cancelled: nothing is sent and nothing is answered
            self._text = None
        elif byte == _CR:  # a new line of text gets a new prompt
            self._text.append(_LF)
            self._prompt()
        else:
            self._echo(byte)
            self._text.append(byte)

    def _submit(self, text: str) -> None:
        boots = self._boots
        self._wait(self.send_delay)
        if self._boots != boots:  # rebooted while the network took its time: lost, unanswered
            return
        if self.cms_error is not None:
            self._reply(f"+CMS ERROR: {self.cms_error}" if self.errors_numeric else "ERROR")
            return
        self._reference = self._reference % 255 + 1  # TP-MR is one byte
        self.sent.append((self._number, text))
        log.info("simulated modem sent SMS %d to %s: %s", self._reference, self._number, text)
        if self.on_sms is not None:
            self.on_sms(self._number, text)
        if self._boots == boots:
            self._reply(f"+CMGS: {self._reference}", "OK")

    def _prompt(self) -> None:
        if self.urc_inside_response:
            self._send_line(self.urc)
        self._emit_noise()
        self._send(b"\r\n> ")  # no line end: the driver must see the prompt anyway
        if self.urc_inside_response:
            self._send_line(self.urc)

    def _reply(self, *lines: str) -> None:
        if self.urc_inside_response and len(lines) > 1:
            lines = (*lines[:-1], self.urc, lines[-1])
        for line in lines:
            self._emit_noise()
            self._send_line(line)

    def _emit_noise(self) -> None:
        if self.noise:
            self._send_line(self.noise.pop(0))

    def _send_line(self, line: str | bytes) -> None:
        self._send(b"\r\n" + (line.encode() if isinstance(line, str) else line) + b"\r\n")

    def _echo(self, byte: int) -> None:
        if self.echo:
            self._send(bytes([byte]))

    def _send(self, data: bytes) -> None:
        with self._out_lock:
            step = 1 if self.split_writes else max(len(data), 1)
            for start in range(0, len(data), step):
                if self._stop.is_set():
                    return
                try:
                    self.write(data[start : start + step])
                except OSError:  # closed under us
                    return
                if self.split_writes:
                    time.sleep(0.001)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)
