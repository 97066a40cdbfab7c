"""Download of any report as .xlsx over plain HTTP (never through the websocket).

`GET /api/reports/{name}.xlsx?org=ID&from=YYYY-MM-DD&to=YYYY-MM-DD&bucket=KEY` runs the
report for the signed-in user through the same definition and export as the page and
the command line. Anonymous callers get 401; a report or organisation the user may not
see, or that does not exist, gets the same 404 (nothing can be probed); bad parameters
get 400 with the reason. `org=all` is the operator's every-organisation view.
"""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from membook_app.accounts.permissions import Actor
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.reports.registry import Filters
from membook_app.reports.xlsx import export_report
from membook_app.web.downloads import MEDIA, private_download


def _filters(request: Request) -> Filters:
    params = request.query_params
    org = params.get("org", "")
    if org != "all" and not org.isdigit():
        raise ValidationError("org: yhdistyksen numero", "org: an organisation id", field="org")

    def day(name: str) -> date | None:
        text = params.get(name, "")
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValidationError(f"{name}: päivämäärä muodossa VVVV-KK-PP",
                                  f"{name}: a date as YYYY-MM-DD", field=name) from None

    return Filters(None if org == "all" else int(org), day("from"), day("to"),
                   params.get("bucket") or None)


async def download_report(request: Request) -> Response:
    name = request.path_params["name"]

    def build(actor: Actor) -> tuple[bytes, str]:
        filters = _filters(request)
        with session_scope() as session:
            data = export_report(session, actor, name, filters)
        assert isinstance(data, bytes)
        return data, f"{name}-{date.today().isoformat()}.xlsx"

    return await private_download(request, build, MEDIA[".xlsx"])


ROUTES = [Route("/api/reports/{name}.xlsx", download_report, methods=["GET"])]
