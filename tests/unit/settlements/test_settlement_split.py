"""The split rule: shares add up to the cent, mirror for reversals, full payment exact."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membook_app.banking.references import is_valid_rf, rf_to_national
from membook_app.billing.references import invoice_id_from_reference, invoice_reference
from membook_app.settlements.runs import pain001_version, settlement_reference
from membook_app.settlements.schedule import is_settlement_day, settlement_day
from membook_app.settlements.split import org_weights, split, split_by_org

weights = st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=6).filter(
    lambda w: sum(w) > 0)
amounts = st.integers(min_value=-10_000_000, max_value=10_000_000)


@settings(max_examples=300)
@given(amounts, weights)
def test_shares_add_up_and_stay_within_a_cent_of_the_quota(amount: int, w: list[int]) -> None:
    shares = split(amount, w)
    assert sum(shares) == amount
    total = sum(w)
    for share, weight in zip(shares, w, strict=True):
        assert abs(share * total - amount * weight) < total  # |share − quota| < 1 cent
        if weight == 0:
            assert share == 0


@settings(max_examples=300)
@given(amounts, weights)
def test_reversal_mirrors_the_payment(amount: int, w: list[int]) -> None:
    assert split(-amount, w) == [-s for s in split(amount, w)]


@settings(max_examples=200)
@given(weights)
def test_full_payment_gives_each_line_its_amount(w: list[int]) -> None:
    assert split(sum(w), w) == w


def test_ties_go_to_the_earlier_line() -> None:
    assert split(1, [1, 1, 1]) == [1, 0, 0]
    assert split(2, [1, 1, 1]) == [1, 1, 0]
    assert split(-2, [1, 1, 1]) == [-1, -1, 0]
    # 1001 × (3000, 1500, 1000) / 5500 = 546.0, 273.0, 182.0 (remainders 0,0,0 → floors only)
    assert split(1001, [3000, 1500, 1000]) == [546, 273, 182]
    # 100 × (1, 1, 1) / 3: 33 each, the leftover cent to the first line.
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    # The largest remainder wins over the earlier position.
    assert split(10, [1, 2]) == [3, 7]


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ValueError):
        split(10, [0, 0])
    with pytest.raises(ValueError):
        split(10, [5, -1])


def test_credit_note_lines_reduce_the_weight_and_never_go_negative() -> None:
    # club 30, district 15, federation 10; the district's line credited in full and a
    # stray negative line of the federation is capped at zero.
    lines = [("club", 3000, 1), ("district", 1500, 2), ("federation", 1000, 3),
             ("district", -1500, 2), ("federation", -1200, 3)]
    assert org_weights(lines) == [("club", 3000)]
    assert split_by_org(2000, lines, owner="club") == {"club": 2000}


def test_fully_credited_or_empty_invoice_goes_to_its_organisation() -> None:
    assert split_by_org(500, [("club", 1000, 1), ("club", -1000, 1)], owner="club") == {
        "club": 500}
    assert split_by_org(500, [], owner="district") == {"district": 500}
    assert split_by_org(0, [], owner="district") == {}


def test_lines_of_one_organisation_are_summed_in_first_position_order() -> None:
    lines = [("district", 100, 2), ("club", 100, 1), ("district", 100, 3)]
    assert org_weights(lines) == [("club", 100), ("district", 200)]
    assert split_by_org(1, [("b", 1, 1), ("a", 1, 2)], owner="a") == {"b": 1}


_RUN_IDS = st.integers(min_value=1, max_value=10**10 - 1)
_ORG_IDS = st.integers(min_value=1, max_value=10**8 - 1)


@given(_RUN_IDS, _ORG_IDS)
def test_settlement_references_are_valid_and_distinct(run_id: int, org_id: int) -> None:
    ref = settlement_reference(run_id, org_id)
    assert is_valid_rf(ref) and len(ref) <= 25
    national = rf_to_national(ref)
    assert national is not None and national[:-1] == f"2{run_id:07d}{org_id:08d}"
    # Never an invoice reference ("1" + id + check), nor read as one.
    assert invoice_id_from_reference(national) is None
    assert not national.startswith("1")


@given(_RUN_IDS, _ORG_IDS, st.integers(min_value=1, max_value=10**12))
def test_no_settlement_reference_equals_an_invoice_reference(run_id: int, org_id: int,
                                                            invoice_id: int) -> None:
    national = rf_to_national(settlement_reference(run_id, org_id))
    assert national != invoice_reference(invoice_id)


def test_settlement_reference_example() -> None:
    """The worked example of docs/settlements.md."""
    assert rf_to_national(settlement_reference(12, 345)) == "20000012000003457"
    assert settlement_reference(12, 345) != settlement_reference(1, 2345)


def test_pain001_version_names() -> None:
    assert pain001_version("03") == "pain.001.001.03"
    assert pain001_version("09") == "pain.001.001.09"
    assert pain001_version("pain.001.001.09") == "pain.001.001.09"


def test_settlement_day_is_monday_or_the_next_banking_day() -> None:
    assert settlement_day(date(2026, 11, 28)) == date(2026, 11, 23)
    assert is_settlement_day(date(2026, 11, 30))
    assert not is_settlement_day(date(2026, 12, 1))
    # Easter Monday 2027 → Tuesday; Christmas Eve and Day 2029 (Mon, Tue) → Thursday
    # (Boxing Day, Wednesday, is a holiday too).
    assert settlement_day(date(2027, 3, 29)) == date(2027, 3, 30)
    assert settlement_day(date(2029, 12, 24)) == date(2029, 12, 27)
    assert is_settlement_day(date(2029, 12, 27))
