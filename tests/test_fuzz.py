"""Hostile input at the two doors anyone can knock on: a QR code held up to the kiosk, and a
push to hq. Whatever arrives, the answer is a 2xx or a 4xx with a one-line message: never a
500, never a crash, and nothing already stored is touched.
"""

from __future__ import annotations

import base64
import json
import string
from urllib.parse import quote

import pytest
from conftest import DATABASES, api_client, at, hq_database_url
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import invitations
from kiosk.hq.api import create_app
from kiosk.hq.db import Hq, connect

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line(response) -> str:
    detail = response.json().get("detail")
    text = detail if isinstance(detail, str) else json.dumps(detail)
    assert "\n" not in text and text.strip(), response.text
    return text


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# What a camera or a prankster might show: our own prefixes with junk after them, signed
# invitations with a broken body or signature, long strings, control characters, emoji.
prefixes = st.sampled_from(["", "GK1:", "GK1:INV:", "GK1:INV2:", "GK1:PASS:", "GK1:PASS:1:",
                            "GK1:BADGE:", "TAMU-", "gk1:inv2:", "https://"])
junk = st.text(max_size=80) | st.text(string.printable, max_size=600)
forged_invitation = st.builds(
    lambda body, sig: f"{invitations.PREFIX}{b64(body)}.{b64(sig)}",
    st.binary(max_size=200) | st.builds(lambda d: json.dumps(d).encode(),
                                        st.dictionaries(st.sampled_from(list("ckdnihp")),
                                                        st.text(max_size=20))),
    st.binary(min_size=0, max_size=70))
payloads = st.builds(lambda p, j: p + j, prefixes, junk) | forged_invitation


@pytest.fixture(scope="module")
def kiosk_api(tmp_path_factory):
    from conftest import Post

    p = Post(tmp_path_factory.mktemp("fuzz"), at(10, 0), text=_config())
    p.start()
    client = api_client(p)
    yield client
    p.stop()


def _config() -> str:
    from conftest import CONFIG

    key = invitations.public_key(invitations.new_key())
    return CONFIG + f'[sync]\nurl = "https://hq.example.go.id"\ntoken = "{"t" * 43}"\n' \
                    f'hq_key = "{key}"\n'


@FUZZ
@given(payload=payloads)
def test_any_scanned_code_is_answered_in_one_line_never_500(kiosk_api, payload):
    response = kiosk_api.get("/api/v1/codes/" + quote(payload, safe=""))
    assert response.status_code in (200, 400, 404, 405, 422), (payload, response.text)
    if response.status_code != 200:
        one_line(response)




@pytest.fixture(scope="module", params=DATABASES)
def hq_db(request, tmp_path_factory):
    db = Hq(connect(hq_database_url(request.param, tmp_path_factory.mktemp("hq"))))
    yield db
    db.engine.dispose()


@pytest.fixture(scope="module")
def hq_api(hq_db):
    db = hq_db
    token = db.add("Kantor A")
    client = TestClient(create_app(db, signing_key=invitations.new_key()),
                        raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    good = {"event_id": "a" * 32, "seq": 1, "kind": "x", "payload": {"n": 1},
            "created_at": "2026-11-22T09:00:00+07:00"}
    assert client.post("/api/v1/events", json={"events": [good]}).json()["held"] == ["a" * 32]
    yield client, db, db.holder(token)["id"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=20)
# A sound event with one or two fields swapped for anything at all: the nearly-right ones are
# what slip past a check.
SOUND = {"event_id": "b" * 32, "seq": 2, "kind": "visit.registered", "payload": {"id": 1},
         "created_at": "2026-11-22T09:00:00.000+07:00"}
odd_values = (json_values | st.integers() | st.text(max_size=70)
              | st.sampled_from([0, -1, 2**53, 2**53 + 1, 2**63, 2**70, 1e300])
              | st.sampled_from(["\x00", "b" * 31, "B" * 32, "visit\x00", "9" * 40]))
event = st.builds(lambda swaps, drop: {k: v for k, v in {**SOUND, **swaps}.items()
                                       if k not in drop},
                  st.dictionaries(st.sampled_from(list(SOUND)), odd_values, max_size=2),
                  st.sets(st.sampled_from(list(SOUND)), max_size=1))
bodies = (json_values | st.fixed_dictionaries({"events": st.lists(event, max_size=5)})
          | st.fixed_dictionaries({"events": json_values, "store": json_values}))


@FUZZ
@given(body=bodies)
def test_any_push_body_is_refused_in_one_line_and_stores_nothing_odd(hq_api, body):
    client, db, kiosk_id = hq_api
    response = client.post("/api/v1/events", json=body)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        one_line(response)
    held = {e["event_id"]: e for e in db.events(kiosk_id)}
    assert held["a" * 32]["payload"] == {"n": 1}  # what hq held before is untouched


@FUZZ
@given(raw=st.binary(max_size=300))
def test_bytes_that_are_not_json_are_a_4xx(hq_api, raw):
    client, _db, _kiosk = hq_api
    response = client.post("/api/v1/events", content=raw,
                           headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500


# --- what hq used to answer with a 500 ----------------------------------------------------


@pytest.fixture(scope="module")
def hq_admin(hq_api):
    """An admin client on the same hq, and the kiosk's client."""
    client, db, _kiosk = hq_api
    admin = TestClient(client.app, raise_server_exceptions=False)
    admin.headers["Authorization"] = f"Bearer {db.add('Admin Provinsi', admin=True)}"
    return admin, client


def test_numbers_past_the_database_integers_are_a_422(hq_api):
    client, _db, _kiosk = hq_api
    for after in (2**31, 2**63):  # a 32-bit column on PostgreSQL, 64-bit on SQLite
        response = client.get("/api/v1/updates", params={"after": after})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", "after"]
    event = {**SOUND, "event_id": "c" * 32, "seq": 2**31}
    response = client.post("/api/v1/events", json={"events": [event]})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "events", 0, "seq"]


@pytest.mark.parametrize("raw", [b'{"n": NaN}', b'{"n": -Infinity}', b'{"name": "\\ud800"}',
                                 b'{"\\udc00": 1}'])
def test_a_payload_hq_could_not_give_back_is_refused_and_hq_still_reads(hq_admin, raw):
    """Stored, NaN or half a surrogate pair made every later read of it a 500: the kiosk's
    pull of its updates, or the admin's look at the events."""
    admin, kiosk = hq_admin
    event = json.dumps({**SOUND, "event_id": "d" * 32, "payload": "PAYLOAD"}).encode()
    for client, path, body in ((kiosk, "/api/v1/events", b'{"events": [%s]}' % event),
                               (admin, "/api/v1/updates", b'{"kind": "staff", '
                                                          b'"payload": "PAYLOAD"}')):
        response = client.post(path, content=body.replace(b'"PAYLOAD"', raw),
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.content.isascii() and "finite" in one_line(response)
    assert kiosk.get("/api/v1/updates").status_code == 200
    assert admin.get("/api/v1/kiosks/Kantor A/events").status_code == 200


def test_a_kiosk_name_no_kiosk_can_have_is_unknown_not_a_500(hq_admin):
    """PostgreSQL refuses a NUL in a query; SQLite just finds nothing. Both now say the same."""
    admin, _kiosk = hq_admin
    response = admin.post("/api/v1/updates", json={"kiosk": "\x00", "kind": "staff",
                                                   "payload": {}})
    assert response.status_code == 422 and "no kiosk named" in one_line(response)
    response = admin.get("/api/v1/kiosks/%00/events")
    assert response.status_code == 404 and "no kiosk named" in one_line(response)
    response = admin.get("/api/v1/kiosks/Kantor A/events", params={"kind": "visit\x00"})
    assert response.status_code == 422, response.text
