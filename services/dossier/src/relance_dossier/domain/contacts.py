"""Pure rules on contact channels (F-21, F-22).

A channel is pending (not yet qualified), validated, validated and default, or invalid.
Only a validated channel can be the default, and a client has at most one default
channel per type; leaving the validated state drops the default flag, so automatic
actions never use a channel nobody vouches for."""

from dataclasses import dataclass, replace
from enum import StrEnum

from relance.validation import is_email_address, is_phone_number
from relance_dossier.domain.accounts import DomainError


class ChannelAction(StrEnum):
    VALIDATE = "validate"
    INVALIDATE = "invalidate"
    CANCEL_VALIDATION = "cancel-validation"
    MAKE_DEFAULT = "make-default"


class ChannelTransitionRefused(DomainError):
    """The channel's current state does not allow the action (the API answers 409)."""


@dataclass(frozen=True)
class ChannelStatus:
    state: str  # pending | validated | invalid
    is_default: bool = False

    @property
    def label(self) -> str:
        return "validated+default" if self.is_default else self.state


def apply_channel_action(current: ChannelStatus, action: ChannelAction) -> ChannelStatus:
    """F-21, F-22: the channel's status after `action`, or ChannelTransitionRefused.

    - validate: pending or invalid → validated (a wrongly invalidated channel can be
      re-qualified);
    - invalidate: pending or validated → invalid, and no longer the default;
    - cancel validation: validated → pending, and no longer the default;
    - make default: only a validated channel; making the current default the default
      again changes nothing (a retried request is harmless)."""
    field = "state"
    match action:
        case ChannelAction.VALIDATE:
            if current.state == "validated":
                raise ChannelTransitionRefused(field, "the channel is already validated")
            return ChannelStatus("validated", False)
        case ChannelAction.INVALIDATE:
            if current.state == "invalid":
                raise ChannelTransitionRefused(field, "the channel is already invalid")
            return ChannelStatus("invalid", False)
        case ChannelAction.CANCEL_VALIDATION:
            if current.state != "validated":
                raise ChannelTransitionRefused(
                    field, f"only a validated channel can have its validation cancelled (it is {current.state})"
                )
            return ChannelStatus("pending", False)
        case ChannelAction.MAKE_DEFAULT:
            if current.state != "validated":
                raise ChannelTransitionRefused(
                    field, f"only a validated channel can be the default (it is {current.state})"
                )
            return replace(current, is_default=True)
    raise DomainError(field, f"unknown action {action!r}")  # pragma: no cover - enum is closed


def status_after_value_change(current: ChannelStatus, old_value: str, new_value: str) -> ChannelStatus:
    """F-21: a new address or number has not been qualified yet: it goes back to pending
    and loses the default flag. Rewriting the same value keeps the status."""
    if normalised_value(old_value) == normalised_value(new_value):
        return current
    return ChannelStatus("pending", False)


def normalised_value(value: str) -> str:
    """Whitespace around a value and repeated inner spaces carry no meaning."""
    return " ".join(value.split())


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def check_new_channel(state: str, is_default: bool, prefix: str = "") -> None:
    """A channel created already marked default must be validated (F-21)."""
    if is_default and state != "validated":
        raise DomainError(_field(prefix, "is_default"), "only a validated channel can be the default")


def check_channel_value(channel_type: str, value: str, prefix: str = "") -> None:
    """Catch the obvious typos that would make a channel unusable (F-21)."""
    text = normalised_value(value)
    if not text:
        raise DomainError(_field(prefix, "value"), "must not be blank")
    if channel_type == "email":
        if not is_email_address(text):
            raise DomainError(_field(prefix, "value"), "is not an email address")
    elif channel_type == "phone":
        # Kept as written; the SMS channel sends to its E.164 form.
        if not is_phone_number(text):
            raise DomainError(_field(prefix, "value"), "is not a phone number")
