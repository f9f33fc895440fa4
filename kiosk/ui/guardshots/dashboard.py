"""The dashboard in the middle of an afternoon: guests in, one held, a task overdue.

And its last card, the sync, on a day the district office's link is down.
"""

from __future__ import annotations

import datetime as dt

from kiosk.store.db import iso
from kiosk.ui.guardshots.seed import seed_guests

HQ = "https://hq.kpu-jabar.go.id"


def dashboard(app, core):
    seed_guests(core)
    core.override("lights", on=True, minutes=60, reason="Rapat sore di aula", actor="Budi")
    app.go("guard_dashboard")
    return 20


def dashboard_sync(app, core):
    """The link to hq down since yesterday: what is waiting, why, and "sync now"."""
    from kivy.clock import Clock

    from kiosk.sync import Link

    seed_guests(core)
    now = core.clock.now()
    core.sync._link = Link(HQ, "t" * 43)  # as if [sync] were set; a scene never syncs
    core.sync_next = now + dt.timedelta(minutes=4)
    for key, value in (("last_success", iso(now - dt.timedelta(hours=29, minutes=12))),
                       ("last_attempt", iso(now - dt.timedelta(minutes=11))),
                       ("last_error", f"hq at {HQ} did not answer: [Errno -3] Temporary "
                                      "failure in name resolution")):
        core.sync._set(key, value)
    screen = app.screen("guard_dashboard")
    draw = screen.draw

    def draw_then_scroll() -> None:  # once the answers are in, show the bottom card
        draw()
        del screen.draw
        Clock.schedule_once(lambda _dt: setattr(screen.content.children[0], "scroll_y", 0), 0)

    screen.draw = draw_then_scroll
    app.go("guard_dashboard")
    return 30


SCENES = {"guard-dashboard": dashboard, "guard-dashboard-sync": dashboard_sync}
