"""The simulator's hardware panel, beside the kiosk in ``kiosk sim``'s window.

It is the far side of the simulated devices, driven the way people drive the real ones:
lamps show what the relays and the buzzer are doing, a slider is the forehead in front of
the thermometer, a big button is the panic button (press, hold, press again), and a few
cards can be held up to the camera. It talks to the core's ``/api/v1/sim`` routes, which
exist only on simulated hardware, and shows codes on the simulated camera the kiosk reads.

The cards: an invitation made for today when the panel starts, the returning-guest pass
of the last registration (as if the guest had photographed it), the badges of guests on
site (for check-out), and a code that is not the kiosk's at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, DictProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.ui.widgets import RoundButton

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # quick enough to see the buzzer's beeps and a relay switching
HOLD_SECONDS = 6.0  # a card is held up this long, then lowered again
FOREIGN_CODE = "https://wa.me/6281234567890"  # a QR people do hold up: not the kiosk's


class Lamp(Widget):
    """A lamp: lit in its colour when ``on``, grey when off."""

    on = BooleanProperty(False)
    color = ListProperty([1, 0.8, 0.2, 1])


class RelayRow(BoxLayout):
    name = StringProperty("")
    on = BooleanProperty(False)


class Card(RoundButton):
    """A code to hold up to the camera."""

    payload = StringProperty("")


class SimPanel(BoxLayout):
    """The panel; ``guard_pin`` is the simulator's guard, used to make today's invitation.

    Args:
        core_url: ``http://HOST:PORT`` of the core (a simulated one).
        camera: The simulated camera the kiosk reads (``show(payload)``).
        guard_pin: A guard's PIN on the simulated post.
    """

    relays = DictProperty({})
    buzzer = BooleanProperty(False)
    sounding = BooleanProperty(False)
    pressed = BooleanProperty(False)
    last_sms = StringProperty("")
    showing = StringProperty("")  # the card on the camera now
    cards = ListProperty([])

    def __init__(self, *, core_url: str, camera: Any, guard_pin: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.camera = camera
        self._pin = guard_pin
        self._http = httpx.Client(base_url=core_url.rstrip("/") + "/api/v1", timeout=3)
        self._stop = threading.Event()
        self._lower = None
        self._invitation: str | None = None
        self._pass: str | None = None
        self._slider_set = False
        self._poller = threading.Thread(target=self._poll, name="sim-panel", daemon=True)
        self._poller.start()
        Clock.schedule_once(self._follow_done_screen, 0)

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)  # it may be half-way through a request
        self._http.close()

    # -- the core's side, off the UI thread --------------------------------------------------

    def _poll(self) -> None:
        slow = 0
        while not self._stop.wait(POLL_SECONDS):
            try:
                state = self._http.get("/sim/state").json()
                if slow % 8 == 0:  # the cards change rarely: every two seconds is plenty
                    self._refresh_cards()
                slow += 1
            except (httpx.HTTPError, ValueError):
                continue
            Clock.schedule_once(lambda _dt, s=state: self._show_state(s), 0)

    def _refresh_cards(self) -> None:
        if self._invitation is None:
            self._invitation = self._make_invitation()
        visits = self._http.get("/visits", params={"on_site": "true"}).json().get("visits", [])
        badges = [v["badge"] for v in visits if v.get("badge")][:3]
        Clock.schedule_once(lambda _dt: self._set_cards(badges), 0)

    def _make_invitation(self) -> str | None:
        try:
            token = self._http.post("/guard/login", json={"pin": self._pin}).json()["token"]
            today = self._http.get("/health").json().get("now", "")[:10]
            auth = {"Authorization": f"Bearer {token}"}
            answer = self._http.post("/invitations", headers=auth,
                                     json={"name": "Siti Aminah", "host": "Sekretaris",
                                           "institution": "Bawaslu Kabupaten Subang",
                                           "purpose": "Rapat koordinasi", "valid_on": today})
            # Logged out at once: a login counts the guard as on duty (the roll call).
            self._http.post("/guard/logout", headers=auth)
            return answer.json()["qr_payload"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("simulator: no invitation card (%s)", exc)
            return None

    def send(self, path: str, body: dict) -> None:
        """POST to the core's simulator routes without holding the UI up."""
        def post() -> None:
            try:
                self._http.post(path, json=body)
            except httpx.HTTPError as exc:
                log.warning("simulator: %s failed: %s", path, exc)
        threading.Thread(target=post, daemon=True).start()

    # -- on the UI thread --------------------------------------------------------------------

    def _show_state(self, state: dict) -> None:
        self.relays = dict(state.get("relays") or {})
        self.buzzer = bool(state.get("buzzer"))
        self.sounding = state.get("buzzer_pattern") is not None
        self.pressed = bool(state.get("button_pressed"))
        celsius = state.get("temperature_c")
        if celsius is not None and not self._slider_set:
            self.ids.slider.value = celsius  # start where the simulated forehead is
            self._slider_set = True
        sms = state.get("sms") or []
        self.last_sms = f"{sms[-1]['number']}: {sms[-1]['text']}" if sms else ""

    def _set_cards(self, badges: list[str]) -> None:
        app = App.get_running_app()
        text = app.text if app else (lambda key, **_: key)
        cards = [(text("sim.card_none"), "")]
        if self._invitation:
            cards.append((text("sim.card_invitation"), self._invitation))
        if self._pass:
            cards.append((text("sim.card_pass"), self._pass))
        cards += [(text("sim.card_badge", badge=b), f"GK1:BADGE:{b}") for b in badges]
        cards.append((text("sim.card_foreign"), FOREIGN_CODE))
        if cards != self.cards:
            self.cards = cards

    def on_relays(self, _instance, relays: dict) -> None:
        box = self.ids.relays
        rows = {row.name: row for row in box.children}
        if set(rows) != set(relays):
            box.clear_widgets()
            rows = {}
            for name in sorted(relays):
                rows[name] = RelayRow(name=name)
                box.add_widget(rows[name])
        for name, on in relays.items():
            rows[name].on = on

    def slider_released(self, slider, touch) -> None:
        if touch.grab_current is slider or slider.collide_point(*touch.pos):
            self.set_temperature(slider.value)

    def on_cards(self, _instance, cards: list) -> None:
        box = self.ids.cards
        box.clear_widgets()
        for label, payload in cards:
            card = Card(text=label, payload=payload)
            card.bind(on_release=lambda c: self.hold_up(c.payload))
            box.add_widget(card)

    def hold_up(self, payload: str) -> None:
        """Show ``payload`` to the camera for a few seconds ("" lowers the card)."""
        self.camera.show(payload or None)
        self.showing = payload
        if self._lower is not None:
            self._lower.cancel()
        if payload:
            self._lower = Clock.schedule_once(lambda _dt: self.hold_up(""), HOLD_SECONDS)

    def set_temperature(self, celsius: float) -> None:
        self.send("/sim/temperature", {"celsius": round(celsius, 1)})

    def button(self, action: str) -> None:
        self.send("/sim/button", {"action": action})

    def _follow_done_screen(self, _dt) -> None:
        """Keep the last registration's pass, as the guest keeps the photo of it."""
        app = App.get_running_app()
        if app is None or app.sm is None or "done" not in app.sm.screen_names:
            return
        app.screen("done").bind(pass_payload=lambda _s, p: self._remember_pass(p))

    def _remember_pass(self, payload: str) -> None:
        if payload:
            self._pass = payload


def panel_factory(*, core_url: str, camera: Any, guard_pin: str) -> Callable[[], SimPanel]:
    """What :class:`kiosk.ui.app.KioskApp` calls to build the panel once its kv is loaded."""
    from kivy.lang import Builder

    from kiosk.ui.app import KV_DIR

    def build() -> SimPanel:
        path = str(KV_DIR / "simpanel.kv")
        if path not in Builder.files:
            Builder.load_file(path)
        return SimPanel(core_url=core_url, camera=camera, guard_pin=guard_pin)
    return build
