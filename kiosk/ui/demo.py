"""A stand-in for the core with realistic answers, for the screenshots and the UI bench.

It has :class:`kiosk.ui.client.CoreClient`'s methods and answers at once, so pictures of
every screen can be made anywhere, without a core, a thermometer or a network. Tests use
the real core instead.
"""

from __future__ import annotations

import itertools
import threading

from kiosk.ui.client import ApiError, CoreUnreachable
from kiosk.watchlist import short_name

GUESTS = (
    {"id": 41, "badge": "TAMU-03", "name": "Rahmat Hidayat", "host": "Sekretaris",
     "status": "admitted"},
    {"id": 42, "badge": "TAMU-05", "name": "Siti Nurhaliza Putri", "host": "Kasubbag Umum",
     "status": "admitted"},
    {"id": 43, "badge": "TAMU-06", "name": "Sukarmi", "host": "Bagian Keuangan",
     "status": "awaiting_host"},
    {"id": 44, "badge": "TAMU-07", "name": "Andi Wijaya Kusuma", "host": "Ketua KPU",
     "status": "awaiting_host"},
)
INVITATION = {"kind": "invitation", "code": "K7QM3XW9PB2D", "valid_on": "2026-11-23",
              "name": "Siti Aminah", "institution": "Bawaslu Kabupaten Subang",
              "purpose": "Rapat koordinasi pemutakhiran data pemilih", "host": "Kasubbag Teknis"}


class DemoCore:
    """Canned answers; flip ``reachable``, ``sensor`` or ``celsius`` to show other states."""

    def __init__(self, *, celsius: float = 36.7, threshold: float = 37.5) -> None:
        self.reachable = True
        self.evacuating = False
        self.sensor = True
        self.celsius = celsius
        self.threshold = threshold
        self.visits = [dict(g) for g in GUESTS]
        self._ids = itertools.count(45)
        self._lock = threading.Lock()

    def _up(self) -> None:
        if not self.reachable:
            raise CoreUnreachable("the demo core is switched off")

    def close(self) -> None:
        pass

    def health(self, timeout: float = 4.0) -> dict:
        self._up()
        return {"ok": True, "simulated": True}

    def staff(self) -> list[tuple[str, str]]:
        self._up()
        return []  # the screens keep the config's directory

    def login(self, pin: str) -> dict:
        self._up()
        if pin != "1234":
            raise ApiError(401, "wrong PIN")
        return {"token": "demo-token", "name": "Petugas Simulasi", "role": "guard"}

    def measure_temperature(self) -> dict:
        self._up()
        if not self.sensor:
            raise ApiError(503, "thermometer unavailable (demo): measure by hand")
        return {"celsius": self.celsius, "ok": self.celsius < self.threshold,
                "threshold_c": self.threshold}

    def resolve_code(self, payload: str) -> dict:
        self._up()
        if payload.startswith("GK1:INV:"):
            return INVITATION
        for visit in self.visits:
            if payload == visit["badge"]:
                return {"kind": "badge", "badge": visit["badge"], "visit_id": visit["id"],
                        "name": short_name(visit["name"]), "host": visit["host"]}
        raise ApiError(404, "unknown code")

    def create_visit(self, body: dict, *, token: str | None = None) -> dict:
        self._up()
        with self._lock:
            visit = {"id": next(self._ids), "badge": f"TAMU-{len(self.visits) + 4:02d}",
                     "status": "awaiting_host", "name": body["name"], "host": body["host"]}
            self.visits.append(visit)
        return {**{k: visit[k] for k in ("id", "badge", "status")},
                "pass_payload": f"GK1:PASS:{visit['id']}:3f9a0c6d2b7e81f4a5c0"}

    def on_site(self) -> list[dict]:
        self._up()
        return [{**v, "name": short_name(v["name"])} for v in self.visits]  # as to the public

    def checkout(self, visit_id) -> dict:
        self._up()
        self.visits = [v for v in self.visits if str(v["id"]) != str(visit_id)]
        return {"id": visit_id, "status": "checked_out"}

    def checkout_badge(self, badge: str) -> dict:
        self._up()
        self.visits = [v for v in self.visits if v["badge"] != badge]
        return {"badge": badge, "status": "checked_out"}

    def rollcall(self) -> dict:
        self._up()
        if not self.evacuating:
            return {"active": False, "people": []}
        people = [{"kind": "guard", "id": 1, "name": "Agus Salim", "role": "guard",
                   "checked": True, "party_size": 1}]
        people += [{"kind": "guest", "id": v["id"], "badge": v["badge"],
                    "name": short_name(v["name"]), "host": v["host"],
                    "party_size": 2 if v["id"] == 42 else 1, "checked": v["id"] == 41}
                   for v in self.visits]
        return {"active": True, "id": 1, "alarm_id": 7, "code": "fire",
                "opened_at": "2026-11-23T14:02:00+07:00", "people": people,
                "checked": sum(p["checked"] for p in people), "total": len(people)}

    def rollcall_check(self, kind: str, ref, *, token: str) -> dict:
        self._up()
        return {"kind": kind, "id": ref, "checked": True}

