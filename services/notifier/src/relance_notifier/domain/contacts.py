"""The choice of a communication's recipient among the client's contact channels (F-21).

Automatic communications go to the client's default validated channel of the matching
type, and only there: a pending or invalid channel is never used, and when there is no
single default validated channel, nobody is contacted (the communication needs a
collector's attention instead). A manual communication may name the channel value to
use: it must be one of the client's channels of the matching type that is not invalid."""

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

# Communication channel → contact channel type (contact_channels.type).
CONTACT_TYPE_BY_CHANNEL = {"email": "email", "sms": "phone", "letter": "postal"}

PENDING, VALIDATED, INVALID = "pending", "validated", "invalid"


@dataclass(frozen=True)
class ContactChannel:
    type: str  # postal | email | phone
    value: str
    state: str  # pending | validated | invalid
    is_default: bool
    id: UUID | None = None
    contact_id: UUID | None = None
    language: str | None = None  # F-39: the contact's; None: the client's locale


def contact_type_for(channel: str) -> str | None:
    """The contact channel type a communication channel is sent to; None if the channel
    does not go to a client contact (e.g. an internal email to a colleague)."""
    return CONTACT_TYPE_BY_CHANNEL.get(channel)


def is_usable(channel: ContactChannel) -> bool:
    return channel.state == VALIDATED and channel.is_default and bool(channel.value.strip())


def choose_recipient(channels: Iterable[ContactChannel], channel: str) -> ContactChannel | None:
    """The default validated contact channel for `channel`, or None.

    None also when the data holds several defaults of one type (the schema forbids it):
    an ambiguous recipient is never guessed."""
    contact_type = contact_type_for(channel)
    if contact_type is None:
        return None
    candidates = [c for c in channels if c.type == contact_type and is_usable(c)]
    return candidates[0] if len(candidates) == 1 else None


def normalise_value(value: str) -> str:
    """Compare channel values without case and blanks ("06 12 34 56 78" = "0612345678")."""
    return "".join(value.split()).casefold()


def find_named_channel(
    channels: Iterable[ContactChannel], channel: str, value: str
) -> ContactChannel | None:
    """The client's channel of the right type whose value is `value` (manual choice,
    F-21); None when there is no such channel or it is invalid."""
    contact_type = contact_type_for(channel)
    wanted = normalise_value(value)
    for candidate in channels:
        if (
            candidate.type == contact_type
            and candidate.state != INVALID
            and wanted
            and normalise_value(candidate.value) == wanted
        ):
            return candidate
    return None
