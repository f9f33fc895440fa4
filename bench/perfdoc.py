"""Write one bench's section of docs/PERFORMANCE.md between its markers, leaving the rest."""

from __future__ import annotations

import platform
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
# (title, anchor, script, command, time): the index at the top of the document.
BENCHES = [
    ("QR decoders", "qr-decoders", "qr_decoders.py", "--frames 800 --seed 1", "~1.5 min"),
    ("Thermometer read path", "thermometer-read-path-benchthermometer_readpy",
     "thermometer_read.py", "", "seconds"),
    ("Core daemon", "core-daemon-benchcore_benchpy", "core_bench.py", "", "~2 min"),
    ("Touchscreen UI", "touchscreen-ui-benchui_benchpy", "ui_bench.py", "", "~1 min"),
    ("Sync to hq", "sync-to-hq-benchsync_benchpy", "sync_bench.py",
     "(the PostgreSQL row with `KIOSK_TEST_POSTGRES` set)", "~1 min"),
    ("A simulated week", "a-simulated-week-benchsoakpy", "soak.py",
     "--days 7 --speed 1000 --doc (`make soak`)", "~11 min"),
]


def _index() -> str:
    rows = []
    for title, anchor, script, args, takes in BENCHES:
        command = f"`.venv/bin/python bench/{script}`"
        if args.startswith("-"):
            flags, _, note = args.partition(" (")
            command = f"`.venv/bin/python bench/{script} {flags}`" + (f" ({note}" if note else "")
        elif args:
            command += f" {args}"
        rows.append(f"| [{title}](#{anchor}) | {command} | {takes} |")
    return "\n".join(["| section | reproduce | takes |", "|---|---|---|", *rows])


INTRO = f"""# Performance

Every figure here comes from a script in `bench/`, run on the machine named in its section.
Figures are ratios against a baseline measured in the same run where a ratio makes sense,
so they compare across machines; absolute times are for this machine only. Each section
starts with the command that produced it, and each script rewrites its own section.

{_index()}

`make bench` runs the first five; `make soak` the week.
"""


def cpu_model() -> str:
    try:
        fields = dict(
            (key.strip().lower(), value.strip())
            for key, _, value in (line.partition(":") for line in
                                  Path("/proc/cpuinfo").read_text().splitlines())
        )
    except OSError:
        fields = {}
    for key in ("model name", "model", "hardware"):  # x86, Raspberry Pi, older ARM
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine()


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    start, end = f"<!-- bench:{name} start -->", f"<!-- bench:{name} end -->"
    text = doc.read_text() if doc.exists() else INTRO
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
