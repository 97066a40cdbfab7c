"""Liveness with a database round trip, for monitors and for `make run` to wait on."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from membook_app.db import get_engine


async def health(_request: Request) -> JSONResponse:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok", "db": True})


ROUTES = [Route("/api/health", health)]
