"""Import and export as worker jobs: the Huey task bodies run with a Job row for progress."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import NotFound
from membook_app.jobs import job_status
from membook_app.register.exporter import exports_dir, start_export_job
from membook_app.register.importer import ImportReport
from membook_app.register.importer_jobs import (
    save_upload,
    start_import_job,
    upload_path,
    uploads_dir,
)
from membook_app.register.search import RegisterQuery
from membook_app.settings import get_settings
from models import Job, Person
from tasks.exports import export_members
from tasks.imports import import_members
from tests.data.member_files import xlsx_bytes
from tests.factories import make_staff, make_tree

HEADERS = ["Etunimi", "Sukunimi", "Sähköposti", "Postinumero", "Syntymäaika"]


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return resolve_session(s, token)


def test_uploads_are_private_and_ids_are_not_paths(sqlite_url: str) -> None:
    upload_id = save_upload(b"a;b\n1;2\n", "jäsenet.CSV")
    path = upload_path(upload_id)
    assert path.parent == get_settings().var_dir / "uploads" == uploads_dir()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for forged in ("../secret_key", "/etc/passwd", "x.csv", upload_id + "/../x"):
        with pytest.raises(NotFound):
            upload_path(forged)


def test_big_import_as_job_with_progress(db_url: str) -> None:
    tree = make_tree(db_url)
    admin = _actor(db_url, make_staff(db_url, "l.admin@example.fi", tree.federation, "admin"))
    other = _actor(db_url, make_staff(db_url, "o.admin@example.fi", tree.federation, "admin"))
    rows: list[list[Any]] = [[f"Etu{i}", f"Suku{i}", f"m{i}@example.fi", f"{i % 99999:05d}",
                              "1.2.1980"] for i in range(3000)]
    rows[1234][3] = "123"
    upload_id = save_upload(xlsx_bytes(HEADERS, rows), "iso.xlsx")
    mapping = ["first_name", "last_name", "email", "postal_code", "birth_date"]
    with session_scope(db_url) as s:
        job_id = start_import_job(s, admin, tree.federation, upload_id, "iso.xlsx", mapping,
                                  write=False).id
    import_members.call_local(job_id)
    with session_scope(db_url) as s:
        status = job_status(s, admin, job_id)
        assert (status.status, status.progress) == ("done", 100)
        report = ImportReport.from_dict(status.result or {})
        assert (report.rows, report.new, report.error_rows) == (3000, 2999, 1)
        assert (report.errors[0].row, report.errors[0].value) == (1236, "123")
        with pytest.raises(NotFound):
            job_status(s, other, job_id)  # only the one who started it
        assert s.execute(sa.select(sa.func.count()).select_from(Person)).scalar_one() == 0

    # The write job refuses the whole file while one row is bad ...
    with session_scope(db_url) as s:
        job_id = start_import_job(s, admin, tree.federation, upload_id, "iso.xlsx", mapping,
                                  write=True).id
    import_members.call_local(job_id)
    with session_scope(db_url) as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and "1 virheellistä" in job.message
        assert s.execute(sa.select(sa.func.count()).select_from(Person)).scalar_one() == 0

    # ... and writes all of the fixed one, then forgets the upload.
    rows[1234][3] = "00123"
    fixed = save_upload(xlsx_bytes(HEADERS, rows), "iso.xlsx")
    with session_scope(db_url) as s:
        job_id = start_import_job(s, admin, tree.federation, fixed, "iso.xlsx", mapping,
                                  write=True).id
    import_members.call_local(job_id)
    with session_scope(db_url) as s:
        status = job_status(s, admin, job_id)
        assert status.status == "done" and status.result["written"] and \
            status.result["new"] == 3000
        assert s.execute(sa.select(sa.func.count()).select_from(Person)).scalar_one() == 3000
    with pytest.raises(NotFound):
        upload_path(fixed)


def test_export_as_job_writes_under_var_exports(db_url: str, tmp_path: Path) -> None:
    tree = make_tree(db_url)
    admin = _actor(db_url, make_staff(db_url, "l.admin@example.fi", tree.federation, "admin"))
    upload_id = save_upload(xlsx_bytes(HEADERS, [["A", "B", "a@example.fi", "00100", ""]]),
                            "a.xlsx")
    with session_scope(db_url) as s:
        job_id = start_import_job(s, admin, tree.club_a, upload_id, "a.xlsx",
                                  ["first_name", "last_name", "email", "postal_code",
                                   "birth_date"], write=True).id
    import_members.call_local(job_id)
    with session_scope(db_url) as s:
        job, rows = start_export_job(s, admin, RegisterQuery(organization_id=tree.federation),
                                     ["last_name", "postal_code"], "xlsx")
        job_id = job.id
    assert rows == 1
    assert export_members.call_local(job_id) == {
        "rows": 1, "fmt": "xlsx", "filename": f"jasenrekisteri-{date.today().isoformat()}.xlsx"}
    with session_scope(db_url) as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.progress == 100
        path = Path(job.file_path)
    assert path.parent == exports_dir()
    sheet = load_workbook(path).active
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [
        ["Sukunimi", "Postinumero"], ["B", "00100"]]
