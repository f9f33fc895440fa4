"""The shift handover (SOP 19): what is still open, then the incoming guard's PIN.

The summary is the core's (``GET /handover/summary``): incidents still open (alarms,
alerts, SOP runs), guests on site, things lent and packages waiting, tasks not done,
relay overrides in force. Each part with something in it gets a card, the empty ones
share one "nothing" line, and a part the core could not read is named in warning colour
rather than silently missing: the incoming guard must know what was not checked.

"Serah terima" opens the number pad for the *incoming* guard's PIN, typed by them on this
screen, so nobody records a handover to a colleague who was not there. The core answers a
wrong PIN with a 422 on ``incoming_pin`` (said in the pad, the outgoing guard stays logged
in), and a success with a token for the incoming guard: the panel goes on as them, and the
outgoing guard's session is over. An optional note goes with the record.
"""

from __future__ import annotations

import datetime as dt
import math

from kivy.app import App
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock, localized
from kiosk.ui.widgets import GuardDialog

# The summary's parts in the order the incoming guard reads them (kiosk/handover.py).
SECTIONS = ("alarms", "alerts", "sop_runs", "guests", "items_lent", "vehicles_lent",
            "vehicles_inside", "packages", "tasks", "overrides")
NOTE_LIMIT = 500


def alarm_label(code: str, lang: str) -> str:
    """The alarm's name from the post's config (``Kebakaran``), not its code (``fire``)."""
    spec = App.get_running_app().settings.alarms.get(code)
    if spec is None:
        return code
    return (spec.label_en if lang == "en" else spec.label_id) or code


def describe(section: str, item: dict, text, lang: str, today: dt.date | None = None) -> str:
    """One line for an open item of the summary, in the guard's language.

    Times are the hour alone when they are ``today`` and carry the date otherwise: a
    package waiting since yesterday must not read as this morning's.
    """
    def at(stamp: str | None, _lang: str) -> str:
        return clock(stamp, lang, today)

    if section == "alarms":
        return text("handover.alarm", code=alarm_label(item.get("code", ""), lang),
                    at=at(item.get("raised_at"), lang), by=item.get("raised_by") or "")
    if section == "alerts":
        return text("handover.alert", at=at(item.get("created_at"), lang),
                    words=item.get("text", ""))
    if section == "sop_runs":
        current = item.get("current") or {}
        name = item.get("title") or localized(item, lang, "sop_title")
        key = "handover.sop_run_overdue" if item.get("overdue") else "handover.sop_run"
        return text(key, id=item.get("id", ""), name=name, step=localized(current, lang),
                    actor=current.get("actor", ""))
    if section == "guests":
        return text("handover.guest", badge=item.get("badge") or "", name=item.get("name") or "",
                    host=item.get("host") or "", at=at(item.get("created_at"), lang))
    if section in ("items_lent", "vehicles_lent"):
        asset = item.get("asset", "")
        if item.get("description"):
            asset = f"{asset} ({item['description']})"
        return text("handover.loan_overdue" if item.get("overdue") else "handover.loan",
                    asset=asset, borrower=item.get("borrower", ""), unit=item.get("unit", ""),
                    at=at(item.get("lent_at"), lang))
    if section == "vehicles_inside":
        return text("handover.vehicle", plate=item.get("plate", ""),
                    driver=item.get("driver", ""), at=at(item.get("in_at"), lang))
    if section == "packages":
        key = "handover.letter" if item.get("kind") == "letter" else "handover.package"
        return text(key, sender=item.get("sender", ""), addressee=item.get("addressee", ""),
                    at=at(item.get("received_at"), lang))
    if section == "tasks":
        return text("handover.task", at=at(item.get("due_at"), lang),
                    title=localized(item, lang))
    if section == "overrides":
        relay = item.get("relay", "")
        return text("handover.override_on" if item.get("on") else "handover.override_off",
                    relay=text(f"handover.relay_{relay}", _default=relay),
                    reason=item.get("reason") or "", by=item.get("by") or "")
    return str(item)


class HandoverLine(Label):
    """One open item in a card of the summary."""


class HandoverBody(GuardBody, BoxLayout):
    """The summary page and the note page; the screen fills them."""

    page = StringProperty("summary")
    busy = BooleanProperty(False)
    note = StringProperty("")
    recorded = StringProperty("")  # what was recorded, after a handover
    heading = StringProperty("")  # the summary's time, and the last handover
    nothing = StringProperty("")  # the parts with nothing open
    unavailable = StringProperty("")  # the parts the core could not read

    def on_kv_post(self, base_widget) -> None:
        self.ids.pages.current = self.page

    def on_page(self, _instance, page: str) -> None:
        if "pages" in self.ids:
            self.ids.pages.current = page


class HandoverScreen(GuardScreen):
    body = "HandoverBody"
    title_key = "nav.handover"
    refresh_seconds = 30.0
    _summary: dict | None = None
    _last: dict | None = None
    _record: dict | None = None

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        self.bind(busy=self.content.setter("busy"))
        panel = self.content.ids.typing
        panel.bind(on_submit=lambda _panel, words: self._noted(words),
                   on_back=lambda _panel: setattr(self.content, "page", "summary"))

    def reset(self) -> None:
        super().reset()
        self._summary = self._last = self._record = None
        if getattr(self, "content", None) is not None:
            self.content.page = "summary"
            self.content.note = self.content.recorded = ""

    def on_pre_enter(self, *args) -> None:
        self.content.page = "summary"
        super().on_pre_enter(*args)

    def refresh(self) -> None:
        if self.content.page != "summary":
            return
        self.api("GET", "/handover/summary", done=self._got_summary)
        self.api("GET", "/handover", params={"limit": 1}, done=self._got_history)

    def relabel(self) -> None:
        self._draw()

    def _got_summary(self, summary: dict) -> None:
        self._summary = summary
        self._draw()

    def _got_history(self, body: dict) -> None:
        found = body.get("handovers") or []
        self._last = found[0] if found else None
        self._draw()

    # -- drawing -----------------------------------------------------------------------------

    def _draw(self) -> None:
        text, lang, body = self.app.text, self.app.lang, self.content
        body.recorded = self._recorded_words() if self._record else ""
        summary = self._summary or {}
        heading = text("handover.summary_at", at=clock(summary.get("at"), lang)) \
            if summary else ""
        if self._last:
            heading += text("handover.last", at=clock(self._last.get("at"), lang),
                            outgoing=self._last["outgoing"]["name"],
                            incoming=self._last["incoming"]["name"])
        body.heading = heading
        cards = body.ids.sections
        cards.clear_widgets()
        if not summary:
            body.nothing = body.unavailable = ""
            return
        sections = summary.get("sections", {})
        today = dt.datetime.fromisoformat(summary["at"]).date() if summary.get("at") else None
        empty = []
        for name in SECTIONS:
            items = sections.get(name)
            if items is None:
                continue
            title = text(f"handover.section_{name}", _default=name)
            if not items:
                empty.append(title.lower() if lang == "id" else title)
                continue
            card = Factory.GuardCard(title=text("handover.section_count", title=title,
                                                count=len(items)))
            for item in items:
                card.add_widget(HandoverLine(text=describe(name, item, text, lang, today)))
            cards.add_widget(card)
        body.nothing = text("handover.nothing", sections=", ".join(empty)) if empty else ""
        missing = [text(f"handover.section_{name}", _default=name)
                   for name in summary.get("unavailable", {})]
        body.unavailable = text("handover.unavailable", sections=", ".join(missing)) \
            if missing else ""

    def _recorded_words(self) -> str:
        record, text, lang = self._record, self.app.text, self.app.lang
        words = text("handover.recorded", id=record.get("id", ""), at=clock(record.get("at"),
                                                                            lang),
                     outgoing=record["outgoing"]["name"], incoming=record["incoming"]["name"])
        checkin = record.get("checkin")
        if checkin:
            words += " " + text("handover.checked_in", name=checkin.get("guard", ""),
                                shift=checkin.get("shift", ""))
        return words

    # -- the note ----------------------------------------------------------------------------

    def edit_note(self) -> None:
        self.content.ids.typing.begin(question=self.app.text("handover.note_question"),
                                      placeholder=self.app.text("handover.note_placeholder"),
                                      action=self.app.text("handover.note_keep"),
                                      limit=NOTE_LIMIT, value=self.content.note)
        self.content.page = "typing"

    def _noted(self, words: str) -> None:
        self.content.note = words
        self.content.page = "summary"

    # -- handing over ------------------------------------------------------------------------

    def hand_over(self) -> None:
        """"Serah terima": the incoming guard types their PIN on the pad."""
        if any(isinstance(child, GuardDialog) for child in Window.children):
            return
        self.problem = ""
        outgoing = (self.app.guard or {}).get("name", "")
        dialog = GuardDialog(mode="pin", title=self.app.text("handover.pin_title"),
                             message=self.app.text("handover.pin_message", name=outgoing))
        dialog.submit = lambda pin: self._send(dialog, pin)
        dialog.open(animation=False)

    def _send(self, dialog: GuardDialog, pin: str) -> None:
        dialog.busy = True
        self.app.call(self.app.client.request, "POST", "/handover", token=self.token,
                      json={"incoming_pin": pin, "note": self.content.note},
                      done=lambda record: self._handed_over(dialog, record),
                      failed=lambda exc: self._refused(dialog, exc))

    def _refused(self, dialog: GuardDialog, exc: Exception) -> None:
        if isinstance(exc, ApiError) and exc.status == 422 and exc.field == "incoming_pin":
            dialog.fail("")
            dialog.error = exc.message(self.app.lang)  # wrong PIN, or the outgoing one's own
        elif isinstance(exc, ApiError) and exc.status == 429:
            dialog.fail("guard.locked", minutes=math.ceil((exc.retry_after or 60) / 60))
        elif isinstance(exc, CoreUnreachable):
            dialog.fail("guard.no_core")
        else:  # the outgoing session ran out (401), or the note was refused
            dialog.dismiss(animation=False)
            self.show_problem(exc)

    def _handed_over(self, dialog: GuardDialog, record: dict) -> None:
        dialog.dismiss(animation=False)
        self.app.guard = {"token": record["token"], "name": record["incoming"]["name"],
                          "role": record.get("role", "guard")}
        self._record = record
        self.content.note = ""
        self._draw()
        self.refresh()

