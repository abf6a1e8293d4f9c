"""Pure transfer rules of the dossier service: which items may be transferred (F-27) and
how an agency payment lowers an item."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from relance_dossier.domain.accounts import DomainError
from relance_dossier.domain.transfers import (
    CandidateItem,
    check_follow_up_date,
    check_transfer_selection,
    payment_applied,
)


def test_agency_payment_lowers_open_amount_never_below_zero():
    assert payment_applied(Decimal("500.00"), Decimal("120.50")) == (Decimal("120.50"), Decimal("379.50"))
    assert payment_applied(Decimal("100.00"), Decimal("150.00")) == (Decimal("100.00"), Decimal("0.00"))
    assert payment_applied(Decimal("0.00"), Decimal("10.00")) == (Decimal("0"), Decimal("0.00"))


def _candidate(number: str, *, active: bool = True, open_amount: str = "100.00") -> CandidateItem:
    return CandidateItem(item_id=uuid4(), number=number, open_amount=Decimal(open_amount),
                         in_active_dossier=active)


def test_f27_open_items_of_the_active_dossier_may_be_transferred():
    a, b = _candidate("F-1"), _candidate("F-2")
    check_transfer_selection([a.item_id, b.item_id], {a.item_id: a, b.item_id: b})


def test_f27_item_already_transferred_is_refused_naming_its_index_and_number():
    a, b = _candidate("F-1"), _candidate("F-2", active=False)
    with pytest.raises(DomainError) as error:
        check_transfer_selection([a.item_id, b.item_id], {a.item_id: a, b.item_id: b})
    assert error.value.field == "item_ids.1"
    assert "F-2" in error.value.reason and "active dossier" in error.value.reason


def test_f27_unknown_settled_and_duplicate_items_are_refused():
    a, settled = _candidate("F-1"), _candidate("F-3", open_amount="0.00")
    with pytest.raises(DomainError) as unknown:
        check_transfer_selection([uuid4()], {})
    assert unknown.value.field == "item_ids.0"
    with pytest.raises(DomainError) as zero:
        check_transfer_selection([settled.item_id], {settled.item_id: settled})
    assert "settled" in zero.value.reason
    with pytest.raises(DomainError) as twice:
        check_transfer_selection([a.item_id, a.item_id], {a.item_id: a})
    assert twice.value.field == "item_ids.1"
    with pytest.raises(DomainError) as empty:
        check_transfer_selection([], {})
    assert empty.value.field == "item_ids"


def test_f27_next_follow_up_date_must_not_be_in_the_past():
    check_follow_up_date(date(2026, 11, 23), date(2026, 11, 23))
    with pytest.raises(DomainError) as error:
        check_follow_up_date(date(2026, 11, 22), date(2026, 11, 23))
    assert error.value.field == "next_follow_up_date"


def test_f37_an_item_of_an_active_payment_plan_is_not_transferred() -> None:
    item = CandidateItem(item_id=uuid4(), number="F-9", open_amount=Decimal("10.00"),
                         in_active_dossier=True, in_plan=True)
    with pytest.raises(DomainError) as refused:
        check_transfer_selection([item.item_id], {item.item_id: item})
    assert refused.value.field == "item_ids.0" and "payment plan" in refused.value.reason
