"""Recipient choice per channel: SMS, letter, manual choice of a channel value, internal
emails to a colleague (F-16, F-21, F-32)."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

from relance.events import CommunicationItem, CommunicationRequested
from relance_notifier.domain.communication import (
    FAILED,
    INVALID_COLLEAGUE_EMAIL,
    NEEDS_ATTENTION,
    Deliver,
    Reject,
    decide,
)
from relance_notifier.domain.contacts import ContactChannel, find_named_channel
from relance_notifier.domain.formatting import NBSP
from relance_notifier.domain.rendering import Template

ALL = {"email", "internal_email", "sms", "letter"}
TEMPLATE = Template(code="T", channel="any", subject="Relance {{ client.name }}",
                    body="À {{ contact.value }} : #items_amount_selected")
ITEMS = [
    CommunicationItem(number="FA-1", kind="invoice", due_date=date(2025, 3, 31),
                      amount=Decimal("1500"), open_amount=Decimal("1500"), currency="EUR",
                      status="dispute", status_comment="Livraison incomplète"),
    CommunicationItem(number="FA-2", kind="invoice", due_date=date(2025, 4, 30),
                      amount=Decimal("99.9"), open_amount=Decimal("99.9"), currency="EUR"),
]
PHONE = ContactChannel(type="phone", value="+33 6 12 34 56 78", state="validated",
                       is_default=True)
OTHER_PHONE = ContactChannel(type="phone", value="06 99 99 99 99", state="pending", is_default=False)
BAD_PHONE = ContactChannel(type="phone", value="06 00 00 00 00", state="invalid", is_default=False)
POSTAL = ContactChannel(type="postal", value="12 rue de la Paix\n75002 Paris", state="validated",
                        is_default=True)
EMAIL = ContactChannel(type="email", value="compta@acme.test", state="validated", is_default=True)


def command(channel: str, **fields) -> CommunicationRequested:
    return CommunicationRequested(
        communication_id=uuid4(), client_id=uuid4(), client_code="C001", client_name="ACME",
        channel=channel, template_code="T", items=ITEMS, **fields,
    )


def test_f21_f32_sms_goes_to_the_default_validated_phone() -> None:
    decision = decide(command("sms"), channels=[OTHER_PHONE, PHONE, EMAIL], template=TEMPLATE,
                      supported_channels=ALL)
    assert decision == Deliver(
        recipient="+33 6 12 34 56 78", subject="Relance ACME",
        body=f"À +33 6 12 34 56 78 : 1{NBSP}599,90{NBSP}€",
    )


def test_f21_f32_letter_goes_to_the_default_validated_postal_address() -> None:
    decision = decide(command("letter"), channels=[EMAIL, POSTAL], template=TEMPLATE,
                      supported_channels=ALL)
    assert isinstance(decision, Deliver)
    assert decision.recipient == "12 rue de la Paix\n75002 Paris"


def test_f21_sms_without_a_default_validated_phone_needs_attention() -> None:
    decision = decide(command("sms"), channels=[OTHER_PHONE, BAD_PHONE, EMAIL],
                      template=TEMPLATE, supported_channels=ALL)
    assert decision == Reject(status=NEEDS_ATTENTION, reason="no default validated phone channel",
                              needs_attention=True)


def test_f21_letter_without_a_postal_address_needs_attention() -> None:
    decision = decide(command("letter"), channels=[EMAIL, PHONE], template=TEMPLATE,
                      supported_channels=ALL)
    assert isinstance(decision, Reject) and decision.status == NEEDS_ATTENTION
    assert decision.reason == "no default validated postal channel"


def test_f21_manual_sms_may_name_a_pending_channel_value() -> None:
    decision = decide(command("sms", automatic=False, contact_value="0699999999"),
                      channels=[PHONE, OTHER_PHONE], template=TEMPLATE, supported_channels=ALL)
    assert isinstance(decision, Deliver)
    assert decision.recipient == "06 99 99 99 99"


def test_f21_manual_choice_of_an_invalid_or_unknown_value_sends_nothing() -> None:
    for value in ("06 00 00 00 00", "07 77 77 77 77"):
        decision = decide(command("sms", automatic=False, contact_value=value),
                          channels=[PHONE, BAD_PHONE], template=TEMPLATE, supported_channels=ALL)
        assert isinstance(decision, Reject), value
        assert decision.status == NEEDS_ATTENTION and decision.needs_attention
        assert decision.reason.startswith("contact_value:")


def test_f21_automatic_communication_ignores_a_named_value_and_uses_the_default() -> None:
    decision = decide(command("sms", automatic=True, contact_value="06 99 99 99 99"),
                      channels=[PHONE, OTHER_PHONE], template=TEMPLATE, supported_channels=ALL)
    assert isinstance(decision, Deliver)
    assert decision.recipient == "+33 6 12 34 56 78"


def test_f21_manual_without_a_named_value_uses_the_default_validated_channel() -> None:
    decision = decide(command("email", automatic=False), channels=[EMAIL], template=TEMPLATE,
                      supported_channels=ALL)
    assert isinstance(decision, Deliver) and decision.recipient == "compta@acme.test"


def test_f21_named_value_matches_without_case_or_blanks_but_never_an_invalid_channel() -> None:
    assert find_named_channel([EMAIL], "email", " COMPTA@acme.test ") == EMAIL
    assert find_named_channel([BAD_PHONE], "sms", "0600000000") is None
    assert find_named_channel([PHONE], "letter", "+33612345678") is None


def test_f16_internal_email_goes_to_the_colleague_with_statuses_comments_and_link() -> None:
    decision = decide(
        command("internal_email", automatic=False, recipient_email="marie@relance.test",
                sender="Paul Martin", note="Peux-tu appeler le client ?",
                link_url="https://relance.test/clients/C001?items=FA-1,FA-2"),
        channels=[], template=None, supported_channels=ALL,
    )
    assert isinstance(decision, Deliver)
    assert decision.recipient == "marie@relance.test"
    assert decision.subject == "Pièces à consulter : ACME (C001)"
    body = decision.body
    assert "Paul Martin vous transmet les pièces suivantes du client ACME (C001)" in body
    assert (f"- FA-1, échéance 31/03/2025, reste dû 1{NBSP}500,00{NBSP}€, statut : litige,"
            " commentaire : Livraison incomplète") in body
    assert f"- FA-2, échéance 30/04/2025, reste dû 99,90{NBSP}€\n" in body
    assert f"Montant total : 1{NBSP}599,90{NBSP}€" in body
    assert "Message : Peux-tu appeler le client ?" in body
    assert "https://relance.test/clients/C001?items=FA-1,FA-2" in body


def test_f16_internal_email_may_use_a_stored_template() -> None:
    template = Template(code="T", channel="internal_email", subject="Pour info",
                        body="{{ sender }} : {{ link_url }} (#items_amount_selected)")
    decision = decide(command("internal_email", recipient_email="a@b.test", sender="Paul",
                              link_url="https://x.test/i"),
                      channels=[], template=template, supported_channels=ALL)
    assert decision == Deliver(recipient="a@b.test", subject="Pour info",
                               body=f"Paul : https://x.test/i (1{NBSP}599,90{NBSP}€)")


def test_f16_internal_email_without_a_valid_colleague_address_fails() -> None:
    for address in (None, "", "pas-une-adresse", "a@b.test\nBcc: x@evil.test", "A <a@b.test>"):
        decision = decide(command("internal_email", recipient_email=address), channels=[EMAIL],
                          template=None, supported_channels=ALL)
        assert decision == Reject(status=FAILED, reason=INVALID_COLLEAGUE_EMAIL,
                                  needs_attention=True), address
