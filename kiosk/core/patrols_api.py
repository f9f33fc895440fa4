"""The local API for patrol rounds (SOP 13): the guard's phone-free patrol on the kiosk screen.

Every endpoint needs the guard's token: the route and the times of the rounds are what
people outside must not learn. Domain errors (:class:`kiosk.watchlist.GuestError`) become
4xx in ``create_app``: a payload that is no checkpoint code 422, an unknown round or a
checkpoint not on the route 404, a round already open or finished 409.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kiosk.core.api import Core, Guarded, RowId

router = APIRouter(prefix="/api/v1")


class StartIn(BaseModel):
    task_id: str | None = Field(None, max_length=80,
                                description="the patrol task to walk; default: the one due now")
    extra: bool = Field(False, description="an extra round, linked to no patrol task")


class ScanIn(BaseModel):
    payload: str = Field(max_length=512, description="the scanned code, GK1:CP:<id>")


class FinishIn(BaseModel):
    note: str | None = Field(None, max_length=500)


@router.get("/patrols/checkpoints")
def checkpoints(who: Guarded, core: Core):
    """The route: each checkpoint's id, name and QR payload, in walking order."""
    return {"checkpoints": core.patrols.checkpoints()}


@router.post("/patrols", status_code=201)
def start(who: Guarded, core: Core, body: StartIn | None = None):
    """Start a round for the patrol due now (or ``task_id``), else an extra round."""
    body = body or StartIn()
    return core.patrols.start(actor=who.name, task_id=body.task_id, extra=body.extra)


@router.get("/patrols")
def rounds(who: Guarded, core: Core, day: dt.date | None = None):
    """Rounds started on ``day`` (default today, the site's calendar day), oldest first."""
    return {"rounds": core.patrols.listing(day)}


@router.get("/patrols/{round_id}")
def one_round(round_id: RowId, who: Guarded, core: Core):
    return core.patrols.get(round_id)


@router.post("/patrols/{round_id}/checkpoints")
def scan(round_id: RowId, body: ScanIn, who: Guarded, core: Core):
    """Record a scanned checkpoint code; scanning one again keeps the first time."""
    return core.patrols.scan(round_id, body.payload, actor=who.name)


@router.post("/patrols/{round_id}/finish")
def finish(round_id: RowId, who: Guarded, core: Core, body: FinishIn | None = None):
    """Finish the round: its patrol is done, unscanned checkpoints are recorded as missed."""
    return core.patrols.finish(round_id, actor=who.name, note=body.note if body else None)
