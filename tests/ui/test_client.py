"""The UI's client of the core's API: both URL forms, and the two failures screens care about."""

import socket
import threading
import time

import pytest
import uvicorn
from conftest import at

from kiosk.core.api import create_app
from kiosk.core.service import ensure_guards
from kiosk.ui import core_url_for
from kiosk.ui.background import Background
from kiosk.ui.client import ApiError, CoreClient, CoreSlow, CoreUnreachable


@pytest.fixture
def core(post):
    p = post(at(10, 0))
    core = p.start()
    ensure_guards(core, simulate=True)
    return core


def serve_unix(core, path):
    server = uvicorn.Server(uvicorn.Config(create_app(core), uds=str(path), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    return server, thread


def test_unix_socket_as_on_the_pi(core, tmp_path):
    server, thread = serve_unix(core, tmp_path / "core.sock")
    try:
        with CoreClient(f"unix:{tmp_path / 'core.sock'}") as client:
            assert client.health()["ok"] is True
            assert client.login("1234")["name"] == "Petugas Simulasi"
            with pytest.raises(ApiError) as wrong:
                client.login("0000")
            assert wrong.value.status == 401
            assert client.on_site() == []
    finally:
        server.should_exit = True
        thread.join(5)


def test_core_down_is_unreachable_not_a_crash(tmp_path):
    with CoreClient(f"unix:{tmp_path / 'absent.sock'}") as client, \
            pytest.raises(CoreUnreachable):
        client.health()
    with CoreClient("http://127.0.0.1:9", timeout=1) as client, pytest.raises(CoreUnreachable) \
            as refused:
        client.health()
    assert not isinstance(refused.value, CoreSlow)  # refused at once: the core is gone


def test_a_core_that_accepts_but_never_answers_is_slow_not_gone():
    """A hung or very busy core: the app asks /health before it shows "contact the guard"."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with CoreClient(url, timeout=0.3) as client, pytest.raises(CoreSlow) as slow:
            client.on_site()
        assert "did not answer in time" in str(slow.value)
    finally:
        listener.close()


def test_guest_errors_carry_the_field_and_both_languages(core, tmp_path):
    server, thread = serve_unix(core, tmp_path / "core.sock")
    try:
        with CoreClient(f"unix:{tmp_path / 'core.sock'}") as client:
            body = {"name": "B", "institution": "X", "phone": "0812345678", "purpose": "Rapat",
                    "host": "Sekretaris", "party_size": 1, "id_type": "KTP",
                    "id_number": "3201012345678901", "temperature_c": 36.5,
                    "temperature_source": "sensor", "consent": True}
            with pytest.raises(ApiError) as refused:
                client.create_visit(body)
            assert refused.value.status == 422 and refused.value.field == "name"
            assert "2 to 80" in refused.value.message("en")
            assert "nama lengkap" in refused.value.message("id")
            with pytest.raises(ApiError) as unknown:
                client.resolve_code("GK1:INV:NOSUCHCODE00")
            assert unknown.value.status == 404
            for junk in ("", "x" * 600, "GK1:\x00INV"):  # never even sent
                with pytest.raises(ApiError) as bad:
                    client.resolve_code(junk)
                assert bad.value.status == 400
    finally:
        server.should_exit = True
        thread.join(5)


def test_core_url_follows_the_api_listen_address_unless_set(post):
    from kiosk.config import parse

    assert core_url_for(parse("")) == "http://127.0.0.1:8470"
    assert core_url_for(parse('[api]\nlisten = "unix:/run/kiosk/core.sock"\n')) == \
        "unix:/run/kiosk/core.sock"
    assert core_url_for(parse('[api]\nlisten = "unix:/run/kiosk/core.sock"\n'
                              '[ui]\ncore_url = "http://127.0.0.1:9000"\n')) == \
        "http://127.0.0.1:9000"


def test_background_answers_arrive_on_the_ui_side_and_stale_ones_are_dropped():
    queue = []
    background = Background(queue.append)
    got = []
    release = threading.Event()
    background.submit(lambda: release.wait(5) and "late", done=got.append)
    background.new_session()  # the guest walked away: the answer must not land
    release.set()
    background.submit(lambda: "fresh", done=got.append)
    errors = []
    background.submit(lambda: 1 / 0, failed=errors.append)
    deadline = time.monotonic() + 5
    while (len(got) < 1 or not errors) and time.monotonic() < deadline:
        while queue:
            queue.pop(0)()  # what the Kivy clock does on the UI thread
        time.sleep(0.01)
    while queue:
        queue.pop(0)()
    background.close()
    assert got == ["fresh"] and isinstance(errors[0], ZeroDivisionError)
