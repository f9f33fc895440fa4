"""Serial-scanner codes travel core -> API -> the UI's scanner, without Kivy."""

import threading
import time

from conftest import at
from fastapi.testclient import TestClient

from kiosk.core.api import create_app
from kiosk.ui import poll_serial_scanner
from kiosk.ui.client import CoreClient


class FedScanner:
    def __init__(self):
        self.fed = []

    def feed(self, payload, source="serial"):
        self.fed.append((payload, source))


def test_codes_scanned_after_the_ui_started_reach_it(post):
    core = post(at(10, 0)).start()
    http = TestClient(create_app(core))
    core.hw.sim.scanner.scan("OLD-CODE")  # read before the UI started: must not act
    deadline = time.monotonic() + 5
    while not core.scanned.after(0) and time.monotonic() < deadline:
        time.sleep(0.02)
    client = CoreClient("http://testserver")
    client._http = http
    scanner, stop = FedScanner(), threading.Event()
    poller = threading.Thread(target=poll_serial_scanner, args=(client, scanner, stop, 0.05))
    poller.start()
    try:
        time.sleep(0.3)
        core.hw.sim.scanner.scan("GK1:INV:ABCDEFGHJKLM")
        deadline = time.monotonic() + 5
        while not scanner.fed and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        poller.join(2)
    assert scanner.fed == [("GK1:INV:ABCDEFGHJKLM", "serial")]
