"""The documents an agency sends back on a placement (F-41): kept by the transfer
gateway, which owns them until they are copied here, read through its internal API
(`GET /internal/agency-documents/{document_id}`), never its tables. Each copy is checked
against the size and SHA-256 the gateway announced in the event."""

import hashlib
import io

import anyio
import httpx

from relance.api.internal import internal_headers
from relance.events import AgencyDocument, AgencyMessageSent
from relance_dossier.persistence import attachments
from relance_dossier.settings import Settings


class DocumentMismatch(Exception):
    """The bytes read are not the document the event announced (retried: a torn read)."""


async def fetch_agency_documents(
    settings: Settings, message: AgencyMessageSent
) -> list[tuple[AgencyDocument, str]]:
    """Each document of the message written under the data dir: (document, storage path).
    A document already copied by an earlier attempt is written again, identically."""
    copied = []
    async with httpx.AsyncClient(timeout=settings.gateway_api_timeout_seconds) as http:
        for document in message.documents:
            url = (f"{settings.gateway_api_url.rstrip('/')}/internal/agency-documents/"
                   f"{document.document_id}")
            response = await http.get(url, headers=internal_headers(settings.internal_api_token))
            response.raise_for_status()  # an activity failure: Temporal retries it
            content = response.content
            if len(content) != document.size_bytes or hashlib.sha256(content).hexdigest() != document.sha256:
                raise DocumentMismatch(f"document {document.document_id} does not match its event")
            storage_path = attachments.storage_path_for(message.client_id, document.document_id)
            target = attachments.resolve_in_data_dir(settings.data_dir, storage_path)
            await anyio.to_thread.run_sync(
                attachments.store_file, io.BytesIO(content), target, len(content))
            copied.append((document, storage_path))
    return copied
