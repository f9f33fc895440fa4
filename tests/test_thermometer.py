import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.sim.smbus import FakeMLX90614Bus
from drivers.thermometer import MLX90614, SensorError, crc8, word_pec


class ScriptedBus:
    """Replies with exactly the bytes given, in order, to pin down the wire format."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls = []

    def read_i2c_block_data(self, addr, register, length):
        self.calls.append((addr, register, length))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_crc8_check_value():
    assert crc8(b"123456789") == 0xF4


def test_datasheet_example_pec_and_value():
    # Datasheet: B4 07 B5 D2 3A -> PEC 0x30, 28.01 °C
    assert crc8([0xB4, 0x07, 0xB5, 0xD2, 0x3A]) == 0x30
    bus = ScriptedBus([0xD2, 0x3A, 0x30])
    sensor = MLX90614(bus, address=0x5A)
    assert sensor.object_c() == pytest.approx(28.01, abs=0.005)
    assert bus.calls == [(0x5A, 0x07, 3)]


def test_ambient_reads_register_6():
    word = round((25.0 + 273.15) / 0.02)
    lsb, msb = word & 0xFF, word >> 8
    bus = ScriptedBus([lsb, msb, word_pec(0x5A, 0x06, lsb, msb)])
    assert MLX90614(bus).ambient_c() == pytest.approx(25.0, abs=0.02)
    assert bus.calls[0][1] == 0x06


def test_reads_the_fake_sensor():
    bus = FakeMLX90614Bus(object_c=36.8, ambient_c=29.5)
    sensor = MLX90614(bus)
    assert sensor.object_c() == pytest.approx(36.8, abs=0.02)
    assert sensor.ambient_c() == pytest.approx(29.5, abs=0.02)
    bus.object_c = 38.2
    assert sensor.object_c() == pytest.approx(38.2, abs=0.02)


@pytest.mark.parametrize("fault", ["nack", "pec", "flag", "timeout"])
def test_transient_faults_are_retried(fault):
    bus = FakeMLX90614Bus(object_c=36.5)
    bus.fail(fault, times=2)
    sensor = MLX90614(bus, attempts=3, retry_delay=0)
    assert sensor.object_c() == pytest.approx(36.5, abs=0.02)
    assert bus.reads == 3


def test_persistent_pec_failure_raises_sensor_error():
    bus = FakeMLX90614Bus()
    bus.fail("pec", times=10)
    with pytest.raises(SensorError, match="PEC mismatch.*4 attempts.*by hand"):
        MLX90614(bus, retry_delay=0).object_c()
    assert bus.reads == 4


def test_error_flag_is_rejected():
    bus = FakeMLX90614Bus()
    bus.fail("flag", times=10)
    with pytest.raises(SensorError, match="internal error"):
        MLX90614(bus, retry_delay=0).object_c()


def test_unplugged_sensor_names_wiring_and_address():
    bus = FakeMLX90614Bus()
    bus.unplugged = True
    with pytest.raises(SensorError) as info:
        MLX90614(bus, retry_delay=0).object_c()
    message = str(info.value)
    assert "SDA GPIO2" in message and "5a" in message
    assert "\n" not in message


def test_wrong_address_gets_no_answer():
    bus = FakeMLX90614Bus(address=0x5A)
    with pytest.raises(SensorError, match="i2cdetect should show 5b"):
        MLX90614(bus, address=0x5B, retry_delay=0).object_c()


def test_impossible_value_with_valid_pec_is_rejected():
    # 0x7FFF * 0.02 - 273.15 = 382.19 is in range; ambient 382 is not (max 125 °C).
    lsb, msb = 0xFF, 0x7F
    bus = ScriptedBus(*[[lsb, msb, word_pec(0x5A, 0x06, lsb, msb)]] * 4)
    with pytest.raises(SensorError, match="impossible reading"):
        MLX90614(bus, retry_delay=0).ambient_c()


def test_short_reply_is_a_sensor_error_not_a_crash():
    bus = ScriptedBus(*[[0x12]] * 4)
    with pytest.raises(SensorError, match="malformed"):
        MLX90614(bus, retry_delay=0).object_c()


def test_other_oserror_is_reported():
    bus = ScriptedBus(*[OSError(errno.EBUSY, "Device or resource busy")] * 4)
    with pytest.raises(SensorError, match="busy"):
        MLX90614(bus, retry_delay=0).object_c()


def test_missing_bus_number_gives_enable_i2c_advice():
    with pytest.raises(SensorError, match="raspi-config nonint do_i2c 0"):
        MLX90614(97)


@given(st.lists(st.integers(0, 255), min_size=3, max_size=3))
def test_garbage_replies_never_escape_as_anything_but_sensor_error(reply):
    bus = ScriptedBus(*[reply] * 2)
    sensor = MLX90614(bus, attempts=2, retry_delay=0)
    try:
        value = sensor.object_c()
    except SensorError:
        return
    lsb, msb, pec = reply
    assert pec == word_pec(0x5A, 0x07, lsb, msb)
    assert -70.0 <= value <= 382.2
