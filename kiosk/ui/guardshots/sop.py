"""The SOP screen at the end of the day shift: an escort under way, a theft handled earlier.

The runs are made through the core's :class:`kiosk.sop.SopRuns` as the guards would: the
escort's draft came back once with corrections (the "Tidak" loop) and the step it is at
now runs over its standard time; the crime procedure was carried out and finished. To have
minutes behind them, the seed moves the core's simulated clock forward to 17.00 (never back:
the logbook's times must keep their order) and records each step at the time it was done.
The handover's scenes use the same afternoon.
"""

from __future__ import annotations

import datetime as dt

GUARD = "Petugas Simulasi"
ESCORT = "pengawalan-pejabat"
CRIME = "penanganan-tindak-pidana"
# Minutes after the seed starts (14.05) at which each step was done; the clock ends at LATER.
ESCORT_STEPS = (("terima-perintah-walikota", 20, None), ("terima-perintah-camat", 40, None),
                ("susun-draft", 60, None), ("verifikasi-draft", 70, "no"),
                ("susun-draft", 85, None), ("verifikasi-draft", 100, "yes"),
                ("tanda-tangan", 125, None), ("teruskan-ke-danru", 130, None))
# The admin's run for the ministry's guests reaches its decision just before 17.00.
GUESTS_STEPS = (("terima-perintah-walikota", 163), ("terima-perintah-camat", 166),
                ("susun-draft", 170))
CRIME_STEPS = (("amankan-tkp", 18), ("amankan-pelaku", 38), ("tolong-korban", 50),
               ("lapor-pimpinan", 58), ("lapor-polisi", 75))
CRIME_START, GUESTS_START, LATER = 10, 160, 175
PIN = "1234"


def seed_runs(core) -> dict[str, int]:
    """The runs, once per core; returns their ids (``escort``, ``crime``, ``guests``)."""
    found = {run["title"]: run["id"] for run in core.sops.runs(open_only=False, limit=50)}
    if "Kunjungan Bupati Subang" in found:
        return {"escort": found["Kunjungan Bupati Subang"],
                "crime": found["Pencurian helm di parkiran"],
                "guests": found["Tamu Kemendagri"]}
    start = core.clock.now()

    def at(minutes: int) -> dt.datetime:
        return start + dt.timedelta(minutes=minutes)

    escort = core.sops.start(ESCORT, actor=GUARD, title="Kunjungan Bupati Subang")["id"]
    core.clock.jump(at(CRIME_START))
    crime = core.sops.start(CRIME, actor=GUARD, title="Pencurian helm di parkiran")["id"]
    core.clock.jump(at(GUESTS_START))
    guests = core.sops.start(ESCORT, actor="Admin Simulasi", title="Tamu Kemendagri")["id"]
    core.clock.jump(at(LATER))
    for step, minutes, answer in ESCORT_STEPS:
        core.sops.complete(escort, step, actor=GUARD, answer=answer, at=at(minutes))
    for step, minutes in CRIME_STEPS:
        core.sops.complete(crime, step, actor=GUARD, at=at(minutes))
    for step, minutes in GUESTS_STEPS:
        core.sops.complete(guests, step, actor="Admin Simulasi", at=at(minutes))
    return {"escort": escort, "crime": crime, "guests": guests}


def seeded(app, core) -> dict[str, int]:
    """Seed, then log in again: the session began before the clock moved on and ran out."""
    runs = seed_runs(core)
    app.guard = app.client.login(PIN)
    return runs


def sop_list(app, core):
    seeded(app, core)
    app.go("guard_sop")
    return 20


def sop_run(app, core):
    runs = seeded(app, core)
    app.go("guard_sop")
    app.screen("guard_sop").open_run(runs["escort"])
    return 20


def sop_decision(app, core):
    runs = seeded(app, core)
    app.go("guard_sop")
    app.screen("guard_sop").open_run(runs["guests"])
    return 20


def sop_start(app, core):
    seeded(app, core)
    app.go("guard_sop")
    screen = app.screen("guard_sop")
    screen._procedures = core.sops.procedures()
    screen.ask_start(ESCORT)
    panel = screen.content.ids.typing
    for key in "Kunjungan Wakil Bupati":
        panel.on_key("space" if key == " " else key.lower())
    return 20


def sop_report(app, core):
    runs = seeded(app, core)
    app.go("guard_sop")
    app.screen("guard_sop").open_report(runs["crime"])
    return 20


SCENES = {"guard-sop": sop_list, "guard-sop-run": sop_run,
          "guard-sop-decision": sop_decision, "guard-sop-start": sop_start,
          "guard-sop-report": sop_report}
