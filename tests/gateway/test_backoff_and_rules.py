"""F-31: webhook retries back off exponentially with jitter (relance.retry) and end in a
dead letter; credentials keep two active secrets; an agency's answers follow the placement's state."""

import pytest

from relance.retry import backoff_delay
from relance_gateway.domain import placements as rules
from relance_gateway.domain.backoff import is_exhausted, is_success
from relance_gateway.domain.credentials import (
    api_key_sha256,
    new_api_key,
    new_signing_secret,
    secrets_to_revoke,
)


def test_f31_backoff_cap_doubles_per_attempt_up_to_the_maximum():
    caps = [backoff_delay(n, base=2, cap=60, jitter=True, rand=lambda: 1.0) for n in range(1, 8)]
    assert caps == [2, 4, 8, 16, 32, 60, 60]


def test_f31_backoff_uses_full_jitter_below_the_cap():
    assert backoff_delay(3, base=2, cap=60, jitter=True, rand=lambda: 0.25) == 2.0
    assert backoff_delay(3, base=2, cap=60, jitter=True, rand=lambda: 0.0) == 0.0


def test_f31_dead_letter_after_the_configured_attempts():
    assert not is_exhausted(4, 5)
    assert is_exhausted(5, 5)


@pytest.mark.parametrize(("code", "ok"), [(200, True), (204, True), (301, False), (429, False), (500, False)])
def test_only_2xx_counts_as_delivered(code, ok):
    assert is_success(code) is ok


def test_f31_rotation_keeps_the_two_newest_secrets():
    assert secrets_to_revoke(["c", "b", "a"]) == ["a"]
    assert secrets_to_revoke(["b", "a"]) == []


def test_credentials_are_random_and_only_hashes_compare():
    assert new_api_key() != new_api_key()
    assert new_signing_secret().startswith("whsec_")
    key = new_api_key()
    assert api_key_sha256(key) == api_key_sha256(key) != key


def placed(acknowledged=False):
    return rules.PlacementState(rules.PLACED, acknowledged)


def requested(acknowledged=True):
    return rules.PlacementState(rules.CANCELLATION_REQUESTED, acknowledged)


CANCELLED = rules.PlacementState(rules.CANCELLED, True)


def test_f29_validation_and_refusal_need_a_pending_cancellation_request():
    assert rules.validate_cancellation(requested()) == rules.CANCELLED
    assert rules.refuse_cancellation(requested()) == rules.PLACED
    for check in (rules.validate_cancellation, rules.refuse_cancellation):
        with pytest.raises(rules.TransitionRefused, match="no cancellation request"):
            check(placed())


def test_f31_a_placement_is_acknowledged_once_even_after_a_cancellation_request():
    assert rules.acknowledge(placed()) == rules.PLACED
    assert rules.acknowledge(requested(acknowledged=False)) == rules.CANCELLATION_REQUESTED
    with pytest.raises(rules.TransitionRefused, match="already acknowledged"):
        rules.acknowledge(placed(acknowledged=True))


def test_f31_nothing_is_accepted_on_a_cancelled_transfer():
    for check in (rules.acknowledge, rules.record_payment, rules.update_status,
                  rules.validate_cancellation, rules.refuse_cancellation):
        with pytest.raises(rules.TransitionRefused):
            check(CANCELLED)


def test_f31_signing_secrets_are_stored_encrypted_and_read_back():
    from relance_gateway.domain.secret_box import SecretBox, SecretUnreadable

    key = SecretBox.new_key()
    box = SecretBox([key])
    stored = box.seal("whsec_abc")
    assert "whsec_abc" not in stored and stored.startswith("fernet:")
    assert box.open(stored) == "whsec_abc"
    # The encryption key rotates: a new first key encrypts, the old one still decrypts.
    rotated = SecretBox([SecretBox.new_key(), key])
    assert rotated.open(stored) == "whsec_abc"
    with pytest.raises(SecretUnreadable):
        SecretBox([SecretBox.new_key()]).open(stored)
    assert box.open("whsec_plain_from_before") == "whsec_plain_from_before"


ITEMS = [{"number": "INV-1", "currency": "EUR"}, {"number": "CN-1", "currency": "GBP"}]


def test_f31_a_payment_in_the_items_currency_on_one_of_its_items_is_accepted():
    assert rules.payment_problem(ITEMS, "INV-1", "EUR") is None
    assert rules.payment_problem(ITEMS, "CN-1", "GBP") is None


def test_f31_a_payment_in_another_currency_than_its_item_is_refused_naming_the_field():
    field, reason = rules.payment_problem(ITEMS, "INV-1", "USD")
    assert field == "currency" and "INV-1 is in EUR, not USD" in reason
    assert rules.payment_problem(ITEMS, "INV-9", "EUR")[0] == "item_number"
