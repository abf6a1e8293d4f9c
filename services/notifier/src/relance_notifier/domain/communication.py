"""What to do with one CommunicationRequested command (F-21, F-23, F-32): deliver a
rendered message to a chosen recipient, or record why it cannot be delivered."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from relance.events import CommunicationRequested
from relance.locales import best_locale
from relance.validation import is_email_address  # one address: no display name, no blanks
from relance_notifier.domain.contacts import (
    ContactChannel,
    choose_recipient,
    contact_type_for,
    find_named_channel,
)
from relance_notifier.domain.formatting import LateFeeLine
from relance_notifier.domain.rendering import (
    INTERNAL_EMAIL_TEMPLATE,
    Template,
    TemplateRenderError,
    render,
)

# communications.status values written by the notifier.
SENDING = "sending"  # rendered and handed to the channel; not yet confirmed
RETRYING = "retrying"  # transient failures; Kafka will redeliver the command
SENT = "sent"
FAILED = "failed"
NEEDS_ATTENTION = "needs_attention"  # nothing sent: a collector must fix the contact

CHANNEL_NOT_SUPPORTED = "channel not supported yet"
INTERNAL_EMAIL = "internal_email"
INVALID_COLLEAGUE_EMAIL = "recipient_email: a colleague's email address is required"



def no_default_channel_reason(channel: str) -> str:
    return f"no default validated {contact_type_for(channel) or channel} channel"


def unknown_named_channel_reason(channel: str) -> str:
    contact_type = contact_type_for(channel) or channel
    return f"contact_value: not a usable {contact_type} channel of the client"


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


def template_for_language(versions: Sequence[Template], language: str | None) -> Template | None:
    """The version of `language` (F-39), or None when it has none or no language is known."""
    locale = best_locale([v.locale for v in versions], language)
    return next((v for v in versions if v.locale == locale), None) if locale else None


def decide(
    command: CommunicationRequested,
    *,
    channels: Iterable[ContactChannel],
    template: Template | None,
    supported_channels: Iterable[str],
    versions: Sequence[Template] = (),
) -> Decision:
    """Pure decision; the order of the checks is the order of the reasons reported.

    Recipient (F-21): an internal email goes to the colleague named in the command
    (F-16); an automatic communication to the client's default validated channel of the
    matching type; a manual one to the channel value it names (any of the client's
    channels of that type but an invalid one) or else to the default validated one.

    Template (F-39): among `versions` (every locale's), the one of the chosen contact's
    language; else `template`, the dossier's choice for the client's locale or the
    fallback locale."""
    if command.channel not in set(supported_channels):
        return Reject(status=FAILED, reason=CHANNEL_NOT_SUPPORTED, needs_attention=False)
    if command.channel == INTERNAL_EMAIL:
        if not is_email_address(command.recipient_email):
            return Reject(status=FAILED, reason=INVALID_COLLEAGUE_EMAIL, needs_attention=True)
        recipient = (command.recipient_email or "").strip()
        template = template or INTERNAL_EMAIL_TEMPLATE
    else:
        if command.contact_value and not command.automatic:
            chosen = find_named_channel(channels, command.channel, command.contact_value)
            if chosen is None:
                return Reject(
                    status=NEEDS_ATTENTION,
                    reason=unknown_named_channel_reason(command.channel),
                    needs_attention=True,
                )
        else:
            chosen = choose_recipient(channels, command.channel)
        if chosen is None:
            return Reject(
                status=NEEDS_ATTENTION,
                reason=no_default_channel_reason(command.channel),
                needs_attention=True,
            )
        recipient = chosen.value.strip()
        if command.body is None:  # an edited text (F-17) keeps the language it is written in
            template = template_for_language(versions, chosen.language) or template
    if command.body is not None:
        # F-17: the action's edited text replaces the template's.
        template = Template(
            code=command.template_code or "specific-action",
            channel=command.channel,
            subject=command.subject if command.subject is not None else (template.subject if template else ""),
            body=command.body,
            locale=template.locale if template else command.locale,
        )
    if template is None:
        return Reject(
            status=FAILED,
            reason=f"template {command.template_code!r} not found",
            needs_attention=True,
            recipient=recipient,
        )
    try:
        message = render(
            template,
            client_code=command.client_code,
            client_name=command.client_name,
            items=command.items,
            contact_value=recipient,
            extra={"sender": command.sender, "note": command.note, "link_url": command.link_url},
            late_fees=[
                LateFeeLine(fee.currency, fee.interest, fee.indemnity) for fee in command.late_fees
            ],
        )
    except TemplateRenderError as exc:
        return Reject(
            status=FAILED,
            reason=f"template {command.template_code!r} cannot be rendered: {exc}"[:500],
            needs_attention=True,
            recipient=recipient,
        )
    return Deliver(recipient=recipient, subject=message.subject, body=message.body)
