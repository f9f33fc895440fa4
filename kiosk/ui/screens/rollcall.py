"""Evacuation roll call: everyone on site, ticked off by the guard at the assembly point.

While a fire or evacuation alarm is active the app switches here by itself (the core reports
a roll call at ``GET /api/v1/rollcall``) and back to Welcome when it ends; a half-filled
registration is dropped, since everyone is leaving the building. The lobby can read the
list, so guests appear as the badge they hold and the name as the core shortens it for the
public. Ticking someone off is a guard's act: the first tap asks for the PIN, and the login
is kept only until the roll call ends.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import RoundButton


class PersonRow(RoundButton):
    """One person on the roll call; ``checked`` once the guard saw them at the assembly point."""

    kind = StringProperty("guest")
    ref = StringProperty("")
    words = StringProperty("")
    checked = BooleanProperty(False)


def describe(person: dict, text) -> str:
    """The row's words: badge, short name and host for a guest, name for a guard."""
    if person.get("kind") == "guard":
        return text("rollcall.guard", name=person.get("name") or "")
    party = int(person.get("party_size") or 1)
    name = str(person.get("name") or "")
    if party > 1:
        name += text("rollcall.party", count=party)
    return text("rollcall.guest", badge=person.get("badge") or "", name=name,
                host=person.get("host") or "")


class RollcallScreen(KioskScreen):
    idle_limit = 0  # an evacuation never times out to Welcome
    code = StringProperty("")
    checked = NumericProperty(0)
    total = NumericProperty(0)
    status = StringProperty("")  # locale key of the last problem, if any
    busy = BooleanProperty(False)
    _token: str | None = None
    _people: tuple = ()

    def reset(self) -> None:
        self._token = None
        self.status, self.busy = "", False

    def show(self, call: dict) -> None:
        """Draw the roll call as the core has it; called on every poll while it runs."""
        self.code = str(call.get("code") or "")
        self.checked = int(call.get("checked") or 0)
        self.total = int(call.get("total") or 0)
        people = tuple((p.get("kind"), str(p.get("id")), bool(p.get("checked")),
                        describe(p, self.app.text)) for p in call.get("people", ()))
        if people == self._people:
            return  # unchanged: keep the list (and where it is scrolled to) as it is
        self._people = people
        rows = self.ids.people
        rows.clear_widgets()
        for kind, ref, checked, words in people:
            row = PersonRow(kind=kind or "guest", ref=ref, checked=checked, words=words)
            row.bind(on_release=self._tapped)
            rows.add_widget(row)

    def relabel(self) -> None:
        """The language changed: the rows are built in code, so build them again."""
        self._people = ()

    def _tapped(self, row: PersonRow) -> None:
        if row.checked or self.busy:
            return
        if self._token is None:
            self.app.guard_dialog(title="rollcall.pin_title", message="rollcall.pin_message",
                                  on_login=lambda login: self._logged_in(login, row))
            return
        self._check(row)

    def _logged_in(self, login: dict, row: PersonRow) -> None:
        self._token = login.get("token")
        self.app.close_dialogs()
        self._check(row)

    def _check(self, row: PersonRow) -> None:
        self.busy, self.status = True, ""
        self.app.call(self.app.client.rollcall_check, row.kind, row.ref, token=self._token,
                      done=lambda _person: self._checked(row), failed=self._failed)

    def _checked(self, row: PersonRow) -> None:
        self.busy = False
        if not row.checked:
            row.checked = True
            self.checked += 1
        self.app.poll_rollcall()

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        if isinstance(exc, CoreUnreachable):
            return
        if isinstance(exc, ApiError) and exc.status == 401:
            self._token = None  # the login ran out: the next tap asks again
            self.status = "rollcall.login_again"
        else:
            self.status = "rollcall.failed"
