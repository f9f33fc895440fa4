"""The kiosk's screens: one module (and one kv file in ``kiosk/ui/kv/``) each.

Screens never touch hardware or the database: they ask the app, which calls the core's API
on a worker thread (:meth:`kiosk.ui.app.KioskApp.call`) and runs the answer on the UI thread.
"""

from kivy.app import App
from kivy.uix.screenmanager import Screen


class KioskScreen(Screen):
    """What every screen shares: the app, a reset hook, and codes from the scanner.

    ``idle_limit`` is how long this screen may sit untouched before the kiosk returns to
    Welcome: ``None`` uses the configured ``ui.inactivity_seconds``, ``0`` never.
    """

    idle_limit: float | None = None

    @property
    def app(self):
        return App.get_running_app()

    def reset(self) -> None:
        """Forget everything this screen holds for the current guest."""

    def relabel(self) -> None:
        """The language changed: redo any text built in Python (kv texts follow by themselves)."""

    def release(self) -> None:
        """The app is closing: let go of anything bound outside this screen."""

    def on_code(self, payload: str, source: str) -> bool:
        """A code was scanned while this screen shows; return True if it was handled."""
        return False
