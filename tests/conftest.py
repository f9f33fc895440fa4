import datetime as dt
import os
import uuid
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from drivers import hardware
from kiosk.clock import SimulatedClock, Trust
from kiosk.config import parse
from kiosk.core.api import create_app
from kiosk.core.daemon import Core
from kiosk.core.service import ensure_guards
from kiosk.store import Store

os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")


@pytest.fixture
def pin_factory():
    """A fresh gpiozero MockFactory per test, so pins are never left 'in use'."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


WIB = ZoneInfo("Asia/Jakarta")
CONFIG = """
[hardware]
simulate = true
[contacts]
leadership = ["+6281100000001"]
police = ["110"]
fire_brigade = ["113"]
[panic_button]
hold_seconds = 0.5
press_window_seconds = 0.3
"""


def at(hour, minute=0, second=0, day=22):
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=WIB)


class Post:
    """A core on a frozen simulated clock, restartable on the same database."""

    def __init__(self, tmp_path, start, *, text=CONFIG, trusted=True):
        self.settings = parse(text)
        self.path = tmp_path / "kiosk.db"
        self.key_file = tmp_path / "data.key"  # made by the store on first start
        self.clock = SimulatedClock(start, speed=0)
        self.trusted = trusted
        self.core = None

    def start(self, **kwargs):
        store = Store(self.path, now=self.clock.now, key_file=self.key_file)
        trust = (lambda now: Trust(True, "test clock")) if self.trusted else None
        self.core = Core(
            self.settings, store=store, clock=self.clock, trust=trust,
            build_hardware=lambda initial: hardware.build(
                self.settings, simulate=True, initial_states=initial),
            **kwargs)
        self.core.start()
        return self.core

    def stop(self):
        self.core.stop()

    def relay(self, name):
        return self.core.hw.relays[name].is_active

    def to(self, moment):
        self.clock.jump(moment)
        self.core.reconcile()


@pytest.fixture
def post(tmp_path):
    made = []

    def make(start, **kwargs):
        p = Post(tmp_path, start, **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        if p.core is not None and p.core.hw is not None:
            try:
                p.stop()
            except Exception:
                pass


def api_client(p):
    """A client on the API of ``p``'s started core, which gets the simulator's guards.

    The client keeps the post (``post_``) and the core (``core``) for tests that move the
    clock or look behind the API; log in with ``test_api.login``.
    """
    ensure_guards(p.core, simulate=True)
    client = TestClient(create_app(p.core), raise_server_exceptions=False)
    client.post_, client.core = p, p.core
    return client


class CountingStore:
    """A store that counts what is asked of it, to show that a check left it alone."""

    def __init__(self, store):
        self.store = store
        self.uses = 0

    def __getattr__(self, name):
        self.uses += 1
        return getattr(self.store, name)


def visit_body(**changes):
    """A guest's registration as the kiosk sends it; ``changes`` override fields."""
    body = dict(name="Budi Santoso", institution="PT Maju Jaya", phone="+62 812 3456 7890",
                purpose="Rapat anggaran", host="Sekretaris", party_size=1, id_type="KTP",
                id_number="3201 0123 4567 8901", temperature_c=36.6, temperature_source="sensor",
                consent=True)
    body.update(changes)
    return body


def nik(n):
    """A distinct, well-formed 16-digit KTP number."""
    return f"{3201000000000000 + n}"


LONG_FIRST = ("tests/ui/test_kivy_", "tests/ui/test_screenshots.py", "tests/test_soak.py",
              "tests/test_sync.py")


def pytest_collection_modifyitems(items):
    """The long items first (a Kivy window module takes minutes), so that with one worker
    per core (``pytest -n 2``) the short tests fill the gaps and both workers end together."""
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(LONG_FIRST)
                     if item.nodeid.startswith(prefix)), len(LONG_FIRST))

    items.sort(key=rank)


POSTGRES = os.environ.get("KIOSK_TEST_POSTGRES")
# hq on SQLite, and on PostgreSQL where one is named (CI does): a value one database stores
# the other may refuse (a NUL, an integer past 32 bits), and a refusal there was a 500.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES, reason="set KIOSK_TEST_POSTGRES=postgresql://... (CI does)"))]


def hq_database_url(kind: str, folder) -> str:
    """A database of its own for one module's hq: a file, or a fresh schema on the server."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'hq.db'}"
    import sqlalchemy

    schema = f"t{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    joiner = "&" if "?" in POSTGRES else "?"
    return f"{POSTGRES}{joiner}options=-csearch_path%3D{schema}"
