"""The local API for the duty roster (SOP 1, 20, 21) and the shift handover (SOP 19).

Every route needs a guard's token; changing a day's duty and calling guards out need an admin
(403 for a guard). Domain errors become 4xx in ``create_app``: a wrong field is 422 with
``field`` and ``detail_id`` (Bahasa Indonesia), a clash with the state 409. A wrong incoming
PIN at a handover is a 422 on ``incoming_pin``, not a 401, so the screen does not mistake it
for the outgoing guard's session ending; too many wrong PINs are the login's 429.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from kiosk.auth import Guard
from kiosk.core.api import Core, Guarded
from kiosk.watchlist import NotAllowed

router = APIRouter(prefix="/api/v1")


def admin(who: Guarded) -> Guard:
    if who.role != "admin":
        raise NotAllowed("only an admin may do this", "hanya admin yang boleh melakukan ini")
    return who


Admin = Annotated[Guard, Depends(admin)]


class DutyIn(BaseModel):
    shift: str = Field(min_length=1, max_length=20)
    guard: str = Field(min_length=1, max_length=60)
    backups: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        min_length=2, max_length=2)


class DayIn(BaseModel):
    duties: list[DutyIn] = Field(max_length=12, description="empty: nobody scheduled that day")
    reason: str = Field(min_length=1, max_length=200)


class CalloutIn(BaseModel):
    date: dt.date
    time: dt.time
    note: str = Field(min_length=1, max_length=100)
    guards: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = Field(
        None, max_length=30, description="null: every roster guard not on duty at that time")


class HandoverIn(BaseModel):
    incoming_pin: str = Field(min_length=1, max_length=16)
    note: str = Field("", max_length=500)


@router.get("/roster")
def roster(who: Guarded, core: Core, start: dt.date | None = None,
           days: Annotated[int, Query(ge=1, le=31)] = 7):
    """``days`` days from ``start`` (today by default), today's date and who is on now."""
    today = core.clock.now().date()
    first = start or today
    settings = core.settings.roster
    return {
        "today": today.isoformat(),
        "on_duty": core.roster.views(core.roster.on_duty()),
        "shifts": [{"name": s.name, "start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}"}
                   for s in settings.shifts],
        "guards": list(settings.guards),
        "checkin_grace_minutes": settings.checkin_grace_minutes,
        "days": [core.roster.day_view(first + dt.timedelta(days=n)) for n in range(days)],
    }


@router.get("/roster/now")
def roster_now(who: Guarded, core: Core):
    return {"at": core.clock.now().isoformat(),
            "on_duty": core.roster.views(core.roster.on_duty())}


@router.put("/roster/{day}")
def set_day(day: dt.date, body: DayIn, who: Admin, core: Core):
    return core.roster.set_day(day, [d.model_dump() for d in body.duties], reason=body.reason,
                               actor=who.name)


@router.delete("/roster/{day}")
def reset_day(day: dt.date, who: Admin, core: Core):
    return core.roster.reset_day(day, actor=who.name)


@router.post("/roster/checkin")
def checkin(who: Guarded, core: Core):
    return core.roster.checkin(who.name)


@router.post("/roster/callouts", status_code=201)
def callout(body: CalloutIn, who: Admin, core: Core):
    return core.roster.callout(day=body.date, at=body.time, note=body.note, guards=body.guards,
                               actor=who.name)


@router.get("/roster/callouts")
def callouts(who: Guarded, core: Core, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    return {"callouts": core.roster.callouts(limit=limit)}


@router.get("/handover/summary")
def handover_summary(who: Guarded, core: Core):
    return core.handover.summary()


@router.post("/handover", status_code=201)
def handover(body: HandoverIn, request: Request, who: Guarded, core: Core):
    """Hand over; the outgoing session ends and the incoming guard's starts (``token``)."""
    record, incoming = core.handover.accept(who, incoming_pin=body.incoming_pin, note=body.note)
    core.sessions.end(request.headers["authorization"].partition(" ")[2])
    return {**record, "token": core.sessions.start(incoming), "role": incoming.role,
            "expires_after_minutes": core.settings.security.session_minutes}


@router.get("/handover")
def handovers(who: Guarded, core: Core, limit: Annotated[int, Query(ge=1, le=200)] = 20):
    return {"handovers": core.handover.history(limit)}
