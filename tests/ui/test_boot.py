"""Kivy's settings go in before Kivy is imported, on every way into the touchscreen.

Kivy creates its window (input providers, size, Escape quitting) and takes over logging on
its first import; ``kiosk.ui.run`` must get to ``boot.configure`` without importing it,
also when it adds the simulator's panel.
"""

import subprocess
import sys

SCRIPT = """
import sys
from kiosk.ui import boot

def configure(**kwargs):
    print("kivy imported before configure:", "kivy" in sys.modules, kwargs["size"])
    raise SystemExit(0)

boot.configure = configure
import kiosk.ui
from kiosk.config import simulator_defaults

kiosk.ui.run(simulator_defaults(), sim_panel={panel})
"""


def test_run_configures_kivy_before_importing_it():
    for panel, size in ((False, "(1024, 600)"), (True, "(1399, 600)")):
        result = subprocess.run([sys.executable, "-c", SCRIPT.format(panel=panel)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"kivy imported before configure: False {size}"
