"""Done: the badge number, the identity-card exchange, then waiting for the host.

Under the badge, the guest's pass for a next visit: a QR the guest photographs and shows
to the camera next time, so the form comes back filled in (no identity number in it).

The screen polls ``GET /api/v1/visits?on_site=true`` every few seconds for this visit's
status until the guard admits or denies it. ``held`` (a watchlist match or a high
temperature) looks exactly like ``awaiting_host``: the guest must not be able to tell.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty

from kiosk.ui.screens import KioskScreen

POLL_SECONDS = 3.0
FINISHED_SECONDS = 20.0  # the answer stays this long, then Welcome for the next guest
WAITING = ("awaiting_host", "held")


class DoneScreen(KioskScreen):
    badge = StringProperty("")
    pass_payload = StringProperty("")  # the returning-guest pass: scanned next time
    visit_id = StringProperty("")
    status = StringProperty("awaiting_host")
    party_size = NumericProperty(1)
    _poll = None
    _home = None
    _asking = False

    def reset(self) -> None:
        self._stop()
        self.badge = self.visit_id = self.pass_payload = ""
        self.status = "awaiting_host"

    def show(self, visit: dict, party_size: int = 1) -> None:
        self._stop()
        self.visit_id = str(visit.get("id", ""))
        self.badge = str(visit.get("badge") or "")
        self.pass_payload = str(visit.get("pass_payload") or "")
        self.status = visit.get("status") or "awaiting_host"
        self.party_size = party_size

    def on_enter(self, *_args) -> None:
        if self.status in WAITING:
            self._poll = Clock.schedule_interval(self._ask, POLL_SECONDS)
        else:
            self._finished()

    def on_leave(self, *_args) -> None:
        self._stop()

    def _stop(self) -> None:
        for event in (self._poll, self._home):
            if event is not None:
                event.cancel()
        self._poll = self._home = None
        self._asking = False

    def _ask(self, _dt) -> None:
        if self._asking or not self.visit_id:
            return
        self._asking = True
        self.app.call(self.app.client.on_site, done=self._answer, failed=self._no_answer)

    def _no_answer(self, _exc: Exception) -> None:
        self._asking = False

    def _answer(self, visits: list[dict]) -> None:
        self._asking = False
        found = next((v for v in visits if str(v.get("id")) == self.visit_id), None)
        status = found.get("status") if found else "gone"
        if status in WAITING or status == self.status:
            return
        self.status = status if status in ("admitted", "denied") else "gone"
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self._finished()

    def _finished(self) -> None:
        if self._home is None:
            self._home = Clock.schedule_once(lambda dt: self.app.reset(), FINISHED_SECONDS)
