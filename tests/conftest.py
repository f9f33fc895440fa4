import os

import pytest

os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")


@pytest.fixture
def pin_factory():
    """A fresh gpiozero MockFactory per test, so pins are never left 'in use'."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous
