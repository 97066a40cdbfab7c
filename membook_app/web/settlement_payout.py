"""Download of a settlement run's pain.001 payout file (operator only, never the websocket).

`GET /api/settlement-runs/{run_id}/payout.xml`. Not signed in: 401. Signed in but not the
operator, or no such file: the same 404, so run ids cannot be probed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied
from membook_app.settlements.runs import payout_file
from membook_app.web.auth import actor_from_request

_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def download_payout(request: Request) -> Response:
    actor = actor_from_request(request)
    if actor is None:
        return PlainTextResponse("Kirjaudu sisään / sign in", status_code=401, headers=_PRIVATE)
    try:
        with session_scope() as session:
            data, filename = payout_file(session, actor, int(request.path_params["run_id"]))
    except (NotFound, PermissionDenied):
        return PlainTextResponse("Ei löydy / not found", status_code=404, headers=_PRIVATE)
    return Response(data, media_type="application/xml", headers={
        **_PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'})


ROUTES = [Route("/api/settlement-runs/{run_id:int}/payout.xml", download_payout)]
