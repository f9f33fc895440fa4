"""The local API for guests: visits, badges, watchlist, alerts, invitations, codes, roll call.

The kiosk itself calls the endpoints without a token (register, check out, resolve a scanned
code, show the on-site list and the roll call); the guard's actions need the bearer token.
Where a token is optional, sending one shows full details instead of the lobby's short form;
a token that is sent but has expired is a 401, so the guard panel knows to log in again.
Domain errors (:class:`kiosk.watchlist.GuestError`) become 4xx in ``create_app``: invalid
field 422 with ``field`` and ``detail_id`` (Bahasa Indonesia), 403, 404, 409. Without the key
that seals guests' personal data (:class:`kiosk.store.sealed.KeyUnavailable`), what would
store it is a 503: the post works, but only the admin restoring the key file can fix that.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from kiosk.auth import Guard
from kiosk.core.api import Core, Guarded, guard
from kiosk.store.sealed import KeyUnavailable

LOCKED_ID = ("pendaftaran tamu tidak tersedia: kunci data pribadi hilang atau salah, admin "
             "harus memulihkan file kunci dari cadangan")


class _SealedRoute(APIRoute):
    """Turns a missing key into a 503 for these routes (the app's handlers are for all)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except KeyUnavailable as exc:
                return JSONResponse({"detail": str(exc), "detail_id": LOCKED_ID,
                                     "field": None}, status_code=503)

        return route


router = APIRouter(prefix="/api/v1", route_class=_SealedRoute)


def optional_guard(request: Request) -> Guard | None:
    return guard(request) if request.headers.get("authorization") else None


MaybeGuard = Annotated[Guard | None, Depends(optional_guard)]
Id = Annotated[int, Path(ge=1, le=2**53)]  # beyond SQLite's integers would be a 500


class VisitIn(BaseModel):
    """Every field is checked by the core, so a missing one gets a message a guest can act on."""

    name: str | None = None
    institution: str | None = None
    phone: str | None = None
    purpose: str | None = None
    host: str | None = None
    party_size: int | None = None
    id_type: str | None = None
    id_number: str | None = None
    temperature_c: float | None = None
    temperature_source: Literal["sensor", "manual"] | None = None
    consent: bool | None = None
    invitation: str | None = Field(None, max_length=20,
                                   description="the code of the invitation scanned, if any")


class DenyIn(BaseModel):
    reason: str = Field("", max_length=200)


class WatchIn(BaseModel):
    name: str = Field(max_length=200)
    institution: str = Field(max_length=200)
    id_number: str | None = Field(None, max_length=40)
    reason: str = Field(max_length=400)


class InvitationIn(BaseModel):
    name: str = Field(max_length=200)
    institution: str = Field(max_length=200)
    host: str = Field(max_length=200)
    purpose: str = Field(max_length=400)
    valid_on: dt.date


@router.post("/visits", status_code=201)
def register(body: VisitIn, who: MaybeGuard, core: Core):
    """Register a guest: 201 with id, badge, status (awaiting_host or held), returning."""
    return core.visits.register(body.model_dump(), guard=who)


@router.get("/visits")
def visits(core: Core, who: MaybeGuard, on_site: bool = False, day: dt.date | None = None):
    """Guests on site (``on_site=true``, no token: short names), or a day's visits (token)."""
    if not on_site and who is None:
        raise HTTPException(401, "log in with the guard PIN to see past visits",
                            headers={"WWW-Authenticate": "Bearer"})
    return {"visits": core.visits.listing(on_site=on_site, full=who is not None, day=day)}


@router.get("/visits/{visit_id}")
def visit(visit_id: Id, who: MaybeGuard, core: Core):
    return core.visits.get(visit_id, full=who is not None)


@router.post("/visits/{visit_id}/admit")
def admit(visit_id: Id, who: Guarded, core: Core):
    return core.visits.admit(visit_id, actor=who.name)


@router.post("/visits/{visit_id}/deny")
def deny(visit_id: Id, who: Guarded, core: Core, body: DenyIn | None = None):
    return core.visits.deny(visit_id, actor=who.name, reason=body.reason if body else "")


@router.post("/visits/{visit_id}/checkout")
def checkout(visit_id: Id, who: MaybeGuard, core: Core):
    return core.visits.checkout(visit_id, actor=who.name if who else "tamu")


@router.post("/badges/{badge}/checkout")
def checkout_badge(badge: str, who: MaybeGuard, core: Core):
    return core.visits.checkout_badge(badge, actor=who.name if who else "tamu")


@router.get("/badges")
def badges(who: Guarded, core: Core):
    """The pool: each label with the visit wearing it, or null when free."""
    worn = {v["badge"]: v["id"] for v in core.visits.listing(on_site=True, full=False)}
    pool = [{"badge": label, "visit_id": worn.get(label)} for label in core.visits.labels()]
    return {"badges": pool, "free": sum(b["visit_id"] is None for b in pool)}


@router.post("/watchlist", status_code=201)
def watch(body: WatchIn, who: Guarded, core: Core):
    return core.watchlist.add(**body.model_dump(), actor=who.name)


@router.get("/watchlist")
def watchlist(who: Guarded, core: Core):
    return {"watchlist": core.watchlist.list()}


@router.delete("/watchlist/{entry_id}", status_code=204)
def unwatch(entry_id: Id, who: Guarded, core: Core):
    core.watchlist.remove(entry_id, actor=who.name)


@router.get("/alerts")
def alerts(who: Guarded, core: Core):
    """Open alerts first (oldest first), then the latest resolved ones."""
    return {"alerts": core.alerts.list()}


@router.post("/alerts/{alert_id}/resolve")
def resolve(alert_id: Id, who: Guarded, core: Core):
    return core.alerts.resolve(alert_id, actor=who.name)


@router.post("/invitations", status_code=201)
def invite(body: InvitationIn, who: Guarded, core: Core):
    return core.visits.invite(**body.model_dump(), actor=who.name)


@router.get("/codes/{payload:path}")
def code(payload: str, request: Request, core: Core):
    """What a scanned QR means: ``{"kind": "invitation"|"badge"|"pass", ...prefill}``."""
    # The route's pattern lets a trailing newline slip past it ("$" matches before one):
    # take the whole decoded path instead, so every control character is seen.
    payload = request.scope["path"].split("/codes/", 1)[1]
    return core.visits.resolve_code(payload)


@router.get("/rollcall")
def rollcall(who: MaybeGuard, core: Core):
    """Everyone on site during a fire or evacuation alarm; ``{"active": false}`` otherwise."""
    return core.rollcall.current(full=who is not None)


@router.post("/rollcall/{kind}/{ref}/check")
def rollcall_check(kind: Literal["guest", "guard"], ref: Id, who: Guarded, core: Core):
    return core.rollcall.check_off(kind, ref, actor=who.name)

