"""Schemathesis over the dossier API and the transfer gateway, against the real stack:
no answer is a 5xx, and every answer matches its documented status, content type,
headers and schema. Agency requests are signed like a real agency signs them (a
`requests` auth that signs the final request). The number of examples per operation is
bounded (RELANCE_FUZZ_EXAMPLES, default 6) so the run stays within a few minutes.

Fuzzing writes at random (clients, collectors, rules): these tests run after all the
others of a session (tests/contracts/conftest.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
import uuid
from uuid import UUID

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from relance.api.openapi import _FORMATS
from relance.db import create_pool
from relance_devstack.supervisor import Supervisor
from tests.conftest import ADMIN_TOKEN
from tests.stack import SEARCH_PATH

pytestmark = pytest.mark.fuzz

EXAMPLE_UUID = _FORMATS["uuid"]
EXAMPLES = int(os.environ.get("RELANCE_FUZZ_EXAMPLES", "6"))
# An Update to a workflow that is not running waits for it (20 s) before its answer.
TIMEOUT = 40
# A method the document does not list answers 405 with an `Allow` header that lists
# exactly the documented ones (the coverage phase tries them).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, unsupported_method,
          allow_header_conformance]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
)
# Not fuzzed: the operations endpoints (/health is 503 while a dependency is down, which
# is its purpose; /metrics is Prometheus text).
EXCLUDED = r"^/(health|metrics)$"


class AgencySignature(requests.auth.AuthBase):
    """Signs each request as the gateway's API description says (the prepared request:
    the method, the path with its query, the Idempotency-Key and the body as sent)."""

    def __init__(self, api_key: str, secret: str) -> None:
        self.api_key = api_key
        self.key = base64.b64decode(secret.removeprefix("whsec_"))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp, nonce = str(int(time.time())), str(uuid.uuid4())
        key = request.headers.get("Idempotency-Key", "")
        content = "\n".join([timestamp, nonce, request.method or "", request.path_url, key]).encode()
        request.headers.update({
            "X-Agency-Key": self.api_key, "X-Relance-Timestamp": timestamp, "X-Relance-Nonce": nonce,
            "X-Relance-Signature": "v2=" + hmac.new(self.key, content + b"\n" + body, hashlib.sha256).hexdigest(),
        })
        return request


async def _place(database_url: str, agency_code: str, transfer_id: UUID) -> None:
    from tests.gateway.test_gateway_support import write_placement

    pool = await create_pool(database_url, schema=SEARCH_PATH, max_size=1)
    try:
        await write_placement(pool, agency_code, transfer_id=transfer_id)
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def seeded(platform: Supervisor, stack) -> dict:
    """What the documents' examples name exists, so their cases reach past the 404s: the
    client C-ACME with an invoice, an agency whose credentials sign the fuzzing, and its
    placement under the example transfer id."""
    dossier = platform.running["dossier"].url
    gateway = platform.running["transfer-gateway"].url
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(timeout=30, headers=admin) as http:
        created = http.post(f"{dossier}/clients", json={
            "code": "C-ACME", "name": "Acme SA", "items": [{
                "number": "INV-1001", "kind": "invoice", "issue_date": "2026-09-01",
                "due_date": "2026-10-01", "amount": "1200.00", "open_amount": "1200.00",
                "currency": "EUR"}]})
        assert created.status_code in (201, 409), created.text
        code = f"FZ{uuid.uuid4().hex[:8].upper()}"
        agency = http.post(f"{gateway}/admin/agencies", json={"code": code, "name": "Fuzzing agency"})
        assert agency.status_code == 201, agency.text
    credentials = agency.json()["credentials"]
    # A placement of that agency under the id the document's examples use.
    asyncio.run(_place(stack.database_url, code, UUID(EXAMPLE_UUID)))
    with requests.Session() as signed:
        signed.auth = AgencySignature(credentials["api_key"], credentials["signing_secret"])
        deadline = time.monotonic() + 60
        while signed.get(f"{gateway}/agency/v1/placements/{EXAMPLE_UUID}", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the example placement never reached the gateway"
            time.sleep(0.3)
    return {"dossier": dossier, "gateway": gateway, "agency": code,
            "api_key": credentials["api_key"], "secret": credentials["signing_secret"]}


def _document(app) -> dict:
    # The document the running service serves is built by the same code, offline; loading
    # it here lets pytest list one test per operation (the lazy fixture loader of
    # Schemathesis does not work with this pytest).
    return app.openapi()


def _dossier_document() -> dict:
    from relance_dossier.api.app import create_app
    from relance_dossier.settings import Settings

    return _document(create_app(Settings()))


def _gateway_document() -> dict:
    from relance_gateway.api.app import create_app
    from relance_gateway.settings import Settings

    return _document(create_app(Settings(), None, None, None, None))


def _session() -> requests.Session:
    return requests.Session()


dossier = schemathesis.openapi.from_dict(_dossier_document()).exclude(path_regex=EXCLUDED)
gateway = schemathesis.openapi.from_dict(_gateway_document()).exclude(path_regex=EXCLUDED)


def test_the_fuzzed_documents_are_the_served_ones(seeded: dict) -> None:
    assert httpx.get(f"{seeded['dossier']}/openapi.json").json() == _dossier_document()
    assert httpx.get(f"{seeded['gateway']}/openapi.json").json() == _gateway_document()


@dossier.parametrize()
@FUZZ_SETTINGS
def test_dossier_api_answers_no_5xx_and_only_what_it_documents(case, seeded) -> None:
    with _session() as session:
        case.call_and_validate(base_url=seeded["dossier"], session=session, checks=CHECKS, timeout=TIMEOUT,
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


@gateway.include(path_regex=r"^/agency/").parametrize()
@FUZZ_SETTINGS
def test_gateway_agency_api_signed_answers_no_5xx_and_only_what_it_documents(case, seeded) -> None:
    with _session() as session:
        session.auth = AgencySignature(seeded["api_key"], seeded["secret"])
        case.call_and_validate(base_url=seeded["gateway"], session=session, checks=CHECKS, timeout=TIMEOUT)


@gateway.exclude(path_regex=r"^/agency/").parametrize()
@FUZZ_SETTINGS
def test_gateway_admin_api_answers_no_5xx_and_only_what_it_documents(case, seeded) -> None:
    with _session() as session:
        case.call_and_validate(base_url=seeded["gateway"], session=session, checks=CHECKS, timeout=TIMEOUT,
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
