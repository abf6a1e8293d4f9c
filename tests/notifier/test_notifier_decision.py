"""What the notifier does with a CommunicationRequested command (F-21, F-23, F-32)."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

from relance.events import CommunicationItem, CommunicationRequested
from relance_notifier.domain.communication import (
    CHANNEL_NOT_SUPPORTED,
    FAILED,
    NEEDS_ATTENTION,
    Deliver,
    Reject,
    decide,
)
from relance_notifier.domain.contacts import ContactChannel
from relance_notifier.domain.formatting import NBSP
from relance_notifier.domain.rendering import Template

TEMPLATE = Template(
    code="R1",
    channel="email",
    subject="Relance {{ client.name }}",
    body="Solde : #items_amount_selected",
)
EMAIL = ContactChannel(type="email", value="compta@acme.test", state="validated", is_default=True)


def command(channel: str = "email") -> CommunicationRequested:
    return CommunicationRequested(
        communication_id=uuid4(),
        client_id=uuid4(),
        client_code="C001",
        client_name="ACME",
        channel=channel,
        template_code="R1",
        items=[
            CommunicationItem(
                number="FA-1",
                kind="invoice",
                due_date=date(2025, 1, 1),
                amount=Decimal("1234.5"),
                open_amount=Decimal("1234.5"),
                currency="EUR",
            )
        ],
    )


def test_f32_email_with_a_default_validated_channel_is_delivered_rendered() -> None:
    decision = decide(command(), channels=[EMAIL], template=TEMPLATE, supported_channels={"email"})
    assert decision == Deliver(
        recipient="compta@acme.test",
        subject="Relance ACME",
        body=f"Solde : 1{NBSP}234,50{NBSP}€",
    )


def test_f21_no_default_validated_email_needs_attention_and_sends_nothing() -> None:
    pending = ContactChannel(type="email", value="x@acme.test", state="pending", is_default=False)
    decision = decide(
        command(), channels=[pending], template=TEMPLATE, supported_channels={"email"}
    )
    assert decision == Reject(
        status=NEEDS_ATTENTION,
        reason="no default validated email channel",
        needs_attention=True,
    )


def test_f32_unsupported_channel_fails_without_faking_a_send() -> None:
    for channel in ("sms", "letter", "internal_email"):
        decision = decide(
            command(channel), channels=[EMAIL], template=TEMPLATE, supported_channels={"email"}
        )
        assert decision == Reject(
            status=FAILED, reason=CHANNEL_NOT_SUPPORTED, needs_attention=False
        )


def test_f32_missing_template_fails_and_needs_attention() -> None:
    decision = decide(command(), channels=[EMAIL], template=None, supported_channels={"email"})
    assert isinstance(decision, Reject)
    assert decision.status == FAILED and decision.needs_attention
    assert "R1" in decision.reason


def test_f32_broken_template_fails_and_needs_attention() -> None:
    broken = Template(code="R1", channel="email", subject="s", body="{{ nope }}")
    decision = decide(command(), channels=[EMAIL], template=broken, supported_channels={"email"})
    assert isinstance(decision, Reject)
    assert decision.status == FAILED and decision.needs_attention
    assert "cannot be rendered" in decision.reason


def test_f17_an_actions_edited_text_replaces_the_template_and_keeps_the_tags() -> None:
    edited = command().model_copy(update={
        "subject": "Promesse de {{ client.name }}",
        "body": "Comme convenu, vous réglerez #items_amount_selected.",
    })
    decision = decide(edited, channels=[EMAIL], template=TEMPLATE, supported_channels={"email"})
    assert decision == Deliver(
        recipient="compta@acme.test",
        subject="Promesse de ACME",
        body=f"Comme convenu, vous réglerez 1{NBSP}234,50{NBSP}€.",
    )


def test_f17_an_edited_body_alone_keeps_the_templates_subject_and_needs_no_template() -> None:
    edited = command().model_copy(update={"body": "Merci de régler #items_amount_selected."})
    with_template = decide(edited, channels=[EMAIL], template=TEMPLATE, supported_channels={"email"})
    assert isinstance(with_template, Deliver) and with_template.subject == "Relance ACME"
    without = decide(edited, channels=[EMAIL], template=None, supported_channels={"email"})
    assert isinstance(without, Deliver) and without.body.startswith("Merci de régler 1")
