"""Download my data: the signed-in member's own data as JSON or .xlsx.

The person is taken from the session cookie, never from the URL, so there
is nothing to tamper with; staff without a person record get 403, anonymous
callers 401. Each download is logged as an audit event.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from membook_app import audit
from membook_app.db import session_scope
from membook_app.errors import DomainError
from membook_app.privacy.my_data import collect, to_json, to_xlsx
from membook_app.web.auth import actor_from_request

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def my_data(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in ("json", "xlsx"):
        return JSONResponse({"error": "unknown format"}, status_code=404)
    actor = actor_from_request(request)
    if actor is None:
        return JSONResponse({"error": "sign in"}, status_code=401)
    if actor.person_id is None:
        return JSONResponse({"error": "no member record"}, status_code=403)
    try:
        with session_scope() as session:
            data = collect(session, actor)
            audit.record(session, actor, "person.data_downloaded", "person", actor.person_id,
                         after={"format": fmt})
    except DomainError as exc:
        return JSONResponse({"error": str(exc)}, status_code=403)
    body = to_json(data) if fmt == "json" else to_xlsx(data)
    media = "application/json; charset=utf-8" if fmt == "json" else XLSX
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="omat-tiedot.{fmt}"',
        "Cache-Control": "no-store",
    })


ROUTES = [Route("/api/my-data.{fmt}", my_data, methods=["GET"])]
