"""The dashboard in the middle of an afternoon: guests in, one held, a task overdue."""

from __future__ import annotations

from kiosk.ui.guardshots.seed import seed_guests


def dashboard(app, core):
    seed_guests(core)
    core.override("lights", on=True, minutes=60, reason="Rapat sore di aula", actor="Budi")
    app.go("guard_dashboard")
    return 20


SCENES = {"guard-dashboard": dashboard}
