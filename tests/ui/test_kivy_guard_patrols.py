"""Patrol rounds on the guard's panel, with touches and scanned codes, against the real core.

The patrols fall on fixed minutes here (21.00, 23.00 and 01.00) on a route of three
checkpoints; codes arrive as the serial scanner hands them to the app. Each test then asks
the core what it recorded: the round, its scans, what was missed, the patrol done.
"""

from __future__ import annotations

import pytest
from conftest import at

from kiosk.ui.guardshots.patrols import SCENES
from kiosk.ui.i18n import Catalog
from kiosk.ui.screens.guard_patrols import (
    PatrolCheckpointRow,
    PatrolStartButton,
    PatrolTaskRow,
    names,
)

from .harness import check_scenes, log_in, open_screen
from .test_kivy_guard_registers import GUARD

WINDOW_SIZES = ("800x480",)
ROUTE = """
[tasks.patrols]
windows = [
    { start = "21:00", end = "21:01", count = 1 },
    { start = "23:00", end = "23:01", count = 1 },
    { start = "01:00", end = "01:01", count = 1 },
]
[[tasks.patrols.checkpoints]]
id = "gerbang"
name = "Gerbang depan"
[[tasks.patrols.checkpoints]]
id = "gudang"
name = "Gudang logistik"
[[tasks.patrols.checkpoints]]
id = "ruang-server"
name = "Ruang server"
"""
with_route = pytest.mark.parametrize("core_server", [ROUTE], indirect=True)
FIRST = "2026-11-22:patrol1"  # tonight's 21.00 patrol


def patrols(kiosk, moment=None):
    """Log in (after moving the core's clock to ``moment``) and open Patroli."""
    if moment is not None:
        kiosk.server.post.to(moment)
    log_in(kiosk)
    return open_screen(kiosk, "guard_patrols")


def task_row(body, title: str) -> PatrolTaskRow:
    rows = [w for w in body.ids.overview.walk(restrict=True) if isinstance(w, PatrolTaskRow)]
    found = [r for r in rows if f"· {title} ·" in r.words]
    assert found, [r.words for r in rows]
    return found[0]


def scan(kiosk, body, payload: str, source: str = "serial") -> None:
    """A code from the scanner; wait until the core has answered it."""
    assert kiosk.app.on_scanned(payload, source)
    kiosk.wait(lambda: not body._sending and not body._codes and not kiosk.screen.busy,
               f"the core's answer to {payload!r}")


def ticks(body) -> dict[str, str]:
    return {row.name: row.at for row in body.ids.checkpoints.children
            if isinstance(row, PatrolCheckpointRow) and row.done}


def rounds(kiosk, day="2026-11-22") -> list[dict]:
    response = kiosk.server.api("GET", "/patrols", guard=True, params={"day": day})
    assert response.status_code == 200, response.text
    return response.json()["rounds"]


@with_route
def test_a_round_ticks_checkpoints_as_their_codes_arrive_and_records_the_missed_one(kiosk):
    body = patrols(kiosk, at(21, 5))
    texts = kiosk.texts()
    assert "21.00 · Patroli 1 · SEKARANG" in texts
    assert "23.00 · Patroli 2 · terjadwal" in texts and "01.00 · Patroli 3 · terjadwal" in texts
    # Last night's three were never walked (the core started this morning): said once.
    assert "Malam sebelumnya 3 patroli tidak dijalankan" in texts
    row = task_row(body, "Patroli 1")
    assert row.state == "due"
    assert [b.task_id for b in row.ids.actions.children] == [FIRST]
    assert not task_row(body, "Patroli 2").ids.actions.children  # not before its time

    kiosk.tap(row.ids.actions.children[0])
    kiosk.wait(lambda: body.mode == "round", "the round")
    assert "Ronde #1 · Patroli 1 · mulai 21.05" in kiosk.texts()
    assert "0 dari 3 titik sudah dipindai" in kiosk.texts()
    assert ticks(body) == {}

    # A checkpoint cannot be ticked by hand: its row is no button, and a tap does nothing.
    server_row = next(r for r in body.ids.checkpoints.children if r.name == "Ruang server")
    assert not any(hasattr(w, "on_release") for w in server_row.walk())
    kiosk.tap(server_row)
    kiosk.pump(5)
    assert ticks(body) == {} and rounds(kiosk)[0]["visited"] == []

    kiosk.server.post.clock.jump(at(21, 8))
    scan(kiosk, body, "GK1:CP:gerbang")
    assert ticks(body) == {"Gerbang depan": "21.08"}
    assert "Gerbang depan tercatat pukul 21.08." in kiosk.texts()
    assert "1 dari 3 titik sudah dipindai" in kiosk.texts()

    scan(kiosk, body, "GK1:INV:K7QM3XW9PB2D")  # a guest's invitation, scanned by mistake
    assert "Bukan kode titik patroli" in kiosk.texts() and len(ticks(body)) == 1
    kiosk.press("EN")
    assert "Not a checkpoint code" in kiosk.texts()
    kiosk.press("ID")

    kiosk.server.post.clock.jump(at(21, 15))
    scan(kiosk, body, " gk1:cp:GUDANG\n", "camera")  # scanners add whitespace, or shout
    scan(kiosk, body, "GK1:CP:gerbang")
    assert ticks(body) == {"Gerbang depan": "21.08", "Gudang logistik": "21.15"}
    assert "Gerbang depan sudah dipindai pukul 21.08." in kiosk.texts()

    kiosk.press("Selesaikan ronde")
    dialog = kiosk.dialog()
    assert "1 titik belum dipindai: Ruang server" in kiosk.texts(dialog)
    kiosk.press("Selesaikan")
    kiosk.wait(lambda: body.mode == "overview" and body.loaded and not kiosk.screen.busy,
               "the round finished")
    texts = kiosk.texts()
    assert "Ronde #1 selesai: 2 dari 3 titik. Terlewat: Ruang server." in texts
    assert "21.00 · Patroli 1 · selesai 21.15, Petugas Simulasi" in texts
    assert "#1 Patroli 1 · 21.05–21.15 · 2 dari 3 titik · terlewat: Ruang server" in texts

    walked = rounds(kiosk)[0]
    assert walked["task_id"] == FIRST and walked["status"] == "finished"
    assert walked["started_by"] == GUARD and walked["finished_by"] == GUARD
    assert [(c["id"], c["scanned_at"][11:16]) for c in walked["visited"]] == [
        ("gerbang", "21:08"), ("gudang", "21:15")]
    assert walked["missed"] == [{"id": "ruang-server", "name": "Ruang server"}]
    tasks = {t["id"]: t for t in kiosk.server.api("GET", "/tasks").json()["tasks"]}
    assert tasks[FIRST]["status"] == "done" and tasks[FIRST]["done_by"] == GUARD


@with_route
def test_an_overdue_patrol_is_flagged_and_can_still_be_walked(kiosk):
    body = patrols(kiosk, at(21, 45))  # the grace (30 minutes) ran out at 21.30
    row = task_row(body, "Patroli 1")
    assert row.state == "overdue"
    assert "21.00 · Patroli 1 · TERLAMBAT, belum dijalankan" in kiosk.texts()
    kiosk.tap(row.ids.actions.children[0])
    kiosk.wait(lambda: body.mode == "round", "the late round")
    for code in ("GK1:CP:gerbang", "GK1:CP:gudang", "GK1:CP:ruang-server"):
        scan(kiosk, body, code)
    assert "3 dari 3 titik sudah dipindai" in kiosk.texts()
    kiosk.press("Selesaikan ronde")  # nothing missed: no question
    assert kiosk.dialog() is None
    kiosk.wait(lambda: body.mode == "overview" and body.note == "patrols.finished",
               "the round finished")
    assert "Ronde #1 selesai: 3 dari 3 titik diperiksa." in kiosk.texts()
    walked = rounds(kiosk)[0]
    assert walked["task_id"] == FIRST and walked["missed"] == []


@with_route
def test_an_extra_round_and_a_code_scanned_before_any_round(kiosk):
    body = patrols(kiosk)  # 10.00: last night's patrols are tonight's until noon
    assert all(task_row(body, f"Patroli {n}").state == "overdue" for n in (1, 2, 3))
    scan(kiosk, body, "GK1:CP:gerbang")
    assert "Mulai ronde dulu, lalu pindai titik pemeriksaan." in kiosk.texts()
    assert rounds(kiosk) == []

    kiosk.press("Ronde tambahan")
    kiosk.wait(lambda: body.mode == "round", "the extra round")
    assert "Ronde #1 · Patroli tambahan · mulai 10.00" in kiosk.texts()
    scan(kiosk, body, "GK1:CP:gerbang")
    assert ticks(body) == {"Gerbang depan": "10.00"}
    started = rounds(kiosk)[0]
    assert started["task_id"] is None and started["status"] == "open"
    assert [c["id"] for c in started["visited"]] == ["gerbang"]

    # Logged out mid-round: the round stays open in the core and comes back on screen.
    kiosk.tap(kiosk.screen.ids.logout)
    kiosk.wait_screen("welcome")
    assert body.round is None and not body.ids.checkpoints.children
    body = patrols(kiosk)
    kiosk.wait(lambda: body.mode == "round", "the open round again")
    assert ticks(body) == {"Gerbang depan": "10.00"}


@with_route
def test_a_round_opened_elsewhere_shows_and_the_language_toggle_redraws_it(kiosk):
    started = kiosk.server.api("POST", "/patrols", guard=True, json={"extra": True}).json()
    kiosk.server.api("POST", f"/patrols/{started['id']}/checkpoints", guard=True,
                     json={"payload": "GK1:CP:gudang"})
    body = patrols(kiosk)
    kiosk.wait(lambda: body.mode == "round", "the open round")
    assert ticks(body) == {"Gudang logistik": "10.00"}
    kiosk.press("EN")
    kiosk.wait(lambda: "Round #1 · Extra patrol · started 10:00" in kiosk.texts(),
               "the round in English")
    assert "1 of 3 checkpoints scanned" in kiosk.texts() and "not yet" in kiosk.texts()
    assert not [w for w in kiosk.widgets() if isinstance(w, PatrolStartButton)]


def test_a_long_list_of_missed_checkpoints_is_cut_short():
    # A route may have 50 checkpoints: the question and the note must still fit.
    catalog = Catalog.load()
    spots = [{"name": f"Titik {n}"} for n in range(1, 9)]
    assert names(spots[:4], catalog.text) == "Titik 1, Titik 2, Titik 3, Titik 4"
    assert names(spots, lambda key, **params: catalog.text("id", key, **params)) == \
        "Titik 1, Titik 2, Titik 3, Titik 4 dan 4 titik lainnya"


def test_the_screenshot_scenes_fit(kiosk):
    # The default route of four checkpoints, which the scenes scan.
    assert check_scenes(kiosk, SCENES, "guard_patrols") == {}
