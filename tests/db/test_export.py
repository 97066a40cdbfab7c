"""Register export on SQLite and PostgreSQL: the file opened with openpyxl, filters, CSV."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied, ValidationError
from membook_app.register.custom_fields import create_field, set_values
from membook_app.register.exporter import export_members
from membook_app.register.memberships import end_membership
from membook_app.register.search import RegisterQuery
from models import AuditEvent, Membership
from tests.factories import make_member, make_staff, make_tree


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    with session_scope(db_url) as s:
        create_field(s, None, tree.club_a, {"key": "vyo", "label": "Vyöarvo", "kind": "choice",
                                            "choices": "keltainen, vihreä"})
        create_field(s, None, tree.federation, {"key": "lehti", "label": "Jäsenlehti",
                                                "kind": "bool"})
        create_field(s, None, tree.club_a, {"key": "kausi", "label": "Kausi alkaa",
                                            "kind": "date"})
    aino = make_member(db_url, tree.club_a, tree.type_a, "Aino", "Aalto", "aino@example.fi",
                       birth_date="1.2.1980", phone="0401234567", postal_code="00100",
                       city="Helsinki")
    make_member(db_url, tree.club_a, tree.type_a, "Bertta", "Björk", "bertta@example.fi")
    resigned = make_member(db_url, tree.club_a, None, "Cecilia", "Cederberg", None)
    make_member(db_url, tree.club_b, tree.type_b, "Daniel", "Dahl", "daniel@example.fi")
    with session_scope(db_url) as s:
        set_values(s, None, aino, {"vyo": "Vihreä", "lehti": "kyllä", "kausi": "1.9.2026"},
                   organization_id=tree.club_a)
        membership = s.exec(select(Membership.id).where(Membership.person_id == resigned)).one()
        end_membership(s, None, membership, end_date=date(2025, 12, 31))
    admin = _actor(db_url, make_staff(db_url, "d.admin@example.fi", tree.district, "admin"))
    return {"url": db_url, "tree": tree, "admin": admin}


def _export(world: dict[str, Any], tmp_path: Path, fmt: str = "xlsx", actor: Any = "admin",
            **query: Any):  # type: ignore[no-untyped-def]
    query.setdefault("organization_id", world["tree"].club_a)
    columns = query.pop("columns", None)
    path = tmp_path / f"out.{fmt}"
    with session_scope(world["url"]) as s:
        result = export_members(s, world[actor] if isinstance(actor, str) else actor,
                                RegisterQuery(**query), path, columns=columns, fmt=fmt)
    return result, path


def test_xlsx_headers_cells_dates_row_count_and_layout(world: dict[str, Any],
                                                       tmp_path: Path) -> None:
    result, path = _export(world, tmp_path, status=None)
    assert result.rows == 3
    workbook = load_workbook(path)
    sheet = workbook.active
    headers = [c.value for c in sheet[1]]
    assert headers[:16] == [
        "Jäsennumero", "Sukunimi", "Etunimi", "Sähköposti", "Puhelin", "Lähiosoite",
        "Postinumero", "Postitoimipaikka", "Maa", "Syntymäaika", "Kieli", "Yhdistys",
        "Jäsenlaji", "Tila", "Liittymispäivä", "Päättymispäivä"]
    assert headers[16:] == ["Jäsenlehti", "Vyöarvo", "Kausi alkaa"]  # ancestors' first
    assert sheet.max_row == 4  # header + 3
    first = [c.value for c in sheet[2]]
    assert first[:5] == [1, "Aalto", "Aino", "aino@example.fi", "+358401234567"]
    assert first[6] == "00100"  # text, the leading zero kept
    birth = sheet.cell(row=2, column=10)
    assert isinstance(birth.value, datetime) and birth.value.date() == date(1980, 2, 1)
    assert birth.number_format == "d.m.yyyy"
    assert first[10:14] == ["suomi", "Seura A ry", "Varsinainen jäsen", "aktiivinen"]
    assert first[16:] == [True, "vihreä", datetime(2026, 9, 1)]
    cecilia = [c.value for c in sheet[4]]
    assert cecilia[1] == "Cederberg" and cecilia[13] == "eronnut"
    assert cecilia[15] == datetime(2025, 12, 31)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:S4"
    assert sheet.column_dimensions["D"].width >= 20  # email column is wide
    with session_scope(world["url"]) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "register.exported")).one()
        assert event.after["rows"] == 3 and event.actor_label == "d.admin@example.fi"


def test_filters_and_chosen_columns(world: dict[str, Any], tmp_path: Path) -> None:
    tree = world["tree"]
    result, path = _export(world, tmp_path, organization_id=tree.district,
                           columns=["last_name", "organization", "custom:lehti"])
    assert result.rows == 3  # active only (default), both clubs
    sheet = load_workbook(path).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["Sukunimi", "Yhdistys", "Jäsenlehti"],
        ["Aalto", "Seura A ry", True],
        ["Björk", "Seura A ry", None],
        ["Dahl", "Seura B ry", None],
    ]
    result, path = _export(world, tmp_path, organization_id=tree.district,
                           include_suborganizations=False)
    assert result.rows == 0 and load_workbook(path).active.max_row == 1
    result, _ = _export(world, tmp_path, search="bertta")
    assert result.rows == 1
    result, _ = _export(world, tmp_path, status="resigned")
    assert result.rows == 1
    with pytest.raises(ValidationError):
        _export(world, tmp_path, columns=["password_hash"])


def test_csv_is_utf8_bom_semicolons(world: dict[str, Any], tmp_path: Path) -> None:
    result, path = _export(world, tmp_path, fmt="csv",
                           columns=["last_name", "first_name", "birth_date", "custom:lehti",
                                    "postal_code"])
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").split("\r\n") == [
        "Sukunimi;Etunimi;Syntymäaika;Jäsenlehti;Postinumero",
        "Aalto;Aino;1.2.1980;kyllä;00100",
        "Björk;Bertta;;;",
        "",
    ]
    assert result.rows == 2


def test_export_needs_register_read_on_the_organisation(world: dict[str, Any],
                                                        tmp_path: Path) -> None:
    url, tree = world["url"], world["tree"]
    sibling = _actor(url, make_staff(url, "b.admin@example.fi", tree.club_b, "admin"))
    with pytest.raises(PermissionDenied):
        _export(world, tmp_path, actor=sibling)
    viewer = _actor(url, make_staff(url, "v@example.fi", tree.club_a, "viewer"))
    assert _export(world, tmp_path, actor=viewer)[0].rows == 2


def test_register_custom_field_filter_applies_to_the_export(world: dict[str, Any],
                                                            tmp_path: Path) -> None:
    """The export takes the register's whole RegisterQuery, custom-field filter included."""
    from models import CustomField

    with session_scope(world["url"]) as s:
        field_id = s.exec(select(CustomField.id).where(CustomField.key == "vyo")).one()
    result, path = _export(world, tmp_path, custom_field_id=field_id, custom_value="vihreä",
                           columns=["last_name", "custom:vyo"])
    assert result.rows == 1
    assert [c.value for c in load_workbook(path).active[2]] == ["Aalto", "vihreä"]


def test_columns_in_any_order(world: dict[str, Any], tmp_path: Path) -> None:
    _, path = _export(world, tmp_path, search="aino",
                      columns=["custom:kausi", "email", "status", "custom:lehti", "language"])
    assert [c.value for c in load_workbook(path).active[2]] == [
        datetime(2026, 9, 1), "aino@example.fi", "aktiivinen", True, "suomi"]


def test_number_fields_are_numbers(world: dict[str, Any], tmp_path: Path) -> None:
    url, tree = world["url"], world["tree"]
    with session_scope(url) as s:
        create_field(s, None, tree.club_a, {"key": "pisteet", "label": "Pisteet",
                                            "kind": "number"})
        aino = s.exec(select(Membership.person_id).where(
            Membership.member_number == 1, Membership.organization_id == tree.club_a)).one()
        set_values(s, None, aino, {"pisteet": "12,5"}, organization_id=tree.club_a)
    _, path = _export(world, tmp_path, search="aino", columns=["last_name", "custom:pisteet"])
    assert [c.value for c in load_workbook(path).active[2]] == ["Aalto", 12.5]
    _, path = _export(world, tmp_path, fmt="csv", search="aino",
                      columns=["last_name", "custom:pisteet"])
    assert path.read_bytes().decode("utf-8-sig").splitlines()[1] == "Aalto;12,5"
