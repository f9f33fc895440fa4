"""The core's local HTTP API: the contract the touchscreen UI, tools and tests use.

JSON under /api/v1, schema at /openapi.json. A 2xx answer to a write means the change is
committed to disk (the store runs with synchronous=FULL). Invalid input is a 4xx with a
message the screen can show; nothing a client sends produces a 500. Guard actions need
``Authorization: Bearer <token>`` from /api/v1/guard/login.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from drivers.errors import DeviceError
from kiosk.alarms import AlarmError
from kiosk.auth import AuthError, Guard, LockedOut
from kiosk.core.devices_api import router as devices_router
from kiosk.refusals import REFUSED, Problem, wrong_shape
from kiosk.reports import day_window
from kiosk.schedule import next_change
from kiosk.watchlist import Conflict, GuestError, Invalid, NotAllowed, NotFound

GUEST_STATUS = ((Invalid, 422), (NotAllowed, 403), (NotFound, 404), (Conflict, 409))

router = APIRouter(prefix="/api/v1")


REFUSALS = {
    "4XX": REFUSED,
    503: {"model": Problem, "description": "A device, a font or the data key is missing: "
                                           "`detail` says what to do"},
}


class PinIn(BaseModel):
    pin: str = Field(min_length=1, max_length=16)


class OverrideIn(BaseModel):
    on: bool
    minutes: int | None = Field(None, ge=1, le=24 * 60)
    reason: str = Field(min_length=1, max_length=200)


class AlarmIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)


class LogbookIn(BaseModel):
    category: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=4000)
    corrects: int | None = Field(None, ge=1, le=2**53)  # beyond SQLite's integers: a 500


def core(request: Request):
    return request.app.state.core


def guard(request: Request) -> Guard:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    core = request.app.state.core
    found = core.sessions.guard(token) if scheme.lower() == "bearer" else None
    if found is not None and not core.guards.active(found.id):  # `kiosk guard remove` since
        core.sessions.end(token)
        found = None
    if found is None:
        raise HTTPException(401, "log in with the guard PIN first",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


Core = Annotated[object, Depends(core)]
Guarded = Annotated[Guard, Depends(guard)]
RowId = Annotated[int, Path(ge=1, le=2**53)]  # beyond SQLite's integers would be a 500


@router.get("/health")
def health(core: Core):
    status = core.status
    return {
        "ok": True,
        "now": core.clock.now().isoformat(),
        "clock_trusted": status.clock_trusted,
        "clock_reason": status.clock_reason,
        "simulated": bool(core.hw and core.hw.sim),
        "devices": status.devices,
        "database_recovered_from": status.database_recovered_from,
        "personal_data_locked": status.personal_data_locked,
        "active_alarms": len(core.alarms.active()),
        "loop_at": status.loop_at,
    }


@router.get("/staff")
def staff(core: Core):
    """The staff directory guests pick their host from: the config's, or hq's newest."""
    return {"staff": [{"name": s.name, "unit": s.unit} for s in core.settings.visits.staff]}


@router.post("/guard/login")
def login(body: PinIn, core: Core):
    found = core.guards.login(body.pin)
    return {"token": core.sessions.start(found), "name": found.name, "role": found.role,
            "expires_after_minutes": core.settings.security.session_minutes}


@router.post("/guard/logout", status_code=204)
def logout(request: Request, who: Guarded, core: Core):
    core.sessions.end(request.headers["authorization"].partition(" ")[2])


@router.get("/relays")
def relays(core: Core):
    out = []
    overrides = core.active_overrides()
    for name, state in core.status.relays.items():
        relay = core.settings.relays[name]
        override = overrides.get(name)
        change = next_change(relay, core.clock.now(), core.settings.holidays)
        out.append({
            "name": name, "on": state.on, "source": state.source, "reason": state.reason,
            "since": state.since, "next_scheduled_change": change and change.isoformat(),
            "override_until": override and override.expires_at and override.expires_at.isoformat(),
        })
    return {"relays": out}


@router.post("/relays/{name}/override")
def override(name: str, body: OverrideIn, who: Guarded, core: Core):
    try:
        found = core.override(name, on=body.on, minutes=body.minutes, reason=body.reason,
                              actor=who.name)
    except KeyError:
        raise HTTPException(404, f"no relay {name!r}") from None
    state = core.status.relays[name]
    return {"name": name, "on": state.on, "source": state.source, "reason": state.reason,
            "expires_at": found.expires_at and found.expires_at.isoformat()}


def _alarm(core, alarm) -> dict:
    spec = core.settings.alarms[alarm.code]
    return {"id": alarm.id, "code": alarm.code, "label_id": spec.label_id,
            "label_en": spec.label_en, "state": alarm.state, "source": alarm.source,
            "raised_at": alarm.raised_at, "raised_by": alarm.raised_by,
            "acked_at": alarm.acked_at, "acked_by": alarm.acked_by,
            "cleared_at": alarm.cleared_at, "cleared_by": alarm.cleared_by,
            "sms": core.alarms.sms_for(alarm.id)}


@router.get("/alarms/codes")
def alarm_codes(core: Core):
    return {"codes": [{"code": code, "label_id": spec.label_id, "label_en": spec.label_en,
                       "clears": spec.clears} for code, spec in core.settings.alarms.items()]}


@router.post("/alarms", status_code=201)
def raise_alarm(body: AlarmIn, who: Guarded, core: Core):
    return _alarm(core, core.raise_alarm(body.code, actor=who.name))


@router.get("/alarms/active")
def active_alarms(core: Core):
    return {"alarms": [_alarm(core, alarm) for alarm in core.alarms.active()]}


@router.get("/alarms/{alarm_id}")
def get_alarm(alarm_id: RowId, core: Core):
    return _alarm(core, core.alarms.get(alarm_id))


@router.post("/alarms/{alarm_id}/ack")
def acknowledge(alarm_id: RowId, who: Guarded, core: Core):
    return _alarm(core, core.acknowledge(alarm_id, actor=who.name))


@router.post("/alarms/{alarm_id}/clear")
def clear(alarm_id: RowId, who: Guarded, core: Core):
    return _alarm(core, core.clear(alarm_id, actor=who.name))


@router.post("/temperature")
def temperature(core: Core):
    celsius = core.measure_temperature()
    threshold = core.settings.thermometer.threshold_c
    return {"celsius": celsius, "ok": celsius < threshold, "threshold_c": threshold}


@router.get("/tasks")
def tasks(core: Core):
    now = core.clock.now()
    return {"tasks": [{"id": t.id, "kind": t.kind, "title_id": t.title_id,
                       "title_en": t.title_en, "due_at": t.due_at.isoformat(),
                       "overdue_at": t.overdue_at.isoformat(), "status": t.status(now),
                       "done_at": t.done_at, "done_by": t.done_by}
                      for t in core.tasks.around(now)]}


@router.post("/tasks/{task_id}/done")
def task_done(task_id: str, who: Guarded, core: Core):
    try:
        task = core.tasks.mark_done(task_id, actor=who.name)
    except KeyError:
        raise HTTPException(404, f"no task {task_id!r}") from None
    return {"id": task.id, "status": task.status(core.clock.now()), "done_at": task.done_at,
            "done_by": task.done_by}


@router.get("/logbook")
def logbook(core: Core, since: dt.datetime | None = None, until: dt.datetime | None = None,
            q: Annotated[str | None, Query(max_length=100)] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 200,
            category: Annotated[str | None, Query(max_length=64)] = None,
            from_day: Annotated[dt.date | None, Query(alias="from")] = None,
            to_day: Annotated[dt.date | None, Query(alias="to")] = None):
    """Entries newest first; ``since``/``until`` without an offset are in the site's time.

    ``category`` matches whole ("patroli"); ``from``/``to`` are whole days in the site's
    time, both included, and narrow ``since``/``until`` when both are given.
    """
    tz = core.clock.now().tzinfo
    since, until = (t if t is None or t.tzinfo else t.replace(tzinfo=tz) for t in (since, until))
    first, after = day_window(from_day, to_day, tz)
    since = max(filter(None, (since, first)), default=None)
    until = min(filter(None, (until, after)), default=None)
    entries = core.logbook.entries(since=since, until=until, query=q, category=category,
                                   limit=limit)
    return {"entries": entries}


@router.post("/logbook", status_code=201)
def write_logbook(body: LogbookIn, who: Guarded, core: Core):
    with core.store.transaction() as conn:
        if body.corrects is not None:
            entry = core.logbook.correct(conn, body.corrects, body.text, who.name)
        else:
            entry = core.logbook.append(conn, category=body.category, text=body.text,
                                        actor=who.name)
    return entry


def create_app(core) -> FastAPI:
    app = FastAPI(title="Gatehouse kiosk core", version="1", responses=REFUSALS,
                  description="Local API of the kiosk core: relays, alarms, tasks, logbook, "
                              "guests, registers, patrols, procedures, roster, reports.")
    app.state.core = core
    app.include_router(router)
    # The other routers import this module (for the guard dependency): imported here.
    from kiosk.core import (
        patrols_api,
        registers_api,
        reports_api,
        roster_api,
        sop_api,
        sync_api,
    )
    from kiosk.core.visits_api import router as visits_router

    for extra in (visits_router, devices_router, registers_api.router, sop_api.router,
                  roster_api.router, patrols_api.router, reports_api.router, sync_api.router):
        app.include_router(extra)

    app.add_exception_handler(RequestValidationError, wrong_shape)

    @app.exception_handler(LockedOut)
    def _locked(request: Request, exc: LockedOut):
        now = request.app.state.core.clock.now()
        seconds = max(1, int((exc.until - now).total_seconds()))
        return JSONResponse({"detail": str(exc)}, status_code=429,
                            headers={"Retry-After": str(seconds)})

    @app.exception_handler(AuthError)
    def _auth(request: Request, exc: AuthError):
        return JSONResponse({"detail": str(exc)}, status_code=401)

    @app.exception_handler(AlarmError)
    def _alarm_error(request: Request, exc: AlarmError):
        status = 404 if str(exc).startswith("no alarm") else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(GuestError)
    def _guest(request: Request, exc: GuestError):
        status = next((code for kind, code in GUEST_STATUS if isinstance(exc, kind)), 400)
        return JSONResponse({"detail": str(exc), "detail_id": exc.message_id,
                             "field": exc.field}, status_code=status)

    @app.exception_handler(DeviceError)
    def _device(request: Request, exc: DeviceError):
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(ValueError)
    def _value(request: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    return app
