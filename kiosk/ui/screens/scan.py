"""Scan: the live camera preview; an invitation or pass QR fills in the details.

The preview is pulled from the scanner by a Kivy Clock at 15 fps on the UI thread; the
decoding runs on the scanner's own threads, so the screen never waits for it. A code is
resolved by the core (``GET /api/v1/codes/{payload}``): an invitation or a returning
guest's pass prefills Details, a badge means the guest wants to check out.
"""

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.ui.screens import KioskScreen

PREVIEW_FPS = 15


class CameraScreen(KioskScreen):
    """A screen with a live preview (a ``PreviewBox`` with id ``preview_box``) while it shows."""

    camera_state = StringProperty("starting")
    _preview_event = None
    _shown_seq = -1

    @property
    def preview(self):
        return self.ids.preview_box.ids.view

    def on_pre_enter(self, *_args) -> None:
        scanner = self.app.scanner
        scanner.start()
        self.camera_state = scanner.state
        self._shown_seq = -1
        self._preview_event = Clock.schedule_interval(self._preview, 1 / PREVIEW_FPS)

    def on_leave(self, *_args) -> None:
        if self._preview_event is not None:
            self._preview_event.cancel()
            self._preview_event = None
        self.app.scanner.stop()
        self.preview.clear()

    def _preview(self, _dt) -> None:
        scanner = self.app.scanner
        self.camera_state = scanner.state
        seq, frame = scanner.latest()
        if frame is not None and seq != self._shown_seq:
            self._shown_seq = seq
            self.preview.show(frame)
        elif frame is None and self.camera_state in ("lost", "none"):
            self.preview.clear()


def refusal(exc: Exception) -> tuple[str, str]:
    """The core's reason for refusing a code, (English, Indonesian), first letter up."""
    if not isinstance(exc, ApiError):
        return "", ""
    return tuple(text[:1].upper() + text[1:] for text in (exc.detail, exc.detail_id))


class ScanScreen(CameraScreen):
    status = StringProperty("")  # locale key of the line under the instructions
    core_en = StringProperty("")  # the core's reason, for "scan.refused"
    core_id = StringProperty("")
    warn = BooleanProperty(False)
    busy = BooleanProperty(False)

    def reset(self) -> None:
        self.status, self.warn, self.busy = "", False, False
        self.core_en = self.core_id = ""

    def on_pre_enter(self, *args) -> None:
        self.reset()
        super().on_pre_enter(*args)

    def on_code(self, payload: str, source: str) -> bool:
        if self.busy:
            return True
        self.busy, self.warn, self.status = True, False, "scan.checking"
        self.core_en = self.core_id = ""
        self.app.call(self.app.client.resolve_code, payload,
                      done=self._resolved, failed=self._failed)
        return True

    def _resolved(self, body: dict) -> None:
        self.busy = False
        kind = body.get("kind")
        if kind in ("invitation", "pass"):
            self.app.prefill(body)
        elif kind == "badge":
            self.app.go("checkout")
            self.app.screen("checkout").confirm_code(body)
        else:
            self.warn, self.status = True, "scan.error"

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        if isinstance(exc, CoreUnreachable):
            self.status = ""
            return
        self.warn = True
        if isinstance(exc, ApiError) and exc.status in (400, 404, 409, 422):
            # Unknown, expired, for another day: the core says which, in both languages.
            self.core_en, self.core_id = refusal(exc)
            self.status = "scan.refused"
        else:
            self.status = "scan.error"
