"""Import and export handlers called directly by nobody, a member, a sibling admin and a
viewer; and the export download route asked by each of them.

As in test_handler_refusals: the in-process state tree, the registered (guarded)
handler awaited with attacker-chosen arguments and steered state, then the
database and the private upload folder checked unchanged.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import reflex as rx
import sqlalchemy as sa
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import membook_app.membook_app  # noqa: F401
from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.register.exporter import run_export_job, start_export_job
from membook_app.register.importer_jobs import save_upload, start_import_job, uploads_dir
from membook_app.register.search import RegisterQuery
from membook_app.ui.admin.member_export import ExportState
from membook_app.ui.admin.member_import import ImportState
from membook_app.web.exports import ROUTES
from models import AuditEvent, Job, Membership, Person
from tests.data.member_files import FI_HEADERS, csv_bytes, good_rows
from tests.factories import make_member, make_member_login, make_staff, make_tree
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "member", "sibling_admin", "viewer"]








def _snapshot(url: str) -> tuple[int, ...]:
    with session_scope(url) as s:
        return tuple(s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (Person, Membership, AuditEvent, Job))


def _uploads() -> set[str]:
    return {p.name for p in uploads_dir().iterdir()}


def _file() -> rx.UploadFile:
    return rx.UploadFile(file=io.BytesIO(csv_bytes(FI_HEADERS, good_rows())),
                         path=Path("jasenet.csv"))


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return resolve_session(s, token)


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    make_member(db_url, tree.club_a, tree.type_a, "Ville", "Uhri", "ville@example.fi")
    make_member(db_url, tree.club_b, tree.type_b, "Maija", "Jäsen", "maija@example.fi")
    return {
        "url": db_url, "tree": tree, "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "maija@example.fi"),
        "sibling_admin": make_staff(db_url, "b.admin@example.fi", tree.club_b, "admin"),
        "viewer": make_staff(db_url, "viewer@example.fi", tree.club_a, "viewer"),
        "admin_a": make_staff(db_url, "a.admin@example.fi", tree.club_a, "admin"),
        "operator": make_staff(db_url, "op@example.fi", None, None, operator=True),
    }


@pytest.mark.parametrize("who", ATTACKERS)
async def test_upload_refused_and_nothing_stored(world: dict[str, Any], who: str) -> None:
    before, files = _snapshot(world["url"]), _uploads()
    state = state_for(ImportState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "upload", [_file()])
    assert is_refusal(result), result
    assert state.columns == [] and state._upload_id == ""
    assert _uploads() == files
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ATTACKERS)
@pytest.mark.parametrize("handler", ["check", "confirm"])
async def test_check_and_confirm_refused_with_steered_state(world: dict[str, Any], who: str,
                                                           handler: str) -> None:
    """Even holding a real upload id of club A's admin, nothing is read or written."""
    upload_id = save_upload(csv_bytes(FI_HEADERS, good_rows()), "a.csv")
    before = _snapshot(world["url"])
    state = state_for(ImportState, world[who])
    state.org_id = str(world["tree"].club_a)
    state._upload_id, state._row_count, state.file_name = upload_id, 3, "a.csv"
    state.columns = []
    result = await call_handler(state, handler)
    assert is_refusal(result), result
    assert state.new == 0 and not state.checked
    assert _snapshot(world["url"]) == before


async def test_admin_imports_through_the_handlers(world: dict[str, Any]) -> None:
    """The positive control: upload, dry run, confirm by club A's admin."""
    state = state_for(ImportState, world["admin_a"])
    state.org_id = str(world["tree"].club_a)
    assert await call_handler(state, "upload", [_file()]) is None
    assert [c.field for c in state.columns][:3] == ["first_name", "last_name", "email"]
    assert await call_handler(state, "check") is None
    assert (state.new, state.error_rows, state.can_confirm) == (3, 0, True)
    before = _snapshot(world["url"])
    assert await call_handler(state, "confirm") is None
    assert "3 uutta" in state.done_text
    assert _snapshot(world["url"])[:2] == (before[0] + 3, before[1] + 3)


@pytest.mark.parametrize("who", ["nobody", "member", "sibling_admin", "viewer"])
async def test_watching_another_users_job_refused(world: dict[str, Any], who: str) -> None:
    url = world["url"]
    admin = _actor(url, world["admin_a"])
    upload_id = save_upload(csv_bytes(FI_HEADERS, good_rows()), "a.csv")
    with session_scope(url) as s:
        job_id = start_import_job(s, admin, world["tree"].club_a, upload_id, "a.csv",
                                  ["first_name", "last_name"] + [""] * 8, write=True).id
    state = state_for(ImportState, world[who])
    state._job_id = job_id
    result = await call_handler(state, "watch")
    assert is_refusal(result), result
    assert state.new == 0


@pytest.mark.parametrize("who", ["nobody", "forged", "member", "sibling_admin"])
async def test_export_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(ExportState, world[who])
    state.org_id = str(world["tree"].club_a)
    state.columns = []
    result = await call_handler(state, "start")
    assert is_refusal(result), result
    assert state.download_url == ""
    assert _snapshot(world["url"]) == before


async def test_viewer_may_export_and_download_only_own_file(world: dict[str, Any]) -> None:
    tree = world["tree"]
    state = state_for(ExportState, world["viewer"])
    state.org_id = str(tree.club_a)
    await call_handler(state, "load_shell")
    await call_handler(state, "org_changed")
    result = await call_handler(state, "start")
    assert state.download_url.startswith("/api/exports/"), result
    job_id = int(state.download_url.rsplit("/", 1)[1])

    client = TestClient(Starlette(routes=ROUTES))

    def get(who: str | None) -> Any:
        cookies = {"membook_session": world[who]} if who else {}
        client.cookies.clear()
        return client.get(f"/api/exports/{job_id}", cookies=cookies)

    own = get("viewer")
    assert own.status_code == 200, own.text
    assert own.headers["cache-control"] == "no-store"
    assert "jasenrekisteri-" in own.headers["content-disposition"]
    assert own.content[:2] == b"PK"
    assert get(None).status_code == 401
    for who in ("forged",):
        assert get(who).status_code == 401
    for who in ("member", "sibling_admin", "admin_a"):  # not the job's owner
        assert get(who).status_code == 404, who
    assert get("operator").status_code == 200
    assert client.get("/api/exports/999999",
                      cookies={"membook_session": world["viewer"]}).status_code == 404


async def test_download_refused_once_the_grant_is_gone(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    viewer = _actor(url, world["viewer"])
    with session_scope(url) as s:
        job, _ = start_export_job(s, viewer, RegisterQuery(organization_id=tree.club_a), None,
                                  "csv")
        job_id = job.id
    assert run_export_job(job_id)["rows"] == 1  # type: ignore[index]
    client = TestClient(Starlette(routes=ROUTES))
    cookies = {"membook_session": world["viewer"]}
    assert client.get(f"/api/exports/{job_id}", cookies=cookies).status_code == 200
    from models import RoleGrant

    with session_scope(url) as s:
        for grant in s.exec(select(RoleGrant).where(RoleGrant.user_id == viewer.user_id)):
            s.delete(grant)
    client.cookies.clear()
    assert client.get(f"/api/exports/{job_id}", cookies=cookies).status_code == 404
