"""Write one bench's section of docs/PERFORMANCE.md between its markers, leaving the rest."""

from __future__ import annotations

import platform
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
INTRO = """# Performance

Every figure here comes from a script in `bench/`, run on the machine named in its section.
Figures are ratios against a baseline measured in the same run where a ratio makes sense,
so they compare across machines; absolute times are for this machine only. Reproduce all
with `make bench`.
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
