"""hq's HTTP API: kiosks push events and pull updates; admins read and invite.

Two kinds of bearer token, both made by ``kiosk hq add-kiosk`` / ``add-admin``: a kiosk's
token only pushes that kiosk's events and pulls its updates; an admin token reads every
kiosk and creates invitations, and can push nothing. The web page at ``/`` takes the admin
token as the password of HTTP Basic auth, so a browser can open it.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from pydantic import AfterValidator, BaseModel, Field

from kiosk import invitations
from kiosk.hq.db import Hq, HqError
from kiosk.refusals import REFUSED, wrong_shape

MAX_BATCH = 1000
INT32 = 2**31 - 1  # the largest value of PostgreSQL's integer columns
HEX32 = r"^[0-9a-f]{32}$"
KIND = r"^[A-Za-z0-9_.:-]+$"  # an event's kind, as the kiosks name them

bearer = HTTPBearer(auto_error=False)
basic = HTTPBasic(auto_error=False, realm="kiosk hq")


REFUSALS = {"4XX": REFUSED}


def _storable(payload: dict[str, Any]) -> dict[str, Any]:
    """Refuse what hq could store but never read back out as JSON over UTF-8.

    Python's JSON reader takes NaN and Infinity, and a JSON escape can spell half a UTF-16
    surrogate pair: stored, either made every later answer that holds it a 500 (a kiosk's
    pull of its updates, an admin's look at the events).
    """
    try:
        json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:  # UnicodeEncodeError is a ValueError
        raise ValueError("numbers must be finite and text must be valid Unicode: no NaN, "
                         "Infinity or lone surrogate escapes") from None
    return payload


Payload = Annotated[dict[str, Any], AfterValidator(_storable)]


class EventIn(BaseModel):
    # Plain ASCII in the text columns: PostgreSQL refuses a NUL in text, and a database error
    # would be a 500 where the kiosk needs a 422 naming the field.
    event_id: str = Field(pattern=HEX32)
    # hq keeps it in a 32-bit column on PostgreSQL (a bigger one would be a 500 there); a
    # kiosk's outbox never gets near it.
    seq: int = Field(ge=1, le=INT32)
    kind: str = Field(min_length=1, max_length=64, pattern=KIND)
    payload: Payload
    created_at: str = Field(max_length=40, pattern=r"^[0-9A-Za-z:.+ -]*$")


class EventsIn(BaseModel):
    store: str | None = Field(None, pattern=HEX32, description="the kiosk database's id")
    events: list[EventIn] = Field(max_length=MAX_BATCH)


class InvitationIn(BaseModel):
    kiosk: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=80)
    institution: str = Field(min_length=1, max_length=80)
    host: str = Field(min_length=1, max_length=80)
    purpose: str = Field(min_length=1, max_length=120)
    valid_on: dt.date


class UpdateIn(BaseModel):
    kiosk: str | None = Field(None, max_length=64, description="none: every kiosk")
    kind: Literal["staff", "roster", "contacts"]
    payload: Payload


def _hq(request: Request) -> Hq:
    return request.app.state.hq


def _holder(request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]):
    if credentials is None:
        raise HTTPException(401, "a token is needed: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    found = _hq(request).holder(credentials.credentials)
    if found is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return found


def kiosk_holder(found: Annotated[dict, Depends(_holder)]) -> dict:
    if found["admin"]:
        raise HTTPException(403, "an admin token cannot push or pull: use the kiosk's token")
    return found


def admin_holder(found: Annotated[dict, Depends(_holder)]) -> dict:
    if not found["admin"]:
        raise HTTPException(403, "this needs an admin token (kiosk hq add-admin NAME)")
    return found


Kiosk = Annotated[dict, Depends(kiosk_holder)]
Admin = Annotated[dict, Depends(admin_holder)]
router = APIRouter(prefix="/api/v1")


@router.post("/events")
def push(body: EventsIn, kiosk: Kiosk, request: Request):
    """Store a batch; answer with the ids hq holds, after which the kiosk marks them sent."""
    held, new = _hq(request).store(kiosk["id"], [{**e.model_dump(), "store": body.store}
                                                  for e in body.events])
    return {"held": held, "new": new}


# ``after`` is bounded like the update ids: past them the database refuses the query (a 500).
@router.get("/updates")
def pull(kiosk: Kiosk, request: Request, after: Annotated[int, Query(ge=0, le=INT32)] = 0):
    hq = _hq(request)
    found = hq.updates_for(kiosk["id"], after)
    hq.touch(kiosk["id"])
    return {"kiosk": kiosk["name"], "hq_key": request.app.state.public_key,
            "updates": found, "cursor": found[-1]["id"] if found else after}


@router.get("/kiosks")
def kiosk_list(_admin: Admin, request: Request):
    return {"kiosks": _hq(request).summary()}


@router.get("/kiosks/{name}/events")
def kiosk_events(name: str, _admin: Admin, request: Request,
                 kind: Annotated[str | None, Query(max_length=64, pattern=KIND)] = None):
    hq = _hq(request)
    try:
        kiosk_id = hq.kiosk_id(name)
    except HqError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"kiosk": name, "events": list(hq.events(kiosk_id, kind))}


@router.post("/invitations", status_code=201)
def invite(body: InvitationIn, _admin: Admin, request: Request):
    hq = _hq(request)
    try:
        hq.kiosk_id(body.kiosk)
        payload = invitations.sign(request.app.state.signing_key, **body.model_dump())
    except (HqError, invitations.InvitationError) as exc:
        raise HTTPException(422, str(exc)) from None
    fields = invitations.verify(payload, request.app.state.public_key)
    hq.publish("invitation", {**fields, "qr_payload": payload}, kiosk=body.kiosk)
    return {"code": fields["code"], "kiosk": body.kiosk, "valid_on": fields["valid_on"],
            "qr_payload": payload}


@router.post("/updates", status_code=201)
def publish(body: UpdateIn, _admin: Admin, request: Request):
    try:
        update_id = _hq(request).publish(body.kind, body.payload, kiosk=body.kiosk)
    except HqError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"id": update_id}


def page(request: Request,
         credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]) -> HTMLResponse:
    """The kiosks at a glance, for a browser (admin token as the Basic-auth password)."""
    found = _hq(request).holder(credentials.password) if credentials else None
    if not found or not found["admin"]:
        raise HTTPException(401, "log in with an admin token as the password",
                            headers={"WWW-Authenticate": 'Basic realm="kiosk hq"'})
    rows = []
    for k in _hq(request).summary():
        chain = "utuh / intact" if k["chain_ok"] else f"RUSAK / BROKEN: {k['chain']}"
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            k["name"], k["last_sync"] or "never", k["events"], k["guests_on_site"],
            ", ".join(k["active_alarms"]) or "-", chain)) + "</tr>")
    body = "\n".join(rows) or '<tr><td colspan="6">no kiosks yet</td></tr>'
    return HTMLResponse(f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Kiosk pos jaga - hq</title>
<meta http-equiv="refresh" content="60">
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.4em .8em;text-align:left}}</style></head>
<body><h1>Kiosk pos jaga</h1>
<table><tr><th>Kiosk</th><th>Sinkron terakhir / last sync (UTC)</th><th>Events</th>
<th>Tamu di dalam / guests on site</th><th>Alarm aktif / active alarms</th>
<th>Buku kejadian / logbook chain</th></tr>
{body}
</table></body></html>""")


def create_app(hq: Hq, *, signing_key: bytes) -> FastAPI:
    app = FastAPI(title="Gatehouse kiosk hq", version="1", responses=REFUSALS)
    app.state.hq = hq
    app.state.signing_key = signing_key
    app.state.public_key = invitations.public_key(signing_key)
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, wrong_shape)
    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/health", lambda: {"ok": True}, methods=["GET"])
    return app
