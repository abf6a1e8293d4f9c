"""OpenAPI documents that tell the truth, the same way in every service:

- every 4xx answers the real error body `{"errors": [{"field", "reason"}]}` (`ErrorBody`),
  FastAPI's `HTTPValidationError` (which no route ever sends) is gone;
- an operation behind a bearer token declares the `bearer` security scheme (Swagger's
  Authorize button) and 401; behind a role guard, 403; the other statuses a route
  raises (404, 409, 413, …) are read from its code and its declared `responses`;
- every request body has an example (the model's own, else one built from its schema);
- a wrong method answers 405 with an `Allow` header listing the path's methods, an unknown
  path 404, both with the error body;
- `/docs` and `/redoc` load Swagger UI and ReDoc from the service itself (the files ship
  in the `fastapi-offline` wheel), so they work without internet access.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

BEARER_SCHEME = "bearer"
DOCS_ASSETS_URL = "/docs-assets"
DOCS_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

# Marks set on dependencies by relance.api.auth, read here to document who may call.
AUTH_MARK = "__relance_openapi_auth__"
ROLES_MARK = "__relance_openapi_roles__"


class FieldError(BaseModel):
    field: str | None = Field(description="The field at fault (dotted path), or null for the request as a whole")
    reason: str


class ErrorBody(BaseModel):
    """Every 4xx (and 503) of every Relance API has this body."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"errors": [{"field": "items.0.amount", "reason": "Input should be a valid decimal"}]}]})

    errors: list[FieldError] = Field(min_length=1)


STATUS_DESCRIPTIONS = {
    400: "The request could not be read: a body that is not UTF-8 JSON or form data, or a "
         "required header missing or malformed",
    401: "No bearer API token, or an unknown or revoked one",
    403: "The caller's role may not do this",
    404: "No such resource, or one the caller may not see",
    405: "Method not allowed (the `Allow` header lists the path's methods)",
    409: "Conflicts with the resource's current state",
    412: "The resource changed since it was read (If-Match)",
    413: "The upload is larger than the size cap",
    415: "Unsupported media type",
    422: "A field is invalid: each error names the field and the reason",
    428: "A precondition header (If-Match) is required",
    503: "A service this one depends on cannot answer; retry",
}
ERROR_EXAMPLES = {
    401: {"errors": [{"field": "Authorization", "reason": "a bearer API token is required"}]},
    403: {"errors": [{"field": None, "reason": "role read_only may not do this"}]},
    404: {"errors": [{"field": "code", "reason": "no client with code 'C-UNKNOWN'"}]},
    409: {"errors": [{"field": "code", "reason": "a client with code 'C-ACME' already exists"}]},
    413: {"errors": [{"field": "file", "reason": "larger than the 10485760-byte cap"}]},
    422: {"errors": [{"field": "name", "reason": "Field required"}]},
}
_RAISED = re.compile(r"ApiError\(\s*(\d{3})|_or_(\d{3})\(|HTTP_(\d{3})_")


def api_routes(app: FastAPI) -> list:
    """Every API route of `app`, those of included routers too (FastAPI ≥ 0.16x keeps an
    included router whole; its routes are read through route contexts)."""
    from fastapi import routing

    if hasattr(routing, "iter_route_contexts"):
        return [c for c in routing.iter_route_contexts(app.routes)
                if isinstance(c.original_route, APIRoute)]
    return [r for r in app.routes if isinstance(r, APIRoute)]


def dependency_calls(route: APIRoute) -> list[Callable]:
    calls: list[Callable] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.append(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


def _raised_statuses(route: APIRoute) -> set[int]:
    try:
        source = inspect.getsource(route.endpoint)
    except (OSError, TypeError):
        return set()
    return {int(next(g for g in m.groups() if g)) for m in _RAISED.finditer(source)}


def route_statuses(route: APIRoute) -> tuple[set[int], bool]:
    """The error statuses a route may answer, and whether it needs a bearer token."""
    statuses = _raised_statuses(route)
    calls = dependency_calls(route)
    bearer = any(getattr(c, AUTH_MARK, None) == "bearer" for c in calls)
    if any(getattr(c, AUTH_MARK, None) for c in calls):
        statuses.add(401)
    if any(getattr(c, ROLES_MARK, None) is not None for c in calls):
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if route.dependant.body_params:
        statuses.add(400)  # a body that cannot be read (not UTF-8, not form data)
    if route.dependant.query_params or route.dependant.body_params or route.dependant.header_params \
            or route.dependant.path_params or route.dependant.cookie_params:
        statuses.add(422)
    return statuses, bearer


def _error_response(status: int, existing: dict | None) -> dict:
    response = dict(existing or {})
    response["description"] = response.get("description") or STATUS_DESCRIPTIONS.get(status, "Error")
    if status == 422 and response["description"] == "Validation Error":
        response["description"] = STATUS_DESCRIPTIONS[422]
    media = dict(response.get("content", {}).get("application/json", {}))
    media["schema"] = {"$ref": "#/components/schemas/ErrorBody"}
    if "example" not in media and "examples" not in media and status in ERROR_EXAMPLES:
        media["example"] = ERROR_EXAMPLES[status]
    response["content"] = {"application/json": media}
    if status == 401:
        response.setdefault("headers", {})["WWW-Authenticate"] = {
            "description": "How to authenticate", "schema": {"type": "string"}}
    return response


# ---- examples built from a schema --------------------------------------------------------

_NAMED_STRINGS = {
    "code": "C-ACME", "client_code": "C-ACME", "collector_code": "COL-01", "agency_code": "RECOUVEO",
    "name": "Acme SA", "currency": "EUR", "email": "ada@example.com", "locale": "fr",
    "country": "FR", "number": "INV-1001", "comment": "Called the client, promised to pay",
    "reason": "The client paid the agency directly", "channel": "email", "kind": "invoice",
    "value": "ada@example.com", "scenario_code": "DEFAULT", "template_code": "REMINDER_1",
    "subject": "Your overdue invoices", "body": "Dear {{ client.name }}, …", "text": "Client called back",
    "segment": "SME", "webhook_url": "https://agency.example/webhooks/relance",
    "agency_reference": "RCV-2026-00042", "payment_id": "PAY-2026-0001", "status": "in_progress",
    "item_number": "INV-1001", "opening_comment": "Client unreachable since September",
    "description": "Signed payment plan", "role": "Accounts payable", "observation": "Accounts payable",
    "token": "rl_…", "query": "acme",
}
_FORMATS = {
    "uuid": "0b7c5e1e-8a51-4a8e-9a43-1f3c1c0f6b10", "date": "2026-12-15",
    "date-time": "2026-11-24T09:00:00+00:00", "email": "ada@example.com",
    "uri": "https://agency.example/webhooks/relance", "binary": "(file content)",
    "time": "09:00:00", "duration": "P3D",
}


def schema_example(schema: dict, components: dict, name: str = "", depth: int = 0,
                   full: bool = True) -> Any:
    """A plausible value valid for `schema` (a JSON schema of the OpenAPI document). With
    `full` False (a request body), objects carry their required properties and those with
    a default only, so that the example never combines options that exclude each other."""
    if depth > 8:
        return None
    if "$ref" in schema:
        target = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return schema_example(target, components, name, depth + 1, full)
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return schema_example(options[0], components, name, depth + 1, full)
    if "allOf" in schema:
        merged: dict = {}
        for part in schema["allOf"]:
            value = schema_example(part, components, name, depth + 1, full)
            if isinstance(value, dict):
                merged.update(value)
            else:
                return value
        return merged
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", ()))
        properties = schema.get("properties", {})
        chosen = [p for p, sub in properties.items()
                  if full or p in required or sub.get("default") is not None] or list(properties)[:1]
        return {prop: schema_example(properties[prop], components, prop, depth + 1, full) for prop in chosen}
    if kind == "array":
        item = schema_example(schema.get("items", {}), components, name.rstrip("s"), depth + 1, full)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(schema.get("minimum", 1), min(schema.get("maximum", 30), 30))
    if kind == "number":
        return max(schema.get("minimum", 100), min(schema.get("maximum", 100.0), 100.0))
    if kind == "boolean":
        return False
    if kind == "string" or kind is None:
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        if name.endswith("_id") or name.endswith("_ids"):
            return _FORMATS["uuid"]
        if name.endswith("_at"):
            return _FORMATS["date-time"]
        if name.endswith("_date") or name.endswith("_on"):
            return _FORMATS["date"]
        if "amount" in name:
            return "1200.00"
        text = _NAMED_STRINGS.get(name, name.replace("_", " ") or "text")
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        text = text.ljust(low, "x")
        return text[:high] if high else text
    return None


def _add_examples(operation: dict, components: dict) -> None:
    """An example for each path parameter, the request body (every media type) and the
    JSON success answer."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and "example" not in parameter and "examples" not in parameter:
            example = schema_example(parameter.get("schema", {}), components, parameter["name"])
            if example is not None:
                parameter["example"] = example
    media_types = [(m, False) for m in operation.get("requestBody", {}).get("content", {}).values()]
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2") and "application/json" in response.get("content", {}):
            media_types.append((response["content"]["application/json"], True))
    for media, full in media_types:
        if "example" in media or "examples" in media or not media.get("schema"):
            continue
        example = schema_example(media["schema"], components, full=full)
        if example is not None and example != {}:
            media["example"] = example


# ---- the document -----------------------------------------------------------------------


def truthful_openapi(app: FastAPI, *, extend: Callable[[dict], None] | None = None) -> None:
    """Post-process `app`'s OpenAPI document as this module's docstring says; `extend` is
    a service's own last touch (webhooks, extra schemes)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in (FieldError, ErrorBody):
            schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        uses_bearer = False
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            statuses, bearer = route_statuses(route)
            for method in route.methods:
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in statuses:
                    responses.setdefault(str(status), {})
                for status, response in list(responses.items()):
                    if status.isdigit() and (400 <= int(status) < 500 or int(status) == 503):
                        responses[status] = _error_response(int(status), response)
                if bearer:
                    uses_bearer = True
                    operation["security"] = [{BEARER_SCHEME: []}]
                _add_examples(operation, schemas)
        if uses_bearer:
            components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
                "type": "http", "scheme": "bearer", "bearerFormat": "API token",
                "description": "A Relance user's API token: `Authorization: Bearer rl_…`",
            }
        if extend is not None:
            extend(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_method_and_path_errors(app: FastAPI) -> None:
    """A 405 lists every method of the path in `Allow` (Starlette names only the first
    route's); 404 and 405 answer the error body like every other error."""

    @cache
    def _path_methods() -> list[tuple[re.Pattern, str, set[str]]]:
        return [(compile_path(route.path)[0], route.path_format, set(route.methods or ()))
                for route in api_routes(app)]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The methods of the path's own template: /clients/search also matches
            # /clients/{code}, but its document (and its caller) mean the literal one.
            matching = [(template.count("{"), route_methods)
                        for path_regex, template, route_methods in _path_methods()
                        if path_regex.match(request.url.path)]
            fewest = min((params for params, _ in matching), default=0)
            methods: set[str] = set()
            for params, route_methods in matching:
                if params == fewest:
                    methods |= route_methods
            headers["Allow"] = ", ".join(sorted(methods))
            reason = f"method {request.method} is not allowed here; allowed: {headers['Allow']}"
            return JSONResponse({"errors": [{"field": None, "reason": reason}]}, 405, headers=headers)
        reason = "no such path" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"errors": [{"field": None, "reason": reason}]}, exc.status_code,
                            headers=headers or None)


def install_offline_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` (ReDoc) with their scripts served by the service.
    The app is created with `docs_url=None, redoc_url=None`."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, **(app.swagger_ui_parameters or {})},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png", with_google_fonts=False,
        )


def document_api(app: FastAPI, *, extend: Callable[[dict], None] | None = None) -> None:
    """Everything above, for one API app."""
    truthful_openapi(app, extend=extend)
    install_method_and_path_errors(app)
    install_offline_docs(app)
