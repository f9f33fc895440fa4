"""The simulator's hardware panel beside the kiosk, in a real window, against a real core.

The panel is the far side of the simulated devices: what a tester does on it must reach
the core's devices (the thermometer's bus, the panic button's pin, the camera the kiosk
reads), and what the core does to its relays and buzzer must show on its lamps.
"""

from __future__ import annotations

import time

import pytest
from kivy.tests.common import UnitTestTouch

from drivers.sim.camera import QRCamera
from kiosk.ui import SIM_PANEL_WIDTH as PANEL_WIDTH
from kiosk.ui.app import KioskApp
from kiosk.ui.client import CoreClient
from kiosk.ui.scanner import Scanner
from kiosk.ui.simpanel import panel_factory

from .harness import GUARD_PIN, Kiosk

WINDOW_SIZES = ("1100x480",)


@pytest.fixture
def sim(core_server):
    settings = core_server.post.settings
    camera = QRCamera(None)
    scanner = Scanner(camera, close_camera=False)
    client = CoreClient(core_server.url)
    app = KioskApp(settings, client=client, scanner=scanner, health_seconds=0.5,
                   panel=panel_factory(core_url=core_server.url, camera=camera,
                                       guard_pin=GUARD_PIN),
                   panel_width=PANEL_WIDTH)
    kiosk = Kiosk(app, camera, core_server)
    kiosk.start()
    yield kiosk
    kiosk.close()
    scanner.close()
    camera.close()
    client.close()


def touch(kiosk, widget, hold=0.0):
    """A finger on a panel widget (the harness's own taps are for the kiosk's screens)."""
    x, y = widget.to_window(*widget.center)
    finger = UnitTestTouch(x, y)
    finger.touch_down()
    end = time.monotonic() + hold
    kiosk.pump(1)
    while time.monotonic() < end:
        kiosk.pump(1)
    finger.touch_up()
    kiosk.pump(2)


def test_the_kiosk_keeps_its_design_size_beside_the_panel(sim):
    panel = sim.app.panel
    assert sim.app.u == pytest.approx(1.0)
    assert panel.width == pytest.approx(PANEL_WIDTH) and sim.app.sm.width == pytest.approx(800)
    assert panel.x >= sim.app.sm.right - 1  # beside the kiosk, not over it


def test_lamps_follow_the_relays_and_the_buzzer(sim):
    panel = sim.app.panel
    sim.wait(lambda: set(panel.relays) == {"lights", "gate_lock"}, "the relay lamps")
    assert panel.relays == {"lights": False, "gate_lock": False}  # 10.00: day time
    response = sim.server.api("POST", "/relays/lights/override", guard=True,
                              json={"on": True, "minutes": 30, "reason": "test lamp"})
    assert response.status_code == 200, response.text
    sim.wait(lambda: panel.relays.get("lights") is True, "the lights lamp to light")
    rows = {row.name: row for row in panel.ids.relays.children}
    assert rows["lights"].on and not rows["gate_lock"].on
    sim.wait(lambda: not panel.sounding, "a silent buzzer")
    sim.server.api("POST", "/alarms", json={"code": "fire"}, guard=True)
    sim.wait(lambda: panel.sounding, "the buzzer indicator")


def test_the_slider_is_the_forehead_at_the_thermometer(sim):
    slider = sim.app.panel.ids.slider
    bus = sim.server.post.core.hw.sim.thermometer_bus
    sim.pump(3)
    # Touch the slider three quarters along: 34 + 0.75 * 6 = 38.5 °C, give or take a step.
    x = slider.x + slider.padding + 0.75 * (slider.width - 2 * slider.padding)
    finger = UnitTestTouch(*slider.to_window(x, slider.center_y))
    finger.touch_down()
    finger.touch_up()
    sim.wait(lambda: abs(bus.object_c - 38.5) < 0.15, "the new forehead temperature")
    reading = sim.server.api("POST", "/temperature").json()
    assert reading["ok"] is False and abs(reading["celsius"] - 38.5) < 0.3


def test_holding_the_panic_button_raises_the_crime_alarm(sim):
    panel = sim.app.panel
    touch(sim, panel.ids.panic, hold=1.2)  # the test config holds for 0.5 s
    sim.wait(lambda: sim.server.post.core.alarms.active(), "the alarm")
    assert [a.code for a in sim.server.post.core.alarms.active()] == ["crime"]


def test_a_card_held_up_to_the_camera_is_read_by_the_kiosk(sim):
    panel = sim.app.panel
    sim.wait(lambda: any("undangan" in label.lower() for label, _ in panel.cards),
             "today's invitation card")
    sim.press("Saya punya undangan")
    sim.wait_screen("scan")
    card = next(c for c in panel.ids.cards.children if "undangan" in c.text.lower())
    touch(sim, card)
    sim.wait_screen("details")
    assert sim.app.draft.name == "Siti Aminah" and sim.app.draft.host == "Sekretaris"
    sim.wait(lambda: panel.showing == "", "the card to be lowered", timeout=10)
