"""Alarms (SOP 14-15): one large button per alarm code, raised by holding it.

Holding for two seconds, not tapping, is the confirmation: a guard in a hurry does not
have to read a dialog, and a sleeve brushing the screen raises nothing. The all-clear is
one of the codes (it ends every active alarm). Below, the active alarms with each SMS's
delivery (queued, sent, failed) and the guard's acknowledge and clear.
"""

from __future__ import annotations

from kivy.factory import Factory
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock


class AlarmsBody(GuardBody, BoxLayout):
    pass


class AlarmsScreen(GuardScreen):
    body = "AlarmsBody"
    title_key = "nav.alarms"
    refresh_seconds = 3.0  # SMS delivery changes while the screen shows
    _codes: list = []

    def refresh(self) -> None:
        if not self._codes:
            self.api("GET", "/alarms/codes", done=self._got_codes)
        self.api("GET", "/alarms/active", done=self._got_active)

    def _label(self, item: dict) -> str:
        return item.get("label_id" if self.app.lang == "id" else "label_en") or item["code"]

    def _got_codes(self, body: dict) -> None:
        self._codes = body.get("codes", [])
        box = self.content.ids.codes
        box.clear_widgets()
        for item in self._codes:
            button = Factory.AlarmButton(style="good" if item.get("clears") else "alarm")
            button.code = item["code"]
            button.bind(on_hold=lambda b: self.raise_alarm(b.code))
            box.add_widget(button)
        self.relabel()

    def relabel(self) -> None:
        labels = {item["code"]: self._label(item) for item in self._codes}
        for button in self.content.ids.codes.children:
            button.text = labels.get(button.code, button.code)
        self.api("GET", "/alarms/active", done=self._got_active)

    def raise_alarm(self, code: str) -> None:
        self.api("POST", "/alarms", json={"code": code}, done=lambda _b: self.refresh())

    def _got_active(self, body: dict) -> None:
        text = self.app.text
        box = self.content.ids.active
        box.clear_widgets()
        alarms = body.get("alarms", [])
        if not alarms:
            box.add_widget(Factory.TextRow(text=text("alarms.none")))
        for alarm in alarms:
            row = Factory.ActionRow()
            sms = alarm.get("sms", [])
            sent = sum(s.get("status") == "sent" for s in sms)
            failed = sum(s.get("status") == "failed" for s in sms)
            row.ids.words.text = text(
                "alarms.active" if sms else "alarms.active_no_sms", label=self._label(alarm),
                at=clock(alarm.get("raised_at"), self.app.lang), by=alarm.get("raised_by") or "",
                state=text(f"alarms.state_{alarm['state']}"), sent=sent, total=len(sms),
                failed=failed)
            if alarm.get("state") == "raised":
                row.add_widget(self._button(text("alarms.ack"), "secondary",
                                            f"/alarms/{alarm['id']}/ack"))
            row.add_widget(self._button(text("alarms.clear"), "primary",
                                        f"/alarms/{alarm['id']}/clear"))
            box.add_widget(row)

    def _button(self, label: str, style: str, path: str):
        button = Factory.SmallButton(text=label, style=style)
        button.bind(on_release=lambda _b: self.api("POST", path, done=lambda _x: self.refresh()))
        return button
