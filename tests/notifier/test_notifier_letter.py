"""Letters rendered to PDF and stored as the client's documents (F-10, F-18, F-26, F-32):
the PDF's text is read back."""

import hashlib
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from pypdf import PdfReader

from relance_notifier.channels.base import OutgoingMessage, PermanentSendError
from relance_notifier.channels.letter import LetterChannel, address_lines, render_letter_pdf
from relance_notifier.domain.formatting import StatementLine, format_statement
from relance_notifier.settings import Settings

CID = UUID("12345678-1234-5678-1234-567812345678")
CLIENT = UUID("87654321-4321-8765-4321-876543218765")
STATEMENT = format_statement([
    StatementLine("FA-2025-001", date(2025, 1, 15), Decimal("1234.50")),
    StatementLine("FA-2025-002", date(2025, 2, 1), Decimal("99.90")),
])
BODY = (
    "Madame, Monsieur,\n\nLes pièces suivantes restent impayées :\n\n"
    f"{STATEMENT}\n\nMontant total dû : 1\u00a0334,40\u00a0€\n\n« Cordialement », œuvre"
)
LETTER = OutgoingMessage(CID, "Service comptable\n12 rue de la Paix\n75002 Paris",
                         "Deuxième relance — Société Générale d'Équipement", BODY,
                         client_id=CLIENT, client_name="Société Générale d'Équipement")


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")


def test_f32_letter_pdf_carries_address_date_subject_and_statement_in_french() -> None:
    pdf = render_letter_pdf(LETTER, letter_date=date(2026, 11, 23), sender_name="ACME Recouvrement",
                            sender_address="1 place du Marché;69001 Lyon")
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for expected in ("ACME Recouvrement", "69001 Lyon", "Société Générale d'Équipement",
                     "12 rue de la Paix", "75002 Paris", "Le 23/11/2026",
                     "Objet : Deuxième relance — Société Générale d'Équipement",
                     "Les pièces suivantes restent impayées", "FA-2025-001", "15/01/2025",
                     "1 234,50 €", "FA-2025-002", "Montant total dû : 1 334,40 €",
                     "« Cordialement », œuvre"):
        assert expected in text, expected


def test_f32_same_letter_same_bytes() -> None:
    """A redelivered command rewrites the very same file (same sha256)."""
    first = render_letter_pdf(LETTER, letter_date=date(2026, 1, 2), sender_name="A",
                              sender_address="")
    again = render_letter_pdf(LETTER, letter_date=date(2026, 1, 2), sender_name="A",
                              sender_address="")
    assert first == again


def test_f32_a_long_letter_flows_onto_more_pages() -> None:
    long_body = "\n".join(f"Ligne {n} du courrier de relance." for n in range(150))
    pdf = render_letter_pdf(
        OutgoingMessage(CID, "1 rue X;75001 Paris", "Relance", long_body, client_id=CLIENT),
        letter_date=date(2026, 1, 2), sender_name="A", sender_address="",
    )
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    assert "Ligne 149 du courrier de relance." in reader.pages[-1].extract_text()


def test_f21_address_lines_from_line_breaks_or_semicolons() -> None:
    assert address_lines(" 12 rue A \n\n75002 Paris ") == ["12 rue A", "75002 Paris"]
    assert address_lines("12 rue A; 75002 Paris") == ["12 rue A", "75002 Paris"]
    assert address_lines("  ") == []


async def test_f26_letter_is_written_as_a_client_document_under_the_data_dir(
    tmp_path: Path,
) -> None:
    channel = LetterChannel(Settings(data_dir=tmp_path), today=lambda: date(2026, 11, 23))
    result = await channel.send(LETTER)
    document = result.document
    assert document is not None
    assert document.id == CID and document.client_id == CLIENT
    assert document.storage_path == f"attachments/{CLIENT}/{CID}.pdf"
    assert document.content_type == "application/pdf"
    assert document.filename == "courrier-2026-11-23-12345678.pdf"
    assert document.description == LETTER.subject
    content = (tmp_path / document.storage_path).read_bytes()
    assert len(content) == document.size_bytes
    assert hashlib.sha256(content).hexdigest() == document.sha256
    assert "Montant total dû : 1 334,40 €" in text_of(content)
    assert not list((tmp_path / "attachments" / str(CLIENT)).glob(".*.tmp"))


async def test_f32_letter_without_a_postal_address_is_refused(tmp_path: Path) -> None:
    channel = LetterChannel(Settings(data_dir=tmp_path))
    with pytest.raises(PermanentSendError, match="postal address"):
        await channel.send(OutgoingMessage(CID, " ; ", "s", "b", client_id=CLIENT))
    assert not (tmp_path / "attachments").exists()
