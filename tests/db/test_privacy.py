"""Data protection on SQLite and PostgreSQL: retention dry run and pseudonymisation,
"download my data" (only one's own), and the deletion request flow."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from starlette.testclient import TestClient

from membook_app.accounts.sessions import resolve_session
from membook_app.api import api
from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.mail.outbox import queue_message
from membook_app.privacy import deletion_requests as dr
from membook_app.privacy.my_data import collect
from membook_app.privacy.retention import dry_run, run_retention, set_rule
from membook_app.register import custom_fields as cf
from membook_app.register.memberships import add_membership, end_membership
from membook_app.register.people import create_person
from models import (
    AuditEvent,
    CustomFieldValue,
    DeletionRequest,
    Invoice,
    LoginAttempt,
    Membership,
    OutboxMessage,
    Person,
    User,
)
from tests.factories import make_member, make_member_login, make_staff, make_tree

TODAY = date(2026, 6, 1)


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


def _end(url: str, person_id: int, org_id: int, end: date) -> None:
    with session_scope(url) as s:
        m = s.exec(select(Membership).where(Membership.person_id == person_id,
                                            Membership.organization_id == org_id)).one()
        end_membership(s, None, m.id, end_date=end)


def _old_member(url: str, org_id: int, type_id: int, first: str, last: str,
                email: str | None = None, **fields: str) -> int:
    """A member since 2010 (make_member starts memberships in 2024)."""
    with session_scope(url) as s:
        person = create_person(s, None, {"first_name": first, "last_name": last,
                                         "email": email, **fields})
        add_membership(s, None, person_id=person.id, organization_id=org_id,  # type: ignore[arg-type]
                       type_id=type_id, start_date=date(2010, 1, 1))
        return person.id  # type: ignore[return-value]


def _person(url: str, person_id: int) -> Person:
    with session_scope(url) as s:
        return s.get(Person, person_id)  # type: ignore[return-value]


@pytest.fixture
def world(db_url: str):  # type: ignore[no-untyped-def]
    tree = make_tree(db_url)
    mk = _old_member
    p = {
        "old": mk(db_url, tree.club_a, tree.type_a, "Olavi", "Vanha", "olavi@example.fi",
                  phone="0401234567", street_address="Tie 1", postal_code="00100",
                  city="Helsinki"),
        "old_unpaid": mk(db_url, tree.club_a, tree.type_a, "Urho", "Velka"),
        "two_orgs": mk(db_url, tree.club_a, tree.type_a, "Kaisa", "Kaksi"),
        "recent": mk(db_url, tree.club_a, tree.type_a, "Reijo", "Tuore"),
        "active": mk(db_url, tree.club_a, tree.type_a, "Aktiivi", "Jäsen"),
    }
    with session_scope(db_url) as s:
        add_membership(s, None, person_id=p["two_orgs"], organization_id=tree.club_b,
                       type_id=tree.type_b, start_date=date(2010, 1, 1))
        field = cf.create_field(s, None, tree.club_a, {"key": "shirt", "label": "Paita"})
        cf.set_values(s, None, p["old"], {"shirt": "L"})
        for who in ("old", "old_unpaid"):
            create_manual_invoice(s, None, organization_id=tree.club_a, person_id=p[who],
                                  lines=[LineInput(tree.club_a, "Jäsenmaksu 2017", 2500)],
                                  issue_date=date(2017, 1, 1), due_date=date(2017, 2, 1))
    assert field.id
    _end(db_url, p["old"], tree.club_a, date(2018, 1, 1))
    _end(db_url, p["old_unpaid"], tree.club_a, date(2018, 1, 1))
    _end(db_url, p["two_orgs"], tree.club_a, date(2018, 1, 1))
    _end(db_url, p["two_orgs"], tree.club_b, date(2018, 1, 1))
    _end(db_url, p["recent"], tree.club_a, date(2024, 1, 1))
    # Olavi's invoice was paid (a credit note is the simplest way to settle it here):
    with session_scope(db_url) as s:
        from membook_app.billing.invoices import create_credit_note
        inv = s.exec(select(Invoice).where(Invoice.person_id == p["old"])).one()
        create_credit_note(s, None, inv.id, reason="Hyvitys testissä")  # type: ignore[arg-type]
    make_member_login(db_url, "olavi@example.fi")
    admin = _actor(db_url, make_staff(db_url, "a@example.fi", tree.club_a, "admin"))
    return db_url, tree, p, admin


def test_dry_run_shows_who_before_the_rule_is_on(world) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, admin = world
    with session_scope(url) as s:
        report = dry_run(s, admin, tree.club_a, 5, TODAY)
    # Kaisa also belonged to club B, which has no rule; Urho still owes money.
    assert [a.person_id for a in report.affected] == [p["old"]]
    assert report.affected[0].last_end == date(2018, 1, 1)
    assert report.held_back_unpaid == 1
    with session_scope(url) as s:
        assert [a.person_id for a in dry_run(s, admin, tree.club_a, 10, TODAY).affected] == []
        with pytest.raises(ValidationError):
            dry_run(s, admin, tree.club_a, 0, TODAY)
    # A dry run and a run with the rule off change nothing.
    with session_scope(url) as s:
        assert run_retention(s, TODAY)["pseudonymised"] == 0
    assert _person(url, p["old"]).first_name == "Olavi"
    treasurer = _actor(url, make_staff(url, "t@example.fi", tree.club_a, "treasurer"))
    with session_scope(url) as s:
        with pytest.raises(PermissionDenied):
            dry_run(s, treasurer, tree.club_a, 5, TODAY)


def test_daily_run_pseudonymises_and_keeps_invoices(world) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, admin = world
    with session_scope(url) as s:
        set_rule(s, admin, tree.club_a, 5, True)
        set_rule(s, None, tree.club_b, 5, True)
    with session_scope(url) as s:
        invoices_before = sorted((i.id, i.total_cents, i.reference)
                                 for i in s.exec(select(Invoice)))
        result = run_retention(s, TODAY)
    assert result == {"pseudonymised": 2, "held_back_unpaid": 1, "held_back_household": 0}
    old = _person(url, p["old"])
    assert (old.first_name, old.last_name) == ("Poistettu", f"#{p['old']}")
    assert (old.email, old.phone, old.street_address, old.postal_code, old.city) == (
        None, None, None, None, None)
    assert old.pseudonymised_at is not None
    assert _person(url, p["two_orgs"]).pseudonymised_at is not None
    for keep in ("old_unpaid", "recent", "active"):
        assert _person(url, p[keep]).pseudonymised_at is None
    with session_scope(url) as s:
        assert sorted((i.id, i.total_cents, i.reference)
                      for i in s.exec(select(Invoice))) == invoices_before
        assert s.exec(select(Invoice).where(Invoice.person_id == p["old"])).first() is not None
        assert s.exec(select(CustomFieldValue).where(
            CustomFieldValue.person_id == p["old"])).all() == []
        user = s.exec(select(User).where(User.person_id == p["old"])).one()
        assert not user.active and "olavi" not in user.email
        events = s.exec(select(AuditEvent).where(
            AuditEvent.action == "person.pseudonymised")).all()
        rule_event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "organization.retention_rule")).first()
    assert sorted(e.object_id for e in events) == sorted([p["old"], p["two_orgs"]])
    with session_scope(url) as s:
        history = s.exec(select(AuditEvent).where(AuditEvent.object_type == "person",
                                                  AuditEvent.object_id == p["old"])).all()
    assert "person.created" in {e.action for e in history}
    assert "Olavi" not in json.dumps([(e.before, e.after) for e in history])
    assert all("Olavi" not in json.dumps(e.after) for e in events)
    assert rule_event is not None and rule_event.after == {"retention_years": 5,
                                                           "retention_enabled": True}
    with session_scope(url) as s:  # a second run finds nothing new
        assert run_retention(s, TODAY)["pseudonymised"] == 0


def test_pseudonymising_removes_the_address_from_mail_and_sign_in_history(
        world) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, admin = world
    with session_scope(url) as s:
        sent = queue_message(s, to="Olavi@Example.fi", subject="Lasku Olavi Vanha",
                             text="Hei Olavi", html="<p>Hei Olavi</p>")
        sent.status = "sent"
        waiting = queue_message(s, to="olavi@example.fi", subject="Muistutus", text="Hei Olavi")
        other = queue_message(s, to="reijo@example.fi", subject="Hei Reijo", text="Hei Reijo")
        s.add(LoginAttempt(email="olavi@example.fi", client="127.0.0.1"))
        s.add(LoginAttempt(email="reijo@example.fi", client="127.0.0.1"))
        ids = (sent.id, waiting.id, other.id)
        set_rule(s, admin, tree.club_a, 5, True)
    with session_scope(url) as s:
        assert run_retention(s, TODAY)["pseudonymised"] == 1
    with session_scope(url) as s:
        sent_row, waiting_row, other_row = (s.get(OutboxMessage, i) for i in ids)
        attempts = sorted(a.email for a in s.exec(select(LoginAttempt)))
    assert sent_row is not None and waiting_row is not None and other_row is not None
    for row in (sent_row, waiting_row):
        assert "olavi" not in (row.to_address + row.subject + row.text_body).lower()
        assert row.html_body is None
    assert sent_row.status == "sent"
    # The reminder still waiting is never delivered to the removed person.
    assert waiting_row.status == "failed" and "removed" in (waiting_row.last_error or "")
    assert (other_row.to_address, other_row.status) == ("reijo@example.fi", "queued")
    assert attempts == ["pseudonymised@invalid", "reijo@example.fi"]


def test_rule_of_a_parent_applies_below_it(world) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, _admin = world
    with session_scope(url) as s:
        set_rule(s, None, tree.district, 5, True)
        assert run_retention(s, TODAY)["pseudonymised"] == 2
    assert _person(url, p["old"]).pseudonymised_at is not None


def test_my_data_has_only_own_data(world) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, _admin = world
    other = make_member(url, tree.club_a, tree.type_a, "Maija", "Muu", "maija@example.fi")
    with session_scope(url) as s:
        cf.create_field(s, None, tree.club_a, {"key": "secret", "label": "Sisäinen"})
        cf.update_field(s, None, cf.list_fields(s, tree.club_a)[0].id,
                        {"visible_to_member": True})
        cf.set_values(s, None, p["old"], {"secret": "vain hallitukselle"})
        cf.set_values(s, None, other, {"shirt": "S"})
    token = make_member_login(url, "maija@example.fi")
    with session_scope(url) as s:
        data = collect(s, _actor(url, token))
    assert data["person"]["first_name"] == "Maija" and data["person"]["id"] == other
    assert [m["organization"] for m in data["memberships"]] == ["Seura A ry"]
    assert data["custom_fields"] == [{"field": "Paita", "value": "S"}]
    assert data["invoices"] == [] and data["payments"] == []
    assert "Olavi" not in json.dumps(data)

    olavi = make_member_login(url, "olavi@example.fi")
    with session_scope(url) as s:
        olavi_data = collect(s, _actor(url, olavi))
    assert olavi_data["custom_fields"] == [{"field": "Paita", "value": "L"}]
    assert "vain hallitukselle" not in json.dumps(olavi_data)
    assert [i["description"] for i in olavi_data["invoices"]][0] == ""
    assert {i["kind"] for i in olavi_data["invoices"]} == {"invoice", "credit_note"}
    assert olavi_data["invoice_lines"][0]["amount_cents"] == 2500
    assert [h["to_status"] for h in olavi_data["status_history"]] == ["active", "resigned"]


def test_download_route(world) -> None:  # type: ignore[no-untyped-def]
    url, tree, _p, _admin = world
    make_member(url, tree.club_a, tree.type_a, "Maija", "Muu", "maija@example.fi")
    token = make_member_login(url, "maija@example.fi")
    staff = make_staff(url, "staff@example.fi", tree.club_a, "admin")
    client = TestClient(api)
    assert client.get("/api/my-data.json").status_code == 401
    client.cookies.set("membook_session", staff)
    assert client.get("/api/my-data.json").status_code == 403
    client.cookies.set("membook_session", token)
    response = client.get("/api/my-data.json?person_id=1")
    assert response.status_code == 200
    assert response.json()["person"]["email"] == "maija@example.fi"
    assert "attachment" in response.headers["content-disposition"]
    xlsx = client.get("/api/my-data.xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert "Henkilötiedot" in book.sheetnames and "Jäsenyydet" in book.sheetnames
    rows = {r[0].value: r[1].value for r in book["Henkilötiedot"].iter_rows(min_row=2)}
    assert rows["first_name"] == "Maija"
    assert client.get("/api/my-data.csv").status_code == 404
    with session_scope(url) as s:
        downloads = s.exec(select(AuditEvent).where(
            AuditEvent.action == "person.data_downloaded")).all()
    assert len(downloads) == 2


def test_deletion_request_flow(world) -> None:  # type: ignore[no-untyped-def]
    url, tree, _p, admin = world
    maija = make_member(url, tree.club_a, tree.type_a, "Maija", "Muu", "maija@example.fi")
    member = _actor(url, make_member_login(url, "maija@example.fi"))
    sibling = _actor(url, make_staff(url, "b@example.fi", tree.club_b, "admin"))
    with session_scope(url) as s:
        request_id = dr.request_deletion(s, member, "Poistakaa tietoni").id
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="avoin"):
            dr.request_deletion(s, member, "uudestaan")
    with session_scope(url) as s:
        rows = dr.list_requests(s, admin, tree.club_a)
        assert [(r.person_id, r.message, r.active_memberships) for r in rows] == [
            (maija, "Poistakaa tietoni", 1)]
        assert dr.list_requests(s, sibling, tree.club_b) == []
        with pytest.raises(PermissionDenied):
            dr.list_requests(s, sibling, tree.club_a)
        with pytest.raises(NotFound):
            dr.resolve_request(s, sibling, request_id, "done", "")
        with pytest.raises(ValidationError, match="jäsenyydet"):
            dr.resolve_request(s, admin, request_id, "done", "")
        with pytest.raises(ValidationError, match="peruste"):
            dr.resolve_request(s, admin, request_id, "rejected", "")
    assert _person(url, maija).first_name == "Maija"
    _end(url, maija, tree.club_a, TODAY)
    with session_scope(url) as s:
        dr.resolve_request(s, admin, request_id, "done", "Poistettu pyynnöstä")
    assert _person(url, maija).first_name == "Poistettu"
    with session_scope(url) as s:
        request = s.get(DeletionRequest, request_id)
        assert (request.status, request.resolved_by_user_id) == ("done", admin.user_id)
        assert dr.list_requests(s, admin, tree.club_a) == []
        with pytest.raises(ValidationError, match="käsitelty"):
            dr.resolve_request(s, admin, request_id, "rejected", "Liian myöhään")


def test_daily_task_runs_the_rule(world) -> None:  # type: ignore[no-untyped-def]
    """The Huey periodic task is registered and calls the same service on DATABASE_URL."""
    url, tree, p, _admin = world
    from tasks import huey
    from tasks.retention import retention_daily, retention_now

    assert retention_daily.task_class in huey._registry._periodic_tasks
    with session_scope(url) as s:
        set_rule(s, None, tree.federation, 5, True)
    result = retention_now()
    assert result["pseudonymised"] == 2
    assert _person(url, p["old"]).pseudonymised_at is not None
