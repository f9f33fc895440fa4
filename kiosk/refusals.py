"""How the core's API and hq's refuse a request: one published shape, a 422 safe to write.

Both APIs use it, so a client reads every refusal the same way.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel


class Problem(BaseModel):
    """What every refusal carries, published in the schema so clients can rely on it.

    ``detail`` is one line saying what to fix; for a body or query of the wrong shape it is
    FastAPI's list of the fields at fault. The core's guest, register, roster and patrol
    errors add the line in Bahasa Indonesia (``detail_id``) and the field to mark.
    """

    detail: str | list[dict[str, Any]]
    detail_id: str | None = None
    field: str | None = None


REFUSED = {"model": Problem, "description": "Refused: `detail` says what to fix"}


def wrong_shape(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422, less the inputs it would echo back.

    An input can hold what JSON text or UTF-8 cannot (NaN, which Python's JSON reader takes,
    or half a UTF-16 surrogate pair, which a JSON escape can spell), and writing the refusal
    would then fail with a 500. Each error still names the field (``loc``) and says what is
    wrong (``msg``).
    """
    errors = [{key: value for key, value in error.items() if key != "input"}
              for error in jsonable_encoder(exc.errors())]
    return Response(json.dumps({"detail": errors}, ensure_ascii=True), status_code=422,
                    media_type="application/json")
