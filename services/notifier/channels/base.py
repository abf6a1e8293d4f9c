"""The contract between the notifier and its channel adapters."""

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class OutgoingMessage:
    communication_id: UUID
    recipient: str
    subject: str
    body: str
    automatic: bool = True


class SendError(Exception):
    """A channel could not deliver a message."""


class TransientSendError(SendError):
    """Trying again later may succeed (server down, 4xx, timeout, configuration)."""


class PermanentSendError(SendError):
    """Trying again will fail the same way (recipient refused, content rejected)."""


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> None: ...


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Delay before retry number `attempt` (1-based): base, 2·base, 4·base… up to cap."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
