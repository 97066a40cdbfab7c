"""Member import on SQLite and PostgreSQL: reading, mapping, dry run, errors, duplicates,
the plan limit and all-or-nothing writing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import LimitReached, PermissionDenied, ValidationError
from membook_app.register.custom_fields import create_field
from membook_app.register.importer import auto_mapping, dry_run, run_import, suggest_mapping
from membook_app.register.importer_read import read_table
from membook_app.register.organizations import create_organization
from models import AuditEvent, CustomFieldValue, Membership, MembershipType, Person
from tests.data.member_files import FI_HEADERS, csv_bytes, good_rows, xlsx_bytes
from tests.factories import make_member, make_staff, make_tree


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


def _counts(url: str) -> tuple[int, int, int, int]:
    with session_scope(url) as s:
        return tuple(s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (Person, Membership, CustomFieldValue, AuditEvent))  # type: ignore[return-value]


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    admin = _actor(db_url, make_staff(db_url, "a.admin@example.fi", tree.club_a, "admin"))
    return {"url": db_url, "tree": tree, "admin": admin}


def _dry(world: dict[str, Any], data: bytes, name: str, mapping: list[str] | None = None):  # type: ignore[no-untyped-def]
    table = read_table(data, name)
    with session_scope(world["url"]) as s:
        report = dry_run(s, world["admin"], world["tree"].club_a, table,
                         mapping or suggest_mapping(s, world["tree"].club_a, table.headers))
    return table, report


def _import(world: dict[str, Any], data: bytes, name: str):  # type: ignore[no-untyped-def]
    table = read_table(data, name)
    with session_scope(world["url"]) as s:
        return run_import(s, world["admin"], world["tree"].club_a, table,
                          auto_mapping(table.headers), filename=name)


def test_auto_mapping_finnish_english_and_swedish() -> None:
    headers = ["Etunimi", "SUKUNIMI", "Sähköposti", "puhelin", "Lähiosoite", "Postinumero",
               "Postitoimipaikka", "Maa", "Syntymäaika", "Kieli", "Jäsennumero",
               "Liittymispäivä", "Jäsenlaji", "Muistiinpanot"]
    assert auto_mapping(headers) == [
        "first_name", "last_name", "email", "phone", "street_address", "postal_code", "city",
        "country", "birth_date", "language", "member_number", "start_date", "membership_type",
        ""]
    english = ["First name", "Last Name", "E-mail", "Phone", "Address", "Postal code", "City",
               "Date of birth", "Member number", "Join date", "Membership type", "Email"]
    assert auto_mapping(english) == [
        "first_name", "last_name", "email", "phone", "street_address", "postal_code", "city",
        "birth_date", "member_number", "start_date", "membership_type", ""]  # used once
    assert auto_mapping(["Förnamn", "Efternamn", "E-post"]) == ["first_name", "last_name",
                                                                "email"]


def test_good_xlsx_dry_run_writes_nothing_then_import_writes_all(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    data = xlsx_bytes(FI_HEADERS, good_rows())
    before = _counts(url)
    _, report = _dry(world, data, "jäsenet.xlsx")
    assert (report.rows, report.new, report.updated, report.unchanged, report.error_rows) == \
        (3, 3, 0, 0, 0)
    assert report.errors == [] and not report.written
    assert _counts(url) == before

    report = _import(world, data, "jäsenet.xlsx")
    assert report.written and report.new == 3
    with session_scope(url) as s:
        aino = s.exec(select(Person).where(Person.email == "aino@example.fi")).one()
        assert (aino.first_name, aino.last_name, aino.phone, aino.postal_code, aino.birth_date,
                aino.country, aino.language) == (
            "Aino", "Ääritalo", "+358401234567", "00100", date(1980, 2, 1), "FI", "fi")
        bertil = s.exec(select(Person).where(Person.email == "bertil@example.fi")).one()
        assert bertil.birth_date == date(1975, 6, 30)
        memberships = s.exec(select(Membership).where(
            Membership.organization_id == tree.club_a).order_by(Membership.member_number)).all()
        assert [m.member_number for m in memberships] == [1, 2, 3]
        assert [m.type_id for m in memberships] == [tree.type_a, tree.type_a, None]
        assert memberships[0].start_date == date(2024, 1, 15)
        assert memberships[2].start_date == date.today()
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "register.imported")).all()
        assert len(events) == 1
        assert events[0].after["new"] == 3 and events[0].actor_label == "a.admin@example.fi"
        assert sorted(events[0].after["created_person_ids"]) == sorted(
            m.person_id for m in memberships)

    # The same file again: those with an email or a birth date are found and unchanged;
    # Cecilia has neither, so nothing identifies her and she would be new again.
    _, again = _dry(world, data, "jäsenet.xlsx")
    assert (again.new, again.updated, again.unchanged, again.error_rows) == (1, 0, 2, 0)


def test_excel_cells_dates_and_numbers(world: dict[str, Any]) -> None:
    """Real Excel dates, and numbers where Excel ate the leading zero."""
    data = xlsx_bytes(["Etunimi", "Sukunimi", "Syntymäaika", "Postinumero", "Puhelin",
                       "Jäsennumero"],
                      [["Eero", "Esimerkki", date(1990, 12, 24), 100, 401234567, 77]])
    report = _import(world, data, "numerot.xlsx")
    assert report.new == 1
    with session_scope(world["url"]) as s:
        person = s.exec(select(Person).where(Person.last_name == "Esimerkki")).one()
        assert (person.birth_date, person.postal_code, person.phone) == (
            date(1990, 12, 24), "00100", "+358401234567")
        assert s.exec(select(Membership.member_number).where(
            Membership.person_id == person.id)).one() == 77


def test_each_kind_of_error_is_reported_with_row_column_value_reason(
        world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    with session_scope(url) as s:
        create_field(s, None, tree.club_a, {"key": "lisenssi", "label": "Lisenssi",
                                            "kind": "choice", "choices": "A, B"})
    make_member(url, tree.club_a, tree.type_a, "Olli", "Olemassa", "olli@example.fi")
    headers = ["Etunimi", "Sukunimi", "Sähköposti", "Puhelin", "Postinumero", "Syntymäaika",
               "Liittymispäivä", "Jäsenlaji", "Jäsennumero", "Lisenssi"]
    ok = ["Oili", "Oikein", "", "", "", "", "", "", "", ""]
    rows = [
        ok,                                                              # row 2
        ["Eeva", "Email", "eeva@", "", "", "", "", "", "", ""],          # 3
        ["Pekka", "Puhelin", "", "12", "", "", "", "", "", ""],          # 4
        ["Paavo", "Posti", "", "", "123", "", "", "", "", ""],           # 5
        ["Päivi", "Päivä", "", "", "", "31.2.1980", "", "", "", ""],     # 6
        ["Tuomas", "Tulevaisuus", "", "", "", "1.1.2999", "", "", "", ""],  # 7
        ["Liisa", "Liittyi", "", "", "", "", "eilen", "", "", ""],       # 8
        ["Jaana", "Jäsenlaji", "", "", "", "", "", "Kunniajäsen", "", ""],  # 9
        ["", "Nimetön", "", "", "", "", "", "", "", ""],                 # 10
        ["Niko", "Numero", "", "", "", "", "", "", "abc", ""],           # 11
        ["Noora", "Numerovaraus", "", "", "", "", "", "", "1", ""],      # 12: taken by Olli
        ["Lasse", "Lisenssi", "", "", "", "", "", "", "", "C"],          # 13
        ["Monta", "Virhettä", "x@", "12", "", "", "", "", "", ""],       # 14: two errors
    ]
    table, report = _dry(world, csv_bytes(headers, rows), "virheet.csv")
    found = {(e.row, e.column, e.value): e.fi for e in report.errors}
    assert found == {
        (3, "Sähköposti", "eeva@"): "Sähköpostiosoite ei kelpaa",
        (4, "Puhelin", "12"): "Puhelinnumero ei kelpaa",
        (5, "Postinumero", "123"): "Postinumerossa on oltava viisi numeroa",
        (6, "Syntymäaika", "31.2.1980"): "Päivämäärä muodossa p.k.vvvv",
        (7, "Syntymäaika", "1.1.2999"): "Syntymäaika ei kelpaa",
        (8, "Liittymispäivä", "eilen"): "Päivämäärä muodossa p.k.vvvv",
        (9, "Jäsenlaji", "Kunniajäsen"): "Jäsenlajia 'Kunniajäsen' ei ole tässä yhdistyksessä",
        (10, "Etunimi", ""): "Pakollinen tieto",
        (11, "Jäsennumero", "abc"): "Jäsennumero on positiivinen kokonaisluku",
        (12, "Jäsennumero", "1"): "Jäsennumero 1 on jo käytössä",
        (13, "Lisenssi", "C"): "Lisenssi: valitse jokin näistä: A, B",
        (14, "Sähköposti", "x@"): "Sähköpostiosoite ei kelpaa",
        (14, "Puhelin", "12"): "Puhelinnumero ei kelpaa",
    }
    assert report.error_rows == 12 and report.new == 1 and report.rows == 13
    assert next(e for e in report.errors if e.row == 3).en == "Invalid email address"

    before = _counts(url)
    with pytest.raises(ValidationError) as refused:
        with session_scope(url) as s:
            run_import(s, world["admin"], tree.club_a, table,
                       suggest_mapping(s, tree.club_a, table.headers))
    assert "12" in refused.value.fi
    assert _counts(url) == before  # the good row was not written either


def test_latin1_csv_with_semicolons(world: dict[str, Any]) -> None:
    rows = [["Åsa", "Öhrnberg", "asa@example.fi", "Köydenpunojankatu 3", "00180", "Helsinki",
             "3.4.1970", "Varsinainen jäsen"],
            ["Jyrki", "Mäkelä; Jr", "jyrki@example.fi", "Väinönkatu 1", "40100", "Jyväskylä",
             "", ""]]
    headers = ["Etunimi", "Sukunimi", "Sähköposti", "Lähiosoite", "Postinumero",
               "Postitoimipaikka", "Syntymäaika", "Jäsenlaji"]
    data = csv_bytes(headers, rows, delimiter=";", encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    table = read_table(data, "excel.csv")
    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    assert table.headers == headers
    report = _import(world, data, "excel.csv")
    assert report.new == 2
    with session_scope(world["url"]) as s:
        names = s.exec(select(Person.last_name).order_by(Person.last_name)).all()
        assert list(names) == ["Mäkelä; Jr", "Öhrnberg"]


def test_utf8_bom_csv_with_commas_and_english_headers(world: dict[str, Any]) -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(
        ["First name", "Last name", "Email", "Birth date", "Language"],
        [["Zoë", "Ångström", "zoe@example.fi", "1999-09-09", "ruotsi"]],
        delimiter=",", encoding="utf-8")
    table = read_table(data, "members.csv")
    assert (table.encoding, table.delimiter, table.headers[0]) == ("utf-8-sig", ",", "First name")
    assert _import(world, data, "members.csv").new == 1
    with session_scope(world["url"]) as s:
        person = s.exec(select(Person).where(Person.email == "zoe@example.fi")).one()
        assert (person.first_name, person.birth_date, person.language) == (
            "Zoë", date(1999, 9, 9), "sv")


def test_duplicates_in_the_file_and_against_the_register(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    by_email = make_member(url, tree.club_a, tree.type_a, "Maija", "Meikäläinen",
                           "maija@example.fi", phone="0401111111")
    by_name = make_member(url, tree.club_a, tree.type_a, "Teppo", "Testaaja", None,
                          birth_date="5.5.1955")
    headers = ["Etunimi", "Sukunimi", "Sähköposti", "Puhelin", "Syntymäaika"]
    rows = [
        ["Maija", "Meikäläinen", "MAIJA@example.fi", "0402222222", ""],   # 2: update phone
        ["Teppo", "Testaaja", "", "", "5.5.1955"],                        # 3: unchanged
        ["Uusi", "Ihminen", "uusi@example.fi", "", "1.1.1990"],           # 4: new
        ["Toinen", "Ihminen", "uusi@example.fi", "", ""],                 # 5: same email as 4
        ["Uusi", "Ihminen", "", "", "1.1.1990"],                          # 6: same name as 4
        ["Teppo", "Testaaja", "teppo@example.fi", "", "5.5.1955"],        # 7: same person as 3
    ]
    _, report = _dry(world, csv_bytes(headers, rows), "dup.csv")
    assert (report.new, report.updated, report.unchanged, report.error_rows) == (1, 1, 1, 3)
    reasons = {(e.row, e.column): e.fi for e in report.errors}
    assert reasons == {
        (5, "Sähköposti"): "Sama sähköposti kuin rivillä 4",
        (6, "Sukunimi"): "Sama nimi ja syntymäaika kuin rivillä 4",
        (7, "Sukunimi"): "Sama nimi ja syntymäaika kuin rivillä 3",
    }
    # Without the bad rows the import updates Maija and adds Uusi; Teppo stays as he was.
    report = _import(world, csv_bytes(headers, rows[:3]), "dup.csv")
    assert (report.new, report.updated, report.unchanged) == (1, 1, 1)
    with session_scope(url) as s:
        assert s.get(Person, by_email).phone == "+358402222222"
        assert s.exec(select(Membership).where(Membership.person_id == by_email)).one()
        assert s.get(Person, by_name).email is None
        assert s.exec(select(sa.func.count()).select_from(Person)).one() == 3


def test_aborted_import_writes_nothing(world: dict[str, Any]) -> None:
    """Rows sent to the database are invisible to others until the commit, and a failure
    before it (the worker stopped, the next step failed) rolls the whole import back."""
    url = world["url"]
    before = _counts(url)
    table = read_table(xlsx_bytes(FI_HEADERS, good_rows()), "x.xlsx")
    with pytest.raises(RuntimeError):
        with session_scope(url) as s:
            report = run_import(s, world["admin"], world["tree"].club_a, table,
                                auto_mapping(table.headers))
            assert report.written and report.new == 3
            assert s.execute(sa.select(sa.func.count()).select_from(Person)).scalar_one() == 3
            with session_scope(url) as other:
                assert other.execute(sa.select(sa.func.count()).select_from(Person)
                                     ).scalar_one() == 0
            raise RuntimeError("worker stopped")
    assert _counts(url) == before


def test_plan_limit_refuses_the_whole_import(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    with session_scope(url) as s:
        small = create_organization(s, None, name="Pieni ry", parent_id=tree.district,
                                    plan_code="free")
        small_id = small.id
    rows = [[f"Etu{i}", f"Suku{i}", f"m{i}@example.fi"] for i in range(51)]
    table = read_table(csv_bytes(["Etunimi", "Sukunimi", "Sähköposti"], rows), "iso.csv")
    operator = _actor(url, make_staff(url, "op@example.fi", None, None, operator=True))
    with session_scope(url) as s:
        report = dry_run(s, operator, small_id, table, auto_mapping(table.headers))
    assert report.new == 51 and report.error_rows == 0
    assert "enintään 50 jäsentä" in report.limit_fi and "at most 50 members" in report.limit_en
    before = _counts(url)
    with pytest.raises(LimitReached):
        with session_scope(url) as s:
            run_import(s, operator, small_id, table, auto_mapping(table.headers))
    assert _counts(url) == before
    with session_scope(url) as s:  # 50 fit
        table.rows = table.rows[:50]
        assert run_import(s, operator, small_id, table, auto_mapping(table.headers)).new == 50


def test_custom_fields_by_label_and_key(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    with session_scope(url) as s:
        create_field(s, None, tree.club_a, {"key": "seura_vuosi", "label": "Seuravuosi",
                                            "kind": "number"})
        create_field(s, None, tree.federation, {"key": "lehti", "label": "Jäsenlehti",
                                                "kind": "bool"})
    existing = make_member(url, tree.club_a, tree.type_a, "Olli", "Olemassa", "olli@example.fi")
    headers = ["Etunimi", "Sukunimi", "Sähköposti", "Seuravuosi", "lehti"]
    rows = [["Uuno", "Uusi", "uuno@example.fi", "12,5", "kyllä"],
            ["Olli", "Olemassa", "olli@example.fi", "3", "ei"]]
    table = read_table(csv_bytes(headers, rows), "omat.csv")
    assert auto_mapping(table.headers)[3:] == ["", ""]  # they need the organisation's list
    with session_scope(url) as s:
        mapping = suggest_mapping(s, tree.club_a, table.headers)
    assert mapping[3:] == ["custom:seura_vuosi", "custom:lehti"]
    with session_scope(url) as s:
        report = run_import(s, world["admin"], tree.club_a, table, mapping)
    assert (report.new, report.updated) == (1, 1)
    with session_scope(url) as s:
        values = s.execute(sa.select(Person.email, CustomFieldValue.value)
                           .join(Person, Person.id == CustomFieldValue.person_id)
                           .order_by(Person.email, CustomFieldValue.value)).all()
        assert [tuple(r) for r in values] == [("olli@example.fi", "3"),
                                              ("olli@example.fi", "false"),
                                              ("uuno@example.fi", "12.5"),
                                              ("uuno@example.fi", "true")]
        assert s.get(Person, existing).first_name == "Olli"


def test_person_of_another_club_gets_a_membership_but_no_edits(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    other = make_member(url, tree.club_b, tree.type_b, "Sami", "Sisarseura", "sami@example.fi",
                        phone="0401111111")
    data = csv_bytes(["Etunimi", "Sukunimi", "Sähköposti", "Puhelin"],
                     [["Sami", "Sisarseura", "sami@example.fi", "0509999999"]])
    report = _import(world, data, "s.csv")
    assert report.updated == 1
    with session_scope(url) as s:
        assert s.get(Person, other).phone == "+358401111111"
        orgs = s.exec(select(Membership.organization_id).where(
            Membership.person_id == other).order_by(Membership.organization_id)).all()
        assert list(orgs) == [tree.club_a, tree.club_b]


def test_mapping_problems_and_permissions(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    table = read_table(xlsx_bytes(FI_HEADERS, good_rows()), "x.xlsx")
    mapping = auto_mapping(table.headers)
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="Sukunimi"):
            dry_run(s, world["admin"], tree.club_a, table, ["first_name"] + [""] * 9)
        with pytest.raises(ValidationError, match="kahdelle"):
            dry_run(s, world["admin"], tree.club_a, table, ["first_name", "first_name"]
                    + mapping[2:])
        with pytest.raises(PermissionDenied):
            dry_run(s, world["admin"], tree.club_b, table, mapping)
    viewer = _actor(url, make_staff(url, "v@example.fi", tree.club_a, "viewer"))
    with session_scope(url) as s, pytest.raises(PermissionDenied):
        dry_run(s, viewer, tree.club_a, table, mapping)
    treasurer = _actor(url, make_staff(url, "t@example.fi", tree.club_a, "treasurer"))
    with session_scope(url) as s:
        assert dry_run(s, treasurer, tree.club_a, table, mapping).new == 3
    with pytest.raises(ValidationError, match="xlsx tai .csv"):
        read_table(b"hello", "members.pdf")
    with pytest.raises(ValidationError, match="ei voi lukea"):
        read_table(b"not a zip", "members.xlsx")


def test_types_are_the_organisations_own(world: dict[str, Any]) -> None:
    url, tree = world["url"], world["tree"]
    with session_scope(url) as s:
        s.add(MembershipType(organization_id=tree.club_b, name="Nuorisojäsen"))
    data = csv_bytes(["Etunimi", "Sukunimi", "Jäsenlaji"], [["Nea", "Nuori", "Nuorisojäsen"]])
    _, report = _dry(world, data, "t.csv")
    assert report.error_rows == 1 and report.errors[0].column == "Jäsenlaji"
