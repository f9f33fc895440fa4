"""The guard's registers: things lent out, vehicles at the gate, mail at the post (SOP 3-6).

Three tabs replace the three paper books. Each lists what is still open, because that is
what the guard acts on and what the next guard takes over: a loan is closed by recording
its return (with the condition it came back in), a guest's car by its leaving, an office
car's trip by its return, a letter or package by handing it to the archive or to its
addressee. A new entry is a short form typed on the on-screen keyboard: the post has no
physical keyboard, and a guard at the gate types a plate with one hand.

The form shows every field at once (two rows, tap one to type into it) rather than one
question per page as the guests' Details does: a guard fills the same few fields many
times a day and wants to see them all. Choices (the asset to lend, letter or package) are
buttons in place of the keyboard, so nothing that must match the config is typed. The
core checks every field and names the one at fault; its message shows in the form's
header, in the guard's language, and the field is marked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk.ui.client import ApiError
from kiosk.ui.screens.guard import GuardBody, GuardScreen, clock
from kiosk.ui.widgets import RoundButton, apply_key

TABS = ("loans", "vehicles", "mail")
# A form's fields in screen order: (name, typing rule, limit). "choice" fields are picked
# from buttons; "words" capitalises each word (names), "first" the first letter, "plate"
# every letter. The limits are the core's.
FORMS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "loan": (("asset", "choice", 0), ("borrower", "words", 80), ("unit", "words", 80),
             ("purpose", "first", 200)),
    "vehicle_in": (("plate", "plate", 15), ("driver", "words", 80), ("purpose", "first", 200)),
    "vehicle_out": (("plate", "plate", 15), ("driver", "words", 80),
                    ("purpose", "words", 200)),  # a destination: a place's name
    "mail": (("kind", "choice", 0), ("sender", "words", 100), ("addressee", "words", 80),
             ("description", "first", 200)),
    "deliver": (("taken_by", "words", 80),),
}
# What must be filled before the core is asked; the core checks the rest (a guest's car
# needs a driver and a purpose, an office car coming back does not).
REQUIRED = {"loan": ("asset", "borrower", "unit", "purpose"), "vehicle_in": ("plate",),
            "vehicle_out": ("plate",), "mail": ("kind", "sender", "addressee"),
            "deliver": ("taken_by",)}
# The core's name for a field -> the form's, where they differ.
CORE_FIELDS = {"loan": {"kind": "asset"}, "mail": {}, "deliver": {"to": "taken_by"}}
CONDITIONS = ("good", "minor", "major", "incomplete")
MAIL_KINDS = ("letter", "package")
REFRESH_SECONDS = 30.0


def text_width(text: str, font_size: float, bold: bool = True) -> float:
    """How wide ``text`` is drawn: a button sized by it keeps its whole label on one line.

    Measured apart from the button, because RoundButton wraps its text to its own width:
    a width taken from that texture would chase itself.
    """
    return CoreLabel(font_size=font_size, bold=bold).get_extents(text)[0]


def caption_key(form: str, name: str) -> str:
    """The locale key of a field's caption: an office car going out has a destination."""
    if (form, name) == ("vehicle_out", "purpose"):
        return "registers.field_destination"
    return f"registers.field_{name}"


def when(stamp: str | None, now: str | None, lang: str) -> str:
    """The time of ``stamp``, with its date (``21-11 09.15``) when it is not ``now``'s day."""
    today = dt.date.fromisoformat(now[:10]) if now else None
    return clock(stamp, lang, today, missing="-")


class RegisterRow(BoxLayout):
    """One open entry of a register: what it is, the details, and its buttons."""

    title = StringProperty("")
    detail = StringProperty("")
    warn = BooleanProperty(False)  # overdue: the detail says so, in the warning colour


class RegisterButton(RoundButton):
    """A button of a row or of the tabs' bar; ``ref`` is the entry it acts on."""

    ref = ObjectProperty(None, allownone=True)


class RegisterField(ButtonBehavior, BoxLayout):
    """A field of the form: its caption above, the typed value (or the choice) below."""

    name = StringProperty("")
    caption = StringProperty("")
    value = StringProperty("")
    shown = StringProperty("")  # a choice's words; typed fields show ``value``
    placeholder = StringProperty("")
    active = BooleanProperty(False)
    invalid = BooleanProperty(False)
    choice = BooleanProperty(False)


class RegisterChoice(RoundButton):
    """An asset to lend, or letter/package, in the form's list of choices."""

    value = StringProperty("")
    kind = StringProperty("")  # an asset's kind: "item" or "vehicle"


class RegisterDialog(ModalView):
    """A question answered by one of a few big buttons (the condition of a return)."""

    title = StringProperty("")
    message = StringProperty("")

    def add_choice(self, text: str, on_choice) -> RoundButton:
        button = Factory.RegisterDialogButton(text=text)
        button.bind(on_release=lambda _b: (self.dismiss(animation=False), on_choice()))
        self.ids.choices.add_widget(button)
        return button


class RegistersBody(GuardBody, BoxLayout):
    """The three registers' lists and the form for a new entry (see the module's docstring)."""

    tab = StringProperty("loans")
    counts = DictProperty({"loans": 0, "vehicles": 0, "mail": 0})
    form = StringProperty("")  # the open form's kind, "" for the lists
    form_title = StringProperty("")
    field = StringProperty("")  # the field typed into
    shift = BooleanProperty(True)
    choosing = BooleanProperty(False)  # the choices show in place of the keyboard
    choice_heading = StringProperty("")  # locale key
    hint = StringProperty("")  # locale key of our own message in the form's header
    core_en = StringProperty("")  # the core's refusal, in both languages
    core_id = StringProperty("")
    note = StringProperty("")  # locale key of the line over the list (what was just saved)
    note_params = DictProperty({})
    note_warn = BooleanProperty(False)
    empty = StringProperty("")  # locale key shown when the tab's list is empty
    loaded = BooleanProperty(False)
    has_assets = BooleanProperty(False)
    assets = ListProperty([])  # (kind, name, words, lent)
    saving = BooleanProperty(False)
    row_count = NumericProperty(0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data: dict[str, Any] = {}
        self.values: dict[str, str] = {}
        self.fields: dict[str, RegisterField] = {}
        self.context: dict[str, Any] = {}

    @property
    def app(self):
        return self.screen.app

    @property
    def lang(self) -> str:
        return self.app.lang

    # -- loading the lists -------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask the core for what is open; the lists are drawn once every answer is in."""
        self.screen.fetch({"outstanding": ("/registers/outstanding", None),
                           "vehicles": ("/registers/vehicles", {"inside": "true",
                                                                "away": "true"}),
                           "assets": ("/registers/assets", None),
                           "health": ("/health", None)},  # the core's clock: what "today" is
                          done=self._loaded)

    def _loaded(self, answers: dict[str, Any]) -> None:
        self.data = answers
        self.loaded = True
        self.render()

    def render(self, *_args) -> None:
        """Draw the current tab's rows from the last answers (again on a language change)."""
        if not self.data:
            return
        outstanding = self.data["outstanding"]
        loans = outstanding.get("items_lent", []) + outstanding.get("vehicles_lent", [])
        vehicles = self.data["vehicles"].get("vehicles", [])
        mail = outstanding.get("packages", [])
        self.counts = {"loans": len(loans), "vehicles": len(vehicles), "mail": len(mail)}
        found = self.data["assets"]
        self.assets = (
            [("item", a["name"], a["name"], bool(a.get("loan_id"))) for a in found["items"]]
            + [("vehicle", v["plate"], f"{v['plate']} · {v['description']}",
                bool(v.get("loan_id"))) for v in found["vehicles"]])
        self.has_assets = bool(self.assets)
        rows = self.ids.rows
        rows.clear_widgets()
        if self.tab == "loans":
            made = [self._loan_row(loan) for loan in loans]
            self.empty = "registers.empty_loans" if self.has_assets else "registers.no_assets"
        elif self.tab == "vehicles":
            made = [self._vehicle_row(vehicle) for vehicle in vehicles]
            self.empty = "registers.empty_vehicles"
        else:
            made = [self._mail_row(item) for item in mail]
            self.empty = "registers.empty_mail"
        for row in made:
            rows.add_widget(row)
        self.row_count = len(made)
        self._fill_actions()

    def _row(self, title: str, detail: str, actions: list[tuple[str, str, Any]],
             warn: bool = False) -> RegisterRow:
        row = RegisterRow(title=title, detail=detail, warn=warn)
        for key, style, on_press in actions:
            button = RegisterButton(text=self.app.text(key), style=style)
            button.bind(on_release=lambda _b, act=on_press: act())
            row.ids.actions.add_widget(button)
        return row

    def _now(self) -> str | None:
        return (self.data.get("health") or {}).get("now")

    def _loan_row(self, loan: dict) -> RegisterRow:
        lang = self.lang
        if loan.get("kind") == "vehicle" and loan.get("description"):
            title = self.app.text("registers.loan_vehicle_title", asset=loan["asset"],
                                  description=loan["description"], id=loan["id"])
        else:
            title = self.app.text("registers.loan_title", asset=loan["asset"], id=loan["id"])
        now = self._now()
        params = {"borrower": loan.get("borrower") or "", "unit": loan.get("unit") or "",
                  "since": when(loan.get("lent_at"), now, lang),
                  "due": when(loan.get("expected_back_at"), now, lang)}
        key = ("registers.loan_overdue" if loan.get("overdue") else "registers.loan_due"
               if loan.get("expected_back_at") else "registers.loan_detail")
        return self._row(title, self.app.text(key, **params),
                         [("registers.give_back", "primary", lambda: self.ask_return(loan))],
                         warn=bool(loan.get("overdue")))

    def _vehicle_row(self, vehicle: dict) -> RegisterRow:
        lang = self.lang
        params = {"driver": vehicle.get("driver") or "-", "purpose": vehicle.get("purpose") or "-"}
        if vehicle.get("office"):
            title = self.app.text("registers.vehicle_office_title", plate=vehicle["plate"],
                                  description=vehicle.get("description") or "")
            detail = self.app.text("registers.vehicle_away",
                                   since=when(vehicle.get("out_at"), self._now(), lang),
                                   **params)
            action = ("registers.vehicle_back", "primary",
                      lambda: self.close_vehicle(vehicle, "in"))
        else:
            title = vehicle["plate"]
            detail = self.app.text("registers.vehicle_inside",
                                   since=when(vehicle.get("in_at"), self._now(), lang),
                                   **params)
            action = ("registers.vehicle_left", "primary",
                      lambda: self.close_vehicle(vehicle, "out"))
        return self._row(title, detail, [action])

    def _mail_row(self, item: dict) -> RegisterRow:
        minutes = int(item.get("age_minutes") or 0)
        if minutes >= 60:
            age = self.app.text("registers.hours", h=minutes // 60, m=minutes % 60)
        else:
            age = self.app.text("registers.minutes", m=minutes)
        title = self.app.text(f"registers.mail_{item.get('kind')}", id=item["id"],
                              sender=item.get("sender") or "")
        detail = self.app.text("registers.mail_detail", addressee=item.get("addressee") or "",
                               age=age)
        return self._row(title, detail, [
            ("registers.to_archive", "secondary", lambda: self.open_deliver(item, "archive")),
            ("registers.to_recipient", "primary", lambda: self.open_deliver(item, "recipient")),
        ])

    def _fill_actions(self) -> None:
        """The tab's buttons for a new entry, beside its heading."""
        box = self.ids.actions
        box.clear_widgets()
        keys = {"loans": (("registers.new_loan", "loan"),),
                "vehicles": (("registers.new_vehicle_in", "vehicle_in"),
                             ("registers.new_vehicle_out", "vehicle_out")),
                "mail": (("registers.new_mail", "mail"),)}[self.tab]
        for key, form in keys:
            button = RegisterButton(text=self.app.text(key), ref=form)
            button.disabled = form == "loan" and not self.has_assets
            button.bind(on_release=lambda b: self.open_form(b.ref))
            box.add_widget(button)

    def show_tab(self, tab: str) -> None:
        self.tab = tab
        self.note = ""
        self.render()
        self.ids.scroll.scroll_y = 1

    def say(self, key: str, warn: bool = False, **params: Any) -> None:
        self.note_params = params
        self.note_warn = warn
        self.note = key

    # -- one-tap actions on the lists --------------------------------------------------------

    def ask_return(self, loan: dict) -> None:
        """The condition it came back in: one tap records the return."""
        text = self.app.text
        dialog = RegisterDialog(title=text("registers.return_title", asset=loan["asset"]),
                                message=text("registers.return_message",
                                             borrower=loan.get("borrower") or ""))
        for condition in CONDITIONS:
            key = f"registers.condition_{condition}"
            dialog.add_choice(text(key), lambda k=key: self.give_back(loan, k))
        dialog.open(animation=False)

    def give_back(self, loan: dict, condition_key: str) -> None:
        # Stored as the logbook reads it (Bahasa Indonesia), whatever the screen's language.
        condition = self.app.catalog.text("id", condition_key)

        def done(_body: Any) -> None:
            self.say("registers.saved_return", asset=loan["asset"],
                     condition=self.app.text(condition_key).lower())
            self.refresh()

        self.screen.api("POST", f"/registers/loans/{loan['id']}/return",
                        json={"condition": condition}, done=done)

    def close_vehicle(self, vehicle: dict, direction: str) -> None:
        """A guest's car leaves, or an office car is back: the entry closes."""
        def done(_body: Any) -> None:
            key = "registers.saved_out" if direction == "out" else "registers.saved_in"
            self.say(key, plate=vehicle["plate"])
            self.refresh()

        self.screen.api("POST", f"/registers/vehicles/{vehicle['id']}/{direction}", done=done,
                        failed=lambda _exc: self.refresh())

    # -- the form ----------------------------------------------------------------------------

    def open_form(self, kind: str, **context: Any) -> None:
        """Show the form for ``kind`` (see FORMS), empty, typing into its first field."""
        self.form = kind
        self.context = context
        self.values = {}
        self.hint = self.core_en = self.core_id = ""
        self.fields = {}
        rows = (self.ids.row1, self.ids.row2)
        for row in rows:
            row.clear_widgets()
        for index, (name, rule, _limit) in enumerate(FORMS[kind]):
            field = RegisterField(name=name, caption=self.app.text(caption_key(kind, name)),
                                  choice=rule == "choice")
            field.placeholder = self.app.text("registers.tap_to_pick") if field.choice else ""
            field.bind(on_release=lambda f: self.select(f.name))
            self.fields[name] = field
            rows[min(index // 2, 1)].add_widget(field)
        self.form_title = self._title()
        self.ids.panels.current = "form"
        first = FORMS[kind][0]
        self.select(first[0])

    def _title(self) -> str:
        if self.form == "deliver":
            item = self.context["item"]
            what = self.app.text(f"registers.mail_{item.get('kind')}", id=item["id"],
                                 sender=item.get("sender") or "")
            return self.app.text(f"registers.form_{self.context['to']}", what=what)
        return self.app.text(f"registers.form_{self.form}")

    def relabel(self) -> None:
        """The language changed: the rows and the open form's words follow."""
        Clock.schedule_once(self.render, 0)
        if not self.form:
            return
        self.form_title = self._title()
        for name, field in self.fields.items():
            field.caption = self.app.text(caption_key(self.form, name))
            if field.choice:
                field.placeholder = self.app.text("registers.tap_to_pick")
            if name == "kind" and field.value:
                field.shown = self.app.text(f"registers.kind_{field.value}")
        if self.choosing:
            self._show_choices(self.field)

    def open_deliver(self, item: dict, to: str) -> None:
        self.open_form("deliver", item=item, to=to)

    def close_form(self) -> None:
        """Back to the lists; what was typed is dropped."""
        self.form = ""
        self.values = {}
        self.fields = {}
        self.field = ""
        self.choosing = False
        self.hint = self.core_en = self.core_id = ""
        self.ids.row1.clear_widgets()
        self.ids.row2.clear_widgets()
        self.ids.panels.current = "list"

    def select(self, name: str) -> None:
        """Type into ``name``, or show its choices."""
        self.field = name
        for field in self.fields.values():
            field.active = field.name == name
        rule = self._rule(name)
        if rule == "choice":
            self._show_choices(name)
            return
        self.choosing = False
        self.ids.keyboard.mode = "alpha"
        self._auto_shift()

    def _rule(self, name: str) -> str:
        return next(rule for field, rule, _limit in FORMS[self.form] if field == name)

    def _limit(self, name: str) -> int:
        return next(limit for field, _rule, limit in FORMS[self.form] if field == name)

    def _show_choices(self, name: str) -> None:
        grid = self.ids.choices
        grid.clear_widgets()
        if name == "asset":
            self.choice_heading = ("registers.pick_asset" if self.has_assets
                                   else "registers.no_assets")
            for kind, value, words, lent in self.assets:
                button = RegisterChoice(value=value, kind=kind, disabled=lent,
                                        text=self.app.text("registers.asset_lent", name=words)
                                        if lent else words)
                button.bind(on_release=self._chosen)
                grid.add_widget(button)
        else:
            self.choice_heading = "registers.pick_kind"
            for kind in MAIL_KINDS:
                button = RegisterChoice(value=kind, text=self.app.text(f"registers.kind_{kind}"))
                button.bind(on_release=self._chosen)
                grid.add_widget(button)
        self.choosing = True

    def _chosen(self, button: RegisterChoice) -> None:
        name = self.field
        self.values[name] = button.value
        if name == "asset":
            self.context["asset_kind"] = button.kind
        field = self.fields[name]
        field.value = button.value
        field.shown = button.text
        field.invalid = False
        self._clear_hint()
        typed = [n for n, rule, _l in FORMS[self.form] if rule != "choice"]
        empty = [n for n in typed if not self.values.get(n)]
        if empty or typed:
            self.select((empty or typed)[0])

    def on_key(self, code: str) -> None:
        """A key of the on-screen keyboard (or a physical one) for the current field."""
        if not self.field or self._rule(self.field) == "choice":
            return
        if code == "shift":
            self.shift = self.ids.keyboard.shift  # the keyboard turned it; follow it
            return
        if code in ("symbols", "alpha"):
            self._auto_shift()
            return
        if code == "hide":
            return
        value = apply_key(self.values.get(self.field, ""), code, self.shift,
                          self._limit(self.field))
        self.values[self.field] = value
        field = self.fields[self.field]
        field.value = value
        if field.invalid and value.strip():
            field.invalid = False
            self._clear_hint()
        self._auto_shift()

    def _auto_shift(self) -> None:
        if not self.field or self.ids.keyboard.mode != "alpha":
            self.shift = False
            return
        value = self.values.get(self.field, "")
        rule = self._rule(self.field)
        if rule == "plate":
            self.shift = True
        elif rule == "words":
            self.shift = not value or value.endswith(" ")
        else:
            self.shift = not value

    def next_field(self) -> None:
        names = [n for n, _r, _l in FORMS[self.form]]
        if self.field in names:
            self.select(names[(names.index(self.field) + 1) % len(names)])

    def _clear_hint(self) -> None:
        if not any(f.invalid for f in self.fields.values()):
            self.hint = self.core_en = self.core_id = ""

    def save(self) -> None:
        """Check that the needed fields are filled, then send the entry to the core."""
        if self.saving or not self.form:
            return
        missing = [n for n in REQUIRED[self.form] if not self.values.get(n, "").strip()]
        for name, field in self.fields.items():
            field.invalid = name in missing
        if missing:
            self.core_en = self.core_id = ""
            self.hint = "registers.fill_in"
            self.select(missing[0])
            return
        method_path, body = self._request()
        self.saving = True
        self.screen.api("POST", method_path, json=body, done=self._saved, failed=self._refused)

    def _request(self) -> tuple[str, dict]:
        values = {k: " ".join(v.split()) for k, v in self.values.items()}
        form = self.form
        if form == "loan":
            return "/registers/loans", {
                "kind": self.context.get("asset_kind"), "asset": values["asset"],
                "borrower": values["borrower"], "unit": values["unit"],
                "purpose": values["purpose"]}
        if form in ("vehicle_in", "vehicle_out"):
            direction = form.split("_")[1]
            return f"/registers/vehicles/{direction}", {
                "plate": values["plate"], "driver": values.get("driver") or None,
                "purpose": values.get("purpose") or None}
        if form == "mail":
            return "/registers/mail", {
                "kind": values["kind"], "sender": values["sender"],
                "addressee": values["addressee"],
                "description": values.get("description") or None}
        item = self.context["item"]
        return f"/registers/mail/{item['id']}/deliver", {"to": self.context["to"],
                                                          "taken_by": values["taken_by"]}

    def _saved(self, body: dict) -> None:
        self.saving = False
        form, values = self.form, dict(self.values)
        if form == "loan":
            self.say("registers.saved_loan", asset=body.get("asset", values.get("asset")),
                     borrower=values.get("borrower", ""))
        elif form in ("vehicle_in", "vehicle_out"):
            self.say("registers.saved_in" if form == "vehicle_in" else "registers.saved_out",
                     plate=body.get("plate", ""))
        elif form == "mail":
            self.say(f"registers.saved_{body.get('kind')}", id=body.get("id"),
                     addressee=body.get("addressee", ""))
        else:
            self.say("registers.saved_delivered", taken_by=values.get("taken_by", ""))
        self.screen.problem = ""
        self.close_form()
        self.tab = {"loan": "loans", "mail": "mail", "deliver": "mail"}.get(form, "vehicles")
        self.refresh()

    def _refused(self, exc: Exception) -> None:
        self.saving = False
        if not isinstance(exc, ApiError) or exc.status not in (404, 409, 422):
            return  # the bar says what went wrong
        self.screen.problem = ""  # said in the form's header, beside the fields, instead
        field = CORE_FIELDS.get(self.form, {}).get(exc.field or "", exc.field or "")
        if field in self.fields:
            self.fields[field].invalid = True
            if self._rule(field) != "choice":
                self.select(field)
        self.hint = ""
        self.core_en, self.core_id = (text[:1].upper() + text[1:]
                                      for text in (exc.detail, exc.detail_id))

    def reset(self) -> None:
        """Forget everything typed and loaded (the guard logged out)."""
        if self.form:
            self.close_form()
        self.data = {}
        self.loaded = False
        self.tab = "loans"
        self.note = ""
        self.ids.rows.clear_widgets()
        self.ids.actions.clear_widgets()
        self.row_count = 0

    # -- a physical keyboard (a guard may plug one in) ---------------------------------------

    def typed(self, text: str) -> None:
        for char in text:
            if char.isprintable():
                self.on_key("space" if char == " " else char)

    def key_down(self, key: int) -> bool:
        if key == 8:
            self.on_key("backspace")
        elif key == 9:
            self.next_field()
        elif key == 13:
            self.save()
        else:
            return False
        return True


class RegistersScreen(GuardScreen):
    """The registers in the guard's panel; the body does the work (see :class:`RegistersBody`)."""

    body = "RegistersBody"
    title_key = "nav.registers"
    refresh_seconds = REFRESH_SECONDS

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        Window.bind(on_textinput=self._typed, on_key_down=self._key_down)

    def release(self) -> None:
        Window.unbind(on_textinput=self._typed, on_key_down=self._key_down)

    def relabel(self) -> None:
        # Rows and fields are made in Python from the core's answers: they are given their
        # words again (the kv rules follow the toggle by themselves).
        self.content.relabel()

    def refresh(self) -> None:
        self.content.refresh()

    def reset(self) -> None:
        super().reset()
        self.content.reset()

    def _showing_form(self) -> bool:
        return (self.manager is not None and self.manager.current == self.name
                and bool(self.content.form))

    def _typed(self, _window, text: str) -> None:
        if self._showing_form():
            self.content.typed(text)

    def _key_down(self, _window, key: int, *_args) -> bool:
        if not self._showing_form():
            return False
        return self.content.key_down(key)
