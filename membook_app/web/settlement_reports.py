"""Authenticated download of one settlement's .xlsx report (never through the websocket).

`GET /api/settlements/{settlement_id}/report.xlsx` serves the report to whoever may see
the settlement: the operator, or staff with `billing.read` on its organisation once the run
is approved. Everyone else, signed in or not, gets the same 404 (anonymous: 401), so
settlement ids cannot be probed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from membook_app.accounts.permissions import Actor
from membook_app.db import session_scope
from membook_app.settlements.report_xlsx import settlement_report_xlsx
from membook_app.web.downloads import MEDIA, private_download


def report_url(settlement_id: int) -> str:
    """Where the page links the report of a settlement."""
    return f"/api/settlements/{int(settlement_id)}/report.xlsx"


async def download_settlement_report(request: Request) -> Response:
    settlement_id = int(request.path_params["settlement_id"])

    def build(actor: Actor) -> tuple[bytes, str]:
        with session_scope() as session:
            return settlement_report_xlsx(session, actor, settlement_id)

    return await private_download(request, build, MEDIA[".xlsx"])


ROUTES = [Route("/api/settlements/{settlement_id:int}/report.xlsx", download_settlement_report)]
