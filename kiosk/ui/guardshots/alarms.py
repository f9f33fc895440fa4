"""The alarm screen during a fire alarm, its SMS under way."""

from __future__ import annotations


def alarms(app, core):
    if not core.alarms.active():
        core.raise_alarm("fire", actor="Petugas Simulasi")
    app.go("guard_alarms")
    return 20


SCENES = {"guard-alarms": alarms}
