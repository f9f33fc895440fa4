"""UI tests: a real Kivy window (offscreen, no X needed) against a real core.

Kivy opens one window per process and, once imported, keeps it and its settings until the
process ends. So every ``test_kivy_*.py`` module runs in a fresh Python process of its own
(one per window size it lists in ``WINDOW_SIZES``), with the Kivy environment set only
there: the rest of the suite never imports Kivy and never sees these variables. The other
modules here (client, forms, scanner, screenshots script) run in the main process as usual.

A plain ``pytest`` runs it all. To run one Kivy test directly, with pytest's own output:
``KIOSK_UI_TEST_CHILD=1 pytest tests/ui/test_kivy_flow.py -k checkout``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

CHILD = "KIOSK_UI_TEST_CHILD"
WINDOW = "KIOSK_UI_WINDOW"
ROOT = Path(__file__).resolve().parents[2]
IN_CHILD = os.environ.get(CHILD) == "1"
MODULE_TIMEOUT = 900  # seconds for a whole module in its own process


def kivy_environment(size: str) -> dict[str, str]:
    """The variables a Kivy test process gets (TESTING.md: offscreen works, dummy does not)."""
    return {
        CHILD: "1",
        WINDOW: size,
        "SDL_VIDEODRIVER": "offscreen",
        "KIVY_NO_ARGS": "1",
        "KIVY_NO_CONSOLELOG": "1",
        "KIVY_NO_FILELOG": "1",
        "KIVY_LOG_MODE": "PYTHON",
        "KIVY_NO_CONFIG": "1",
        "KIVY_HOME": tempfile.mkdtemp(prefix="kiosk-ui-test-kivy-"),
    }


if IN_CHILD:
    # Before any Kivy import: the window is created with this size and config.
    from kiosk.ui import boot

    boot.configure(size=boot.parse_size(os.environ.get(WINDOW, "800x480")), fullscreen=False)


def _window_sizes(path: Path) -> list[str]:
    """The module's ``WINDOW_SIZES = ("800x480", ...)``, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "WINDOW_SIZES" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return ["800x480"]


class KivyModuleFailed(Exception):
    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


class KivyModule(pytest.File):
    """A ``test_kivy_*.py`` module, collected as one item per window size."""

    def collect(self):
        for size in _window_sizes(self.path):
            item = KivyProcess.from_parent(self, name=f"{self.path.name}[{size}]", size=size)
            item.add_marker(pytest.mark.timeout(MODULE_TIMEOUT))
            yield item


class KivyProcess(pytest.Item):
    """Runs one Kivy test module in a fresh process at one window size."""

    def __init__(self, *, size: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = size

    def runtest(self) -> None:
        env = {**os.environ, **kivy_environment(self.size)}
        command = [sys.executable, "-m", "pytest", str(self.path), "-q", "-rfE",
                   "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=MODULE_TIMEOUT - 30)
        output = result.stdout + result.stderr
        self.add_report_section("call", f"kivy tests at {self.size}", output)
        if result.returncode != 0:
            raise KivyModuleFailed(output)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, KivyModuleFailed):
            return f"{self.path.name} at {self.size} failed in its own process:\n" + \
                excinfo.value.output[-12000:]
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.name} at {self.size} (own process)"


def pytest_pycollect_makemodule(module_path, parent):
    if not IN_CHILD and module_path.name.startswith("test_kivy_"):
        return KivyModule.from_parent(parent, path=module_path)
    return None


if IN_CHILD:
    from .harness import core_server, demo_kiosk, kiosk, settings_text  # noqa: F401  (fixtures)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        setattr(item, f"rep_{report.when}", report)
