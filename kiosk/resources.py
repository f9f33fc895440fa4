"""Where the files that ship beside the code are: the SOP procedures and the example config.

In a source checkout (what ``make`` and ``systemd/install.sh`` use) they are in ``config/``
next to the packages; a wheel installs them under ``<prefix>/share/gatehouse-kiosk``
(pyproject's data-files), since they are data an admin reads and copies, not code.
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE_CONFIG = Path(__file__).resolve().parents[1] / "config"
INSTALLED_CONFIG = Path(sys.prefix) / "share" / "gatehouse-kiosk"


def config_dir() -> Path:
    """The shipped ``config`` directory: the checkout's, else the installed copy."""
    return SOURCE_CONFIG if SOURCE_CONFIG.is_dir() else INSTALLED_CONFIG
