"""Richer placements on the real platform (F-41): a placed transfer gives its agency the
debtor's validated contacts, the items with their documents, the client's other files and
the dossier's history, and the agency downloads a document through the signed API, as
the dossier service keeps it. The transfer's window is a few seconds (a workflow worker of
the test's own, as in the dossier's transfer tests); the agency is registered in the
gateway with real credentials and signs every request."""

import base64
from uuid import uuid4

import pytest

from tests.conftest import eventually
from tests.dossier.test_contacts import add_contact
from tests.dossier.test_transfers import new_client, short_window  # noqa: F401 - a fixture
from tests.gateway.test_gateway import gateway, gateway_admin, placement_visible  # noqa: F401 - fixtures
from tests.gateway.test_gateway_support import register_agency

pytestmark = pytest.mark.integration

INVOICE_PDF = b"%PDF-1.4\n% copy of invoice F-1\n" + bytes(range(256)) * 40
LETTER_PDF = b"%PDF-1.4\n% second reminder letter\n"


async def upload(dossier_api, code: str, name: str, content: bytes, **form: str):
    return await dossier_api.post(f"/clients/{code}/attachments",
                                  files={"file": (name, content, "application/pdf")}, data=form)


async def test_f41_a_placement_gives_the_agency_contacts_documents_and_history_and_a_document_downloads(
    dossier_api, gateway, gateway_admin, short_window,  # noqa: F811 - the fixtures imported above
):
    agency = await register_agency(gateway_admin, gateway)
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    await add_contact(dossier_api, code, name="Mme Durand", observation="Comptabilité fournisseurs",
                      channels=[{"type": "email", "value": "durand@acme.fr", "state": "validated",
                                 "is_default": True},
                                {"type": "phone", "value": "+33 4 72 00 00 00"}])
    await add_contact(dossier_api, code, name="Standard",
                      channels=[{"type": "phone", "value": "+33 4 72 00 00 01"}])  # nothing validated
    on_item = await upload(dossier_api, code, "F-1.pdf", INVOICE_PDF, item_number="F-1",
                           description="Copie de la facture")
    assert on_item.status_code == 201, on_item.text
    assert on_item.json()["item_number"] == "F-1"
    letter = await upload(dossier_api, code, "relance-2.pdf", LETTER_PDF)
    assert letter.status_code == 201, letter.text
    unknown_item = await upload(dossier_api, code, "x.pdf", LETTER_PDF, item_number="NOPE-1")
    assert unknown_item.status_code == 422
    assert unknown_item.json()["errors"][0]["field"] == "item_number"
    # The default scenario's first step has opened: it is part of the history.
    await eventually(lambda: _interventions(dossier_api, code), timeout=60)

    transfer_id, _ = await short_window(card, [i["id"] for i in card["open_items"]], agency=agency.code)
    placed = await eventually(lambda: placement_visible(agency, transfer_id), timeout=60)
    content = placed["placement"]
    assert "client_id" not in content  # ours alone
    assert content["contacts"] == [{"name": "Mme Durand", "role": "Comptabilité fournisseurs", "channels": [
        {"type": "email", "value": "durand@acme.fr", "is_default": True}]}]
    documents = {item["number"]: item["documents"] for item in content["items"]}
    assert [(d["file_name"], d["description"], d["size_bytes"]) for d in documents["F-1"]] == [
        ("F-1.pdf", "Copie de la facture", len(INVOICE_PDF))]
    assert documents["F-2"] == []
    assert [d["file_name"] for d in content["documents"]] == ["relance-2.pdf"]
    assert any(h["kind"] == "intervention" and h["action"] == "email" for h in content["history"])

    # The document, through the signed API, byte for byte.
    document_id = documents["F-1"][0]["document_id"]
    path = f"/agency/v1/placements/{transfer_id}/documents/{document_id}"
    downloaded = await agency.get(path)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == INVOICE_PDF
    assert downloaded.headers["content-type"] == "application/pdf"
    assert "F-1.pdf" in downloaded.headers["content-disposition"]
    unsigned = await gateway.get(path)
    assert unsigned.status_code == 401
    other_agency = await register_agency(gateway_admin, gateway)
    assert (await other_agency.get(path)).json()["errors"][0]["field"] == "transfer_id"
    not_listed = await agency.get(f"/agency/v1/placements/{transfer_id}/documents/{uuid4()}")
    assert not_listed.status_code == 404
    assert not_listed.json()["errors"][0]["field"] == "document_id"

    # A file deleted on the client since the placement is no longer given.
    deleted = await dossier_api.delete(f"/clients/{code}/attachments/{document_id}",
                                       params={"comment": "wrong invoice"})
    assert deleted.status_code == 204
    gone = await agency.get(path)
    assert gone.status_code == 404
    assert "deleted" in gone.json()["errors"][0]["reason"]


async def test_f41_an_agency_writes_back_with_documents_that_reach_the_transfer_and_the_client_files(
    dossier_api, gateway, gateway_admin, short_window,  # noqa: F811 - the fixtures imported above
):
    agency = await register_agency(gateway_admin, gateway)
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    transfer_id, _ = await short_window(card, [i["id"] for i in card["open_items"]], agency=agency.code)
    await eventually(lambda: placement_visible(agency, transfer_id), timeout=60)
    path = f"/agency/v1/placements/{transfer_id}/messages"
    notice = b"%PDF-1.4\n% mise en demeure\n" + bytes(range(256)) * 8
    message = {"body": "Mise en demeure envoyée en recommandé ; copie jointe.", "documents": [
        {"file_name": "mise-en-demeure.pdf", "content_type": "application/pdf",
         "content_base64": base64.b64encode(notice).decode()}]}

    for bad, field in (({**message, "body": "  "}, "body"),
                       ({**message, "documents": [{**message["documents"][0], "content_base64": "%%%"}]},
                        "documents.0.content_base64"),
                       ({**message, "documents": [{**message["documents"][0], "content_type": "application/zip"}]},
                        "documents.0.content_type"),
                       ({**message, "documents": [{**message["documents"][0], "file_name": "../x.pdf"}]},
                        "documents.0.file_name")):
        refused = await agency.post(path, bad)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field, refused.text

    key = str(uuid4())
    sent = await agency.post(path, message, idempotency_key=key)
    assert sent.status_code == 200, sent.text
    assert sent.json()["event"] == "agency.message_sent"
    again = await agency.post(path, message, idempotency_key=key)  # a retry of the same call
    assert again.json() == sent.json() and again.headers["Idempotent-Replayed"] == "true"

    async def in_history():
        actions = (await dossier_api.get(f"/transfers/{transfer_id}")).json()["actions"]
        return [a for a in actions if a["action"] == "agency_message"] or None

    [written] = await eventually(in_history, timeout=60)
    assert (written["actor"], written["comment"]) == (f"agency:{agency.code}", message["body"])
    files = (await dossier_api.get(f"/clients/{code}/attachments")).json()
    [copied] = [f for f in files if f["source"] == "agency"]
    assert (copied["filename"], copied["content_type"], copied["size_bytes"]) == (
        "mise-en-demeure.pdf", "application/pdf", len(notice))
    content = await dossier_api.get(f"/clients/{code}/attachments/{copied['id']}/content")
    assert content.content == notice
    # The agency's files are the client's now: they are not offered back as its documents.
    assert copied["id"] not in {d["document_id"] for d in
                                (await placement_visible(agency, transfer_id))["placement"]["documents"]}


async def _interventions(dossier_api, code: str) -> list[dict]:
    return (await dossier_api.get(f"/clients/{code}/interventions")).json()
