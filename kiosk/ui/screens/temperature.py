"""Temperature: where to hold the forehead, then the core measures (``POST /temperature``).

The measurement takes a few seconds (the core samples until the readings are steady), so
it runs on a worker thread while a bar moves. Too high: the guest is kindly asked to
finish and wait; the visit is still registered and the core holds it for the guard. No
sensor (503): the guard measures by hand, logs in with the PIN and types the value; the
visit then says ``temperature_source: "manual"`` and carries the guard's token.
"""

from __future__ import annotations

from kivy.properties import NumericProperty, OptionProperty, StringProperty

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import GuardDialog

MANUAL_RANGE = (34.0, 43.0)  # °C a hand-held thermometer can plausibly show on a forehead


class TemperatureScreen(KioskScreen):
    state = OptionProperty("ready", options=("ready", "measuring", "ok", "high", "unavailable",
                                             "manual"))
    celsius = NumericProperty(0.0)
    threshold = NumericProperty(37.5)
    problem = StringProperty("temp.unavailable")
    _dialog: GuardDialog | None = None

    def reset(self) -> None:
        self.state = "ready"
        self.celsius = 0.0
        self.threshold = self.app.settings.thermometer.threshold_c
        if self._dialog is not None:
            self._dialog.dismiss(animation=False)
            self._dialog = None

    def on_pre_enter(self, *_args) -> None:
        draft = self.app.draft
        if draft.temperature_c is None:
            self.reset()

    def measure(self) -> None:
        if self.state == "measuring":
            return
        self.state = "measuring"
        self.app.call(self.app.client.measure_temperature, done=self._measured,
                      failed=self._failed)

    def _measured(self, body: dict) -> None:
        draft = self.app.draft
        self.celsius = float(body["celsius"])
        self.threshold = float(body.get("threshold_c", self.threshold))
        draft.temperature_c = self.celsius
        draft.temperature_source = "sensor"
        draft.temperature_ok = bool(body.get("ok", self.celsius < self.threshold))
        draft.guard_token = None
        self.state = "ok" if draft.temperature_ok else "high"

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, ApiError) and exc.status == 503:
            self.problem = ("temp.unsteady" if "steady" in exc.detail else "temp.unavailable")
            self.state = "unavailable"
        elif isinstance(exc, CoreUnreachable):
            self.state = "ready"
        else:
            self.problem = "temp.failed"
            self.state = "unavailable"

    # -- the guard measures by hand ----------------------------------------------------------

    def manual(self) -> None:
        self._dialog = self.app.guard_dialog(
            title="temp.guard_title", message="temp.guard_pin", on_login=self._logged_in)

    def _logged_in(self, login: dict) -> None:
        dialog = self._dialog
        if dialog is None:
            return
        self.app.draft.guard_token = login.get("token")
        dialog.mode = "celsius"
        dialog.value = ""
        dialog.title = self.app.text("temp.guard_title")
        dialog.message = self.app.text("temp.guard_value", name=login.get("name", ""))
        dialog.submit = self._manual_value

    def _manual_value(self, text: str) -> None:
        try:
            value = round(float(text.replace(",", ".")), 1)
        except ValueError:
            value = 0.0
        low, high = MANUAL_RANGE
        if not low <= value <= high:
            self._dialog.fail("temp.manual_range", low=low, high=high)
            return
        draft = self.app.draft
        draft.temperature_c = self.celsius = value
        draft.temperature_source = "manual"
        draft.temperature_ok = value < self.threshold
        self._dialog.dismiss(animation=False)
        self._dialog = None
        self.state = "manual"
