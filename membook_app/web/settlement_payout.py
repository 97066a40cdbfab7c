"""Download of a settlement run's pain.001 payout file (operator only, never the websocket).

`GET /api/settlement-runs/{run_id}/payout.xml`. Not signed in: 401. Signed in but not the
operator, or no such file: the same 404, so run ids cannot be probed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from membook_app.accounts.permissions import Actor
from membook_app.db import session_scope
from membook_app.settlements.runs import payout_file
from membook_app.web.downloads import MEDIA, private_download


async def download_payout(request: Request) -> Response:
    run_id = int(request.path_params["run_id"])

    def build(actor: Actor) -> tuple[bytes, str]:
        with session_scope() as session:
            return payout_file(session, actor, run_id)

    return await private_download(request, build, MEDIA[".xml"])


ROUTES = [Route("/api/settlement-runs/{run_id:int}/payout.xml", download_payout)]
