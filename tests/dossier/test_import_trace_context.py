"""The events of an import through the API carry the request's trace context in the outbox,
like every other event written by the API (the relay sends it as Kafka headers)."""

from uuid import uuid4

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


async def test_an_imports_outbox_rows_carry_the_requests_trace_context(dossier_api, db) -> None:
    code = f"IMPT{uuid4().hex[:8]}"
    response = await dossier_api.post(
        "/imports/clients", files={"file": ("file.csv", f"code;name\n{code};Traced SA\n", "text/csv")},
        headers={"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"},
    )
    assert response.status_code == 200, response.text
    rows = await db.fetch(
        "SELECT event_type, trace_context->>'traceparent' AS traceparent FROM outbox"
        " WHERE event->'payload'->>'code' = $1 OR event->'payload'->>'client_code' = $1", code)
    assert {r["event_type"] for r in rows} >= {"client.created", "dossier.opened"}
    assert all(r["traceparent"].split("-")[1] == TRACE_ID for r in rows), rows
