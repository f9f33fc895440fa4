"""A wheel of the kiosk carries what the code reads at run time besides Python files.

The source checkout finds them next to the code; an install from a wheel must too: the
touchscreen's kv rules and texts inside the package, the SOP procedures and the example
configuration as shared data (see kiosk.resources).
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_the_kv_rules_texts_procedures_and_example(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".uv", ".git", "build", "*.egg-info", "__pycache__", "docs", "bench"))
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
                    "build_meta.build_wheel(sys.argv[1])", str(out)],
                   cwd=source, check=True, capture_output=True, timeout=120)
    wheel = next(out.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"kiosk/ui/kv/{p.name}" for p in (ROOT / "kiosk/ui/kv").glob("*.kv")}
    shipped |= {f"kiosk/{p.relative_to(ROOT / 'kiosk').as_posix()}"
                for p in (ROOT / "kiosk/ui/locale").rglob("*.toml")}  # the panel's, per language
    assert len(shipped) > 10 and shipped <= names, sorted(shipped - names)
    data = {name.split("/data/", 1)[1] for name in names if ".data/data/" in name}
    procedures = {f"share/gatehouse-kiosk/sop/{p.name}"
                  for p in (ROOT / "config/sop").glob("*.toml")}
    assert procedures and procedures <= data, sorted(procedures - data)
    assert "share/gatehouse-kiosk/kiosk.example.toml" in data
