"""Details: one question at a time, with big keys, then a page to check everything.

Eight short steps (name, institution or origin, phone, purpose, the person to visit,
number of people, identity document, its number) instead of one long form: at 800x480 a
keyboard leaves room for one field, and a guest who has never used a kiosk does better
with one clear question than with a page of boxes. Every step says what is wrong beside
the field, in the current language, and the review page shows each field with its
problem, if any; tapping a field there goes back to that question.
"""

from __future__ import annotations

from kivy.core.window import Window
from kivy.factory import Factory
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui import forms
from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import RoundButton, apply_key

STEPS = ("name", "institution", "phone", "purpose", "host", "party_size", "id_type",
         "id_number")
PANEL = {"host": "host", "party_size": "count", "id_type": "choice"}  # the rest: "text"
CAPITALS = {"name": "words", "institution": "words", "host": "words", "purpose": "first"}
LIMITS = {"name": 80, "institution": 100, "phone": 20, "purpose": 200, "host": 80,
          "id_number": 30}
MAX_HOSTS = 12  # results shown; typing narrows them


class ReviewRow(ButtonBehavior, BoxLayout):
    """One field on the review page; tap to change it."""

    field = StringProperty("")
    value = StringProperty("")
    error = StringProperty("")  # locale key of our own check's message
    core_en = StringProperty("")  # the core's message, when it refused the field
    core_id = StringProperty("")


class HostChoice(RoundButton):
    """A staff member to pick in the search results."""

    host = StringProperty("")
    unit = StringProperty("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.markup = bool(self.unit)  # markup only for the two-line staff entries


class DetailsScreen(KioskScreen):
    step = NumericProperty(0)
    field = StringProperty("name")
    value = StringProperty("")
    error = StringProperty("")  # locale key of the problem with the current field
    keyboard_mode = StringProperty("alpha")
    shift = BooleanProperty(True)
    keyboard_shown = BooleanProperty(True)
    party_size = NumericProperty(1)
    id_type = StringProperty("")
    from_review = BooleanProperty(False)
    reviewing = BooleanProperty(False)
    problems = DictProperty({})
    staff: list[tuple[str, str]] = []  # the core's directory once asked; else the config's
    core_problems = DictProperty({})  # field -> (English, Indonesian) from the core's 422
    id_types = ListProperty([])
    fields = STEPS

    def on_kv_post(self, base_widget) -> None:
        self._host_choices: dict[tuple[str, str], HostChoice] = {}
        self.id_types = list(self.app.settings.visits.id_types)
        for id_type in self.id_types:
            button = Factory.ChoiceButton()
            button.value = id_type
            button.bind(on_release=lambda b: self.choose_id_type(b.value))
            self.ids.id_types.add_widget(button)
        Window.bind(on_textinput=self._typed, on_key_down=self._key_down)

    def release(self) -> None:
        Window.unbind(on_textinput=self._typed, on_key_down=self._key_down)

    @property
    def draft(self) -> forms.VisitDraft:
        return self.app.draft

    # -- navigation --------------------------------------------------------------------------

    def reset(self) -> None:
        self.from_review = self.reviewing = False
        self.problems = {}
        self.core_problems = {}
        self.value = self.error = ""
        self.party_size, self.id_type = 1, ""
        self.step = 0
        self.field = STEPS[0]

    def begin(self) -> None:
        """Start at the first question (or the first one an invitation left open)."""
        self.reset()
        # hq may have sent a newer staff directory since the kiosk started.
        self.app.background.submit(self.app.client.staff, done=self._got_staff,
                                   failed=lambda _exc: None)
        problems = forms.check_all(self.draft, tuple(self.id_types))
        if self.draft.name and not problems:
            self.open_review()
        elif self.draft.name:
            self.from_review = False
            self.show_step(min(STEPS.index(f) for f in problems))
        else:
            self.show_step(0)

    def show_step(self, index: int) -> None:
        self.reviewing = False
        self.step = index
        self.field = field = STEPS[index]
        self.error = ""
        self.party_size = self.draft.party_size
        self.id_type = self.draft.id_type
        self.value = str(getattr(self.draft, field)) if field in LIMITS else ""
        if field == "phone":
            self.keyboard_mode = "phone"
        elif field == "id_number":
            self.keyboard_mode = "numeric" if forms.numeric_id(self.draft.id_type) else "alpha"
        else:
            self.keyboard_mode = "alpha"
        self._auto_shift()
        self.keyboard_shown = field != "host"
        self.ids.panels.current = PANEL.get(field, "text")
        if field == "host":
            self._search()

    def open_review(self) -> None:
        self.reviewing = True
        self.from_review = True
        self.problems = forms.check_all(self.draft, tuple(self.id_types))
        self._fill_review()
        self.ids.panels.current = "review"

    def back(self) -> None:
        if self.reviewing:
            self.show_step(len(STEPS) - 1)  # Next comes straight back here
        elif self.from_review:
            self.open_review()
        elif self.step == 0:
            self.app.ask_cancel()
        else:
            self.show_step(self.step - 1)

    def next(self) -> None:
        problem = self._check(self.field)
        if problem:
            self.error = problem
            return
        if self.from_review or self.step == len(STEPS) - 1:
            self.open_review()
        else:
            self.show_step(self.step + 1)

    def edit(self, field: str) -> None:
        self.core_problems.pop(field, None)
        self.show_step(STEPS.index(field))

    def core_problem(self, field: str, error) -> None:
        """The core refused ``field`` (its 422): flag it on the review page in its words."""
        def first_up(text: str) -> str:
            return text[:1].upper() + text[1:]

        self.core_problems[field] = (first_up(error.detail), first_up(error.detail_id))
        self.open_review()

    def confirm(self) -> None:
        """From the review page on to the temperature, if everything is in order."""
        self.problems = forms.check_all(self.draft, tuple(self.id_types))
        self._fill_review()
        if not self.problems and not self.core_problems:
            self.app.after_details()

    # -- typing ------------------------------------------------------------------------------

    def on_key(self, code: str) -> None:
        if code in ("shift", "symbols", "alpha"):
            return
        if code == "hide":
            self.keyboard_shown = False
            return
        self.value = apply_key(self.value, code, self.shift, LIMITS.get(self.field, 200))
        self._store()
        self._auto_shift()

    def _auto_shift(self) -> None:
        rule = CAPITALS.get(self.field)
        if self.keyboard_mode != "alpha" or rule is None:
            self.shift = False
        elif rule == "words":
            self.shift = not self.value or self.value.endswith(" ")
        else:
            self.shift = not self.value

    def _store(self) -> None:
        if self.field in LIMITS:
            setattr(self.draft, self.field, self.value)
        if self.error:  # say at once when a problem is fixed
            self.error = self._check(self.field) or ""
        if self.field == "host":
            self._search()

    def _typed(self, _window, text: str) -> None:
        """A physical keyboard (a guard helping) types into the current field too."""
        if self.manager is None or self.manager.current != self.name or self.reviewing:
            return
        if self.field in LIMITS and self.keyboard_shown or self.field == "host":
            for char in text:
                if char.isprintable():
                    self.value = apply_key(self.value, "space" if char == " " else char,
                                           False, LIMITS.get(self.field, 200))
            self._store()

    def _key_down(self, _window, key: int, *_args) -> bool:
        if self.manager is None or self.manager.current != self.name or self.reviewing:
            return False
        if key == 8 and self.field in LIMITS:  # backspace
            self.on_key("backspace")
            return True
        if key == 13:  # enter
            self.next()
            return True
        return False

    # -- the other panels --------------------------------------------------------------------

    def _got_staff(self, staff: list[tuple[str, str]]) -> None:
        if staff:
            self.staff = staff

    def _search(self) -> None:
        staff = self.staff or [(s.name, s.unit) for s in self.app.settings.visits.staff]
        found = forms.search_staff(staff, self.value)[:MAX_HOSTS]
        grid = self.ids.host_results
        grid.clear_widgets()
        for name, unit in found:
            # Made once and reused: each search keystroke only re-arranges them.
            choice = self._host_choices.get((name, unit))
            if choice is None:
                choice = self._host_choices[(name, unit)] = HostChoice(
                    host=name, unit=unit, on_release=self._chose_host)
            grid.add_widget(choice)
        typed = " ".join(self.value.split())
        if typed and all(name.lower() != typed.lower() for name, _ in found):
            grid.add_widget(HostChoice(host=typed, unit="", on_release=self._chose_host))

    def _chose_host(self, button: HostChoice) -> None:
        self.value = self.draft.host = button.host
        self.next()

    def show_keyboard(self) -> None:
        self.keyboard_shown = True

    def change_party(self, delta: int) -> None:
        self.party_size = max(1, min(forms.MAX_PARTY, self.party_size + delta))
        self.draft.party_size = self.party_size

    def choose_id_type(self, id_type: str) -> None:
        if id_type != self.draft.id_type and self.draft.id_number:
            # A number typed for another document rarely fits this one: check it again.
            self.problems.pop("id_number", None)
        self.id_type = self.draft.id_type = id_type
        self.next()

    def _check(self, field: str) -> str | None:
        draft = self.draft
        checks = {
            "name": lambda: forms.check_name(draft.name),
            "institution": lambda: forms.check_institution(draft.institution),
            "phone": lambda: forms.check_phone(draft.phone),
            "purpose": lambda: forms.check_purpose(draft.purpose),
            "host": lambda: forms.check_host(draft.host),
            "party_size": lambda: forms.check_party_size(draft.party_size),
            "id_type": lambda: forms.check_id_type(draft.id_type, tuple(self.id_types)),
            "id_number": lambda: forms.check_id_number(draft.id_number, draft.id_type),
        }
        return checks[field]()

    def _fill_review(self) -> None:
        draft = self.draft
        grid = self.ids.review_rows
        grid.clear_widgets()
        shown = {
            "name": draft.name, "institution": draft.institution, "phone": draft.phone,
            "purpose": draft.purpose, "host": draft.host,
            "party_size": str(draft.party_size),
            "id_type": draft.id_type,
            "id_number": forms.mask_id(draft.id_number),
        }
        for field in STEPS:
            core_en, core_id = self.core_problems.get(field, ("", ""))
            row = ReviewRow(field=field, value=shown[field],
                            error=self.problems.get(field, ""), core_en=core_en, core_id=core_id)
            row.bind(on_release=lambda r: self.edit(r.field))
            grid.add_widget(row)
