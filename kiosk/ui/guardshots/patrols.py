"""Patrols at 14.05: tonight's patrols still ahead, last night's not walked, extra rounds.

The simulator's route is the config's default four checkpoints. The clock is frozen in the
afternoon, so the rounds pictured are extra rounds (no patrol is due before the evening)
and every time on them is 14.05; tonight's patrol times are drawn at random by the core,
so they change from one run to the next.
"""

from __future__ import annotations

from kiosk.patrols import payload

GUARD = "Petugas Simulasi"


def open_round(core, scanned: tuple[str, ...] = ("gerbang",)) -> dict:
    """The round under way, started (and ``scanned`` at its first checkpoints) if none is."""
    for found in core.patrols.listing():
        if found["status"] == "open":
            return found
    started = core.patrols.start(actor=GUARD, extra=True)
    for checkpoint in scanned:
        core.patrols.scan(started["id"], payload(checkpoint), actor=GUARD)
    return core.patrols.get(started["id"])


def walked(core) -> None:
    """No round open, and one finished earlier with a checkpoint missed."""
    rounds = core.patrols.listing()
    for found in rounds:
        if found["status"] == "open":
            core.patrols.finish(found["id"], actor=GUARD)
    if not rounds:
        done = open_round(core, ("gerbang", "parkir", "gudang"))
        core.patrols.finish(done["id"], actor=GUARD)


def body(app):
    return app.screen("guard_patrols").content


def overview(app, core):
    walked(core)
    app.go("guard_patrols")
    return 30


def round_under_way(app, core):
    """Two checkpoints ticked, the second just now through the serial scanner."""
    walked(core)
    found = open_round(core)
    app.go("guard_patrols")
    body(app).show_round(found)
    app.on_scanned(payload("parkir"), "serial")
    return 40


def refused(app, core):
    """A guest's invitation scanned by mistake: the core's words, nothing ticked."""
    found = open_round(core)
    app.go("guard_patrols")
    body(app).show_round(found)
    app.on_scanned("GK1:INV:K7QM3XW9PB2D", "serial")
    return 40


def finish(app, core):
    """Finishing with checkpoints not scanned asks first, naming them."""
    found = open_round(core)
    app.go("guard_patrols")
    body(app).show_round(found)
    body(app).ask_finish()
    return 30


def finished(app, core):
    """Just finished: what was missed stays on screen over tonight's lists."""
    found = open_round(core)
    app.go("guard_patrols")
    body(app).show_round(found)
    body(app).finish()
    return 40


SCENES = {
    "guard-patrols": overview,
    "guard-patrols-round": round_under_way,
    "guard-patrols-refused": refused,
    "guard-patrols-finish": finish,
    "guard-patrols-finished": finished,
}
