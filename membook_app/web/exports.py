"""Authenticated download of export files (never through the websocket).

`GET /api/exports/{job_id}` serves the file of a finished export job to the
user who started it, or to an operator, as long as they may still read the
organisation. Everyone else, signed in or not, gets the same 404, so job ids
cannot be probed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from membook_app.db import session_scope
from membook_app.errors import NotFound
from membook_app.register.exporter import export_file_for
from membook_app.web.auth import actor_from_request

MEDIA = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
}
_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def download_export(request: Request) -> Response:
    actor = actor_from_request(request)
    if actor is None:
        return PlainTextResponse("Kirjaudu sisään / sign in", status_code=401, headers=_PRIVATE)
    try:
        job_id = int(request.path_params["job_id"])
        with session_scope() as session:
            path, filename = export_file_for(session, actor, job_id)
    except (NotFound, ValueError):
        return PlainTextResponse("Ei löydy / not found", status_code=404, headers=_PRIVATE)
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        filename=filename, headers=_PRIVATE)


ROUTES = [Route("/api/exports/{job_id:int}", download_export)]
