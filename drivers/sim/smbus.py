"""An SMBus with a simulated MLX90614 behind it, faults included.

It answers ``read_i2c_block_data`` exactly as the chip does (LSB, MSB, PEC), so the real
driver's PEC check, error-flag check and retries run in tests and in the simulator.
"""

from __future__ import annotations

import errno
import threading

from drivers.thermometer import DEFAULT_ADDRESS, REG_AMBIENT, REG_OBJECT_1, REG_OBJECT_2, word_pec

FAULTS = ("nack", "pec", "flag", "timeout")


class FakeMLX90614Bus:
    """A bus object holding one simulated MLX90614.

    ``object_c`` and ``ambient_c`` are what the sensor "sees"; set them at any time (the
    simulator's temperature slider does). ``fail(kind, times)`` queues faults; ``unplugged``
    makes every transfer fail like a sensor with a loose wire.
    """

    def __init__(
        self, object_c: float = 36.6, ambient_c: float = 28.0, address: int = DEFAULT_ADDRESS
    ) -> None:
        self.object_c = object_c
        self.ambient_c = ambient_c
        self.address = address
        self.unplugged = False
        self.reads = 0
        self._faults: list[str] = []
        self._lock = threading.Lock()

    def fail(self, kind: str, times: int = 1) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([kind] * times)

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        with self._lock:
            self.reads += 1
            fault = self._faults.pop(0) if self._faults else None
        if self.unplugged or i2c_addr != self.address or fault == "nack":
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if fault == "timeout":
            raise OSError(errno.ETIMEDOUT, "Connection timed out")
        celsius = {REG_AMBIENT: self.ambient_c, REG_OBJECT_1: self.object_c,
                   REG_OBJECT_2: self.object_c}.get(register)
        if celsius is None:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        word = round((celsius + 273.15) / 0.02) & 0x7FFF
        if fault == "flag":
            word |= 0x8000
        lsb, msb = word & 0xFF, word >> 8
        pec = word_pec(self.address, register, lsb, msb)
        if fault == "pec":
            pec ^= 0x01
        return [lsb, msb, pec][:length]

    def close(self) -> None:
        """Nothing to release; here so the fake can stand in for an ``smbus2.SMBus``."""
