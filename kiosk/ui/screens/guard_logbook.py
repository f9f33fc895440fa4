"""Buku Kejadian/Mutasi (SOP 2): write an entry, browse and search, correct by a new entry.

The book is append-only in the core (and hash-chained), so there is no edit: a mistake is
corrected by a new entry that names the one it corrects, as a guard would write a line
below in the paper book. Typing is on the on-screen keyboard.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import NumericProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock
from kiosk.ui.widgets import apply_key

CATEGORIES = ("umum", "kejadian", "tamu", "barang", "kendaraan", "patroli")
LIMIT = 50  # entries shown; search narrows them
TEXT_LIMIT = 1000


class LogbookBody(GuardBody, BoxLayout):
    pass


class LogbookScreen(GuardScreen):
    body = "LogbookBody"
    title_key = "nav.logbook"
    mode = OptionProperty("browse", options=("browse", "search", "write"))
    value = StringProperty("")  # the entry being written
    query = StringProperty("")
    category = StringProperty(CATEGORIES[0])
    corrects = NumericProperty(0)  # the entry a new one corrects, 0 for none
    _search = None

    def reset(self) -> None:
        super().reset()
        self.mode, self.value, self.query, self.corrects = "browse", "", "", 0

    def refresh(self) -> None:
        params = {"limit": LIMIT}
        if self.query.strip():
            params["q"] = self.query.strip()
        self.api("GET", "/logbook", params=params, done=self._listed)

    def _listed(self, body: dict) -> None:
        box = self.content.ids.entries
        box.clear_widgets()
        entries = body.get("entries", [])
        if not entries:
            box.add_widget(Factory.TextRow(text=self.app.text("logbook.empty")))
        for entry in entries:
            row = Factory.EntryRow()
            row.entry_id = int(entry.get("id", 0))
            corrects = entry.get("corrects")
            row.text = self.app.text(
                "logbook.entry_correction" if corrects else "logbook.entry",
                at=clock(entry.get("ts"), self.app.lang, self.app._now().date()),
                category=entry.get("category", ""), actor=entry.get("actor", ""),
                text=entry.get("text", ""), corrects=corrects or "")
            row.bind(on_release=lambda r: self.start_correction(r.entry_id))
            box.add_widget(row)

    # -- writing -----------------------------------------------------------------------------

    def start_writing(self) -> None:
        self.mode, self.value, self.corrects = "write", "", 0

    def start_correction(self, entry_id: int) -> None:
        self.mode, self.value, self.corrects = "write", "", entry_id

    def start_search(self) -> None:
        self.mode = "search"

    def close_keyboard(self) -> None:
        self.mode = "browse"

    def on_key(self, code: str) -> None:
        if code in ("shift", "symbols", "alpha"):
            return
        if code == "hide":
            self.mode = "browse"
            return
        if self.mode == "search":
            self.query = apply_key(self.query, code, False, 100)
            if self._search is not None:
                self._search.cancel()
            self._search = Clock.schedule_once(lambda _dt: self.refresh(), 0.4)
        else:
            shift = not self.value or self.value.endswith((". ", "! ", "? "))
            self.value = apply_key(self.value, code, shift, TEXT_LIMIT)

    def save(self) -> None:
        text = " ".join(self.value.split())
        if not text:
            self.problem = self.app.text("logbook.write_something")
            return
        body = {"category": self.category, "text": text}
        if self.corrects:
            body["corrects"] = self.corrects
        self.api("POST", "/logbook", json=body, done=self._saved)

    def _saved(self, _entry: dict) -> None:
        self.mode, self.value, self.corrects = "browse", "", 0
        self.refresh()
