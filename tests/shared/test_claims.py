"""Claim checks (issue 10, oversized events): an event whose payload is too large for a
message is published as its id and a claim; its consumer reads the payload back from the
dossier's internal API, checked against the claim, before its handler sees it."""

import json
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest

from relance.claims import INLINE_LIMIT_BYTES, ClaimInvalid, ClaimResolver, claim_if_large
from relance.dead_letters import DeadLetters, default_transient
from relance.events import ItemsMoved
from relance.outbox import write_events


def _moved(count: int):
    client_id, dossier_id = uuid4(), uuid4()
    return ItemsMoved(client_id=client_id, dossier_id=dossier_id, from_dossier_id=uuid4(),
                      to_dossier_id=dossier_id, item_ids=[uuid4() for _ in range(count)],
                      reason="transfer_created").envelope(aggregate_id=dossier_id, client_id=client_id)


def test_a_small_event_travels_whole_and_a_large_one_as_a_claim() -> None:
    small = _moved(10)
    assert claim_if_large(small) == (small, None)

    large = _moved(10_000)
    published, payload = claim_if_large(large)
    assert payload is not None and len(payload) > INLINE_LIMIT_BYTES
    assert json.loads(payload) == large.payload
    assert published.payload == {} and published.payload_claim is not None
    assert published.payload_claim.size_bytes == len(payload)
    assert len(published.model_dump_json()) < 1_000
    assert published.model_copy(update={"payload_claim": None, "payload": large.payload}) == large


@pytest.fixture
def resolver(platform):
    return ClaimResolver(platform.running["dossier"].url, platform.internal_api_token)


async def _kept(db, envelope) -> None:
    """What the dossier's write_events keeps of a large event (its outbox row aside)."""
    published, payload = claim_if_large(envelope)
    await db.execute("INSERT INTO dossier.event_payloads (event_id, payload) VALUES ($1, $2)",
                     envelope.event_id, payload.decode())


async def test_the_consumer_reads_the_payload_back_from_the_dossier(db, resolver) -> None:
    large = _moved(10_000)
    await _kept(db, large)
    published, _ = claim_if_large(large)
    assert await resolver.resolve(published) == large

    # A consumer's handler only ever sees the whole envelope.
    seen = []

    async def handler(envelope):
        seen.append(envelope)

    dead_letters = DeadLetters(db, "claims-test", claims=resolver, max_attempts=1)
    record = SimpleNamespace(topic="item.events", partition=0, offset=0, key=b"k")
    await dead_letters.handle_envelope(published, handler, record=record, body=b"{}")
    assert seen == [large]
    await resolver.close()


async def test_a_claim_the_dossier_cannot_honour_is_refused_and_an_outage_is_retried(
    db, resolver, platform
) -> None:
    unknown, _ = claim_if_large(_moved(10_000))
    with pytest.raises(ClaimInvalid, match="404"):
        await resolver.resolve(unknown)

    large = _moved(10_000)
    await _kept(db, large)
    published, _ = claim_if_large(large)
    tampered = published.model_copy(update={"payload_claim": published.payload_claim.model_copy(
        update={"sha256": "0" * 64})})
    with pytest.raises(ClaimInvalid, match="does not match"):
        await resolver.resolve(tampered)

    # Without the internal token the dossier does not hand the payload out.
    stranger = ClaimResolver(platform.running["dossier"].url, "not-the-token")
    with pytest.raises(ClaimInvalid, match="401"):
        await stranger.resolve(published)

    # The dossier not answering is an outage: retried in place, never a dead letter.
    down = ClaimResolver("http://127.0.0.1:9", platform.internal_api_token)
    with pytest.raises(OSError) as raised:
        await down.resolve(published)
    assert default_transient(raised.value)
    for r in (resolver, stranger, down):
        await r.close()


async def test_write_events_keeps_a_large_payload_with_the_dossier_in_the_same_transaction(db) -> None:
    large = _moved(10_000)
    async with db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await write_events(conn, [large])
        row = await conn.fetchrow("SELECT event FROM dossier.outbox WHERE event_id = $1", large.event_id)
        kept = await conn.fetchval(
            "SELECT payload FROM dossier.event_payloads WHERE event_id = $1", large.event_id)
        await transaction.rollback()  # nothing of this test reaches the broker
    assert row["event"]["payload"] == {} and row["event"]["payload_claim"]["size_bytes"] == len(kept)
    assert json.loads(kept) == large.payload
    assert await db.fetchval("SELECT count(*) FROM dossier.event_payloads WHERE event_id = $1",
                             UUID(str(large.event_id))) == 0
