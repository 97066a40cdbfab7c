"""Download of any report as .xlsx over plain HTTP (never through the websocket).

`GET /api/reports/{name}.xlsx?org=ID&from=YYYY-MM-DD&to=YYYY-MM-DD&bucket=KEY` runs the
report for the signed-in user through the same definition and export as the page and
the command line. Anonymous callers get 401; a report or organisation the user may not
see, or that does not exist, gets the same 404 (nothing can be probed); bad parameters
get 400 with the reason. `org=all` is the operator's every-organisation view.
"""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from membook_app.accounts.permissions import Actor
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.reports.registry import Filters
from membook_app.reports.xlsx import export_report
from membook_app.web.auth import actor_from_request
from membook_app.web.exports import MEDIA

_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


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


def _build(actor: Actor, name: str, filters: Filters) -> bytes:
    with session_scope() as session:
        data = export_report(session, actor, name, filters)
    assert isinstance(data, bytes)
    return data


async def download_report(request: Request) -> Response:
    actor = actor_from_request(request)
    if actor is None:
        return PlainTextResponse("Kirjaudu sisään / sign in", status_code=401, headers=_PRIVATE)
    name = request.path_params["name"]
    try:
        filters = _filters(request)
        data = await run_in_threadpool(_build, actor, name, filters)
    except (NotFound, PermissionDenied):
        return PlainTextResponse("Ei löydy / not found", status_code=404, headers=_PRIVATE)
    except ValidationError as exc:
        return PlainTextResponse(str(exc), status_code=400, headers=_PRIVATE)
    filename = f"{name}-{date.today().isoformat()}.xlsx"
    return Response(data, media_type=MEDIA[".xlsx"], headers={
        **_PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'})


ROUTES = [Route("/api/reports/{name}.xlsx", download_report, methods=["GET"])]
