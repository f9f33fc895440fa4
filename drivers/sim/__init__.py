"""Simulated devices that speak the real protocols, for tests and the simulator.

Each one stands in at the driver boundary only: the thermometer fake is an SMBus with an
MLX90614 behind it, the modem and scanner fakes sit on the far end of a pty and talk bytes,
the cameras serve image frames. Faults can be injected into each, the way real devices fail.
"""
