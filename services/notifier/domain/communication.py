"""What to do with one CommunicationRequested command (F-21, F-23, F-32): deliver a
rendered message to a chosen recipient, or record why it cannot be delivered."""

from collections.abc import Iterable
from dataclasses import dataclass

from relance.events import CommunicationRequested
from relance_notifier.domain.contacts import ContactChannel, choose_recipient, contact_type_for
from relance_notifier.domain.rendering import Template, TemplateRenderError, render

# communications.status values written by the notifier.
SENDING = "sending"  # rendered and handed to the channel; not yet confirmed
RETRYING = "retrying"  # transient failures; Kafka will redeliver the command
SENT = "sent"
FAILED = "failed"
NEEDS_ATTENTION = "needs_attention"  # nothing sent: a collector must fix the contact

CHANNEL_NOT_SUPPORTED = "channel not supported yet"


def no_default_channel_reason(channel: str) -> str:
    return f"no default validated {contact_type_for(channel) or channel} channel"


@dataclass(frozen=True)
class Deliver:
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class Reject:
    status: str  # failed | needs_attention
    reason: str
    needs_attention: bool
    recipient: str | None = None


Decision = Deliver | Reject


def decide(
    command: CommunicationRequested,
    *,
    channels: Iterable[ContactChannel],
    template: Template | None,
    supported_channels: Iterable[str],
) -> Decision:
    """Pure decision; the order of the checks is the order of the reasons reported."""
    if command.channel not in set(supported_channels):
        return Reject(status=FAILED, reason=CHANNEL_NOT_SUPPORTED, needs_attention=False)
    recipient = choose_recipient(channels, command.channel)
    if recipient is None:
        return Reject(
            status=NEEDS_ATTENTION,
            reason=no_default_channel_reason(command.channel),
            needs_attention=True,
        )
    if template is None:
        return Reject(
            status=FAILED,
            reason=f"template {command.template_code!r} not found",
            needs_attention=True,
            recipient=recipient.value,
        )
    try:
        message = render(
            template,
            client_code=command.client_code,
            client_name=command.client_name,
            items=command.items,
        )
    except TemplateRenderError as exc:
        return Reject(
            status=FAILED,
            reason=f"template {command.template_code!r} cannot be rendered: {exc}"[:500],
            needs_attention=True,
            recipient=recipient.value,
        )
    return Deliver(recipient=recipient.value.strip(), subject=message.subject, body=message.body)
