"""The letter channel: the rendered letter as a PDF file, kept as one of the client's
documents (F-10, F-26, F-32).

"Sending" a letter means producing its PDF for printing: the file is written under
DATA_DIR/attachments/<client_id>/<communication_id>.pdf (atomically: a temporary file
renamed) and the notifier records it in `attachments` (source 'letter') in the same
transaction as the communication's outcome, so the communication.sent event lets the
workflow mark the intervention Done. The document id is the communication id and the
PDF is rendered deterministically, so a redelivered command rewrites the same file.

The PDF uses the standard Helvetica/Courier fonts in WinAnsi encoding, which cover
French (accents, œ, «», €) with no font file to embed; the account statement, aligned
in columns, is set in Courier."""

import asyncio
import hashlib
import io
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from relance_notifier.channels.base import (
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    StoredDocument,
    TransientSendError,
)
from relance_notifier.channels.ratelimit import RateLimiter
from relance_notifier.domain.formatting import format_date
from relance_notifier.metrics import SEND_SECONDS
from relance_notifier.settings import Settings

PDF = "application/pdf"
ATTACHMENTS_DIR = "attachments"

MARGIN = 20 * mm
TEXT_FONT, TEXT_SIZE, TEXT_LEADING = "Helvetica", 10.5, 14
BOLD_FONT = "Helvetica-Bold"
TABLE_FONT, TABLE_SIZE, TABLE_LEADING = "Courier", 9, 12
ADDRESS_LEFT = 110 * mm  # the window of a DL envelope
ADDRESS_TOP = A4[1] - 50 * mm


def address_lines(value: str) -> list[str]:
    """A postal address as stored on the contact channel: lines separated by line breaks
    (or by ';' when typed on one line)."""
    lines = [line.strip() for part in value.splitlines() for line in part.split(";")]
    return [line for line in lines if line]


def is_table_line(line: str) -> bool:
    """Lines aligned in columns (the account statement) keep a monospace font."""
    return "  " in line.strip()


def render_letter_pdf(
    message: OutgoingMessage,
    *,
    letter_date: date,
    sender_name: str,
    sender_address: str,
) -> bytes:
    """The letter as PDF bytes (A4, one or more pages); same input, same bytes."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setTitle(message.subject)
    pdf.setAuthor(sender_name)
    width, height = A4
    text_width = width - 2 * MARGIN

    y = height - MARGIN
    pdf.setFont(BOLD_FONT, TEXT_SIZE)
    pdf.drawString(MARGIN, y, sender_name)
    pdf.setFont(TEXT_FONT, TEXT_SIZE)
    for line in address_lines(sender_address):
        y -= TEXT_LEADING
        pdf.drawString(MARGIN, y, line)

    y = ADDRESS_TOP
    for line in [message.client_name, *address_lines(message.recipient)]:
        if line:
            pdf.drawString(ADDRESS_LEFT, y, line)
            y -= TEXT_LEADING

    y = min(y, ADDRESS_TOP - 5 * TEXT_LEADING) - 2 * TEXT_LEADING
    pdf.drawRightString(width - MARGIN, y, f"Le {format_date(letter_date)}")
    y -= 2 * TEXT_LEADING
    pdf.setFont(BOLD_FONT, TEXT_SIZE)
    for line in simpleSplit(f"Objet : {message.subject}", BOLD_FONT, TEXT_SIZE, text_width):
        pdf.drawString(MARGIN, y, line)
        y -= TEXT_LEADING
    y -= TEXT_LEADING

    for raw in message.body.splitlines():
        table = is_table_line(raw)
        font, size, leading = (
            (TABLE_FONT, TABLE_SIZE, TABLE_LEADING)
            if table
            else (TEXT_FONT, TEXT_SIZE, TEXT_LEADING)
        )
        pieces = simpleSplit(raw.rstrip(), font, size, text_width) or [""]
        for piece in pieces:
            if y < MARGIN + leading:
                pdf.showPage()
                y = height - MARGIN
            pdf.setFont(font, size)
            pdf.drawString(MARGIN, y, piece)
            y -= leading
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def letter_storage_path(client_id: UUID, document_id: UUID) -> str:
    """Relative to DATA_DIR (what `attachments.storage_path` holds)."""
    return f"{ATTACHMENTS_DIR}/{client_id}/{document_id}.pdf"


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class LetterChannel:
    name = "letter"

    def __init__(self, settings: Settings, *, today=lambda: datetime.now(UTC).date()) -> None:
        self._settings = settings
        self._data_dir = Path(settings.data_dir).resolve()
        self._today = today
        self._limiter = RateLimiter(settings.letter_rate_per_second)

    async def send(self, message: OutgoingMessage) -> SendResult:
        if message.client_id is None:
            raise PermanentSendError("a letter needs the client's id")
        if not address_lines(message.recipient):
            raise PermanentSendError("empty postal address")
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            document = await asyncio.to_thread(self._produce, message)
        except OSError as exc:  # disk full, permissions: a redelivery may succeed
            raise TransientSendError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        finally:
            SEND_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        return SendResult(document=document)

    def _produce(self, message: OutgoingMessage) -> StoredDocument:
        s = self._settings
        letter_date = self._today()
        content = render_letter_pdf(
            message,
            letter_date=letter_date,
            sender_name=s.letter_sender_name,
            sender_address=s.letter_sender_address,
        )
        document_id = message.communication_id
        client_id = message.client_id
        if client_id is None:  # checked in send(); kept for the type checker
            raise PermanentSendError("a letter needs the client's id")
        relative = letter_storage_path(client_id, document_id)
        write_atomically(self._data_dir / relative, content)
        return StoredDocument(
            id=document_id,
            client_id=client_id,
            filename=f"courrier-{letter_date.isoformat()}-{str(document_id)[:8]}.pdf",
            content_type=PDF,
            size_bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_path=relative,
            description=message.subject[:500],
        )
