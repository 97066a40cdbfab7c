"""Plain HTTP routes beside the Reflex app (health now; downloads and callbacks later)."""

from __future__ import annotations

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from membook_app.db import get_engine


async def health(_request: Request) -> JSONResponse:
    """Liveness plus a database round trip, for monitors and for `make run` to wait on."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok", "db": True})


api = Starlette(routes=[Route("/api/health", health)])
