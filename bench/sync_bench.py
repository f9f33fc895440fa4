"""Backlog sync to hq on loopback: events per second (hq on SQLite and on PostgreSQL), and
the kiosk's CPU per 1,000 events.

hq runs as its own process (``kiosk hq``), so this process's CPU time is the kiosk's side
alone: reading the outbox, encoding batches, HTTP, marking events sent with one fsync'd
commit per batch. Baselines measured in the same run: the same events inserted into a local
SQLite table with one ``executemany`` (the cheapest durable copy there is), and a JSON
encode and decode of the same events (the floor of any wire format that carries them).
PostgreSQL is measured when ``KIOSK_BENCH_POSTGRES`` (or ``KIOSK_TEST_POSTGRES``) names a
server, e.g. ``postgresql://kiosk:kiosk@127.0.0.1/kiosk_test``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.core_bench import free_port  # noqa: E402
from bench.perfdoc import cpu_model, write_section  # noqa: E402
from kiosk.config import parse  # noqa: E402
from kiosk.store import Store  # noqa: E402
from kiosk.sync import Link, Sync  # noqa: E402

WIB = ZoneInfo("Asia/Jakarta")


def now() -> dt.datetime:
    return dt.datetime.now(WIB)


def payload(i: int) -> dict:
    """Events shaped like the kiosk's: a guest's visit, or an incident-book entry."""
    if i % 3:
        return {"id": i, "ts": now().isoformat(), "category": "tamu", "actor": "kiosk",
                "text": f"Tamu #{i} (kartu TAMU-{i % 40:02d}) untuk Sekretaris terdaftar",
                "corrects": None, "prev_hash": "ab" * 32, "hash": "cd" * 32}
    return {"id": i, "badge": f"TAMU-{i % 40:02d}", "status": "awaiting_host",
            "host": "Sekretaris", "party_size": 1, "name": "Budi Santoso",
            "institution": "PT Maju Jaya", "phone": "+6281234567890", "purpose": "Rapat",
            "id_type": "KTP", "id_masked": "************8901", "temperature_c": 36.6,
            "temperature_source": "sensor", "created_at": now().isoformat()}


def fill(store: Store, n: int) -> None:
    with store.transaction() as conn:
        for i in range(n):
            store.emit(conn, "visit.registered" if i % 3 == 0 else "logbook.appended",
                       payload(i))


def start_hq(tmp: Path, database: str | None) -> tuple[subprocess.Popen, str, str]:
    base = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp)]
    db = ["--database", database] if database else []
    name = f"bench-{uuid.uuid4().hex[:8]}"
    added = subprocess.run([*base, "hq", *db, "add-kiosk", name], cwd=ROOT, check=True,
                           capture_output=True, text=True)
    token = added.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen([*base, "hq", *db, "--listen", f"127.0.0.1:{port}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return proc, url, token
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("hq did not start") from None
            time.sleep(0.1)


def sync_run(tmp: Path, n: int, database: str | None) -> tuple[float, float]:
    """(events per second, kiosk CPU seconds) for one backlog of ``n`` events."""
    proc, url, token = start_hq(tmp, database)
    try:
        name = uuid.uuid4().hex[:6]  # payloads sealed at rest, as on a kiosk
        store = Store(tmp / f"kiosk-{name}.db", now=now, key_file=tmp / f"{name}.key")
        store.open()
        fill(store, n)
        settings = parse(f'[sync]\nurl = "{url}"\ntoken = "{token}"\n')
        sync = Sync(store, settings, now=now, link=Link(url, token))
        wall, cpu = time.perf_counter(), time.process_time()
        sync.push()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert sync.backlog() == 0
        store.close()
        return n / wall, cpu
    finally:
        proc.terminate()
        proc.wait(10)


def baseline_insert(tmp: Path, n: int) -> float:
    """Events per second for one executemany of the same events into a local table."""
    conn = sqlite3.connect(tmp / "baseline.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (event_id TEXT PRIMARY KEY, kind TEXT, payload TEXT)")
    rows = [(uuid.uuid4().hex, "x", json.dumps(payload(i))) for i in range(n)]
    started = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def baseline_json(n: int) -> float:
    events = [payload(i) for i in range(n)]
    started = time.process_time()
    json.loads(json.dumps(events))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    postgres = os.environ.get("KIOSK_BENCH_POSTGRES") or os.environ.get("KIOSK_TEST_POSTGRES")
    n = args.events
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        sqlite_rate, sqlite_cpu = sync_run(tmp, n, None)
        pg = sync_run(tmp, n, postgres) if postgres else None
        insert_rate = baseline_insert(tmp, n)
    json_cpu = baseline_json(n)
    per_k = lambda cpu: cpu / n * 1000 * 1000  # noqa: E731  (ms per 1,000 events)
    rows = [
        "| measure | value | baseline (same run) | ratio |",
        "|---|---:|---:|---:|",
        f"| backlog of {n:,} events to hq on SQLite | {sqlite_rate:,.0f} events/s | one "
        f"local `executemany`: {insert_rate:,.0f} events/s | {sqlite_rate / insert_rate:.2f}x |",
    ]
    if pg:
        rows.append(f"| backlog of {n:,} events to hq on PostgreSQL | {pg[0]:,.0f} events/s | "
                    f"{insert_rate:,.0f} events/s | {pg[0] / insert_rate:.2f}x |")
    else:
        rows.append("| backlog to hq on PostgreSQL | not measured: set KIOSK_BENCH_POSTGRES "
                    "| - | - |")
    rows.append(f"| kiosk CPU per 1,000 events (hq on SQLite) | {per_k(sqlite_cpu):.0f} ms | "
                f"JSON encode + decode: {per_k(json_cpu):.1f} ms | "
                f"{sqlite_cpu / json_cpu:.0f}x |")
    body = (
        "## Sync to hq (`bench/sync_bench.py`)\n\n"
        f"Run {dt.date.today()} with `.venv/bin/python bench/sync_bench.py` on {cpu_model()}, "
        f"{os.cpu_count()} cores; Python {sys.version.split()[0]}. hq (`kiosk hq`) runs as its "
        "own process on 127.0.0.1, plain HTTP; the kiosk pushes a backlog of events shaped "
        "like its own (a third guests' visits, the rest incident-book entries) in batches of "
        "500, each batch stored by hq in one transaction and then marked sent on the kiosk "
        "in one fsync'd commit. The kiosk's CPU is this process's alone, opening each "
        "event's sealed payload (AES-256-GCM) included. An office writes "
        "a few hundred events a day, so a week offline is a backlog of a few thousand: "
        "seconds to send.\n\n" + "\n".join(rows))
    print(body)
    if not args.no_doc:
        write_section("sync", body)


if __name__ == "__main__":
    main()
