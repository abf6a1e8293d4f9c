"""What the notifier's commands bring and its outcome events carry (F-21, F-23, F-26,
F-32): the decision reads the command only, and an outcome event holds what the
client's trace shows, its body capped well under the broker's 1 MiB message limit."""

from datetime import UTC, datetime
from uuid import uuid4

from relance.events import (
    BODY_CAP_BYTES,
    CommunicationContact,
    CommunicationRequested,
    CommunicationSent,
    CommunicationTemplate,
    capped_body,
)
from relance_notifier.channels.base import SendResult, StoredDocument
from relance_notifier.domain.communication import NEEDS_ATTENTION, Deliver, Reject, decide
from relance_notifier.persistence.repository import Written
from relance_notifier.service import command_template, contact_channels, failed_event, sent_event


def command(**fields) -> CommunicationRequested:
    client_id = uuid4()
    return CommunicationRequested(
        communication_id=uuid4(), client_id=client_id, client_code="C-1", client_name="Client",
        channel=fields.pop("channel", "email"), template_code="t",
        template=CommunicationTemplate(code="t", channel="email", subject="Relance {{ client.name }}",
                                       body="Bonjour {{ client.name }}"),
        contact_channels=[
            CommunicationContact(type="email", value="old@c.example", state="invalid",
                                 is_default=False),
            CommunicationContact(type="email", value="ok@c.example", state="validated",
                                 is_default=True),
        ],
        **fields,
    )


def test_f21_the_decision_takes_the_commands_template_and_channels() -> None:
    cmd = command()
    decision = decide(cmd, channels=contact_channels(cmd), template=command_template(cmd),
                      supported_channels=["email"])
    assert decision == Deliver(recipient="ok@c.example", subject="Relance Client",
                               body="Bonjour Client")


def test_f21_no_channel_in_the_command_needs_attention() -> None:
    cmd = command().model_copy(update={"contact_channels": []})
    decision = decide(cmd, channels=contact_channels(cmd), template=command_template(cmd),
                      supported_channels=["email"])
    assert isinstance(decision, Reject) and decision.status == NEEDS_ATTENTION
    event = failed_event(cmd, decision, attempts=0)
    assert event.payload["status"] == NEEDS_ATTENTION and event.payload["needs_attention"]
    assert event.payload["template_code"] == "t"


def test_capped_body_never_cuts_a_character_and_says_so() -> None:
    assert capped_body("court") == ("court", False)
    assert capped_body(None) == (None, False)
    body, truncated = capped_body("é" * 10, cap=5)
    assert (body, truncated) == ("éé", True)


def test_f23_f26_sent_event_carries_the_trace_with_a_capped_body_and_the_letter() -> None:
    cmd = command(channel="letter")
    huge = "Madame, Monsieur, " * 100_000  # ~1.8 MB rendered
    document = StoredDocument(
        id=cmd.communication_id, client_id=cmd.client_id, filename="courrier.pdf",
        content_type="application/pdf", size_bytes=1234, sha256="ab" * 32,
        storage_path=f"attachments/{cmd.client_id}/{cmd.communication_id}.pdf",
        description="Relance",
    )
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    envelope = sent_event(cmd, Deliver("12 rue X", "Relance", huge),
                          SendResult(document=document), Written(attempts=2, sent_at=at))
    sent = envelope.payload_as(CommunicationSent)
    assert sent.body_truncated and len(sent.body.encode()) <= BODY_CAP_BYTES
    assert len(envelope.model_dump_json().encode()) < 512 * 1024  # well under 1 MiB
    assert (sent.attempts, sent.sent_at, sent.attachment_id) == (2, at, cmd.communication_id)
    assert sent.document is not None and sent.document.sha256 == "ab" * 32
    assert sent.document.storage_path == document.storage_path
