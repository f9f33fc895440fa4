"""One error hierarchy for every device.

The core catches :class:`DeviceError` at the boundary and shows its message to the guard,
so every message says what is wrong *and* what to do about it, in one line.
"""


class DeviceError(Exception):
    """A device is missing, unplugged, misbehaving or answered with an error."""
