"""The local API for the guard's registers: loans, vehicles at the gate, mail and packages.

Every route needs the guard's bearer token: these are the guard's books, not the lobby's.
Bodies are checked by :mod:`kiosk.registers`, so a missing or wrong field gets a 422 with
``field`` and a message in both languages (``detail``, ``detail_id``) the guard panel can
show as it is; 404 and 409 carry the same shape.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kiosk.core.api import Core, Guarded, RowId

router = APIRouter(prefix="/api/v1")


class LoanIn(BaseModel):
    kind: str | None = Field(None, description='"item" or "vehicle"')
    asset: str | None = Field(None, description="the item's name or the vehicle's plate")
    borrower: str | None = None
    unit: str | None = None
    purpose: str | None = None
    expected_back_at: dt.datetime | None = Field(
        None, description="when it should be back; without an offset, in the site's time")


class ReturnIn(BaseModel):
    condition: str | None = None
    received_by: str | None = Field(None, description="who received it; default the guard")


class VehicleIn(BaseModel):
    plate: str | None = None
    driver: str | None = None
    purpose: str | None = Field(None, description="why it comes, or where an office car goes")
    loan_id: int | None = Field(None, ge=1, le=2**53)


class MailIn(BaseModel):
    kind: str | None = Field(None, description='"letter" or "package"')
    sender: str | None = None
    addressee: str | None = None
    description: str | None = None


class DeliverIn(BaseModel):
    to: str | None = Field(None, description='"archive" or "recipient"')
    taken_by: str | None = None


@router.get("/registers/outstanding")
def outstanding(who: Guarded, core: Core):
    """What the next guard takes over: items_lent, vehicles_lent, vehicles_inside, packages."""
    return core.registers.outstanding()


@router.get("/registers/assets")
def assets(who: Guarded, core: Core):
    """The configured items and office vehicles, each with the loan or trip it is on now."""
    return core.registers.assets()


@router.post("/registers/loans", status_code=201)
def lend(body: LoanIn, who: Guarded, core: Core):
    return core.registers.lend(body.model_dump(), actor=who.name)


@router.post("/registers/loans/{loan_id}/return")
def give_back(loan_id: RowId, body: ReturnIn, who: Guarded, core: Core):
    return core.registers.return_loan(loan_id, body.model_dump(), actor=who.name)


@router.get("/registers/loans")
def loans(who: Guarded, core: Core, open: bool = False, day: dt.date | None = None):
    """Open loans (``open=true``), or loans lent or returned on ``day`` (default today)."""
    return {"loans": core.registers.loans(open_only=open, day=day)}


@router.get("/registers/loans/{loan_id}")
def loan(loan_id: RowId, who: Guarded, core: Core):
    return core.registers.loan(loan_id)


@router.post("/registers/vehicles/in")
def vehicle_in(body: VehicleIn, who: Guarded, core: Core):
    """A vehicle comes in: a guest's car arrives (driver, purpose), an office car is back."""
    return core.registers.vehicle_in(body.model_dump(), actor=who.name)


@router.post("/registers/vehicles/out")
def vehicle_out(body: VehicleIn, who: Guarded, core: Core):
    """A vehicle goes out: a guest's car leaves, an office car starts a trip (driver, purpose)."""
    return core.registers.vehicle_out(body.model_dump(), actor=who.name)


@router.post("/registers/vehicles/{vehicle_id}/out")
def vehicle_left(vehicle_id: RowId, who: Guarded, core: Core):
    return core.registers.close_vehicle(vehicle_id, "out", actor=who.name)


@router.post("/registers/vehicles/{vehicle_id}/in")
def vehicle_back(vehicle_id: RowId, who: Guarded, core: Core):
    return core.registers.close_vehicle(vehicle_id, "in", actor=who.name)


@router.get("/registers/vehicles")
def vehicles(who: Guarded, core: Core, inside: bool = False, away: bool = False,
             day: dt.date | None = None):
    """Vehicles inside and/or office vehicles away, or ``day``'s traffic (default today)."""
    return {"vehicles": core.registers.vehicles(inside=inside, away=away, day=day)}


@router.get("/registers/vehicles/{vehicle_id}")
def vehicle(vehicle_id: RowId, who: Guarded, core: Core):
    return core.registers.vehicle(vehicle_id)


@router.post("/registers/mail", status_code=201)
def receive(body: MailIn, who: Guarded, core: Core):
    return core.registers.receive_mail(body.model_dump(), actor=who.name)


@router.post("/registers/mail/{mail_id}/deliver")
def deliver(mail_id: RowId, body: DeliverIn, who: Guarded, core: Core):
    return core.registers.deliver_mail(mail_id, body.model_dump(), actor=who.name)


@router.get("/registers/mail")
def mail(who: Guarded, core: Core, pending: bool = False, day: dt.date | None = None):
    """Mail not yet handed over (``pending=true``, with ``age_minutes``), or ``day``'s mail."""
    return {"mail": core.registers.mail(pending=pending, day=day)}


@router.get("/registers/mail/{mail_id}")
def mail_item(mail_id: RowId, who: Guarded, core: Core):
    return core.registers.mail_item(mail_id)
