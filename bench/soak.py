"""A week at the post in minutes: the real core, hq and a scripted post on a fast clock.

The core (``kiosk core``) and hq (``kiosk hq``) run as the processes systemd would start, on
simulated hardware; this script is everyone else. Guests arrive on a two-peak working-day
curve (fewer at the weekend), measure their temperature, register, are admitted and check
out, and some overstay until the evening sweep or run a fever. Guards hand over at 08.00 and
17.00, tick the SOP tasks, walk the night patrols, write the book, raise alarms with the
panic button and the panel, acknowledge and clear them. Meanwhile the core is SIGKILLed at
random moments and restarted (as systemd would), hq is down for most of a day, the
thermometer's wire comes loose for a morning and the modem loses power during an alarm.

At the end the script checks, from the kiosk's database and hq's: every relay boundary
switched exactly once and on time (or at the restart, if the core was dead at the time);
nothing switched without a cause; every visit, incident-book entry and alarm at hq exactly
once; both copies of the incident book's chain intact; no guest badge lost or worn twice;
every alarm SMS delivered in the end; and the core's memory flat over its last, longest life.

    python bench/soak.py                       # a week at 1000x: about 11 minutes
    python bench/soak.py --days 2 --speed 2000 # the test suite's short run
    python bench/soak.py --keep /tmp/soak      # keep the databases and logs to look at

Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import math
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk import schedule  # noqa: E402
from kiosk.config import parse  # noqa: E402

WIB = ZoneInfo("Asia/Jakarta")
START = dt.datetime(2026, 12, 7, 0, 0, tzinfo=WIB)  # a Monday
KIOSK_NAME = "Pos Jaga Soak"
GUARDS = {"pagi": ("Budi Santoso", "1357"), "malam": ("Asep Sunandar", "2468")}
ADMIN = ("Dedi Kurnia", "9753")
FEVER_C = (37.9, 38.6)
RELAY_ALARMS = ("fire", "evacuation", "disaster")
# The new kiosk flags missed patrols from its first minutes on; the night guard walks those due
# from 01.00 on the first night (the ones before were the old paper book's business).
PATROLS_FROM = START + dt.timedelta(hours=1)
LATE_MS = 250  # a relay switch later than this, in real milliseconds, is not on time


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Life:
    """One run of the core process, from start to SIGKILL (or the final stop)."""

    pid: int
    started_sim: dt.datetime
    killed_sim: dt.datetime | None = None
    rss: list[tuple[float, int]] = field(default_factory=list)  # (sim seconds, KiB)


class Timeline:
    """Simulated time as the running core sees it: re-anchored on its clock at each start."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._lock = threading.Lock()
        self._sim: dt.datetime = START
        self._real = time.monotonic()

    def anchor(self, sim: dt.datetime, real: float) -> None:
        with self._lock:
            self._sim, self._real = sim, real

    def now(self) -> dt.datetime:
        with self._lock:
            return self._sim + dt.timedelta(seconds=(time.monotonic() - self._real) * self.speed)

    def sleep_until(self, sim: dt.datetime, stop: threading.Event) -> bool:
        while not stop.is_set():
            left = (sim - self.now()).total_seconds() / self.speed
            if left <= 0:
                return True
            stop.wait(min(left, 0.5))
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kiosk(*args: str, data_dir: Path, config: Path | None = None, stdin: str | None = None,
          check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir)]
    if config:
        command += ["--config", str(config)]
    return subprocess.run([*command, *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, check=check, env=_env())


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("GPIOZERO_PIN_FACTORY", "KIOSK_CONFIG", "KIOSK_DATA_DIR")}


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Hq:
    """``kiosk hq`` on a fixed port, stopped and started again for the outage."""

    def __init__(self, work: Path) -> None:
        self.data = work / "hq"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = open(work / "hq.log", "ab")  # noqa: SIM115 - open for the whole run

    def add_kiosk(self, name: str) -> str:
        return kiosk("hq", "add-kiosk", name, data_dir=self.data).stdout.strip().splitlines()[-1]

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--data-dir", str(self.data), "hq",
             "--listen", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=_env(), stdout=self.log, stderr=self.log)
        wait_for(f"{self.url}/health", self.proc, "hq")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None


def wait_for(url: str, proc: subprocess.Popen, what: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}; see its log")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")


class CoreProcess:
    """``kiosk core`` on a simulated clock, killed with SIGKILL and restarted like systemd."""

    def __init__(self, work: Path, config: Path, timeline: Timeline) -> None:
        self.work, self.config, self.timeline = work, config, timeline
        self.data = work / "kiosk"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.proc: subprocess.Popen | None = None
        self.lives: list[Life] = []
        self.up = threading.Event()
        self.log = open(work / "core.log", "ab")  # noqa: SIM115 - open for the whole run
        # The simulated devices live in the core: a new one starts healthy, so the faults
        # in force are set again before anyone may use it.
        self.faults: dict[str, bool] = {}
        self.faults_lock = threading.Lock()

    def set_fault(self, name: str, value: bool) -> None:
        with self.faults_lock:
            self.faults[name] = value
            if self.up.is_set():
                try:
                    httpx.post(f"{self.base}/sim/faults", json={name: value}, timeout=15
                               ).raise_for_status()
                except httpx.TransportError:
                    pass  # killed meanwhile: its successor gets self.faults as it starts

    def start(self, at: dt.datetime) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--config", str(self.config), "--data-dir",
             str(self.data), "core", "--simulate", "--clock", at.isoformat(),
             "--speed", str(self.timeline.speed), "--listen", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=_env(), stdout=self.log, stderr=self.log)
        health = wait_for(f"{self.base}/health", self.proc, "the core")
        self.timeline.anchor(dt.datetime.fromisoformat(health.json()["now"]),
                             time.monotonic() - health.elapsed.total_seconds() / 2)
        self.lives.append(Life(self.proc.pid, at))
        with self.faults_lock:
            if self.faults:
                httpx.post(f"{self.base}/sim/faults", json=self.faults, timeout=15
                           ).raise_for_status()
            self.up.set()

    def kill(self) -> dt.datetime:
        with self.faults_lock:
            self.up.clear()
        at = self.timeline.now()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.lives[-1].killed_sim = at
        return at

    def stop(self) -> None:
        self.up.clear()
        if self.proc and self.proc.poll() is None:
            self.lives[-1].killed_sim = self.timeline.now()
            self.proc.terminate()
            self.proc.wait(30)

    def sample_memory(self) -> None:
        life = self.lives[-1] if self.lives else None
        if life is None or not self.up.is_set():
            return
        kib = rss_kib(life.pid)
        if kib:
            life.rss.append(((self.timeline.now() - START).total_seconds(), kib))


class Client:
    """What the touchscreen and the guard panel send, with a guard logged in on demand.

    While the core is dead every call waits for it to come back (the screen says "contact
    the guard" meanwhile). A request whose answer was lost may have been done: it is sent
    again, and an answer that says it was already done (409) counts as done.
    """

    def __init__(self, core: CoreProcess, stop: threading.Event, errors: list[str]) -> None:
        self.core, self.stop, self.errors = core, stop, errors
        self.http = httpx.Client(timeout=15)
        self.tokens: dict[str, str] = {}
        self.lost_answers = Counter()

    def call(self, method: str, path: str, *, as_guard: str | None = None,
             ok=(200, 201, 202, 204), **kwargs) -> httpx.Response | None:
        for _ in range(200):
            if self.stop.is_set():
                return None
            self.core.up.wait(30)
            headers = {}
            if as_guard:
                headers["Authorization"] = f"Bearer {self.token(as_guard)}"
            try:
                response = self.http.request(method, self.core.base + path, headers=headers,
                                             **kwargs)
            except httpx.ConnectError:
                time.sleep(0.05)
                continue
            except httpx.TransportError:
                self.lost_answers[path.split("/")[1]] += 1
                time.sleep(0.05)
                continue
            if response.status_code == 401 and as_guard:
                self.tokens.pop(as_guard, None)  # session ended (idle, restart, handover)
                continue
            if response.status_code >= 500 and not (response.status_code == 503
                                                    and path == "/temperature"):
                self.errors.append(f"{method} {path}: {response.status_code} {response.text}")
            return response
        raise RuntimeError(f"{method} {path}: the core did not come back")

    def token(self, pin: str) -> str:
        if pin not in self.tokens:
            response = self.call("POST", "/guard/login", json={"pin": pin})
            response.raise_for_status()
            self.tokens[pin] = response.json()["token"]
        return self.tokens[pin]


def curve_arrivals(rng: random.Random, day: dt.date) -> list[dt.datetime]:
    """Guests of one day: a morning and an early-afternoon peak, few at the weekend."""
    weekend = day.weekday() >= 5
    count = rng.randint(3, 7) if weekend else rng.randint(28, 42)
    times = []
    for _ in range(count):
        hour = rng.gauss(9.3, 1.0) if rng.random() < 0.6 else rng.gauss(13.5, 1.1)
        hour = min(max(hour, 7.5), 16.4)
        times.append(dt.datetime.combine(day, dt.time(), WIB) + dt.timedelta(hours=hour))
    return sorted(times)


class Post:
    """The scripted people and faults, as a queue of timed actions in simulated time."""

    def __init__(self, args, work: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)  # the plan, drawn before anyone acts
        # Each actor draws from its own generator: the same seed, the same week.
        self.lobby_rng = random.Random(args.seed * 3 + 1)
        self.guard_rng = random.Random(args.seed * 3 + 2)
        self.panic_rng = random.Random(args.seed * 3 + 3)
        self.followed: set[int] = set()
        self.work = work
        self.end = START + dt.timedelta(days=args.days)
        self.timeline = Timeline(args.speed)
        self.stop = threading.Event()
        # Two people act at once: the lobby (guests at the kiosk) and the guard.
        self.queues: dict[str, list[tuple[dt.datetime, int, Callable[[], None]]]] = {
            "lobby": [], "guard": []}
        self._queue_lock = threading.Lock()
        self._n = 0
        self.notes = Counter()
        self.on_site: dict[int, str] = {}  # visit id -> badge
        self.fault_windows: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        self.hq_outage: tuple[dt.datetime, dt.datetime] | None = None
        self.kills: list[dt.datetime] = []
        self.sensor_refusals: list[tuple[dt.datetime, str]] = []
        self.sensor_readings: list[dt.datetime] = []
        self.skipped_patrols: set[str] = set()
        self.errors: list[str] = []

    # -- set-up ------------------------------------------------------------------------------

    def setup(self) -> None:
        self.hq = Hq(self.work)
        token = self.hq.add_kiosk(KIOSK_NAME)
        token_file = self.work / "hq.token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        self.config_path = self.work / "kiosk.toml"
        self.config_path.write_text(soak_config(self.hq.url, token_file))
        self.settings = parse(self.config_path.read_text())
        data = self.work / "kiosk"
        for name, pin in GUARDS.values():
            kiosk("guard", "add", name, "--pin-stdin", data_dir=data, config=self.config_path,
                  stdin=pin + "\n")
        kiosk("guard", "add", ADMIN[0], "--admin", "--pin-stdin", data_dir=data,
              config=self.config_path, stdin=ADMIN[1] + "\n")
        self.hq.start()
        self.core = CoreProcess(self.work, self.config_path, self.timeline)
        self.core.start(START)
        self.client = Client(self.core, self.stop, self.errors)  # the guard's panel
        self.lobby = Client(self.core, self.stop, self.errors)  # the touchscreen in the lobby

    # -- the plan ----------------------------------------------------------------------------

    def at(self, when: dt.datetime, action: Callable[[], None], who: str = "guard") -> None:
        if START <= when < self.end:
            with self._queue_lock:
                self._n += 1
                heapq.heappush(self.queues[who], (when, self._n, action))

    def plan(self) -> None:
        rng, days = self.rng, self.args.days
        for d in range(days):
            day = (START + dt.timedelta(days=d)).date()
            self.plan_day(day)
        # Faults: a morning without the thermometer, a midday without the modem (and a fire
        # alarm in it), a day without hq, and the core killed about once a day.
        fault_day = START + dt.timedelta(days=min(1, days - 1))
        self.fault_windows["thermometer"] = (fault_day + dt.timedelta(hours=8, minutes=30),
                                             fault_day + dt.timedelta(hours=11, minutes=30))
        self.fault_windows["modem"] = (fault_day + dt.timedelta(hours=13),
                                       fault_day + dt.timedelta(hours=16))
        self.at(fault_day + dt.timedelta(hours=13, minutes=20), lambda: self.alarm("fire"))
        outage_start = START + dt.timedelta(days=days * 0.35)
        outage = min(dt.timedelta(days=1), dt.timedelta(days=days * 0.3))
        self.hq_outage = (outage_start, outage_start + outage)
        # The last stretch runs undisturbed: the core's memory is measured over it.
        quiet = dt.timedelta(days=2) if days >= 4 else dt.timedelta(days=days / 2)
        span = (self.end - quiet - START).total_seconds() - 2 * 3600
        self.kills = sorted(START + dt.timedelta(seconds=3600 + rng.uniform(0, span))
                            for _ in range(max(2, days)))

    def plan_day(self, day: dt.date) -> None:
        rng = self.rng
        midnight = dt.datetime.combine(day, dt.time(), WIB)

        def t(hour: float, jitter_min: float = 0) -> dt.datetime:
            return midnight + dt.timedelta(hours=hour, minutes=rng.uniform(0, jitter_min))

        # Shifts: the night guard hands over at 08.00, the day guard at 17.00.
        self.at(t(7.95, 8), lambda: self.handover(GUARDS["malam"], GUARDS["pagi"]))
        self.at(t(16.95, 8), lambda: self.handover(GUARDS["pagi"], GUARDS["malam"]))
        for task_id, hour, pin in (("flag_raise", 6.0, "malam"), ("flag_lower", 17.0, "malam"),
                                   ("rooms_locked", 17.6, "malam"),
                                   ("guests_out", 21.1, "malam")):
            self.at(t(hour, 10), lambda i=task_id, p=GUARDS[pin][1], d=day: self.task(i, d, p))
        self.at(t(20.9, 5), lambda: self.sweep(GUARDS["malam"][1]))
        self.at(t(7.2, 20), lambda: self.sweep(GUARDS["malam"][1]))  # badges left overnight
        for hour in (22, 1, 4):
            self.at(t(hour, 30), lambda: self.write_book(GUARDS["malam"][1],
                                                         "Situasi aman terkendali"))
        self.at(t(12, 60), lambda: self.write_book(GUARDS["pagi"][1], "Apel siang, aman"))
        first_night = range(10, 6 * 60, 20) if day == START.date() else range(0)
        for minute in [*first_night, *range(21 * 60 + 10, 30 * 60, 20)]:
            # The night guard looks at the due patrols every 20 minutes.
            self.at(t(minute / 60), lambda: self.patrol(GUARDS["malam"][1]))
        for arrival in curve_arrivals(rng, day):
            self.at(arrival, lambda a=arrival: self.guest(a), "lobby")
        # Alarms: the panic button most days, a fire drill mid-day now and then.
        if rng.random() < 0.7 or day == START.date():
            self.at(t(rng.uniform(9, 15.5)), lambda: self.panic_hold())
        if rng.random() < 0.35:
            self.at(t(rng.uniform(10, 15)), lambda: self.alarm("fire"))

    # -- the people --------------------------------------------------------------------------

    def guest(self, arrival: dt.datetime) -> None:
        rng = self.lobby_rng
        fever = rng.random() < 0.05
        celsius = round(rng.uniform(*FEVER_C) if fever else rng.uniform(36.1, 37.2), 1)
        lobby = self.lobby
        lobby.call("POST", "/sim/temperature", json={"celsius": celsius})
        reading = lobby.call("POST", "/temperature")
        if reading is None:
            return
        if reading.status_code == 503:  # thermometer down: the guard measures by hand
            self.sensor_refusals.append((self.timeline.now(), reading.json()["detail"]))
            body_temp, source = celsius, "manual"
        else:
            self.sensor_readings.append(self.timeline.now())
            body_temp, source = reading.json()["celsius"], "sensor"
        self.notes["guests"] += 1
        n = self.notes["guests"]
        body = dict(name=f"Tamu Soak {n}", institution=rng.choice(
            ["PT Maju Jaya", "Dinas Pendidikan", "Bawaslu", "Warga", "CV Sinar"]),
            phone=f"+62 812 {1000 + n:04d} {rng.randint(1000, 9999)}",
            purpose=rng.choice(["Rapat", "Antar surat", "Konsultasi", "Audiensi"]),
            host=rng.choice([s.name for s in self.settings.visits.staff]),
            party_size=rng.choice([1, 1, 1, 2, 3]), id_type="KTP",
            id_number=f"{3213000000000000 + n}", temperature_c=body_temp,
            temperature_source=source, consent=True)
        # A hand reading is the guard's to enter, at the kiosk with the guard's PIN.
        response = lobby.call("POST", "/visits", json=body,
                                    as_guard=GUARDS["pagi"][1] if source == "manual" else None)
        if response is None:
            return
        if response.status_code != 201:
            self.errors.append(f"registration refused: {response.status_code} {response.text}")
            return
        visit = response.json()
        self.on_site[visit["id"]] = visit["badge"]
        guard = GUARDS["pagi"][1]
        decide = arrival + dt.timedelta(minutes=rng.uniform(2, 10))
        if visit["status"] == "held":  # fever: the guard sends them home
            self.notes["held"] += 1
            self.at(decide, lambda: self.decide(visit["id"], "deny", guard))
            return
        self.at(decide, lambda: self.decide(visit["id"], "admit", guard))
        if rng.random() < 0.1:
            self.notes["overstayed"] += 1  # forgets to check out: the evening sweep finds them
            return
        stay = dt.timedelta(minutes=min(rng.lognormvariate(math.log(55), 0.6), 400))
        self.at(arrival + stay, lambda: self.checkout(visit), "lobby")

    def decide(self, visit_id: int, verdict: str, pin: str) -> None:
        response = self.client.call("POST", f"/visits/{visit_id}/{verdict}", as_guard=pin)
        if response is not None and verdict == "deny" and response.status_code == 200:
            self.on_site.pop(visit_id, None)

    def checkout(self, visit: dict) -> None:
        response = self.lobby.call("POST", f"/badges/{visit['badge']}/checkout")
        if response is not None and response.status_code in (200, 409):
            self.on_site.pop(visit["id"], None)

    def sweep(self, pin: str) -> None:
        """The guard's round of the lobby: everyone still inside is seen out."""
        response = self.client.call("GET", "/visits?on_site=true")
        if response is None:
            return
        for visit in response.json()["visits"]:
            done = self.client.call("POST", f"/visits/{visit['id']}/checkout", as_guard=pin)
            if done is not None and done.status_code in (200, 409):
                self.on_site.pop(visit["id"], None)
                self.notes["swept"] += 1

    def handover(self, outgoing: tuple[str, str], incoming: tuple[str, str]) -> None:
        response = self.client.call("POST", "/handover", as_guard=outgoing[1],
                                    json={"incoming_pin": incoming[1], "note": "Aman"})
        if response is not None and response.status_code == 201:
            self.client.tokens.pop(outgoing[1], None)
            self.client.tokens[incoming[1]] = response.json()["token"]
            self.notes["handovers"] += 1

    def task(self, task_id: str, day: dt.date, pin: str) -> None:
        response = self.client.call("POST", f"/tasks/{day.isoformat()}:{task_id}/done",
                                    as_guard=pin)
        if response is not None and response.status_code == 200:
            self.notes["tasks done"] += 1

    def write_book(self, pin: str, text: str) -> None:
        response = self.client.call("POST", "/logbook", as_guard=pin,
                                    json={"category": "situasi", "text": text})
        if response is not None and response.status_code == 201:
            self.notes["book entries"] += 1

    def patrol(self, pin: str) -> None:
        """Walk the patrol that is due now, if any (one in eight is forgotten)."""
        tasks = self.client.call("GET", "/tasks")
        if tasks is None:
            return
        due = [t for t in tasks.json()["tasks"] if t["kind"] == "patrol"
               and t["status"] in ("due", "overdue") and t["id"] not in self.skipped_patrols
               and dt.datetime.fromisoformat(t["due_at"]) >= PATROLS_FROM]
        for task in due:
            if self.guard_rng.random() < 0.125:
                self.skipped_patrols.add(task["id"])
                self.notes["patrols skipped"] += 1
                continue
            started = self.client.call("POST", "/patrols", as_guard=pin,
                                       json={"task_id": task["id"]})
            if started is None:
                return
            if started.status_code == 201:
                round_id = started.json()["id"]
            else:  # a resent start after a lost answer: the round is open already
                rounds = self.client.call("GET", "/patrols", as_guard=pin).json()["rounds"]
                mine = [r for r in rounds if r.get("task_id") == task["id"]
                        and not r.get("finished_at")]
                if not mine:
                    self.errors.append(f"patrol {task['id']}: {started.text}")
                    continue
                round_id = mine[0]["id"]
            checkpoints = self.client.call("GET", "/patrols/checkpoints", as_guard=pin)
            for checkpoint in checkpoints.json()["checkpoints"]:
                self.client.call("POST", f"/patrols/{round_id}/checkpoints", as_guard=pin,
                                 json={"payload": checkpoint["payload"]})
            self.client.call("POST", f"/patrols/{round_id}/finish", as_guard=pin, json={})
            self.notes["patrols walked"] += 1

    def alarm(self, code: str) -> None:
        lost = sum(self.client.lost_answers.values())
        response = self.client.call("POST", "/alarms", as_guard=GUARDS["pagi"][1],
                                    json={"code": code})
        if response is None or response.status_code != 201:
            self.errors.append(f"raising {code}: {response and response.text}")
            return
        self.follow_up(response.json()["id"], self.guard_rng)
        if sum(self.client.lost_answers.values()) != lost:  # the first try may have landed
            active = self.client.call("GET", "/alarms/active")
            for alarm in active.json()["alarms"] if active else []:
                if alarm["code"] == code:
                    self.follow_up(alarm["id"], self.guard_rng)

    def panic_hold(self) -> None:
        """Someone at the post holds the panic button (crime), beside the guard's work: the
        hold is in real seconds, hours of simulated time."""
        threading.Thread(target=self.guarded(self._hold_button), daemon=True,
                         name="panic").start()

    def _hold_button(self) -> None:
        button = Client(self.core, self.stop, self.errors)
        hold = self.settings.panic_button.hold_seconds
        for _ in range(3):  # a core killed during the hold never felt it: hold it again
            life = len(self.core.lives)
            button.call("POST", "/sim/button", json={"action": "press"})
            time.sleep(hold + 0.3)
            button.call("POST", "/sim/button", json={"action": "release"})
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not self.stop.is_set():
                active = button.call("GET", "/alarms/active")
                if active is None:
                    return
                crimes = [a for a in active.json()["alarms"] if a["code"] == "crime"]
                if crimes:
                    self.notes["panic button"] += 1
                    self.follow_up(crimes[0]["id"], self.panic_rng)
                    return
                time.sleep(0.05)
            if len(self.core.lives) == life:
                break
        self.errors.append("holding the panic button raised no crime alarm")

    def follow_up(self, alarm_id: int, rng: random.Random) -> None:
        if alarm_id in self.followed:
            return
        self.followed.add(alarm_id)
        now = self.timeline.now()
        pin = GUARDS["pagi"][1]
        ack = now + dt.timedelta(minutes=rng.uniform(1, 6))
        clear = ack + dt.timedelta(minutes=rng.uniform(10, 50))
        self.at(ack, lambda: self.client.call("POST", f"/alarms/{alarm_id}/ack", as_guard=pin))
        self.at(clear, lambda: self.client.call("POST", f"/alarms/{alarm_id}/clear",
                                                as_guard=pin))
        self.notes["alarms"] += 1

    # -- running -----------------------------------------------------------------------------

    def run(self) -> None:
        threads = [threading.Thread(target=self.guarded(target), daemon=True, name=name)
                   for target, name in ((self._killer, "killer"), (self._faults, "faults"),
                                        (self._sampler, "sampler"))]
        for thread in threads:
            thread.start()
        lobby = threading.Thread(target=self.guarded(lambda: self._act("lobby")), name="lobby")
        lobby.start()
        try:
            self._act("guard")
        finally:
            lobby.join()
            self.stop.set()
            for thread in threads:
                thread.join(30)

    def guarded(self, target: Callable[[], None]) -> Callable[[], None]:
        """A thread's body that reports its failure and ends the run, instead of dying mute."""
        def run() -> None:
            try:
                target()
            except Exception as exc:
                self.errors.append(f"{threading.current_thread().name}: "
                                   f"{type(exc).__name__}: {exc}")
                self.stop.set()
        return run

    def _act(self, who: str) -> None:
        """Do each of ``who``'s actions when its time comes (late if the last one ran long)."""
        queue = self.queues[who]
        while not self.stop.is_set():
            now = self.timeline.now()
            with self._queue_lock:
                due = queue[0][0] if queue else None
                if due is not None and due <= now:
                    _, _, action = heapq.heappop(queue)
            if due is None and now >= self.end:
                return
            if due is None or due > now:
                self.stop.wait(0.02)
                continue
            try:
                action()
            except Exception as exc:  # one person's mishap must not end the week
                self.errors.append(f"{who}: {type(exc).__name__}: {exc}")

    def _killer(self) -> None:
        rng = random.Random(self.args.seed + 1)
        for moment in self.kills:
            if not self.timeline.sleep_until(moment, self.stop):
                return
            self.core.kill()
            time.sleep(rng.uniform(0.2, 2.0))  # systemd's RestartSec, and a slow boot
            self.core.start(self.timeline.now())

    def _faults(self) -> None:
        events = []
        for name, (begin, end) in self.fault_windows.items():
            key = {"thermometer": "thermometer_unplugged", "modem": "modem_silent"}[name]
            events += [(begin, key, True), (end, key, False)]
        events += [(self.hq_outage[0], "hq", False), (self.hq_outage[1], "hq", True)]
        for when, what, value in sorted(events, key=lambda e: e[0]):
            if not self.timeline.sleep_until(when, self.stop):
                return
            if what == "hq":
                self.hq.start() if value else self.hq.stop()
            else:
                self.core.set_fault(what, value)

    def _sampler(self) -> None:
        while not self.stop.wait(0.25):
            self.core.sample_memory()

    def finish(self) -> dict:
        """Drain: every SMS settled, every event at hq, then stop the core and hq cleanly."""
        self.stop.clear()
        pin = GUARDS["malam"][1]
        self.sweep(pin)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.client.call("POST", "/sync", as_guard=pin)
            status = self.client.call("GET", "/sync").json()
            if status["backlog"] == 0 and not self._pending_sms():
                break
            time.sleep(0.5)
        badges = self.client.call("GET", "/badges", as_guard=pin).json()
        sync = self.client.call("GET", "/sync").json()
        self.core.stop()
        self.hq.stop()
        return {"badges": badges, "sync": sync}

    def _pending_sms(self) -> int:
        with sqlite3.connect(f"file:{self.core.data / 'kiosk.db'}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM sms WHERE status = 'pending'").fetchone()[0]


def soak_config(hq_url: str, token_file: Path) -> str:
    """The example config as an office would fill it in, pointed at this run's hq."""
    text = (ROOT / "config" / "kiosk.example.toml").read_text()
    replace = {
        'leadership = []': 'leadership = ["+6281200000001", "+6281200000002"]',
        'police = []': 'police = ["+6281200000110"]',
        'fire_brigade = []': 'fire_brigade = ["+6281200000113"]',
        'url = ""  ': f'url = "{hq_url}"  ',
        'token_file = ""  ': f'token_file = "{token_file}"  ',
        'every = "15m"': 'every = "10m"',
    }
    for old, new in replace.items():
        if old not in text:
            raise RuntimeError(f"the example config changed: {old!r} not found")
        text = text.replace(old, new, 1)
    pagi, malam = GUARDS["pagi"][0], GUARDS["malam"][0]
    duty = (f'[{{ shift = "pagi", guard = "{pagi}", backups = ["{malam}", "{ADMIN[0]}"] }}, '
            f'{{ shift = "malam", guard = "{malam}", backups = ["{pagi}", "{ADMIN[0]}"] }}]')
    text = text.replace("[roster.guards]\n", "[roster.guards]\n"
                        f'"{pagi}" = "+6281300000001"\n"{malam}" = "+6281300000002"\n'
                        f'"{ADMIN[0]}" = "+6281300000003"\n', 1)
    text = text.replace("[roster.duty]\n", "[roster.duty]\n" + "".join(
        f"{day} = {duty}\n" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")), 1)
    return text


# -- the checks -------------------------------------------------------------------------------

def check_all(post: Post, final: dict) -> list[Check]:
    db = sqlite3.connect(f"file:{post.core.data / 'kiosk.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    checks = [check_relays(post, db), check_hq(post, db), check_chain(post),
              check_badges(post, db, final["badges"]), check_sms(post, db),
              check_sensor(post, db), check_alarms(post, db), check_duty(post, db),
              check_memory(post)]
    db.close()
    return checks


def _lives(post: Post, db) -> list[tuple[dt.datetime, dt.datetime]]:
    """(killed at, next start decided at): the start is the core's own "Core dimulai" entry."""
    starts = [dt.datetime.fromisoformat(r["ts"]) for r in db.execute(
        "SELECT ts FROM logbook WHERE text = 'Core dimulai' ORDER BY id")]
    gaps = []
    for life, start in zip(post.core.lives[:-1], starts[1:], strict=False):
        gaps.append((life.killed_sim, start))
    return gaps


def check_relays(post: Post, db) -> Check:
    settings, speed = post.settings, post.args.speed
    tolerance = dt.timedelta(seconds=post.args.late_ms / 1000 * speed)
    gaps = _lives(post, db)
    alarms = [(dt.datetime.fromisoformat(r["raised_at"]),
               dt.datetime.fromisoformat(r["cleared_at"]) if r["cleared_at"] else post.end,
               r["code"]) for r in db.execute("SELECT * FROM alarms")]
    problems, late, caught_up, on_time, held = [], [], 0, 0, 0
    for name, relay in settings.relays.items():
        if not relay.enabled:
            continue
        rows = [dict(r) for r in db.execute(
            "SELECT ts, is_on, source FROM relay_log WHERE relay = ? ORDER BY id", (name,))]
        for row in rows:
            row["ts"] = dt.datetime.fromisoformat(row["ts"])
        for before, row in zip(rows, rows[1:], strict=False):
            if before["is_on"] == row["is_on"]:  # logged as a switch, but nothing changed
                problems.append(f"{name} logged {'ON' if row['is_on'] else 'OFF'} twice in a "
                                f"row at {row['ts']:%a %H:%M:%S}")
        used = {0}  # the first row is the very first start's state
        moment = START
        while True:
            change = schedule.next_change(relay, moment, settings.holidays)
            if change is None or change >= post.end:
                break
            moment = change
            want = schedule.scheduled_on(relay, change + dt.timedelta(seconds=1),
                                         settings.holidays)
            # A core killed just after a boundary may not have switched it yet.
            gap = next((g for g in gaps if g[0] - tolerance <= change <= g[1]), None)
            if gap:  # switched as the new core set its relays, within 2 s of its start
                window = (change, gap[1] + dt.timedelta(seconds=2 * speed) + tolerance)
            else:
                window = (change, change + tolerance)
            if any(a <= change <= c and name in settings.alarms[code].relays
                   for a, c, code in alarms):
                held += 1  # an alarm held the relay: its own switches are checked below
                continue
            hits = [i for i, r in enumerate(rows) if window[0] <= r["ts"] <= window[1]
                    and bool(r["is_on"]) == want and i not in used]
            if len(hits) != 1:
                problems.append(f"{name} {'ON' if want else 'OFF'} at {change:%a %H:%M}: "
                                f"switched {len(hits)} times")
                continue
            used.add(hits[0])
            if gap:
                caught_up += 1
            else:
                on_time += 1
                late.append((rows[hits[0]]["ts"] - change).total_seconds())
        for i, row in enumerate(rows):
            if i in used:
                continue
            # Anything else must be an alarm starting or ending (or a restart inside one).
            reason = any(abs((row["ts"] - edge).total_seconds()) <= tolerance.total_seconds()
                         for a, c, code in alarms if name in settings.alarms[code].relays
                         for edge in (a, c)) or any(g[0] <= row["ts"] <= g[1] + tolerance
                                                   for g in gaps)
            if not reason:
                problems.append(f"{name} switched {'ON' if row['is_on'] else 'OFF'} at "
                                f"{row['ts']:%a %H:%M:%S} with no boundary or alarm")
    worst = max(late, default=0.0)
    detail = (f"{on_time} boundaries on time (latest {worst:.0f} s simulated = "
              f"{worst / speed * 1000:.0f} ms real), {caught_up} caught up at a restart "
              f"after the core was killed, {held} held by an alarm")
    return Check("relay boundaries", not problems, "; ".join(problems[:5]) or detail)


def check_hq(post: Post, db) -> Check:
    from kiosk.hq.db import Hq, connect

    hq = Hq(connect(f"sqlite:///{post.hq.data / 'hq.db'}"))
    kiosk_id = hq.kiosk_id(KIOSK_NAME)
    held = list(hq.events(kiosk_id))
    ids = Counter(e["event_id"] for e in held)
    local = {r["event_id"]: r["kind"] for r in db.execute("SELECT event_id, kind FROM outbox")}
    unsent = db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    problems = []
    if unsent:
        problems.append(f"{unsent} events never sent")
    if dupes := [i for i, n in ids.items() if n > 1]:
        problems.append(f"{len(dupes)} events twice at hq")
    if missing := set(local) - set(ids):
        problems.append(f"{len(missing)} events missing at hq")
    if extra := set(ids) - set(local):
        problems.append(f"{len(extra)} events at hq the kiosk never made")

    def once(kind: str, table: str, key: str = "id") -> str:
        seen = Counter(e["payload"][key] for e in held if e["kind"] == kind)
        mine = {r[0] for r in db.execute(f"SELECT id FROM {table}")}  # noqa: S608 - constant
        if set(seen) != mine or any(n != 1 for n in seen.values()):
            problems.append(f"{table}: {len(mine)} here, {len(seen)} distinct at hq, "
                            f"{sum(n > 1 for n in seen.values())} twice")
        return f"{len(mine)} {table}"

    counts = [once("logbook.appended", "logbook"), once("visit.registered", "visits"),
              once("alarm.raised", "alarms")]
    detail = (f"{len(held)} events at hq, each once: " + ", ".join(counts) +
              f"; hq down {_span(post.hq_outage)}")
    return Check("everything at hq exactly once", not problems, "; ".join(problems) or detail)


def check_chain(post: Post) -> Check:
    from kiosk.hq.db import Hq, connect

    local = kiosk("logbook", "verify", data_dir=post.core.data, config=post.config_path,
                  check=False)
    hq = Hq(connect(f"sqlite:///{post.hq.data / 'hq.db'}"))
    remote = hq.chain(hq.kiosk_id(KIOSK_NAME))
    ok = local.returncode == 0 and remote.ok
    said = (local.stdout or local.stderr).strip().splitlines()[-1]
    detail = f"kiosk: {said}; hq: {remote.reason}"
    return Check("incident book chain", ok, detail)


def check_badges(post: Post, db, badges: dict) -> Check:
    pool = post.settings.visits.badges
    problems = []
    if badges["free"] != pool:
        problems.append(f"{pool - badges['free']} of {pool} badges still out after the sweep")
    worn: dict[str, list[tuple[str, str]]] = {}
    for r in db.execute("SELECT badge, created_at, coalesce(checked_out_at, decided_at, "
                        "'9999') AS until, status FROM visits ORDER BY id"):
        until = r["until"] if r["status"] in ("checked_out", "denied") else "9999"
        worn.setdefault(r["badge"], []).append((r["created_at"], until))
    for badge, spans in worn.items():
        for (a0, a1), (b0, _) in zip(spans, spans[1:], strict=False):
            if b0 < a1:
                problems.append(f"{badge} given out at {b0[:16]} while still worn since {a0[:16]}")
    visits = db.execute("SELECT count(*) FROM visits").fetchone()[0]
    detail = (f"{pool}/{pool} free at the end; {visits} visits, no badge worn twice "
              f"({post.notes['swept']} seen out by the guard's sweep)")
    return Check("guest badges", not problems, "; ".join(problems[:5]) or detail)


def check_sms(post: Post, db) -> Check:
    rows = [dict(r) for r in db.execute("SELECT sms.*, alarms.raised_at AS created_at FROM sms "
                                        "LEFT JOIN alarms ON alarms.id = sms.alarm_id")]
    by = Counter(r["status"] for r in rows)
    begin, end = post.fault_windows["modem"]
    waited = [r for r in rows if r["created_at"]
              and begin.isoformat() <= r["created_at"] < end.isoformat()]
    problems = []
    if by.get("sent", 0) != len(rows):
        problems.append(f"not every SMS was sent: {dict(by)}")
    if not waited:
        problems.append("no alarm raised while the modem had no power")
    if early := [r["id"] for r in waited if r["updated_at"] < end.isoformat()]:
        problems.append(f"SMS {early} marked done before the modem came back")
    tries = max((r["attempts"] for r in waited), default=0)
    detail = (f"{len(rows)} SMS, {dict(by)}; {len(waited)} queued while the modem had no "
              f"power ({_span((begin, end))}), retried (up to {tries} tries) and sent after "
              "it came back")
    return Check("alarm SMS delivered", not problems, "; ".join(problems) or detail)


def check_sensor(post: Post, db) -> Check:
    """Refused only while unplugged, each refusal one line, and reading again afterwards."""
    begin, end = post.fault_windows["thermometer"]
    slack = dt.timedelta(seconds=2 * post.args.speed)  # a request already on its way
    manual = db.execute("SELECT count(*) FROM visits WHERE temperature_source = 'manual'"
                        ).fetchone()[0]
    outside = [t for t, _ in post.sensor_refusals if not begin - slack <= t <= end + slack]
    lines = {d for _, d in post.sensor_refusals}
    after = [t for t in post.sensor_readings if t > end]
    problems = []
    if not post.sensor_refusals:
        problems.append("no reading was refused while the sensor was unplugged")
    if outside:
        problems.append(f"{len(outside)} readings refused outside the outage, first at "
                        f"{outside[0]:%a %H:%M}")
    if any("\n" in d or not d.strip() for d in lines):
        problems.append("a refusal that is not one line")
    if not after:
        problems.append("no reading from the sensor after it was plugged back in")
    sample = next(iter(lines), "none")
    detail = (f"thermometer unplugged {_span((begin, end))}: {len(post.sensor_refusals)} "
              f"readings refused (\"{sample}\"), {manual} guests measured by hand, "
              f"{len(after)} read by the sensor again after")
    return Check("thermometer outage", not problems, "; ".join(problems) or detail)


def check_alarms(post: Post, db) -> Check:
    rows = [dict(r) for r in db.execute("SELECT * FROM alarms ORDER BY id")]
    problems = [f"alarm #{r['id']} {r['code']} not acknowledged and cleared in order"
                for r in rows if not (r["acked_at"] and r["cleared_at"]
                                      and r["raised_at"] <= r["acked_at"] <= r["cleared_at"])]
    crimes = [r["id"] for r in rows if r["code"] == "crime"]
    runs = {int(r[0].split("#")[1].split()[0]) for r in db.execute(
        "SELECT title FROM sop_runs WHERE title LIKE 'Alarm #%'")}
    if missing := set(crimes) - runs:
        problems.append(f"crime alarms {sorted(missing)} started no procedure")
    by = Counter(r["code"] for r in rows)
    detail = (f"{len(rows)} alarms raised, acknowledged and cleared ({dict(by)}); "
              f"{post.notes['panic button']} from the panic button; every crime opened its SOP")
    return Check("alarms", bool(rows) and not problems, "; ".join(problems) or detail)


def check_duty(post: Post, db) -> Check:
    """Handovers happened, and every task of the week ended done or flagged as missed."""
    handovers = db.execute("SELECT count(*) FROM handovers").fetchone()[0]
    end = post.end.isoformat()
    open_tasks = db.execute("SELECT id FROM tasks WHERE done_at IS NULL AND overdue_at < ? "
                            "AND due_at >= ? AND kind = 'patrol' "
                            "AND id NOT IN (SELECT task_id FROM patrol_missed)",
                            (end, PATROLS_FROM.isoformat())).fetchall()
    walked = db.execute("SELECT count(*) FROM patrol_rounds WHERE finished_at IS NOT NULL"
                        ).fetchone()[0]
    missed = {r[0] for r in db.execute(  # the first night's early ones were never the guard's
        "SELECT task_id FROM patrol_missed JOIN tasks ON tasks.id = task_id WHERE due_at >= ?",
        (PATROLS_FROM.isoformat(),))}
    want = 2 * post.args.days
    problems = []
    if handovers < want - 1:  # the last one may fall after the end
        problems.append(f"{handovers} handovers, expected {want}")
    if open_tasks:
        problems.append(f"patrols neither walked nor flagged: {[r[0] for r in open_tasks]}")
    # A patrol whose deadline passed while the core was dead could not be started in time.
    gaps = _lives(post, db)
    down = {r["id"] for r in db.execute("SELECT id, overdue_at FROM tasks WHERE kind = 'patrol'")
            if any(g[0] <= dt.datetime.fromisoformat(r["overdue_at"]) <= g[1] for g in gaps)}
    if post.skipped_patrols - missed or missed - post.skipped_patrols - down:
        problems.append(f"patrols flagged as missed {sorted(missed)}, but the guard skipped "
                        f"{sorted(post.skipped_patrols)}")
    detail = (f"{handovers} handovers; {walked} patrols walked; the "
              f"{len(post.skipped_patrols)} skipped flagged as missed, and "
              f"{len(missed - post.skipped_patrols)} more whose deadline passed while the "
              "core was dead")
    return Check("guards' duty", not problems, "; ".join(problems) or detail)


def check_memory(post: Post) -> Check:
    life = post.core.lives[-1]  # the kills stop before the last stretch: the longest life
    samples = life.rss[len(life.rss) // 5:]  # after start-up and the first caches
    if len(samples) < 20:
        return Check("core memory flat", False, f"only {len(samples)} memory samples")
    xs = [s / 86400 for s, _ in samples]
    ys = [kib / 1024 for _, kib in samples]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
             / sum((x - mx) ** 2 for x in xs))  # MiB per simulated day
    span_days = xs[-1] - xs[0]
    growth = slope * span_days
    ok = growth < max(2.0, 0.03 * my)
    detail = (f"RSS {min(ys):.1f}-{max(ys):.1f} MiB over the last {span_days:.1f} simulated "
              f"days of one life; trend {slope:+.2f} MiB/day")
    return Check("core memory flat", ok, detail)


def _span(window) -> str:
    begin, end = window
    return f"{begin:%a %H:%M}-{end:%a %H:%M}"


def write_doc(args, post: Post, checks: list[Check], elapsed: float) -> None:
    from bench.perfdoc import cpu_model, write_section

    life = post.core.lives[-1]
    first, last = life.rss[len(life.rss) // 20][1], life.rss[-1][1]
    rows = "\n".join(f"| {c.name} | {'pass' if c.ok else '**FAIL**'} | {c.detail} |"
                     for c in checks)
    notes = ", ".join(f"{v} {k}" for k, v in sorted(post.notes.items()))
    body = (
        "## A simulated week (`bench/soak.py`)\n\n"
        f"Run {dt.date.today()} with `.venv/bin/python bench/soak.py --days {args.days} "
        f"--speed {args.speed:g} --seed {args.seed} --late-ms {args.late_ms:g} --doc` "
        f"(`make soak`; {elapsed / 60:.0f} "
        f"min) on {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}. "
        "The core and hq run as their own processes on simulated hardware and a clock "
        f"{args.speed:g} times real time; the script is the lobby and the guards. The core "
        f"was SIGKILLed {len(post.kills)} times at random moments and restarted, hq was down "
        f"{_span(post.hq_outage)}, the thermometer unplugged "
        f"{_span(post.fault_windows['thermometer'])} and the modem without power "
        f"{_span(post.fault_windows['modem'])}. What happened: {notes}.\n\n"
        "| check | result | measured |\n|---|---|---|\n" + rows + "\n\n"
        + (f"Errors during the run: {'; '.join(post.errors)}.\n\n" if post.errors
           else "No request failed unexpectedly (no 5xx, no lost alarm or patrol).\n\n")
        + f"Core memory over its longest life: {last / 1024:.1f} MiB at the end against "
        f"{first / 1024:.1f} MiB an early sample of the same life ({last / first:.2f}x). "
        + "A relay counts as on time when it switched within "
        f"{args.late_ms:g} ms of real time of the boundary.")
    write_section("soak", body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--speed", type=float, default=1000.0,
                        help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--doc", action="store_true",
                        help="write the results into docs/PERFORMANCE.md")
    parser.add_argument("--late-ms", type=float, default=LATE_MS,
                        help="real milliseconds after a boundary that still count as on time "
                             "(more on a loaded machine: the core shares the CPU)")
    args = parser.parse_args(argv)
    if args.days < 2:
        parser.error("--days must be at least 2")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return run(args, work)


def run(args, work: Path) -> int:
    began = time.monotonic()
    post = Post(args, work)
    try:
        post.setup()
        post.plan()
        print(f"soak: {args.days} simulated days from {START:%a %Y-%m-%d} at {args.speed:g}x, "
              f"seed {args.seed}; core killed at "
              + ", ".join(f"{k:%a %H:%M}" for k in post.kills), flush=True)
        post.run()
        final = post.finish()
    finally:
        post.stop.set()
        for error in post.errors:
            print(f"ERROR {error}", file=sys.stderr)
        for part in ("core", "hq"):
            if hasattr(post, part):
                getattr(post, part).stop()
    checks = check_all(post, final)
    elapsed = time.monotonic() - began
    print(f"\n{args.days} simulated days in {elapsed:.0f} s: "
          + ", ".join(f"{v} {k}" for k, v in sorted(post.notes.items())))
    lost = post.client.lost_answers + post.lobby.lost_answers
    if lost:
        print("answers lost to a kill (sent again): " + ", ".join(
            f"{k} {v}" for k, v in sorted(lost.items())))
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    for error in post.errors:
        print(f"ERROR {error}")
    if args.doc:
        write_doc(args, post, checks, elapsed)
    if args.json:
        args.json.write_text(json.dumps({
            "checks": [c.__dict__ for c in checks], "notes": dict(post.notes),
            "errors": post.errors, "rss": [life.rss for life in post.core.lives]}))
    return 0 if all(c.ok for c in checks) and not post.errors else 1


if __name__ == "__main__":
    sys.exit(main())
