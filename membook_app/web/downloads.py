"""The one way a signed-in user downloads a generated file over plain HTTP.

Anonymous: 401. Whatever the user may not see, or that does not exist: the same 404, so
ids cannot be probed. A bad parameter: 400 with the reason. The file is built in a
worker thread (database reads and xlsx/XML building must not stall the event loop) and
served with no-store, as every such file holds personal or money data.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.web.auth import actor_from_request

PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
MEDIA = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".xml": "application/xml",
}


def unauthorised() -> Response:
    return PlainTextResponse("Kirjaudu sisään / sign in", status_code=401, headers=PRIVATE)


def not_found() -> Response:
    return PlainTextResponse("Ei löydy / not found", status_code=404, headers=PRIVATE)


async def private_download(request: Request, build: Callable[[Actor], tuple[bytes, str]],
                           media_type: str) -> Response:
    """Serve `build(actor)` → (bytes, filename) as an attachment, with the rules above."""
    actor = actor_from_request(request)
    if actor is None:
        return unauthorised()
    try:
        data, filename = await run_in_threadpool(build, actor)
    except (NotFound, PermissionDenied):
        return not_found()
    except ValidationError as exc:
        return PlainTextResponse(str(exc), status_code=400, headers=PRIVATE)
    return Response(data, media_type=media_type, headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'})
