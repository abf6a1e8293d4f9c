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
    client_id: UUID | None = None
    client_name: str = ""


@dataclass(frozen=True)
class StoredDocument:
    """A file a channel produced for the client (a letter's PDF), recorded as one of the
    client's documents in the same transaction as the communication's outcome."""

    id: UUID
    client_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    storage_path: str  # relative to DATA_DIR
    description: str


@dataclass(frozen=True)
class SendResult:
    """What a channel reports of a delivered message."""

    provider_ref: str | None = None  # e.g. the SMS provider's message id
    document: StoredDocument | None = None


class SendError(Exception):
    """A channel could not deliver a message."""


class TransientSendError(SendError):
    """Trying again later may succeed (server down, 4xx, timeout, configuration)."""


class PermanentSendError(SendError):
    """Trying again will fail the same way (recipient refused, content rejected)."""


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> SendResult | None: ...

