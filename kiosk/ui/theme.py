"""Colours and sizes shared by every screen (kv reads them as ``C.BG``, ``C.U``...).

High contrast for older eyes and a bright lobby: dark ink on a warm off-white, white on a
deep blue for the main actions (contrast above 7:1), and a warm brown rather than alarm
red for a field to fix, so a validation message reads as help, not as a scolding.

Sizes are designed at 800x480 and scaled by ``app.u`` (the window's size relative to
that), so 1024x600 and 1920x1080 show the same layout, larger. The smallest touch target
is 56 px at 800x480, above the 48 px a fingertip needs.
"""

BG = (0.965, 0.953, 0.925, 1)
CARD = (1, 1, 1, 1)
INK = (0.09, 0.11, 0.15, 1)
MUTED = (0.30, 0.33, 0.38, 1)
LINE = (0.74, 0.74, 0.70, 1)
BAR = (0.08, 0.20, 0.36, 1)
ON_BAR = (1, 1, 1, 1)
PRIMARY = (0.05, 0.33, 0.62, 1)
PRIMARY_DOWN = (0.03, 0.22, 0.42, 1)
SECONDARY = (0.86, 0.90, 0.95, 1)
SECONDARY_DOWN = (0.72, 0.79, 0.88, 1)
GOOD = (0.06, 0.42, 0.22, 1)
GOOD_BG = (0.87, 0.95, 0.89, 1)
WARN = (0.55, 0.23, 0.0, 1)
WARN_BG = (1.0, 0.93, 0.84, 1)
DISABLED = (0.80, 0.80, 0.78, 1)
KEY = (1, 1, 1, 1)
KEY_DOWN = (0.80, 0.86, 0.94, 1)
SENSOR_RED = (0.85, 0.15, 0.12, 1)
ALARM = (0.62, 0.06, 0.06, 1)  # emergencies only: the evacuation, the panic button
ALARM_DOWN = (0.42, 0.03, 0.03, 1)

BASE_SIZE = (800, 480)
MIN_TARGET = 56  # px at 800x480
