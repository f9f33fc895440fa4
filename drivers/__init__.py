"""Thin adapters, one per device, with a simulated stand-in beside each.

Nothing here imports :mod:`kiosk`: drivers know about pins, buses and ports, never about
guests, alarms or schedules. Each driver turns the library's own exceptions into one of
:mod:`drivers.errors` with a message a guard or installer can act on.
"""
