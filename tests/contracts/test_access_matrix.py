"""The access matrix (F-4, F-31, F-33): every route of the dossier API and of the transfer
gateway, read from their OpenAPI documents, called with each role (admin, manager,
collector, read-only, no token) and with another collector's client or another agency's
transfer, against the real stack.

What must hold, with the dossier's strict visibility (`relance_dossier.api.auth`: a
collector sees only the clients of their collector):
- without a token every route answers 401;
- a role its route does not let through answers 403 (the roles are read from the route's
  guard, and the rules are asserted on their own too: a read-only user never writes, only
  an admin manages users and the gateway's admin API);
- a collector reaching another collector's client, by its code or by the id of something
  of it, answers 404, exactly as if it did not exist;
- an agency reaching another agency's transfer answers 404; an unsigned request 401.

The walk changes data (admins' and managers' writes are real): it runs after every other
test of the session (tests/contracts/conftest.py), and each role's walk after the
walks that must change nothing."""

from __future__ import annotations

import json
import re
from uuid import uuid4

import httpx
import pytest

from relance.api.auth import Role
from relance.api.openapi import ROLES_MARK, api_routes, dependency_calls, schema_example
from relance_devstack.supervisor import Supervisor
from tests.conftest import ADMIN_TOKEN
from tests.gateway.test_gateway_support import AgencyClient, register_agency, write_placement

OPERATIONS_PATHS = {"/health", "/metrics", "/asyncapi"}
# Reads sent as POST, and a user's own saved searches: allowed to the read-only role.
READ_ONLY_MAY = {("post", "/clients/search"), ("post", "/clients/search/export"), ("post", "/searches"),
                 ("delete", "/searches/{search_id}"),
                 # Signing out ends one's own session (F-35).
                 ("delete", "/auth/sessions/current")}
# Signing in takes a name and a password, not a token: the walks' made-up credentials get
# 401 whatever the caller's role (tests/dossier/test_sign_in.py covers it).
SIGN_IN = ("post", "/auth/sessions")
ADMIN_ONLY_PREFIXES = ("/users", "/admin/")
ANY_ROLE = tuple(Role)
# Paths naming collector B's client, or something of it by its own id.
OTHERS_PATHS = ("/clients/{code}", "/interventions/{intervention_id}", "/transfers/{transfer_id}")


def route_roles(app) -> dict[tuple[str, str], tuple[Role, ...]]:
    """(method, path) → the roles its guard lets through (every role when it has none)."""
    roles: dict[tuple[str, str], tuple[Role, ...]] = {}
    for route in api_routes(app):
        marked = [getattr(c, ROLES_MARK) for c in dependency_calls(route) if hasattr(c, ROLES_MARK)]
        for method in route.methods:
            roles[(method.lower(), route.path_format)] = marked[0] if marked else ANY_ROLE
    return roles


def operations(document: dict):
    for path, methods in document["paths"].items():
        if path in OPERATIONS_PATHS:
            continue
        for method, operation in methods.items():
            yield method, path, operation


def request_of(method: str, path: str, operation: dict, document: dict, values: dict) -> dict:
    """The request to send: path parameters from `values` (else a fresh id), required query
    parameters and the body from the document's examples, so a refusal is about access."""
    schemas = document.get("components", {}).get("schemas", {})

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return str(values.get((path, name), values.get(name, uuid4())))

    url = re.sub(r"\{([^}]+)\}", fill, path)
    params = {p["name"]: schema_example(p.get("schema", {}), schemas, p["name"])
              for p in operation.get("parameters", []) if p["in"] == "query" and p.get("required")}
    if any(p["name"] == "confirm" for p in operation.get("parameters", [])):
        params["confirm"] = "true"  # a deletion is confirmed, so the answer is about access
    kwargs: dict = {"method": method.upper(), "url": url, "params": params, "headers": {}}
    if method == "patch":
        kwargs["headers"]["If-Match"] = '"1"'  # so the precondition is not what answers
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        kwargs["files"] = {"file": ("access.csv", b"code,name\nC-ACCESS,Access\n", "text/csv")}
    elif "application/json" in content:
        media = content["application/json"]
        example = media.get("example", schema_example(media.get("schema", {}), schemas))
        kwargs["content"] = json.dumps(example).encode()
        kwargs["headers"]["Content-Type"] = "application/json"
    return kwargs


@pytest.fixture(scope="session")
async def people(platform: Supervisor) -> dict:
    """Two collectors with a user each, a manager, a read-only user, and a client of the
    second collector with a contact, a note and the ids the walk names."""
    dossier = platform.running["dossier"].url
    admin = httpx.AsyncClient(base_url=dossier, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    suffix = uuid4().hex[:6].upper()
    tokens = {"admin": ADMIN_TOKEN}
    for name in ("A", "B"):
        response = await admin.post("/collectors", json={"code": f"AM-{name}-{suffix}", "name": f"Collector {name}"})
        assert response.status_code == 201, response.text
    for key, role, collector in (("manager", "manager", None), ("read_only", "read_only", None),
                                 ("collector", "collector", f"AM-A-{suffix}"),
                                 ("owner", "collector", f"AM-B-{suffix}")):
        response = await admin.post("/users", json={"name": f"{key}-{suffix}", "role": role,
                                                    "collector_code": collector})
        assert response.status_code == 201, response.text
        tokens[key] = response.json()["token"]
    code = f"C-AM-{suffix}"
    created = await admin.post("/clients", json={
        "code": code, "name": "Someone else's client",
        "contacts": [{"name": "Ada", "channels": [{"type": "email", "value": "ada@example.com",
                                                    "state": "validated", "is_default": True}]}],
        "items": [{"number": "INV-AM-1", "kind": "invoice", "due_date": "2026-10-01",
                   "amount": "100.00", "open_amount": "100.00", "currency": "EUR"}]})
    assert created.status_code == 201, created.text
    card = created.json()
    moved = await admin.put(f"/clients/{code}/collector", json={"collector_code": f"AM-B-{suffix}"})
    assert moved.status_code == 200, moved.text
    contact = card["contacts"][0]
    values = {"code": code, "contact_id": contact["id"], "channel_id": contact["channels"][0]["id"]}
    # Things of that client reached by their own ids: an intervention and a transfer.
    task = await admin.post(f"/clients/{code}/interventions", json={"kind": "manual"})
    assert task.status_code == 201, task.text
    values["intervention_id"] = task.json()["id"]
    gateway = platform.running["transfer-gateway"].url
    async with httpx.AsyncClient(base_url=gateway, timeout=30, headers=admin.headers) as gw, \
            httpx.AsyncClient(base_url=gateway, timeout=30) as plain:
        agency = await register_agency(gw, plain)
    transfer = await admin.post(f"/clients/{code}/transfers", json={
        "item_ids": [card["open_items"][0]["id"]], "agency_code": agency.code,
        "next_follow_up_date": "2026-12-15", "opening_comment": "Access matrix"})
    assert transfer.status_code == 201, transfer.text
    values["transfer_id"] = transfer.json()["id"]
    await admin.aclose()
    return {"dossier": dossier, "gateway": platform.running["transfer-gateway"].url,
            "tokens": tokens, "values": values, "code": code}


async def _walk(base_url: str, document: dict, token: str | None, values: dict) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answers = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers) as http:
        for method, path, operation in operations(document):
            request = request_of(method, path, operation, document, values)
            response = await http.request(**request)
            answers[(method, path)] = response.status_code
    return answers


def _dossier_app_roles():
    from relance_dossier.api.app import create_app
    from relance_dossier.settings import Settings

    return route_roles(create_app(Settings()))


async def test_dossier_access_matrix(people: dict) -> None:
    document = httpx.get(f"{people['dossier']}/openapi.json").json()
    roles = _dossier_app_roles()
    tokens, values = people["tokens"], people["values"]
    problems: list[str] = []

    # No token: 401 everywhere.
    for key, status in (await _walk(people["dossier"], document, None, values)).items():
        if status != 401:
            problems.append(f"no token {key}: {status}")

    # The rules on their own: read-only never writes; only admins manage users.
    for (method, path), allowed in roles.items():
        if path in OPERATIONS_PATHS or path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        if (method, path) == SIGN_IN:
            continue
        if method != "get" and (method, path) not in READ_ONLY_MAY and Role.READ_ONLY in allowed:
            problems.append(f"read_only may write {method} {path}")
        if path.startswith(ADMIN_ONLY_PREFIXES) and path != "/users/me" and allowed != (Role.ADMIN,):
            problems.append(f"{method} {path} is not admin only: {allowed}")

    # Each role, the walks that must change nothing first. The collector (A) reaches a
    # client of collector B: 404 wherever the role may call the route at all.
    for name, role in (("read_only", Role.READ_ONLY), ("collector", Role.COLLECTOR),
                       ("manager", Role.MANAGER), ("admin", Role.ADMIN)):
        answers = await _walk(people["dossier"], document, tokens[name], values)
        for key, status in answers.items():
            if key == SIGN_IN:
                continue
            allowed = role in roles[key]
            if not allowed and status != 403:
                problems.append(f"{name} {key}: {status}, expected 403")
            elif allowed and status in (401, 403):
                problems.append(f"{name} {key}: {status}, the role may call it")
            elif allowed and name == "collector" and key[1].startswith(OTHERS_PATHS) and status != 404:
                problems.append(f"collector {key} on another collector's client: {status}, expected 404")
    assert problems == [], "\n".join(problems)


async def test_a_collector_never_lists_another_collectors_client(people: dict) -> None:
    code = people["code"]
    async with httpx.AsyncClient(base_url=people["dossier"], timeout=30) as http:
        def as_(name: str) -> dict:
            return {"Authorization": f"Bearer {people['tokens'][name]}"}

        listed = (await http.get("/clients", params={"limit": 200}, headers=as_("collector"))).json()
        searched = (await http.post("/clients/search", json={"codes": [code]}, headers=as_("collector"))).json()
        assert code not in [c["code"] for c in listed["clients"] + searched["clients"]]
        assert searched["unknown_codes"] == [code]  # as if it did not exist
        # The owner and every non-collector role see it (the same routes, positive control).
        for name in ("owner", "manager", "read_only", "admin"):
            assert (await http.get(f"/clients/{code}", headers=as_(name))).status_code == 200, name
        assert (await http.post(f"/clients/{code}/notes", json={"text": "read only"},
                                headers=as_("read_only"))).status_code == 403


def _gateway_app_roles():
    from relance_gateway.api.app import create_app
    from relance_gateway.settings import Settings

    return route_roles(create_app(Settings(), None, None, None, None))


async def test_gateway_access_matrix(people: dict, db) -> None:
    gateway = people["gateway"]
    document = httpx.get(f"{gateway}/openapi.json").json()
    roles = _gateway_app_roles()
    problems: list[str] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin, \
            httpx.AsyncClient(base_url=gateway, timeout=30) as plain:
        ours = await register_agency(admin, plain)
        theirs = await register_agency(admin, plain)
        # The admins' walk changes an agency for real (rotates its key, deactivates it):
        # a third one, not the two of the agency walk.
        walked = await register_agency(admin, plain)
        placed = await write_placement(db, theirs.code)
        # Admin API: admins only; no token 401.
        for name in ("read_only", "collector", "manager", "admin", None):
            token = people["tokens"][name] if name else None
            answers = await _walk(gateway, {"paths": {p: m for p, m in document["paths"].items()
                                                      if p.startswith("/admin/")},
                                            "components": document["components"]},
                                  token, {"code": walked.code})
            for key, status in answers.items():
                expected = 401 if name is None else (None if name == "admin" else 403)
                if expected is not None and status != expected:
                    problems.append(f"{name} {key}: {status}, expected {expected}")
                if expected is None and status in (401, 403):
                    problems.append(f"admin {key}: {status}")
                if roles[key] != (Role.ADMIN,):
                    problems.append(f"{key} is not admin only")
        # Agency API: unsigned 401; another agency's transfer 404, like an unknown one.
        for method, path, operation in operations(document):
            if not path.startswith("/agency/"):
                continue
            request = request_of(method, path, operation, document, {"transfer_id": placed.transfer_id})
            unsigned = await plain.request(**request)
            if unsigned.status_code != 401:
                problems.append(f"unsigned {method} {path}: {unsigned.status_code}")
            if "{transfer_id}" in path:
                signed = await _signed(ours, request)
                if signed.status_code != 404:
                    problems.append(f"agency {method} {path} on another agency's transfer: {signed.status_code}")
        # Positive control: the owner agency sees its placement (once the gateway has it).
        from tests.conftest import eventually

        async def visible():
            return (await theirs.get(f"/agency/v1/placements/{placed.transfer_id}")).status_code == 200

        await eventually(visible, timeout=60)
        again = await _signed(ours, request_of("get", "/agency/v1/placements/{transfer_id}",
                                               document["paths"]["/agency/v1/placements/{transfer_id}"]["get"],
                                               document, {"transfer_id": placed.transfer_id}))
        assert again.status_code == 404
    assert problems == [], "\n".join(problems)


async def _signed(agency: AgencyClient, request: dict) -> httpx.Response:
    body = request.get("content", b"")
    path = request["url"]
    if request["method"] == "GET":
        return await agency.get(path)
    return await agency.http.post(path, content=body, headers=agency.headers(
        "POST", path, body, idempotency_key=str(uuid4())))
