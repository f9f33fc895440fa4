"""Benchmark the QR decoders on the same seeded camera-like frames, and optionally real photos.

    .venv/bin/python bench/qr_decoders.py [--frames N] [--seed S] [--out docs/PERFORMANCE.md]
                                         [--photos DIR]

Every decoder sees the same 640x480 BGR frames, in one run, so the ratios against the pyzbar
baseline hold even when the machine is busy. Frames are rendered from segno QR matrices: short
invitation IDs to ~200-character signed tokens, modules of 2-10 px, any rotation, perspective,
blur, noise, JPEG, low contrast, printed cards or phone screens (some in dark mode, some with
glare), and a share of frames without any code (false positives, and the cost of a miss, which
is what a kiosk pays most of the time). Results go to stdout and to the --out file between
``<!-- bench:qr start -->`` and ``<!-- bench:qr end -->``; the rest of that file is left
alone. ``--out -`` only prints.

--photos DIR adds a table for real camera pictures: each image's expected payload is in a
sidecar ``<name>.txt`` or else in the file name up to an optional ``__suffix``
(``INV-0042__dark.jpg``); ``none`` means the picture holds no code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import multiprocessing
import os
import platform
import statistics
import string
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import segno
import zxingcpp
from pyzbar import pyzbar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.perfdoc import cpu_model, write_section  # noqa: E402
from drivers import qr  # noqa: E402

W, H, SS = 640, 480, 2  # frame size, supersampling of the rendered scene
B64URL = string.ascii_letters + string.digits + "-_"
YY, XX = np.mgrid[0:H, 0:W].astype(np.float32)
TAGS = ["modules < 3 px", "modules 3-5 px", "modules 5-10 px", "printed card", "phone screen",
        "dark mode (inverted)", "glare", "low contrast", "blur sigma >= 1 px", "strong perspective",
        "payload >= 150 chars", "photo"]
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class Frame:
    """One test picture, kept as JPEG bytes (as an MJPG camera delivers it) or as pixels."""

    data: bytes | np.ndarray
    expected: str | None
    tags: list[str] = field(default_factory=list)

    def bgr(self) -> np.ndarray:
        if isinstance(self.data, np.ndarray):
            return self.data
        return cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)


# ---------------------------------------------------------------- frame generation


def make_payload(rng: np.random.Generator) -> str:
    def token(n: int) -> str:
        return "".join(rng.choice(list(B64URL), n))

    kind = rng.choice(4, p=[0.35, 0.25, 0.2, 0.2])
    if kind == 0:
        return "INV-" + "".join(rng.choice(list(string.ascii_uppercase + string.digits), 6))
    if kind == 1:
        return "https://tamu.example.go.id/i/" + token(22)
    if kind == 2:
        return token(int(rng.integers(60, 120)))
    return "v1." + token(int(rng.integers(90, 120))) + "." + token(86)  # signed token


def background(rng: np.random.Generator) -> np.ndarray:
    """A blurry scene with shapes and text: a gatehouse counter, a jacket, a wall."""
    h, w = H * SS, W * SS
    coarse = rng.uniform(40, 200, (4, 5)).astype(np.uint8)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)  # uint8: OpenCV 5 draws
    for _ in range(int(rng.integers(3, 12))):
        color = int(rng.integers(0, 256))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        shape = rng.integers(4)
        if shape == 0:
            corner = (x + int(rng.integers(20, 500)), y + int(rng.integers(20, 400)))
            cv2.rectangle(img, (x, y), corner, color, -1)
        elif shape == 1:
            cv2.circle(img, (x, y), int(rng.integers(10, 200)), color, -1)
        elif shape == 2:
            cv2.line(img, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))), color,
                     int(rng.integers(1, 12)))
        else:
            cv2.putText(img, token_text(rng), (x, y), cv2.FONT_HERSHEY_SIMPLEX,
                        float(rng.uniform(0.8, 3)), color, int(rng.integers(1, 5)))
    return img.astype(np.float32)


def token_text(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(string.ascii_uppercase + " "), int(rng.integers(3, 12))))


def fake_code(rng: np.random.Generator) -> np.ndarray:
    """Finder patterns around random modules: looks like a QR code, decodes to nothing."""
    n = int(rng.choice([21, 25, 29, 33]))
    m = (rng.random((n, n)) < 0.5).astype(np.uint8)
    finder = np.ones((7, 7), np.uint8)
    finder[1:6, 1:6] = 0
    finder[2:5, 2:5] = 1
    for r, c in ((0, 0), (0, n - 7), (n - 7, 0)):
        m[max(r - 1, 0):r + 8, max(c - 1, 0):c + 8] = 0  # the separator around each finder
        m[r:r + 7, c:c + 7] = finder
    return m


def layout(modules: np.ndarray, rng: np.random.Generator, phone: bool, inverted: bool):
    """Module grid of the code on its card or phone screen: (values 0-255, code side in modules)."""
    quiet = int(rng.integers(2, 5)) if phone else 4
    margin = int(rng.integers(0, 5))
    pad = quiet + margin
    paper, ink = (float(rng.uniform(25, 50)), float(rng.uniform(190, 235))) if inverted else (
        float(rng.uniform(200, 250)), float(rng.uniform(5, 60)))
    grid = np.where(np.pad(modules, pad) > 0, ink, paper).astype(np.float32)
    if phone:  # the phone's black body around the screen
        grid = np.pad(grid, int(rng.integers(2, 6)), constant_values=float(rng.uniform(5, 30)))
    return grid, modules.shape[0] + 2 * quiet


def place(canvas: np.ndarray, grid: np.ndarray, module_px: float, code_side: int,
          rng: np.random.Generator, tilt: float) -> tuple[float, tuple[float, float]]:
    """Warp the grid onto the canvas; shrink modules until the code fits. Returns (px, centre)."""
    theta = rng.uniform(0, 2 * np.pi)
    n = grid.shape[0]
    spread = (abs(np.cos(theta)) + abs(np.sin(theta))) * (1 + 2 * tilt)
    fit = min(W, H) / spread
    module_px = min(module_px, 0.92 * fit / n, 0.98 * fit / code_side)
    side = n * module_px
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * side / 2
    corners += rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * side
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    corners = corners @ rot.T
    lo, hi = corners.min(0), corners.max(0)
    cx = rng.uniform(-lo[0], W - hi[0]) if hi[0] - lo[0] < W else W / 2
    cy = rng.uniform(-lo[1], H - hi[1]) if hi[1] - lo[1] < H else H / 2
    dst = (corners + [cx, cy]) * SS
    k = max(1, int(np.ceil(module_px * SS)))
    src_img = np.repeat(np.repeat(grid, k, 0), k, 1)
    src = np.array([[0, 0], [n * k, 0], [n * k, n * k], [0, n * k]], np.float32)
    hom = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpPerspective(src_img, hom, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones_like(src_img), hom, size, flags=cv2.INTER_LINEAR)
    canvas *= 1 - mask
    canvas += warped
    return module_px, (float(cx), float(cy))


def make_frame(job: tuple[np.random.SeedSequence, bool]) -> Frame:
    seed, empty = job
    rng = np.random.default_rng(seed)
    canvas = background(rng)
    tags: list[str] = []
    expected = None
    centre, reach = (W / 2, H / 2), 150.0
    if empty or rng.random() < 0.1:  # distractors; on empty frames they are all there is
        if rng.random() < 0.5:
            grid, side = layout(fake_code(rng), rng, phone=False, inverted=False)
            place(canvas, grid, rng.uniform(2, 8), side, rng, tilt=0.05)
    if not empty:
        expected = make_payload(rng)
        code = segno.make(expected, error=str(rng.choice(list("LMQ"))), micro=False,
                          mask=int(rng.integers(8)))  # any mask decodes; scoring them is slow
        modules = np.array(code.matrix, np.uint8)
        phone = rng.random() < 0.4
        inverted = phone and rng.random() < 0.35
        tilt = float(rng.uniform(0, 0.16)) if rng.random() < 0.6 else 0.0
        grid, side = layout(modules, rng, phone, inverted)
        px, centre = place(canvas, grid, rng.uniform(2, 10), side, rng, tilt)
        reach = side * px / 2
        tags.append(f"modules {'< 3' if px < 3 else '3-5' if px < 5 else '5-10'} px")
        tags.append("phone screen" if phone else "printed card")
        tags += ["dark mode (inverted)"] * inverted + ["strong perspective"] * (tilt > 0.1)
        tags += ["payload >= 150 chars"] * (len(expected) >= 150)
    img = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA)
    yy, xx = YY, XX
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / W + np.sin(angle) * yy / H)
    img *= rng.uniform(0.55, 0.8) + rng.uniform(0.1, 0.35) * (ramp - ramp.min()) / np.ptp(ramp)
    if rng.random() < 0.2:
        img = img.mean() + (img - img.mean()) * rng.uniform(0.2, 0.45)
        tags.append("low contrast")
    if rng.random() < 0.25:  # reflection on a phone screen or a laminated card
        gx, gy = centre[0] + rng.normal(0, reach / 2), centre[1] + rng.normal(0, reach / 2)
        sigma = reach * rng.uniform(0.15, 0.5)
        img += rng.uniform(60, 220) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * sigma**2))
        tags.append("glare")
    if "phone screen" in tags:  # faint moire from the screen's pixel grid
        f = rng.uniform(0.2, 0.45, 2)
        img *= 1 + 0.05 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy))
    blur = float(rng.choice([0.0, rng.uniform(0.3, 1.0), rng.uniform(1.0, 2.0)], p=[0.4, 0.4, 0.2]))
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    tags += ["blur sigma >= 1 px"] * (blur >= 1.0 and not empty)
    img += rng.standard_normal(img.shape, np.float32) * np.float32(rng.uniform(0, 10))
    tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    bgr = np.clip(img[..., None] * tint, 0, 255).astype(np.uint8)
    _, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 95))])
    return Frame(jpg.tobytes(), expected, tags if not empty else ["no code"])


def synthetic_frames(count: int, seed: int, empty_share: float = 0.2) -> list[Frame]:
    """Frames on every core; each has its own seed, so the set does not depend on scheduling."""
    root = np.random.SeedSequence(seed)
    n_empty = round(count * empty_share)
    kinds = np.random.default_rng(root).permutation([True] * n_empty + [False] * (count - n_empty))
    jobs = list(zip(root.spawn(count), map(bool, kinds), strict=True))
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(os.cpu_count(), mp_context=ctx) as pool:
        return list(pool.map(make_frame, jobs, chunksize=8))


def photo_frames(folder: Path) -> list[Frame]:
    frames = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_EXTS:
            continue
        data = path.read_bytes()
        if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None:
            print(f"skipped {path.name}: not readable as an image", file=sys.stderr)
            continue
        sidecar = path.with_suffix(".txt")
        label = sidecar.read_text("utf-8").strip("\r\n") if sidecar.exists() else (
            path.stem.split("__")[0])
        expected = None if label.strip().lower() == "none" else label
        frames.append(Frame(data, expected, ["no code"] if expected is None else ["photo"]))
    return frames


# ---------------------------------------------------------------- decoders


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def zxing(img: np.ndarray) -> list[str]:
    found = zxingcpp.read_barcodes(gray(img), formats=zxingcpp.BarcodeFormat.QRCode)
    return [text(b.bytes) for b in found]


def zbar(img: np.ndarray) -> list[str]:
    return [text(s.data) for s in pyzbar.decode(gray(img), symbols=[pyzbar.ZBarSymbol.QRCODE])]


def zxing_then_zbar(img: np.ndarray) -> list[str]:
    return zxing(img) or zbar(img)


def opencv(detector) -> Callable[[np.ndarray], list[str]]:
    def run(img: np.ndarray) -> list[str]:
        found = detector.detectAndDecode(gray(img))[0]
        return [found] if found else []
    return run


def decoders(worker: qr.QRWorker) -> dict[str, Callable[[np.ndarray], list[str]]]:
    found = {
        "pyzbar (QR only)": zbar,
        "zxing-cpp (QR only)": zxing,
        "zxing-cpp, pyzbar on a miss": zxing_then_zbar,
        "OpenCV QRCodeDetector": opencv(cv2.QRCodeDetector()),
    }
    if hasattr(cv2, "QRCodeDetectorAruco"):
        found["OpenCV QRCodeDetectorAruco"] = opencv(cv2.QRCodeDetectorAruco())
    found["drivers.qr.decode"] = qr.decode
    found["drivers.qr.QRWorker"] = worker.decode
    return found


# ---------------------------------------------------------------- running and reporting


@dataclass
class Result:
    ms: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    wrong: int = 0
    false_pos: int = 0


def run(frames: list[Frame], funcs: dict[str, Callable]) -> dict[str, Result]:
    results = {name: Result() for name in funcs}
    names = list(funcs)
    for frame in frames[:3]:  # warm-up: lazy initialisation is not a per-frame cost
        for f in funcs.values():
            f(frame.bgr())
    for i, frame in enumerate(frames):
        image = frame.bgr()
        for name in names[i % len(names):] + names[:i % len(names)]:  # fair cache order
            t0 = time.perf_counter()
            texts = funcs[name](image)
            elapsed = (time.perf_counter() - t0) * 1000
            r = results[name]
            r.ms.append(elapsed)
            r.hits.append(frame.expected is not None and frame.expected in texts)
            if frame.expected is None:
                r.false_pos += bool(texts)
            else:
                r.wrong += any(t != frame.expected for t in texts)
    return results


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


def ratio(value: float, base: float, digits: int) -> str:
    return f"{value / base:.{digits}f}x" if base else "n/a"


def main_table(frames: list[Frame], results: dict[str, Result]) -> list[str]:
    coded = sum(f.expected is not None for f in frames)
    empty = [i for i, f in enumerate(frames) if f.expected is None]
    base = results["pyzbar (QR only)"]
    base_rate = sum(base.hits) / (sum(base.ms) / 1000)
    rows = ["| decoder | decoded | wrong | false pos. | median ms | p95 ms | median ms, no code "
            "| decoded / s of decoder time | decoded vs pyzbar | decoded / s vs pyzbar |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        rate = sum(r.hits) / (sum(r.ms) / 1000)
        miss = statistics.median([r.ms[i] for i in empty]) if empty else float("nan")
        rows.append(f"| {name} | {sum(r.hits)}/{coded} | {r.wrong} | {r.false_pos}/{len(empty)} "
                    f"| {statistics.median(r.ms):.2f} | {p95(r.ms):.2f} | {miss:.2f} | {rate:.0f} "
                    f"| {ratio(sum(r.hits), sum(base.hits), 2)} | {ratio(rate, base_rate, 1)} |")
    return rows


def breakdown(frames: list[Frame], results: dict[str, Result]) -> list[str]:
    present = {t for f in frames for t in f.tags}
    tags = [t for t in TAGS if t in present]
    names = [n for n in results if n != "drivers.qr.QRWorker"]
    rows = ["| frames | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for tag in tags:
        idx = [i for i, f in enumerate(frames) if tag in f.tags]
        cells = [f"{sum(results[n].hits[i] for i in idx)}/{len(idx)}" for n in names]
        rows.append(f"| {tag} | " + " | ".join(cells) + " |")
    return rows


def analysis(frames: list[Frame], results: dict[str, Result]) -> list[str]:
    zx, zb = results["zxing-cpp (QR only)"], results["pyzbar (QR only)"]
    coded = [i for i, f in enumerate(frames) if f.expected is not None]
    empty = [i for i, f in enumerate(frames) if f.expected is None]
    misses = [i for i in coded if not zx.hits[i]]
    rescued = sum(zb.hits[i] for i in misses)
    lines = [f"- zxing-cpp missed {len(misses)} of {len(coded)} codes; pyzbar read {rescued} of "
             "those."]
    if empty:
        lines.append(f"- On frames without a code, a pyzbar pass after zxing-cpp costs "
                     f"{statistics.median([zb.ms[i] for i in empty]):.2f} ms median "
                     f"(zxing-cpp alone: {statistics.median([zx.ms[i] for i in empty]):.2f} ms).")
    lines.append(f"- So `drivers.qr.decode` runs pyzbar after a zxing-cpp miss: "
                 f"{'yes' if qr.FALLBACK_ON_MISS else 'no'} (`FALLBACK_ON_MISS`); it does when "
                 "zxing-cpp cannot be imported.")
    dec, wk = results["drivers.qr.decode"].ms, results["drivers.qr.QRWorker"].ms
    diff = [w - d for w, d in zip(wk, dec, strict=True)]
    lines.append(f"- QRWorker overhead over in-process `decode`: {statistics.median(diff):.2f} ms "
                 f"median, {p95(diff):.2f} ms p95 per frame (pickling the grayscale frame "
                 "through a pipe and back).")
    return lines


def versions() -> str:
    from ctypes import byref, c_uint

    from pyzbar import wrapper
    major, minor = c_uint(), c_uint()
    wrapper.zbar_version(byref(major), byref(minor))
    pkgs = ", ".join(f"{p} {md.version(p)}" for p in
                     ("zxing-cpp", "pyzbar", "opencv-python-headless", "numpy", "segno"))
    return f"Python {platform.python_version()}, {pkgs}, libzbar {major.value}.{minor.value}"


def wrap(line: str) -> str:
    indent = "  " if line.startswith("- ") else ""
    return textwrap.fill(line, 100, subsequent_indent=indent, break_on_hyphens=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=800, help="synthetic frames (default 800)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="docs/PERFORMANCE.md", help="markdown file, or - to print")
    ap.add_argument("--photos", type=Path, help="folder of real camera pictures, see above")
    args = ap.parse_args()
    if args.frames < 10:
        ap.error("--frames must be at least 10")

    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    # The worker first, so the fork server starts with drivers.qr preloaded, as in the kiosk.
    with qr.QRWorker() as worker:
        frames = synthetic_frames(args.frames, args.seed)
        print(f"{len(frames)} frames in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        photos = photo_frames(args.photos) if args.photos else []
        funcs = decoders(worker)
        results = run(frames, funcs)
        photo_results = run(photos, funcs) if photos else None
    elapsed = time.perf_counter() - t0

    cmd = f"`.venv/bin/python bench/qr_decoders.py --frames {args.frames} --seed {args.seed}`"
    n_empty = sum(f.expected is None for f in frames)
    out = [
        "## QR decoders",
        "",
        f"Run {dt.date.today():%Y-%m-%d} with {cmd} ({elapsed:.0f} s) on {cpu_model()}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the start; {versions()}.",
        "",
        f"{len(frames)} synthetic 640x480 BGR frames, {len(frames) - n_empty} with one code and "
        f"{n_empty} without (about half of those show a fake code: finder patterns around random "
        "modules). Payloads: invitation IDs, URLs, 60-120-char tokens and ~200-char signed "
        "tokens. Modules 2-10 px, any rotation, perspective, Gaussian blur up to sigma 2 px, "
        "noise, JPEG quality 50-95, lighting gradients; 40% phone screens (a third of them in "
        "dark mode, with moire), 20% low contrast, 25% glare patches. Times are wall-clock per "
        "frame, BGR in and texts out, so each includes its own grayscale conversion. "
        "\"decoded / s of decoder time\" is codes read per second spent decoding; ratios are "
        "against pyzbar in the same run.",
        "",
        *main_table(frames, results),
        "",
        "Codes read, by condition (a frame can be in several rows):",
        "",
        *breakdown(frames, results),
        "",
        *analysis(frames, results),
        "",
    ]
    if photo_results:
        out += [f"### Real photos ({len(photos)} files)", "", *main_table(photos, photo_results)]
    else:
        out += [
            "No real camera photos were available on the machine that ran this, so every number "
            "above comes from synthetic frames. To add real ones, save frames from the kiosk "
            "camera (640x480, printed cards and phone screens, some without any code) in a "
            "folder, name each after its payload (`INV-0042.jpg`, `INV-0042__glare.jpg`, "
            "`none__empty-desk.jpg`) or put the payload, or `none`, in a sidecar `<name>.txt`, "
            "then add `--photos <folder>` to the command above.",
            "",
        ]
    section = "\n".join(line if line.startswith("|") else wrap(line) for line in out)
    print(section)
    if args.out != "-":
        write_section("qr", section, Path(args.out))
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
