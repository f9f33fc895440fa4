"""The core: the one place that wires drivers to the domain and runs the post's clockwork.

One loop reconciles the world with what it should be, every tick: relay states from
(schedule, clock, overrides, alarms), the buzzer from the sounding alarm, the day's SOP tasks.
Nothing waits for a timer to fire at 17.00: if the loop starts at 18.10, or the clock jumps,
the next tick puts the lights where they belong. The same loop feeds systemd's watchdog, so a
hung loop gets the core restarted. Slow device work (SMS, temperature sampling) runs on other
threads so it never holds the loop up; button gestures are handed to the loop's thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.buzzer import BuzzerPattern
from drivers.errors import DeviceError
from drivers.modem import SmsUnconfirmed
from kiosk import schedule
from kiosk.alarms import Alarms
from kiosk.auth import Guards, Sessions
from kiosk.clock import Clock, Trust, clock_trust, ntp_synchronized
from kiosk.core import sdnotify
from kiosk.handover import Handover, core_sources
from kiosk.patrols import Patrols
from kiosk.registers import Registers
from kiosk.rollcall import RollCall, VisitingRules
from kiosk.roster import Roster
from kiosk.sop import SopRuns
from kiosk.store import Logbook, Store
from kiosk.sync import Scheduler, Sync, SyncFailed
from kiosk.tasks import Tasks
from kiosk.visits import Visits
from kiosk.watchlist import Alerts, Watchlist

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5  # real seconds between reconciles
NTP_CHECK_SECONDS = 10.0
# Waits after the 1st, 2nd, ... failed attempt, on the core's clock; the last one repeats
# until alarms.MAX_SMS_ATTEMPTS (about three hours): a modem without power or signal for an
# hour must not lose the alarm's SMS.
SMS_RETRY_SECONDS = (5, 15, 60, 300)
FIRST_SYNC_SECONDS = 5.0  # after start: the network is usually up by then
RELAY_WORDS = {True: "ON", False: "OFF"}


class ScannedCodes:
    """The last codes read by the serial scanner, numbered so a poller never sees one twice."""

    KEEP = 20

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: list[tuple[int, str, str]] = []
        self._seq = 0

    def add(self, code: str, at: dt.datetime) -> None:
        with self._lock:
            self._seq += 1
            self._codes = [*self._codes[-(self.KEEP - 1):], (self._seq, code, at.isoformat())]

    def after(self, seq: int) -> list[dict]:
        with self._lock:
            return [{"seq": n, "code": code, "at": at} for n, code, at in self._codes if n > seq]


@dataclass
class RelayStatus:
    on: bool
    source: str
    reason: str
    since: str


@dataclass
class Status:
    """What the core knows about itself, for /health and the dashboard."""

    clock_trusted: bool = False
    clock_reason: str = ""
    devices: dict[str, str] = field(default_factory=dict)
    relays: dict[str, RelayStatus] = field(default_factory=dict)
    database_recovered_from: str | None = None
    # Why guests' personal data cannot be sealed or read (key file missing or wrong), or None.
    personal_data_locked: str | None = None
    loop_at: str | None = None


class Core:
    """The composition root. Parts come in through the constructor, so tests pass fakes.

    Args:
        settings: the validated config.
        store: an unopened :class:`Store`.
        clock: the injected clock (system or simulated).
        build_hardware: called once with the relays' initial states; returns
            :class:`drivers.hardware.Hardware`.
        ntp: returns whether NTP has synchronised.
        trust: overrides the clock-trust decision; a simulated clock, set on purpose for a
            demo or a test, passes ``lambda now: Trust(True, "simulated clock")``.
        sync_link: hq's API for tests (:class:`kiosk.sync.Link`); from ``[sync]`` if None.
    """

    def __init__(self, settings, *, store: Store, clock: Clock,
                 build_hardware: Callable[[dict[str, bool]], Any],
                 ntp: Callable[[], bool] = ntp_synchronized,
                 trust: Callable[[dt.datetime], Trust] | None = None,
                 sync_link: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._build_hardware = build_hardware
        self._ntp = ntp
        self._trust = trust
        self.hw: Any = None
        self.status = Status()
        self.logbook = Logbook(store)
        now = clock.now
        self.alarms = Alarms(store, settings, now=now)
        self.tasks = Tasks(store, settings, now=now)
        self.guards = Guards(store, now=now, max_failures=settings.security.max_pin_failures,
                             lockout_minutes=settings.security.lockout_minutes)
        self.sessions = Sessions(now=now, idle_minutes=settings.security.session_minutes)
        self.alerts = Alerts(store, now=now)
        self.watchlist = Watchlist(store, now=now)
        self.visits = Visits(store, settings, now=now, alerts=self.alerts,
                             watchlist=self.watchlist)
        self.visiting_rules = VisitingRules(store, settings, now=now, alerts=self.alerts)
        self.rollcall = RollCall(store, settings, now=now, alarms=self.alarms,
                                 guards_on_duty=self.sessions.active)
        self.registers = Registers(store, settings, now=now)
        self.sops = SopRuns(store, settings, now=now)
        self.roster = Roster(store, settings, now=now, alerts=self.alerts,
                             trusted=lambda: self.status.clock_trusted)
        self.handover = Handover(store, now=now, guards=self.guards, roster=self.roster,
                                 sources=core_sources(self))
        self.patrols = Patrols(store, settings, now=now, alerts=self.alerts)
        self.sync = Sync(store, settings, now=now, link=sync_link)
        self.sync_next: dt.datetime | None = None
        self._sync_now = threading.Event()
        self._sync_lock = threading.Lock()
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set to run the loop now rather than at the next tick
        self._threads: list[threading.Thread] = []
        self._sounding: int | None = None
        self._planned: dt.date | None = None
        self._trust_checked_at = -NTP_CHECK_SECONDS
        self._ntp_ok = False
        self._sms_next_try: dict[int, dt.datetime] = {}
        self._sms_lock = threading.Lock()
        self.scanned = ScannedCodes()
        self._sensor_lock = threading.Lock()
        # The loop and API calls both reconcile; one at a time, or a stale pass could undo
        # a fresh one (stop the buzzer of an alarm raised a moment ago).
        self._reconcile_lock = threading.RLock()
        self.ticks = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.store.open()
        if self.sync.pulled():
            self.apply_settings(self.sync.settings_now())
        self._note_startup()
        self._restore_relay_status()
        self._update_trust(force=True)
        initial = {name: self._desired(name).on for name in self._enabled_relays()}
        self.hw = self._build_hardware(initial)
        self.status.devices = dict(self.hw.problems)
        for device, problem in self.hw.problems.items():
            self._log("perangkat", f"{device} tidak tersedia: {problem}")
        self._wire_button()
        self._open_modem()
        self.reconcile()
        loops = [(self._loop, "core-loop"), (self._sms_loop, "core-sms"),
                 (self._scanner_loop, "core-scanner")]
        if self.sync.configured:
            loops.append((self._sync_loop, "core-sync"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._sync_now.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.hw is not None:
            self.hw.close()
        self.store.close()

    def _note_startup(self) -> None:
        if self.store.recovered_from:
            self.status.database_recovered_from = str(self.store.recovered_from)
            self._log("sistem", f"Database rusak disisihkan ke {self.store.recovered_from.name}; "
                                "mulai dengan database baru. Hubungi admin.")
        if self.store.locked:
            self.status.personal_data_locked = self.store.locked
            self._log("sistem", "Data pribadi tamu terkunci, pendaftaran tamu ditolak sampai "
                                f"admin memulihkan kunci: {self.store.locked}")
        self._log("sistem", "Core dimulai")

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        interval = sdnotify.watchdog_interval()
        last_ping = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run_inbox()
                self.reconcile()
            except Exception:  # the loop must survive anything one tick throws
                log.exception("reconcile failed")
            if interval and started - last_ping >= interval:
                sdnotify.watchdog()
                last_ping = started
            self._wake.wait(self._until_next_tick(started))
            self._wake.clear()

    def reconcile(self) -> None:
        """Bring relays, buzzer and tasks in line with now. Safe to call at any time."""
        with self._reconcile_lock:
            self._reconcile()

    def _reconcile(self) -> None:
        now = self.clock.now()
        self._update_trust()
        for name in self._enabled_relays():
            self._apply_relay(name, self._desired(name, now), now)
        self._apply_buzzer()
        if self._planned != now.date():
            for day in (now.date() - dt.timedelta(days=1), now.date()):
                self.tasks.plan(day)
            self._planned = now.date()
        for check in (self.visiting_rules.check, self.rollcall.check, self.roster.check,
                      self.patrols.check, self.registers.check):
            try:
                check(now)
            except Exception:  # guests' rules must never hold up the relays and alarms
                log.exception("%s failed", check.__qualname__)
        self.status.loop_at = now.isoformat()
        self.ticks += 1

    def _until_next_tick(self, started: float) -> float:
        """Real seconds to wait: one tick, or less when a scheduled change comes sooner.

        On a clock running 60x, a half-second tick is half a simulated minute; waking at the
        change itself keeps 17:00 at 17:00 whatever the speed.
        """
        wait = TICK_SECONDS - (time.monotonic() - started)
        speed = getattr(self.clock, "speed", 1.0) or 1.0
        now = self.clock.now()
        for name in self._enabled_relays():
            change = schedule.next_change(self.settings.relays[name], now, self.settings.holidays)
            if change is not None:
                wait = min(wait, (change - now).total_seconds() / speed + 0.001)
        return max(0.0, wait)

    def _run_inbox(self) -> None:
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                return
            job()

    # -- relays ------------------------------------------------------------------------------

    def _enabled_relays(self) -> list[str]:
        return [name for name, relay in self.settings.relays.items() if relay.enabled]

    def _desired(self, name: str, now: dt.datetime | None = None) -> schedule.Desired:
        now = now or self.clock.now()
        return schedule.desired_state(
            name, self.settings.relays[name], now, trusted=self.status.clock_trusted,
            trust_reason=self.status.clock_reason, overrides=self.active_overrides(now),
            alarm_effects=self.alarms.effects(), holidays=self.settings.holidays)

    def _apply_relay(self, name: str, desired: schedule.Desired, now: dt.datetime) -> None:
        relay = self.hw.relays.get(name) if self.hw else None
        current = self.status.relays.get(name)
        if relay is not None:
            try:
                if relay.is_active != desired.on:
                    relay.value = desired.on
            except Exception as exc:  # a relay board that vanished must not stop the loop
                self.status.devices[f"relays.{name}"] = str(exc)
        if current is None or current.on != desired.on or current.source != desired.source:
            self.status.relays[name] = RelayStatus(desired.on, desired.source, desired.reason,
                                                   now.isoformat())
            if current is None or current.on != desired.on:
                self._record_relay(name, desired, now)

    def _restore_relay_status(self) -> None:
        """Take each relay's last logged state as its current one.

        A restart then logs a relay only when it really changes: the book, hq and the soak
        count every switch, and a power cut must not look like the lights switching again.
        """
        with self.store.read() as conn:
            rows = conn.execute("SELECT relay, is_on, source, reason, ts FROM relay_log "
                                "WHERE id IN (SELECT max(id) FROM relay_log GROUP BY relay)"
                                ).fetchall()
        enabled = self._enabled_relays()
        for row in rows:
            if row["relay"] in enabled:
                self.status.relays[row["relay"]] = RelayStatus(
                    bool(row["is_on"]), row["source"], row["reason"], row["ts"])

    def _record_relay(self, name: str, desired: schedule.Desired, now: dt.datetime) -> None:
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO relay_log (ts, relay, is_on, source, reason) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (now.isoformat(), name, int(desired.on), desired.source, desired.reason))
            self.logbook.append(conn, category="relay", actor="system",
                                text=f"Relay {name} {RELAY_WORDS[desired.on]} ({desired.reason})")
            self.store.emit(conn, "relay.changed", {"relay": name, "on": desired.on,
                                                    "source": desired.source,
                                                    "reason": desired.reason,
                                                    "at": now.isoformat()})

    def active_overrides(self, now: dt.datetime | None = None) -> dict[str, schedule.Override]:
        now = now or self.clock.now()
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM overrides WHERE cancelled_at IS NULL "
                                "ORDER BY id").fetchall()
        found = {}
        for row in rows:
            expires = dt.datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None
            if expires is None or expires > now:
                found[row["relay"]] = schedule.Override(row["relay"], bool(row["is_on"]),
                                                        row["reason"], row["actor"], expires)
        return found

    def override(self, name: str, *, on: bool, minutes: int | None, reason: str,
                 actor: str) -> schedule.Override:
        """A guard's decision for one relay, until ``minutes`` pass or the next scheduled change."""
        if name not in self._enabled_relays():
            raise KeyError(name)
        now = self.clock.now()
        relay = self.settings.relays[name]
        expires = schedule.override_expiry(relay, now, minutes=minutes,
                                           holidays=self.settings.holidays)
        with self.store.transaction() as conn:
            conn.execute("UPDATE overrides SET cancelled_at = ?, cancelled_by = ? "
                         "WHERE relay = ? AND cancelled_at IS NULL", (now.isoformat(), actor, name))
            conn.execute("INSERT INTO overrides (relay, is_on, reason, actor, created_at, "
                         "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (name, int(on), reason, actor, now.isoformat(),
                          expires.isoformat() if expires else None))
            until = f" sampai {expires:%H:%M}" if expires else ""
            self.logbook.append(conn, category="relay", actor=actor,
                                text=f"Override {name} {RELAY_WORDS[on]}{until}: {reason}")
            self.store.emit(conn, "relay.override", {"relay": name, "on": on, "reason": reason,
                                                     "by": actor, "expires_at": expires and
                                                     expires.isoformat()})
        self.reconcile()
        return schedule.Override(name, on, reason, actor, expires)

    def _update_trust(self, force: bool = False) -> None:
        now = self.clock.now()
        if self._trust is not None:
            trust = self._trust(now)
        else:
            mono = time.monotonic()
            if force or mono - self._trust_checked_at >= NTP_CHECK_SECONDS:
                self._ntp_ok = self._ntp()
                self._trust_checked_at = mono
            trust = clock_trust(now, ntp_synchronized=self._ntp_ok)
        changed = trust.trusted != self.status.clock_trusted
        if changed or not self.status.clock_reason:
            if changed or not trust.trusted:
                self._log("sistem", f"Jam: {trust.reason}")
            if not trust.trusted:
                log.warning("clock: %s", trust.reason)
        self.status.clock_trusted, self.status.clock_reason = trust.trusted, trust.reason

    # -- alarms, buzzer, button --------------------------------------------------------------

    def _apply_buzzer(self) -> None:
        buzzer = self.hw.buzzer if self.hw else None
        alarm = self.alarms.sounding()
        wanted = alarm.id if alarm else None
        if wanted == self._sounding:
            return
        self._sounding = wanted
        if buzzer is None:
            return
        if alarm is None:
            buzzer.stop()
            return
        spec = self.settings.alarms[alarm.code]
        buzzer.play(BuzzerPattern(steps=spec.pattern, repeat=spec.repeat or None))

    def _wire_button(self) -> None:
        button = self.hw.panic_button if self.hw else None
        if button is None:
            return
        gestures = {spec.button: code for code, spec in self.settings.alarms.items()
                    if spec.button}

        def raise_for(gesture: str) -> None:
            code = gestures.get(gesture)
            if code:
                self._inbox.put(lambda: self._raise_from_button(code))
                self._wake.set()

        button.when_held = lambda: raise_for("hold")
        button.when_presses = lambda count: raise_for(f"presses:{count}")

    def _open_modem(self) -> None:
        """Take the modem's port now, so no other program holds it when an alarm comes."""
        modem = self.hw.modem if self.hw else None
        if modem is None:
            return
        try:
            modem.open()
        except DeviceError as exc:  # not fatal: each SMS tries again, and the guard is told
            self.status.devices["modem"] = str(exc)
            self._log("perangkat", f"modem tidak tersedia: {exc}")

    def _raise_from_button(self, code: str) -> None:
        self.raise_alarm(code, source="panic_button", actor="tombol darurat")

    def raise_alarm(self, code: str, *, actor: str, source: str = "api"):
        alarm = self.alarms.raise_alarm(code, source=source, actor=actor)
        self.reconcile()
        try:  # after the relays and the buzzer: the procedure must never delay the alarm
            self.sops.start_for_alarm(alarm.id, code, actor=actor)
        except Exception:
            log.exception("starting the procedure for alarm %s failed", alarm.id)
        return alarm

    def acknowledge(self, alarm_id: int, *, actor: str):
        alarm = self.alarms.acknowledge(alarm_id, actor=actor)
        self.reconcile()
        return alarm

    def clear(self, alarm_id: int, *, actor: str):
        alarm = self.alarms.clear(alarm_id, actor=actor)
        self.reconcile()
        return alarm

    def _scanner_loop(self) -> None:
        """Codes from the serial QR scanner, kept for the UI to collect (it owns no ports)."""
        scanner = self.hw.scanner if self.hw else None
        if scanner is None:
            return
        while not self._stop.is_set():
            try:
                code = scanner.read_code(timeout=0.5)
            except DeviceError as exc:
                self.status.devices["scanner"] = str(exc)
                self._log("perangkat", f"pemindai QR tidak tersedia: {exc}")
                return
            if code:
                self.scanned.add(code, self.clock.now())

    def _sms_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.send_pending_sms()
            except Exception:
                log.exception("SMS sender failed")

    def send_pending_sms(self) -> None:
        """One pass over queued SMS; each failure waits longer before its next try.

        One pass at a time (the SMS thread, a test, a "send now"): two passes over the same
        pending row would text the same person twice.
        """
        with self._sms_lock:
            self._send_pending_sms()

    def _send_pending_sms(self) -> None:
        modem = self.hw.modem if self.hw else None
        for sms in self.alarms.pending_sms():
            due = self._sms_next_try.get(sms["id"])
            if due is not None and self.clock.now() < due:
                continue
            if modem is None:
                self.alarms.record_sms(sms["id"], error="no GSM modem configured")
                continue
            try:
                reference = modem.send_sms(sms["number"], sms["text"])
            except SmsUnconfirmed as exc:  # may have gone out: a resend could double it
                self.alarms.record_sms(sms["id"], error=str(exc), final=True)
                continue
            except (DeviceError, ValueError) as exc:
                status = self.alarms.record_sms(sms["id"], error=str(exc))
                if status == "pending":
                    wait = SMS_RETRY_SECONDS[min(sms["attempts"], len(SMS_RETRY_SECONDS) - 1)]
                    self._sms_next_try[sms["id"]] = (self.clock.now()
                                                     + dt.timedelta(seconds=wait))
                continue
            self.alarms.record_sms(sms["id"], reference=reference)

    # -- sync with hq ------------------------------------------------------------------------

    def _sync_loop(self) -> None:
        """Sync every ``sync.every`` (on the core's clock), sooner after "sync now"."""
        scheduler = Scheduler(self.settings.sync.every_seconds)
        wait = FIRST_SYNC_SECONDS
        while not self._stop.is_set():
            speed = getattr(self.clock, "speed", 1.0) or 1.0
            self.sync_next = self.clock.now() + dt.timedelta(seconds=wait)
            self._sync_now.wait(wait / speed)
            self._sync_now.clear()
            if self._stop.is_set():
                return
            try:
                self.sync_once()
                wait = scheduler.succeeded()
            except SyncFailed as exc:
                wait = scheduler.failed()
                log.warning("sync failed (%d in a row; next try in %.0f s): %s",
                            scheduler.failures, wait, exc)
            except Exception:  # the loop must outlive a bug in one run
                log.exception("sync failed")
                wait = scheduler.failed()

    def sync_once(self) -> dict[str, Any]:
        """One push and pull; one at a time (the loop, "sync now", a test)."""
        with self._sync_lock:
            try:
                return self.sync.run()
            finally:
                if self.sync.settings_changed:
                    self.sync.settings_changed = False
                    self.apply_settings(self.sync.settings_now())
                    self._log("sistem", "Pembaruan dari pusat diterapkan (kontak SMS, daftar "
                                        "pegawai, jadwal jaga)")

    def apply_settings(self, settings) -> None:
        """Use hq's contacts, staff directory and roster from now on, without a restart.

        Only those parts can differ from the config the core started with (see
        :func:`kiosk.config.overlay`), so only their readers are told.
        """
        with self._reconcile_lock:
            self.settings = settings
            for part in (self.alarms, self.visits):
                part.settings = settings
            self.roster.configure(settings)

    def sync_soon(self) -> None:
        """The guard's "sync now": the sync thread runs at once instead of at its time."""
        self._sync_now.set()

    def sync_status(self) -> dict[str, Any]:
        return {**self.sync.status(),
                "next_attempt": self.sync_next.isoformat() if self.sync_next else None}

    # -- temperature -------------------------------------------------------------------------

    def measure_temperature(self, *, timeout: float = 3.0, window: int = 5,
                            spread: float = 0.3) -> float:
        """The forehead temperature: the highest of a run of steady readings, plus the offset.

        Readings rise as the guest leans in and drop as they move away, so the first readings
        are low and a single sample is a guess. The sensor is sampled at ~10 Hz until the last
        ``window`` readings agree within ``spread`` °C; their maximum is taken.

        Raises:
            DeviceError: no thermometer, or it failed; the guard measures by hand.
        """
        sensor = self.hw.thermometer if self.hw else None
        if sensor is None:
            problem = self.status.devices.get("thermometer", "not configured")
            raise DeviceError(f"thermometer unavailable ({problem}): measure by hand")
        readings: list[float] = []
        deadline = time.monotonic() + timeout
        with self._sensor_lock:
            while True:
                readings.append(sensor.object_c())
                recent = readings[-window:]
                if len(recent) == window and max(recent) - min(recent) <= spread:
                    break
                if time.monotonic() >= deadline:
                    raise DeviceError("no steady reading: ask the guest to hold still, "
                                      "forehead 3-5 cm from the sensor, and try again")
                time.sleep(0.1)
        return round(max(recent) + self.settings.thermometer.offset_c, 1)

    # -- helpers -----------------------------------------------------------------------------

    def _log(self, category: str, text: str, actor: str = "system") -> None:
        with self.store.transaction() as conn:
            self.logbook.append(conn, category=category, text=text, actor=actor)
