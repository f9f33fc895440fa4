"""Core unreachable: a calm "please contact the guard" until the core answers again.

The app polls ``GET /api/v1/health`` every few seconds whatever the screen; when it fails
this screen shows, and when it answers again the guest is back where they were (or at
Welcome, if they walked away meanwhile). Nothing here says "error".
"""

from kiosk.ui.screens import KioskScreen


class UnreachableScreen(KioskScreen):
    idle_limit = 0  # the app decides when to leave: when the core is back
