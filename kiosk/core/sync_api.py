"""The local API for sync with hq: its status for the dashboard, and the guard's "sync now".

The status carries no personal data (counts, times, the last error), so reading it needs no
token, like ``/health``; starting a sync does.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from kiosk.core.api import Core, Guarded

router = APIRouter(prefix="/api/v1")


@router.get("/sync")
def sync_status(core: Core):
    """``{"backlog", "sent", "last_success", "last_error", ...}``: what hq still has to get."""
    return core.sync_status()


@router.post("/sync", status_code=202)
def sync_now(core: Core, who: Guarded):
    if not core.sync.configured:
        raise HTTPException(409, "sync is not set up on this kiosk: set sync.url and "
                                 "sync.token_file in the config")
    core.sync_soon()
    return core.sync_status()
