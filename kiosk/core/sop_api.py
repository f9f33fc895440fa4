"""The local API for SOP runs: the procedures, starting a run, completing steps, the report.

Every endpoint needs the guard's bearer token: a run is a record of who did what, and the
procedures list shows the admin what the SOP files got wrong. Domain errors become 4xx in
``create_app`` (404 unknown SOP or run, 409 a run that has ended or is at another step, 422
a missing yes/no answer or a bad time, each with ``detail_id`` in Bahasa Indonesia).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from kiosk.core.api import Core, Guarded, RowId

router = APIRouter(prefix="/api/v1")

Name = Annotated[str, Path(min_length=1, max_length=100)]


class RunIn(BaseModel):
    title: str = Field("", max_length=120, description="what this run is about, e.g. whose "
                                                       "visit is escorted")
    note: str = Field("", max_length=500)


class StepIn(BaseModel):
    answer: Literal["yes", "no"] | None = Field(None, description="required on a decision "
                                                                  "step, absent otherwise")
    note: str = Field("", max_length=500)
    at: dt.datetime | None = Field(None, description="when the step was done, if before now; "
                                                     "without an offset it is the site's time")


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=300)


@router.get("/sops")
def sops(who: Guarded, core: Core):
    """The procedures that loaded, and one line for each file left out."""
    return {"sops": core.sops.procedures(), "problems": core.sops.problems()}


@router.post("/sops/{sop_id}/runs", status_code=201)
def start(sop_id: Name, who: Guarded, core: Core, body: RunIn | None = None):
    body = body or RunIn()
    return core.sops.start(sop_id, actor=who.name, title=body.title, note=body.note)


@router.get("/sop-runs")
def runs(who: Guarded, core: Core, only_open: Annotated[bool, Query(alias="open")] = True,
         limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """Running runs oldest first (``open=true``), or every run newest first."""
    return {"runs": core.sops.runs(open_only=only_open, limit=limit)}


@router.get("/sop-runs/{run_id}")
def run(run_id: RowId, who: Guarded, core: Core):
    return core.sops.get(run_id)


@router.post("/sop-runs/{run_id}/steps/{step_id}")
def complete(run_id: RowId, step_id: Name, who: Guarded, core: Core,
             body: StepIn | None = None):
    """Complete the current step (``step_id`` must be it); returns the run."""
    body = body or StepIn()
    return core.sops.complete(run_id, step_id, actor=who.name, answer=body.answer,
                              note=body.note, at=body.at)


@router.post("/sop-runs/{run_id}/cancel")
def cancel(run_id: RowId, body: CancelIn, who: Guarded, core: Core):
    return core.sops.cancel(run_id, actor=who.name, reason=body.reason)


@router.get("/sop-runs/{run_id}/report")
def report(run_id: RowId, who: Guarded, core: Core):
    return core.sops.report(run_id)
