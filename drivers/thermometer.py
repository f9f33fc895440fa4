"""Melexis MLX90614 contactless thermometer on I2C (SMBus), read with its PEC checked.

Datasheet: Melexis MLX90614 family, rev. 13, sections 8.4 (SMBus) and 8.3.3 (RAM).
Wiring: VIN to 3.3 V, GND, SDA to GPIO2 (pin 3), SCL to GPIO3 (pin 5); enable I2C with
``raspi-config nonint do_i2c 0``. The sensor allows 100 kHz at most, which is the Pi's default.

Why the PEC: a Pi's I2C is known for occasional glitches (Errno 121, clock stretching) and a
corrupted word would read as a plausible fever or a plausible normal temperature. Every word is
checked against its SMBus packet error code (CRC-8, polynomial 0x07) and retried on mismatch.

Readings drop with distance: the caller guides the guest close and takes the stable maximum of
several samples; this module only reads one sample correctly.
"""

from __future__ import annotations

import errno
import time
from typing import Protocol

from drivers.errors import DeviceError

DEFAULT_ADDRESS = 0x5A
REG_AMBIENT = 0x06
REG_OBJECT_1 = 0x07
REG_OBJECT_2 = 0x08

KELVIN_PER_LSB = 0.02
ERROR_FLAG = 0x8000
# Datasheet measurement ranges; anything outside is a bus fault, not a temperature.
AMBIENT_RANGE_C = (-40.0, 125.0)
OBJECT_RANGE_C = (-70.0, 382.2)


class SensorError(DeviceError):
    """The thermometer cannot give a trustworthy reading."""


class SMBusLike(Protocol):
    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...


def crc8(data: bytes | list[int], crc: int = 0) -> int:
    """SMBus packet error code: CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial 0."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word_pec(address: int, register: int, lsb: int, msb: int) -> int:
    """PEC of an SMBus read-word transaction, over every byte that crossed the wire."""
    return crc8([address << 1, register, (address << 1) | 1, lsb, msb])


class MLX90614:
    """One MLX90614 at ``address`` on ``bus``.

    Args:
        bus: an object with ``read_i2c_block_data(addr, register, length)`` (an
            ``smbus2.SMBus``, or a fake in tests), or an I2C bus number to open with smbus2.
        address: the sensor's 7-bit address (0x5A from the factory).
        attempts: how often a glitched read is tried before giving up.
        retry_delay: seconds between attempts; the sensor refreshes its RAM every few ms.
    """

    def __init__(
        self,
        bus: SMBusLike | int = 1,
        address: int = DEFAULT_ADDRESS,
        *,
        attempts: int = 4,
        retry_delay: float = 0.02,
    ) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"I2C address {address:#04x} is outside 0x03-0x77")
        self.address = address
        self.attempts = max(1, attempts)
        self.retry_delay = retry_delay
        self._owns_bus = isinstance(bus, int)
        self.bus = _open_bus(bus, address) if isinstance(bus, int) else bus
        self.bus_name = f"I2C bus {bus}" if isinstance(bus, int) else "I2C bus"

    def object_c(self) -> float:
        """Temperature of whatever is in the field of view (the forehead), in °C."""
        return self._read_c(REG_OBJECT_1, OBJECT_RANGE_C)

    def ambient_c(self) -> float:
        """Temperature of the sensor's own package, in °C."""
        return self._read_c(REG_AMBIENT, AMBIENT_RANGE_C)

    def close(self) -> None:
        if self._owns_bus:
            self.bus.close()

    def __enter__(self) -> MLX90614:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_c(self, register: int, valid: tuple[float, float]) -> float:
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.retry_delay)
            try:
                lsb, msb, pec = self.bus.read_i2c_block_data(self.address, register, 3)
            except OSError as exc:
                problem = _describe_oserror(exc, self.address, self.bus_name)
                continue
            except ValueError:
                problem = "the bus returned a malformed reply"
                continue
            if pec != word_pec(self.address, register, lsb, msb):
                problem = "corrupted replies (PEC mismatch): check the wiring and pull-ups"
                continue
            word = (msb << 8) | lsb
            if word & ERROR_FLAG:
                problem = "the sensor reports an internal error: power-cycle it"
                continue
            celsius = round(word * KELVIN_PER_LSB - 273.15, 2)
            if not valid[0] <= celsius <= valid[1]:
                problem = f"an impossible reading ({celsius} °C): check the wiring"
                continue
            return celsius
        raise SensorError(
            f"thermometer at {self.address:#04x} gave {problem} "
            f"({self.attempts} attempts); measure by hand meanwhile"
        )


def _describe_oserror(exc: OSError, address: int, bus_name: str) -> str:
    if exc.errno in (errno.EREMOTEIO, errno.ENXIO, errno.EIO):
        return (
            f"no answer on {bus_name}: check the wiring (SDA GPIO2, SCL GPIO3, 3.3 V, GND) "
            f"and the address (i2cdetect should show {address:02x})"
        )
    if exc.errno == errno.ETIMEDOUT:
        return f"a bus timeout on {bus_name}: check for a stuck SDA line"
    return f"an I/O error on {bus_name} ({exc.strerror or exc})"


def _open_bus(number: int, address: int) -> SMBusLike:
    """Open ``/dev/i2c-<number>`` with smbus2, turning setup mistakes into guard-sized advice."""
    from smbus2 import SMBus

    try:
        return SMBus(number)
    except FileNotFoundError:
        raise SensorError(
            f"I2C bus {number} not found (/dev/i2c-{number}): enable I2C with "
            "'sudo raspi-config nonint do_i2c 0' and reboot"
        ) from None
    except PermissionError:
        raise SensorError(
            f"no permission for /dev/i2c-{number}: add the kiosk user to the i2c group"
        ) from None
    except OSError as exc:
        raise SensorError(f"cannot open I2C bus {number}: {exc.strerror or exc}") from None
