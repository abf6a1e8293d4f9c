"""Pure rules of client selection and collector assignment (F-5, F-6). No I/O here."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

_CURRENCY = re.compile(r"[A-Z]{3}")


def _same(a: str | None, b: str | None) -> bool:
    """Attribute values compare without regard to case or surrounding blanks, as a
    collector typing "fr" means the country "FR"."""
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


class RuleCriteria(BaseModel):
    """What an assignment rule looks at: the client's own attributes (F-6). A rule
    matches when every criterion it sets matches; `tags` must all be on the client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str | None = Field(default=None, max_length=100)
    segment: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    risk: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list)
    balance_over: dict[str, Decimal] = Field(
        default_factory=dict,
        description="F-43: thresholds by currency, e.g. {\"EUR\": 1000, \"USD\": 1100}. The rule "
                    "matches a client owing more than the threshold in one of these currencies, "
                    "each compared with what the client owes in that currency, never converted.",
        examples=[{"EUR": "1000", "USD": "1100"}],
    )

    @field_validator("country", "segment", "category", "risk", mode="after")
    @classmethod
    def _blank_means_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("tags", mode="after")
    @classmethod
    def _no_blank_tags(cls, tags: list[str]) -> list[str]:
        if any(not tag.strip() for tag in tags):
            raise ValueError("tags must not be blank")
        return [tag.strip() for tag in tags]

    @field_validator("balance_over", mode="after")
    @classmethod
    def _currency_codes(cls, thresholds: dict[str, Decimal]) -> dict[str, Decimal]:
        normalised: dict[str, Decimal] = {}
        for currency, amount in thresholds.items():
            code = currency.strip().upper()
            if not _CURRENCY.fullmatch(code):
                raise ValueError(f"{currency!r} is not a currency code (three letters, e.g. EUR)")
            if amount < 0 or not amount.is_finite():
                raise ValueError(f"the threshold in {code} must be zero or more")
            normalised[code] = amount
        return normalised

    def is_empty(self) -> bool:
        return not (self.country or self.segment or self.category or self.risk or self.tags
                    or self.balance_over)


class ClientCriteria(RuleCriteria):
    """Search criteria (F-5): a rule's attributes plus the assignment state and balance."""

    collector_code: str | None = Field(default=None, max_length=100)
    has_collector: bool | None = None
    balance_nonzero: bool | None = None

    def is_empty(self) -> bool:
        return super().is_empty() and not (
            self.collector_code or self.has_collector is not None or self.balance_nonzero is not None
        )


@dataclass(frozen=True)
class ClientAttributes:
    country: str | None
    segment: str | None
    category: str | None
    risk: str | None
    tags: Sequence[str]
    # F-43: what the client owes in each currency of its open items. Only read by rules
    # with balance thresholds, so callers load it only for them.
    balances: Mapping[str, Decimal] = field(default_factory=dict)


def needs_balances(criteria: Sequence[RuleCriteria]) -> bool:
    return any(c.balance_over for c in criteria)


@dataclass(frozen=True)
class AssignmentRule:
    position: int
    criteria: RuleCriteria
    collector_id: UUID


@dataclass(frozen=True)
class AssignmentChoice:
    collector_id: UUID
    reason: str  # said in the audit entry: which rule, or the default collector


def rule_matches(criteria: RuleCriteria, client: ClientAttributes) -> bool:
    """F-6: every criterion the rule sets must match the client."""
    for wanted, actual in (
        (criteria.country, client.country),
        (criteria.segment, client.segment),
        (criteria.category, client.category),
        (criteria.risk, client.risk),
    ):
        if wanted is not None and not _same(wanted, actual):
            return False
    client_tags = {tag.strip().casefold() for tag in client.tags}
    if not all(tag.casefold() in client_tags for tag in criteria.tags):
        return False
    # F-43: "balance over 1,000" is read in the client's currency: each threshold against
    # what the client owes in that same currency.
    return not criteria.balance_over or any(
        client.balances.get(currency, Decimal(0)) > threshold
        for currency, threshold in criteria.balance_over.items()
    )


def choose_collector(
    client: ClientAttributes, rules: Sequence[AssignmentRule], default_collector_id: UUID | None
) -> AssignmentChoice | None:
    """F-6: the first matching rule in order wins; otherwise the default collector;
    otherwise nobody (the client then shows in the F-7 alert if it owes something)."""
    for rule in sorted(rules, key=lambda r: r.position):
        if rule_matches(rule.criteria, client):
            return AssignmentChoice(rule.collector_id, f"automatic assignment: rule {rule.position}")
    if default_collector_id is not None:
        return AssignmentChoice(default_collector_id, "automatic assignment: default collector")
    return None


_CODE_SEPARATORS = re.compile(r"[\s,;]+")


def parse_client_codes(pasted: str | Sequence[str]) -> list[str]:
    """F-5: client codes pasted from a spreadsheet column or row, separated by new lines,
    tabs, commas, semicolons or spaces (quotes a spreadsheet may add are dropped).
    Duplicates are kept once, in the order given."""
    chunks = [pasted] if isinstance(pasted, str) else list(pasted)
    codes: dict[str, None] = {}
    for chunk in chunks:
        for token in _CODE_SEPARATORS.split(chunk):
            code = token.strip().strip("\"'")
            if code:
                codes.setdefault(code, None)
    return list(codes)
