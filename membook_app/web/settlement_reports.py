"""Authenticated download of one settlement's .xlsx report (never through the websocket).

`GET /api/settlements/{settlement_id}/report.xlsx` serves the report to whoever may see
the settlement: the operator, or staff with `billing.read` on its organisation once the run
is approved. Everyone else, signed in or not, gets the same 404 (anonymous: 401), so
settlement ids cannot be probed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from membook_app.db import session_scope
from membook_app.errors import NotFound
from membook_app.settlements.report_xlsx import settlement_report_xlsx
from membook_app.web.auth import actor_from_request
from membook_app.web.exports import _PRIVATE, MEDIA


def report_url(settlement_id: int) -> str:
    """Where the page links the report of a settlement."""
    return f"/api/settlements/{int(settlement_id)}/report.xlsx"


async def download_settlement_report(request: Request) -> Response:
    actor = actor_from_request(request)
    if actor is None:
        return PlainTextResponse("Kirjaudu sisään / sign in", status_code=401, headers=_PRIVATE)
    try:
        with session_scope() as session:
            data, filename = settlement_report_xlsx(
                session, actor, int(request.path_params["settlement_id"]))
    except NotFound:
        return PlainTextResponse("Ei löydy / not found", status_code=404, headers=_PRIVATE)
    return Response(data, media_type=MEDIA[".xlsx"], headers={
        **_PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'})


ROUTES = [Route("/api/settlements/{settlement_id:int}/report.xlsx", download_settlement_report)]
