"""Pure rules on contact channels: the state machine pending / validated /
validated+default / invalid (F-21, F-22)."""

import pytest

from relance_dossier.domain.accounts import DomainError
from relance_dossier.domain.contacts import (
    ChannelAction,
    ChannelStatus,
    ChannelTransitionRefused,
    apply_channel_action,
    check_channel_value,
    check_new_channel,
    status_after_value_change,
)

PENDING = ChannelStatus("pending")
VALIDATED = ChannelStatus("validated")
DEFAULT = ChannelStatus("validated", is_default=True)
INVALID = ChannelStatus("invalid")


@pytest.mark.parametrize(
    ("before", "action", "after"),
    [
        (PENDING, ChannelAction.VALIDATE, VALIDATED),
        (INVALID, ChannelAction.VALIDATE, VALIDATED),
        (PENDING, ChannelAction.INVALIDATE, INVALID),
        (VALIDATED, ChannelAction.INVALIDATE, INVALID),
        (DEFAULT, ChannelAction.INVALIDATE, INVALID),
        (VALIDATED, ChannelAction.CANCEL_VALIDATION, PENDING),
        (DEFAULT, ChannelAction.CANCEL_VALIDATION, PENDING),
        (VALIDATED, ChannelAction.MAKE_DEFAULT, DEFAULT),
        (DEFAULT, ChannelAction.MAKE_DEFAULT, DEFAULT),
    ],
)
def test_f21_f22_allowed_channel_transitions(before, action, after) -> None:
    assert apply_channel_action(before, action) == after


def test_f21_invalidating_or_cancelling_the_default_removes_its_default_flag() -> None:
    assert apply_channel_action(DEFAULT, ChannelAction.INVALIDATE).is_default is False
    assert apply_channel_action(DEFAULT, ChannelAction.CANCEL_VALIDATION).is_default is False
    assert DEFAULT.label == "validated+default"
    assert PENDING.label == "pending"


@pytest.mark.parametrize(
    ("before", "action", "reason_part"),
    [
        (VALIDATED, ChannelAction.VALIDATE, "already validated"),
        (DEFAULT, ChannelAction.VALIDATE, "already validated"),
        (INVALID, ChannelAction.INVALIDATE, "already invalid"),
        (PENDING, ChannelAction.CANCEL_VALIDATION, "(it is pending)"),
        (INVALID, ChannelAction.CANCEL_VALIDATION, "(it is invalid)"),
        (PENDING, ChannelAction.MAKE_DEFAULT, "only a validated channel can be the default"),
        (INVALID, ChannelAction.MAKE_DEFAULT, "only a validated channel can be the default"),
    ],
)
def test_f21_f22_refused_channel_transitions_name_the_reason(before, action, reason_part) -> None:
    with pytest.raises(ChannelTransitionRefused) as refused:
        apply_channel_action(before, action)
    assert refused.value.field == "state"
    assert reason_part in refused.value.reason


def test_f21_a_new_value_is_pending_again_and_loses_the_default() -> None:
    assert status_after_value_change(DEFAULT, "a@acme.fr", "b@acme.fr") == PENDING
    assert status_after_value_change(INVALID, "01 02", "03 04 05 06 07") == PENDING


def test_f21_rewriting_the_same_value_keeps_the_status() -> None:
    assert status_after_value_change(DEFAULT, "a@acme.fr", "  a@acme.fr ") == DEFAULT
    assert status_after_value_change(VALIDATED, "12 rue  Neuve", "12 rue Neuve") == VALIDATED


def test_f21_only_a_validated_new_channel_may_be_the_default() -> None:
    check_new_channel("validated", True)
    check_new_channel("pending", False)
    with pytest.raises(DomainError) as error:
        check_new_channel("pending", True, "channels.1")
    assert error.value.field == "channels.1.is_default"


@pytest.mark.parametrize(
    ("channel_type", "value"),
    [("email", "compta@acme.fr"), ("phone", "+33 1 23 45 67 89"), ("phone", "(01) 23-45-67-89"),
     ("postal", "12 rue Neuve, 69001 Lyon")],
)
def test_f21_plausible_channel_values_pass(channel_type, value) -> None:
    check_channel_value(channel_type, value)


@pytest.mark.parametrize(
    ("channel_type", "value", "reason"),
    [("email", "compta.acme.fr", "is not an email address"),
     ("email", "compta@acme", "is not an email address"),
     ("phone", "call me", "is not a phone number"),
     ("phone", "12", "is not a phone number"),
     ("postal", "   ", "must not be blank")],
)
def test_f21_unusable_channel_values_are_refused_naming_the_field(channel_type, value, reason) -> None:
    with pytest.raises(DomainError) as error:
        check_channel_value(channel_type, value, "channels.0")
    assert error.value.field == "channels.0.value"
    assert error.value.reason == reason
