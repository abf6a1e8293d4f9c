"""F-31: Idempotency-Key on every agency POST: a replay returns the first answer, the same
key with another body is refused."""

import pytest

from relance_gateway.domain.idempotency import (
    Decision,
    StoredAnswer,
    decide,
    is_remembered,
    key_problem,
    request_hash,
)

PATH = "/agency/v1/placements/5f0e/acknowledgement"


def test_f31_first_use_of_a_key_executes():
    assert decide(None, request_hash("POST", PATH, b"{}")) is Decision.EXECUTE


def test_f31_same_key_same_request_replays_the_stored_answer():
    fingerprint = request_hash("POST", PATH, b'{"agency_reference":"A"}')
    stored = StoredAnswer(fingerprint, 200, '{"status":"placed"}')
    assert decide(stored, request_hash("post", PATH, b'{"agency_reference":"A"}')) is Decision.REPLAY


@pytest.mark.parametrize(("path", "body"), [
    (PATH, b'{"agency_reference":"B"}'),
    (PATH, b'{"agency_reference": "A"}'),  # same JSON, other bytes: the signed bytes differ
    ("/agency/v1/placements/other/acknowledgement", b'{"agency_reference":"A"}'),
])
def test_f31_same_key_with_another_request_is_a_conflict(path, body):
    stored = StoredAnswer(request_hash("POST", PATH, b'{"agency_reference":"A"}'), 200, "{}")
    assert decide(stored, request_hash("POST", path, body)) is Decision.CONFLICT


def test_only_successful_answers_are_remembered():
    assert is_remembered(200) and is_remembered(201)
    assert not is_remembered(404) and not is_remembered(409) and not is_remembered(500)


@pytest.mark.parametrize("key", [None, "", "   ", "x" * 256])
def test_f31_missing_or_oversized_keys_are_refused_with_a_reason(key):
    assert key_problem(key)


def test_a_uuid_key_is_fine():
    assert key_problem("7f1c2b8e-6a4d-4f57-9d7e-0c3a1b2c4d5e") is None
