"""Authenticated download of export files (never through the websocket).

`GET /api/exports/{job_id}` serves the file of a finished export job to the
user who started it, or to an operator, as long as they may still read the
organisation. Everyone else, signed in or not, gets the same 404, so job ids
cannot be probed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from membook_app.db import session_scope
from membook_app.errors import NotFound
from membook_app.register.exporter import export_file_for
from membook_app.web.auth import actor_from_request
from membook_app.web.downloads import MEDIA, PRIVATE, not_found, unauthorised


async def download_export(request: Request) -> Response:
    """Streamed from its file (an export can be large), so not `private_download`."""
    actor = actor_from_request(request)
    if actor is None:
        return unauthorised()
    try:
        job_id = int(request.path_params["job_id"])
        with session_scope() as session:
            path, filename = export_file_for(session, actor, job_id)
    except (NotFound, ValueError):
        return not_found()
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        filename=filename, headers=PRIVATE)


ROUTES = [Route("/api/exports/{job_id:int}", download_export)]
