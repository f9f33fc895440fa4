"""The kiosk's own widgets: big buttons, the on-screen keyboard, fields, dialogs, pictures.

Their look is in ``kv/theme.kv``; this module holds behaviour. Guests never need a
physical keyboard: :class:`KeyBoard` types into a :class:`FieldBox`, which is a label, not
a ``TextInput``, so there is no cursor to place, no selection handles and no system
keyboard popping up on a touchscreen.
"""

from __future__ import annotations

from collections.abc import Callable

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.widget import Widget

from kiosk.ui import theme
from kiosk.ui.lang import tr

STYLES = {  # style -> (background, pressed, text); see theme.py
    "primary": (theme.PRIMARY, theme.PRIMARY_DOWN, theme.ON_BAR),
    "good": (theme.GOOD, theme.PRIMARY_DOWN, theme.ON_BAR),
    "secondary": (theme.SECONDARY, theme.SECONDARY_DOWN, theme.INK),
    "key": (theme.KEY, theme.KEY_DOWN, theme.INK),
    "quiet": (theme.BG, theme.SECONDARY, theme.INK),
    "bar": (theme.BAR, theme.PRIMARY, theme.ON_BAR),
    "selected": (theme.CARD, theme.KEY_DOWN, theme.BAR),
    "alarm": (theme.ALARM, theme.ALARM_DOWN, theme.ON_BAR),
}
SYMBOL_FONT = "DejaVuSans"  # has arrows and ⌫, which Roboto lacks


class RoundButton(ButtonBehavior, Label):
    """A big rounded button; ``style`` picks its colours."""

    style = OptionProperty("primary", options=tuple(STYLES))
    radius = NumericProperty(12)
    bg = ListProperty(theme.PRIMARY)
    outline = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for name in ("style", "state", "disabled"):
            self.fbind(name, self._paint)
        self._paint()

    def _paint(self, *_args) -> None:
        normal, down, ink = STYLES[self.style]
        if self.disabled:
            self.bg = list(theme.DISABLED)
        else:
            self.bg = list(down if self.state == "down" else normal)
        self.color = ink
        self.disabled_color = theme.MUTED
        self.outline = self.style in ("key", "quiet", "secondary", "selected")


class Logo(ButtonBehavior, Widget):
    """The post's emblem; held for ``hold_seconds`` it fires ``on_long_press`` (guard exit)."""

    hold_seconds = NumericProperty(3.0)
    __events__ = ("on_long_press",)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._timer = None

    def on_touch_down(self, touch):
        if self.collide_point(*touch.pos):
            self._cancel()
            self._timer = Clock.schedule_once(lambda dt: self.dispatch("on_long_press"),
                                              self.hold_seconds)
        return super().on_touch_down(touch)

    def on_touch_up(self, touch):
        self._cancel()
        return super().on_touch_up(touch)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_long_press(self) -> None:
        pass


class FieldBox(Label):
    """One line of typed text with a caret; the head is cut with "…" when it does not fit.

    Plain text, no markup: it is drawn again on every key, and a markup label costs several
    times more to render (noticeable on a Pi as keys that lag).
    """

    value = StringProperty("")
    placeholder = StringProperty("")
    active = BooleanProperty(True)
    invalid = BooleanProperty(False)
    group = BooleanProperty(False)  # show digits in fours (phone numbers, NIK): easier to check
    empty = BooleanProperty(True)  # showing the placeholder
    caret_x = NumericProperty(0)  # where the caret goes, from the text's left edge

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        trigger = Clock.create_trigger(self._render, 0)
        for name in ("group", "value", "placeholder", "size", "font_size", "font_name"):
            self.fbind(name, trigger)
        self._render()

    def _render(self, *_args) -> None:
        self.empty = not self.value
        if self.empty:
            self.text = self.placeholder
            self.caret_x = 0
            return
        room = max(10, self.width - self.padding[0] * 2 - self.font_size * 0.5)
        shown = group_digits(self.value) if self.group else self.value
        width = self._width(shown)
        if width > room:
            while shown and self._width("…" + shown) > room:
                shown = shown[1:]
            shown = "…" + shown
            width = self._width(shown)
        self.text = shown
        self.caret_x = width

    def _width(self, text: str) -> float:
        return CoreLabel(font_size=self.font_size, font_name=self.font_name).get_extents(text)[0]


def group_digits(text: str) -> str:
    """``081234567890`` -> ``0812 3456 7890``; a leading + stays with the first group."""
    compact = text.replace(" ", "")
    head = "+" if compact.startswith("+") else ""
    digits = compact[len(head):]
    return head + " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))


ALPHA_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
SYMBOL_ROWS = ("1234567890", "-/:;()&@'\"", ".,?!#+")


class Key(RoundButton):
    """One key of :class:`KeyBoard`; ``code`` is what it types or a command name."""

    code = StringProperty("")


class KeyBoard(BoxLayout):
    """Big keys for a touchscreen, docked under the field it types into.

    ``mode`` is ``"alpha"`` (letters; its ``123`` key switches to ``"symbols"``),
    ``"numeric"`` (digits) or ``"phone"`` (digits and +). Each press fires
    ``on_key(code)`` with the character, or ``"backspace"``, ``"space"``, ``"shift"``,
    ``"symbols"``, ``"alpha"``. ``shift`` types a capital; the screen sets it for the first
    letter of a word, as phone keyboards do.
    """

    mode = OptionProperty("alpha", options=("alpha", "symbols", "numeric", "phone"))
    shift = BooleanProperty(False)
    can_hide = BooleanProperty(False)  # a key that puts the keyboard away ("hide")
    __events__ = ("on_key",)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.orientation = "vertical"
        self._build_trigger = Clock.create_trigger(self._build, -1)
        self.fbind("mode", self._build_trigger)
        self.fbind("can_hide", self._build_trigger)
        self.fbind("shift", self._relabel)
        tr.fbind("_", lambda *_args: self._relabel())  # "spasi" / "space" follow the toggle
        self._build()

    def _row(self, keys: list[tuple[str, str, float, str]], margin: float = 0) -> BoxLayout:
        """A row of keys; ``margin`` is empty space at each end, in key widths."""
        row = BoxLayout(spacing=self.spacing)
        if margin:
            row.add_widget(Widget(size_hint_x=margin))
        for code, label, weight, style in keys:
            text = label.upper() if len(code) == 1 and code.isalpha() else label
            key = Key(code=code, text=text, size_hint_x=weight, style=style, disabled=not code)
            if label in ("⇧", "⌫"):
                key.font_name = SYMBOL_FONT
            key.bind(on_release=lambda k: self._press(k.code))
            row.add_widget(key)
        if margin:
            row.add_widget(Widget(size_hint_x=margin))
        return row

    def _build(self, *_args) -> None:
        # Everything is sized by weights, so a new size re-lays the keys out without
        # building them again (a rebuild redraws every key's label).
        self.clear_widgets()
        if self.mode == "alpha":
            self.add_widget(self._row([(c, c, 1, "key") for c in ALPHA_ROWS[0]]))
            self.add_widget(self._row([(c, c, 1, "key") for c in ALPHA_ROWS[1]], margin=0.5))
            self.add_widget(self._row([("shift", "⇧", 1.5, "secondary")]
                                      + [(c, c, 1, "key") for c in ALPHA_ROWS[2]]
                                      + [("backspace", "⌫", 1.5, "secondary")]))
            last = ("hide", "", 1.5, "secondary") if self.can_hide else ("-", "-", 1, "key")
            self.add_widget(self._row([("symbols", "123", 1.5, "secondary"), (",", ",", 1, "key"),
                                       ("space", "", 5, "key"), (".", ".", 1, "key"), last]))
        elif self.mode == "symbols":
            self.add_widget(self._row([(c, c, 1, "key") for c in SYMBOL_ROWS[0]]))
            self.add_widget(self._row([(c, c, 1, "key") for c in SYMBOL_ROWS[1]]))
            self.add_widget(self._row([(c, c, 1, "key") for c in SYMBOL_ROWS[2]]
                                      + [("backspace", "⌫", 1.5, "secondary")]))
            self.add_widget(self._row([("alpha", "ABC", 1.5, "secondary"),
                                       ("space", "", 5, "key")]))
        else:
            last = "+" if self.mode == "phone" else ""
            for row in ("123", "456", "789"):
                self.add_widget(self._row([(c, c, 1, "key") for c in row], margin=1))
            self.add_widget(self._row([(last, last, 1, "key" if last else "quiet"),
                                       ("0", "0", 1, "key"),
                                       ("backspace", "⌫", 1, "secondary")], margin=1))
        self._relabel()

    def _relabel(self, *_args) -> None:
        # Letters always show as capitals, like a physical keyboard: relabelling 26 keys on
        # every shift would redraw them all, which lags on a Pi. The shift key shows the state.
        for row in self.children:
            for key in row.children:
                if not isinstance(key, Key):
                    continue
                if key.code == "shift":
                    key.style = "primary" if self.shift else "secondary"
                elif key.code == "space":
                    key.text = tr._("keyboard.space")
                elif key.code == "hide":
                    key.text = tr._("keyboard.hide")

    def _press(self, code: str) -> None:
        if code in ("symbols", "alpha"):
            self.mode = code
        elif code == "shift":
            self.shift = not self.shift
        self.dispatch("on_key", code)

    def on_key(self, code: str) -> None:
        pass


def apply_key(value: str, code: str, shift: bool, limit: int = 200) -> str:
    """The field's text after ``code`` was pressed."""
    if code == "backspace":
        return value[:-1]
    if code == "space":
        return value + " " if value and not value.endswith(" ") and len(value) < limit else value
    if len(code) != 1 or len(value) >= limit:
        return value
    return value + (code.upper() if shift else code)


class BusyBar(Widget):
    """An indeterminate progress bar: a block sliding back and forth while ``active``."""

    active = BooleanProperty(False)
    phase = NumericProperty(0)

    def on_active(self, _instance, active: bool) -> None:
        Animation.cancel_all(self, "phase")
        if active:
            self.phase = 0
            anim = Animation(phase=1, duration=0.8) + Animation(phase=0, duration=0.8)
            anim.repeat = True
            anim.start(self)


class ForeheadPicture(Widget):
    """Where to hold the forehead: a head in profile, the sensor, and 3-5 cm between them."""

    label = StringProperty("3-5 cm")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._caption = Label(color=theme.INK, bold=True)
        self.add_widget(self._caption)
        trigger = Clock.create_trigger(self._draw, 0)
        self.fbind("size", trigger)
        self.fbind("pos", trigger)
        self.fbind("label", trigger)

    def _draw(self, *_args) -> None:
        w, h = self.size
        x0, y0 = self.pos
        s = min(w / 1.5, h * 0.8)  # the drawing's unit: it fills a box 1.5 s wide, s tall
        ox, oy = x0 + (w - 1.5 * s) / 2, y0 + (h - s) / 2
        self.canvas.before.clear()
        with self.canvas.before:
            Color(*theme.CARD)
            RoundedRectangle(pos=self.pos, size=self.size, radius=[12])
            # The head, facing right: skull, nose, neck and shoulders.
            Color(0.80, 0.62, 0.48, 1)
            Ellipse(pos=(ox + 0.18 * s, oy + 0.34 * s), size=(0.46 * s, 0.52 * s))
            Ellipse(pos=(ox + 0.58 * s, oy + 0.50 * s), size=(0.10 * s, 0.10 * s))
            Rectangle(pos=(ox + 0.33 * s, oy + 0.18 * s), size=(0.16 * s, 0.2 * s))
            RoundedRectangle(pos=(ox + 0.12 * s, oy + 0.04 * s), size=(0.58 * s, 0.18 * s),
                             radius=[0.08 * s])
            Color(0.22, 0.17, 0.14, 1)  # hair
            Ellipse(pos=(ox + 0.17 * s, oy + 0.62 * s), size=(0.44 * s, 0.26 * s),
                    angle_start=-90, angle_end=90)
            # The forehead spot the sensor reads.
            Color(*theme.SENSOR_RED[:3], 0.35)
            Ellipse(pos=(ox + 0.56 * s, oy + 0.66 * s), size=(0.08 * s, 0.08 * s))
            # The sensor on its post.
            Color(*theme.BAR)
            RoundedRectangle(pos=(ox + 1.12 * s, oy + 0.58 * s), size=(0.26 * s, 0.22 * s),
                             radius=[0.03 * s])
            Rectangle(pos=(ox + 1.22 * s, oy + 0.04 * s), size=(0.06 * s, 0.54 * s))
            Color(*theme.SENSOR_RED)
            Ellipse(pos=(ox + 1.09 * s, oy + 0.65 * s), size=(0.08 * s, 0.08 * s))
            # The gap, with arrowheads at both ends.
            Color(*theme.PRIMARY)
            ya = oy + 0.70 * s
            xa, xb = ox + 0.66 * s, ox + 1.07 * s
            width = max(1.5, s * 0.012)
            Line(points=[xa, ya, xb, ya], width=width)
            for tip, d in ((xa, 1), (xb, -1)):
                Line(points=[tip + d * 0.05 * s, ya + 0.035 * s, tip, ya,
                             tip + d * 0.05 * s, ya - 0.035 * s], width=width)
        self._caption.text = self.label
        self._caption.font_size = 0.11 * s
        self._caption.texture_update()
        self._caption.size = self._caption.texture_size
        self._caption.center = ((xa + xb) / 2, ya + 0.12 * s)


class CameraView(Image):
    """The live preview: BGR frames blitted into a texture, mirrored like a looking glass."""

    mirror = BooleanProperty(True)

    def show(self, frame) -> None:
        """Put a BGR ``uint8`` frame (HxWx3) on screen; call on the UI thread."""
        step = int(frame.shape[1] // max(1.0, self.width))
        if step > 1:  # a camera far sharper than the box: upload only what can be seen
            frame = frame[::step, ::step]
        height, width = frame.shape[:2]
        texture = self.texture
        if texture is None or texture.size != (width, height):
            texture = Texture.create(size=(width, height), colorfmt="rgb")
            texture.flip_vertical()  # camera rows run top-down, GL textures bottom-up
            if self.mirror:
                texture.flip_horizontal()
        texture.blit_buffer(frame.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        if self.texture is not texture:
            self.texture = texture
        self.canvas.ask_update()

    def clear(self) -> None:
        self.texture = None


class Collapsible(BoxLayout):
    """A part of a screen that folds away: no height, invisible, and deaf to touches.

    Folding by height alone is not enough in Kivy: the children keep their own sizes and
    would still catch taps meant for what is drawn over them (and ``disabled`` widgets
    swallow taps rather than pass them on).
    """

    shown = BooleanProperty(True)

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch):
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch):
        return super().on_touch_up(touch) if self.shown else False


class HoldButton(RoundButton):
    """A button that acts only when held for ``hold_seconds``: an alarm is not a slip.

    ``progress`` runs from 0 to 1 while the finger stays on it (the kv draws it as a bar
    filling the button); letting go early does nothing. ``on_hold`` fires once when full.
    """

    hold_seconds = NumericProperty(2.0)
    progress = NumericProperty(0.0)
    __events__ = ("on_hold",)
    _started = None
    _timer = None

    def on_press(self) -> None:
        self._started = Clock.get_time()
        self._timer = Clock.schedule_interval(self._grow, 1 / 30)

    def on_release(self) -> None:
        self._stop()

    def on_touch_up(self, touch):
        if touch.grab_current is self or self._timer is not None:
            self._stop()
        return super().on_touch_up(touch)

    def _grow(self, _dt) -> None:
        if self._started is None:
            return
        self.progress = min(1.0, (Clock.get_time() - self._started) / self.hold_seconds)
        if self.progress >= 1.0:
            self._stop()
            self.dispatch("on_hold")

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._started = None
        self.progress = 0.0

    def on_hold(self) -> None:
        pass


class QRCode(Image):
    """A QR code drawn crisp at any size: one texel per module, scaled without smoothing.

    Guests photograph it with their phone, so it is rendered from the payload here rather
    than shipped as a picture; an empty ``payload`` shows nothing.
    """

    payload = StringProperty("")

    def on_payload(self, _instance, payload: str) -> None:
        if not payload:
            self.texture = None
            return
        import numpy as np
        import segno

        code = segno.make(payload, error="m", micro=False)
        dark = np.array(list(code.matrix_iter(scale=1, border=2)), dtype=bool)
        # Four texels per module keeps every row 4-byte aligned for the GL upload.
        pixels = np.where(np.kron(dark, np.ones((4, 4), dtype=bool)), 0, 255).astype(np.uint8)
        height, width = pixels.shape
        texture = Texture.create(size=(width, height), colorfmt="luminance")
        texture.mag_filter = texture.min_filter = "nearest"
        texture.blit_buffer(pixels[::-1].tobytes(), colorfmt="luminance", bufferfmt="ubyte")
        self.texture = texture


class GuardDialog(ModalView):
    """A number pad for the guard: the PIN (shown as dots), or a measured temperature.

    ``submit(value)`` is called with what was typed when OK is pressed; the caller shows
    the outcome with :meth:`fail` or closes the dialog.
    """

    mode = OptionProperty("pin", options=("pin", "celsius"))
    title = StringProperty("")
    message = StringProperty("")
    error = StringProperty("")
    value = StringProperty("")
    busy = BooleanProperty(False)
    submit = ObjectProperty(None, allownone=True)

    def press(self, code: str) -> None:
        if self.busy:
            return
        self.error = ""
        if code == "backspace":
            self.value = self.value[:-1]
        elif self.mode == "pin" and code.isdigit() and len(self.value) < 8:
            self.value += code
        elif self.mode == "celsius" and len(self.value) < 4:
            if code.isdigit() or (code in ",." and "," not in self.value and self.value):
                self.value += "," if code in ",." else code

    @property
    def shown(self) -> str:
        return "●" * len(self.value) if self.mode == "pin" else self.value

    def ok(self) -> None:
        if self.busy or not self.value or self.submit is None:
            return
        self.submit(self.value)

    def fail(self, error_key: str, **params: object) -> None:
        self.busy = False
        self.value = ""
        self.error = tr._(error_key, **params)


class ConfirmDialog(ModalView):
    """A yes/no question in big type; ``on_yes`` runs when the guest confirms."""

    title = StringProperty("")
    message = StringProperty("")
    yes_text = StringProperty("")
    no_text = StringProperty("")
    on_yes: Callable[[], None] | None = None

    def confirm(self) -> None:
        self.dismiss(animation=False)
        if self.on_yes is not None:
            self.on_yes()


class FieldButton(ButtonBehavior, FieldBox):
    """A field the guest taps to start typing (the staff search)."""
