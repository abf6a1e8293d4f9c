"""Issue 10: uploads (imports, attachments, intervention documents) are capped as their
bytes arrive (413 past the cap, with or without a Content-Length), streamed to disk, and
JSON imports are parsed incrementally: the API never holds a whole file in memory. The
dossier API in this process with small caps, on the session's PostgreSQL and Temporal."""

import io
import json
from uuid import uuid4

import httpx
import pytest

from relance_dossier.api.app import create_app
from relance_dossier.domain.imports import read_file
from relance_dossier.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.dossier.test_dossier_api import errors_of

CAP = 20_000


@pytest.fixture(scope="module")
async def small_api(stack, tmp_path_factory):
    settings = Settings(
        database_url=stack.database_url, temporal_address=stack.temporal_address,
        bootstrap_admin_token=ADMIN_TOKEN, data_dir=tmp_path_factory.mktemp("uploads"),
        import_max_bytes=CAP, attachment_max_bytes=5_000, migrate_on_start=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     timeout=30) as client:
            yield client, settings


def _clients_csv(prefix: str, rows: int) -> bytes:
    return ("code;name\n" + "".join(f"{prefix}-{n};Client {n}\n" for n in range(rows))).encode()


async def _count(db, prefix: str) -> int:
    return await db.fetchval("SELECT count(*) FROM clients WHERE code LIKE $1", f"{prefix}-%")


async def test_an_import_past_the_cap_is_413_with_a_content_length(small_api, db) -> None:
    api, _ = small_api
    prefix = f"UPL{uuid4().hex[:6]}"
    body = _clients_csv(prefix, 8_000)
    assert len(body) > CAP + 64 * 1024
    response = await api.post("/imports/clients", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 413, response.text
    assert errors_of(response)[0][0] == "file"
    assert await _count(db, prefix) == 0


async def test_an_import_past_the_cap_is_413_while_it_streams(small_api, db) -> None:
    api, _ = small_api
    prefix = f"UPL{uuid4().hex[:6]}"
    body = _clients_csv(prefix, 8_000)

    async def chunks():  # no Content-Length: the cap is met as the bytes arrive
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    response = await api.post("/imports/clients", content=chunks(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 413, response.text
    multipart = await api.post("/imports/clients",
                               files={"file": ("clients.csv", body, "text/csv")})
    assert multipart.status_code == 413, multipart.text
    assert await _count(db, prefix) == 0


async def test_an_import_under_the_cap_is_read_from_disk(small_api, db) -> None:
    api, settings = small_api
    prefix = f"UPL{uuid4().hex[:6]}"
    body = json.dumps([{"code": f"{prefix}-{n}", "name": f"Client {n}"} for n in range(100)])
    raw = await api.post("/imports/clients", content=body.encode(),
                         headers={"Content-Type": "application/json"})
    assert raw.status_code == 200, raw.text
    assert (raw.json()["format"], raw.json()["inserted"]) == ("json", 100)
    posted = await api.post("/imports/clients", files={"file": ("c.csv", _clients_csv(prefix + "B", 10), "text/csv")})
    assert posted.status_code == 200 and posted.json()["inserted"] == 10
    bad = await api.post("/imports/clients", content=b"code;name\nA;\xff\xfe\n",
                         headers={"Content-Type": "text/csv"})
    assert bad.status_code == 422 and "not UTF-8" in errors_of(bad)[0][1]
    # Nothing left behind in the spool folder.
    assert list((settings.data_dir / "uploads").iterdir()) == []


async def test_an_attachment_past_its_cap_is_413(small_api) -> None:
    api, _ = small_api
    code = f"UPL-{uuid4().hex[:8]}"
    assert (await api.post("/clients", json={"code": code, "name": "Upload SARL"})).status_code == 201
    response = await api.post(f"/clients/{code}/attachments",
                              files={"file": ("big.pdf", b"%PDF" + b"x" * 200_000, "application/pdf")})
    assert response.status_code == 413, response.text


class _Tracking(io.StringIO):
    furthest = 0

    def read(self, size=-1):
        text = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return text


def test_a_json_array_is_parsed_incrementally() -> None:
    records = [{"code": f"C-{n}", "name": "x" * 50} for n in range(20_000)]
    stream = _Tracking(json.dumps(records))
    parsed = read_file(stream, "json")
    first = next(parsed.rows)
    assert first == (1, {"code": "C-0", "name": "x" * 50})
    total = len(stream.getvalue())
    assert stream.furthest < total / 4, (stream.furthest, total)  # not read whole
    assert sum(1 for _ in parsed.rows) == 19_999
