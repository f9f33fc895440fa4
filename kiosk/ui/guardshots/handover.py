"""The handover at 17.00: guests still in, a package waiting, an escort overdue, a radio out.

The open items are made through the core's own objects (visits, registers, SOP runs), so
the summary pictured is the one the core would hand over. The simulator's config lists no
inventory items, so the scene gives the registers one, as a post's ``[registers] items``
would, to show a loan.
"""

from __future__ import annotations

from kiosk.ui.guardshots.seed import seed_guests
from kiosk.ui.guardshots.sop import GUARD, seeded

ITEM = "Handy talky 2"


def seed_open_items(core) -> None:
    """Guests, a package, a guest's car and a loan, once per core."""
    seed_guests(core)
    if core.registers.outstanding()["packages"]:
        return
    config = core.registers.config
    if ITEM not in config.items:
        core.registers.config = config.model_copy(update={"items": (*config.items, ITEM)})
    core.registers.receive_mail({"kind": "package", "sender": "JNE Express",
                                 "addressee": "Kasubbag Umum", "description": "Kardus kecil"},
                                actor=GUARD)
    core.registers.vehicle_in({"plate": "T 1234 AB", "driver": "Rahmat Hidayat",
                               "purpose": "Rapat koordinasi"}, actor=GUARD)
    core.registers.lend({"kind": "item", "asset": ITEM, "borrower": "Dedi Kurnia",
                         "unit": "Subbag Umum", "purpose": "Pengamanan rapat pleno"},
                        actor=GUARD)


def handover(app, core):
    seed_open_items(core)
    seeded(app, core)
    app.go("guard_handover")
    return 20


def handover_pin(app, core):
    handover(app, core)
    screen = app.screen("guard_handover")
    screen.content.note = "Kunci gudang ada di laci meja pos"
    screen.hand_over()
    dialog = _pin_pad()
    dialog.value = "98"
    return 20


def handover_done(app, core):
    handover(app, core)
    screen = app.screen("guard_handover")
    screen.content.note = "Kunci gudang ada di laci meja pos"
    screen.hand_over()
    dialog = _pin_pad()
    dialog.value = "9876"
    dialog.ok()
    return 40


def _pin_pad():
    from kivy.core.window import Window

    from kiosk.ui.widgets import GuardDialog

    return next(c for c in Window.children if isinstance(c, GuardDialog))


SCENES = {"guard-handover": handover, "guard-handover-pin": handover_pin,
          "guard-handover-done": handover_done}
