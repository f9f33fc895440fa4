"""The screenshot script renders every screen to a real, non-blank PNG at each size."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.ui.screenshots import LARGE, SIZES, plan, scenes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(400)
def test_every_screen_renders(tmp_path):
    # At 800x480 (plus Welcome at 1920x1080, which the script always adds); the layout tests
    # check every screen at all three sizes.
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1",
           "KIVY_HOME": tempfile.mkdtemp(prefix="kiosk-shots-kivy-")}
    sizes = SIZES[:1]
    # The guard panel's scenes each seed a real core; their own modules render and check
    # them, so here one of them shows the script's way of picturing the panel works.
    only = [n for n in scenes() if not n.startswith("guard-")] + ["guard-dashboard"]
    result = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--out", str(tmp_path),
                             "--sizes", ",".join(f"{w}x{h}" for w, h in sizes),
                             "--only", ",".join(only)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {f"{name}-{w}x{h}.png" for (w, h), names in plan(sizes, only) for name in names}
    assert f"welcome-{LARGE[0]}x{LARGE[1]}.png" in expected
    assert len(expected) == len(only) * len(sizes) + 1
    assert {p.name for p in tmp_path.glob("*.png")} == expected
    for name in sorted(expected):
        image = cv2.imread(str(tmp_path / name))
        width, height = (int(n) for n in name.rsplit("-", 1)[1][:-4].split("x"))
        assert image is not None and image.shape[:2] == (height, width), name
        # Not blank, not black: a real screen has the background and a lot of ink on it.
        assert image.mean() > 80, name
        assert np.count_nonzero(image.std(axis=2) > 20) + np.count_nonzero(image < 60) > \
            0.01 * width * height, name
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50, name
