"""The roster of a post with five guards, today changed by the admin, one call-out sent.

The simulator's config has no roster, so the scene gives the core one, as a post's
``[roster]`` section would (the guards, their numbers, the week's duty), then records what
the guards and the admin do through the core's :class:`kiosk.roster.Roster`: today's duty
changed because a guard is ill, a check-in, and a call-out for the evening's meeting.
"""

from __future__ import annotations

import datetime as dt

from kiosk.config.post import DutySettings

ADMIN_PIN = "9876"
GUARDS = {"Petugas Simulasi": "+6281200000001", "Admin Simulasi": "+6281200000002",
          "Budi Santoso": "+6281200000003", "Asep Sunandar": "+6281200000004",
          "Dedi Kurnia": "+6281200000005"}
ROTA = ("Budi Santoso", "Asep Sunandar", "Dedi Kurnia", "Petugas Simulasi")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _week() -> dict[str, tuple[DutySettings, ...]]:
    """A simple rota: each day the next guard by day, the one after by night."""
    week = {}
    for n, key in enumerate(DAY_KEYS):
        day, night, spare = (ROTA[(n + i) % len(ROTA)] for i in range(3))
        week[key] = (DutySettings(shift="pagi", guard=day, backups=(night, spare)),
                     DutySettings(shift="malam", guard=night, backups=(day, spare)))
    return week


def seed_roster(core) -> None:
    """The roster, today's change, a check-in and a call-out, once per core."""
    today = core.clock.now().date()
    if core.roster.config.guards:
        return
    roster = core.settings.roster.model_copy(update={"guards": GUARDS, "duty": _week()})
    core.roster.config = roster
    core.settings = core.settings.model_copy(update={"roster": roster})
    core.roster.set_day(today, [
        {"shift": "pagi", "guard": "Petugas Simulasi",
         "backups": ["Asep Sunandar", "Dedi Kurnia"]},
        {"shift": "malam", "guard": "Asep Sunandar",
         "backups": ["Petugas Simulasi", "Dedi Kurnia"]},
    ], reason="Budi Santoso sakit", actor="Admin Simulasi")
    core.roster.checkin("Petugas Simulasi")
    core.roster.callout(day=today, at=dt.time(19, 0), note="Rapat pleno rekapitulasi",
                        guards=["Budi Santoso", "Dedi Kurnia"], actor="Admin Simulasi")


def roster(app, core):
    seed_roster(core)
    app.go("guard_roster")
    return 20


def roster_admin(app, core):
    seed_roster(core)
    app.guard = app.client.login(ADMIN_PIN)
    app.go("guard_roster")
    return 20


def roster_callout(app, core):
    seed_roster(core)
    app.guard = app.client.login(ADMIN_PIN)
    app.go("guard_roster")
    screen = app.screen("guard_roster")
    screen._roster = {"today": core.clock.now().date().isoformat(), "guards": list(GUARDS)}
    screen.open_callout()
    screen.toggle_guard("Budi Santoso")
    screen.toggle_guard("Dedi Kurnia")
    screen.content.callout_note = "Pengamanan kunjungan Gubernur"
    return 20


def roster_change(app, core):
    """The admin swaps tomorrow's day guard for a backup, the reason still to type."""
    seed_roster(core)
    app.guard = app.client.login(ADMIN_PIN)
    app.go("guard_roster")
    screen = app.screen("guard_roster")
    tomorrow = core.clock.now().date() + dt.timedelta(days=1)
    shifts = [{"name": s.name, "start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}"}
              for s in core.settings.roster.shifts]
    screen._roster = {"today": core.clock.now().date().isoformat(), "guards": list(GUARDS),
                      "shifts": shifts}
    screen._change_offset = 1
    screen.content.page = "override"
    screen._got_day({"days": [core.roster.day_view(tomorrow)], "shifts": shifts})
    screen.assign("Dedi Kurnia")
    return 20


SCENES = {"guard-roster": roster, "guard-roster-admin": roster_admin,
          "guard-roster-callout": roster_callout,
          "guard-roster-change": roster_change}
