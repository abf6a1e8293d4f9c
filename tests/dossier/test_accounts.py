"""Rules on client accounts: the outstanding balance (F-1), settled items (F-2), one
default validated channel per type (F-21) and item open amounts."""

from decimal import Decimal

import pytest

from relance_dossier.domain.accounts import (
    DomainError,
    ItemAmounts,
    check_one_default_per_type,
    check_open_amount,
    is_settled,
    outstanding_balance,
)


def amounts(*pairs: tuple[str, str]) -> list[ItemAmounts]:
    return [ItemAmounts(kind=kind, open_amount=Decimal(value)) for kind, value in pairs]


# ---- F-1 outstanding balance -------------------------------------------------------------


def test_f1_balance_is_the_sum_of_open_invoices() -> None:
    items = amounts(("invoice", "1200.00"), ("invoice", "845.50"), ("invoice", "54.49"))
    assert outstanding_balance(items) == Decimal("2099.99")


def test_f1_credit_notes_and_payments_reduce_the_balance() -> None:
    items = amounts(
        ("invoice", "1000.00"),
        ("invoice", "500.00"),
        ("credit_note", "200.00"),
        ("payment", "150.25"),
    )
    assert outstanding_balance(items) == Decimal("1149.75")


def test_f1_settled_items_do_not_count() -> None:
    items = amounts(("invoice", "300.00"), ("invoice", "0.00"), ("credit_note", "0.00"))
    assert outstanding_balance(items) == Decimal("300.00")


def test_f1_balance_is_negative_when_the_client_is_owed_money() -> None:
    items = amounts(("invoice", "100.00"), ("credit_note", "250.00"))
    assert outstanding_balance(items) == Decimal("-150.00")


def test_f1_account_without_items_has_a_zero_balance_in_cents() -> None:
    balance = outstanding_balance([])
    assert balance == 0
    assert balance.as_tuple().exponent == -2  # shown as 0.00, not 0


def test_f1_balance_has_no_floating_point_drift() -> None:
    items = amounts(*[("invoice", "0.10")] * 10, ("payment", "0.30"))
    assert outstanding_balance(items) == Decimal("0.70")


# ---- F-2 settled items -----------------------------------------------------------------


@pytest.mark.parametrize("open_amount", ["0", "0.00"])
def test_f2_item_with_open_amount_zero_is_settled(open_amount: str) -> None:
    assert is_settled(Decimal(open_amount))


@pytest.mark.parametrize("open_amount", ["0.01", "1200.00"])
def test_f2_item_with_something_left_to_pay_is_not_settled(open_amount: str) -> None:
    assert not is_settled(Decimal(open_amount))


# ---- F-21 one default validated channel per type ---------------------------------------


def _paths(prefix: str, channels: list[tuple[str, bool, str]]) -> list[tuple[str, str, bool, str]]:
    return [(f"{prefix}.{i}", t, d, s) for i, (t, d, s) in enumerate(channels)]


def test_f21_one_validated_default_per_type_is_accepted() -> None:
    check_one_default_per_type(_paths("contacts.0.channels", [
        ("email", False, "pending"),
        ("email", True, "validated"),
        ("email", False, "invalid"),
        ("phone", True, "validated"),
        ("postal", True, "validated"),
        ("postal", False, "validated"),
    ]))


def test_f21_channels_without_any_default_are_accepted() -> None:
    check_one_default_per_type(_paths("contacts.0.channels", [
        ("email", False, "pending"), ("email", False, "validated"), ("phone", False, "invalid"),
    ]))


def test_f21_second_default_of_the_same_type_is_rejected_and_its_path_named() -> None:
    channels = _paths("contacts.0.channels", [
        ("email", True, "validated"),
        ("phone", True, "validated"),
        ("email", True, "validated"),
    ])
    with pytest.raises(DomainError) as raised:
        check_one_default_per_type(channels)

    error = raised.value
    assert error.field == "contacts.0.channels.2.is_default"  # the second default email
    assert "email" in error.reason and "default" in error.reason


def test_f21_a_second_default_on_another_contact_is_named_by_its_own_path() -> None:
    channels = _paths("contacts.0.channels", [("email", True, "validated")]) + _paths(
        "contacts.1.channels", [("phone", False, "pending"), ("email", True, "validated")]
    )
    with pytest.raises(DomainError) as raised:
        check_one_default_per_type(channels)

    assert raised.value.field == "contacts.1.channels.1.is_default"


@pytest.mark.parametrize("state", ["pending", "invalid"])
def test_f21_a_default_channel_must_be_validated(state: str) -> None:
    channels = _paths("contacts.3.channels", [("phone", False, "validated"), ("email", True, state)])
    with pytest.raises(DomainError) as raised:
        check_one_default_per_type(channels)

    error = raised.value
    assert error.field == "contacts.3.channels.1.is_default"
    assert "validated" in error.reason


def test_f21_channels_can_be_given_as_a_generator() -> None:
    channels = (c for c in _paths("contacts.0.channels", [("email", True, "validated"), ("email", True, "validated")]))
    with pytest.raises(DomainError):
        check_one_default_per_type(channels)


def test_domain_error_is_a_value_error_carrying_field_and_reason() -> None:
    error = DomainError("items.0.open_amount", "must not be negative")
    assert isinstance(error, ValueError)
    assert (error.field, error.reason) == ("items.0.open_amount", "must not be negative")
    assert "items.0.open_amount" in str(error) and "must not be negative" in str(error)


# ---- item open amount ------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "open_amount"), [("100.00", "100.00"), ("100.00", "0"), ("100.00", "0.01")])
def test_f2_open_amount_between_zero_and_the_amount_is_accepted(amount: str, open_amount: str) -> None:
    check_open_amount(Decimal(amount), Decimal(open_amount), "items.0")


def test_f2_open_amount_above_the_amount_is_rejected() -> None:
    with pytest.raises(DomainError) as raised:
        check_open_amount(Decimal("100.00"), Decimal("100.01"), "items.4")
    assert raised.value.field == "items.4.open_amount"
    assert "exceed" in raised.value.reason


def test_f2_negative_open_amount_is_rejected() -> None:
    with pytest.raises(DomainError) as raised:
        check_open_amount(Decimal("100.00"), Decimal("-0.01"), "items.1")
    assert raised.value.field == "items.1.open_amount"
    assert "negative" in raised.value.reason
