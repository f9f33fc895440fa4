"""kill -9 of the real core process during a burst of API writes, many rounds."""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from kiosk.store import Logbook, Store

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_core(data_dir, port):
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir), "core", "--simulate",
         "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(base, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("core did not come up")


def test_no_acknowledged_write_is_lost_to_kill_9(tmp_path):
    rng = random.Random(7)
    acknowledged: list[int] = []
    for _ in range(6):
        port = free_port()
        base = f"http://127.0.0.1:{port}/api/v1"
        proc = start_core(tmp_path, port)
        wait_ready(base, proc)
        token = httpx.post(f"{base}/guard/login", json={"pin": "1234"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        stop = threading.Event()

        def write(stop=stop, base=base, headers=headers):
            with httpx.Client(timeout=2) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        response = client.post(f"{base}/logbook", headers=headers,
                                               json={"category": "tes", "text": f"entri {n}"})
                    except httpx.HTTPError:
                        return
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])

        writers = [threading.Thread(target=write) for _ in range(3)]
        for writer in writers:
            writer.start()
        time.sleep(rng.uniform(0.3, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for writer in writers:
            writer.join()

    assert len(acknowledged) > 50
    store = Store(tmp_path / "kiosk.db", now=lambda: None, recover=False).open()
    with store.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT id FROM logbook")}
    assert set(acknowledged) <= stored
    assert Logbook(store).verify().ok
    store.close()
