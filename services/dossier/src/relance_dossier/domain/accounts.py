"""Pure rules on client accounts and their items (F-1, F-2, F-21)."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


class DomainError(ValueError):
    """A business rule was broken; `field` names the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ItemAmounts:
    kind: str
    open_amount: Decimal


def signed_open_amount(kind: str, open_amount: Decimal) -> Decimal:
    """Invoices and fees (F-38) are owed by the client; credit notes and payments are owed
    to it."""
    return open_amount if kind in ("invoice", "fee") else -open_amount


def outstanding_balance(items: Iterable[ItemAmounts]) -> Decimal:
    """F-1: the balance is derived from the open items, never stored."""
    return sum((signed_open_amount(i.kind, i.open_amount) for i in items), Decimal("0.00"))


def is_settled(open_amount: Decimal) -> bool:
    """F-2: an item with open amount 0 is settled."""
    return open_amount == 0


def check_one_default_per_type(channels: Iterable[tuple[str, str, bool, str]]) -> None:
    """F-21: among a client's channels of one type at most one is the default, and only a
    validated channel can be it.

    `channels` are (path, type, is_default, state); an error names the offending path."""
    seen: set[str] = set()
    for path, channel_type, is_default, state in channels:
        if not is_default:
            continue
        if state != "validated":
            raise DomainError(f"{path}.is_default", "only a validated channel can be the default")
        if channel_type in seen:
            raise DomainError(f"{path}.is_default", f"a default {channel_type} channel already exists")
        seen.add(channel_type)


def check_open_amount(amount: Decimal, open_amount: Decimal, field: str) -> None:
    if open_amount < 0:
        raise DomainError(f"{field}.open_amount", "must not be negative")
    if open_amount > amount:
        raise DomainError(f"{field}.open_amount", "must not exceed the amount")
