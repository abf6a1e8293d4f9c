"""Choice of the recipient among the client's contact channels (F-21, F-32)."""

import pytest

from relance_notifier.domain.contacts import ContactChannel, choose_recipient, contact_type_for


def ch(type_: str, value: str, state: str = "validated", default: bool = False) -> ContactChannel:
    return ContactChannel(type=type_, value=value, state=state, is_default=default)


@pytest.mark.parametrize(
    ("channel", "contact_type"),
    [("email", "email"), ("sms", "phone"), ("letter", "postal"), ("internal_email", None)],
)
def test_f21_channel_maps_to_a_contact_type(channel: str, contact_type: str | None) -> None:
    assert contact_type_for(channel) == contact_type


def test_f21_automatic_email_goes_to_the_default_validated_email() -> None:
    channels = [
        ch("email", "other@acme.test", "validated", default=False),
        ch("email", "compta@acme.test", "validated", default=True),
        ch("phone", "+33100000000", "validated", default=True),
    ]
    chosen = choose_recipient(channels, "email")
    assert chosen is not None and chosen.value == "compta@acme.test"


def test_f21_validated_but_not_default_is_not_used() -> None:
    assert choose_recipient([ch("email", "a@acme.test", "validated")], "email") is None


def test_f21_pending_channel_is_never_used() -> None:
    # A pending default cannot exist in the schema; the rule holds even if it did.
    assert choose_recipient([ch("email", "a@acme.test", "pending", default=True)], "email") is None


def test_f21_invalid_channel_is_never_used() -> None:
    assert choose_recipient([ch("email", "a@acme.test", "invalid", default=True)], "email") is None


def test_f21_channel_of_another_type_is_not_used() -> None:
    assert choose_recipient([ch("phone", "+33100000000", default=True)], "email") is None


def test_f21_sms_goes_to_the_default_validated_phone() -> None:
    chosen = choose_recipient([ch("phone", "+33100000000", default=True)], "sms")
    assert chosen is not None and chosen.value == "+33100000000"


def test_f21_several_defaults_are_ambiguous_and_nobody_is_contacted() -> None:
    channels = [ch("email", "a@acme.test", default=True), ch("email", "b@acme.test", default=True)]
    assert choose_recipient(channels, "email") is None


def test_f21_blank_value_is_not_a_recipient() -> None:
    assert choose_recipient([ch("email", "  ", default=True)], "email") is None


def test_f21_no_channel_at_all() -> None:
    assert choose_recipient([], "email") is None
