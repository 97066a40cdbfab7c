"""Invoice runs on SQLite and PostgreSQL: preview, commit in one go, idempotency, references."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from membook_app.banking.references import is_valid_national
from membook_app.billing.references import (
    allocate_invoice_ids,
    invoice_id_from_reference,
    invoice_reference,
    invoice_reference_checked,
)
from membook_app.billing.runs import commit_run, preview_run
from membook_app.db import session_scope
from membook_app.errors import LimitReached, PermissionDenied, ValidationError
from membook_app.register.plans import plan_by_code
from models import (
    AuditEvent,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    Organization,
    RunPrice,
    RunPriceLine,
    invoice_lines,
)
from tests.db.test_billing_fees import P, World, actor_for, billing_world

ISSUE, DUE = date(2027, 1, 2), date(2027, 1, 31)


@pytest.fixture
def world(db_url: str) -> World:
    return billing_world(db_url)


def _counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as s:
        return (s.exec(select(func.count()).select_from(Invoice)).one(),
                s.execute(select(func.count()).select_from(invoice_lines)).scalar_one(),
                s.exec(select(func.count()).select_from(InvoiceRun)).one())


def test_reference_scheme() -> None:
    assert invoice_reference(1) == "10000016"
    assert invoice_reference(42)[:-1] == "1000042"
    for i in (1, 9, 10, 999_999, 1_000_000, 123_456_789):
        ref = invoice_reference(i)
        assert is_valid_national(ref) and invoice_id_from_reference(ref) == i
    assert len({invoice_reference(i) for i in range(1, 20001)}) == 20000
    for i in [*range(1, 5000), *range(10**17, 10**17 + 2000), 10**18 - 1]:
        assert invoice_reference(i) == invoice_reference_checked(i)
    assert invoice_id_from_reference("2000009") is None  # another prefix
    with pytest.raises(ValueError):
        invoice_reference(0)


def test_preview_counts_totals_and_reasons(world: World) -> None:
    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    with session_scope(world.url) as s:
        pv = preview_run(s, treasurer, t.district, True, P, ISSUE, DUE)
    # full 48, youth 20, parent (household) 62, dependant 48, paper 43
    assert pv.invoice_count == 5
    assert pv.total_cents == 4800 + 2000 + 6200 + 4800 + 4300
    shares = {s.organization: s.amount_cents for s in pv.shares}
    assert shares == {"Seura A ry": 3000 + 1500 + 5000 + 3000, "Seura B ry": 2500,
                      "Piiri ry": 1000 + 500 + 1000 + 1000, "Liitto ry": 800 + 1200 + 800 + 800}
    reasons = {g.reason: (g.count, sorted(g.sample)) for g in pv.skipped}
    assert reasons == {"household": (2, ["Perhe Eetu", "Perhe Elli"]),
                       "no_type": (1, ["Tyypitön Nelli"])}
    # no email: still invoiced, listed for paper delivery; the dependant's payer has one
    assert (pv.paper.count, pv.paper.sample) == (1, ["Paperi Paavo"])
    with session_scope(world.url) as s:
        only_b = preview_run(s, treasurer, t.club_b, False, P, ISSUE, DUE)
    assert only_b.invoice_count == 1
    assert _counts(world.url) == (0, 0, 0)  # a preview writes nothing


def test_commit_writes_everything_once(world: World) -> None:
    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    with session_scope(world.url) as s:
        result = commit_run(s, treasurer, t.district, True, P, ISSUE, DUE)
    assert result.created == 5 and result.run_id is not None
    assert _counts(world.url) == (5, 13, 1)
    with session_scope(world.url) as s:
        invoices = s.exec(select(Invoice).order_by(Invoice.id)).all()
        refs = [i.reference for i in invoices]
        assert len(set(refs)) == 5
        assert all(is_valid_national(r) and invoice_id_from_reference(r) == i.id
                   for r, i in zip(refs, invoices, strict=True))
        by_person = {i.person_id: i for i in invoices}
        dep = by_person[world.people["dependant"]]
        assert dep.payer_id == world.people["full"]  # billed to the household payer
        assert all(i.status == "open" and i.run_id == result.run_id for i in invoices)
        assert by_person[world.people["parent"]].total_cents == 6200
        lines = s.execute(sa.select(invoice_lines).where(
            invoice_lines.c.invoice_id == by_person[world.people["full"]].id)
            .order_by(invoice_lines.c.position)).all()
        assert [(line.organization_id, line.amount_cents) for line in lines] == [
            (t.club_a, 3000), (t.district, 1000), (t.federation, 800)]
        totals = dict(s.execute(sa.select(invoice_lines.c.invoice_id,
                                          func.sum(invoice_lines.c.amount_cents))
                                .group_by(invoice_lines.c.invoice_id)).all())
        assert all(totals[i.id] == i.total_cents for i in invoices)
        # the 13 lines are written once per price (club and type), none per invoice
        assert s.execute(select(func.count()).select_from(InvoiceLine)).scalar_one() == 0
        prices = s.exec(select(RunPrice).where(RunPrice.run_id == result.run_id)).all()
        assert len(prices) == len({i.run_price_id for i in invoices}) < len(invoices)
        assert {p.id: p.total_cents for p in prices} == {
            i.run_price_id: i.total_cents for i in invoices}
        assert s.execute(select(func.count()).select_from(RunPriceLine)).scalar_one() < 13
        run = s.get(InvoiceRun, result.run_id)
        assert (run.invoice_count, run.total_cents) == (5, result.total_cents)
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "invoice_run.committed")
                       ).one()
        assert event.after["invoice_count"] == 5 and event.actor_user_id == treasurer.user_id
    # the same run again, and a narrower one inside it: nothing new
    with session_scope(world.url) as s:
        again = commit_run(s, treasurer, t.district, True, P, ISSUE, DUE)
        narrower = commit_run(s, treasurer, t.club_a, False, P, ISSUE, DUE)
    assert (again.created, again.run_id, narrower.created) == (0, None, 0)
    assert {g.reason: g.count for g in again.preview.skipped}["already_invoiced"] == 5
    assert _counts(world.url) == (5, 13, 1)
    # another period is a new run
    with session_scope(world.url) as s:
        from membook_app.billing.fees import set_fee
        set_fee(s, None, organization_id=t.club_b, period="2028",
                membership_type_id=t.type_b, amount_cents=100)
        nxt = commit_run(s, treasurer, t.district, True, "2028", ISSUE, DUE)
    assert nxt.created == 1
    with session_scope(world.url) as s:
        assert s.exec(select(Invoice.dedupe_key).where(Invoice.period == "2028")).one() \
            .endswith(":2028")


def test_run_invoice_reads_its_price_lines_everywhere(world: World) -> None:
    """A run invoice has no line rows of its own: its page (view), a credit by line
    position and a reminder fee all work from its run price's lines."""
    from membook_app.billing.invoice_view import build_view
    from membook_app.billing.invoices import create_credit_note
    from membook_app.billing.reminders import apply_reminders, save_rule

    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    with session_scope(world.url) as s:
        commit_run(s, treasurer, t.district, True, P, ISSUE, DUE)
    with session_scope(world.url) as s:
        invoice = s.exec(select(Invoice).where(
            Invoice.person_id == world.people["full"])).one()
        view = build_view(s, invoice)
        assert [(ln.organization, ln.amount_cents) for ln in view.lines] == [
            ("Seura A ry", 3000), ("Piiri ry", 1000), ("Liitto ry", 800)]
        create_credit_note(s, treasurer, invoice.id, amounts={2: 300})  # type: ignore[arg-type]
        save_rule(s, treasurer, t.club_a, enabled=True, first_after_days=1,
                  second_after_days=None, fee_cents=500)
        apply_reminders(s, date(2027, 2, 2), organization_id=t.club_a)
    with session_scope(world.url) as s:
        lines = s.execute(sa.select(invoice_lines.c.position, invoice_lines.c.organization_id,
                                    invoice_lines.c.amount_cents, invoice_lines.c.kind)
                          .where(invoice_lines.c.invoice_id == invoice.id)
                          .order_by(invoice_lines.c.position)).all()
        assert [tuple(r) for r in lines] == [
            (0, t.club_a, 3000, "fee"), (1, t.district, 1000, "fee"),
            (2, t.federation, 800, "fee"), (3, t.club_a, 500, "reminder_fee")]
        again = s.get(Invoice, invoice.id)
        assert again is not None
        assert (again.total_cents, again.credited_cents) == (5300, 300)


def test_past_due_run_is_overdue_via_refresh(world: World) -> None:
    t = world.tree
    with session_scope(world.url) as s:
        commit_run(s, None, t.club_b, False, P, ISSUE, DUE, today=date(2027, 3, 1))
    with session_scope(world.url) as s:
        assert s.exec(select(Invoice.status)).all() == ["overdue"]


def test_plan_without_invoicing_is_refused(world: World) -> None:
    t = world.tree
    with session_scope(world.url) as s:
        org = s.get(Organization, t.club_b)
        org.plan_id = plan_by_code(s, "free").id
        s.add(org)
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    with pytest.raises(LimitReached) as refused:
        with session_scope(world.url) as s:
            commit_run(s, treasurer, t.club_b, False, P, ISSUE, DUE)
    assert "Free" in refused.value.en and "invoicing" in refused.value.en
    # a district run skips the club on the free plan, with the reason
    with session_scope(world.url) as s:
        pv = preview_run(s, treasurer, t.district, True, P, ISSUE, DUE)
    assert {g.reason: g.count for g in pv.skipped}["plan_no_invoicing"] == 2
    assert pv.invoice_count == 4
    assert _counts(world.url) == (0, 0, 0)


def test_run_permissions_and_validation(world: World) -> None:
    t = world.tree
    sibling = actor_for(world.url, "b@example.fi", t.club_b, "treasurer")
    viewer = actor_for(world.url, "v@example.fi", t.district, "viewer")
    for who in (sibling, viewer):
        with pytest.raises(PermissionDenied):
            with session_scope(world.url) as s:
                commit_run(s, who, t.club_a, False, P, ISSUE, DUE)
        with pytest.raises(PermissionDenied):
            with session_scope(world.url) as s:
                preview_run(s, who, t.club_a, False, P, ISSUE, DUE)
    own = actor_for(world.url, "a@example.fi", t.club_a, "treasurer")
    with pytest.raises(ValidationError):
        with session_scope(world.url) as s:
            commit_run(s, own, t.club_a, False, P, DUE, ISSUE)
    assert _counts(world.url) == (0, 0, 0)


def test_allocated_ids_do_not_collide_with_later_inserts(world: World) -> None:
    with session_scope(world.url) as s:
        first = allocate_invoice_ids(s, 3)
    with session_scope(world.url) as s:
        commit_run(s, None, world.tree.club_a, False, P, ISSUE, DUE)
        ids = s.exec(select(Invoice.id)).all()
    assert len(first) == 3 and len(set(first)) == 3
    assert len(ids) == 4 and all(i > 0 for i in ids)


def test_big_run_as_a_worker_job(world: World) -> None:
    """The UI's path for big runs: a Job, committed by the worker as the user who asked."""
    from membook_app.billing.runs import run_job, start_run_job
    from membook_app.jobs import job_status

    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    viewer = actor_for(world.url, "v@example.fi", t.district, "viewer")
    with pytest.raises(PermissionDenied):
        with session_scope(world.url) as s:
            start_run_job(s, viewer, t.district, True, P, ISSUE, DUE)
    with session_scope(world.url) as s:
        job_id = start_run_job(s, treasurer, t.district, True, P, ISSUE, DUE)
    summary = run_job(job_id)
    assert summary is not None and summary["created"] == 5
    with session_scope(world.url) as s:
        status = job_status(s, treasurer, job_id)
        run_id = s.exec(select(InvoiceRun.id)).one()
    assert status.status == "done" and status.progress == 100
    assert status.result == {"run_id": run_id, "created": 5, "total_cents": 22100}
    assert run_job(job_id) is None  # a finished job never runs twice
    assert _counts(world.url) == (5, 13, 1)


def test_preview_lists_fee_zero_members(world: World) -> None:
    """An honorary member whose club charges 0 € and whose category nobody above charges:
    no invoice, listed under "fee 0"."""
    from membook_app.billing.fees import create_membership_type, set_fee
    from tests.factories import make_member

    t = world.tree
    with session_scope(world.url) as s:
        honorary = create_membership_type(s, None, organization_id=t.club_a,
                                          name="Kunniajäsen", category="kunnia").id
        set_fee(s, None, organization_id=t.club_a, period=P, amount_cents=0,
                membership_type_id=honorary)
    make_member(world.url, t.club_a, honorary, "Kunnia", "Kaarina", "kaarina@example.fi")
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    with session_scope(world.url) as s:
        pv = preview_run(s, treasurer, t.club_a, False, P, ISSUE, DUE)
    reasons = {g.reason: (g.count, sorted(g.sample)) for g in pv.skipped}
    assert reasons["fee_zero"] == (1, ["Kaarina Kunnia"])  # last name first, as listed
    assert pv.invoice_count == 4  # full, youth, the household, the dependant


_FAIL_SQLITE = """
CREATE TRIGGER test_fail_third_invoice BEFORE INSERT ON invoice
WHEN (SELECT count(*) FROM invoice) >= 2
BEGIN SELECT RAISE(ABORT, 'test: the third invoice fails'); END"""
_FAIL_POSTGRESQL = ("""
CREATE FUNCTION test_fail_third_invoice() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF (SELECT count(*) FROM invoice) >= 2 THEN
        RAISE EXCEPTION 'test: the third invoice fails';
    END IF;
    RETURN NEW;
END $$""", """
CREATE TRIGGER test_fail_third_invoice BEFORE INSERT ON invoice
FOR EACH ROW EXECUTE FUNCTION test_fail_third_invoice()""")


def test_failure_in_the_middle_of_a_commit_writes_nothing(world: World) -> None:
    """A real database error on the third invoice row (a trigger in the test database):
    the run, its prices, the first two invoices and the audit event all roll back, and
    the run commits completely once the fault is gone."""
    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.district, "treasurer")
    engine = sa.create_engine(world.url)
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for statement in _FAIL_POSTGRESQL if postgresql else (_FAIL_SQLITE,):
            connection.exec_driver_sql(statement)
    audit_before = _audit_count(world.url)
    with pytest.raises(Exception, match="the third invoice fails"):  # noqa: PT011 - the driver's own type
        with session_scope(world.url) as s:
            commit_run(s, treasurer, t.district, True, P, ISSUE, DUE)
    assert _counts(world.url) == (0, 0, 0)
    with session_scope(world.url) as s:
        assert s.execute(select(func.count()).select_from(RunPrice)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(RunPriceLine)).scalar_one() == 0
    assert _audit_count(world.url) == audit_before

    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER test_fail_third_invoice"
                                   + (" ON invoice" if postgresql else ""))
    engine.dispose()
    with session_scope(world.url) as s:
        assert commit_run(s, treasurer, t.district, True, P, ISSUE, DUE).created == 5
    assert _counts(world.url) == (5, 13, 1)


def _audit_count(url: str) -> int:
    with session_scope(url) as s:
        return s.exec(select(func.count()).select_from(AuditEvent)
                      .where(AuditEvent.action == "invoice_run.committed")).one()
