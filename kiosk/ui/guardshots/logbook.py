"""The incident book: a night's entries, and a guard writing a new one."""

from __future__ import annotations

from kiosk.ui.guardshots.seed import seed_guests


def _entries(core):
    seed_guests(core)
    if core.logbook.entries(query="Lampu parkir"):
        return  # an earlier scene wrote them
    with core.store.transaction() as conn:
        core.logbook.append(conn, category="kejadian", actor="Petugas Simulasi",
                            text="Lampu parkir sisi timur mati; dilaporkan ke bagian umum.")
        core.logbook.append(conn, category="umum", actor="Petugas Simulasi",
                            text="Paket untuk Kasubbag Keuangan diterima dari JNE.")


def logbook(app, core):
    _entries(core)
    app.go("guard_logbook")
    return 20


def logbook_write(app, core):
    _entries(core)
    app.go("guard_logbook")
    screen = app.screen("guard_logbook")
    screen.start_writing()
    screen.category = "kejadian"
    screen.value = "Pagar belakang terbuka pukul 22.10, sudah dikunci"
    return 20


SCENES = {"guard-logbook": logbook, "guard-logbook-write": logbook_write}
