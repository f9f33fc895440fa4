"""A small synchronous client of the core's local API, for the touchscreen.

Blocking on purpose: the UI calls it from worker threads (:mod:`kiosk.ui.background`),
never from Kivy's main thread, so a slow core can delay an answer but never freeze a
screen. Two failures matter to a screen and get their own types: the core did not answer
at all (:class:`CoreUnreachable`: show "please contact the guard" and poll until it is
back) and the core said no (:class:`ApiError` with the HTTP status and its message).

The core listens on ``http://127.0.0.1:8470`` in development and on a unix socket on the
Pi (``unix:/run/kiosk/core.sock``); both URL forms are accepted here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

UNIX_BASE = "http://kiosk-core"  # any host works over a unix socket; this one reads well in logs
TIMEOUT = 5.0
MEASURE_TIMEOUT = 15.0  # the core samples the thermometer until steady (about 3 s at most)
MAX_CODE_LENGTH = 512  # longer QR payloads are junk for us; never sent to the core


class CoreError(Exception):
    """Anything that went wrong talking to the core."""


class CoreUnreachable(CoreError):
    """The core did not answer (not running, restarting, socket missing, timed out)."""


class CoreSlow(CoreUnreachable):
    """The core took longer than the timeout: busy, or hung.

    Kept apart from a refused connection because one slow answer from a busy core (a
    report being drawn, an SD card flushing) is not a lost core: the app asks ``/health``
    before it shows "please contact the guard".
    """


class ApiError(CoreError):
    """The core answered with an error.

    Attributes:
        status: The HTTP status (401 wrong PIN, 404 unknown code, 409 no badge free, 422 a
            field to fix, 429 locked out, 503 device unavailable, ...).
        detail: The core's message, flattened to one line (English).
        detail_id: The same in Bahasa Indonesia when the core gives one (guest errors).
        field: The form field at fault, when the core names one.
        retry_after: Seconds from a ``Retry-After`` header (PIN lockout), else ``None``.
    """

    def __init__(self, status: int, detail: str, retry_after: int | None = None, *,
                 detail_id: str | None = None, field: str | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.detail_id = detail_id or detail
        self.field = field
        self.retry_after = retry_after

    def message(self, lang: str) -> str:
        """The core's message in the guest's language."""
        return self.detail_id if lang == "id" else self.detail


def _body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> str:
    body = _body(response)
    if "detail" not in body:
        return response.text[:300] or response.reason_phrase
    detail = body["detail"]
    if isinstance(detail, list):  # FastAPI's validation errors: [{"loc": [...], "msg": ...}]
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", ())[1:])
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return "; ".join(parts) or str(detail)
    return str(detail)


class CoreClient:
    """The core's API as the kiosk screens need it.

    Args:
        url: ``http://HOST:PORT`` or ``unix:/path/to/socket``.
        timeout: Seconds to wait for most answers.
        transport: An ``httpx`` transport to use instead (tests, a unix socket).
    """

    def __init__(self, url: str, *, timeout: float = TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        if url.startswith("unix:"):
            transport = transport or httpx.HTTPTransport(uds=url[5:])
            base = UNIX_BASE
        else:
            base = url.rstrip("/")
        self._http = httpx.Client(base_url=base, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, token: str | None = None,
              timeout: float | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        extra = {"timeout": timeout} if timeout is not None else {}
        try:
            response = self._http.request(method, f"/api/v1{path}", headers=headers,
                                          **extra, **kwargs)
        except httpx.TimeoutException as exc:
            raise CoreSlow(f"the core at {self.url} did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise CoreUnreachable(f"the core at {self.url} did not answer: {exc}") from exc
        if response.status_code >= 400:
            retry = response.headers.get("retry-after")
            body = _body(response)
            field, detail_id = body.get("field"), body.get("detail_id")
            raise ApiError(response.status_code, _detail(response),
                           int(retry) if retry and retry.isdigit() else None,
                           detail_id=detail_id if isinstance(detail_id, str) else None,
                           field=field if isinstance(field, str) else None)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "the core sent something that is not JSON") \
                from exc

    # -- the calls the screens make ----------------------------------------------------------

    def scanned_codes(self, after: int = 0) -> list[dict]:
        """Codes the core's serial QR scanner read after sequence number ``after``."""
        return self._call("GET", "/scanner", params={"after": after}).get("codes", [])

    def health(self, timeout: float = 4.0) -> dict:
        """The core's health; raises :class:`CoreUnreachable` when it is down."""
        return self._call("GET", "/health", timeout=timeout)

    def staff(self) -> list[tuple[str, str]]:
        """The staff directory as the core has it now (hq may have sent a newer one)."""
        found = self._call("GET", "/staff").get("staff", [])
        return [(str(s.get("name", "")), str(s.get("unit", ""))) for s in found
                if isinstance(s, dict) and s.get("name")]

    def login(self, pin: str) -> dict:
        """A guard's PIN -> ``{"token", "name", "role"}``; 401 wrong PIN, 429 locked out."""
        return self._call("POST", "/guard/login", json={"pin": pin})

    def measure_temperature(self) -> dict:
        """``{"celsius", "ok", "threshold_c"}``; :class:`ApiError` 503 when the sensor is out."""
        return self._call("POST", "/temperature", timeout=MEASURE_TIMEOUT)

    def resolve_code(self, payload: str) -> dict:
        """What a scanned code is: ``{"kind": "invitation" | "pass" | "badge", ...}``.

        An invitation brings ``code`` and the details to prefill, a pass the returning
        guest's details, a badge ``badge``, ``visit_id`` and the short ``name``.

        Raises:
            ApiError: 404 for a code the core does not know; 400 for a payload too long or
                with control characters, without asking the core.
        """
        if not payload or len(payload) > MAX_CODE_LENGTH or not payload.isprintable():
            raise ApiError(400, "not a kiosk code", detail_id="bukan kode kiosk")
        return self._call("GET", f"/codes/{quote(payload, safe='')}")

    def create_visit(self, body: dict, *, token: str | None = None) -> dict:
        """Register a visit -> ``{"id", "badge", "status"}``.

        ``token`` is the guard's, when the guard measured the temperature by hand.
        """
        return self._call("POST", "/visits", json=body, token=token, timeout=10.0)

    def on_site(self) -> list[dict]:
        """The visits of guests still in the building."""
        return list(self._call("GET", "/visits", params={"on_site": "true"}).get("visits", []))

    def checkout(self, visit_id: int | str) -> dict:
        return self._call("POST", f"/visits/{quote(str(visit_id), safe='')}/checkout")

    def checkout_badge(self, badge: str) -> dict:
        return self._call("POST", f"/badges/{quote(badge, safe='')}/checkout")

    def rollcall(self) -> dict:
        """The evacuation roll call: ``{"active": false}``, or everyone on site with ticks."""
        return self._call("GET", "/rollcall")

    def rollcall_check(self, kind: str, ref: int | str, *, token: str) -> dict:
        """A guard ticks someone off at the assembly point (``kind`` guest or guard)."""
        return self._call("POST", f"/rollcall/{quote(kind, safe='')}/"
                                  f"{quote(str(ref), safe='')}/check", token=token)

    def request(self, method: str, path: str, *, token: str | None = None,
                timeout: float | None = None, **kwargs: Any) -> Any:
        """Any call of the core's API under ``/api/v1`` (the guard panel's screens use it).

        ``kwargs`` go to ``httpx`` (``json=``, ``params=``); the answer is the JSON body.
        """
        return self._call(method, path, token=token, timeout=timeout, **kwargs)

    def download(self, path: str, *, token: str, params: dict | None = None) -> bytes:
        """A file the core makes (a report): the raw bytes."""
        try:
            response = self._http.get(f"/api/v1{path}", params=params, timeout=60,
                                      headers={"Authorization": f"Bearer {token}"})
        except httpx.TimeoutException as exc:
            raise CoreSlow(f"the core at {self.url} did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise CoreUnreachable(f"the core at {self.url} did not answer: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response),
                           detail_id=_body(response).get("detail_id"))
        return response.content

    def logout(self, token: str) -> None:
        self._call("POST", "/guard/logout", token=token)

