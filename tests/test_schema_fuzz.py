"""The core's and hq's HTTP APIs fuzzed from their own OpenAPI schemas.

schemathesis reads each app's /openapi.json and sends every operation valid and invalid
requests in-process (ASGI, no network): to the core on simulated hardware and a frozen
simulated clock as nobody, as a guard and as an admin; to hq as nobody, as a kiosk and as an
admin. Whatever arrives, the answer is never a 5xx, it matches the published schema (every
4xx is a ``Problem``), and every refusal carries a ``detail`` a person can act on: one line,
or FastAPI's list of the fields at fault.
"""

from __future__ import annotations

import pytest
import schemathesis
from conftest import DATABASES, Post, api_client, at, hq_database_url
from hypothesis import HealthCheck, settings
from schemathesis import checks

from kiosk import invitations
from kiosk.core.api import create_app as create_core_app
from kiosk.hq.api import create_app as create_hq_app
from kiosk.hq.db import Hq, connect

# What every answer is held to. Left out, each for a reason the schema cannot carry:
# - positive_data_acceptance: a schema-valid request may rightly be refused by the domain (an
#   unknown alarm code, a visit that does not exist, a reversed date range);
# - negative_data_rejection: pydantic's lax mode reads 0 and 1 as false and true, and a number
#   in a query string as a Unix time (``?day=0`` is 1970-01-01) where the schema says a
#   boolean or an ISO date;
# - unsupported_method: ``GET /registers/vehicles/in`` is ``GET /registers/vehicles/{id}``
#   with a bad id, so the answer is a 401 or 422, not a 405;
# - allow_header_conformance: Starlette's 405 names only the methods of the first route that
#   matches the path.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance, checks.missing_required_header,
          checks.ignored_auth]

# Bounded so the file stays well under a minute and a half on two cores; every run draws new
# examples, so the whole suite's runs add up to far more.
FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.filter_too_much])

# The apps are made at import, for schemathesis to read their schemas and send every request
# (its own probes included) through them; the fixtures below give each app what it serves.
# Both read their state from ``app.state`` on every request.
CORE_APP = create_core_app(None)
CORE = schemathesis.openapi.from_asgi("/openapi.json", CORE_APP)
HQ_APP = create_hq_app(None, signing_key=invitations.new_key())
HQ = schemathesis.openapi.from_asgi("/openapi.json", HQ_APP)


def assert_clear_refusal(response) -> None:
    """A refusal the screen (or a kiosk's log) can show as it is: one line saying what to fix."""
    if response.status_code < 400:
        return
    detail = response.json().get("detail")
    if isinstance(detail, list):  # FastAPI's validation errors: each names a field and says why
        assert detail and all(isinstance(e, dict) and isinstance(e.get("msg"), str)
                              and e["msg"] and "\n" not in e["msg"] for e in detail), response.text
    else:
        assert isinstance(detail, str) and detail.strip() and "\n" not in detail, response.text


@pytest.fixture(scope="module")
def core_post(tmp_path_factory):
    p = Post(tmp_path_factory.mktemp("schema-fuzz"), at(10, 0))
    p.start()
    client = api_client(p)  # also adds the simulator's guard (PIN 1234) and admin (9876)
    people = {}
    for role, pin in (("guard", "1234"), ("admin", "9876")):
        response = client.post("/api/v1/guard/login", json={"pin": pin})
        assert response.status_code == 200 and response.json()["role"] == role, response.text
        people[role] = p.core.sessions.guard(response.json()["token"])
    CORE_APP.state.core = p.core
    yield client, people
    CORE_APP.state.core = None
    p.stop()


def call_core(case, core_post, role: str | None) -> None:
    client, people = core_post
    headers = {}
    if role is not None:
        # A token of its own for each request: a logout or a handover ends only that one.
        token = client.core.sessions.start(people[role])
        headers["Authorization"] = f"Bearer {token}"
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert_clear_refusal(response)
    if case.path == "/api/v1/sim/faults":
        _repair_simulated_devices(client)


def _repair_simulated_devices(client) -> None:
    """Undo a simulated fault (an unplugged sensor, a silent modem): the examples after it
    test the API, not what a broken device answers, which the device tests cover."""
    faults = client.get("/api/v1/sim/state").json()["faults"]
    client.post("/api/v1/sim/faults", json={name: False for name in faults})


@CORE.parametrize()
@FUZZ
def test_core_as_nobody(case, core_post):
    call_core(case, core_post, None)


@CORE.parametrize()
@FUZZ
def test_core_as_guard(case, core_post):
    call_core(case, core_post, "guard")


@CORE.parametrize()
@FUZZ
def test_core_as_admin(case, core_post):
    call_core(case, core_post, "admin")


@pytest.fixture(scope="module", params=DATABASES)
def hq_tokens(request, tmp_path_factory):
    db = Hq(connect(hq_database_url(request.param, tmp_path_factory.mktemp("schema-fuzz-hq"))))
    tokens = {"kiosk": db.add("Kantor A"), "admin": db.add("Admin Provinsi", admin=True)}
    HQ_APP.state.hq = db
    yield tokens
    HQ_APP.state.hq = None
    db.engine.dispose()


def call_hq(case, hq_tokens, holder: str | None) -> None:
    headers = {"Authorization": f"Bearer {hq_tokens[holder]}"} if holder else None
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert_clear_refusal(response)


@HQ.parametrize()
@FUZZ
def test_hq_as_nobody(case, hq_tokens):
    call_hq(case, hq_tokens, None)


@HQ.parametrize()
@FUZZ
def test_hq_as_kiosk(case, hq_tokens):
    call_hq(case, hq_tokens, "kiosk")


@HQ.parametrize()
@FUZZ
def test_hq_as_admin(case, hq_tokens):
    call_hq(case, hq_tokens, "admin")
