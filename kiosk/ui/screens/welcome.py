"""Welcome: the office's name, the date and time, and the three ways in."""

from kiosk.ui.screens import KioskScreen


class WelcomeScreen(KioskScreen):
    idle_limit = 0  # already home

    def on_code(self, payload: str, source: str) -> bool:
        # A code from the serial scanner while nobody has touched anything: an invitation
        # or a pass starts registration, a badge starts check-out.
        self.app.go("scan")
        return self.app.screen("scan").on_code(payload, source)
