"""Consent: what is stored, for how long and why (UU 27/2022), then register the visit.

Agreeing submits ``POST /api/v1/visits`` (the core stamps the consent time) and moves on
to Done with the badge. Without consent the guest is sent, kindly, to the guard.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens import KioskScreen


class ConsentScreen(KioskScreen):
    busy = BooleanProperty(False)
    error = StringProperty("")  # locale key
    detail = StringProperty("")  # the core's own words, for the guard

    def reset(self) -> None:
        self.busy, self.error, self.detail = False, "", ""

    def on_pre_enter(self, *_args) -> None:
        self.reset()
        self.ids.notice_scroll.scroll_y = 1

    def agree(self) -> None:
        if self.busy:
            return
        draft = self.app.draft
        draft.consent = True
        self.busy, self.error, self.detail = True, "", ""
        self.app.call(self.app.client.create_visit, draft.payload(), token=draft.guard_token,
                      done=self._registered, failed=self._failed)

    def primary(self) -> None:
        """The big button: agree, or after a problem, the way to fix it."""
        if self.error == "consent.invalid":
            self.app.go("details")
            self.app.screen("details").open_review()
        elif self.error in ("consent.guard_expired", "consent.remeasure_needed"):
            self.app.go("temperature")
        else:
            self.agree()

    def decline(self) -> None:
        self.app.confirm(title="consent.decline_title", message="consent.decline_message",
                         yes="consent.decline_yes", no="consent.decline_no",
                         on_yes=self.app.reset)

    def _registered(self, visit: dict) -> None:
        self.busy = False
        self.app.registered(visit)

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        draft = self.app.draft
        draft.consent = False
        if isinstance(exc, CoreUnreachable):
            return
        status = exc.status if isinstance(exc, ApiError) else 0
        field = exc.field if isinstance(exc, ApiError) else None
        self.detail = exc.message(self.app.lang) if isinstance(exc, ApiError) else str(exc)
        details = self.app.screen("details")
        if status == 422 and field in details.fields:
            details.core_problem(field, exc)
            self.error = "consent.invalid"
        elif status in (401, 403) or (status == 422 and field and field.startswith("temp")):
            # The guard's session for a hand measurement ran out, or the reading was refused:
            # measure again.
            draft.temperature_c = draft.temperature_source = draft.guard_token = None
            expired = status in (401, 403)
            self.error = "consent.guard_expired" if expired else "consent.remeasure_needed"
        elif status == 409:
            self.error = "consent.no_badge"
        else:
            self.error = "consent.failed"
