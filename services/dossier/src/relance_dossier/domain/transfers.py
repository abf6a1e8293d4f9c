"""Pure rules for creating a transfer to a collection agency (F-27) and for the agency's
payments on it: no I/O."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from relance_dossier.domain.accounts import DomainError


@dataclass(frozen=True)
class CandidateItem:
    """An item as found for the client, with the dossier holding it."""

    item_id: UUID
    number: str
    open_amount: Decimal
    in_active_dossier: bool
    in_plan: bool = False  # F-37: covered by an active payment plan


def check_transfer_selection(
    requested: list[UUID], found: dict[UUID, CandidateItem]
) -> None:
    """F-27: every selected item is one of the client's open items, held by its active
    dossier (not already transferred), selected once. The first fault names its index."""
    if not requested:
        raise DomainError("item_ids", "select at least one item")
    seen: set[UUID] = set()
    for index, item_id in enumerate(requested):
        field = f"item_ids.{index}"
        if item_id in seen:
            raise DomainError(field, f"item {item_id} is selected twice")
        seen.add(item_id)
        item = found.get(item_id)
        if item is None:
            raise DomainError(field, f"no item {item_id} on this client's account")
        if not item.in_active_dossier:
            raise DomainError(
                field, f"item {item.number} is not in the active dossier (already transferred)"
            )
        if item.open_amount == 0:
            raise DomainError(field, f"item {item.number} is settled (open amount 0)")
        if item.in_plan:
            raise DomainError(field, f"item {item.number} is in an active payment plan"
                                     " (cancel the plan first, F-37)")


def check_follow_up_date(next_follow_up_date: date, today: date) -> None:
    if next_follow_up_date < today:
        raise DomainError("next_follow_up_date", "must not be in the past")


def payment_applied(open_amount: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """An agency payment lowers the item's open amount, never below zero: returns
    (amount applied, new open amount)."""
    applied = max(Decimal(0), min(open_amount, amount))
    return applied, open_amount - applied
@dataclass(frozen=True)
class RegisteredAgency:
    """An agency as the transfer gateway, which owns the agencies registry, answers it."""

    code: str
    name: str
    active: bool


def check_transfer_agency(agency_code: str, agency: RegisteredAgency | None) -> None:
    """F-27, F-31: a transfer goes to an agency registered with the transfer gateway and
    active there (`agency` is None when the gateway does not know the code)."""
    if agency is None:
        raise DomainError("agency_code", f"no agency {agency_code!r} is registered")
    if not agency.active:
        raise DomainError("agency_code", f"agency {agency_code!r} is not active")
