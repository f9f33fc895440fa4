"""Check-out: scan the badge's QR, or pick your name from the guests on site.

Names on this public list come shortened by the core (``Budi S. W.``) and are shown with
the badge number the guest holds; nothing else about them. Checking out frees the badge and
records the time (``POST /api/v1/visits/{id}/checkout`` or ``/badges/{badge}/checkout``).
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens.scan import CameraScreen, refusal
from kiosk.ui.widgets import RoundButton

REFRESH_SECONDS = 10.0
THANKS_SECONDS = 10.0


class GuestChoice(RoundButton):
    """One guest on site: shortened name and badge."""

    visit_id = StringProperty("")
    badge = StringProperty("")
    short_name = StringProperty("")
    host = StringProperty("")


def visit_of(body: dict) -> dict:
    """The visit inside a code's answer, however the core nests it."""
    inner = body.get("visit")
    merged = dict(inner) if isinstance(inner, dict) else {}
    for key in ("badge", "name", "host"):
        if body.get(key) and not merged.get(key):
            merged[key] = body[key]
    if not merged.get("id"):
        merged["id"] = body.get("visit_id") or (body.get("id") if not inner else None)
    return merged


class CheckoutScreen(CameraScreen):
    status = StringProperty("")  # locale key
    core_en = StringProperty("")  # the core's reason, for "checkout.refused"
    core_id = StringProperty("")
    warn = BooleanProperty(False)
    busy = BooleanProperty(False)
    finished = BooleanProperty(False)
    loading = BooleanProperty(False)
    empty = BooleanProperty(False)
    _refresh = None
    _home = None

    def reset(self) -> None:
        self.status, self.warn, self.busy, self.finished = "", False, False, False
        self.core_en = self.core_id = ""
        self.empty = False
        if self._home is not None:
            self._home.cancel()
            self._home = None
        self.ids.guests.clear_widgets()

    def on_pre_enter(self, *args) -> None:
        self.reset()
        super().on_pre_enter(*args)
        self._load()
        self._refresh = Clock.schedule_interval(lambda dt: self._load(), REFRESH_SECONDS)

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None

    def _load(self) -> None:
        if self.loading or self.finished:
            return
        self.loading = True
        self.app.call(self.app.client.on_site, done=self._listed, failed=self._not_listed)

    def _not_listed(self, _exc: Exception) -> None:
        self.loading = False

    def _listed(self, visits: list[dict]) -> None:
        self.loading = False
        grid = self.ids.guests
        grid.clear_widgets()
        for visit in sorted(visits, key=lambda v: str(v.get("badge") or "")):
            if visit.get("checked_out_at") or visit.get("status") in ("denied", "checked_out"):
                continue
            choice = GuestChoice(visit_id=str(visit.get("id", "")),
                                 badge=str(visit.get("badge") or ""),
                                 short_name=str(visit.get("name") or ""),
                                 host=str(visit.get("host") or ""))
            choice.bind(on_release=self._picked)
            grid.add_widget(choice)
        self.empty = not grid.children

    # -- the two ways to say who is leaving --------------------------------------------------

    def on_code(self, payload: str, source: str) -> bool:
        if self.busy or self.finished:
            return True
        self.busy, self.warn, self.status = True, False, "scan.checking"
        self.app.call(self.app.client.resolve_code, payload, done=self.confirm_code,
                      failed=self._failed)
        return True

    def confirm_code(self, body: dict) -> None:
        self.busy = False
        if body.get("kind") != "badge":
            self.warn, self.status = True, "checkout.not_badge"
            return
        visit = visit_of(body)
        self.status = ""
        self._confirm(visit.get("id"), str(visit.get("badge") or ""),
                      str(visit.get("name") or ""))

    def _picked(self, choice: GuestChoice) -> None:
        self._confirm(choice.visit_id, choice.badge, choice.short_name)

    def _confirm(self, visit_id, badge: str, short_name: str) -> None:
        who = f"{short_name} · {badge}" if short_name else badge
        self.app.confirm(title="checkout.confirm_title", message="checkout.confirm_message",
                         yes="checkout.confirm_yes", no="common.cancel", params={"who": who},
                         on_yes=lambda: self._check_out(visit_id, badge))

    def _check_out(self, visit_id, badge: str) -> None:
        self.busy, self.warn, self.status = True, False, ""
        if visit_id:
            self.app.call(self.app.client.checkout, visit_id, done=self._done,
                          failed=self._failed)
        else:
            self.app.call(self.app.client.checkout_badge, badge, done=self._done,
                          failed=self._failed)

    def _done(self, _body: dict) -> None:
        self.busy = False
        self.finished = True
        self._home = Clock.schedule_once(lambda dt: self.app.reset(), THANKS_SECONDS)

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        if isinstance(exc, CoreUnreachable):
            return
        self.warn = True
        if isinstance(exc, ApiError) and exc.status in (400, 404, 409, 422):
            # Not a badge of this post, already checked out at 10.15, ...: the core's words.
            self.core_en, self.core_id = refusal(exc)
            self.status = "checkout.refused"
        else:
            self.status = "checkout.failed"
        self._load()
