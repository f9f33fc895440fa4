"""The touchscreen's costs: cold start, screen changes, QR decoding under the preview, memory.

Each measure runs in fresh processes (Kivy opens one window per process) rendering offscreen
(SDL ``offscreen`` driver, Mesa llvmpipe here; the Pi draws with its GPU instead, so on
this machine drawing costs CPU that a Pi does not spend on it). Baselines in the same run:

- cold start: a bare Kivy app with one Label, started the same way;
- screen change: a bare ScreenManager switching between two screens with one Label each;
- decoding: the same QR worker reading the same camera with no UI at all;
- memory: the bare Kivy app's resident set.

The kiosk runs against the demo core (``kiosk/ui/demo.py``), so no core process competes
for the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.perfdoc import cpu_model, write_section  # noqa: E402

SIZE = (800, 480)
QR = "GK1:INV:K7QM3XW9PB2D"
FLOW = ("details", "temperature", "consent", "done", "checkout", "scan", "welcome")


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children_rss_kib() -> int:
    """The resident set of this process's children (the QR decoder and its fork server)."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            pids = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                total += rss_kib(pid)
            except OSError:
                pass
    return total


# -- child processes ------------------------------------------------------------------------

def _prepare_kivy(maxfps: int = 30) -> None:
    from kiosk.ui import boot

    boot.configure(size=SIZE, fullscreen=False)
    from kivy.config import Config

    Config.set("graphics", "maxfps", str(maxfps))


def _kiosk_app(camera=None):
    from kiosk.config import simulator_defaults
    from kiosk.ui.app import KioskApp
    from kiosk.ui.demo import DemoCore
    from kiosk.ui.scanner import Scanner

    scanner = Scanner(camera, close_camera=False)
    return KioskApp(simulator_defaults(), client=DemoCore(), scanner=scanner,
                    health_seconds=3600), scanner


def child_cold(kind: str) -> None:
    """Start an app; print the time of its first frame on screen, then leave."""
    _prepare_kivy()
    from kivy.app import App
    from kivy.core.window import Window

    if kind == "kiosk":
        app, _ = _kiosk_app()
    else:
        from kivy.uix.label import Label

        class Bare(App):
            def build(self):
                return Label(text="Selamat datang", font_size=40)

        app = Bare()

    def first_frame(*_args):
        print(json.dumps({"frame_at": time.time(), "rss_kib": rss_kib()}), flush=True)
        Window.unbind(on_flip=first_frame)
        app.stop()

    Window.bind(on_flip=first_frame)
    app.run()


def child_transitions(kind: str, rounds: int) -> None:
    """Seconds from asking for a screen to the frame that shows it, for each change."""
    _prepare_kivy(maxfps=0)  # measure the work, not the frame cap
    from kivy.base import EventLoop
    from kivy.core.window import Window

    if kind == "kiosk":
        app, _ = _kiosk_app()
        EventLoop.ensure_window()
        app._run_prepare()
        manager = app.sm
        names = FLOW
    else:
        from kivy.uix.label import Label
        from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

        EventLoop.ensure_window()
        manager = ScreenManager(transition=NoTransition())
        for name in ("a", "b"):
            screen = Screen(name=name)
            screen.add_widget(Label(text=f"Layar {name}", font_size=40))
            manager.add_widget(screen)
        Window.add_widget(manager)
        names = ("b", "a")
    for _ in range(5):
        EventLoop.idle()
    first, later = [], []
    by_screen: dict[str, list[float]] = {}
    for round_ in range(rounds):
        for name in names:
            if kind == "kiosk" and name == "details":
                app.screen("details").begin()
            flips = []

            def flipped(*_args, flips=flips):
                flips.append(time.perf_counter())

            Window.bind(on_flip=flipped)
            started = time.perf_counter()
            manager.current = name
            while not flips or manager.transition.is_active:
                EventLoop.idle()
            Window.unbind(on_flip=flipped)
            (first if round_ == 0 else later).append(flips[-1] - started)
            by_screen.setdefault(name, []).append(flips[-1] - started)
    print(json.dumps({"first": first, "later": later, "by_screen": by_screen}), flush=True)


def child_scan(seconds: float, with_ui: bool) -> None:
    """Frames decoded per second from a 30 fps camera, with the preview running or alone."""
    from drivers.sim.camera import QRCamera

    camera = QRCamera(QR, fps=30)
    if not with_ui:
        from drivers.qr import QRWorker

        worker = QRWorker()
        worker.decode(camera.read(2))  # the child is up
        started, decoded = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            if worker.decode(camera.read(1)):
                decoded += 1
        elapsed = time.monotonic() - started
        print(json.dumps({"decoded_per_s": decoded / elapsed, "rss_kib": rss_kib(),
                          "children_rss_kib": children_rss_kib()}), flush=True)
        worker.close()
        return
    _prepare_kivy()
    from kivy.base import EventLoop
    from kivy.core.window import Window

    app, scanner = _kiosk_app(camera)
    EventLoop.ensure_window()
    app._run_prepare()
    scanner.on_code = lambda payload, source: None  # keep the Scan screen up
    scanner.warm_up()
    app.go("scan")
    screen = app.screen("scan")
    shown = []
    original = screen.preview.show
    screen.preview.show = lambda frame: (shown.append(1), original(frame))
    warm = time.monotonic() + 3
    while time.monotonic() < warm or scanner.frames_decoded == 0:
        EventLoop.idle()
    flips = []
    Window.bind(on_flip=lambda *_: flips.append(time.perf_counter()))
    decoded0, read0, shown0 = scanner.frames_decoded, scanner.frames_read, len(shown)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        EventLoop.idle()
    elapsed = time.monotonic() - started
    gaps = [b - a for a, b in zip(flips, flips[1:], strict=False)]
    print(json.dumps({
        "decoded_per_s": (scanner.frames_decoded - decoded0) / elapsed,
        "read_per_s": (scanner.frames_read - read0) / elapsed,
        "preview_per_s": (len(shown) - shown0) / elapsed,
        "ui_fps": len(flips) / elapsed,
        "worst_frame_ms": max(gaps) * 1000 if gaps else 0,
        "rss_kib": rss_kib(), "children_rss_kib": children_rss_kib(),
    }), flush=True)
    app.dispatch("on_stop")
    scanner.close()
    camera.close()


# -- the parent -----------------------------------------------------------------------------

def environment() -> dict[str, str]:
    return {**os.environ, "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1",
            "KIVY_NO_CONSOLELOG": "1", "KIVY_LOG_MODE": "PYTHON", "KIVY_NO_CONFIG": "1",
            "KIVY_HOME": tempfile.mkdtemp(prefix="ui-bench-kivy-")}


def run_child(*args: str, timeout: float = 300) -> tuple[dict, float]:
    """Run this script as a child; its last JSON line, and when the process was started."""
    started = time.time()
    result = subprocess.run([sys.executable, __file__, "--child", *args], env=environment(),
                            cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    return json.loads(lines[-1]), started


def cold_starts(kind: str, runs: int) -> tuple[list[float], list[int]]:
    run_child("cold", kind)  # warm the page cache: "cold" is a fresh process, not a cold disk
    times, rss = [], []
    for _ in range(runs):
        answer, started = run_child("cold", kind)
        times.append(answer["frame_at"] - started)
        rss.append(answer["rss_kib"])
    return times, rss


def gl_renderer() -> str:
    code = ("from kiosk.ui import boot; boot.configure(size=(320, 240));"
            "from kivy.core.window import Window;"
            "from kivy.graphics.opengl import glGetString, GL_RENDERER;"
            "print(glGetString(GL_RENDERER).decode())")
    result = subprocess.run([sys.executable, "-c", code], env=environment(), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    return (result.stdout.strip().splitlines() or ["unknown"])[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="cold starts of each app")
    parser.add_argument("--rounds", type=int, default=10, help="times through the screens")
    parser.add_argument("--seconds", type=float, default=15, help="preview run length")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "cold":
            child_cold(rest[0])
        elif kind == "transitions":
            child_transitions(rest[0], int(rest[1]))
        elif kind == "scan":
            child_scan(float(rest[0]), rest[1] == "ui")
        return

    began = time.monotonic()
    kiosk_cold, kiosk_rss = cold_starts("kiosk", args.runs)
    bare_cold, bare_rss = cold_starts("bare", args.runs)
    kiosk_tr, _ = run_child("transitions", "kiosk", str(args.rounds))
    bare_tr, _ = run_child("transitions", "bare", str(args.rounds * 3))
    with_ui, _ = run_child("scan", str(args.seconds), "ui")
    alone, _ = run_child("scan", str(args.seconds), "alone")
    renderer = gl_renderer()
    took = time.monotonic() - began

    med = statistics.median
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"

    later = kiosk_tr["later"]
    bare_later = bare_tr["later"]
    p95 = sorted(later)[max(0, int(len(later) * 0.95) - 1)]
    mib = lambda kib: f"{kib / 1024:.0f} MiB"  # noqa: E731
    table = "\n".join([
        "| measure | kiosk | baseline (same run) | ratio |",
        "|---|---:|---:|---:|",
        f"| cold start to first frame, median of {args.runs} | {ms(med(kiosk_cold))} | bare "
        f"Kivy app, one Label: {ms(med(bare_cold))} | {med(kiosk_cold) / med(bare_cold):.1f}x |",
        f"| screen change to its first frame, median ({len(later)} changes) | "
        f"{ms(med(later))} | two one-Label screens: {ms(med(bare_later))} | "
        f"{med(later) / med(bare_later):.1f}x |",
        f"| screen change, p95 / slowest | {ms(p95)} / {ms(max(later))} | - | - |",
        f"| first visit of each screen, slowest | {ms(max(kiosk_tr['first']))} | - | - |",
        f"| QR frames decoded per second, preview running (30 fps camera) | "
        f"{with_ui['decoded_per_s']:.1f} | QR worker alone: {alone['decoded_per_s']:.1f} | "
        f"{with_ui['decoded_per_s'] / alone['decoded_per_s']:.2f}x |",
        f"| preview frames shown per second | {with_ui['preview_per_s']:.1f} | target 15 | "
        f"{with_ui['preview_per_s'] / 15:.2f}x |",
        f"| UI frames per second while scanning / slowest frame | {with_ui['ui_fps']:.0f} / "
        f"{with_ui['worst_frame_ms']:.0f} ms | frame cap 30 | - |",
        f"| RSS after the first frame | {mib(med(kiosk_rss))} | bare Kivy app: "
        f"{mib(med(bare_rss))} | {med(kiosk_rss) / med(bare_rss):.1f}x |",
        f"| RSS while scanning: UI + QR decoder processes | {mib(with_ui['rss_kib'])} + "
        f"{mib(with_ui['children_rss_kib'])} | - | - |",
    ])
    body = (
        "## Touchscreen UI (`bench/ui_bench.py`)\n\n"
        f"Run {time.strftime('%Y-%m-%d')} with `.venv/bin/python bench/ui_bench.py` "
        f"({took:.0f} s) on {cpu_model()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}, {_kivy_version()}, OpenGL renderer {renderer}, "
        f"window {SIZE[0]}x{SIZE[1]} offscreen. Every measure in fresh processes; the kiosk "
        "runs against the demo core, so no core shares the CPU. Cold start counts from "
        "starting the Python process to the first frame flipped on screen (imports, kv "
        "rules, every screen built). A screen change counts from setting the screen to the "
        "end of the frame showing it, with the frame cap off; the kiosk's run goes "
        f"{' → '.join(('welcome',) + FLOW)} {args.rounds} times. Decoding uses the real "
        "`QRWorker` child process on a simulated 30 fps camera holding an invitation "
        f"({args.seconds:.0f} s). Drawing here is software (llvmpipe) and costs CPU that "
        "a Pi's GPU takes over; decoding and Python work are the parts that carry over.\n\n"
        + table
    )
    print(body)
    if not args.no_doc:
        write_section("ui", body)


def _kivy_version() -> str:
    try:
        from importlib.metadata import version

        return f"Kivy {version('kivy')}"
    except Exception:  # noqa: BLE001
        return "Kivy"


if __name__ == "__main__":
    main()
