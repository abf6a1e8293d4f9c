"""Pure rules of automatic assignment (F-6) and of the pasted list of client codes (F-5)."""

from uuid import uuid4

import pytest
from pydantic import ValidationError

from relance_dossier.domain.assignment import (
    AssignmentRule,
    ClientAttributes,
    ClientCriteria,
    RuleCriteria,
    choose_collector,
    parse_client_codes,
    rule_matches,
)

ALICE, BOB, DEFAULT = uuid4(), uuid4(), uuid4()


def client(country="FR", segment="SME", category="B2B", risk="low", tags=("transport",)) -> ClientAttributes:
    return ClientAttributes(country=country, segment=segment, category=category, risk=risk, tags=tags)


def test_f6_rule_matches_when_every_criterion_it_sets_matches_ignoring_case() -> None:
    assert rule_matches(RuleCriteria(country="fr", segment=" sme "), client())
    assert not rule_matches(RuleCriteria(country="FR", segment="Key account"), client())
    assert not rule_matches(RuleCriteria(risk="high"), client(risk=None))


def test_f6_rule_tags_must_all_be_on_the_client() -> None:
    tagged = client(tags=("Transport", "export"))
    assert rule_matches(RuleCriteria(tags=["transport"]), tagged)
    assert rule_matches(RuleCriteria(tags=["EXPORT", "transport"]), tagged)
    assert not rule_matches(RuleCriteria(tags=["transport", "public"]), tagged)


def test_f6_first_matching_rule_in_order_wins_whatever_the_list_order() -> None:
    rules = [
        AssignmentRule(2, RuleCriteria(country="FR"), BOB),
        AssignmentRule(1, RuleCriteria(segment="SME", country="FR"), ALICE),
    ]
    choice = choose_collector(client(), rules, DEFAULT)
    assert choice is not None
    assert choice.collector_id == ALICE
    assert "rule 1" in choice.reason
    assert choose_collector(client(segment="Large"), rules, DEFAULT).collector_id == BOB


def test_f6_default_collector_when_no_rule_matches_and_nobody_without_default() -> None:
    rules = [AssignmentRule(1, RuleCriteria(country="DE"), BOB)]
    choice = choose_collector(client(), rules, DEFAULT)
    assert choice is not None and choice.collector_id == DEFAULT
    assert "default collector" in choice.reason
    assert choose_collector(client(), rules, None) is None


def test_f6_blank_criteria_count_as_unset_and_unknown_fields_are_refused() -> None:
    assert RuleCriteria(country="  ", tags=[]).is_empty()
    assert not RuleCriteria(risk="high").is_empty()
    with pytest.raises(ValidationError, match="tags must not be blank"):
        RuleCriteria(tags=["ok", " "])
    with pytest.raises(ValidationError, match="colour"):
        RuleCriteria.model_validate({"colour": "red"})


def test_f5_search_criteria_include_the_assignment_state() -> None:
    assert ClientCriteria().is_empty()
    assert not ClientCriteria(has_collector=False).is_empty()
    assert not ClientCriteria(balance_nonzero=True).is_empty()
    assert not ClientCriteria(collector_code="ALICE").is_empty()


@pytest.mark.parametrize(
    "pasted",
    [
        "C001\nC002\nC003",                 # a spreadsheet column
        "C001\r\nC002\r\n\r\nC003\r\n",     # the same, copied on Windows, with a blank row
        "C001\tC002\tC003",                 # a spreadsheet row
        "C001, C002; C003",                 # typed by hand
        '"C001"\n"C002"\n"C003"',           # quoted cells
        "C001 C002 C001 C003",              # a duplicate is kept once
    ],
)
def test_f5_pasted_client_codes_are_split_on_any_separator(pasted: str) -> None:
    assert parse_client_codes(pasted) == ["C001", "C002", "C003"]


def test_f5_pasted_codes_also_come_as_a_list_and_keep_their_order() -> None:
    assert parse_client_codes(["Z9", "A1\nB2", "Z9"]) == ["Z9", "A1", "B2"]
    assert parse_client_codes(" ,;\n ") == []


def test_f43_balance_thresholds_compare_each_currency_with_its_own_balance() -> None:
    from decimal import Decimal

    big = RuleCriteria(balance_over={"eur": Decimal("1000"), "USD": Decimal("1400")})
    assert big.balance_over == {"EUR": Decimal("1000"), "USD": Decimal("1400")}
    assert not big.is_empty()
    owing = ClientAttributes("FR", "SME", "B2B", "low", (), {"EUR": Decimal("1000.01")})
    assert rule_matches(big, owing)
    # 900 EUR and 500 USD: under both thresholds, whatever their sum.
    mixed = ClientAttributes("FR", "SME", "B2B", "low", (), {"EUR": Decimal("900"), "USD": Decimal("500")})
    assert not rule_matches(big, mixed)
    # Exactly the threshold is not over it; a currency the rule does not name never matches.
    assert not rule_matches(big, ClientAttributes("FR", None, None, None, (), {"EUR": Decimal("1000")}))
    assert not rule_matches(big, ClientAttributes("FR", None, None, None, (), {"GBP": Decimal("9999")}))
    assert not rule_matches(RuleCriteria(country="FR", balance_over={"EUR": Decimal(0)}), client())
    with pytest.raises(ValidationError, match="not a currency code"):
        RuleCriteria(balance_over={"euro": Decimal(1)})
    with pytest.raises(ValidationError, match="zero or more"):
        RuleCriteria(balance_over={"EUR": Decimal(-1)})
