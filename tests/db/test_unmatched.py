"""The unmatched queue: ranked candidates with reasons, booking, splitting, refunds, audit."""

from __future__ import annotations

import pytest
from sqlmodel import select

from membook_app.banking.references import make_national
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.payments.bank_import import import_bank_file
from membook_app.payments.unmatched import (
    book_payment,
    candidates,
    list_unmatched,
    mark_refund,
    split_payment,
    waiting_summary,
)
from models import Allocation, AuditEvent
from tests.db.test_bank_import_support import (
    SAMPLE_INVOICES,
    TODAY,
    actor,
    balance,
    camt054,
    invoice_state,
    make_invoice,
    make_world,
    money_snapshot,
    payment_by_source,
    sample,
)
from tests.factories import make_staff


@pytest.fixture
def queue(db_url: str):  # type: ignore[no-untyped-def]
    world = make_world(db_url)
    # Niemi's invoice: the KTL payment #5 carries 12345 where 12344 was meant.
    world.invoices["12344"] = make_invoice(db_url, world.tree.club_a, world.people["niemi"],
                                           "12344", 2000)
    for name in ("ktl_reference_payments.txt", "camt054_001_02_reference_payments.xml"):
        with session_scope(db_url) as s:
            import_bank_file(s, None, sample(name), name, today=TODAY)
    tokens = {
        "operator": make_staff(db_url, "op@example.fi", None, None, operator=True),
        "treasurer_a": make_staff(db_url, "ta@example.fi", world.tree.club_a, "treasurer"),
        "treasurer_b": make_staff(db_url, "tb@example.fi", world.tree.club_b, "treasurer"),
        "viewer_a": make_staff(db_url, "va@example.fi", world.tree.club_a, "viewer"),
    }
    return world, {k: actor(db_url, v) for k, v in tokens.items()}


def test_queue_and_ranked_candidates(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = queue
    with session_scope(db_url) as s:
        rows = list_unmatched(s, actors["operator"])
        assert {r.source_id for r in rows} == {
            "261126593497A005", "20261126593497A00003", "20261126593497K00004"}
        niemi = payment_by_source(s, "261126593497A005")
        found = candidates(s, actors["operator"], niemi.id)  # type: ignore[arg-type]
        top = found[0]
        assert top.invoice_id == world.invoices["12344"]
        assert {r.code for r in top.reasons} == {"reference_one_off", "equal_amount",
                                                 "same_name"}
        assert "12345" in top.reasons[0].en
        korhonen = payment_by_source(s, "20261126593497A00003")
        found = candidates(s, actors["treasurer_a"], korhonen.id)  # type: ignore[arg-type]
        assert found[0].invoice_id == world.invoices["20240015"]
        assert [r.code for r in found[0].reasons] == ["same_name"]
        # A sibling treasurer sees none of club A's invoices as candidates: the payment,
        # resembling none of club B's, is not theirs to open.
        with pytest.raises(NotFound):
            candidates(s, actors["treasurer_b"], niemi.id)  # type: ignore[arg-type]


def test_book_to_one_invoice_with_audit(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = queue
    with session_scope(db_url) as s:
        payment_id = payment_by_source(s, "261126593497A005").id
        booking = book_payment(s, actors["treasurer_a"], payment_id,  # type: ignore[arg-type]
                               world.invoices["12344"], note="viite väärin", today=TODAY)
        assert booking.status == "matched"
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["12344"]) == ("paid", 2000)
        allocation = s.exec(select(Allocation).where(Allocation.payment_id == payment_id)).one()
        assert (allocation.rule, allocation.created_by_user_id) == (
            "manual", actors["treasurer_a"].user_id)
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "payment.booked")).one()
        assert event.object_id == payment_id and event.actor_label == "ta@example.fi"
        assert event.organization_id == world.tree.club_a
        assert event.after["note"] == "viite väärin"  # type: ignore[index]
        assert payment_by_source(s, "261126593497A005").match_rule == "manual"
        with pytest.raises(ValidationError):  # decided once only
            book_payment(s, actors["operator"], payment_id,  # type: ignore[arg-type]
                         world.invoices["12344"], today=TODAY)


def test_book_more_than_open_credits_the_payer(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = queue
    with session_scope(db_url) as s:
        payment_id = payment_by_source(s, "261126593497A005").id  # 20.00
        book_payment(s, actors["operator"], payment_id,  # type: ignore[arg-type]
                     world.invoices["5550001237"], today=TODAY)  # already paid by KTL #7
    with session_scope(db_url) as s:
        assert balance(s, world.people["esimerkki"]) == 2000
        assert payment_by_source(s, "261126593497A005").status == "credit"


def test_split_over_two_invoices(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = queue
    with session_scope(db_url) as s:
        payment_id = payment_by_source(s, "20261126593497A00003").id  # 15.00
        parts = [(world.invoices["20240015"], 1000), (world.invoices["12344"], 500)]
        split_payment(s, actors["treasurer_a"], payment_id, parts, today=TODAY)  # type: ignore[arg-type]
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20240015"]) == ("partly_paid", 1000)
        assert invoice_state(s, world.invoices["12344"]) == ("partly_paid", 500)
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "payment.split")).all()
        assert len(events) == 2
        assert events[0].after["parts"][0]["cents"] == 1000  # type: ignore[index]


def test_split_must_add_up_and_fit(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = queue
    before = money_snapshot(db_url)
    with session_scope(db_url) as s:
        payment_id = payment_by_source(s, "20261126593497A00003").id  # 15.00
    bad = [
        [(world.invoices["20240015"], 1000), (world.invoices["12344"], 400)],   # 14.00
        [(world.invoices["20240015"], 1000)],                                  # one part
        [(world.invoices["20240015"], 1000), (world.invoices["20240015"], 500)],
        [(world.invoices["20260011"], 1000), (world.invoices["12344"], 500)],   # 20260011 paid
    ]
    for parts in bad:
        with pytest.raises(ValidationError), session_scope(db_url) as s:
            split_payment(s, actors["operator"], payment_id, parts, today=TODAY)  # type: ignore[arg-type]
    assert money_snapshot(db_url) == before


def test_refund_is_operator_only(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    _world, actors = queue
    with session_scope(db_url) as s:
        payment_id = payment_by_source(s, "20261126593497A00003").id
    with pytest.raises(PermissionDenied), session_scope(db_url) as s:
        mark_refund(s, actors["treasurer_a"], payment_id)  # type: ignore[arg-type]
    with session_scope(db_url) as s:
        mark_refund(s, actors["operator"], payment_id, note="ei jäsen")  # type: ignore[arg-type]
    with session_scope(db_url) as s:
        assert payment_by_source(s, "20261126593497A00003").status == "refund"
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "payment.refund")).one()
        assert event.after["note"] == "ei jäsen"  # type: ignore[index]


def test_refusals_write_nothing(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = queue
    before = money_snapshot(db_url)
    with session_scope(db_url) as s:
        payment_id = payment_by_source(s, "261126593497A005").id
    attempts = [
        (actors["treasurer_b"], NotFound),          # club A's invoice is not theirs
        (actors["viewer_a"], PermissionDenied),     # reads billing, may not write it
    ]
    for who, error in attempts:
        with pytest.raises(error), session_scope(db_url) as s:
            book_payment(s, who, payment_id, world.invoices["12344"])  # type: ignore[arg-type]
    assert money_snapshot(db_url) == before
    assert SAMPLE_INVOICES  # the world holds the sample invoices


def test_queue_is_scoped_to_the_actors_invoices(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Staff see a queued payment only when it resembles one of their invoices, and the
    dashboard's waiting count agrees with the list."""
    world, actors = queue
    make_invoice(db_url, world.tree.club_b, world.people["salo"], make_national("7001"), 9100)
    with session_scope(db_url) as s:
        import_bank_file(s, None, camt054([
            {"archive": "B-NAME", "cents": 777, "name": "Salo Sari"},
            {"archive": "NOBODY", "cents": 313, "name": "Tuntematon Maksaja"},
        ], msg_id="SCOPE"), "scope.xml", today=TODAY)
    club_a = {"261126593497A005", "20261126593497A00003", "20261126593497K00004"}
    expected = {"operator": club_a | {"B-NAME", "NOBODY"}, "treasurer_a": club_a,
                "viewer_a": club_a, "treasurer_b": {"B-NAME"}}
    with session_scope(db_url) as s:
        for who, ids in expected.items():
            rows = list_unmatched(s, actors[who])
            assert {r.source_id for r in rows} == ids, who
            assert waiting_summary(s, actors[who], None) == (
                len(rows), sum(r.amount_cents for r in rows)), who
        assert waiting_summary(s, actors["treasurer_a"], world.tree.club_a) == (
            3, 2000 + 1500 - 5000)
        assert waiting_summary(s, actors["operator"], world.tree.club_b) == (1, 777)
        assert waiting_summary(s, actors["operator"], world.tree.district) == (4, -1500 + 777)
        with pytest.raises(PermissionDenied):
            waiting_summary(s, actors["treasurer_b"], world.tree.club_a)
        # Candidates: only the actor's subtree, and a viewer may look but not book.
        b_payment = payment_by_source(s, "B-NAME").id
        found = candidates(s, actors["treasurer_b"], b_payment)  # type: ignore[arg-type]
        assert found and {(c.organization, c.bookable) for c in found} == {("Seura B ry", True)}
        niemi = payment_by_source(s, "261126593497A005").id
        assert {c.bookable for c in candidates(s, actors["viewer_a"], niemi)} == {False}  # type: ignore[arg-type]
        for who, payment_id in (("treasurer_a", b_payment), ("treasurer_b", niemi),
                                ("treasurer_a", payment_by_source(s, "NOBODY").id)):
            with pytest.raises(NotFound):
                candidates(s, actors[who], payment_id)  # type: ignore[arg-type]


def test_a_sibling_cannot_book_a_payment_it_cannot_see(queue, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Club B's treasurer books club A's queued payment to a club B invoice: refused,
    though the invoice is theirs, because the payment resembles nothing of club B."""
    world, actors = queue
    own, own2 = (make_invoice(db_url, world.tree.club_b, world.people["salo"],
                              make_national(base), 2100) for base in ("7002", "7003"))
    before = money_snapshot(db_url)
    with session_scope(db_url) as s:
        niemi = payment_by_source(s, "261126593497A005").id
        assert niemi not in {r.payment_id for r in list_unmatched(s, actors["treasurer_b"])}
    for call in (lambda s: book_payment(s, actors["treasurer_b"], niemi, own),
                 lambda s: split_payment(s, actors["treasurer_b"], niemi,
                                         [(own, 1000), (own2, 1000)])):
        with pytest.raises(NotFound), session_scope(db_url) as s:
            call(s)
    assert money_snapshot(db_url) == before
