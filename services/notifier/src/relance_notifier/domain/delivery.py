"""Delivery reports of the SMS provider (F-32): a sent SMS only tells that the provider
accepted it; the provider's callback later says whether the handset got it.

Providers name their final states differently; they are read as `delivered` or
`undelivered`. Intermediate states (queued, sent to the operator) change nothing."""

DELIVERED = "delivered"
UNDELIVERED = "undelivered"

FINAL_STATES = {
    "delivered": DELIVERED,
    "delivrd": DELIVERED,  # SMPP receipts
    "undelivered": UNDELIVERED,
    "undeliv": UNDELIVERED,
    "failed": UNDELIVERED,
    "expired": UNDELIVERED,
    "rejected": UNDELIVERED,
}
INTERMEDIATE_STATES = frozenset({"accepted", "queued", "sending", "sent", "buffered", "enroute"})


class UnknownDeliveryState(ValueError):
    """The report names a state that is neither final nor intermediate."""


def delivery_status_for(provider_status: str) -> str | None:
    """`delivered` / `undelivered` for a final state, None for an intermediate one."""
    state = provider_status.strip().lower()
    if state in FINAL_STATES:
        return FINAL_STATES[state]
    if state in INTERMEDIATE_STATES:
        return None
    raise UnknownDeliveryState(provider_status)
